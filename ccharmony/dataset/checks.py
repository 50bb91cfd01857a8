"""
Build input checks
==================

The plausibility checks ``ccharmony build`` applies to each image's
annotations before using them, so that garbage is refused with a line naming
the file instead of being turned into a dataset without a word:

-   :func:`read_mask_bytes`: a mask file's bytes, only from a regular PNG file
    no larger than the photo (checked on the header, before decoding).
-   :func:`check_mask_fits`: a mask of another size than the crop must be a
    resize of it (same aspect ratio).
-   :func:`check_min_size`: the real image (and a mask) is at least
    :data:`MIN_SIDE` pixels a side.
-   (chart corners: :func:`ccharmony.checker.geometry.check_quadrilateral`,
    applied by the corner readers and by the build to detected charts.)
-   :func:`check_patch_contrast`: the 24 patch colours are those of a chart,
    not 24 copies of one colour (four identical corners) or all zero.
-   :func:`check_illuminant`: an illuminant estimate is a finite, non-zero vector.

Sizes in messages are ``width x height``, as image tools print them.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from ccharmony.errors import AnnotationError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "MIN_SIDE",
    "ASPECT_TOLERANCE",
    "MIN_CONTRAST",
    "read_mask_bytes",
    "check_mask_fits",
    "check_min_size",
    "check_patch_contrast",
    "check_illuminant",
]

MIN_SIDE = 32
"""Smallest real image (and mask) the build accepts, pixels a side. Harmonization
models and the evaluation protocols work at 256 x 256; below 32 pixels that is
an 8x up-sampling of a composite that carries almost no image."""

ASPECT_TOLERANCE = 0.02
"""A mask resized onto its crop may differ from the crop's aspect ratio by this
fraction (or one pixel, whichever is larger): the rounding of a resize."""

MIN_CONTRAST = 2.0
"""The brightest of the 24 patches must be at least this many times the darkest
(a ColorChecker's white reflects about 30 times its black)."""

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_mask_bytes(path: Path, *, frame_size: tuple[int, int] | None = None) -> bytes:
    """
    Read a mask file: a regular PNG file, not larger than the photo.

    Parameters
    ----------
    path
        The mask file (``masks/<image>_<fg>.png``).
    frame_size
        ``(height, width)`` of the photo; a mask larger on either axis is
        refused before it is decoded (a compressed PNG can declare gigapixels).

    Returns
    -------
    bytes
        The file.

    Raises
    ------
    AnnotationError
        Not a regular file, unreadable, empty, not PNG data (a JPEG named
        ``.png``: masks must be lossless), a corrupt header, or larger than the photo.
    """
    from ccharmony.io.files import read_regular_bytes
    from ccharmony.io.sniff import describe_container, sniff_container

    data = read_regular_bytes(path, what="a mask file", error=AnnotationError)
    if not data:
        raise AnnotationError(f"{path}: mask file is empty (0 bytes)")
    if not data.startswith(_PNG_SIGNATURE):
        raise AnnotationError(
            f"{path}: is {describe_container(sniff_container(data[:64]))} data, not PNG; masks must be "
            "lossless PNG files (a JPEG's edges are not two-level)"
        )
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise AnnotationError(f"{path}: corrupt PNG header (no IHDR chunk first)")
    width, height = struct.unpack(">II", data[16:24])
    if frame_size is not None and (height > frame_size[0] or width > frame_size[1]):
        raise AnnotationError(
            f"{path}: mask is {width}x{height} pixels, larger than the {frame_size[1]}x{frame_size[0]} photo; "
            "a mask is at most the photo's size"
        )
    return data


def check_mask_fits(path: Path, mask_size: tuple[int, int], crop_size: tuple[int, int]) -> None:
    """
    Refuse a mask that cannot be a resize of the crop it is laid on.

    Parameters
    ----------
    path
        The mask file, for messages.
    mask_size, crop_size
        ``(height, width)`` of the mask and of the crop (real image).

    Raises
    ------
    AnnotationError
        The aspect ratios differ by more than :data:`ASPECT_TOLERANCE` (and
        one pixel), or the mask is below :data:`MIN_SIDE` pixels a side.

    Examples
    --------
    >>> check_mask_fits(Path("m.png"), (320, 316), (320, 316))
    >>> check_mask_fits(Path("m.png"), (10, 1000), (320, 316))
    Traceback (most recent call last):
    ...
    ccharmony.errors.AnnotationError: m.png: mask is 1000x10 pixels but its crop is 316x320; ...
    """
    mask_height, mask_width = (int(v) for v in mask_size)
    crop_height, crop_width = (int(v) for v in crop_size)
    if (mask_height, mask_width) == (crop_height, crop_width):
        return
    expected_height = mask_width * crop_height / crop_width
    if abs(mask_height - expected_height) > max(1.0, ASPECT_TOLERANCE * mask_height):
        raise AnnotationError(
            f"{path}: mask is {mask_width}x{mask_height} pixels but its crop is {crop_width}x{crop_height}; "
            f"a mask must be the crop's size or a resize of it (aspect ratio within {ASPECT_TOLERANCE:.0%})"
        )
    if min(mask_height, mask_width) < MIN_SIDE:
        raise AnnotationError(
            f"{path}: mask is {mask_width}x{mask_height} pixels, below the minimum of {MIN_SIDE} a side"
        )


def check_min_size(where: object, size: tuple[int, int], *, what: str = "the real image") -> None:
    """
    Refuse an image below :data:`MIN_SIDE` pixels a side.

    Parameters
    ----------
    where
        The file or image named in the message.
    size
        ``(height, width)``.

    Examples
    --------
    >>> check_min_size("IMG_1", (300, 20))
    Traceback (most recent call last):
    ...
    ccharmony.errors.AnnotationError: IMG_1: the real image would be 20x300 pixels, below the minimum of 32 a side ...
    """
    height, width = (int(v) for v in size)
    if min(height, width) < MIN_SIDE:
        raise AnnotationError(
            f"{where}: {what} would be {width}x{height} pixels, below the minimum of {MIN_SIDE} a side "
            "(check the mask's size and the crop)"
        )


def check_patch_contrast(where: object, values: Any, *, what: str = "patch colours") -> None:
    """
    Refuse 24 patch colours that cannot come from a ColorChecker.

    Parameters
    ----------
    where
        The file named in the message (patch colour CSV, corners file or photo).
    values
        ``(24, 3)`` patch colours, any scale.

    Raises
    ------
    AnnotationError
        Non-finite values, all zero, or the brightest patch less than
        :data:`MIN_CONTRAST` times the darkest (by mean over the channels).

    Examples
    --------
    >>> check_patch_contrast("p.csv", np.zeros((24, 3)))
    Traceback (most recent call last):
    ...
    ccharmony.errors.AnnotationError: p.csv: the 24 patch colours are all zero; ...
    """
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (24, 3) or not np.all(np.isfinite(array)):
        raise AnnotationError(f"{where}: the {what} are not 24 finite (r, g, b) values")
    level = array.mean(axis=1)
    brightest, darkest = float(level.max()), float(level.min())
    if brightest <= 0:
        raise AnnotationError(f"{where}: the 24 {what} are all zero; they cannot come from a ColorChecker")
    if brightest < MIN_CONTRAST * max(darkest, 0.0):
        raise AnnotationError(
            f"{where}: the 24 {what} span too little contrast (brightest {brightest:.4g}, darkest {darkest:.4g}, "
            f"less than {MIN_CONTRAST:g}x apart); they cannot come from a ColorChecker (check the corners or colours)"
        )


def check_illuminant(where: object, illuminant: Any, *, source: str) -> np.ndarray:
    """
    Return an illuminant estimate as a float64 vector, refusing a non-finite or zero one.

    Parameters
    ----------
    where
        The file named in the message.
    illuminant
        ``(3,)`` estimate.
    source
        What it was estimated from, for the message (``"the chart's neutral patches"``).

    Raises
    ------
    AnnotationError
        NaN, infinite or zero: e.g. every neutral patch clipped or too dark.

    Examples
    --------
    >>> check_illuminant("IMG_1.dng", [np.nan] * 3, source="the chart's neutral patches")
    Traceback (most recent call last):
    ...
    ccharmony.errors.AnnotationError: IMG_1.dng: no illuminant can be estimated from the chart's neutral patches ...
    """
    vector = np.asarray(illuminant, dtype=np.float64).reshape(-1)
    if vector.shape != (3,) or not np.all(np.isfinite(vector)) or float(np.linalg.norm(vector)) == 0.0:
        raise AnnotationError(
            f"{where}: no illuminant can be estimated from {source} (every neutral patch is clipped, "
            "too dark or zero); the image is left out"
        )
    return vector
