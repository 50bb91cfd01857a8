"""
Bayer mosaics
=============

Turn a Bayer colour-filter-array mosaic (camera RAW data or a single-channel
PNG/TIFF) into linear camera RGB, with the black level subtracted per CFA site:

-   :data:`CFA_PATTERNS`: the four 2x2 Bayer layouts, named by their top-left
    2x2 block read row by row (``"RGGB"``: R at (0, 0), B at (1, 1)).
-   :func:`site_black_levels`: a black level per CFA site from a scalar, an RGB
    triplet, four per-site values or a 2x2 array.
-   :func:`normalise_mosaic`: per-site black subtraction and scaling to [0, 1]
    of the white level.
-   :func:`demosaic_bilinear`: full-resolution bilinear demosaicing (OpenCV).
-   :func:`bin_2x2`: half-size RGB by 2x2 binning (the two greens averaged).
-   :func:`develop_mosaic`: the dispatcher the readers call.

Both paths work on integer mosaics (uint8 / uint16) and produce float32 only:
no float64 temporaries. Demosaicing runs on the integer data, which is exact
because bilinear interpolation is linear with weights summing to one: where
the per-site black levels differ, each site is first shifted (saturating
integer add) to the largest black level, and that common level is subtracted
afterwards. An odd last row or column is dropped so the CFA tiles evenly.

References
----------
:cite:`Bayer1976` : B. E. Bayer, *Color imaging array*, US Patent 3,971,065, 1976.
:cite:`OpenCVDemosaicing` : OpenCV, ``cv::cvtColor`` Bayer conversions
    (``COLOR_BayerBG2RGB`` ...), whose names give the second row's second and
    third pixels, so an RGGB mosaic uses ``COLOR_BayerBG2RGB``.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from numpy.typing import ArrayLike

from ccharmony._types import NDArrayBool, NDArrayFloat
from ccharmony.errors import ConfigError, UnsupportedFormatError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "CFA_PATTERNS",
    "CFAPattern",
    "OPENCV_BAYER_CODES",
    "cfa_channel_indices",
    "site_black_levels",
    "crop_even",
    "normalise_mosaic",
    "demosaic_bilinear",
    "bin_2x2",
    "develop_mosaic",
]

CFAPattern = Literal["RGGB", "BGGR", "GRBG", "GBRG"]
CFA_PATTERNS: tuple[str, ...] = ("RGGB", "BGGR", "GRBG", "GBRG")
"""The four Bayer layouts, named by the top-left 2x2 block read row by row."""

OPENCV_BAYER_CODES: dict[str, int] = {
    "RGGB": cv2.COLOR_BayerBG2RGB,
    "BGGR": cv2.COLOR_BayerRG2RGB,
    "GRBG": cv2.COLOR_BayerGB2RGB,
    "GBRG": cv2.COLOR_BayerGR2RGB,
}
"""CFA pattern -> OpenCV conversion code. OpenCV names a pattern by the pixels at
(1, 1) and (1, 2), so its names are offset from the usual ones (checked by the
tests on pure red, green and blue fields)."""

_CHANNEL = {"R": 0, "G": 1, "B": 2}

NDArray2x2 = np.ndarray
"""A small ``(2, 2)`` array: one value per site of the CFA block."""


def _check_pattern(cfa: str) -> str:
    pattern = str(cfa).upper()
    if pattern not in CFA_PATTERNS:
        raise ConfigError(f"cfa must be one of {', '.join(CFA_PATTERNS)}, got {cfa!r}")
    return pattern


def cfa_channel_indices(cfa: str) -> NDArray2x2:
    """
    Return the RGB channel index (0, 1, 2) of each site of the 2x2 CFA block.

    Examples
    --------
    >>> cfa_channel_indices("GBRG").tolist()
    [[1, 2], [0, 1]]
    """
    pattern = _check_pattern(cfa)
    return np.array([_CHANNEL[c] for c in pattern]).reshape(2, 2)


def site_black_levels(black_level: ArrayLike, cfa: str) -> NDArray2x2:
    """
    Expand a black level into one value per site of the 2x2 CFA block.

    Parameters
    ----------
    black_level
        A scalar (every site), three values (R, G, B), four values (the sites in
        row-major order of the 2x2 block) or a 2x2 array, in digital numbers.
    cfa
        One of :data:`CFA_PATTERNS`.

    Returns
    -------
    numpy.ndarray
        float64 ``(2, 2)`` black level per site (four numbers; never image-sized).

    Raises
    ------
    ConfigError
        For another shape, a negative or a non-finite value.

    Examples
    --------
    >>> site_black_levels([10, 20, 30], "RGGB").tolist()
    [[10.0, 20.0], [20.0, 30.0]]
    >>> site_black_levels(512, "BGGR").tolist()
    [[512.0, 512.0], [512.0, 512.0]]
    """
    pattern = _check_pattern(cfa)
    values = np.asarray(black_level, dtype=np.float64)
    if values.size == 1:
        sites = np.full((2, 2), float(values.reshape(-1)[0]))
    elif values.size == 3:
        sites = values.reshape(3)[cfa_channel_indices(pattern)]
    elif values.size == 4:
        sites = values.reshape(2, 2).copy()
    else:
        raise ConfigError(
            f"black_level must be a scalar, 3 (R, G, B) or 4 (per CFA site) values, got shape {values.shape}"
        )
    if not np.all(np.isfinite(sites)) or np.any(sites < 0):
        raise ConfigError(f"black_level must be finite and >= 0, got {sites.ravel().tolist()}")
    return sites


def crop_even(mosaic: np.ndarray) -> np.ndarray:
    """
    Drop an odd last row and/or column so that the 2x2 CFA tiles evenly (a view).

    Examples
    --------
    >>> crop_even(np.zeros((5, 7))).shape
    (4, 6)
    """
    height, width = mosaic.shape[:2]
    return mosaic[: height - height % 2, : width - width % 2]


def _check_mosaic(mosaic: np.ndarray) -> np.ndarray:
    array = np.asarray(mosaic)
    if array.ndim != 2:
        raise UnsupportedFormatError(f"a Bayer mosaic must be a single-channel (H, W) array, got shape {array.shape}")
    if array.dtype not in (np.uint8, np.uint16):
        raise UnsupportedFormatError(f"a Bayer mosaic must hold 8- or 16-bit integers, got {array.dtype}")
    array = crop_even(array)
    if array.shape[0] < 2 or array.shape[1] < 2:
        raise UnsupportedFormatError(f"a Bayer mosaic must be at least 2x2 pixels, got {mosaic.shape}")
    return array


def _check_white(white_level: float, sites: np.ndarray) -> float:
    white = float(white_level)
    if not np.isfinite(white) or white <= float(sites.max()):
        raise ConfigError(
            f"white_level must be finite and above the black level {float(sites.max()):g}, got {white_level!r}"
        )
    return white


def normalise_mosaic(
    mosaic: np.ndarray, *, cfa: str, black_level: ArrayLike, white_level: float
) -> NDArrayFloat:
    """
    Subtract the black level per CFA site and scale to [0, 1] of the white level.

    Parameters
    ----------
    mosaic
        ``(H, W)`` uint8 / uint16 Bayer mosaic.
    cfa
        One of :data:`CFA_PATTERNS`.
    black_level
        See :func:`site_black_levels`.
    white_level
        Saturation level in digital numbers.

    Returns
    -------
    numpy.ndarray
        float32 ``(H, W)`` (odd last row / column dropped):
        ``(mosaic - black_site) / (white_level - black_site)``.

    Notes
    -----
    Domain: ``mosaic`` digital numbers [0, 2**16).
    Range: [0, 1] of the white level; values below 0 (noise under the black
    level) and above 1 are kept.

    Examples
    --------
    >>> m = np.array([[110, 220], [220, 330]], np.uint16)
    >>> out = normalise_mosaic(m, cfa="RGGB", black_level=[10, 20, 30], white_level=1010)
    >>> out.dtype, out.round(4).tolist()
    (dtype('float32'), [[0.1, 0.202], [0.202, 0.3061]])
    """
    array = _check_mosaic(mosaic)
    sites = site_black_levels(black_level, cfa)
    white = _check_white(white_level, sites)
    out = np.empty(array.shape, np.float32)
    for row in (0, 1):
        for column in (0, 1):
            view = out[row::2, column::2]
            black = sites[row, column]
            np.subtract(array[row::2, column::2], np.float32(black), out=view, dtype=np.float32)
            view *= np.float32(1.0 / (white - black))
    return out


def _clipped_sites(array: np.ndarray, white: float) -> NDArrayBool:
    return array >= white


def demosaic_bilinear(
    mosaic: np.ndarray, *, cfa: str, black_level: ArrayLike, white_level: float
) -> tuple[NDArrayFloat, NDArrayBool]:
    """
    Demosaic a Bayer mosaic at full resolution with bilinear interpolation.

    Parameters
    ----------
    mosaic
        ``(H, W)`` uint8 / uint16 Bayer mosaic.
    cfa
        One of :data:`CFA_PATTERNS`.
    black_level
        See :func:`site_black_levels`.
    white_level
        Saturation level in digital numbers.

    Returns
    -------
    RGB : numpy.ndarray
        float32 ``(H, W, 3)`` linear camera RGB, black subtracted, divided by
        (white level - black level of the channel), not white balanced.
    clipped : numpy.ndarray
        bool ``(H, W)``: True where a site at or above the white level lies in
        the pixel's 3x3 neighbourhood (every output pixel whose interpolation
        reads a clipped site).

    Notes
    -----
    Domain: ``mosaic`` digital numbers.
    Range: ``RGB`` [0, 1] of the white level; values slightly below 0 are kept.
    OpenCV's bilinear Bayer conversion rounds to integers (at most 0.5 DN).

    References
    ----------
    :cite:`Bayer1976`, :cite:`OpenCVDemosaicing`

    Examples
    --------
    >>> red = np.zeros((4, 4), np.uint16); red[0::2, 0::2] = 1000
    >>> RGB, clipped = demosaic_bilinear(red, cfa="RGGB", black_level=0, white_level=1000)
    >>> RGB[1, 1].tolist(), bool(clipped.all())
    ([1.0, 0.0, 0.0], True)
    """
    array = _check_mosaic(mosaic)
    pattern = _check_pattern(cfa)
    sites = site_black_levels(black_level, pattern)
    white = _check_white(white_level, sites)
    channels = cfa_channel_indices(pattern)
    if np.all(sites == sites[0, 0]):
        shifted = array
        effective = sites
    else:
        # Shift each site up to the largest black level so that one common
        # level can be subtracted after the (linear) interpolation.
        target = float(sites.max())
        shifted = array.copy()
        effective = sites.copy()
        for row in (0, 1):
            for column in (0, 1):
                offset = int(round(target - sites[row, column]))
                if offset:
                    view = shifted[row::2, column::2]
                    limit = np.iinfo(array.dtype).max - offset
                    np.minimum(view, limit, out=view)
                    view += np.asarray(offset, dtype=array.dtype)
                effective[row, column] = sites[row, column] + offset
    RGB16 = cv2.cvtColor(np.ascontiguousarray(shifted), OPENCV_BAYER_CODES[pattern])
    offset_rgb = [float(effective[channels == c].mean()) for c in range(3)]
    black_rgb = [float(sites[channels == c].mean()) for c in range(3)]
    scale_rgb = [1.0 / (white - b) for b in black_rgb]
    # OpenCV takes a 4-tuple as a per-channel scalar (its stubs do not say so)
    RGB = cv2.subtract(RGB16, (*offset_rgb, 0.0), dtype=cv2.CV_32F)  # type: ignore[call-overload]
    cv2.multiply(RGB, (*scale_rgb, 0.0), dst=RGB)  # type: ignore[call-overload]
    clipped_sites = _clipped_sites(array, white)
    clipped = cv2.dilate(clipped_sites.view(np.uint8), np.ones((3, 3), np.uint8)).view(np.bool_)
    return RGB, clipped


def bin_2x2(
    mosaic: np.ndarray, *, cfa: str, black_level: ArrayLike, white_level: float
) -> tuple[NDArrayFloat, NDArrayBool]:
    """
    Make a half-size RGB image by 2x2 binning: one RGB pixel per CFA block.

    Parameters
    ----------
    mosaic
        ``(H, W)`` uint8 / uint16 Bayer mosaic.
    cfa
        One of :data:`CFA_PATTERNS`.
    black_level
        See :func:`site_black_levels`.
    white_level
        Saturation level in digital numbers.

    Returns
    -------
    RGB : numpy.ndarray
        float32 ``(H // 2, W // 2, 3)``: R and B from their sites, G the mean of
        the two green sites, each black-subtracted per site and normalised.
    clipped : numpy.ndarray
        bool ``(H // 2, W // 2)``: True where any of the four sites is at or
        above the white level.

    Notes
    -----
    Domain: ``mosaic`` digital numbers.
    Range: ``RGB`` [0, 1] of the white level; values slightly below 0 are kept.

    Examples
    --------
    >>> m = np.array([[1000, 300], [500, 64]], np.uint16)
    >>> RGB, clipped = bin_2x2(m, cfa="RGGB", black_level=0, white_level=1000)
    >>> RGB[0, 0].round(4).tolist(), bool(clipped[0, 0])
    ([1.0, 0.4, 0.064], True)
    """
    array = _check_mosaic(mosaic)
    pattern = _check_pattern(cfa)
    sites = site_black_levels(black_level, pattern)
    white = _check_white(white_level, sites)
    channels = cfa_channel_indices(pattern)
    height, width = array.shape[0] // 2, array.shape[1] // 2
    RGB = np.zeros((height, width, 3), np.float32)
    clipped = np.zeros((height, width), np.bool_)
    count = np.zeros(3)
    for row in (0, 1):
        for column in (0, 1):
            channel = int(channels[row, column])
            site = array[row::2, column::2]
            black = sites[row, column]
            values = np.subtract(site, np.float32(black), dtype=np.float32)
            values *= np.float32(1.0 / (white - black))
            RGB[:, :, channel] += values
            count[channel] += 1
            clipped |= site >= white
    green = RGB[:, :, 1]
    green *= np.float32(1.0 / count[1])
    return RGB, clipped


def develop_mosaic(
    mosaic: np.ndarray,
    *,
    cfa: str,
    black_level: ArrayLike,
    white_level: float,
    half_size: bool = False,
) -> tuple[NDArrayFloat, NDArrayBool]:
    """
    Turn a Bayer mosaic into linear camera RGB and a clipped mask.

    Dispatches to :func:`bin_2x2` (``half_size=True``) or
    :func:`demosaic_bilinear`; see those for the parameters, scales and the
    definition of the clipped mask.

    Examples
    --------
    >>> m = np.full((4, 6), 100, np.uint16)
    >>> develop_mosaic(m, cfa="GBRG", black_level=0, white_level=1000, half_size=True)[0].shape
    (2, 3, 3)
    """
    method = bin_2x2 if half_size else demosaic_bilinear
    return method(mosaic, cfa=cfa, black_level=black_level, white_level=white_level)
