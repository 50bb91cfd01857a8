"""
Allocator settings of the training processes
=============================================

Keep the resident memory of long training runs bounded (glibc only; elsewhere
every function is a no-op):

-   :func:`fixed_mmap_threshold`: serve large blocks with ``mmap`` from a fixed
    size on, in a process this package started (loader and cache workers).
-   :func:`trim_heap`: give the free memory of the heap back to the system now.

Why: glibc raises its ``mmap`` threshold to the size of each large block freed
(up to 32 MiB), after which blocks of that size come from the heap, which
fragments and does not shrink. A loader worker allocates a sample copy
(a few MB) and the batch tensors for every batch, so its heap grew with the
number of samples it served: 103 -> 332 MB of private memory per worker over
32 batches of 16 crops of 256 from the cache of 2000x1400 photos, and 1231 MB
after an epoch of 2700 samples (``benchmarks/train_memory.py``), against 50-80
MB flat with the threshold fixed at 1 MiB.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["MMAP_THRESHOLD", "fixed_mmap_threshold", "trim_heap"]

MMAP_THRESHOLD = 1 << 20
"""Blocks from 1 MiB up are mapped and unmapped on their own (glibc ``M_MMAP_THRESHOLD``)."""

_M_MMAP_THRESHOLD = -3


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt  # noqa: B018 - glibc has it; musl and macOS do not
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def fixed_mmap_threshold(size: int = MMAP_THRESHOLD) -> bool:
    """
    Fix glibc's ``mmap`` threshold in this process (changes the process's allocator).

    Call it only in processes this package starts for one job (loader and
    cache-build workers): it also turns off the threshold's dynamic increase.

    Returns
    -------
    bool
        Whether the setting was applied (False off glibc).
    """
    libc = _libc()
    return bool(libc is not None and libc.mallopt(_M_MMAP_THRESHOLD, int(size)))


def trim_heap() -> bool:
    """
    Return the heap's free memory to the system (``malloc_trim(0)``); no setting changes.

    Returns
    -------
    bool
        Whether memory was released (False off glibc, or nothing to release).
    """
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0))
