"""
EXIF orientation
================

Read the few EXIF fields the readers need and turn images upright:

-   :func:`read_exif`: orientation, make and model from a JPEG, PNG or TIFF file's bytes.
-   :func:`apply_orientation`: rotate / mirror an array so that an image with a given
    EXIF orientation becomes upright.
-   :func:`orientation_from_libraw_flip`: convert LibRaw's ``sizes.flip`` code into the
    EXIF orientation it stands for.

The parser is deliberately small (IFD0 of the embedded TIFF structure only) so
that no imaging library beyond OpenCV is needed; a malformed EXIF block is
ignored (orientation 1), never an error.

References
----------
:cite:`CIPA2019` : CIPA DC-008-2019 / JEITA CP-3451E, *Exchangeable image file
    format for digital still cameras: Exif Version 2.32*, 2019, tag 0x0112
    Orientation (values 1-8).
:cite:`Coffin2018` : D. Coffin, *dcraw.c*, revision 1.478, 2018 (the ``flip``
    codes that LibRaw inherits: ``"50132467"[orientation & 7]``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "ExifInfo",
    "read_exif",
    "parse_tiff_ifd0",
    "apply_orientation",
    "orientation_from_libraw_flip",
    "LIBRAW_FLIP_TO_ORIENTATION",
]

_TAG_MAKE = 0x010F
_TAG_MODEL = 0x0110
_TAG_ORIENTATION = 0x0112

LIBRAW_FLIP_TO_ORIENTATION: dict[int, int] = {0: 1, 1: 2, 2: 4, 3: 3, 4: 5, 5: 8, 6: 6, 7: 7}
"""LibRaw / dcraw ``flip`` code -> EXIF orientation (inverse of dcraw's
``flip = "50132467"[orientation & 7] - '0'``): 0 none, 3 = 180 degrees,
5 = needs 90 degrees counter-clockwise (EXIF 8), 6 = needs 90 degrees clockwise (EXIF 6)."""


@dataclass(frozen=True)
class ExifInfo:
    """
    Hold the EXIF fields the readers use.

    Parameters
    ----------
    orientation
        EXIF orientation, 1-8 (1 = upright, also when absent or invalid).
    make, model
        Camera make and model, ``""`` when absent.
    """

    orientation: int = 1
    make: str = ""
    model: str = ""


def parse_tiff_ifd0(tiff: bytes) -> dict[int, object]:
    """
    Read the orientation, make and model entries of a TIFF structure's IFD0.

    Parameters
    ----------
    tiff
        Bytes starting at a TIFF header (``II*\\0`` or ``MM\\0*``).

    Returns
    -------
    dict
        ``{tag: value}`` for the tags 0x010F (str), 0x0110 (str) and 0x0112 (int)
        that are present; empty when the structure cannot be parsed.

    Examples
    --------
    >>> header = b"II*\\x00" + struct.pack("<I", 8)
    >>> entry = struct.pack("<HHIHH", 0x0112, 3, 1, 6, 0)
    >>> parse_tiff_ifd0(header + struct.pack("<H", 1) + entry + b"\\0\\0\\0\\0")
    {274: 6}
    """
    found: dict[int, object] = {}
    if len(tiff) < 8:
        return found
    if tiff[:2] == b"II":
        endian = "<"
    elif tiff[:2] == b"MM":
        endian = ">"
    else:
        return found
    try:
        (magic,) = struct.unpack(endian + "H", tiff[2:4])
        if magic != 42:
            return found
        (offset,) = struct.unpack(endian + "I", tiff[4:8])
        (count,) = struct.unpack(endian + "H", tiff[offset : offset + 2])
        for index in range(min(count, 512)):
            start = offset + 2 + 12 * index
            entry = tiff[start : start + 12]
            if len(entry) < 12:
                break
            tag, kind, n = struct.unpack(endian + "HHI", entry[:8])
            if tag == _TAG_ORIENTATION and kind == 3 and n >= 1:
                (value,) = struct.unpack(endian + "H", entry[8:10])
                found[tag] = int(value)
            elif tag in (_TAG_MAKE, _TAG_MODEL) and kind == 2 and n >= 1:
                if n <= 4:
                    raw = entry[8 : 8 + n]
                else:
                    (where,) = struct.unpack(endian + "I", entry[8:12])
                    raw = tiff[where : where + n]
                found[tag] = raw.split(b"\0", 1)[0].decode("latin-1").strip()
    except (struct.error, IndexError):
        return found
    return found


def _exif_tiff_from_jpeg(data: bytes) -> bytes | None:
    """Return the TIFF structure inside a JPEG's ``Exif`` APP1 segment, if any."""
    position = 2
    size = len(data)
    while position + 4 <= size:
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            position += 2
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end of image: no EXIF before it
            return None
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker == 0xE1 and data[position + 4 : position + 10] == b"Exif\0\0":
            return data[position + 10 : position + 2 + length]
        position += 2 + length
    return None


def _exif_tiff_from_png(data: bytes) -> bytes | None:
    """Return the TIFF structure of a PNG ``eXIf`` chunk, if any."""
    position = 8
    size = len(data)
    while position + 8 <= size:
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        if kind == b"eXIf":
            body = data[position + 8 : position + 8 + length]
            return body[6:] if body.startswith(b"Exif\0\0") else body
        if kind in (b"IDAT", b"IEND"):
            # eXIf must come before IDAT in a conforming file
            return None
        position += 12 + length
    return None


def read_exif(data: bytes, container: str) -> ExifInfo:
    """
    Read orientation, make and model from an encoded image.

    Parameters
    ----------
    data
        The whole file (or at least its header segments).
    container
        ``"jpeg"``, ``"png"`` or ``"tiff"`` (as returned by
        :func:`ccharmony.io.sniff.sniff_container`); anything else gives the defaults.

    Returns
    -------
    ExifInfo
        Orientation 1 and empty strings where the file says nothing (or
        something invalid).

    References
    ----------
    :cite:`CIPA2019`

    Examples
    --------
    >>> read_exif(b"\\xff\\xd8\\xff\\xd9", "jpeg")
    ExifInfo(orientation=1, make='', model='')
    """
    tiff: bytes | None
    if container == "jpeg":
        tiff = _exif_tiff_from_jpeg(data)
    elif container == "png":
        tiff = _exif_tiff_from_png(data)
    elif container == "tiff":
        tiff = data
    else:
        tiff = None
    if not tiff:
        return ExifInfo()
    tags = parse_tiff_ifd0(tiff)
    orientation = tags.get(_TAG_ORIENTATION, 1)
    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        orientation = 1
    return ExifInfo(
        orientation=orientation,
        make=str(tags.get(_TAG_MAKE, "")),
        model=str(tags.get(_TAG_MODEL, "")),
    )


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """
    Turn an image stored with an EXIF orientation upright.

    Parameters
    ----------
    image
        ``(H, W)`` or ``(H, W, C)`` array as stored in the file.
    orientation
        EXIF orientation 1-8: 1 upright, 2 mirrored left-right, 3 rotated 180
        degrees, 4 mirrored top-bottom, 5 transposed, 6 needs 90 degrees clockwise,
        7 transversed, 8 needs 90 degrees counter-clockwise.

    Returns
    -------
    numpy.ndarray
        A C-contiguous array (a new one unless ``orientation`` is 1, in which
        case the input itself is returned); rows and columns swap for 5-8.

    Raises
    ------
    ValueError
        If ``orientation`` is not 1-8.

    References
    ----------
    :cite:`CIPA2019`

    Examples
    --------
    >>> a = np.arange(6).reshape(2, 3)
    >>> apply_orientation(a, 6).tolist()
    [[3, 0], [4, 1], [5, 2]]
    >>> apply_orientation(a, 8).tolist()
    [[2, 5], [1, 4], [0, 3]]
    """
    if orientation == 1:
        return image
    if orientation == 2:
        out = image[:, ::-1]
    elif orientation == 3:
        out = image[::-1, ::-1]
    elif orientation == 4:
        out = image[::-1]
    elif orientation == 5:
        out = image.swapaxes(0, 1)
    elif orientation == 6:
        out = image[::-1].swapaxes(0, 1)
    elif orientation == 7:
        out = image[::-1, ::-1].swapaxes(0, 1)
    elif orientation == 8:
        out = image[:, ::-1].swapaxes(0, 1)
    else:
        raise ValueError(f"orientation must be an EXIF orientation 1-8, got {orientation!r}")
    return np.ascontiguousarray(out)


def orientation_from_libraw_flip(flip: int) -> int:
    """
    Convert LibRaw's ``sizes.flip`` into an EXIF orientation.

    Parameters
    ----------
    flip
        LibRaw / dcraw flip code 0-7.

    Returns
    -------
    int
        EXIF orientation 1-8 (1 for an unknown code).

    References
    ----------
    :cite:`Coffin2018`

    Examples
    --------
    >>> [orientation_from_libraw_flip(f) for f in (0, 3, 5, 6)]
    [1, 3, 8, 6]
    """
    return LIBRAW_FLIP_TO_ORIENTATION.get(int(flip), 1)
