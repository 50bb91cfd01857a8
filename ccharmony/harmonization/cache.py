"""
Training cache
==============

Keep the decoded training samples of a dataset on disk, pre-resized, so that
training reads a few pages of a memory-mapped array per sample instead of
decoding full-resolution JPEGs every epoch, and so that its memory does not
grow with the dataset:

-   :data:`CACHE_FORMAT`: version of the sample files (part of every key).
-   :func:`cache_side`: the shorter side a cached sample keeps.
-   :func:`sample_key`: a sample's key, from its files' paths, sizes and
    modification times and the cached side.
-   :func:`fingerprint_samples`: one digest of a split's files (the same
    identity, for checking that a resumed run has the same data).
-   :func:`cache_folder`: the folder of a dataset's cache for one split and side.
-   :class:`TrainingCache`: build once (with a progress bar, in worker
    processes, under a lock), then read samples as memory-mapped arrays.

Layout::

    <cache root>/<dataset digest>-<split>-s<side>/
        <sample key>.npy     (H, W, 7) uint8: composite RGB, real RGB, mask 0..255
        manifest.json        dataset, split, side, one key per sample, built last
        .lock                held while building

Pre-resizing
------------
The random resized crop of the field (scale 0.5-1 of the area, then a resize
to the training size; SamsungLabs/image_harmonization,
``models/fixed256/improved_ssam.py``) only ever shrinks a full-resolution
photo by 3-8x at NUS-8/Gehler sizes. A cached sample is shrunk once, with area
averaging, until its shorter side is ``min_side_factor`` (default 2) times the
training size: a crop of half the area of a 512-pixel image still has 362
pixels across for a 256 output, so no crop is up-sampled by more than the
factor allows, and the bilinear resize to the training size no longer skips
pixels. Images already that small are stored as they are (never enlarged).
The mask is area-averaged too and thresholded at 128 when read, which keeps a
hard 0/1 training mask.

Invalidation and atomicity
--------------------------
A sample's key hashes the format, the cached side, and the path (relative to
the dataset folder), size and modification time (ns) of its composite, real
image and mask, so replacing or rebuilding a file (``ccharmony build`` rewrites
its files) gives a new key and a new sample file. The cache folder is named
after the dataset folder's resolved path, so two datasets never share (or
clean) each other's samples; a moved dataset is cached anew. Sample files
are written to a temporary name and renamed
(:func:`ccharmony.io.atomic.atomic_save_npy`): an interrupted build leaves
complete samples and hidden ``*.tmp.npy`` files, which the next build removes
with the files no key names any more. Two runs building the same cache take
turns on ``.lock`` (:mod:`filelock`); the second finds the samples built.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from torch.utils.data import DataLoader, Dataset

from ccharmony._types import PathType
from ccharmony.errors import ConfigError, DatasetError
from ccharmony.io.limits import DEFAULT_MAX_PIXELS

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "CACHE_FORMAT",
    "DEFAULT_MIN_SIDE_FACTOR",
    "cache_side",
    "sample_key",
    "fingerprint_samples",
    "cache_folder",
    "TrainingCache",
]

LOGGER = logging.getLogger(__name__)

CACHE_FORMAT = "ccharmony-train-cache-1"
"""Version of the cached sample files; a new version gives new keys."""

DEFAULT_MIN_SIDE_FACTOR = 2.0
"""A cached sample's shorter side is at least this times the training crop size."""

CHANNELS = 7
"""Channels of a cached sample: composite RGB, real RGB, mask."""


def cache_side(train_size: int, min_side_factor: float = DEFAULT_MIN_SIDE_FACTOR) -> int:
    """
    Return the shorter side of cached samples for a training size.

    Raises
    ------
    ConfigError
        When the factor is below 1 (crops would be up-sampled) or not finite.

    Examples
    --------
    >>> cache_side(256), cache_side(96, 2.5)
    (512, 240)
    """
    if not np.isfinite(min_side_factor) or min_side_factor < 1:
        raise ConfigError(f"cache min_side_factor must be a number >= 1, got {min_side_factor!r}")
    return int(np.ceil(train_size * float(min_side_factor)))


def _file_fingerprint(root: Path, path: Path) -> list:
    from ccharmony.io.paths import inside

    relative = os.path.relpath(path, root)
    if inside(root, relative) is None:
        raise DatasetError(f"{path}: leads outside the dataset folder {root}; refused")
    try:
        status = path.stat()
    except FileNotFoundError:
        raise DatasetError(f"{path}: listed in a split list but missing") from None
    except OSError as error:
        raise DatasetError(f"{path}: cannot read it ({error.strerror or error})") from None
    return [Path(relative).as_posix(), int(status.st_size), int(status.st_mtime_ns)]


def sample_key(root: PathType, composite: Path, real: Path, mask: Path, *, side: int) -> str:
    """
    Return the cache key of one sample: a SHA-256 over its files' identity and the cached side.

    Raises
    ------
    DatasetError
        When a file is missing or lies outside ``root``.
    """
    root = Path(root)
    identity = [CACHE_FORMAT, int(side)] + [_file_fingerprint(root, path) for path in (composite, real, mask)]
    return hashlib.sha256(json.dumps(identity).encode("utf-8")).hexdigest()


def fingerprint_samples(root: PathType, samples: Sequence[tuple[Path, Path, Path]]) -> str:
    """
    Return a SHA-256 over the identity (path, size, modification time) of every file of a split, in order.

    Raises
    ------
    DatasetError
        When a file is missing or lies outside ``root``.
    """
    root = Path(root)
    digest = hashlib.sha256(CACHE_FORMAT.encode("utf-8"))
    for triple in samples:
        digest.update(json.dumps([_file_fingerprint(root, Path(path)) for path in triple]).encode("utf-8"))
    return digest.hexdigest()


def cache_folder(cache_root: PathType, dataset: PathType, *, split: str, side: int,
                 name: str | None = None) -> Path:
    """
    Return the cache folder of a dataset's split at a cached side.

    The dataset is named by a digest of ``name`` when given (a store URL
    whose local mirror is a new temporary folder every run), else of its
    resolved path (the keys inside carry the content).

    Examples
    --------
    >>> cache_folder("/c", "/data/ds", split="train", side=512).name
    '...-train-s512'
    """
    label = name if name is not None else os.path.realpath(dataset)
    digest = hashlib.sha256(label.encode("utf-8")).hexdigest()[:16]
    return Path(cache_root) / f"{digest}-{split}-s{int(side)}"


def _shrink(shape: tuple[int, int], side: int) -> tuple[int, int]:
    height, width = shape
    shorter = min(height, width)
    if shorter <= side:
        return height, width
    scale = side / shorter
    return max(side, int(round(height * scale))), max(side, int(round(width * scale)))


def prepare_sample(composite: np.ndarray, real: np.ndarray, mask: np.ndarray, *, side: int,
                   name: str = "") -> np.ndarray:
    """
    Stack a decoded sample into one ``(H, W, 7)`` uint8 array, shrunk to ``side``.

    Parameters
    ----------
    composite, real
        ``(H, W, 3)`` uint8 RGB (the real image is resized to the composite's
        size first when it differs, bilinearly, as the loader always did).
    mask
        ``(H, W)`` bool.
    side
        Shorter side of the result (kept when already smaller).

    Returns
    -------
    ndarray
        Channels 0-2 composite, 3-5 real, 6 mask (0 or 255, area-averaged
        values at edges when shrunk).

    Raises
    ------
    DatasetError
        When the mask's size differs from the composite's.

    Examples
    --------
    >>> composite = np.zeros((8, 12, 3), np.uint8); mask = np.zeros((8, 12), bool); mask[:, :6] = True
    >>> stacked = prepare_sample(composite, composite, mask, side=4)
    >>> stacked.shape, int(stacked[0, 0, 6]), int(stacked[0, -1, 6])
    ((4, 6, 7), 255, 0)
    """
    if real.shape != composite.shape:
        real = cv2.resize(real, (composite.shape[1], composite.shape[0]), interpolation=cv2.INTER_LINEAR)
    if mask.shape != composite.shape[:2]:
        raise DatasetError(
            f"{name}: mask is {mask.shape[1]}x{mask.shape[0]} but the composite is "
            f"{composite.shape[1]}x{composite.shape[0]}"
        )
    stacked = np.concatenate([composite, real, mask.astype(np.uint8)[..., None] * np.uint8(255)], axis=2)
    height, width = _shrink(composite.shape[:2], side)
    if (height, width) != composite.shape[:2]:
        # INTER_AREA handles up to 4 channels at once; shrink in two slabs.
        stacked = np.concatenate(
            [cv2.resize(np.ascontiguousarray(stacked[..., part]), (width, height), interpolation=cv2.INTER_AREA)
             .reshape(height, width, -1) for part in (slice(0, 4), slice(4, CHANNELS))],
            axis=2,
        )
    return np.ascontiguousarray(stacked)


@dataclass(frozen=True)
class _Job:
    composite: Path
    real: Path
    mask: Path
    target: Path


class _BuildSet(Dataset):
    """Decode, shrink and save the missing samples (one per item), in loader workers."""

    def __init__(self, jobs: Sequence[_Job], side: int, max_pixels: int) -> None:
        self.jobs = list(jobs)
        self.side = side
        self.max_pixels = max_pixels

    def __len__(self) -> int:
        return len(self.jobs)

    def __getitem__(self, index: int) -> int:
        from ccharmony.harmonization.data import read_mask, read_rgb
        from ccharmony.io.atomic import atomic_save_npy

        job = self.jobs[index]
        stacked = prepare_sample(
            read_rgb(job.composite, max_pixels=self.max_pixels), read_rgb(job.real, max_pixels=self.max_pixels),
            read_mask(job.mask, max_pixels=self.max_pixels), side=self.side, name=str(job.mask),
        )
        atomic_save_npy(job.target, stacked)
        return index


class TrainingCache:
    """
    Build and read the on-disk training cache of a dataset's split.

    Parameters
    ----------
    root
        The dataset folder.
    samples
        ``(composite, real, mask)`` paths of every sample, in split order.
    cache_root
        Folder holding the caches (the benchmark uses ``<out>/.cache``).
    split
        Split name (part of the folder name).
    side
        Shorter side of cached samples (:func:`cache_side`).
    max_pixels
        Largest image decoded (:mod:`ccharmony.io.limits`).
    name
        Names the dataset's cache folder instead of its resolved path (the
        store URL of a dataset mirrored into a temporary folder, so that its
        cache is found again on the next run).

    Notes
    -----
    Constructing the object only computes the keys (a ``stat`` of every
    file); :meth:`build` writes the missing samples; :meth:`read` memory-maps
    one sample and copies out what is asked, so nothing stays mapped between
    samples and the resident memory does not grow with the dataset.
    """

    def __init__(self, root: PathType, samples: Sequence[tuple[Path, Path, Path]], *, cache_root: PathType,
                 split: str = "train", side: int, max_pixels: int = DEFAULT_MAX_PIXELS,
                 name: str | None = None) -> None:
        self.root = Path(root)
        self.side = int(side)
        self.max_pixels = int(max_pixels)
        self.split = split
        self.folder = cache_folder(cache_root, self.root, split=split, side=self.side, name=name)
        self.samples: list[tuple[Path, Path, Path]] = [(Path(c), Path(r), Path(m)) for c, r, m in samples]
        self.keys = [sample_key(self.root, *triple, side=self.side) for triple in self.samples]
        self.files = [self.folder / f"{key}.npy" for key in self.keys]

    def __len__(self) -> int:
        return len(self.files)

    def missing(self) -> list[int]:
        """Return the indices of samples not in the cache yet."""
        return [index for index, path in enumerate(self.files) if not path.is_file()]

    def build(self, *, workers: int = 0, progress: bool = True) -> int:
        """
        Write the missing samples and remove stale files; return how many were written.

        Parameters
        ----------
        workers
            Decoding processes (0: this process).
        progress
            Show a progress bar (samples decoded).

        Notes
        -----
        In a distributed run one process builds (rank 0) while the others
        wait at a barrier.

        Raises
        ------
        DatasetError, UnreadableImageError
            When a sample cannot be read (nothing half-written is left).
        """
        from filelock import FileLock
        from tqdm import tqdm  # type: ignore[import-untyped]

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DatasetError(f"{self.folder}: cannot create the training cache ({error.strerror or error})") from None
        written = 0
        with FileLock(str(self.folder / ".lock")):
            todo = self.missing()
            if todo:
                jobs = [_Job(*self.samples[index][:3], self.files[index]) for index in todo]
                loader = DataLoader(_BuildSet(jobs, self.side, self.max_pixels), batch_size=None,
                                    num_workers=min(int(workers), len(jobs)), shuffle=False)
                LOGGER.info("training cache %s: building %d of %d samples", self.folder, len(jobs), len(self))
                with tqdm(total=len(jobs), desc=f"cache {self.split} (side {self.side})", unit="sample",
                          disable=not progress, leave=False, dynamic_ncols=True) as bar:
                    for _ in loader:
                        written += 1
                        bar.update()
            self._clean()
        return written

    def _clean(self) -> None:
        from ccharmony.io.atomic import atomic_write_text

        wanted = {path.name for path in self.files}
        for path in self.folder.iterdir():
            if path.suffix == ".npy" and path.name not in wanted:
                # Stale samples (files changed since) and temporaries of interrupted builds.
                path.unlink(missing_ok=True)
        manifest = {"format": CACHE_FORMAT, "dataset": str(self.root.resolve()), "split": self.split,
                    "side": self.side, "samples": len(self.files), "keys": self.keys}
        atomic_write_text(self.folder / "manifest.json", json.dumps(manifest) + "\n")

    def read(self, index: int) -> np.ndarray:
        """
        Return the ``(H, W, 7)`` uint8 sample ``index``, memory-mapped (read-only).

        Raises
        ------
        DatasetError
            When the sample is not built, or its file is damaged.
        """
        path = self.files[index]
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:
            raise DatasetError(f"{path}: training cache sample missing; build the cache first") from None
        except (OSError, ValueError) as error:
            raise DatasetError(f"{path}: damaged training cache sample ({error}); delete it to rebuild") from None
        if array.ndim != 3 or array.shape[2] != CHANNELS or array.dtype != np.uint8:
            raise DatasetError(f"{path}: training cache sample has shape {array.shape} {array.dtype}; "
                               "delete it to rebuild")
        return array

    def size_bytes(self) -> int:
        """Return the bytes the built samples take on disk."""
        return sum(path.stat().st_size for path in self.files if path.is_file())
