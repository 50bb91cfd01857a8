"""
Evaluation metrics
==================

Define the per-image evaluation metrics of image harmonization, computed on
0..255 values at the evaluation size (256x256 in the field):

-   :func:`mse_image`: mean squared error over every pixel and channel.
-   :func:`fmse_image`: foreground MSE, :cite:`Sofiiuk2021` convention.
-   :func:`psnr_image`, :func:`fpsnr_image`: peak signal-to-noise ratios.
-   :func:`ssim_image`, :func:`fssim_image`: structural similarity
    :cite:`Wang2004` over the image and over the foreground.
-   :func:`score_image`: every metric above for one image, as a dict.
-   :func:`foreground_ratio_group`: the foreground-ratio bin of the field.
-   :data:`METRIC_NAMES`, :data:`FOREGROUND_RATIO_GROUPS`, :data:`PSNR_PEAKS`.

These are the metrics of the ``ours`` protocol (the first ``ccharmony
benchmark``); the peers' evaluations, and the default ``bcmi`` protocol, are in
:mod:`ccharmony.harmonization.protocols`. Conventions (named in every report):

-   ``MSE = mean((pred - real)^2)`` over ``H x W x 3``.
-   ``fMSE = sum(mask * (pred - real)^2) / (3 * sum(mask))``: the squared error
    is summed over the three channels and the foreground pixels, then divided
    by three times the foreground area, i.e. the per-channel mean over the
    foreground (iSSAM's ``fMSE``).
-   ``PSNR = 10 log10(peak^2 / MSE)`` with ``peak = 255`` by default
    (``"255"``); ``"max-real"`` uses the maximum of the real image, as iSSAM's
    evaluation script does. ``fPSNR`` uses ``fMSE`` in place of ``MSE``. An
    error below ``1e-10`` is clamped there, so identical images give a large
    finite value instead of infinity.
-   ``SSIM``: :func:`skimage.metrics.structural_similarity` with
    ``channel_axis=-1``, ``data_range=255``, ``gaussian_weights=True``,
    ``sigma=1.5`` and ``use_sample_covariance=False`` (the settings of
    :cite:`Wang2004`), which averages the SSIM map without a 5-pixel border;
    ``fSSIM`` is the mean of the SSIM map (averaged over channels) over every
    foreground pixel, border included.

References
----------
-   :cite:`Sofiiuk2021` : Sofiiuk, K., Popenova, P., & Konushin, A. (2021).
    Foreground-aware Semantic Representations for Image Harmonization. WACV
    2021, 1620-1629. doi:10.1109/WACV48630.2021.00166
-   :cite:`Wang2004` : Wang, Z., Bovik, A. C., Sheikh, H. R., & Simoncelli,
    E. P. (2004). Image quality assessment: from error visibility to
    structural similarity. IEEE Transactions on Image Processing, 13(4),
    600-612. doi:10.1109/TIP.2003.819861
-   :cite:`Cong2020` : Cong, W., Zhang, J., Niu, L., Liu, L., Ling, Z., Li, W.,
    & Zhang, L. (2020). DoveNet: Deep Image Harmonization via Domain
    Verification. CVPR 2020, 8394-8403. doi:10.1109/CVPR42600.2020.00842
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from skimage.metrics import structural_similarity

from ccharmony._types import ArrayLike
from ccharmony.errors import ConfigError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "METRIC_NAMES",
    "PSNR_PEAKS",
    "FOREGROUND_RATIO_GROUPS",
    "mse_image",
    "fmse_image",
    "psnr_image",
    "fpsnr_image",
    "ssim_image",
    "fssim_image",
    "score_image",
    "foreground_ratio",
    "foreground_ratio_group",
]

METRIC_NAMES: tuple[str, ...] = ("MSE", "fMSE", "PSNR", "fPSNR", "SSIM", "fSSIM")
"""Metric names in report order."""

PSNR_PEAKS: tuple[str, ...] = ("255", "max-real")
"""Accepted PSNR peak conventions: the 8-bit peak or the maximum of the real image."""

FOREGROUND_RATIO_GROUPS: tuple[tuple[str, float, float], ...] = (
    ("0-5%", 0.0, 0.05),
    ("5-15%", 0.05, 0.15),
    ("15-100%", 0.15, 1.0),
)
"""Foreground-ratio bins ``(label, low, high)`` of :cite:`Cong2020`; a ratio
``r`` falls in the bin with ``low <= r < high`` (the last bin includes 1)."""

_MIN_ERROR = 1e-10


def _as_pair(pred: ArrayLike, real: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    pred_a = np.asarray(pred, dtype=np.float64)
    real_a = np.asarray(real, dtype=np.float64)
    if pred_a.shape != real_a.shape or pred_a.ndim != 3 or pred_a.shape[2] != 3:
        raise ConfigError(
            f"pred and real must both have shape (H, W, 3), got {pred_a.shape} and {real_a.shape}"
        )
    return pred_a, real_a


def _as_mask(mask: ArrayLike, shape: tuple[int, ...]) -> np.ndarray:
    mask_a = np.asarray(mask)
    if mask_a.ndim == 3 and mask_a.shape[2] == 1:
        mask_a = mask_a[..., 0]
    if mask_a.shape != tuple(shape[:2]):
        raise ConfigError(f"mask must have shape {tuple(shape[:2])}, got {mask_a.shape}")
    return mask_a.astype(np.float64) if mask_a.dtype != np.bool_ else mask_a.astype(np.float64)


def _peak(real: np.ndarray, psnr_peak: str) -> float:
    if psnr_peak == "255":
        return 255.0
    if psnr_peak == "max-real":
        return float(real.max())
    raise ConfigError(f"psnr_peak must be one of {PSNR_PEAKS}, got {psnr_peak!r}")


def mse_image(pred: ArrayLike, real: ArrayLike) -> float:
    """
    Compute the mean squared error of a prediction over every pixel and channel.

    Parameters
    ----------
    pred
        ``(H, W, 3)`` harmonized image.
    real
        ``(H, W, 3)`` real (ground-truth) image.

    Returns
    -------
    float
        ``mean((pred - real)^2)``.

    Raises
    ------
    ConfigError
        When the shapes differ or are not ``(H, W, 3)``.

    Notes
    -----
    Domain: ``pred``, ``real`` 8-bit sRGB values, [0, 255].
    Range: [0, 65025], squared 8-bit units.

    References
    ----------
    :cite:`Sofiiuk2021`

    Examples
    --------
    >>> real = np.zeros((2, 2, 3))
    >>> pred = real.copy(); pred[0, 0] = 10
    >>> mse_image(pred, real)
    25.0
    """
    pred_a, real_a = _as_pair(pred, real)
    return float(np.mean((pred_a - real_a) ** 2))


def fmse_image(pred: ArrayLike, real: ArrayLike, mask: ArrayLike) -> float:
    """
    Compute the foreground MSE: ``sum(mask (pred - real)^2) / (3 sum(mask))``.

    Parameters
    ----------
    pred
        ``(H, W, 3)`` harmonized image.
    real
        ``(H, W, 3)`` real image.
    mask
        ``(H, W)`` foreground mask, bool or weights in [0, 1].

    Returns
    -------
    float
        The squared error summed over channels and foreground pixels, divided
        by three times the foreground area (0 when the mask is empty).

    Raises
    ------
    ConfigError
        When the shapes do not match.

    Notes
    -----
    Domain: 8-bit sRGB values, [0, 255].
    Range: [0, 65025], squared 8-bit units.

    References
    ----------
    :cite:`Sofiiuk2021`

    Examples
    --------
    >>> real = np.zeros((2, 2, 3))
    >>> pred = real.copy(); pred[0, 0] = 10
    >>> mask = np.array([[True, True], [False, False]])
    >>> fmse_image(pred, real, mask)
    50.0
    """
    pred_a, real_a = _as_pair(pred, real)
    mask_a = _as_mask(mask, pred_a.shape)
    area = float(mask_a.sum())
    if area == 0.0:
        return 0.0
    return float((mask_a[..., None] * (pred_a - real_a) ** 2).sum() / (3.0 * area))


def _psnr(error: float, peak: float) -> float:
    return float(10.0 * math.log10(peak**2 / max(error, _MIN_ERROR)))


def psnr_image(
    pred: ArrayLike, real: ArrayLike, *, psnr_peak: Literal["255", "max-real"] | str = "255"
) -> float:
    """
    Compute the peak signal-to-noise ratio ``10 log10(peak^2 / MSE)``.

    Parameters
    ----------
    pred
        ``(H, W, 3)`` harmonized image.
    real
        ``(H, W, 3)`` real image.
    psnr_peak
        ``"255"`` (default) or ``"max-real"``, the maximum of ``real``.

    Returns
    -------
    float
        PSNR in dB; an MSE below 1e-10 is clamped to 1e-10.

    Raises
    ------
    ConfigError
        When ``psnr_peak`` is unknown or the shapes do not match.

    Notes
    -----
    Domain: 8-bit sRGB values, [0, 255].
    Range: dB.

    References
    ----------
    :cite:`Sofiiuk2021`

    Examples
    --------
    >>> real = np.zeros((2, 2, 3))
    >>> pred = real.copy(); pred[0, 0] = 10
    >>> round(psnr_image(pred, real), 4)
    34.1514
    """
    pred_a, real_a = _as_pair(pred, real)
    return _psnr(mse_image(pred_a, real_a), _peak(real_a, psnr_peak))


def fpsnr_image(
    pred: ArrayLike,
    real: ArrayLike,
    mask: ArrayLike,
    *,
    psnr_peak: Literal["255", "max-real"] | str = "255",
) -> float:
    """
    Compute the foreground PSNR ``10 log10(peak^2 / fMSE)``.

    Parameters
    ----------
    pred
        ``(H, W, 3)`` harmonized image.
    real
        ``(H, W, 3)`` real image.
    mask
        ``(H, W)`` foreground mask.
    psnr_peak
        ``"255"`` (default) or ``"max-real"``.

    Returns
    -------
    float
        fPSNR in dB; an fMSE below 1e-10 is clamped to 1e-10.

    Raises
    ------
    ConfigError
        When ``psnr_peak`` is unknown or the shapes do not match.

    Notes
    -----
    Domain: 8-bit sRGB values, [0, 255].
    Range: dB.

    References
    ----------
    :cite:`Sofiiuk2021`

    Examples
    --------
    >>> real = np.zeros((2, 2, 3))
    >>> pred = real.copy(); pred[0, 0] = 10
    >>> mask = np.array([[True, False], [False, False]])
    >>> round(fpsnr_image(pred, real, mask), 4)
    28.1308
    """
    pred_a, real_a = _as_pair(pred, real)
    return _psnr(fmse_image(pred_a, real_a, mask), _peak(real_a, psnr_peak))


def _ssim_map(pred: np.ndarray, real: np.ndarray) -> tuple[float, np.ndarray]:
    # Wang et al. (2004): 11x11 Gaussian window, sigma 1.5, population covariance.
    value, full = structural_similarity(
        pred,
        real,
        channel_axis=-1,
        data_range=255.0,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        full=True,
    )
    return float(value), np.asarray(full, dtype=np.float64)


def ssim_image(pred: ArrayLike, real: ArrayLike) -> float:
    """
    Compute the structural similarity of :cite:`Wang2004` over the whole image.

    Parameters
    ----------
    pred
        ``(H, W, 3)`` harmonized image, at least 11x11 pixels.
    real
        ``(H, W, 3)`` real image.

    Returns
    -------
    float
        Mean SSIM over pixels and channels.

    Raises
    ------
    ConfigError
        When the shapes do not match.

    Notes
    -----
    Domain: 8-bit sRGB values, [0, 255] (``data_range=255``).
    Range: [-1, 1], 1 for identical images.

    References
    ----------
    :cite:`Wang2004`

    Examples
    --------
    >>> real = np.full((16, 16, 3), 128.0)
    >>> ssim_image(real, real)
    1.0
    """
    pred_a, real_a = _as_pair(pred, real)
    return _ssim_map(pred_a, real_a)[0]


def fssim_image(pred: ArrayLike, real: ArrayLike, mask: ArrayLike) -> float:
    """
    Compute the mean of the SSIM map of :cite:`Wang2004` over the foreground.

    Parameters
    ----------
    pred
        ``(H, W, 3)`` harmonized image, at least 11x11 pixels.
    real
        ``(H, W, 3)`` real image.
    mask
        ``(H, W)`` foreground mask.

    Returns
    -------
    float
        ``sum(mask * ssim_map) / sum(mask)`` with the map averaged over
        channels (1 when the mask is empty).

    Raises
    ------
    ConfigError
        When the shapes do not match.

    Notes
    -----
    Domain: 8-bit sRGB values, [0, 255].
    Range: [-1, 1].

    References
    ----------
    :cite:`Wang2004`

    Examples
    --------
    >>> real = np.full((16, 16, 3), 128.0)
    >>> fssim_image(real, real, np.ones((16, 16), bool))
    1.0
    """
    pred_a, real_a = _as_pair(pred, real)
    mask_a = _as_mask(mask, pred_a.shape)
    return _fssim_from_map(_ssim_map(pred_a, real_a)[1], mask_a)


def _fssim_from_map(full: np.ndarray, mask: np.ndarray) -> float:
    area = float(mask.sum())
    if area == 0.0:
        return 1.0
    return float((full.mean(axis=2) * mask).sum() / area)


def foreground_ratio(mask: ArrayLike) -> float:
    """
    Return the fraction of foreground pixels of a mask.

    Parameters
    ----------
    mask
        ``(H, W)`` foreground mask, bool or weights in [0, 1].

    Returns
    -------
    float
        ``sum(mask) / (H W)``, in [0, 1].

    Examples
    --------
    >>> foreground_ratio(np.array([[True, False], [False, False]]))
    0.25
    """
    mask_a = np.asarray(mask, dtype=np.float64)
    return float(mask_a.mean()) if mask_a.size else 0.0


def foreground_ratio_group(ratio: float) -> str:
    """
    Return the label of the foreground-ratio bin of :cite:`Cong2020`.

    Parameters
    ----------
    ratio
        Foreground ratio in [0, 1].

    Returns
    -------
    str
        ``"0-5%"``, ``"5-15%"`` or ``"15-100%"``.

    References
    ----------
    :cite:`Cong2020`

    Examples
    --------
    >>> foreground_ratio_group(0.05), foreground_ratio_group(0.9)
    ('5-15%', '15-100%')
    """
    for label, low, high in FOREGROUND_RATIO_GROUPS:
        if low <= ratio < high:
            return label
    return FOREGROUND_RATIO_GROUPS[-1][0]


def score_image(
    pred: ArrayLike,
    real: ArrayLike,
    mask: ArrayLike,
    *,
    psnr_peak: Literal["255", "max-real"] | str = "255",
) -> dict[str, float]:
    """
    Compute every metric of :data:`METRIC_NAMES` for one image.

    Parameters
    ----------
    pred
        ``(H, W, 3)`` harmonized image (the field scores it at 256x256).
    real
        ``(H, W, 3)`` real image.
    mask
        ``(H, W)`` foreground mask.
    psnr_peak
        ``"255"`` (default) or ``"max-real"``.

    Returns
    -------
    dict
        ``{"MSE", "fMSE", "PSNR", "fPSNR", "SSIM", "fSSIM", "foreground_ratio"}``.

    Raises
    ------
    ConfigError
        When the shapes do not match or ``psnr_peak`` is unknown.

    Notes
    -----
    Domain: 8-bit sRGB values, [0, 255]. See the module docstring for the
    conventions.

    References
    ----------
    :cite:`Sofiiuk2021`, :cite:`Wang2004`

    Examples
    --------
    >>> real = np.full((16, 16, 3), 100.0)
    >>> pred = real.copy(); pred[:4, :4] = 110
    >>> mask = np.zeros((16, 16), bool); mask[:4, :4] = True
    >>> scores = score_image(pred, real, mask)
    >>> scores["MSE"], scores["fMSE"], scores["foreground_ratio"]
    (6.25, 100.0, 0.0625)
    """
    pred_a, real_a = _as_pair(pred, real)
    mask_a = _as_mask(mask, pred_a.shape)
    peak = _peak(real_a, psnr_peak)
    mse = mse_image(pred_a, real_a)
    fmse = fmse_image(pred_a, real_a, mask_a)
    ssim, full = _ssim_map(pred_a, real_a)
    return {
        "MSE": mse,
        "fMSE": fmse,
        "PSNR": _psnr(mse, peak),
        "fPSNR": _psnr(fmse, peak),
        "SSIM": ssim,
        "fSSIM": _fssim_from_map(full, mask_a),
        "foreground_ratio": foreground_ratio(mask_a),
    }
