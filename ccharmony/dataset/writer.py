"""
Dataset writer
==============

:class:`DatasetWriter`: the only code that writes into a dataset folder while
``ccharmony build`` runs. Every write is atomic (a temporary file renamed into
place, :mod:`ccharmony.io.atomic`), and inside :meth:`DatasetWriter.background`
the writes are performed in order by one thread, overlapping disk I/O with the
stages: a stage record never lands before the files it lists, and a
``kill -9`` leaves at most unrenamed temporaries.

A write's payload is one of

-   ``bytes``: written to a temporary file, then renamed;
-   a :class:`pathlib.Path`: a file a pool worker staged on the same file system
    (:func:`ccharmony.dataset.stages.stage_file`), renamed;
-   a :class:`numpy.ndarray`: saved as ``.npy`` (the stage-A pixel cache of a
    build that runs its stages in this process), then renamed;
-   ``None`` (:meth:`DatasetWriter.delete`): the file is deleted.

Paths are relative to the dataset folder, or absolute paths inside it; the
folder itself is made absolute once, so a relative ``--out`` is never joined
twice, and a path that leaves the folder (``..``, a link pointing out) is
refused. A reader of a file queued to the writer thread waits for that file
with :meth:`DatasetWriter.wait_for` (a per-file completion handle), so a
hand-off between the building thread and the writer is ordered by
construction, never by timing.

-   :func:`write_file_atomic`, :func:`write_new_file`: the low-level writes
    (also used by the stages in pool workers), whose errors name the file and
    the system's reason (``no space left on device``).
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np

from ccharmony.errors import DatasetError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["DatasetWriter", "Payload", "Stored", "write_file_atomic", "write_new_file", "describe_os_error"]

@dataclass(frozen=True)
class Stored:
    """
    A payload already at its final place: a stage task on a cluster node put
    the file on the object store itself (:mod:`ccharmony.dataset.remote`), and
    hands back only its sha256 and size. Only a store's writer accepts it.
    """

    sha256: str
    size: int


Payload = Union[bytes, Path, np.ndarray, Stored, None]
"""What :meth:`DatasetWriter.write` accepts (see the module docstring)."""

_END = ("", None, 0)
"""The writer thread's stop item (compared by identity)."""


def _size(data: Payload) -> int:
    if isinstance(data, (bytes, bytearray)):
        return len(data)
    if isinstance(data, np.ndarray):
        return int(data.nbytes)
    return 0


def describe_os_error(error: OSError, path: Path | None = None) -> str:
    """
    Return the system's reason for a failed write, in words a user acts on.

    A full disk reads ``no space left on device`` (with the free space of the
    file system holding ``path``, where it can be measured) and how to go on;
    everything else is the system's own message.

    Examples
    --------
    >>> import errno, os
    >>> describe_os_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    'no space left on device; free some space and run the build again (it resumes where it stopped)'
    >>> describe_os_error(OSError(errno.EACCES, "Permission denied"))
    'Permission denied'
    """
    if error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        reason = "no space left on device" if error.errno == errno.ENOSPC else "disk quota exceeded"
        if path is not None:
            with contextlib.suppress(OSError, StopIteration):
                free = shutil.disk_usage(next(p for p in (path, *path.parents) if p.exists())).free
                reason += f" ({free / 1e6:.1f} MB free there)"
        return reason + "; free some space and run the build again (it resumes where it stopped)"
    return error.strerror or str(error) or type(error).__name__


def _failure(path: Path, action: str, error: OSError) -> DatasetError:
    """One line: the file, what failed and why (``: no space left ...`` or ``(Permission denied)``)."""
    reason = describe_os_error(error, path)
    if error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return DatasetError(f"{path}: cannot {action}: {reason}")
    return DatasetError(f"{path}: cannot {action} ({reason})")


def _write_all(descriptor: int, data: memoryview) -> None:
    """Write every byte of ``data`` (``os.write`` may write fewer than asked)."""
    while len(data):
        written = os.write(descriptor, data)
        data = data[written:]


def _npy_parts(array: np.ndarray) -> tuple[bytes, memoryview]:
    """Return the ``.npy`` header and a byte view of ``array``'s data (no copy of a C-contiguous array)."""
    array = np.ascontiguousarray(array)
    if array.dtype.hasobject:
        raise DatasetError(f"cannot save an array of Python objects ({array.dtype}) as .npy")
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(array))
    return header.getvalue(), memoryview(array.reshape(-1).view(np.uint8).data)


def _write_descriptor(descriptor: int, data: bytes | np.ndarray) -> None:
    if isinstance(data, np.ndarray):
        header, view = _npy_parts(data)
        _write_all(descriptor, memoryview(header))
        _write_all(descriptor, view)
    else:
        _write_all(descriptor, memoryview(data))


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def write_new_file(path: str | Path, data: bytes | np.ndarray, *, name: str | Path | None = None) -> None:
    """
    Create ``path`` (it must not exist) and write ``data`` to it: bytes, or an array as ``.npy``.

    Parameters
    ----------
    path
        The file to create.
    data
        Bytes, or an array saved as ``.npy``.
    name
        The file named in messages (default ``path``): the destination when
        ``path`` is its temporary sibling.

    Raises
    ------
    DatasetError
        One line naming the file and the system's reason (``no space left on
        device`` for a full disk); the partial file is removed.
    """
    target = Path(path)
    shown = Path(name) if name is not None else target
    try:
        descriptor = os.open(target, _CREATE, 0o666)
    except OSError as error:
        raise _failure(shown, "create it", error) from None
    try:
        _write_descriptor(descriptor, data)
    except OSError as error:
        os.close(descriptor)
        with contextlib.suppress(OSError):
            target.unlink()
        raise _failure(shown, "write it", error) from None
    os.close(descriptor)


def write_file_atomic(path: str | Path, data: bytes | np.ndarray) -> None:
    """
    Write ``data`` to ``path`` atomically: bytes, or an array as ``.npy`` (read back by :func:`numpy.load`).

    A temporary sibling is written and renamed into place
    (:func:`ccharmony.io.atomic.atomic_output`), so an interrupted write
    leaves ``path`` as it was.

    Raises
    ------
    DatasetError
        One line naming ``path`` and the system's reason (``no space left on
        device`` for a full disk); no temporary file is left behind.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_file_atomic(folder / "a.npy", np.arange(4, dtype=np.int16))
    >>> np.load(folder / "a.npy").tolist(), sorted(p.name for p in folder.iterdir())
    ([0, 1, 2, 3], ['a.npy'])
    """
    from ccharmony.io.atomic import atomic_output

    target = Path(path)
    with atomic_output(target) as temporary:
        write_new_file(temporary, data, name=target)


class DatasetWriter:
    """
    Write files into a dataset folder, atomically and (inside :meth:`background`) in order.

    Parameters
    ----------
    out
        The dataset folder (made absolute here); relative paths are resolved
        against it, and absolute paths must lie inside it.
    backlog_bytes
        Payload bytes queued at most inside :meth:`background`; a write that
        would exceed it waits for the writer thread. Bounding bytes rather than
        items lets a task's K composites queue at once (the building thread
        goes on with the next task while the disk catches up), while memory
        stays bounded.

    Examples
    --------
    >>> import tempfile
    >>> writer = DatasetWriter(Path(tempfile.mkdtemp()))
    >>> with writer.background():
    ...     writer.write("a/b.txt", b"hello")
    ...     writer.write("a/c.npy", np.arange(3))
    ...     writer.wait_for(["a/c.npy"])  # on disk from here on
    ...     np.load(writer.out / "a/c.npy").tolist()
    [0, 1, 2]
    >>> (writer.out / "a/b.txt").read_bytes()
    b'hello'
    >>> writer.write("../escaped.txt", b"no")
    Traceback (most recent call last):
    ...
    ccharmony.errors.DatasetError: ../escaped.txt: path leaves the dataset folder ...; the builder writes only inside it
    """

    def __init__(self, out: Path, *, backlog_bytes: int = 192 << 20) -> None:
        self.out = Path(os.path.abspath(out))
        self.backlog_bytes = int(backlog_bytes)
        self.seconds = 0.0
        """Time spent writing (seconds), in whichever thread wrote."""
        self._items: deque[tuple[Path | str, Payload, int]] | None = None
        self._pending = 0
        self._condition = threading.Condition()
        self._error: BaseException | None = None
        self._submitted = 0
        self._completed = 0
        self._last_write: dict[Path, int] = {}
        self._checked_folders: set[Path] = set()

    # --- the operations -------------------------------------------------------

    def target(self, relative: str | Path) -> Path:
        """
        Return the absolute path of a file of the dataset folder.

        Raises
        ------
        DatasetError
            The path leaves the folder: ``..`` components, or an absolute path
            elsewhere.
        """
        path = Path(relative)
        if path.is_absolute():
            path = Path(os.path.abspath(path))
            if path != self.out and self.out not in path.parents:
                raise DatasetError(f"{relative}: path leaves the dataset folder {self.out}; the builder writes only inside it")
            return path
        if ".." in path.parts or not path.parts:
            raise DatasetError(f"{relative}: path leaves the dataset folder {self.out}; the builder writes only inside it")
        return self.out / path

    def write(self, relative: str | Path, data: Payload) -> None:
        """Write ``data`` to ``relative`` (in the dataset folder, or an absolute path inside it)."""
        self._submit(self.target(relative), data)

    def write_json(self, relative: str | Path, data: Any) -> None:
        """Write ``data`` as indented, key-sorted JSON."""
        self.write(relative, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())

    def delete(self, path: str | Path) -> None:
        """Delete a file (if it exists) after every write queued before."""
        self._submit(self.target(path), None)

    def read_json(self, relative: str) -> Any:
        """Read a JSON file of the dataset folder."""
        return json.loads(self.target(relative).read_text(encoding="utf-8"))

    # --- reading back what is there (the builder's resume and finish) ------------

    def describe(self, relative: str | Path) -> str:
        """Return how to name a file of the dataset in messages (its path)."""
        return str(self.target(relative))

    def exists(self, relative: str | Path) -> bool:
        """Return whether a regular file is at ``relative`` (links followed)."""
        return self.target(relative).is_file()

    def read_bytes(self, relative: str | Path) -> bytes:
        """Return a file's bytes."""
        return self.target(relative).read_bytes()

    def sha256(self, relative: str | Path) -> str:
        """Return the SHA-256 of a file's bytes (hex)."""
        from ccharmony.dataset.output import file_sha256

        return file_sha256(self.target(relative))

    def list_files(self, *, skip: Iterable[str] = ()) -> dict[str, int]:
        """
        Return ``{relative posix path: size in bytes}`` of every regular file of the folder.

        Top-level entries named in ``skip`` (the work folder, the lock file) are not entered.
        """
        skipped = set(skip)
        files: dict[str, int] = {}
        for path in sorted(self.out.rglob("*")):
            relative = path.relative_to(self.out)
            if relative.parts[0] in skipped or not path.is_file():
                continue
            files[relative.as_posix()] = path.stat().st_size
        return files

    def remove_tree(self, relative: str | Path) -> None:
        """Delete a folder of the dataset and everything in it (at once, not queued)."""
        shutil.rmtree(self.target(relative), ignore_errors=True)

    def remove_stale(self, produced: Iterable[str], *, lists: Iterable[str] = ()) -> list[str]:
        """Delete the files of the build's own folders that this build did not produce (see :func:`ccharmony.dataset.output.remove_stale`)."""
        from ccharmony.dataset.output import remove_stale

        return remove_stale(self.out, produced, lists=lists)

    def wait_for(self, paths: Iterable[str | Path]) -> None:
        """
        Block until every write queued so far for ``paths`` is done (on disk, or deleted).

        The per-file completion handle of the hand-off between the building
        thread and the writer thread: stage B reads the pixel cache stage A
        queued only after the writer has put it in place. Outside
        :meth:`background` writes happen at once and this returns at once.

        Raises
        ------
        BaseException
            The writer thread's error, if a write failed.
        """
        with self._condition:
            wanted = max((self._last_write.get(self.target(path), 0) for path in paths), default=0)
            while self._completed < wanted and self._error is None:
                self._condition.wait()
        if self._error is not None:
            raise self._error

    # --- machinery --------------------------------------------------------------

    def _check_folder(self, folder: Path) -> None:
        """Refuse a folder that, with links resolved, lies outside the dataset folder."""
        if folder in self._checked_folders:
            return
        real = Path(os.path.realpath(folder))
        root = Path(os.path.realpath(self.out))
        if real != root and root not in real.parents:
            raise DatasetError(
                f"{folder}: resolves to {real}, outside the dataset folder {root} (a symbolic link?); "
                "the builder writes only inside it"
            )
        self._checked_folders.add(folder)

    def _write_now(self, path: Path, data: Payload) -> None:
        start = time.perf_counter()
        try:
            if data is None:
                try:
                    path.unlink(missing_ok=True)
                except OSError as error:
                    raise _failure(path, "delete it", error) from None
                return
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise _failure(path.parent, "create the folder", error) from None
            self._check_folder(path.parent)
            if isinstance(data, Stored):
                raise DatasetError(f"{path}: a file stored elsewhere cannot be placed in a local folder "
                                   "(this is a bug, please report it)")
            if isinstance(data, Path):
                try:
                    os.replace(data, path)
                except OSError as error:
                    raise _failure(path, f"move the staged file {data} into place", error) from None
            else:
                write_file_atomic(path, data)
        finally:
            self.seconds += time.perf_counter() - start

    def _submit(self, path: Path, data: Payload) -> None:
        if self._error is not None:
            raise self._error
        if self._items is None:
            self._write_now(path, data)
            return
        size = _size(data)
        with self._condition:
            while self._pending and self._pending + size > self.backlog_bytes and self._error is None:
                self._condition.wait()
            if self._error is not None:
                raise self._error
            self._pending += size
            self._submitted += 1
            self._last_write[path] = self._submitted
            self._items.append((path, data, self._submitted))
            self._condition.notify_all()

    def _drain(self) -> None:
        if self._items is None:  # pragma: no cover - started by background() only
            return
        while True:
            with self._condition:
                while not self._items:
                    self._condition.wait()
                item = self._items.popleft()
            if item is _END:
                return
            path, data, number = item
            del item
            try:
                if self._error is None:
                    self._write_now(Path(path), data)
            except BaseException as error:  # noqa: BLE001 - re-raised in the building thread
                self._error = error
            finally:
                with self._condition:
                    self._pending -= _size(data)
                    self._completed = number
                    self._condition.notify_all()
            del data

    @contextlib.contextmanager
    def background(self) -> Iterator[None]:
        """Queue the writes of the ``with`` block to a writer thread; wait for them at the end."""
        self._items = deque()
        self._pending = 0
        thread = threading.Thread(target=self._drain, name="ccharmony-writer", daemon=True)
        thread.start()
        try:
            yield
        finally:
            with self._condition:
                self._items.append(_END)
                self._condition.notify_all()
            thread.join()
            self._items = None
            self._last_write.clear()
        if self._error is not None:
            raise self._error
