"""
ccharmony's first evaluation protocol
=====================================

Define the conventions ``ccharmony benchmark`` used before named protocols
(:mod:`ccharmony.harmonization.metrics`), kept so that earlier numbers stay
reproducible:

-   :class:`OursProtocol`: the ``ours`` protocol (MSE, fMSE, PSNR, fPSNR,
    SSIM, fSSIM with a named PSNR peak).
-   :func:`read_sample_ours`: read and resize one test composite.

Conventions: images decoded as 8-bit RGB; a real image of another size than
its composite is first resized to the composite's size (bilinear); the mask is
its grey level above 127 (decoded with ``cv2.IMREAD_GRAYSCALE``, so a colour
PNG mask is converted to grey by libpng, as before); composite and real resized with ``cv2``
``INTER_LINEAR`` on uint8 and the mask with ``INTER_NEAREST``; predictions
rounded to uint8 (``round(clip(255 x))``) before scoring; metrics of
:func:`~ccharmony.harmonization.metrics.score_image`: fMSE without epsilon,
PSNR peak 255 (or ``max-real``), skimage's SSIM (11x11 Gaussian, sigma 1.5,
``data_range=255``, population covariance, mean without a 5-pixel border) and
fSSIM the mean of that map over the foreground.

References
----------
-   :cite:`Sofiiuk2021` : Sofiiuk, K., Popenova, P., & Konushin, A. (2021).
    Foreground-aware Semantic Representations for Image Harmonization. WACV
    2021, 1620-1629. doi:10.1109/WACV48630.2021.00166
-   :cite:`Wang2004` : Wang, Z., Bovik, A. C., Sheikh, H. R., & Simoncelli,
    E. P. (2004). Image quality assessment: from error visibility to
    structural similarity. IEEE Transactions on Image Processing, 13(4),
    600-612. doi:10.1109/TIP.2003.819861
"""

from __future__ import annotations

import cv2
import numpy as np

from ccharmony._types import ArrayLike, NDArrayUInt8, PathType
from ccharmony.errors import UnreadableImageError
from ccharmony.harmonization.data import SamplePaths
from ccharmony.harmonization.metrics import PSNR_PEAKS, score_image
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

__all__ = ["OursProtocol", "read_sample_ours"]


def _resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if image.shape[:2] == shape:
        return image.copy()
    return cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def read_sample_ours(paths: SamplePaths, *, folder: PathType, size: int = 256) -> EvaluationSample:
    """
    Read one test composite with the first ``ccharmony benchmark`` conventions.

    Returns
    -------
    EvaluationSample
        uint8 composite and real at ``size x size`` (bilinear), the mask
        thresholded at 127 and nearest-resized, as 0/1 float32.

    Raises
    ------
    UnreadableImageError
        When a file cannot be read.
    DatasetError
        When mask and composite differ in size.
    """
    from ccharmony.io.limits import check_image_size

    composite_bytes, composite_sha = read_file_bytes_hashed(paths.composite)
    real_bytes, real_sha = read_file_bytes_hashed(paths.real)
    mask_bytes, mask_sha = read_file_bytes_hashed(paths.mask)
    composite = decode_rgb_oriented(composite_bytes, name=str(paths.composite))
    real = decode_rgb_oriented(real_bytes, name=str(paths.real))
    # The first benchmark decoded masks with OpenCV's grey reader (libpng's own RGB-to-grey for PNG), so
    # a colour mask must go through that decoder to give the same pixels; the size is checked first.
    check_image_size(mask_bytes, name=str(paths.mask), allow_unknown=False)
    grey = cv2.imdecode(np.frombuffer(mask_bytes, np.uint8), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        raise UnreadableImageError(f"{paths.mask}: not a decodable mask (empty, truncated or corrupt)")
    if grey.dtype == np.uint16:
        grey = (grey.astype(np.float32) / 257.0).round().astype(np.uint8)
    mask = grey > 127
    if mask.shape != composite.shape[:2]:
        OursProtocol()._check_sizes(paths, composite, mask)
    real = _resize(real, composite.shape[:2])
    shape = (size, size)
    if mask.shape != shape:
        mask = cv2.resize(mask.astype(np.uint8), shape, interpolation=cv2.INTER_NEAREST) > 0
    return EvaluationSample(
        name=paths.name,
        photo=photo_of(paths, folder),
        composite=_resize(composite, shape),
        real=_resize(real, shape),
        mask=mask.astype(np.float32),
        size=(int(composite.shape[0]), int(composite.shape[1])),
        sha256=combined_sha256([composite_sha, real_sha, mask_sha]),
    )


class OursProtocol(EvaluationProtocol):
    """
    Evaluate with the first ``ccharmony benchmark`` conventions (see the module docstring).

    Parameters
    ----------
    size
        Evaluation side.
    psnr_peak
        ``"255"`` (default) or ``"max-real"``.

    Examples
    --------
    >>> OursProtocol(psnr_peak="max-real").conventions()["PSNR"]
    '10 log10(max(real)^2 / max(MSE, 1e-10))'
    """

    name = "ours"
    title = "ccharmony's first conventions (threshold 127, nearest mask, uint8 predictions, skimage SSIM)"
    metrics = ("MSE", "fMSE", "PSNR", "fPSNR", "SSIM", "fSSIM")
    default_psnr_peak = "255"
    psnr_peaks = PSNR_PEAKS

    def conventions(self) -> dict[str, str]:
        """Return every convention as text."""
        peak = "255" if self.psnr_peak == "255" else "max(real)"
        return {
            "protocol": self.name,
            "title": self.title,
            "source": "ccharmony.harmonization.metrics (ccharmony 0.x benchmark)",
            "size": f"{self.size}x{self.size}",
            "read": "8-bit RGB (EXIF orientation applied); a real image of another size resized to the composite's",
            "resize_images": "cv2.resize INTER_LINEAR on uint8, aspect ratio not kept",
            "mask": "hard: grey level > 127, resized with cv2 INTER_NEAREST",
            "model_prediction": "uint8: round(clip(255 * output, 0, 255))",
            "file_prediction": "decoded uint8; resized with cv2 INTER_LINEAR when not at the size",
            "MSE": "mean over H x W x 3 of (pred - real)^2",
            "fMSE": "sum(mask * (pred - real)^2) / (3 * sum(mask)), 0 for an empty mask",
            "PSNR": f"10 log10({peak}^2 / max(MSE, 1e-10))",
            "fPSNR": f"10 log10({peak}^2 / max(fMSE, 1e-10))",
            "SSIM": "skimage structural_similarity mean (borders of 5 pixels excluded)",
            "fSSIM": "mean of the skimage SSIM map (averaged over channels) over the mask",
            "psnr_peak": self.psnr_peak,
            "ssim_window": "11x11 Gaussian, sigma 1.5 (gaussian_weights=True)",
            "ssim_padding": "skimage: reflect-mode filtering, 5-pixel border cropped from the mean",
            "ssim_data_range": "255",
            "ssim_constants": "C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2",
            "ssim_covariance": "population (use_sample_covariance=False)",
            "precision": "float64",
            "averaging": "per image, then the mean over images",
        }

    def read_sample(self, paths: SamplePaths, *, folder: PathType) -> EvaluationSample:
        """Read one test composite (:func:`read_sample_ours`)."""
        return read_sample_ours(paths, folder=folder, size=self.size)

    def prediction_from_model(self, prediction: ArrayLike) -> np.ndarray:
        """Round to uint8 as ``round(clip(255 x))``; return it as float."""
        # float32 product, as predict.to_uint8 on the model's float32 tensors.
        array = np.asarray(self._check_prediction(prediction), dtype=np.float32)
        return np.clip(np.round(array * np.float32(255.0)), 0, 255).astype(np.uint8).astype(np.float64)

    def prediction_from_file(self, image: NDArrayUInt8) -> np.ndarray:
        """Resize a decoded uint8 prediction with ``INTER_LINEAR`` when needed; return it as float."""
        return _resize(np.asarray(image, dtype=np.uint8), self.shape).astype(np.float64)

    def score(self, prediction: ArrayLike, sample: EvaluationSample) -> dict[str, float]:
        """Return :func:`~ccharmony.harmonization.metrics.score_image` with the protocol's peak."""
        pred = self._check_prediction(prediction).astype(np.float64)
        return score_image(pred, sample.real.astype(np.float64), sample.mask > 0.5, psnr_peak=self.psnr_peak)


PROTOCOL = OursProtocol()
"""The ``ours`` protocol at 256x256, PSNR peak 255."""
