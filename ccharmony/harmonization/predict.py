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
-   :func:`evaluate`: per-image metrics of a model on a test set at 256x256.
-   :func:`score_prediction_folder`: re-score saved prediction PNGs.
-   :func:`to_uint8`: the quantisation every score is computed on.

Predictions are quantised to 8 bits (``round(clip(255 x))``) before scoring,
so that the PNGs written with ``--save-predictions`` reproduce the scores.

References
----------
-   :cite:`Sofiiuk2021` : Sofiiuk, K., Popenova, P., & Konushin, A. (2021).
    Foreground-aware Semantic Representations for Image Harmonization. WACV
    2021, 1620-1629. doi:10.1109/WACV48630.2021.00166
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ccharmony._types import ArrayLike, NDArrayUInt8, PathType
from ccharmony.errors import ConfigError, DatasetError
from ccharmony.harmonization.data import HarmonizationDataset, make_loader, read_rgb
from ccharmony.harmonization.engine import CHECKPOINT_FORMAT, resolve_device
from ccharmony.harmonization.metrics import score_image
from ccharmony.harmonization.models import ModelOptions, build_model

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "load_model",
    "predict_batch",
    "harmonize",
    "evaluate",
    "score_prediction_folder",
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
        When the file is missing or not a ccharmony checkpoint.
    """
    path = Path(checkpoint)
    if not path.is_file():
        raise ConfigError(f"{path}: checkpoint not found")
    target = resolve_device(device)
    try:
        state = torch.load(path, map_location=target, weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling failure is a bad file
        raise ConfigError(f"{path}: not a readable checkpoint ({type(error).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT or "model_name" not in state:
        raise ConfigError(f"{path}: not a ccharmony harmonization checkpoint (format {CHECKPOINT_FORMAT})")
    model = build_model(state["model_name"], ModelOptions.from_dict(state.get("model_options", {})))
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        raise ConfigError(f"{path}: weights do not match model {state['model_name']!r}: {error}") from None
    meta = {key: value for key, value in state.items() if key not in ("model", "optimizer", "scheduler", "scaler")}
    return model.to(target).eval(), meta


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


def evaluate(
    model: nn.Module,
    dataset: HarmonizationDataset,
    *,
    device: str = "cpu",
    batch_size: int = 8,
    inference_size: int | None = None,
    psnr_peak: str = "255",
    on_prediction: Callable[[str, NDArrayUInt8], None] | None = None,
) -> list[dict[str, float | str]]:
    """
    Score a model on every image of an evaluation dataset.

    Parameters
    ----------
    model
        Model (moved to ``device`` and put in eval mode, in place).
    dataset
        :class:`~ccharmony.harmonization.data.HarmonizationDataset` with
        ``train=False`` (the field evaluates at ``size=256``).
    device
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    batch_size
        Images per forward pass.
    inference_size
        See :func:`predict_batch`.
    psnr_peak
        ``"255"`` or ``"max-real"``.
    on_prediction
        Called with ``(name, uint8 prediction)`` for each image (saving,
        picture grids).

    Returns
    -------
    list of dict
        One dict per image: ``name`` and every metric of
        :func:`~ccharmony.harmonization.metrics.score_image`.

    Raises
    ------
    DatasetError
        When the dataset augments (``train=True``).
    """
    if dataset.train:
        raise DatasetError(f"{dataset.folder}: evaluate needs a dataset built with train=False")
    target = resolve_device(device)
    model.to(target).eval()
    loader = make_loader(dataset, batch_size=batch_size, shuffle=False)
    rows: list[dict[str, float | str]] = []
    names = dataset.names
    for batch in loader:
        predictions = predict_batch(
            model, batch["images"].to(target), batch["masks"].to(target), inference_size=inference_size
        ).cpu()
        for offset, index in enumerate(batch["index"].tolist()):
            _, real, mask = dataset.read(index)
            prediction = to_uint8(predictions[offset])
            if on_prediction is not None:
                on_prediction(names[index], prediction)
            rows.append({"name": names[index], **score_image(prediction, real, mask, psnr_peak=psnr_peak)})
    return rows


def score_prediction_folder(
    folder: PathType,
    dataset: HarmonizationDataset,
    *,
    psnr_peak: str = "255",
) -> list[dict[str, float | str]]:
    """
    Re-score saved prediction PNGs (``<folder>/<name>.png``) against a dataset.

    Parameters
    ----------
    folder
        Folder of 8-bit RGB PNGs named after the composites.
    dataset
        The evaluation dataset they were predicted on (``train=False``).
    psnr_peak
        ``"255"`` or ``"max-real"``.

    Returns
    -------
    list of dict
        As :func:`evaluate`.

    Raises
    ------
    UnreadableImageError
        When a prediction is missing or unreadable.
    DatasetError
        When a prediction's size differs from the evaluation size.
    """
    rows: list[dict[str, float | str]] = []
    for index, name in enumerate(dataset.names):
        prediction = read_rgb(Path(folder) / f"{name}.png")
        _, real, mask = dataset.read(index)
        if prediction.shape != real.shape:
            raise DatasetError(f"{Path(folder) / (name + '.png')}: size {prediction.shape} != {real.shape}")
        rows.append({"name": name, **score_image(prediction, real, mask, psnr_peak=psnr_peak)})
    return rows
