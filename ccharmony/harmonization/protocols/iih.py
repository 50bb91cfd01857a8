"""
IIH / IHT evaluation protocol
=============================

Define the evaluation of Intrinsic Image Harmonization :cite:`Guo2021` and
Image Harmonization with Transformer :cite:`Guo2021a` (zhenglab), re-written
from their code:

-   :class:`IihProtocol`: the ``iih`` protocol (MSE, fMSE, PSNR, fPSNR, SSIM,
    fSSIM).
-   :func:`resize_image_Guo2021`, :func:`mask_Guo2021`: Pillow's bicubic
    resize of images and the nearest-neighbour resize of the 1-bit mask.
-   :func:`ssim_Guo2021`: their SSIM and fSSIM.

Files read (identical in both repositories): zhenglab/IntrinsicHarmony
(commit da50240) and zhenglab/HarmonyTransformer (commit d8430b5)
``evaluation/ih_evaluation.py`` and ``evaluation/pytorch_ssim.py``;
IntrinsicHarmony ``util/util.py`` (``tensor2im``, ``save_image``).

-   Reading: ``Image.open(path).convert('RGB')`` for the harmonized and the
    real image (no EXIF orientation); ``Image.open(mask).convert('1')`` for
    the mask (Pillow's 1-bit conversion, Floyd-Steinberg dithered, which
    leaves a 0/255 mask unchanged).
-   Resizing, when the mask's width is not 256:
    ``tf.resize(img, [256, 256], interpolation=Image.BICUBIC)`` on all three.
    torchvision hands PIL images to ``PIL.Image.resize``, which is bicubic
    (antialiased when shrinking) for RGB, and always nearest neighbour for a
    mode ``'1'`` image: so the mask is hard and nearest-resized.
-   ``MSE = skimage.metrics.mean_squared_error(harmonized, real)`` on float32
    arrays; ``PSNR = skimage.metrics.peak_signal_noise_ratio(real, harmonized,
    data_range=255)`` (peak 255, no epsilon: infinite for identical images).
-   ``fMSE = mse_loss(harmonized * mask, real * mask) * 256 * 256 /
    sum(mask)`` with ``to_tensor`` of the float32 arrays (values stay 0..255)
    and of the 1-bit mask (0/1): the squared error summed over the
    foreground, divided by three times its area; ``fPSNR = 10 log10(255^2 /
    fMSE)``.
-   ``pytorch_ssim.ssim(harmonized, real, window_size=11, mask=mask)``: an
    11x11 Gaussian window (sigma 1.5), zero padding of 5, ``C1 = 0.01^2``,
    ``C2 = 0.03^2`` (constants for a data range of 1, used on 0..255 values);
    ``SSIM`` the map's mean, ``fSSIM`` the mean over channels of the
    mask-weighted mean.
-   Predictions: ``tensor2im`` makes ``np.clip(255 x, 0, 255).astype(np.uint8)``
    (truncation, not rounding) and ``save_image`` writes JPEG quality 100,
    which ``ih_evaluation.py --evaluation_type our`` reads back.

What we do not copy: the peer resizes only when the *mask's width* differs
from 256; we resize whenever the image is not 256x256 (the same unless a
256-wide image has another height). We score a model's truncated uint8 output
directly, without the JPEG round trip of the peer's test script. The
composite (the model's input, and the composite row) is resized bicubically
like the harmonized image of ``--evaluation_type ori`` (the peer's training
loader resizes inputs bilinearly). ``256 * 256`` in fMSE is the evaluation
size squared. We compute in float64 (the peer: float32) with the peer's own
window (:func:`~ccharmony.harmonization.protocols.base.ssim_maps_zero_padded`):
our values differ from the peer's by about its own float32 rounding, which
its tiny C2 (9e-4 on 0..255 values) makes larger than CDTNet's.

References
----------
-   :cite:`Guo2021` : Guo, Z., Zheng, H., Jiang, Y., Gu, Z., & Zheng, B.
    (2021). Intrinsic Image Harmonization. CVPR 2021, 16367-16376.
    doi:10.1109/CVPR46437.2021.01610
-   :cite:`Guo2021a` : Guo, Z., Guo, D., Zheng, H., Gu, Z., Zheng, B., & Dong,
    J. (2021). Image Harmonization With Transformer. ICCV 2021, 14870-14879.
    doi:10.1109/ICCV48922.2021.01460
-   :cite:`Wang2004` : Wang, Z., Bovik, A. C., Sheikh, H. R., & Simoncelli,
    E. P. (2004). Image quality assessment: from error visibility to
    structural similarity. IEEE Transactions on Image Processing, 13(4),
    600-612. doi:10.1109/TIP.2003.819861
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from ccharmony._types import ArrayLike, NDArrayUInt8, PathType
from ccharmony.harmonization.data import SamplePaths
from ccharmony.harmonization.protocols.base import (
    EvaluationProtocol,
    EvaluationSample,
    combined_sha256,
    decode_rgb,
    masked_map_mean,
    photo_of,
    read_file_bytes_hashed,
    ssim_maps_zero_padded,
)

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "IihProtocol",
    "resize_image_Guo2021",
    "mask_Guo2021",
    "prediction_from_model_Guo2021",
    "fmse_Guo2021",
    "ssim_Guo2021",
    "SSIM_WINDOW",
]

SSIM_WINDOW = 11
"""``--ssim_window_size`` default of ``ih_evaluation.py``."""

SSIM_SIGMA = 1.5
"""The Gaussian window's standard deviation (``create_window``)."""

SSIM_C1 = 0.01**2
"""``pytorch_ssim``'s C1 (for a data range of 1, applied to 0..255 values)."""

SSIM_C2 = 0.03**2
"""``pytorch_ssim``'s C2."""


def resize_image_Guo2021(image: NDArrayUInt8, size: int) -> NDArrayUInt8:
    """
    Resize an 8-bit RGB image with Pillow's bicubic filter (``tf.resize(..., Image.BICUBIC)``).

    Examples
    --------
    >>> resize_image_Guo2021(np.zeros((3, 5, 3), np.uint8), 4).shape
    (4, 4, 3)
    """
    array = np.asarray(image, dtype=np.uint8)
    if array.shape[:2] == (size, size):
        return array.copy()
    return np.asarray(Image.fromarray(array).resize((size, size), Image.Resampling.BICUBIC))


def mask_Guo2021(mask_image: NDArrayUInt8, size: int) -> np.ndarray:
    """
    Make the peer's mask: Pillow's 1-bit conversion, then its nearest resize, as 0/1 float32.

    Parameters
    ----------
    mask_image
        The decoded mask file: ``(H, W)`` grey or ``(H, W, 3)`` RGB uint8.
    size
        Evaluation side.

    Examples
    --------
    >>> mask = np.zeros((2, 2), np.uint8); mask[0, 0] = 255
    >>> mask_Guo2021(mask, 4).tolist()[0]
    [1.0, 1.0, 0.0, 0.0]
    """
    binary = Image.fromarray(np.asarray(mask_image, dtype=np.uint8)).convert("1")
    if binary.size != (size, size):
        # PIL resizes mode "1" images with NEAREST whatever filter is asked for.
        binary = binary.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(binary, dtype=np.float32)


def prediction_from_model_Guo2021(prediction: ArrayLike) -> np.ndarray:
    """
    Quantise a model output in [0, 1] as ``tensor2im``: ``clip(255 x, 0, 255).astype(uint8)`` (truncation).

    Examples
    --------
    >>> prediction_from_model_Guo2021(np.array([[[0.5, 0.999, 1.2]]], np.float32)).tolist()
    [[[127.0, 254.0, 255.0]]]
    """
    scaled = np.asarray(prediction, dtype=np.float32) * np.float32(255.0)
    return np.clip(scaled, 0, 255).astype(np.uint8).astype(np.float64)


def fmse_Guo2021(pred: ArrayLike, real: ArrayLike, mask: ArrayLike) -> float:
    """
    Return IIH's ``fMSE = mean((pred m - real m)^2) H W / sum(m)``.

    Over ``3 x H x W`` values, i.e. ``sum(m (pred - real)^2) / (3 sum(m))``
    for a 0/1 mask; infinite or NaN for an empty mask (the peer divides by
    zero).

    Examples
    --------
    >>> real = np.zeros((1, 2, 3)); pred = real.copy(); pred[0, 0] = 10
    >>> fmse_Guo2021(pred, real, np.array([[1.0, 0.0]]))
    100.0
    """
    pred_a = np.asarray(pred, dtype=np.float64)
    real_a = np.asarray(real, dtype=np.float64)
    weights = np.asarray(mask, dtype=np.float64)[..., None]
    height, width = weights.shape[:2]
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.mean((pred_a * weights - real_a * weights) ** 2) * height * width / weights.sum())


def _psnr_255(error: float) -> float:
    with np.errstate(divide="ignore"):
        return float(10.0 * np.log10(255.0**2 / np.float64(error)))


def ssim_Guo2021(pred: ArrayLike, real: ArrayLike, mask: ArrayLike) -> tuple[float, float]:
    """
    Return IIH/IHT's ``(SSIM, fSSIM)``: 11x11 Gaussian, zero padding, C1 = 1e-4, C2 = 9e-4 on 0..255 values.

    Examples
    --------
    >>> real = np.tile(np.arange(16.0)[None, :, None] * 10, (16, 1, 3))
    >>> mask = np.zeros((16, 16)); mask[4:12, 4:12] = 1.0
    >>> [round(v, 6) for v in ssim_Guo2021(real, real, mask)]
    [1.0, 1.0]
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        maps = ssim_maps_zero_padded(pred, real, window_size=SSIM_WINDOW, sigma=SSIM_SIGMA, C1=SSIM_C1, C2=SSIM_C2)
    return float(maps.mean()), masked_map_mean(maps, np.asarray(mask))


class IihProtocol(EvaluationProtocol):
    """
    Evaluate as zhenglab's ``evaluation/ih_evaluation.py`` (IIH, IHT; see the module docstring).

    Examples
    --------
    >>> IihProtocol().conventions()["resize_images"]
    'PIL Image.resize BICUBIC on uint8 RGB (antialiased when shrinking), aspect ratio not kept'
    """

    name = "iih"
    title = "IIH/IHT evaluation (zhenglab evaluation/ih_evaluation.py, Guo et al. 2021)"
    metrics = ("MSE", "fMSE", "PSNR", "fPSNR", "SSIM", "fSSIM")
    default_psnr_peak = "255"

    def conventions(self) -> dict[str, str]:
        """Return every convention as text."""
        return {
            "protocol": self.name,
            "title": self.title,
            "source": "zhenglab/IntrinsicHarmony and zhenglab/HarmonyTransformer: evaluation/ih_evaluation.py, "
                      "evaluation/pytorch_ssim.py; IntrinsicHarmony util/util.py (tensor2im)",
            "size": f"{self.size}x{self.size}" + ("" if self.size == 256 else " (the peer: 256x256)"),
            "read": "PIL Image.open(...).convert('RGB') (no EXIF orientation), uint8",
            "resize_images": "PIL Image.resize BICUBIC on uint8 RGB (antialiased when shrinking), aspect ratio not kept",
            "mask": "hard: PIL convert('1') (dithered; 0/255 masks unchanged), resized NEAREST (PIL's rule for "
                    "mode '1'), 0/1",
            "model_prediction": "uint8 by truncation: clip(255 * output, 0, 255).astype(uint8) (tensor2im); "
                                "the peer's JPEG quality-100 round trip is not imitated",
            "file_prediction": "decoded uint8; resized with PIL BICUBIC when not at the size",
            "MSE": "skimage mean_squared_error: mean over H x W x 3 of (pred - real)^2",
            "fMSE": "mse_loss(pred * mask, real * mask) * H * W / sum(mask) = sum(mask (pred - real)^2) / "
                    "(3 sum(mask)), no epsilon",
            "PSNR": "skimage peak_signal_noise_ratio(real, pred, data_range=255) = 10 log10(255^2 / MSE)",
            "fPSNR": "10 log10(255^2 / fMSE)",
            "SSIM": "mean of the SSIM map over channels and pixels, borders included (pytorch_ssim)",
            "fSSIM": "mean over channels of sum(ssim_map_c * mask) / sum(mask) (pytorch_ssim)",
            "psnr_peak": "255",
            "ssim_window": f"{SSIM_WINDOW}x{SSIM_WINDOW} Gaussian, sigma {SSIM_SIGMA}, float32 taps normalised to 1, outer product in float32",
            "ssim_padding": "zero padding of 5 (F.conv2d padding=window//2)",
            "ssim_data_range": "none: C1 = 0.01^2 and C2 = 0.03^2 (a data range of 1) on 0..255 values",
            "ssim_constants": f"C1 = {SSIM_C1:g}, C2 = {SSIM_C2:g}",
            "ssim_covariance": "population: conv(x y) - mu_x mu_y",
            "precision": "float64 (the peer: float32 on the GPU); the SSIM window is the peer's float32 outer product of the taps, filtered in 2-D (cv2.filter2D; the peer: F.conv2d)",
            "averaging": "per image, then the mean over images",
            "deviations": "resized whenever not SxS (the peer checks only the mask's width); composite resized "
                          "bicubically like --evaluation_type ori",
        }

    def read_sample(self, paths: SamplePaths, *, folder: PathType) -> EvaluationSample:
        """Read one test composite as ``ih_evaluation.py`` reads its files."""
        composite_bytes, composite_sha = read_file_bytes_hashed(paths.composite)
        real_bytes, real_sha = read_file_bytes_hashed(paths.real)
        mask_bytes, mask_sha = read_file_bytes_hashed(paths.mask)
        composite = decode_rgb(composite_bytes, name=str(paths.composite))
        from ccharmony.io.encode import decode_image

        mask_image = decode_image(mask_bytes, name=str(paths.mask))
        self._check_sizes(paths, composite, mask_image)
        return EvaluationSample(
            name=paths.name,
            photo=photo_of(paths, folder),
            composite=resize_image_Guo2021(composite, self.size),
            real=resize_image_Guo2021(decode_rgb(real_bytes, name=str(paths.real)), self.size),
            mask=mask_Guo2021(mask_image, self.size),
            size=(int(composite.shape[0]), int(composite.shape[1])),
            sha256=combined_sha256([composite_sha, real_sha, mask_sha]),
        )

    def decode_prediction(self, data: bytes, *, name: str) -> NDArrayUInt8:
        """Decode a prediction file as ``PIL.Image.open(...).convert('RGB')`` (no EXIF orientation)."""
        return decode_rgb(data, name=name)

    def prediction_from_model(self, prediction: ArrayLike) -> np.ndarray:
        """Truncate to uint8 as ``tensor2im`` (:func:`prediction_from_model_Guo2021`)."""
        return prediction_from_model_Guo2021(self._check_prediction(prediction))

    def prediction_from_file(self, image: NDArrayUInt8) -> np.ndarray:
        """Resize a decoded uint8 prediction with Pillow's bicubic when needed; return it as float."""
        return resize_image_Guo2021(np.asarray(image, dtype=np.uint8), self.size).astype(np.float64)

    def score(self, prediction: ArrayLike, sample: EvaluationSample) -> dict[str, float]:
        """Return the six metrics and the foreground ratio."""
        pred = self._check_prediction(prediction).astype(np.float32)
        real = sample.real.astype(np.float32)
        mse = float(np.mean((pred - real) ** 2, dtype=np.float64))
        fmse = fmse_Guo2021(pred, real, sample.mask)
        ssim, fssim = ssim_Guo2021(pred, real, sample.mask)
        return {
            "MSE": mse,
            "fMSE": fmse,
            "PSNR": _psnr_255(mse),
            "fPSNR": _psnr_255(fmse) if not math.isnan(fmse) else math.nan,
            "SSIM": ssim,
            "fSSIM": fssim,
            "foreground_ratio": float(np.mean(sample.mask, dtype=np.float64)),
        }


PROTOCOL = IihProtocol()
"""The ``iih`` protocol at 256x256."""
