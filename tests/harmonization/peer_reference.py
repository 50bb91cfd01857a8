"""Small independent implementations of the peers' evaluation formulas, for tests and benchmarks only.

The code is ours, written from the mathematical definitions and from the
conventions each peer documents in its evaluation code; no peer code text is
reproduced. Nothing here calls ccharmony, so the protocols of
:mod:`ccharmony.harmonization.protocols` are checked against the formulas, not
against themselves. Each public function names, in its docstring, the peer file
whose convention it reproduces:

-   ``cdtnet_*`` / ``issam_*``: the bcmi and iSSAM protocols
    (SamsungLabs/image_harmonization ``iharm/data/hdataset.py``,
    ``iharm/inference/metrics.py``; bcmi/CDTNet-High-Resolution-Image-Harmonization
    ``iharm/inference/metrics.py`` and ``iharm/inference/pytorch_ssim.py``, the
    same in bcmi/DucoNet-Image-Harmonization).
-   ``iih_*``: zhenglab/IntrinsicHarmony ``evaluation/ih_evaluation.py`` and
    ``evaluation/pytorch_ssim.py`` (the same in zhenglab/HarmonyTransformer).
-   ``ours_*``: the first ``ccharmony benchmark`` (its documented conventions).

Every metric is computed in float64 by default (``dtype=np.float32`` runs the
same formulas in single precision, to show how much float32 rounding moves a
value). SSIM filtering here is :func:`scipy.ndimage.correlate` (zero padding) or
:func:`scipy.ndimage.gaussian_filter` (reflect padding), not the peers'
``F.conv2d``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
from PIL import Image
from scipy import ndimage

METRICS = ("MSE", "fMSE", "PSNR", "fPSNR", "SSIM", "fSSIM")

# ----------------------------------------------------------------------------- shared formulas


def float32_gaussian_window(side: int, sigma: float) -> np.ndarray:
    """
    Return the ``side x side`` Gaussian window with the float32 rounding the peers' window has.

    The taps ``exp(-(i - side // 2)^2 / (2 sigma^2))`` are rounded to float32,
    divided by their float32 sum, and the window is the float32 outer product
    of the taps with themselves (the peers build it as float32 torch tensors,
    CDTNet/IIH ``pytorch_ssim.py``). Its sum is 1 only to about 1e-7, which
    IIH's tiny ``C2`` makes visible (~1e-4 in SSIM), so the rounding is kept.
    """
    offsets = np.arange(side, dtype=np.float64) - side // 2
    profile = torch.from_numpy(np.exp(-(offsets**2) / (2.0 * sigma * sigma))).to(torch.float32)
    profile = profile / profile.sum()
    return (profile.view(-1, 1) * profile.view(1, -1)).numpy()


def _zero_padded_moments(a: np.ndarray, b: np.ndarray, window: np.ndarray, dtype) -> tuple[np.ndarray, ...]:
    """Per channel: local means, variances and covariance under ``window``, zeros outside the image."""
    w = window.astype(dtype)

    def local(values: np.ndarray) -> np.ndarray:
        planes = [ndimage.correlate(values[..., c], w, mode="constant", cval=0.0) for c in range(values.shape[-1])]
        return np.stack(planes, axis=-1)

    mean_a, mean_b = local(a), local(b)
    var_a = local(a * a) - mean_a * mean_a
    var_b = local(b * b) - mean_b * mean_b
    cov = local(a * b) - mean_a * mean_b
    return mean_a, mean_b, var_a, var_b, cov


def ssim_index_map(mean_a, mean_b, var_a, var_b, cov, c1: float, c2: float) -> np.ndarray:
    """The SSIM index of Wang et al. (2004) from local moments: luminance term times contrast-structure term."""
    luminance = (2.0 * mean_a * mean_b + c1) / (mean_a**2 + mean_b**2 + c1)
    structure = (2.0 * cov + c2) / (var_a + var_b + c2)
    return luminance * structure


def foreground_average(index_map: np.ndarray, mask: np.ndarray) -> float:
    """Average over channels of the mask-weighted mean of each channel's map (a soft mask weighs pixels)."""
    weights = np.asarray(mask, dtype=np.float64)
    per_channel = np.tensordot(weights, index_map.astype(np.float64), axes=([0, 1], [0, 1])) / weights.sum()
    return float(per_channel.mean())


def _as(dtype, *arrays):
    return [np.asarray(array, dtype=dtype) for array in arrays]


# ----------------------------------------------------------------------------- bcmi / iSSAM


def cdtnet_read(composite_path: str, real_path: str, mask_path: str, size: int = 256):
    """
    Read a triplet with iSSAM's / CDTNet's conventions: ``(composite, real, mask)`` at ``size``.

    Convention of SamsungLabs/image_harmonization ``iharm/data/hdataset.py``
    (read with OpenCV, BGR turned to RGB; the mask is the *first* OpenCV
    channel, i.e. blue, divided by 255 as float32) followed by albumentations
    ``Resize`` through ``HCompose(no_nearest_for_masks=True)``: all three
    arrays resized bilinearly (``cv2.INTER_LINEAR``), the mask as a soft float
    map, the images as uint8.
    """
    def rgb(path: str) -> np.ndarray:
        return np.ascontiguousarray(cv2.imread(path, cv2.IMREAD_COLOR)[:, :, ::-1])

    mask = cv2.imread(mask_path, cv2.IMREAD_COLOR)[:, :, 0].astype(np.float32) / np.float32(255.0)
    arrays = [rgb(composite_path), rgb(real_path), mask]
    return tuple(a if a.shape[:2] == (size, size) else cv2.resize(a, (size, size), interpolation=cv2.INTER_LINEAR)
                 for a in arrays)


def cdtnet_prediction(network_output: np.ndarray) -> np.ndarray:
    """iSSAM's ``Predictor``: the [0, 1] output scaled to 0..255 and clamped, kept as float (``iharm/inference/predictor.py``)."""
    return np.clip(np.asarray(network_output, dtype=np.float32) * np.float32(255.0), 0.0, 255.0)


def issam_scores(pred, real, mask, dtype=np.float64) -> dict[str, float]:
    """
    MSE, fMSE and PSNR as iSSAM defines them (SamsungLabs/image_harmonization ``iharm/inference/metrics.py``).

    ``MSE`` is the mean squared error over pixels and channels; ``fMSE`` the
    mask-weighted squared error divided by ``3 sum(mask) + 1e-6``; ``PSNR =
    10 log10(max(real)^2 / (MSE + 1e-6))`` (the peak is the real image's
    maximum, not 255).
    """
    pred, real, mask = _as(dtype, pred, real, mask)
    squared = (pred - real) ** 2
    mse = float(squared.mean())
    weighted = float((squared * mask[..., None]).sum())
    fmse = weighted / (squared.shape[-1] * float(mask.sum()) + 1e-6)
    peak_squared = float(real.max()) ** 2
    return {"MSE": mse, "fMSE": fmse, "PSNR": 10.0 * math.log10(peak_squared / (mse + 1e-6)),
            "fPSNR": math.nan, "SSIM": math.nan, "fSSIM": math.nan}


def cdtnet_ssim(pred, real, mask, *, data_range: float | None = None, dtype=np.float64) -> tuple[float, float]:
    """
    CDTNet's ``(SSIM, fSSIM)`` (bcmi/CDTNet-High-Resolution-Image-Harmonization ``iharm/inference/metrics.py``
    calling ``iharm/inference/pytorch_ssim.py``).

    A 7x7 Gaussian window (sigma 1.5, :func:`float32_gaussian_window`), zero
    padding, ``C1 = (0.01 L)^2`` and ``C2 = (0.03 L)^2`` with ``L = max(pred) -
    min(pred)`` over the whole prediction (``data_range`` overrides it); SSIM
    is the mean of the index map, fSSIM its soft-mask-weighted mean per
    channel, averaged over channels.
    """
    pred, real = _as(dtype, pred, real)
    span = float(pred.max() - pred.min()) if data_range is None else float(data_range)
    moments = _zero_padded_moments(pred, real, float32_gaussian_window(7, 1.5), dtype)
    index = ssim_index_map(*moments, (0.01 * span) ** 2, (0.03 * span) ** 2)
    return float(index.mean()), foreground_average(index, mask)


def cdtnet_scores(pred, real, mask, dtype=np.float64) -> dict[str, float]:
    """The bcmi protocol: iSSAM's MSE/fMSE/PSNR plus CDTNet's ``fPSNR = 10 log10(max(real)^2 / (fMSE + 1e-6))``, SSIM, fSSIM."""
    scores = issam_scores(pred, real, mask, dtype)
    peak_squared = float(np.asarray(real, dtype=dtype).max()) ** 2
    ssim, fssim = cdtnet_ssim(pred, real, mask, dtype=dtype)
    scores.update({"fPSNR": 10.0 * math.log10(peak_squared / (scores["fMSE"] + 1e-6)), "SSIM": ssim, "fSSIM": fssim})
    return scores


# ----------------------------------------------------------------------------- iih


def iih_read(harmonized_path: str, real_path: str, mask_path: str, size: int = 256):
    """
    Read a triplet as IIH's evaluation does (zhenglab/IntrinsicHarmony ``evaluation/ih_evaluation.py``).

    Pillow: images converted to RGB, the mask to a 1-bit image; when the
    *mask's width* is not ``size``, all three are resized to ``size x size``
    with ``Image.BICUBIC`` (Pillow resizes a 1-bit image with nearest
    neighbour whatever filter is asked for). Returns float32 RGB arrays and
    a 0/1 float32 mask.
    """
    harmonized = Image.open(harmonized_path).convert("RGB")
    real = Image.open(real_path).convert("RGB")
    mask = Image.open(mask_path).convert("1")
    if mask.width != size:
        harmonized, real, mask = (image.resize((size, size), Image.BICUBIC) for image in (harmonized, real, mask))
    binary = (np.asarray(mask) > 0).astype(np.float32)
    return np.asarray(harmonized, dtype=np.float32), np.asarray(real, dtype=np.float32), binary


def iih_prediction(network_output: np.ndarray) -> np.ndarray:
    """IIH's ``tensor2im``: 255 x, clipped, cast to uint8 (truncation, not rounding); as float32."""
    scaled = np.clip(np.asarray(network_output, dtype=np.float32) * np.float32(255.0), 0.0, 255.0)
    return np.floor(scaled).astype(np.float32)


def iih_scores(pred, real, mask, dtype=np.float64) -> dict[str, float]:
    """
    IIH's per-image metrics (zhenglab/IntrinsicHarmony ``evaluation/ih_evaluation.py``, ``evaluation/pytorch_ssim.py``).

    ``MSE`` the plain mean; ``PSNR = 10 log10(255^2 / MSE)`` (skimage, peak
    255, no epsilon); ``fMSE = mean((m (pred - real))^2) H W / sum(m)`` (the
    script hard-codes ``H W = 256 x 256``, its only size), ``fPSNR = 10
    log10(255^2 / fMSE)``; SSIM with an 11x11 Gaussian window (sigma 1.5),
    zero padding, ``C1 = 0.01^2``, ``C2 = 0.03^2`` on 0..255 values (no data
    range), fSSIM the mask-weighted mean per channel averaged over channels.
    """
    pred, real, mask = _as(dtype, pred, real, mask)
    squared = (pred - real) ** 2
    mse = float(squared.mean())
    height, width = mask.shape
    fmse = float(((mask[..., None] * (pred - real)) ** 2).mean()) * height * width / float(mask.sum())
    moments = _zero_padded_moments(pred, real, float32_gaussian_window(11, 1.5), dtype)
    index = ssim_index_map(*moments, 0.01**2, 0.03**2)
    return {"MSE": mse, "fMSE": fmse, "PSNR": 10.0 * math.log10(255.0**2 / mse),
            "fPSNR": 10.0 * math.log10(255.0**2 / fmse), "SSIM": float(index.mean()),
            "fSSIM": foreground_average(index, mask)}


# ----------------------------------------------------------------------------- ours


def ours_read(composite_path: str, real_path: str, mask_path: str, size: int = 256):
    """
    Read a triplet with the first ``ccharmony benchmark``'s documented conventions.

    OpenCV decoding to RGB; the mask is the grey level above 127; a real
    image of another size is first resized (bilinear) to the composite's
    size; composite and real resized bilinearly on uint8, the mask with
    nearest neighbour. Returns uint8 images and a boolean mask.
    """
    def decode(path: str, flag: int) -> np.ndarray:
        return cv2.imdecode(np.fromfile(path, dtype=np.uint8), flag)

    composite = np.ascontiguousarray(decode(composite_path, cv2.IMREAD_COLOR)[:, :, ::-1])
    real = np.ascontiguousarray(decode(real_path, cv2.IMREAD_COLOR)[:, :, ::-1])
    grey = decode(mask_path, cv2.IMREAD_GRAYSCALE)
    height, width = composite.shape[:2]
    if real.shape[:2] != (height, width):
        real = cv2.resize(real, (width, height), interpolation=cv2.INTER_LINEAR)
    composite, real = (cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR) for image in (composite, real))
    mask = cv2.resize((grey > 127).astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST) > 0
    return composite, real, mask


def ours_prediction(network_output: np.ndarray) -> np.ndarray:
    """Round ``255 x`` to the nearest integer and clip to 0..255 (uint8)."""
    return np.clip(np.rint(np.asarray(network_output, dtype=np.float32) * np.float32(255.0)), 0, 255).astype(np.uint8)


def ours_scores(pred, real, mask, *, peak: float | None = 255.0, dtype=np.float64) -> dict[str, float]:
    """
    The first ``ccharmony benchmark``'s metrics, from their definitions.

    fMSE without epsilon (0 for an empty mask); PSNR peak 255 (``peak=None``:
    ``max(real)``); SSIM of Wang et al. (2004) with Gaussian weights (sigma
    1.5, truncated at 3.5 sigma: an 11x11 support), *reflect* padding,
    population (co)variances, ``C1 = (0.01 x 255)^2``, ``C2 = (0.03 x
    255)^2``, each channel's map averaged without a 5-pixel border, then over
    channels; fSSIM the channel-mean map averaged over the hard mask.
    """
    pred, real = _as(dtype, pred, real)
    mask = np.asarray(mask, dtype=np.float64)
    squared = (pred - real) ** 2
    mse = float(squared.mean())
    area = float(mask.sum())
    fmse = float((squared * mask[..., None]).sum()) / (3.0 * area) if area else 0.0
    top = 255.0 if peak is not None else float(real.max())

    def blur(values: np.ndarray) -> np.ndarray:
        return np.stack([ndimage.gaussian_filter(values[..., c], sigma=1.5, truncate=3.5, mode="reflect")
                         for c in range(values.shape[-1])], axis=-1)

    mean_a, mean_b = blur(pred), blur(real)
    index = ssim_index_map(mean_a, mean_b, blur(pred * pred) - mean_a**2, blur(real * real) - mean_b**2,
                           blur(pred * real) - mean_a * mean_b, (0.01 * 255.0) ** 2, (0.03 * 255.0) ** 2)
    border = 5
    ssim = float(np.mean([index[border:-border, border:-border, c].mean(dtype=np.float64)
                          for c in range(index.shape[-1])]))
    channel_mean = index.mean(axis=2)
    fssim = float((channel_mean * mask).sum() / area) if area else math.nan
    return {"MSE": mse, "fMSE": fmse, "PSNR": 10.0 * math.log10(top**2 / max(mse, 1e-10)),
            "fPSNR": 10.0 * math.log10(top**2 / max(fmse, 1e-10)), "SSIM": ssim, "fSSIM": fssim}


# ----------------------------------------------------------------------------- dispatch


def read(protocol: str, composite_path: str, real_path: str, mask_path: str, size: int = 256):
    """The protocol's reader (bcmi and issam read alike)."""
    readers = {"bcmi": cdtnet_read, "issam": cdtnet_read, "iih": iih_read, "ours": ours_read}
    return readers[protocol](composite_path, real_path, mask_path, size)


def prediction(protocol: str, network_output: np.ndarray) -> np.ndarray:
    """The protocol's conversion of a [0, 1] network output to the values it scores."""
    converters = {"bcmi": cdtnet_prediction, "issam": cdtnet_prediction, "iih": iih_prediction,
                  "ours": ours_prediction}
    return converters[protocol](network_output)


def scores(protocol: str, pred, real, mask, dtype=np.float64) -> dict[str, float]:
    """The protocol's six metrics (NaN where the protocol has none)."""
    if protocol == "ours":
        return ours_scores(pred, real, mask, dtype=dtype)
    scorers = {"bcmi": cdtnet_scores, "issam": issam_scores, "iih": iih_scores}
    return scorers[protocol](pred, real, mask, dtype)
