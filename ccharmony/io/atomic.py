"""
Atomic writers
==============

Write files so that a reader never sees a half-written one: data go to a
temporary file in the destination folder, which then replaces the destination
with :func:`os.replace` (atomic on POSIX and Windows within one file system).

-   :func:`atomic_output`: context manager yielding a temporary path; replaced on
    success, removed on error.
-   :func:`atomic_write_bytes`: write bytes atomically.
-   :func:`atomic_write_text`: write UTF-8 text atomically.

The temporary file is named ``.<stem>.<random>.tmp<suffix>`` so that writers
that infer the format from the extension (``cv2.imwrite``,
``pandas.DataFrame.to_parquet``) still work, and so that a crash leaves an
easily recognised hidden file rather than a truncated destination.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ccharmony._types import PathType
from ccharmony.errors import DatasetError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["atomic_output", "atomic_save_npy", "atomic_write_bytes", "atomic_write_text", "temporary_sibling"]


def temporary_sibling(path: PathType) -> Path:
    """
    Return an unused temporary path in the same folder as ``path``.

    The name keeps the destination's suffix: ``out/a.png`` ->
    ``out/.a.<12 hex digits>.tmp.png``.

    Examples
    --------
    >>> p = temporary_sibling("out/a.png")
    >>> p.parent.name, p.name.startswith(".a."), p.suffix
    ('out', True, '.png')
    """
    target = Path(path)
    return target.with_name(f".{target.stem}.{secrets.token_hex(6)}.tmp{target.suffix}")


@contextlib.contextmanager
def atomic_output(path: PathType) -> Iterator[Path]:
    """
    Yield a temporary path that replaces ``path`` when the block succeeds.

    Parameters
    ----------
    path
        Destination file; its folder must exist.

    Yields
    ------
    pathlib.Path
        A path in the same folder that does not exist yet; the caller creates
        and fills it.

    Raises
    ------
    DatasetError
        If the block succeeded but the temporary file is missing or cannot
        replace ``path``.

    Notes
    -----
    When the block raises, the temporary file is removed and the exception
    propagates unchanged; ``path`` is left as it was. Data are not fsync'ed: the
    guarantee is against interrupted processes, not power loss.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_output(folder / "a.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    >>> (folder / "a.txt").read_text(), sorted(p.name for p in folder.iterdir())
    ('hello', ['a.txt'])
    """
    target = Path(path)
    temporary = temporary_sibling(target)
    try:
        yield temporary
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise
    if not temporary.exists():
        raise DatasetError(f"{target}: nothing was written to the temporary file {temporary.name}")
    try:
        os.replace(temporary, target)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise DatasetError(f"{target}: cannot replace it ({error.strerror or error})") from error


def atomic_write_bytes(path: PathType, data: bytes) -> None:
    """
    Write ``data`` to ``path`` atomically.

    Parameters
    ----------
    path
        Destination file; its folder must exist.
    data
        The bytes to write.

    Raises
    ------
    DatasetError
        If the file cannot be written (folder missing, permission, disk full);
        no temporary file is left behind.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "b.bin"
    >>> atomic_write_bytes(target, b"\\x00\\x01")
    >>> target.read_bytes()
    b'\\x00\\x01'
    """
    target = Path(path)
    try:
        with atomic_output(target) as temporary, open(temporary, "xb") as handle:
            handle.write(data)
    except OSError as error:
        raise DatasetError(f"{target}: cannot write it ({error.strerror or error})") from error


def atomic_save_npy(path: PathType, array: Any) -> None:
    """
    Save ``array`` to ``path`` as ``.npy`` atomically (no pickled objects).

    Raises
    ------
    DatasetError
        If the file cannot be written (folder missing, permission, disk full),
        one line naming ``path``; no temporary file is left behind.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> target = Path(tempfile.mkdtemp()) / "a.npy"
    >>> atomic_save_npy(target, np.arange(3))
    >>> np.load(target).tolist()
    [0, 1, 2]
    """
    import numpy as np

    target = Path(path)
    try:
        with atomic_output(target) as temporary, open(temporary, "xb") as handle:
            np.save(handle, array, allow_pickle=False)
    except OSError as error:
        raise DatasetError(f"{target}: cannot write it ({error.strerror or error})") from error


def atomic_write_text(path: PathType, text: str) -> None:
    """
    Write ``text`` to ``path`` atomically, UTF-8 encoded, newlines unchanged.

    Raises
    ------
    DatasetError
        If the file cannot be written; no temporary file is left behind.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "c.txt"
    >>> atomic_write_text(target, "colour\\n")
    >>> target.read_text(encoding="utf-8")
    'colour\\n'
    """
    atomic_write_bytes(path, text.encode("utf-8"))
