"""
Rendered sRGB images
====================

Read 8/16-bit sRGB JPEG / PNG / TIFF images:

-   :func:`rendered_from_pixels`: decoded sRGB pixels -> :class:`LinearImage`
    (linearised with the sRGB decoding CCTF, flagged ``rendered``).
-   :func:`srgb_decoding_lut`: the lookup table used for that, computed once per
    bit depth with :func:`colour.cctf_decoding`.
-   :func:`read_srgb8`: an 8-bit RGB array, upright (EXIF orientation applied),
    for masks, real images and composites.

A rendered image is not camera RGB: its "linear" values are linear sRGB after
the camera's white balance, colour matrix and tone curve. The metadata flag
``source_kind == "rendered"`` lets later stages treat it accordingly.

References
----------
:cite:`IEC61966-2-1` : IEC 61966-2-1:1999, *Multimedia systems and equipment -
    Colour measurement and management - Part 2-1: Colour management - Default
    RGB colour space - sRGB*, 1999.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from ccharmony._types import NDArrayFloat, NDArrayUInt8, PathType
from ccharmony.errors import UnsupportedFormatError
from ccharmony.io.image import ImageMetadata, LinearImage
from ccharmony.io.limits import DEFAULT_MAX_PIXELS
from ccharmony.io.linear import channel_max

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["srgb_decoding_lut", "rendered_from_pixels", "read_srgb8"]


@functools.lru_cache(maxsize=2)
def srgb_decoding_lut(bit_depth: int) -> NDArrayFloat:
    """
    Return the sRGB decoding CCTF tabulated for every code value of a bit depth.

    Parameters
    ----------
    bit_depth
        8 or 16.

    Returns
    -------
    numpy.ndarray
        float32 ``(2**bit_depth,)``: ``colour.cctf_decoding(v / (2**bit_depth - 1), "sRGB")``
        (read-only; cached).

    Notes
    -----
    Domain: code values [0, 2**bit_depth - 1].
    Range: linear sRGB [0, 1].

    References
    ----------
    :cite:`IEC61966-2-1`

    Examples
    --------
    >>> lut = srgb_decoding_lut(8)
    >>> float(lut[0]), round(float(lut[128]), 6), float(lut[255])
    (0.0, 0.215861, 1.0)
    """
    import colour

    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    top = 2**bit_depth - 1
    codes = np.arange(top + 1, dtype=np.float64) / top
    lut = np.asarray(colour.cctf_decoding(codes, "sRGB"), dtype=np.float32)
    lut.setflags(write=False)
    return lut


def rendered_from_pixels(
    pixels: np.ndarray,
    *,
    path: PathType,
    orientation: int = 1,
    make: str = "",
    model: str = "",
) -> LinearImage:
    """
    Linearise decoded sRGB pixels into a :class:`LinearImage`.

    Parameters
    ----------
    pixels
        uint8 / uint16 ``(H, W, 3)`` sRGB, or ``(H, W)`` grey (repeated to 3
        channels), already upright.
    path
        The source file, for the metadata.
    orientation
        EXIF orientation that was applied.
    make, model
        From EXIF.

    Returns
    -------
    LinearImage
        ``RGB`` linear sRGB float32 [0, 1]; ``clipped`` where any channel is at
        the container's maximum (255 or 65535); ``source_kind`` ``"rendered"``.

    Notes
    -----
    Domain: ``pixels`` sRGB code values.
    Range: ``RGB`` linear sRGB [0, 1] (not camera RGB).

    References
    ----------
    :cite:`IEC61966-2-1`

    Examples
    --------
    >>> image = rendered_from_pixels(np.full((1, 2, 3), 255, np.uint8), path="white.png")
    >>> image.RGB[0, 0].tolist(), bool(image.clipped.all()), image.metadata.source_kind
    ([1.0, 1.0, 1.0], True, 'rendered')
    """
    if pixels.dtype == np.uint8:
        bit_depth = 8
    elif pixels.dtype == np.uint16:
        bit_depth = 16
    else:
        raise UnsupportedFormatError(f"{path}: rendered sRGB must be 8- or 16-bit, got {pixels.dtype} samples")
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise UnsupportedFormatError(f"{path}: rendered sRGB needs 1 or 3 channels, got shape {pixels.shape}")
    top = 2**bit_depth - 1
    lut = srgb_decoding_lut(bit_depth)
    RGB: NDArrayFloat = np.asarray(cv2.LUT(np.ascontiguousarray(pixels), lut) if bit_depth == 8 else lut[pixels])
    clipped = channel_max(pixels) == top
    metadata = ImageMetadata(
        path=str(path),
        source_kind="rendered",
        make=make,
        model=model,
        black_level=(0.0, 0.0, 0.0),
        white_level=float(top),
        orientation=orientation,
        original_size=(int(pixels.shape[0]), int(pixels.shape[1])),
        extra={"bit_depth": bit_depth, "transfer_function": "sRGB (IEC 61966-2-1) decoded"},
    )
    return LinearImage(RGB=RGB, clipped=clipped, metadata=metadata)


def read_srgb8(path: PathType, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> NDArrayUInt8:
    """
    Read an 8-bit sRGB image as an upright RGB array.

    Parameters
    ----------
    path
        A JPEG, PNG or TIFF file (content decides, not the extension); only a
        regular file is read.
    max_pixels
        Largest image decoded, checked on the header first (:mod:`ccharmony.io.limits`).

    Returns
    -------
    numpy.ndarray
        uint8 ``(H, W, 3)`` RGB with the EXIF orientation applied; grey images
        are repeated to 3 channels, 16-bit ones rounded to 8 bits, alpha dropped.

    Raises
    ------
    UnreadableImageError
        Missing, empty, truncated or corrupt file, or not a regular file (the
        message names it).
    ImageTooLargeError
        A header above ``max_pixels``.
    UnsupportedFormatError
        Content that is not a JPEG, PNG or TIFF (a camera RAW, for instance).
    """
    from ccharmony.io.encode import decode_image, read_file_bytes
    from ccharmony.io.exif import apply_orientation, read_exif
    from ccharmony.io.sniff import sniff_container

    data = read_file_bytes(path)
    rgb = decode_image(data, name=str(path), max_pixels=max_pixels)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    orientation = read_exif(data, sniff_container(data[:64])).orientation
    return apply_orientation(rgb, orientation)
