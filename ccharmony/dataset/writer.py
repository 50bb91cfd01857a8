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
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Union

import numpy as np

from ccharmony.errors import DatasetError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["DatasetWriter", "Payload"]

Payload = Union[bytes, Path, np.ndarray, None]
"""What :meth:`DatasetWriter.write` accepts (see the module docstring)."""

_END = ("", None)
"""The writer thread's stop item (compared by identity)."""


def _size(data: Payload) -> int:
    if isinstance(data, (bytes, bytearray)):
        return len(data)
    if isinstance(data, np.ndarray):
        return int(data.nbytes)
    return 0


class DatasetWriter:
    """
    Write files into a dataset folder, atomically and (inside :meth:`background`) in order.

    Parameters
    ----------
    out
        The dataset folder; relative paths are resolved against it.
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
    >>> (writer.out / "a/b.txt").read_bytes(), np.load(writer.out / "a/c.npy").tolist()
    (b'hello', [0, 1, 2])
    """

    def __init__(self, out: Path, *, backlog_bytes: int = 192 << 20) -> None:
        self.out = Path(out)
        self.backlog_bytes = int(backlog_bytes)
        self.seconds = 0.0
        """Time spent writing (seconds), in whichever thread wrote."""
        self._items: deque[tuple[str | Path, Payload]] | None = None
        self._pending = 0
        self._condition = threading.Condition()
        self._error: BaseException | None = None

    # --- the operations -------------------------------------------------------

    def write(self, relative: str | Path, data: Payload) -> None:
        """Write ``data`` to ``relative`` (in the dataset folder, or an absolute path)."""
        self._submit(relative, data)

    def write_json(self, relative: str, data: Any) -> None:
        """Write ``data`` as indented, key-sorted JSON."""
        self.write(relative, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())

    def delete(self, path: Path) -> None:
        """Delete a file (if it exists) after every write queued before."""
        self._submit(path, None)

    def read_json(self, relative: str) -> Any:
        """Read a JSON file of the dataset folder."""
        return json.loads((self.out / relative).read_text(encoding="utf-8"))

    # --- machinery --------------------------------------------------------------

    def _write_now(self, relative: str | Path, data: Payload) -> None:
        from ccharmony.io.atomic import atomic_save_npy, atomic_write_bytes

        start = time.perf_counter()
        path = self.out / relative
        try:
            if data is None:
                path.unlink(missing_ok=True)
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(data, Path):
                try:
                    os.replace(data, path)
                except OSError as error:
                    raise DatasetError(
                        f"{path}: cannot move the staged file {data} into place ({error.strerror or error})"
                    ) from None
            elif isinstance(data, np.ndarray):
                atomic_save_npy(path, data)
            else:
                atomic_write_bytes(path, data)
        finally:
            self.seconds += time.perf_counter() - start

    def _submit(self, relative: str | Path, data: Payload) -> None:
        if self._error is not None:
            raise self._error
        if self._items is None:
            self._write_now(relative, data)
            return
        size = _size(data)
        with self._condition:
            while self._pending and self._pending + size > self.backlog_bytes and self._error is None:
                self._condition.wait()
            if self._error is not None:
                raise self._error
            self._pending += size
            self._items.append((relative, data))
            self._condition.notify_all()

    def _drain(self) -> None:
        assert self._items is not None
        while True:
            with self._condition:
                while not self._items:
                    self._condition.wait()
                item = self._items.popleft()
            if item is _END:
                return
            relative, data = item
            del item
            try:
                if self._error is None:
                    self._write_now(relative, data)
            except BaseException as error:  # noqa: BLE001 - re-raised in the building thread
                self._error = error
            finally:
                with self._condition:
                    self._pending -= _size(data)
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
        if self._error is not None:
            raise self._error
