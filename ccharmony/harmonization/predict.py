"""
Prediction and evaluation
=========================

Apply harmonization models and score them:

-   :func:`load_model`: rebuild a model from a checkpoint of
    :func:`~ccharmony.harmonization.engine.train`.
-   :func:`predict_batch`: run a model on a batch, optionally at a lower
    inference size with the colour change up-sampled to the input size.
-   :func:`harmonize`: harmonize one composite of any size (the
    ``ccharmony harmonize`` command).
-   :func:`evaluate`: per-image metrics of a model on a test set under an
    evaluation protocol (:mod:`ccharmony.harmonization.protocols`).
-   :func:`score_prediction_folder`: re-score saved prediction PNGs.
-   :func:`to_uint8`: 8-bit quantisation of images in [0, 1].
-   :func:`scored_to_uint8`: the 8-bit image of a scored prediction.

The protocol decides how a model's output is scored: a float clamped to
[0, 255] (``bcmi``, ``issam``, as the peers score their networks), or uint8
(``ours``: rounded, so that PNGs written with ``--save-predictions``
reproduce the scores exactly; ``iih``: truncated).

References
----------
-   :cite:`Sofiiuk2021` : Sofiiuk, K., Popenova, P., & Konushin, A. (2021).
    Foreground-aware Semantic Representations for Image Harmonization. WACV
    2021, 1620-1629. doi:10.1109/WACV48630.2021.00166
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ccharmony._types import ArrayLike, NDArrayUInt8, PathType
from ccharmony.errors import ConfigError, DatasetError
from ccharmony.harmonization.data import HarmonizationDataset
from ccharmony.harmonization.engine import resolve_device
from ccharmony.harmonization.protocols import (
    DEFAULT_PROTOCOL,
    EvaluationProtocol,
    EvaluationSample,
    get_protocol,
    read_samples,
)
from ccharmony.harmonization.protocols.base import read_file_bytes_hashed

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "load_model",
    "predict_batch",
    "harmonize",
    "evaluate",
    "score_prediction_folder",
    "scored_to_uint8",
    "to_uint8",
]


def load_model(checkpoint: PathType, *, device: str = "cpu") -> tuple[nn.Module, dict]:
    """
    Rebuild a trained model from a checkpoint.

    Parameters
    ----------
    checkpoint
        ``.pt`` file written by :func:`~ccharmony.harmonization.engine.train`
        with ``model_name`` and ``model_options`` metadata.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    tuple
        ``(model in eval mode on the device, checkpoint metadata)``.

    Raises
    ------
    ConfigError
        When the file is missing, not a regular file, not a ccharmony
        checkpoint, or holds bad options or weights that do not fit the model
        (:func:`~ccharmony.harmonization.checkpoint.read_checkpoint`).
    """
    from ccharmony.harmonization.checkpoint import build_from_checkpoint, read_checkpoint

    path = Path(checkpoint)
    if not os.path.lexists(path):
        raise ConfigError(f"{path}: checkpoint not found")
    target = resolve_device(device)
    state = read_checkpoint(path, device=target)
    model = build_from_checkpoint(state)
    return model.to(target).eval(), dict(state.meta)


@torch.no_grad()
def predict_batch(
    model: nn.Module,
    images: torch.Tensor,
    masks: torch.Tensor,
    *,
    inference_size: int | None = None,
) -> torch.Tensor:
    """
    Harmonize a batch, optionally running the model at a lower size.

    Parameters
    ----------
    model
        ``forward(images, masks) -> {"images": ...}``, in eval mode.
    images
        ``(B, 3, H, W)`` composites in [0, 1].
    masks
        ``(B, 1, H, W)`` masks in {0, 1}.
    inference_size
        Run the model on ``inference_size`` squares when smaller than
        ``H x W``, then add the up-sampled (bilinear) change
        ``pred_small - images_small`` to the full-size input; ``None`` runs at
        the input size.

    Returns
    -------
    Tensor
        ``(B, 3, H, W)`` in [0, 1].

    Notes
    -----
    Harmonization changes colours smoothly, so the low-resolution change
    transfers to the full size; this lets a model trained at 128 be evaluated
    at 256 (the CPU preset).
    """
    height, width = images.shape[-2:]
    if inference_size is None or (inference_size >= height and inference_size >= width):
        return model(images, masks)["images"].float().clamp(0.0, 1.0)
    size = (int(inference_size), int(inference_size))
    small = F.interpolate(images, size=size, mode="area")
    small_mask = (F.interpolate(masks, size=size, mode="area") > 0.5).to(masks.dtype)
    change = model(small, small_mask)["images"].float() - small
    change = F.interpolate(change, size=(height, width), mode="bilinear", align_corners=False)
    return (images + change).clamp(0.0, 1.0)


def to_uint8(image: torch.Tensor | ArrayLike) -> NDArrayUInt8:
    """
    Quantise ``(3, H, W)`` tensors or ``(H, W, 3)`` arrays in [0, 1] to 8-bit ``(H, W, 3)``.

    Examples
    --------
    >>> to_uint8(np.full((1, 1, 3), 0.5)).tolist()
    [[[128, 128, 128]]]
    """
    if torch.is_tensor(image):
        array = image.detach().float().cpu().numpy().transpose(1, 2, 0)
    else:
        array = np.asarray(image, dtype=np.float64)
    return np.clip(np.round(array * 255.0), 0, 255).astype(np.uint8)


def harmonize(
    composite: ArrayLike,
    mask: ArrayLike,
    *,
    model: nn.Module,
    inference_size: int = 256,
    device: str = "cpu",
) -> NDArrayUInt8:
    """
    Harmonize one composite of any size.

    Parameters
    ----------
    composite
        ``(H, W, 3)`` uint8 sRGB composite.
    mask
        ``(H, W)`` foreground mask (bool, or values above 127 of 255).
    model
        Model in eval mode (e.g. from :func:`load_model`).
    inference_size
        Side of the square the model sees (the training size).
    device
        Device of the model.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` uint8: the composite with its foreground harmonized (the
        background is kept bit-exactly).

    Raises
    ------
    ConfigError
        When the shapes do not match.

    Notes
    -----
    Domain/Range: 8-bit sRGB, [0, 255].
    """
    image = np.asarray(composite)
    mask_array = np.asarray(mask)
    if mask_array.dtype != np.bool_:
        mask_array = mask_array > (127 if mask_array.max(initial=0) > 1 else 0.5)
    if image.ndim != 3 or image.shape[2] != 3 or mask_array.shape != image.shape[:2]:
        raise ConfigError(
            f"composite must be (H, W, 3) and mask (H, W) of the same size, got {image.shape} and "
            f"{mask_array.shape}"
        )
    target = resolve_device(device)
    images = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float().div(255.0)[None]
    masks = torch.from_numpy(mask_array.astype(np.float32))[None, None]
    height, width = image.shape[:2]
    size = (int(inference_size), int(inference_size))
    with torch.no_grad():
        small = F.interpolate(images, size=size, mode="area" if height >= size[0] else "bilinear")
        small_mask = (F.interpolate(masks, size=size, mode="area" if height >= size[0] else "nearest") > 0.5).float()
        prediction = model(small.to(target), small_mask.to(target))["images"].float().cpu()
        change = F.interpolate(prediction - small, size=(height, width), mode="bilinear", align_corners=False)
    out = to_uint8((images[0] + change[0]).clamp(0.0, 1.0))
    return np.where(mask_array[..., None], out, image.astype(np.uint8))


def _resolve_protocol(
    protocol: str | EvaluationProtocol | None, psnr_peak: str | None, size: int
) -> EvaluationProtocol:
    if protocol is None and psnr_peak is not None:
        # The first benchmark's call (a peak, no protocol): its own conventions.
        return get_protocol("ours", size=size, psnr_peak=psnr_peak)
    return get_protocol(DEFAULT_PROTOCOL if protocol is None else protocol, size=size, psnr_peak=psnr_peak)


def scored_to_uint8(prediction: np.ndarray) -> NDArrayUInt8:
    """
    Return the 8-bit image of a scored prediction (0..255 values), rounded.

    For the uint8 protocols (``ours``, ``iih``) this is exactly the array
    scored, so a saved PNG re-scores to the same numbers.

    Examples
    --------
    >>> scored_to_uint8(np.array([[[0.4, 127.5, 300.0]]])).tolist()
    [[[0, 128, 255]]]
    """
    return np.clip(np.round(np.asarray(prediction, dtype=np.float64)), 0, 255).astype(np.uint8)


def evaluate(
    model: nn.Module,
    dataset: HarmonizationDataset,
    *,
    device: str = "cpu",
    batch_size: int = 8,
    inference_size: int | None = None,
    protocol: str | EvaluationProtocol | None = None,
    psnr_peak: str | None = None,
    on_prediction: Callable[[str, NDArrayUInt8], None] | None = None,
    samples: Sequence[EvaluationSample] | None = None,
    seed: int | None = None,
) -> list[dict[str, float | str]]:
    """
    Score a model on every image of an evaluation dataset under a protocol.

    Parameters
    ----------
    model
        Model (moved to ``device`` and put in eval mode, in place).
    dataset
        :class:`~ccharmony.harmonization.data.HarmonizationDataset` with
        ``train=False``: its files and its ``size`` (the evaluation size, 256
        in the field) are used; the protocol reads and resizes the files.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    batch_size
        Images per forward pass.
    inference_size
        See :func:`predict_batch`.
    protocol
        A protocol name of :data:`~ccharmony.harmonization.protocols.PROTOCOLS`
        or a protocol (default ``bcmi``); with only ``psnr_peak`` given, the
        ``ours`` protocol with that peak (the first benchmark's call).
    psnr_peak
        ``"255"`` or ``"max-real"``, for the ``ours`` protocol.
    on_prediction
        Called with ``(name, uint8 prediction)`` for each image (saving,
        picture grids): :func:`scored_to_uint8` of the scored array.
    samples
        The test samples already read with this protocol
        (:func:`~ccharmony.harmonization.protocols.read_samples`), to share
        them between models; read here when ``None``.
    seed
        Training seed of the model, copied into every row (``seed`` key) for
        multi-seed reports.

    Returns
    -------
    list of dict
        One dict per image: ``name``, ``photo``, ``sha256``, every metric of
        :data:`~ccharmony.harmonization.metrics.METRIC_NAMES` and
        ``foreground_ratio`` (and ``seed`` when given).

    Raises
    ------
    DatasetError
        When the dataset augments (``train=True``) or ``samples`` does not
        match it.
    ConfigError
        For an unknown protocol or a peak it does not allow.

    Notes
    -----
    The model sees the protocol's composite (uint8 / 255) and mask (soft for
    ``bcmi`` and ``issam``, as the peers feed their networks); its output in
    [0, 1] becomes the scored array by the protocol's rule (a clamped float
    for ``bcmi``/``issam``, uint8 for ``ours``/``iih``).
    """
    if dataset.train:
        raise DatasetError(f"{dataset.folder}: evaluate needs a dataset built with train=False")
    chosen = _resolve_protocol(protocol, psnr_peak, dataset.size)
    if samples is not None and [sample.name for sample in samples] != dataset.names:
        raise DatasetError(f"{dataset.folder}: the samples given are not the dataset's {len(dataset)} composites")
    target = resolve_device(device)
    model.to(target).eval()
    rows: list[dict[str, float | str]] = []
    step = max(1, int(batch_size))
    for start in range(0, len(dataset), step):
        # Without shared samples, read one batch at a time (memory independent of the test set's size).
        chunk = (samples[start:start + step] if samples is not None
                 else read_samples(dataset.folder, dataset.paths[start:start + step], chosen))
        images = torch.from_numpy(np.stack([sample.composite for sample in chunk]).transpose(0, 3, 1, 2).copy())
        images = images.float().div_(255.0)
        masks = torch.from_numpy(np.stack([sample.mask for sample in chunk]).astype(np.float32))[:, None]
        predictions = predict_batch(model, images.to(target), masks.to(target), inference_size=inference_size).cpu()
        for offset, sample in enumerate(chunk):
            scored = chosen.prediction_from_model(predictions[offset].numpy().transpose(1, 2, 0))
            if on_prediction is not None:
                on_prediction(sample.name, scored_to_uint8(scored))
            row: dict[str, float | str] = {"name": sample.name, "photo": sample.photo, "sha256": sample.sha256,
                                           **chosen.score(scored, sample)}
            if seed is not None:
                row["seed"] = int(seed)
            rows.append(row)
    return rows


def score_prediction_folder(
    folder: PathType,
    dataset: HarmonizationDataset,
    *,
    psnr_peak: str | None = None,
    protocol: str | EvaluationProtocol | None = None,
) -> list[dict[str, float | str]]:
    """
    Re-score saved predictions (``<folder>/<name>.png``) against a dataset.

    Parameters
    ----------
    folder
        Folder of 8-bit RGB PNGs named after the composites (as
        ``--save-predictions`` writes them).
    dataset
        The evaluation dataset they were predicted on (``train=False``).
    psnr_peak, protocol
        As :func:`evaluate`, except that without ``protocol`` this is the
        ``ours`` protocol (peak ``psnr_peak``, default 255): the conventions
        of the run folders this function was written for. Pass the run's
        protocol for other runs.

    Returns
    -------
    list of dict
        As :func:`evaluate`.

    Raises
    ------
    UnreadableImageError
        When a prediction is missing or unreadable.

    Notes
    -----
    A prediction not at the evaluation size is resized by the protocol's rule;
    for predictions of any method, any size, JPEG or PNG, with missing and
    extra files listed, use
    :func:`ccharmony.harmonization.scoring.score_predictions`.
    """
    chosen = _resolve_protocol(protocol, "255" if protocol is None and psnr_peak is None else psnr_peak,
                               dataset.size)
    rows: list[dict[str, float | str]] = []
    for sample in read_samples(dataset.folder, dataset.paths, chosen):
        path = Path(folder) / f"{sample.name}.png"
        data, _ = read_file_bytes_hashed(path)
        prediction = chosen.prediction_from_file(chosen.decode_prediction(data, name=str(path)))
        rows.append({"name": sample.name, "photo": sample.photo, "sha256": sample.sha256,
                     **chosen.score(prediction, sample)})
    return rows
