"""
Colour differences of transferred colours
=========================================

Define the CIEDE2000 differences used to judge transfers:

-   :func:`srgb8_to_Lab`: 8-bit sRGB values to CIE L*a*b* (D65).
-   :func:`camera_RGB_to_Lab`: linear camera RGB to CIE L*a*b*.
-   :func:`delta_E_patches`: ΔE00 between two arrays in a transfer domain.

References
----------
-   :cite:`Sharma2005` : Sharma, G., Wu, W., & Dalal, E. N. (2005). The
    CIEDE2000 color-difference formula: Implementation notes, supplementary
    test data, and mathematical observations. Color Research & Application,
    30(1), 21-30. doi:10.1002/col.20070
-   :cite:`IEC61966-2-1` : IEC (1999). IEC 61966-2-1: Multimedia systems and
    equipment - Colour measurement and management - Part 2-1: Colour
    management - Default RGB colour space - sRGB.
"""

from __future__ import annotations

import colour
import numpy as np

from ccharmony._types import ArrayLike, NDArrayFloat
from ccharmony.errors import ConfigError
from ccharmony.transfer._methods import TransferDomain

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["srgb8_to_Lab", "camera_RGB_to_Lab", "delta_E_patches"]

_D65_xy = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
_SRGB = colour.RGB_COLOURSPACES["sRGB"]


def srgb8_to_Lab(RGB: ArrayLike) -> NDArrayFloat:
    """
    Convert 8-bit sRGB values to CIE L*a*b* (D65).

    Parameters
    ----------
    RGB
        ``(..., 3)`` sRGB values, [0, 255].

    Returns
    -------
    :class:`numpy.ndarray`
        ``(..., 3)`` float32 L*a*b*, L* in [0, 100].

    Notes
    -----
    Domain: [0, 255], the sRGB transfer function is decoded. Range: L* [0,
    100], a*, b* about [-128, 127].

    References
    ----------
    :cite:`IEC61966-2-1`

    Examples
    --------
    >>> np.round(srgb8_to_Lab(np.array([255.0, 255.0, 255.0])), 3).tolist()
    [100.0, 0.0, 0.0]
    """
    RGB_l = colour.cctf_decoding(np.asarray(RGB, dtype=np.float64) / 255.0, function="sRGB")
    XYZ = colour.algebra.vecmul(_SRGB.matrix_RGB_to_XYZ, RGB_l)
    Lab = colour.XYZ_to_Lab(XYZ, illuminant=_D65_xy)
    return np.asarray(Lab, dtype=np.float32)


def camera_RGB_to_Lab(
    RGB: ArrayLike, *, camera_matrix: ArrayLike | None = None, Y_white: float = 1.0
) -> NDArrayFloat:
    """
    Convert linear camera RGB to CIE L*a*b* (D65 white point) for ΔE.

    Parameters
    ----------
    RGB
        ``(..., 3)`` linear camera RGB.
    camera_matrix
        ``(3, 3)`` XYZ -> camera matrix (DNG ColorMatrix / LibRaw
        ``rgb_xyz_matrix``); ``None`` treats camera RGB as linear sRGB.
    Y_white
        Luminance that maps to L* = 100 (the scene white).

    Returns
    -------
    :class:`numpy.ndarray`
        ``(..., 3)`` float32 L*a*b*.

    Notes
    -----
    Domain: linear camera RGB, any positive scale. No white balance is
    applied, so colour casts stay in a*, b*; ΔE between two such colours is a
    difference measure, not a perceptual appearance model.
    """
    RGB_f = np.asarray(RGB, dtype=np.float64)
    if camera_matrix is None:
        XYZ = colour.algebra.vecmul(_SRGB.matrix_RGB_to_XYZ, RGB_f)
    else:
        XYZ = colour.algebra.vecmul(np.linalg.inv(np.asarray(camera_matrix, dtype=np.float64)), RGB_f)
    return colour.XYZ_to_Lab(XYZ / float(Y_white), illuminant=_D65_xy).astype(np.float32)


def delta_E_patches(
    RGB_a: ArrayLike,
    RGB_b: ArrayLike,
    *,
    domain: TransferDomain,
    camera_matrix: ArrayLike | None = None,
    Y_white: float | None = None,
) -> NDArrayFloat:
    """
    Return CIEDE2000 differences between two arrays of colours.

    Parameters
    ----------
    RGB_a, RGB_b
        ``(..., 3)`` colours in ``domain``.
    domain
        ``"srgb8"`` ([0, 255] sRGB values) or ``"linear"`` (camera RGB).
    camera_matrix
        For ``"linear"``: XYZ -> camera matrix, ``None`` treats camera RGB as
        linear sRGB.
    Y_white
        For ``"linear"``: luminance mapped to L* = 100; ``None`` uses the
        largest luminance in ``RGB_b`` (for a chart: its white patch), so the
        result does not depend on exposure.

    Returns
    -------
    :class:`numpy.ndarray`
        ``(...)`` float32 ΔE00; NaN where either colour is NaN.

    References
    ----------
    :cite:`Sharma2005`

    Examples
    --------
    >>> float(delta_E_patches([255.0, 0, 0], [255.0, 0, 0], domain="srgb8"))
    0.0
    """
    if domain == "srgb8":
        Lab_a, Lab_b = srgb8_to_Lab(RGB_a), srgb8_to_Lab(RGB_b)
    elif domain == "linear":
        if Y_white is None:
            if camera_matrix is None:
                M = _SRGB.matrix_RGB_to_XYZ
            else:
                M = np.linalg.inv(np.asarray(camera_matrix, dtype=np.float64))
            Y = colour.algebra.vecmul(M, np.asarray(RGB_b, dtype=np.float64))[..., 1]
            Y_white = float(np.nanmax(Y)) if np.any(np.isfinite(Y)) else 1.0
            Y_white = Y_white if Y_white > 0 else 1.0
        Lab_a = camera_RGB_to_Lab(RGB_a, camera_matrix=camera_matrix, Y_white=Y_white)
        Lab_b = camera_RGB_to_Lab(RGB_b, camera_matrix=camera_matrix, Y_white=Y_white)
    else:
        raise ConfigError(f"domain: expected 'srgb8' or 'linear', got {domain!r}")
    return np.asarray(colour.delta_E(Lab_a, Lab_b, method="CIE 2000"), dtype=np.float32)
