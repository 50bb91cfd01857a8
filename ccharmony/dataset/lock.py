"""
Output folder lock
==================

One build per output folder at a time, enforced by the operating system:

-   :func:`folder_lock`: a context manager holding an exclusive lock on
    ``<out>/.ccharmony-build.lock`` for the duration of a build; a second build
    of the same folder fails at once with one line.
-   :data:`LOCK_FILE`: the lock file's name.

The lock is ``flock(LOCK_EX | LOCK_NB)`` (``msvcrt.locking`` on Windows) on
an open descriptor of the lock file: the kernel releases it when the process
ends for any reason (``kill -9`` included), so a crashed build never leaves a
stale lock, and no timing or process-id guess is involved. The lock file is
removed when the build ends, so a finished dataset folder holds no trace of
it. Removing a lock file is only safe with the classic check that follows
acquiring it: the path must still name the very file that was locked
(``fstat`` and ``stat`` give the same device and inode); a process that
locked a file another one had just removed retries on the new one.

Why not the ``filelock`` package (installed with PyTorch): its lock file stays
behind in the folder after the build (an extra file in every dataset), it
offers no removal with the inode check above, and its API changed between its
major versions 3 and 4; the standard library's ``fcntl`` is all this needs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ccharmony.errors import DatasetError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["LOCK_FILE", "folder_lock"]

LOCK_FILE = ".ccharmony-build.lock"
"""Name of the lock file inside the output folder (present only while a build runs)."""

_ATTEMPTS = 20
"""How often a lock whose file another process just removed is tried again."""


def _try_lock(descriptor: int) -> bool:
    """Take an exclusive lock without waiting; return whether it was taken."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _same_file(descriptor: int, path: Path) -> bool:
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(descriptor)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


@contextlib.contextmanager
def folder_lock(folder: str | Path, *, shown: object | None = None) -> Iterator[Path]:
    """
    Hold the exclusive build lock of ``folder`` (created if missing) for a ``with`` block.

    Parameters
    ----------
    folder
        The output folder.
    shown
        How messages name it (the path as the user gave it; default ``folder``).

    Yields
    ------
    pathlib.Path
        The lock file (removed when the block ends).

    Raises
    ------
    DatasetError
        Another process holds the lock (one line naming the folder), or the
        folder or its lock file cannot be created.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with folder_lock(folder) as lock:
    ...     with folder_lock(folder):
    ...         pass
    Traceback (most recent call last):
    ...
    ccharmony.errors.DatasetError: ...: another ccharmony build holds this folder ...
    >>> with folder_lock(folder) as lock:
    ...     lock.name
    '.ccharmony-build.lock'
    >>> sorted(folder.iterdir())
    []
    """
    root = Path(folder)
    path = root / LOCK_FILE
    name = root if shown is None else shown
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatasetError(f"{name}: output folder is not writable ({error.strerror or error})") from None
    for _ in range(_ATTEMPTS):
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        except OSError as error:
            raise DatasetError(f"{name}: output folder is not writable ({error.strerror or error})") from None
        if not _try_lock(descriptor):
            os.close(descriptor)
            raise DatasetError(
                f"{name}: another ccharmony build holds this folder (lock {LOCK_FILE}); "
                "wait for it to finish, or use another --out"
            )
        if _same_file(descriptor, path):
            break
        os.close(descriptor)  # locked a file the previous holder had just removed: take the new one
    else:  # pragma: no cover - needs another process to remove the file 20 times in a row
        raise DatasetError(f"{name}: cannot take the build lock {LOCK_FILE}; try again")
    try:
        yield path
    finally:
        # Remove while still holding it: whoever opens the old file next sees it is gone.
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(descriptor)
