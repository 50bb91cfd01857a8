"""
Regular files only
==================

Open what ccharmony reads without ever blocking on it:

-   :func:`open_regular`: open a file for reading and refuse, with one line,
    anything that is not a regular file (a FIFO, a socket, a device, a folder).
-   :func:`read_regular_bytes`, :func:`read_regular_text`: the whole file.
-   :func:`check_regular`: the same check by name, for readers that hand a
    path to a library (LibRaw, tifffile, pandas).
-   :func:`file_kind`: a human name of a file type, for messages.

``open()`` on a FIFO waits for a writer that may never come, and reading a
character device such as ``/dev/zero`` never ends. So the file is opened with
``O_NONBLOCK`` (which returns at once for a FIFO and changes nothing for a
regular file), its type is taken from the open descriptor with ``fstat`` (no
window between checking a name and opening it), and only a regular file is
read.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from typing import BinaryIO

from ccharmony._types import PathType
from ccharmony.errors import CCHarmonyError, UnreadableImageError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["open_regular", "read_regular_bytes", "read_regular_text", "check_regular", "file_kind"]


def file_kind(mode: int) -> str:
    """
    Name the type of a file from its ``st_mode``.

    Examples
    --------
    >>> import stat
    >>> file_kind(stat.S_IFIFO), file_kind(stat.S_IFDIR), file_kind(stat.S_IFREG)
    ('a FIFO (named pipe)', 'a folder', 'a regular file')
    """
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def _refusal(path: PathType, mode: int, what: str) -> str:
    if stat.S_ISDIR(mode):
        return f"{path}: is a folder, not {what}"
    return f"{path}: is {file_kind(mode)}, not {what}; ccharmony reads only regular files"


def _failure(path: PathType, error: OSError, what: str) -> str:
    if isinstance(error, FileNotFoundError):
        return f"{path}: no such file"
    if isinstance(error, PermissionError):
        return f"{path}: permission denied"
    if isinstance(error, IsADirectoryError):
        return f"{path}: is a folder, not {what}"
    return f"{path}: cannot read it ({error.strerror or error})"


def open_regular(
    path: PathType, *, what: str = "an image file", error: type[CCHarmonyError] = UnreadableImageError
) -> BinaryIO:
    """
    Open a regular file for binary reading, refusing every other kind of file.

    Parameters
    ----------
    path
        The file. A symbolic link is followed (containment of links is the
        caller's concern, see :func:`ccharmony.io.paths.inside`).
    what
        What the file should be, with its article, for messages (``"an image
        file"``, ``"a split list"``).
    error
        The :class:`~ccharmony.errors.CCHarmonyError` subclass raised.

    Returns
    -------
    BinaryIO
        An open, buffered, blocking file object positioned at the start; close
        it (use it as a context manager).

    Raises
    ------
    CCHarmonyError
        Of class ``error``: missing, permission denied, a folder, a FIFO, a
        socket or a device; one line naming the file.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> open_regular(folder)
    Traceback (most recent call last):
    ...
    ccharmony.errors.UnreadableImageError: ...: is a folder, not an image file
    >>> open_regular("/dev/null")
    Traceback (most recent call last):
    ...
    ccharmony.errors.UnreadableImageError: /dev/null: is a character device, not an image file; ccharmony reads only regular files
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as failure:
        raise error(_failure(path, failure, what)) from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise error(_refusal(path, mode, what))
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        return io.open(descriptor, "rb", closefd=True)
    except BaseException:
        os.close(descriptor)
        raise


def check_regular(
    path: PathType, *, what: str = "an image file", error: type[CCHarmonyError] = UnreadableImageError
) -> Path:
    """
    Raise unless ``path`` names a readable regular file (links followed); return it as a :class:`~pathlib.Path`.

    For readers that give a path to a library which opens it itself. The file
    is opened (without blocking) and closed again, so the check covers
    permissions too.

    Raises
    ------
    CCHarmonyError
        As :func:`open_regular`.
    """
    with open_regular(path, what=what, error=error):
        pass
    return Path(path)


def read_regular_bytes(
    path: PathType, *, what: str = "an image file", error: type[CCHarmonyError] = UnreadableImageError
) -> bytes:
    """
    Read a whole regular file.

    Raises
    ------
    CCHarmonyError
        As :func:`open_regular`, or when reading fails.
    """
    with open_regular(path, what=what, error=error) as handle:
        try:
            return handle.read()
        except OSError as failure:
            raise error(_failure(path, failure, what)) from None


def read_regular_text(
    path: PathType,
    *,
    what: str = "a text file",
    error: type[CCHarmonyError] = UnreadableImageError,
    encoding: str = "utf-8",
) -> str:
    """
    Read a whole regular file as text.

    Raises
    ------
    CCHarmonyError
        As :func:`read_regular_bytes`, or when the bytes are not ``encoding``
        (the message gives the byte offset).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "list.txt"
    >>> _ = target.write_bytes(b"a\\xffb")
    >>> read_regular_text(target, what="a split list")
    Traceback (most recent call last):
    ...
    ccharmony.errors.UnreadableImageError: .../list.txt: is not UTF-8 text (byte 0xff at offset 1)
    """
    data = read_regular_bytes(path, what=what, error=error)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as failure:
        raise error(
            f"{path}: is not {encoding.upper().replace('-SIG', '')} text "
            f"(byte 0x{data[failure.start]:02x} at offset {failure.start})"
        ) from None
