"""
Illuminant
==========

Define the estimation of the scene illuminant in camera RGB and its error:

-   :func:`illuminant_from_patches`: from a chart's achromatic patches.
-   :func:`angular_error`: the angle between two illuminants, in degrees.
-   :data:`ILLUMINANT_METHODS` and :func:`estimate_illuminant`: the classic
    image-based estimators, for comparison:
    :func:`illuminant_grey_world_Buchsbaum1980`,
    :func:`illuminant_white_patch_Land1977`,
    :func:`illuminant_shades_of_grey_Finlayson2004`,
    :func:`illuminant_grey_edge_vandeWeijer2007`.

References
----------
:cite:`Buchsbaum1980` : Buchsbaum, G. (1980). A spatial processor model for
    object colour perception. Journal of the Franklin Institute, 310(1), 1-26.
    doi:10.1016/0016-0032(80)90058-7
:cite:`Land1977` : Land, E. H. (1977). The retinex theory of color vision.
    Scientific American, 237(6), 108-128. doi:10.1038/scientificamerican1277-108
:cite:`Finlayson2004` : Finlayson, G. D., & Trezzi, E. (2004). Shades of gray
    and colour constancy. Color and Imaging Conference, 12, 37-41.
    doi:10.2352/CIC.2004.12.1.art00008
:cite:`vandeWeijer2007` : van de Weijer, J., Gevers, T., & Gijsenij, A.
    (2007). Edge-based color constancy. IEEE Transactions on Image Processing,
    16(9), 2207-2214. doi:10.1109/TIP.2007.901808
:cite:`Gehler2008` : Gehler, P. V., Rother, C., Blake, A., Minka, T., & Sharp,
    T. (2008). Bayesian color constancy revisited. CVPR 2008.
    doi:10.1109/CVPR.2008.4587765
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from numpy.typing import ArrayLike

from ccharmony._types import NDArrayFloat
from ccharmony.checker.records import Patches
from ccharmony.errors import ConfigError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "ACHROMATIC_PATCHES",
    "illuminant_from_patches",
    "angular_error",
    "illuminant_grey_world_Buchsbaum1980",
    "illuminant_white_patch_Land1977",
    "illuminant_shades_of_grey_Finlayson2004",
    "illuminant_grey_edge_vandeWeijer2007",
    "ILLUMINANT_METHODS",
    "estimate_illuminant",
]

ACHROMATIC_PATCHES = (18, 19, 20, 21, 22, 23)
"""Code indices of white, the four greys and black."""


def _unit(vector: np.ndarray) -> NDArrayFloat:
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm <= 0:
        return np.full(3, np.nan, np.float32)
    return (vector / norm).astype(np.float32)


def illuminant_from_patches(patches: Patches, *, dark_threshold: float = 0.02) -> NDArrayFloat:
    """
    Estimate the illuminant from the achromatic patches of a sampled chart.

    Parameters
    ----------
    patches
        The sampled chart.
    dark_threshold
        Patches whose brightest channel is below this (fraction of the white
        level) are too noisy and are skipped.

    Returns
    -------
    NDArray
        ``(3,)`` float32 camera-RGB unit vector: the normalised sum of the
        usable achromatic patches (so brighter patches weigh more); NaN when
        none is usable (all clipped or too dark).

    Notes
    -----
    Domain: ``patches.RGB`` linear camera RGB, [0, 1] of white level.
    Range: unit vector (L2 norm 1).

    References
    ----------
    :cite:`Gehler2008`

    Examples
    --------
    >>> RGB = np.zeros((24, 3), np.float32)
    >>> RGB[18:] = np.array([0.2, 0.4, 0.3]) * np.linspace(1, 0.05, 6)[:, None]
    >>> patches = Patches(RGB, np.zeros(24, bool), np.zeros((24, 3), np.float32))
    >>> illuminant_from_patches(patches).round(4).tolist()
    [0.3714, 0.7428, 0.5571]
    """
    RGB = np.asarray(patches.RGB, np.float64)
    clipped = np.asarray(patches.clipped, bool)
    indices = [i for i in ACHROMATIC_PATCHES
               if not clipped[i] and np.all(np.isfinite(RGB[i])) and RGB[i].max() >= dark_threshold]
    if not indices:
        return np.full(3, np.nan, np.float32)
    return _unit(RGB[indices].sum(axis=0))


def angular_error(a: ArrayLike, b: ArrayLike) -> NDArrayFloat:
    """
    Return the angle between illuminants ``a`` and ``b`` in degrees.

    Parameters
    ----------
    a, b
        ``(..., 3)`` RGB vectors (any length); broadcast against each other.

    Returns
    -------
    NDArray
        ``(...)`` float64 angles in degrees, [0, 180]; NaN where a vector is
        zero or not finite.

    Notes
    -----
    Domain: any RGB vectors. Range: degrees.

    Examples
    --------
    >>> float(angular_error([1, 0, 0], [1, 1, 0]))
    45.0
    >>> angular_error([[1, 1, 1], [0, 0, 1]], [1, 1, 1]).round(4).tolist()
    [0.0, 54.7356]
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    dot = np.sum(a * b, axis=-1)
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.where(norms > 0, dot / np.where(norms > 0, norms, 1.0), np.nan)
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def _pixels(RGB: ArrayLike, mask: ArrayLike | None) -> np.ndarray:
    RGB = np.asarray(RGB, np.float64)
    if RGB.ndim != 3 or RGB.shape[2] != 3:
        raise ValueError(f"RGB must have shape (H, W, 3), got {RGB.shape}")
    if mask is None:
        return RGB.reshape(-1, 3)
    mask = np.asarray(mask, bool)
    if mask.shape != RGB.shape[:2]:
        raise ValueError(f"mask must have shape {RGB.shape[:2]}, got {mask.shape}")
    return RGB[mask]


def illuminant_shades_of_grey_Finlayson2004(RGB: ArrayLike, *, mask: ArrayLike | None = None,
                                           p: float = 6.0) -> NDArrayFloat:
    """
    Estimate the illuminant as the Minkowski p-norm mean of the image.

    Parameters
    ----------
    RGB
        ``(H, W, 3)`` linear camera RGB.
    mask
        ``(H, W)`` bool, True where pixels are used (e.g. outside the chart).
    p
        Minkowski norm; 1 is grey world, infinity is white patch.

    Returns
    -------
    NDArray
        ``(3,)`` float32 unit vector.

    Notes
    -----
    Domain: linear camera RGB. Range: unit vector.

    References
    ----------
    :cite:`Finlayson2004`

    Examples
    --------
    >>> RGB = np.ones((2, 2, 3), np.float32) * [0.2, 0.4, 0.4]
    >>> illuminant_shades_of_grey_Finlayson2004(RGB).round(4).tolist()
    [0.3333, 0.6667, 0.6667]
    """
    pixels = np.maximum(_pixels(RGB, mask), 0.0)
    if np.isinf(p):
        return _unit(pixels.max(axis=0))
    return _unit(np.mean(pixels**p, axis=0) ** (1.0 / p))


def illuminant_grey_world_Buchsbaum1980(RGB: ArrayLike, *, mask: ArrayLike | None = None) -> NDArrayFloat:
    """
    Estimate the illuminant as the mean of the image (grey world).

    Parameters
    ----------
    RGB
        ``(H, W, 3)`` linear camera RGB.
    mask
        ``(H, W)`` bool, True where pixels are used.

    Returns
    -------
    NDArray
        ``(3,)`` float32 unit vector.

    Notes
    -----
    Domain: linear camera RGB. Range: unit vector.

    References
    ----------
    :cite:`Buchsbaum1980`

    Examples
    --------
    >>> illuminant_grey_world_Buchsbaum1980(np.ones((2, 2, 3)) * [1, 2, 2]).round(4).tolist()
    [0.3333, 0.6667, 0.6667]
    """
    return _unit(np.maximum(_pixels(RGB, mask), 0.0).mean(axis=0))


def illuminant_white_patch_Land1977(RGB: ArrayLike, *, mask: ArrayLike | None = None,
                                   percentile: float = 99.0,
                                   clip_level: float = 0.98) -> NDArrayFloat:
    """
    Estimate the illuminant as the per-channel maximum (white patch / max-RGB).

    Parameters
    ----------
    RGB
        ``(H, W, 3)`` linear camera RGB.
    mask
        ``(H, W)`` bool, True where pixels are used.
    percentile
        Per-channel percentile used instead of the raw maximum (robust to
        hot pixels); 100 is the maximum.
    clip_level
        Pixels with any channel at or above this level are ignored.

    Returns
    -------
    NDArray
        ``(3,)`` float32 unit vector.

    Notes
    -----
    Domain: linear camera RGB, [0, 1] of white level. Range: unit vector.

    References
    ----------
    :cite:`Land1977`

    Examples
    --------
    >>> RGB = np.zeros((10, 10, 3)); RGB[0, 0] = [0.3, 0.6, 0.6]
    >>> illuminant_white_patch_Land1977(RGB, percentile=100).round(4).tolist()
    [0.3333, 0.6667, 0.6667]
    """
    pixels = _pixels(RGB, mask)
    pixels = pixels[np.all(pixels < clip_level, axis=1)]
    if len(pixels) == 0:
        return np.full(3, np.nan, np.float32)
    return _unit(np.percentile(pixels, percentile, axis=0))


def illuminant_grey_edge_vandeWeijer2007(RGB: ArrayLike, *, mask: ArrayLike | None = None,
                                         p: float = 6.0, sigma: float = 1.0) -> NDArrayFloat:
    """
    Estimate the illuminant as the Minkowski p-norm of first-order edges (grey edge).

    Parameters
    ----------
    RGB
        ``(H, W, 3)`` linear camera RGB.
    mask
        ``(H, W)`` bool, True where pixels are used.
    p
        Minkowski norm.
    sigma
        Gaussian pre-smoothing in pixels.

    Returns
    -------
    NDArray
        ``(3,)`` float32 unit vector.

    Notes
    -----
    Domain: linear camera RGB. Range: unit vector.

    References
    ----------
    :cite:`vandeWeijer2007`

    Examples
    --------
    >>> RGB = np.zeros((20, 20, 3), np.float32); RGB[:, 10:] = [0.1, 0.2, 0.2]
    >>> illuminant_grey_edge_vandeWeijer2007(RGB).round(4).tolist()
    [0.3333, 0.6667, 0.6667]
    """
    image: np.ndarray = np.asarray(RGB, np.float32)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"RGB must have shape (H, W, 3), got {image.shape}")
    if sigma > 0:
        image = np.asarray(cv2.GaussianBlur(image, (0, 0), sigma))
    dx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3)
    dy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.sqrt(dx**2 + dy**2)
    pixels = _pixels(magnitude, mask)
    return _unit(np.mean(pixels.astype(np.float64) ** p, axis=0) ** (1.0 / p))


ILLUMINANT_METHODS: dict[str, Callable[..., NDArrayFloat]] = {
    "grey-world": illuminant_grey_world_Buchsbaum1980,
    "white-patch": illuminant_white_patch_Land1977,
    "shades-of-grey": illuminant_shades_of_grey_Finlayson2004,
    "grey-edge": illuminant_grey_edge_vandeWeijer2007,
}
"""Image-based illuminant estimators: name -> function(RGB, *, mask, **options)."""


def estimate_illuminant(RGB: ArrayLike, *, method: str = "grey-world",
                        mask: ArrayLike | None = None, **options: Any) -> NDArrayFloat:
    """
    Estimate the illuminant of an image with a classic image-based method.

    Parameters
    ----------
    RGB
        ``(H, W, 3)`` linear camera RGB.
    method
        A key of :data:`ILLUMINANT_METHODS`.
    mask
        ``(H, W)`` bool, True where pixels are used (pass the complement of
        :func:`ccharmony.checker.sample.checker_mask` to mask the chart out).
    **options
        Passed to the method (``p``, ``sigma``, ``percentile``).

    Returns
    -------
    NDArray
        ``(3,)`` float32 camera-RGB unit vector.

    Raises
    ------
    ConfigError
        If ``method`` is unknown.

    Notes
    -----
    Domain: linear camera RGB, [0, 1] of white level. Range: unit vector.

    References
    ----------
    :cite:`Buchsbaum1980`, :cite:`Land1977`, :cite:`Finlayson2004`,
    :cite:`vandeWeijer2007`

    Examples
    --------
    >>> estimate_illuminant(np.ones((2, 2, 3)) * [1, 2, 2], method="shades-of-grey").round(4).tolist()
    [0.3333, 0.6667, 0.6667]
    """
    if method not in ILLUMINANT_METHODS:
        raise ConfigError(f"illuminant method {method!r} is unknown; use one of {sorted(ILLUMINANT_METHODS)}")
    return ILLUMINANT_METHODS[method](RGB, mask=mask, **options)
