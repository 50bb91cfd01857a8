"""
Format sniffing
===============

Decide what a file is from its content (magic bytes), not only from its name,
and catch mislabelled files:

-   :func:`sniff_container`: ``"jpeg"``, ``"png"``, ``"tiff"``, ``"raw"`` (a camera
    RAW signature LibRaw reads) or ``"unknown"`` from the first bytes.
-   :func:`extension_class`: what the file name claims (``"raw"``, ``"jpeg"``,
    ``"png"``, ``"tiff"`` or ``"unknown"``).
-   :func:`describe_container`: a human name for messages.
-   :data:`RAW_EXTENSIONS`: camera RAW file extensions handed to LibRaw.

Signatures used: JPEG ``FF D8 FF``; PNG ``89 50 4E 47 0D 0A 1A 0A``; TIFF
``II*\\0`` / ``MM\\0*`` (and BigTIFF ``II+\\0``); Canon CRW ``II\\x1a\\0\\0\\0HEAPCCDR``;
Canon CR3 ``ftypcrx`` at offset 4; Fujifilm RAF ``FUJIFILMCCD-RAW``; Olympus ORF
``IIRO`` / ``IIRS`` / ``MMOR``; Panasonic RW2 ``IIU\\0``; Minolta MRW ``\\0MRM``;
Sigma X3F ``FOVb``. TIFF-based RAW files (CR2, NEF, ARW, PEF, DNG, ...) share the
TIFF signature and are told apart from TIFF images by their extension (or a DNG tag).
"""

from __future__ import annotations

from pathlib import Path

from ccharmony._types import PathType

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "RAW_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "sniff_container",
    "extension_class",
    "describe_container",
    "SNIFF_BYTES",
]

SNIFF_BYTES = 64
"""How many leading bytes :func:`sniff_container` needs."""

RAW_EXTENSIONS: frozenset[str] = frozenset(
    "." + e
    for e in (
        "3fr ari arw bay cap cr2 cr3 crw cs1 dcr dcs dng drf eip erf fff iiq k25 kdc mdc mef "
        "mos mrw nef nrw orf pef ptx pxn r3d raf raw rw2 rwl rwz sr2 srf srw x3f"
    ).split()
)
"""File extensions (lower case, with the dot) that name camera RAW files."""

IMAGE_EXTENSIONS: dict[str, str] = {
    ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".jfif": "jpeg",
    ".png": "png",
    ".tif": "tiff", ".tiff": "tiff",
}
"""File extensions of the ordinary image containers the readers decode."""

_NAMES = {
    "jpeg": "JPEG",
    "png": "PNG",
    "tiff": "TIFF",
    "raw": "camera RAW",
    "unknown": "not a recognised image format",
}


def sniff_container(head: bytes) -> str:
    """
    Recognise a file's container from its first bytes.

    Parameters
    ----------
    head
        At least the first :data:`SNIFF_BYTES` bytes of the file (fewer for a
        shorter file).

    Returns
    -------
    str
        ``"jpeg"``, ``"png"``, ``"tiff"`` (including TIFF-based RAW files such as
        NEF, CR2 and DNG), ``"raw"`` (a non-TIFF camera RAW signature: CRW, CR3,
        RAF, ORF, RW2, MRW, X3F) or ``"unknown"``.

    Examples
    --------
    >>> sniff_container(b"\\xff\\xd8\\xff\\xe0\\x00\\x10JFIF")
    'jpeg'
    >>> sniff_container(b"II*\\x00\\x08\\x00\\x00\\x00")
    'tiff'
    >>> sniff_container(b"II\\x1a\\x00\\x00\\x00HEAPCCDR")
    'raw'
    >>> sniff_container(b"hello")
    'unknown'
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[6:14] == b"HEAPCCDR" or head[4:12] == b"ftypcrx " or head.startswith(b"FUJIFILM"):
        return "raw"
    if head[:4] in (b"IIRO", b"IIRS", b"MMOR", b"IIU\x00") or head.startswith((b"\x00MRM", b"FOVb")):
        return "raw"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    return "unknown"


def extension_class(path: PathType) -> str:
    """
    Say what a file name claims to be.

    Parameters
    ----------
    path
        File path or name.

    Returns
    -------
    str
        ``"raw"`` for an extension in :data:`RAW_EXTENSIONS`, ``"jpeg"``,
        ``"png"`` or ``"tiff"``, or ``"unknown"``.

    Examples
    --------
    >>> extension_class("photo.CR2"), extension_class("a.JPG"), extension_class("x.bin")
    ('raw', 'jpeg', 'unknown')
    """
    suffix = Path(path).suffix.lower()
    if suffix in RAW_EXTENSIONS:
        return "raw"
    return IMAGE_EXTENSIONS.get(suffix, "unknown")


def describe_container(container: str) -> str:
    """
    Return a human name for a container or extension class, for messages.

    Examples
    --------
    >>> describe_container("jpeg"), describe_container("raw")
    ('JPEG', 'camera RAW')
    """
    return _NAMES.get(container, container)
