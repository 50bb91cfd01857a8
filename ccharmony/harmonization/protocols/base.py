"""
Evaluation protocol base
========================

Define what every evaluation protocol provides and the pieces several
protocols share:

-   :class:`EvaluationSample`: one test composite prepared by a protocol
    (composite, real image and mask at the evaluation size).
-   :class:`EvaluationProtocol`: how to read a sample, how to turn a model's
    output or a prediction file into the array that is scored, and how to
    score it.
-   :func:`read_file_bytes_hashed`: a file's bytes and SHA-256, read through
    :mod:`ccharmony.io`.
-   :func:`decode_rgb`, :func:`decode_rgb_oriented`: 8-bit RGB decoders of
    those bytes (without / with the EXIF orientation).
-   :func:`photo_of`: the source photo (bootstrap cluster) of a composite.
-   :func:`gaussian_taps`, :func:`ssim_maps_zero_padded`,
    :func:`masked_map_mean`: the SSIM map of the ``pytorch_ssim`` module that
    the CDTNet and IIH/IHT evaluations copy, and its foreground mean.
-   :func:`combined_sha256`: one digest for a list of digests.

A protocol is a named, tested rule set (``STYLE.md`` house rule 18): every
report records :attr:`EvaluationProtocol.conventions`.

References
----------
-   :cite:`Wang2004` : Wang, Z., Bovik, A. C., Sheikh, H. R., & Simoncelli,
    E. P. (2004). Image quality assessment: from error visibility to
    structural similarity. IEEE Transactions on Image Processing, 13(4),
    600-612. doi:10.1109/TIP.2003.819861
"""

from __future__ import annotations

import hashlib
import math
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np

from ccharmony._types import ArrayLike, NDArrayUInt8, PathType
from ccharmony.errors import ConfigError, DatasetError
from ccharmony.harmonization.data import SamplePaths

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "EvaluationSample",
    "EvaluationProtocol",
    "read_file_bytes_hashed",
    "decode_rgb",
    "decode_rgb_oriented",
    "photo_of",
    "gaussian_taps",
    "ssim_maps_zero_padded",
    "masked_map_mean",
    "combined_sha256",
]


@dataclass(frozen=True)
class EvaluationSample:
    """
    Hold one test composite as a protocol prepared it.

    Parameters
    ----------
    name
        Composite file stem (``"a_1_2"``), the key predictions are matched by.
    photo
        Source photo of the composite (the real image's path relative to the
        dataset folder, without extension): the cluster the bootstrap
        resamples (:mod:`ccharmony.harmonization.statistics`).
    composite
        ``(S, S, 3)`` uint8 model input.
    real
        ``(S, S, 3)`` uint8 real image, resized as the protocol says.
    mask
        ``(S, S)`` float32 foreground weights in [0, 1] (hard masks are 0/1).
    size
        ``(height, width)`` of the composite file.
    sha256
        SHA-256 (hex) of the three files' SHA-256 digests, composite, real,
        mask: identifies the test sample in ``report.json``.
    """

    name: str
    photo: str
    composite: NDArrayUInt8
    real: NDArrayUInt8
    mask: np.ndarray
    size: tuple[int, int]
    sha256: str = ""


def read_file_bytes_hashed(path: PathType) -> tuple[bytes, str]:
    """
    Read a whole image file through :mod:`ccharmony.io` and hash it.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    tuple
        ``(bytes, SHA-256 hex digest)``.

    Raises
    ------
    UnreadableImageError
        Missing, not a regular file, unreadable or empty.
    """
    from ccharmony.io.encode import read_file_bytes

    data = read_file_bytes(path)
    return data, hashlib.sha256(data).hexdigest()


def decode_rgb(data: bytes, *, name: str) -> NDArrayUInt8:
    """
    Decode 8-bit RGB (grey repeated to three channels), no EXIF orientation.

    The pixels of ``PIL.Image.open(path).convert("RGB")`` for 8-bit JPEG and
    PNG files (the IIH/IHT reader); alpha is dropped.

    Raises
    ------
    UnreadableImageError, UnsupportedFormatError
        As :func:`ccharmony.io.encode.decode_image`.
    """
    from ccharmony.io.encode import decode_image

    image = decode_image(data, name=name)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image)


def decode_rgb_oriented(data: bytes, *, name: str) -> NDArrayUInt8:
    """
    Decode 8-bit RGB with the EXIF orientation applied.

    The pixels of ``cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)`` for
    8-bit files (``cv2.imread`` applies the EXIF orientation): the iSSAM
    and bcmi reader.

    Raises
    ------
    UnreadableImageError, UnsupportedFormatError
        As :func:`ccharmony.io.encode.decode_image`.
    """
    from ccharmony.io.exif import apply_orientation, read_exif
    from ccharmony.io.sniff import sniff_container

    image = decode_rgb(data, name=name)
    orientation = read_exif(data, sniff_container(data[:64])).orientation
    return np.ascontiguousarray(apply_orientation(image, orientation))


def photo_of(paths: SamplePaths, folder: PathType) -> str:
    """
    Return the source photo of a composite: its real image, relative to the folder, without extension.

    Examples
    --------
    >>> from ccharmony.harmonization.data import sample_paths
    >>> photo_of(sample_paths("/d", "HCOCO/composite_images/c7_1_3.jpg"), "/d")
    'HCOCO/real_images/c7'
    """
    relative = os.path.relpath(paths.real, folder)
    return Path(relative).with_suffix("").as_posix()


def gaussian_taps(window_size: int, sigma: float) -> np.ndarray:
    """
    Return the 1-D Gaussian window of the pytorch_ssim-based evaluations, as float32 taps.

    Tap ``i`` is ``exp(-(i - w//2)^2 / (2 sigma^2))``, the taps normalised to
    sum 1. The sum is taken by ``torch`` in float32 on the CPU, where the
    peers build their window before moving it to the GPU: it can round
    differently from numpy's by one unit in the last place, and IIH's SSIM
    notices (:func:`ssim_maps_zero_padded`).

    Examples
    --------
    >>> [round(float(t), 4) for t in gaussian_taps(3, 1.5)]
    [0.3078, 0.3844, 0.3078]
    """
    import torch

    centre = window_size // 2
    two_variance = float(2 * sigma**2)
    taps = torch.tensor([math.exp(-float((i - centre) ** 2) / two_variance) for i in range(window_size)],
                        dtype=torch.float32)
    return (taps / taps.sum()).numpy()


def ssim_maps_zero_padded(
    pred: ArrayLike,
    real: ArrayLike,
    *,
    window_size: int,
    sigma: float,
    C1: float,
    C2: float,
) -> np.ndarray:
    """
    Compute the per-channel SSIM map of ``pytorch_ssim`` (Gaussian window, zero padding).

    Parameters
    ----------
    pred, real
        ``(H, W, 3)`` images, 0..255 values.
    window_size
        Side of the Gaussian window (7 in CDTNet, 11 in IIH/IHT).
    sigma
        Standard deviation of the window in pixels (1.5 in both).
    C1, C2
        Stabilising constants ``(K1 L)^2`` and ``(K2 L)^2``.

    Returns
    -------
    ndarray
        ``(3, H, W)`` float64 SSIM map, borders included.

    Notes
    -----
    ``mu = w * x``, ``sigma_x^2 = w * x^2 - mu_x^2`` and
    ``sigma_xy = w * (x y) - mu_x mu_y``, each a 2-D filtering by the peers'
    window with zero padding of ``window_size // 2`` (border windows see
    zeros); then
    ``((2 mu_x mu_y + C1)(2 sigma_xy + C2)) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))``
    :cite:`Wang2004`. The window is the peers' exactly: the float32 product
    ``taps taps^T`` of :func:`gaussian_taps` (``_1D_window.mm(_1D_window.t())``),
    whose sum is off 1 by about 7e-8. That matters: in a flat region of
    value ``v`` it makes ``sigma^2 = -7e-8 v^2`` (up to -0.005 at 255), which
    IIH's ``C2 = 9e-4`` does not dominate, so a separable or renormalised
    window changes IIH's SSIM by 1e-4. The filtering runs in float64
    (``cv2.filter2D``; the peers: ``F.conv2d`` in float32 on a GPU), so our
    values differ from the peers' by their own float32 rounding
    (``benchmarks/protocol_agreement.py``).

    Domain: 0..255 values. Range: map values in [-1, 1].

    References
    ----------
    :cite:`Wang2004`

    Examples
    --------
    >>> image = np.full((9, 9, 3), 100.0)
    >>> maps = ssim_maps_zero_padded(image, image, window_size=7, sigma=1.5, C1=6.5, C2=58.5)
    >>> maps.shape, round(float(maps.min()), 12)
    ((3, 9, 9), 1.0)
    """
    p = np.ascontiguousarray(np.asarray(pred, dtype=np.float64))
    r = np.ascontiguousarray(np.asarray(real, dtype=np.float64))
    taps = gaussian_taps(window_size, sigma)
    kernel = np.outer(taps, taps).astype(np.float32).astype(np.float64)  # float32 products, as the peers' window

    def local_mean(image: np.ndarray) -> np.ndarray:
        return cv2.filter2D(image, cv2.CV_64F, kernel, borderType=cv2.BORDER_CONSTANT)

    mean_p, mean_r = local_mean(p), local_mean(r)
    var_p = local_mean(p * p) - mean_p**2
    var_r = local_mean(r * r) - mean_r**2
    cov = local_mean(p * r) - mean_p * mean_r
    luminance = (2 * mean_p * mean_r + C1) / (mean_p**2 + mean_r**2 + C1)
    structure = (2 * cov + C2) / (var_p + var_r + C2)
    return np.ascontiguousarray((luminance * structure).transpose(2, 0, 1))


def masked_map_mean(maps: np.ndarray, mask: np.ndarray) -> float:
    """
    Average a ``(3, H, W)`` map over a mask as ``pytorch_ssim`` does.

    ``mean over channels of (sum(map_c * mask) / sum(mask))``, in float64; NaN
    (not an error) for an empty mask, where the peers divide by zero.

    Examples
    --------
    >>> maps = np.stack([np.eye(2), np.ones((2, 2)), np.zeros((2, 2))]).astype(np.float32)
    >>> masked_map_mean(maps, np.array([[1.0, 0.0], [0.0, 0.0]]))
    0.6666666...
    """
    weights = np.asarray(mask, dtype=np.float64)
    area = weights.sum()
    if float(area) == 0.0:
        return float("nan")
    per_channel = (np.asarray(maps, dtype=np.float64) * weights).sum(axis=(1, 2)) / area
    return float(per_channel.mean())


class EvaluationProtocol(ABC):
    """
    Say how a peer codebase evaluates harmonization, as one object.

    Subclasses (one module each in :mod:`ccharmony.harmonization.protocols`)
    set the class attributes and implement the four methods.

    Parameters
    ----------
    size
        Evaluation side in pixels (256 in every peer; another size is our
        extension and is recorded in the conventions).
    psnr_peak
        Only the ``ours`` protocol accepts another peak than its own.

    Attributes
    ----------
    name
        Registry key (``"bcmi"``, ``"issam"``, ``"iih"``, ``"ours"``).
    title
        One line: whose evaluation this is.
    metrics
        The metric names this protocol defines (the others are NaN).
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    metrics: ClassVar[tuple[str, ...]] = ()
    default_psnr_peak: ClassVar[str] = "255"
    psnr_peaks: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, size: int = 256, psnr_peak: str | None = None) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"protocol {self.name}: size must be a whole number >= 1, got {size!r}")
        peak = self.default_psnr_peak if psnr_peak is None else str(psnr_peak)
        allowed = self.psnr_peaks or (self.default_psnr_peak,)
        if peak not in allowed:
            raise ConfigError(
                f"protocol {self.name}: PSNR peak is {self.default_psnr_peak!r} by definition, got {peak!r}; "
                f"use protocol 'ours' for another peak"
                if len(allowed) == 1 else f"protocol {self.name}: psnr_peak must be one of {allowed}, got {peak!r}"
            )
        self.size = int(size)
        self.psnr_peak = peak

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, psnr_peak={self.psnr_peak!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EvaluationProtocol) and self.conventions() == other.conventions()

    def __hash__(self) -> int:
        return hash((self.name, self.size, self.psnr_peak))

    @property
    def shape(self) -> tuple[int, int]:
        """Return ``(size, size)``."""
        return (self.size, self.size)

    @abstractmethod
    def conventions(self) -> dict[str, str]:
        """Return every convention as text (``report.json`` records it)."""

    @abstractmethod
    def read_sample(self, paths: SamplePaths, *, folder: PathType) -> EvaluationSample:
        """
        Read and prepare one test composite as the peer's data pipeline does.

        Raises
        ------
        UnreadableImageError
            When a file cannot be read or decoded.
        DatasetError
            When the files disagree.
        """

    @abstractmethod
    def prediction_from_model(self, prediction: ArrayLike) -> np.ndarray:
        """
        Turn a model output, ``(S, S, 3)`` float in [0, 1], into the scored array (0..255 values).
        """

    @abstractmethod
    def prediction_from_file(self, image: NDArrayUInt8) -> np.ndarray:
        """
        Turn a decoded prediction file, ``(H, W, 3)`` uint8 of any size, into the scored ``(S, S, 3)`` array.
        """

    @abstractmethod
    def score(self, prediction: ArrayLike, sample: EvaluationSample) -> dict[str, float]:
        """
        Return every metric of :data:`~ccharmony.harmonization.metrics.METRIC_NAMES` and ``foreground_ratio``.

        Metrics the protocol does not define are NaN.
        """

    def decode_prediction(self, data: bytes, *, name: str) -> NDArrayUInt8:
        """Decode a prediction file as the peer reads images (default: with EXIF orientation, as ``cv2.imread``)."""
        return decode_rgb_oriented(data, name=name)

    def with_size(self, size: int) -> EvaluationProtocol:
        """Return the same protocol at another evaluation size."""
        return type(self)(size=size, psnr_peak=self.psnr_peak)

    def _check_prediction(self, prediction: ArrayLike) -> np.ndarray:
        array = np.asarray(prediction)
        if array.shape != (self.size, self.size, 3):
            raise ConfigError(
                f"protocol {self.name}: prediction must be ({self.size}, {self.size}, 3), got {array.shape}"
            )
        return array

    def _check_sizes(self, paths: SamplePaths, composite: np.ndarray, mask: np.ndarray) -> None:
        if mask.shape[:2] != composite.shape[:2]:
            raise DatasetError(
                f"{paths.mask}: mask is {mask.shape[1]}x{mask.shape[0]} but the composite is "
                f"{composite.shape[1]}x{composite.shape[0]}"
            )


def combined_sha256(digests: list[str]) -> str:
    """
    Hash a list of hex digests into one (the identity of a test sample).

    Examples
    --------
    >>> combined_sha256(["ab", "cd"])[:12]
    '41b72d4bfcbe'
    """
    return hashlib.sha256("\n".join(digests).encode("ascii")).hexdigest()

