"""
bcmi evaluation protocol
========================

Define the evaluation of the bcmi lab (Niu, Zhang et al.: ccHarmony,
DucoNet :cite:`Tan2023`, CDTNet :cite:`Cong2022`), re-written from its code:

-   :class:`BcmiProtocol`: the ``bcmi`` protocol (MSE, fMSE, PSNR, fPSNR,
    SSIM, fSSIM), the default of :mod:`ccharmony.harmonization.protocols`.
-   :func:`ssim_Cong2022`: CDTNet's SSIM and fSSIM of one image.
-   :func:`fpsnr_Cong2022`: CDTNet's fPSNR.

The lab's code is iSSAM's :cite:`Sofiiuk2021` tree with its own additions,
so data reading, resizing, MSE, fMSE and PSNR are those of
:mod:`ccharmony.harmonization.protocols.issam` (read again in the lab's copies):

-   bcmi/DucoNet-Image-Harmonization (commit 62bbc5a):
    ``scripts/evaluate_model.py`` (``RESIZE_STRATEGIES['Fixed256'] =
    Resize(256, 256)``, the default, also in ``test.sh``; ``MetricsHub([N(),
    MSE(), fMSE(), PSNR(), AvgPredictTime()])``), ``iharm/data/hdataset.py``
    (``cv2.imread`` + ``BGR2RGB``; mask ``[:, :, 0].astype(np.float32) / 255.``),
    ``iharm/data/transforms.py`` (``HCompose(..., no_nearest_for_masks=True)``:
    the mask resized bilinearly like an image), ``iharm/inference/predictor.py``
    (``torch.clamp(predicted_image, 0, 255)``, float),
    ``iharm/inference/evaluation.py`` (the soft mask goes to the metrics),
    ``iharm/inference/metrics.py`` (iSSAM's MSE, fMSE with ``+ 1e-6``, PSNR with
    ``max(target)`` and ``+ 1e-6``).
-   bcmi/CDTNet-High-Resolution-Image-Harmonization (commit 2f1bcf7):
    ``iharm/inference/metrics.py`` (the same MSE, fMSE and PSNR, plus
    ``fPSNR = 10 log10(max(target)^2 / (fMSE + 1e-6))`` and ``SSIM`` /
    ``fSSIM`` calling ``ssim(pred, target, 7, mask=mask, data_range=pred.max()
    - pred.min())``), ``iharm/inference/pytorch_ssim.py`` (a 7x7 Gaussian
    window, sigma 1.5, built in float32; ``F.conv2d`` with zero padding of 3;
    ``C1 = (0.01 data_range)^2``, ``C2 = (0.03 data_range)^2``; ``SSIM =
    ssim_map.mean()`` over channels and pixels, borders included; ``fSSIM =
    mean over channels of sum(ssim_map_c * mask) / sum(mask)`` with the soft
    mask), ``evaluate_model.py`` (``HDataset`` + ``HCompose([Resize(hr, hr)])``).
-   bcmi/Image-Harmonization-Dataset-ccHarmony ``README.md``: the ccHarmony
    table (MSE, fMSE, PSNR, fSSIM; GiftNet 24.55, 235.20, 37.59, 0.9322) and
    "Due to commercial collaboration, the code is not allowed to be released.
    However, an improved version can be found [here](DucoNet)". DucoNet's
    evaluation has no SSIM; the lab's only published fSSIM is CDTNet's, so the
    table's fSSIM column is read as CDTNet's definition, at DucoNet's 256x256.

What we do not copy: CDTNet evaluates HAdobe5k at 1024 or 2048 (``--hr``); the
table is at 256 like DucoNet's default and iHarmony4. We compute in float64
(the peer: float32 on CUDA) with the peer's own window
(:func:`~ccharmony.harmonization.protocols.base.ssim_maps_zero_padded`), so
our values differ from the peer's by about its own float32 rounding.
An all-constant prediction has ``data_range = 0``, so ``C1 = C2 = 0`` and the
peer's map is NaN; so is ours. An empty mask gives fSSIM NaN (the peer
divides by zero).

References
----------
-   :cite:`Cong2022` : Cong, W., Tao, X., Niu, L., Liang, J., Gao, X., Sun, Q.,
    & Zhang, L. (2022). High-Resolution Image Harmonization via Collaborative
    Dual Transformations. CVPR 2022, 18470-18479.
    doi:10.1109/CVPR52688.2022.01792
-   :cite:`Tan2023` : Tan, L., Li, J., Niu, L., & Zhang, L. (2023). Deep Image
    Harmonization in Dual Color Spaces. ACM Multimedia 2023, 2159-2167.
    doi:10.1145/3581783.3612404
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
-   :cite:`Sofiiuk2021` : Sofiiuk, K., Popenova, P., & Konushin, A. (2021).
    Foreground-aware Semantic Representations for Image Harmonization. WACV
    2021, 1620-1629. doi:10.1109/WACV48630.2021.00166
-   :cite:`Wang2004` : Wang, Z., Bovik, A. C., Sheikh, H. R., & Simoncelli,
    E. P. (2004). Image quality assessment: from error visibility to
    structural similarity. IEEE Transactions on Image Processing, 13(4),
    600-612. doi:10.1109/TIP.2003.819861
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ccharmony._types import ArrayLike
from ccharmony.harmonization.protocols.base import (
    EvaluationSample,
    masked_map_mean,
    ssim_maps_zero_padded,
)
from ccharmony.harmonization.protocols.issam import (
    IssamProtocol,
    fmse_Sofiiuk2021,
    mse_Sofiiuk2021,
    psnr_Sofiiuk2021,
)

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["BcmiProtocol", "ssim_Cong2022", "fpsnr_Cong2022", "SSIM_WINDOW", "SSIM_SIGMA"]

SSIM_WINDOW = 7
"""CDTNet's SSIM window side (``ssim(..., 7, ...)`` in ``iharm/inference/metrics.py``)."""

SSIM_SIGMA = 1.5
"""The Gaussian window's standard deviation (``create_window``)."""


def ssim_Cong2022(pred: ArrayLike, real: ArrayLike, mask: ArrayLike) -> tuple[float, float]:
    """
    Return CDTNet's ``(SSIM, fSSIM)`` of one image.

    Parameters
    ----------
    pred
        ``(H, W, 3)`` prediction, 0..255 float (clamped).
    real
        ``(H, W, 3)`` real image, 0..255.
    mask
        ``(H, W)`` soft mask in [0, 1].

    Returns
    -------
    tuple of float
        ``SSIM``: the mean of the map over channels and pixels; ``fSSIM``: the
        mean over channels of the mask-weighted mean of the map.

    Notes
    -----
    7x7 Gaussian window (sigma 1.5), zero padding, ``data_range =
    max(pred) - min(pred)`` over the whole prediction, ``C1 = (0.01
    data_range)^2``, ``C2 = (0.03 data_range)^2``
    (:func:`~ccharmony.harmonization.protocols.base.ssim_maps_zero_padded`).

    Domain: 0..255 values. Range: [-1, 1].

    References
    ----------
    :cite:`Cong2022`, :cite:`Wang2004`

    Examples
    --------
    >>> real = np.tile(np.arange(16.0)[None, :, None] * 10, (16, 1, 3))
    >>> mask = np.zeros((16, 16)); mask[4:12, 4:12] = 1.0
    >>> [round(v, 6) for v in ssim_Cong2022(real, real, mask)]
    [1.0, 1.0]
    """
    pred_a = np.asarray(pred, dtype=np.float64)
    data_range = float(pred_a.max() - pred_a.min())
    with np.errstate(invalid="ignore", divide="ignore"):
        maps = ssim_maps_zero_padded(
            pred_a, real, window_size=SSIM_WINDOW, sigma=SSIM_SIGMA,
            C1=(0.01 * data_range) ** 2, C2=(0.03 * data_range) ** 2,
        )
    return float(maps.mean()), masked_map_mean(maps, np.asarray(mask))


def fpsnr_Cong2022(fmse: float, real: ArrayLike) -> float:
    """
    Return CDTNet's ``fPSNR = 10 log10(max(real)^2 / (fMSE + 1e-6))``.

    Examples
    --------
    >>> round(fpsnr_Cong2022(100.0, np.array([255.0])), 4)
    28.1308
    """
    return psnr_Sofiiuk2021(fmse, real)


class BcmiProtocol(IssamProtocol):
    """
    Evaluate as the bcmi lab (DucoNet's evaluation at 256x256 plus CDTNet's fPSNR, SSIM and fSSIM).

    Examples
    --------
    >>> protocol = BcmiProtocol()
    >>> protocol.name, protocol.conventions()["ssim_window"][:24]
    ('bcmi', '7x7 Gaussian, sigma 1.5,')
    """

    name = "bcmi"
    title = ("bcmi lab evaluation (ccHarmony table): DucoNet scripts/evaluate_model.py at 256x256 "
             "+ CDTNet fPSNR/SSIM/fSSIM")
    metrics: ClassVar[tuple[str, ...]] = ("MSE", "fMSE", "PSNR", "fPSNR", "SSIM", "fSSIM")

    def conventions(self) -> dict[str, str]:
        """Return every convention as text."""
        conventions = super().conventions()
        conventions.update({
            "protocol": self.name,
            "title": self.title,
            "source": "bcmi/DucoNet-Image-Harmonization: scripts/evaluate_model.py, iharm/data/hdataset.py, "
                      "iharm/data/transforms.py, iharm/inference/{evaluation,predictor,metrics}.py; "
                      "bcmi/CDTNet-High-Resolution-Image-Harmonization: iharm/inference/metrics.py, "
                      "iharm/inference/pytorch_ssim.py",
            "fPSNR": "10 log10(max(real)^2 / (fMSE + 1e-6)) (CDTNet)",
            "SSIM": "mean of the SSIM map over channels and pixels, borders included (CDTNet)",
            "fSSIM": "mean over channels of sum(ssim_map_c * mask) / sum(mask), soft mask (CDTNet)",
            "ssim_window": f"{SSIM_WINDOW}x{SSIM_WINDOW} Gaussian, sigma {SSIM_SIGMA}, float32 taps normalised to 1, outer product in float32",
            "ssim_padding": "zero padding of 3 (F.conv2d padding=window//2)",
            "ssim_data_range": "max(pred) - min(pred) over the whole prediction",
            "ssim_constants": "C1 = (0.01 data_range)^2, C2 = (0.03 data_range)^2",
            "ssim_covariance": "population: conv(x y) - mu_x mu_y",
            "precision": "float64 (the peer: float32 on the GPU); the SSIM window is the peer's float32 outer product of the taps, filtered in 2-D (cv2.filter2D; the peer: F.conv2d)",
        })
        return conventions

    def score(self, prediction: ArrayLike, sample: EvaluationSample) -> dict[str, float]:
        """Return the six metrics and the foreground ratio."""
        pred = self._check_prediction(prediction).astype(np.float64)
        real = sample.real.astype(np.float64)
        mse = mse_Sofiiuk2021(pred, real)
        fmse = fmse_Sofiiuk2021(pred, real, sample.mask)
        ssim, fssim = ssim_Cong2022(pred, real, sample.mask)
        return {
            "MSE": mse,
            "fMSE": fmse,
            "PSNR": psnr_Sofiiuk2021(mse, real),
            "fPSNR": fpsnr_Cong2022(fmse, real),
            "SSIM": ssim,
            "fSSIM": fssim,
            "foreground_ratio": float(np.mean(sample.mask, dtype=np.float64)),
        }


PROTOCOL = BcmiProtocol()
"""The ``bcmi`` protocol at 256x256."""
