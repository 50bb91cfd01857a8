"""
iSSAM evaluation protocol
=========================

Define the evaluation of iSSAM :cite:`Sofiiuk2021` (SamsungLabs
``image_harmonization``), re-written from its code:

-   :class:`IssamProtocol`: the ``issam`` protocol (MSE, fMSE, PSNR).
-   :func:`read_sample_Sofiiuk2021`: read and resize one test composite.
-   :func:`resize_image_Sofiiuk2021`, :func:`resize_mask_Sofiiuk2021`: the
    resize of images and of the soft mask.
-   :func:`mse_Sofiiuk2021`, :func:`fmse_Sofiiuk2021`,
    :func:`psnr_Sofiiuk2021`: the three metrics.

Files read (SamsungLabs/image_harmonization, commit 5f6e613):

-   ``scripts/evaluate_model.py``: ``HDataset(..., augmentator=HCompose([Resize(256, 256)]),
    keep_background_prob=-1)`` (the default ``--resize-strategy Fixed256``),
    ``MetricsHub([N(), MSE(), fMSE(), PSNR(), AvgPredictTime()])``.
-   ``iharm/data/hdataset.py``: composite and real read with ``cv2.imread``
    and ``cv2.COLOR_BGR2RGB`` (uint8); the mask is
    ``cv2.imread(mask)[:, :, 0].astype(np.float32) / 255.`` (channel 0 of
    OpenCV's BGR order: blue; any channel of a grey mask).
-   ``iharm/data/transforms.py``: ``HCompose`` with ``no_nearest_for_masks=True``
    registers the mask as an *image* target, so albumentations' ``Resize``
    resizes it like an image (``cv2.resize``, ``INTER_LINEAR``, its default):
    a soft mask with fractional edges. Composite and real are resized as
    uint8.
-   ``iharm/inference/evaluation.py`` and ``iharm/inference/predictor.py``: the
    prediction is the network's output mapped back to 0..255 and
    ``torch.clamp(pred, 0, 255)``, a float, not rounded; the target is the
    resized real as float32; the mask is the soft mask.
-   ``iharm/inference/metrics.py``:
    ``MSE = ((pred - target) ** 2).mean()``,
    ``fMSE = sum(mask[..., None] (pred - target)^2) / (3 sum(mask) + 1e-6)``,
    ``PSNR = 10 log10(max(target)^2 / (MSE + 1e-6))``; each per image, then
    averaged.
-   ``scripts/predict_for_dir.py``: saves each prediction as
    ``<composite file name>`` (JPEG quality 85 for ``.jpg``), at 256x256 or,
    with ``--original-size``, resized back to the composite's size.

What we do not copy: the peer computes in float32 on the GPU; we compute the
errors in float64 (the two agree to about 1e-6 relative). ``cv2.imread``
converts 16-bit files to 8 bits by 1/256, :mod:`ccharmony.io` by 255/65535
(at most one level apart; the datasets are 8-bit).

A prediction read from a file is decoded as uint8 and, when not already
256x256, resized as uint8 with the same ``INTER_LINEAR`` resize (a model's own
output at 256 stays a float).

References
----------
-   :cite:`Sofiiuk2021` : Sofiiuk, K., Popenova, P., & Konushin, A. (2021).
    Foreground-aware Semantic Representations for Image Harmonization. WACV
    2021, 1620-1629. doi:10.1109/WACV48630.2021.00166
"""

from __future__ import annotations

import math
from typing import ClassVar

import cv2
import numpy as np

from ccharmony._types import ArrayLike, NDArrayUInt8, PathType
from ccharmony.harmonization.data import SamplePaths
from ccharmony.harmonization.protocols.base import (
    EvaluationProtocol,
    EvaluationSample,
    combined_sha256,
    decode_rgb_oriented,
    photo_of,
    read_file_bytes_hashed,
)

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "IssamProtocol",
    "read_sample_Sofiiuk2021",
    "resize_image_Sofiiuk2021",
    "resize_mask_Sofiiuk2021",
    "prediction_from_model_Sofiiuk2021",
    "mse_Sofiiuk2021",
    "fmse_Sofiiuk2021",
    "psnr_Sofiiuk2021",
]

EPSILON = 1e-6
"""The ``1e-6`` of iSSAM's fMSE denominator and PSNR denominator."""


def resize_image_Sofiiuk2021(image: NDArrayUInt8, size: int) -> NDArrayUInt8:
    """
    Resize an 8-bit image to ``size x size`` as albumentations' ``Resize(size, size)``.

    ``cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)`` on the
    uint8 array (OpenCV's fixed-point bilinear, aspect ratio not kept); an
    image already at that size is returned unchanged.

    Examples
    --------
    >>> resize_image_Sofiiuk2021(np.zeros((3, 5, 3), np.uint8), 4).shape
    (4, 4, 3)
    """
    array = np.asarray(image)
    if array.shape[:2] == (size, size):
        return array.copy()
    return cv2.resize(array, (size, size), interpolation=cv2.INTER_LINEAR).astype(np.uint8, copy=False)


def resize_mask_Sofiiuk2021(mask: np.ndarray, size: int) -> np.ndarray:
    """
    Resize the float32 mask like an image (``HCompose(no_nearest_for_masks=True)``).

    Examples
    --------
    >>> mask = np.zeros((2, 2), np.float32); mask[0, 0] = 1.0
    >>> resize_mask_Sofiiuk2021(mask, 4)[0].tolist()
    [1.0, 0.75, 0.25, 0.0]
    """
    array = np.asarray(mask, dtype=np.float32)
    if array.shape[:2] == (size, size):
        return array.copy()
    return cv2.resize(array, (size, size), interpolation=cv2.INTER_LINEAR)


def read_sample_Sofiiuk2021(paths: SamplePaths, *, folder: PathType, size: int = 256) -> EvaluationSample:
    """
    Read one test composite as iSSAM's ``HDataset`` + ``HCompose([Resize])``.

    Parameters
    ----------
    paths
        The composite, real and mask files.
    folder
        The dataset folder (for the photo name).
    size
        Evaluation side.

    Returns
    -------
    EvaluationSample
        uint8 composite and real resized bilinearly; the mask
        ``channel 0 (BGR) / 255`` as float32, resized bilinearly (soft).

    Raises
    ------
    UnreadableImageError
        When a file cannot be read.
    """
    composite_bytes, composite_sha = read_file_bytes_hashed(paths.composite)
    real_bytes, real_sha = read_file_bytes_hashed(paths.real)
    mask_bytes, mask_sha = read_file_bytes_hashed(paths.mask)
    composite = decode_rgb_oriented(composite_bytes, name=str(paths.composite))
    real = decode_rgb_oriented(real_bytes, name=str(paths.real))
    mask_image = decode_rgb_oriented(mask_bytes, name=str(paths.mask))
    # OpenCV's channel 0 is blue: RGB index 2.
    mask = mask_image[:, :, 2].astype(np.float32) / 255.0
    return EvaluationSample(
        name=paths.name,
        photo=photo_of(paths, folder),
        composite=resize_image_Sofiiuk2021(composite, size),
        real=resize_image_Sofiiuk2021(real, size),
        mask=resize_mask_Sofiiuk2021(mask, size),
        size=(int(composite.shape[0]), int(composite.shape[1])),
        sha256=combined_sha256([composite_sha, real_sha, mask_sha]),
    )


def prediction_from_model_Sofiiuk2021(prediction: ArrayLike) -> np.ndarray:
    """
    Map a model output in [0, 1] to the clamped float 0..255 prediction of ``Predictor.predict``.

    The product is taken in float32, as the peer's tensors are, so that an
    input returned unchanged (the composite row) maps back exactly.

    Examples
    --------
    >>> prediction_from_model_Sofiiuk2021(np.array([[[0.5, 1.2, -0.1]]], np.float32)).tolist()
    [[[127.5, 255.0, 0.0]]]
    """
    scaled = np.asarray(prediction, dtype=np.float32) * np.float32(255.0)
    return np.clip(scaled, 0.0, 255.0).astype(np.float64)


def mse_Sofiiuk2021(pred: ArrayLike, real: ArrayLike) -> float:
    """
    Return ``mean((pred - real)^2)`` over ``H x W x 3`` (iSSAM's ``MSE``).

    Examples
    --------
    >>> mse_Sofiiuk2021(np.full((1, 2, 3), 2.0), np.zeros((1, 2, 3)))
    4.0
    """
    diff = np.asarray(pred, dtype=np.float64) - np.asarray(real, dtype=np.float64)
    return float(np.mean(diff**2))


def fmse_Sofiiuk2021(pred: ArrayLike, real: ArrayLike, mask: ArrayLike) -> float:
    """
    Return iSSAM's ``fMSE = sum(mask (pred - real)^2) / (3 sum(mask) + 1e-6)``.

    The mask is the soft mask (weights in [0, 1]); an empty mask gives 0.

    Examples
    --------
    >>> real = np.zeros((1, 2, 3)); pred = real.copy(); pred[0, 0] = 10
    >>> round(fmse_Sofiiuk2021(pred, real, np.array([[1.0, 0.0]])), 4)
    100.0
    """
    diff = np.asarray(pred, dtype=np.float64) - np.asarray(real, dtype=np.float64)
    weights = np.asarray(mask, dtype=np.float64)
    return float((weights[..., None] * diff**2).sum() / (diff.shape[2] * weights.sum() + EPSILON))


def psnr_Sofiiuk2021(error: float, real: ArrayLike) -> float:
    """
    Return iSSAM's ``PSNR = 10 log10(max(real)^2 / (error + 1e-6))``.

    Parameters
    ----------
    error
        The MSE (or, for CDTNet's fPSNR, the fMSE).
    real
        The real image; its maximum is the peak.

    Returns
    -------
    float
        dB; ``-inf`` for an all-black real image (where the peer fails).

    Examples
    --------
    >>> round(psnr_Sofiiuk2021(25.0, np.array([0.0, 200.0])), 4)
    32.0412
    """
    peak = float(np.max(real))
    if peak <= 0.0:
        return float("-inf")
    return 10.0 * math.log10(peak**2 / (error + EPSILON))


class IssamProtocol(EvaluationProtocol):
    """
    Evaluate as iSSAM's ``scripts/evaluate_model.py`` (see the module docstring).

    Examples
    --------
    >>> protocol = IssamProtocol()
    >>> protocol.name, protocol.size, protocol.psnr_peak
    ('issam', 256, 'max-real')
    """

    name = "issam"
    title = "iSSAM evaluation (SamsungLabs/image_harmonization scripts/evaluate_model.py, Sofiiuk et al. 2021)"
    metrics: ClassVar[tuple[str, ...]] = ("MSE", "fMSE", "PSNR")
    default_psnr_peak = "max-real"

    def conventions(self) -> dict[str, str]:
        """Return every convention as text."""
        return {
            "protocol": self.name,
            "title": self.title,
            "source": "SamsungLabs/image_harmonization: scripts/evaluate_model.py, iharm/data/hdataset.py, "
                      "iharm/data/transforms.py, iharm/inference/{evaluation,predictor,metrics}.py",
            "size": f"{self.size}x{self.size}" + ("" if self.size == 256 else " (the peer: 256x256)"),
            "read": "cv2.imread + BGR2RGB (EXIF orientation applied), uint8",
            "resize_images": "cv2.resize INTER_LINEAR on uint8 (albumentations Resize), aspect ratio not kept",
            "mask": "soft: channel 0 of cv2.imread (BGR) / 255 as float32, resized with cv2 INTER_LINEAR",
            "model_prediction": "float: clamp(255 * output, 0, 255), not rounded",
            "file_prediction": "decoded uint8; resized as uint8 with cv2 INTER_LINEAR when not at the size",
            "MSE": "mean over H x W x 3 of (pred - real)^2",
            "fMSE": "sum(mask * (pred - real)^2) / (3 * sum(mask) + 1e-6)",
            "PSNR": "10 log10(max(real)^2 / (MSE + 1e-6))",
            "fPSNR": "not defined by the peer (NaN)",
            "SSIM": "not defined by the peer (NaN)",
            "fSSIM": "not defined by the peer (NaN)",
            "psnr_peak": "max(real) of the resized real image",
            "precision": "errors in float64 (the peer: float32 on the GPU, about 1e-6 relative apart)",
            "averaging": "per image, then the mean over images",
        }

    def read_sample(self, paths: SamplePaths, *, folder: PathType) -> EvaluationSample:
        """Read one test composite (:func:`read_sample_Sofiiuk2021`)."""
        return read_sample_Sofiiuk2021(paths, folder=folder, size=self.size)

    def prediction_from_model(self, prediction: ArrayLike) -> np.ndarray:
        """Return ``clamp(255 output, 0, 255)`` as float (:func:`prediction_from_model_Sofiiuk2021`)."""
        return prediction_from_model_Sofiiuk2021(self._check_prediction(prediction))

    def prediction_from_file(self, image: NDArrayUInt8) -> np.ndarray:
        """Resize a decoded uint8 prediction with ``INTER_LINEAR`` when needed; return it as float."""
        return resize_image_Sofiiuk2021(np.asarray(image, dtype=np.uint8), self.size).astype(np.float64)

    def score(self, prediction: ArrayLike, sample: EvaluationSample) -> dict[str, float]:
        """Return MSE, fMSE, PSNR (the others NaN) and the foreground ratio."""
        pred = self._check_prediction(prediction).astype(np.float64)
        real = sample.real.astype(np.float64)
        mse = mse_Sofiiuk2021(pred, real)
        return {
            "MSE": mse,
            "fMSE": fmse_Sofiiuk2021(pred, real, sample.mask),
            "PSNR": psnr_Sofiiuk2021(mse, real),
            "fPSNR": math.nan,
            "SSIM": math.nan,
            "fSSIM": math.nan,
            "foreground_ratio": float(np.mean(sample.mask, dtype=np.float64)),
        }


PROTOCOL = IssamProtocol()
"""The ``issam`` protocol at 256x256."""
