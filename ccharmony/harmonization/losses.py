"""
Training losses
===============

Define the training losses; each declares the keys it reads from the model
outputs (``pred_keys``) and from the batch (``gt_keys``), so that the engine
routes tensors generically (the iSSAM convention, :cite:`Sofiiuk2021`):

-   :class:`MaskWeightedMSE`: the foreground-normalised MSE of the field,
    ``sum((pred - real)^2) / (3 max(sum(mask), A_min))`` per image.
-   :class:`ImageMSE`: the plain MSE (reconstruction teacher).
-   :class:`RelationDistillation`: the distance (L1 or L2, over the background
    or every pixel) between the student's relation maps on the composite and
    the frozen teacher's on the real image :cite:`Niu2023`.
-   :class:`RelationDistillationL1`: the same, L1 over every pixel (the
    engine's default term).
-   :class:`LossTerm`, :func:`compute_loss`: a weighted sum of terms.
-   :func:`model_loss_terms`: the terms a model definition asks for.

Losses work on the model's scale, RGB in [0, 1] (the field's 0..255 metrics
are for evaluation only).

References
----------
-   :cite:`Sofiiuk2021` : Sofiiuk, K., Popenova, P., & Konushin, A. (2021).
    Foreground-aware Semantic Representations for Image Harmonization. WACV
    2021, 1620-1629. doi:10.1109/WACV48630.2021.00166
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ccharmony.errors import ConfigError
from ccharmony.harmonization.models.config import ModelConfig

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "MaskWeightedMSE",
    "ImageMSE",
    "RelationDistillation",
    "RelationDistillationL1",
    "LossTerm",
    "compute_loss",
    "model_loss_terms",
]


class MaskWeightedMSE(nn.Module):
    """
    Compute the foreground-normalised MSE of :cite:`Sofiiuk2021`.

    Parameters
    ----------
    min_area
        ``A_min``, the least foreground area in pixels of the training size,
        so that tiny foregrounds do not dominate. 100 by default: DucoNet's
        value at 256x256 (bcmi/DucoNet-Image-Harmonization
        ``models/DucoNet_256.py``, ``MaskWeightedMSE(min_area=100)``); iSSAM
        trains with its class default 1000 (SamsungLabs/image_harmonization
        ``iharm/model/losses.py``, used as ``MaskWeightedMSE()`` in
        ``models/fixed256/improved_ssam.py``).

    Notes
    -----
    Per image, ``sum_{x,c} (pred - real)^2 / (3 max(sum_x mask, A_min))``;
    the batch loss is the mean over images. The error is summed over the whole
    image: outside the mask the fused output should equal the input, which
    equals the real image.

    Domain: RGB in [0, 1]. Range: [0, inf).

    References
    ----------
    :cite:`Sofiiuk2021`

    Examples
    --------
    >>> loss = MaskWeightedMSE(min_area=1.0)
    >>> pred = torch.zeros(1, 3, 2, 2); real = torch.zeros(1, 3, 2, 2)
    >>> pred[0, :, 0, 0] = 0.5
    >>> mask = torch.zeros(1, 1, 2, 2); mask[0, 0, 0, :] = 1
    >>> float(loss(pred, real, mask))
    0.125
    """

    pred_keys = ("images",)
    gt_keys = ("target_images", "masks")

    def __init__(self, min_area: float = 100.0) -> None:
        super().__init__()
        if min_area < 0:
            raise ConfigError(f"MaskWeightedMSE: min_area must be >= 0, got {min_area}")
        self.min_area = float(min_area)

    def forward(self, pred: torch.Tensor, real: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return the batch-mean foreground-normalised MSE."""
        error = ((pred.float() - real.float()) ** 2).sum(dim=(1, 2, 3))
        area = mask.float().sum(dim=(1, 2, 3)).clamp_min(max(self.min_area, 1e-6))
        return (error / (pred.shape[1] * area)).mean()


class ImageMSE(nn.Module):
    """
    Compute the mean squared error over the whole image.

    Notes
    -----
    Domain: RGB in [0, 1]. Range: [0, 1] (times the number of predictions).

    A list of predictions (a
    :class:`~ccharmony.harmonization.models.registry.TeacherSet`'s) gives the
    sum of their errors, so that each is trained on its own.

    Examples
    --------
    >>> float(ImageMSE()(torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)))
    1.0
    >>> float(ImageMSE()([torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)], torch.zeros(1, 3, 2, 2)))
    1.0
    """

    pred_keys = ("images",)
    gt_keys = ("target_images",)

    def forward(self, pred: torch.Tensor | Sequence[torch.Tensor], real: torch.Tensor) -> torch.Tensor:
        """Return the mean squared error (summed over a list of predictions)."""
        if isinstance(pred, torch.Tensor):
            return ((pred.float() - real.float()) ** 2).mean()
        return torch.stack([((p.float() - real.float()) ** 2).mean() for p in pred]).sum()


RelationMaps = Sequence[torch.Tensor] | Mapping[str, torch.Tensor]


def _pair(student: RelationMaps, teacher: RelationMaps, name: str) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """Pair student and teacher maps: by key for dicts, by position for lists."""
    if isinstance(student, Mapping):
        if not isinstance(teacher, Mapping):
            raise ConfigError(f"{name}: the student's relation maps are keyed but the teacher's are a list; "
                              "build the teacher with build_teacher(<student>)")
        missing = [key for key in student if key not in teacher]
        if missing or not student:
            raise ConfigError(f"{name}: the teacher has no relation map {missing[0] if missing else None!r}; "
                              f"it has {sorted(teacher)} (build the teacher with build_teacher(<student>))")
        return [(key, student[key], teacher[key]) for key in student]
    if isinstance(teacher, Mapping) or len(student) != len(teacher) or not student:
        count = len(teacher)
        raise ConfigError(f"{name}: {len(student)} student maps vs {count} teacher maps")
    return [(str(index), s, t) for index, (s, t) in enumerate(zip(student, teacher))]


class RelationDistillation(nn.Module):
    """
    Compute the distance between student and teacher relation maps :cite:`Niu2023`.

    Parameters
    ----------
    relation
        ``"cosine-background"``: average the distance over the background,
        weighted by ``1 - m`` (the relation of the mask-averaged foreground
        feature with each background feature); ``"cosine-all"``: over every
        pixel.
    distance
        ``"l1"``: ``|R_s - R_t|``; ``"l2"``: ``(R_s - R_t)^2``.
    eps
        Guard of the background area.

    Notes
    -----
    Per level, with ``m`` the mask the student resized to that level
    (``relation_masks``) and ``w = 1 - m`` or 1, the batch mean of
    ``sum(w d(R_s, R_t)) / max(sum(w), eps)``; the loss is the mean over
    levels. ``R_s`` is the student's map on the composite, ``R_t`` the frozen
    teacher's on the real image, both cosine maps in [-1, 1]
    (:func:`~ccharmony.harmonization.models.relation.relation_map`); maps are
    paired by key.

    Domain: [-1, 1]. Range: [0, 2] (L1) or [0, 4] (L2).

    References
    ----------
    :cite:`Niu2023`

    Examples
    --------
    >>> student = {"a": torch.zeros(1, 1, 1, 2)}
    >>> teacher = {"a": torch.tensor([[[[0.5, 1.0]]]])}
    >>> masks = {"a": torch.tensor([[[[1.0, 0.0]]]])}
    >>> float(RelationDistillation("cosine-background")(student, masks, teacher))
    1.0
    >>> float(RelationDistillation("cosine-all")(student, masks, teacher))
    0.75
    """

    pred_keys = ("relation_maps", "relation_masks")
    gt_keys = ("teacher_relation_maps",)

    def __init__(self, relation: str = "cosine-background", distance: str = "l1", *, eps: float = 1e-6) -> None:
        super().__init__()
        if relation not in ("cosine-background", "cosine-all"):
            raise ConfigError(f"RelationDistillation: relation must be cosine-background or cosine-all, "
                              f"got {relation!r}")
        if distance not in ("l1", "l2"):
            raise ConfigError(f"RelationDistillation: distance must be l1 or l2, got {distance!r}")
        self.relation = relation
        self.distance = distance
        self.eps = eps

    def forward(self, student: RelationMaps, masks: Mapping[str, torch.Tensor] | Sequence[torch.Tensor],
                teacher: RelationMaps) -> torch.Tensor:
        """Return the level-mean distance."""
        terms = []
        mask_of = dict(masks) if isinstance(masks, Mapping) else {str(i): m for i, m in enumerate(masks)}
        for key, s, t in _pair(student, teacher, "RelationDistillation"):
            difference = s.float() - t.float()
            error = difference.abs() if self.distance == "l1" else difference**2
            if self.relation == "cosine-all":
                terms.append(error.mean())
                continue
            weight = 1.0 - mask_of[key].float()
            area = weight.sum(dim=(1, 2, 3)).clamp_min(self.eps)
            terms.append(((weight * error).sum(dim=(1, 2, 3)) / area).mean())
        return torch.stack(terms).mean()


class RelationDistillationL1(nn.Module):
    """
    Compute the L1 distance between student and teacher relation maps over every pixel.

    Notes
    -----
    :class:`RelationDistillation` with ``relation="cosine-all"`` and
    ``distance="l1"``, reading no masks. The mean over stages of ``mean |R_student - R_teacher|``, where each ``R``
    is a ``(B, 1, h, w)`` cosine-similarity map
    (:func:`~ccharmony.harmonization.models.relation_map`): the student's on
    the composite, the frozen teacher's on the real image :cite:`Niu2023`.

    Domain: [-1, 1]. Range: [0, 2].

    References
    ----------
    :cite:`Niu2023`

    Examples
    --------
    >>> student = [torch.zeros(1, 1, 2, 2)]
    >>> teacher = [torch.full((1, 1, 2, 2), 0.5)]
    >>> float(RelationDistillationL1()(student, teacher))
    0.5

    Maps keyed by tap (the registry's models) are paired by key; the teacher
    may hold more maps than the student uses.
    """

    pred_keys = ("relation_maps",)
    gt_keys = ("teacher_relation_maps",)

    def forward(self, student: RelationMaps, teacher: RelationMaps) -> torch.Tensor:
        """Return the stage-mean L1 distance."""
        terms = [(s.float() - t.float()).abs().mean() for _, s, t in _pair(student, teacher, "RelationDistillationL1")]
        return torch.stack(terms).mean()


@dataclass(frozen=True)
class LossTerm:
    """
    Name and weight one loss.

    Parameters
    ----------
    name
        Label in logs (``"fn_mse"``, ``"relation"``).
    loss
        A module with ``pred_keys`` and ``gt_keys``.
    weight
        Multiplier in the total.
    """

    name: str
    loss: nn.Module
    weight: float = 1.0


def compute_loss(
    terms: Sequence[LossTerm],
    outputs: Mapping[str, object],
    batch: Mapping[str, object],
) -> tuple[torch.Tensor, dict[str, float]]:
    """
    Return the weighted total of the loss terms and each term's value.

    Parameters
    ----------
    terms
        :class:`LossTerm` sequence.
    outputs
        Model outputs by key.
    batch
        Batch tensors by key (plus ``teacher_relation_maps`` when distilling).

    Returns
    -------
    tuple
        ``(total, {name: float value})``.

    Raises
    ------
    ConfigError
        When a declared key is missing.
    """
    total: torch.Tensor | None = None
    values: dict[str, float] = {}
    for term in terms:
        arguments = []
        for key in tuple(getattr(term.loss, "pred_keys")):
            if key not in outputs:
                raise ConfigError(f"loss {term.name!r} needs model output {key!r}; got {sorted(outputs)}")
            arguments.append(outputs[key])
        for key in tuple(getattr(term.loss, "gt_keys")):
            if key not in batch:
                raise ConfigError(f"loss {term.name!r} needs batch key {key!r}; got {sorted(batch)}")
            arguments.append(batch[key])
        value = term.loss(*arguments)
        values[term.name] = float(value.detach())
        weighted = term.weight * value
        total = weighted if total is None else total + weighted
    if total is None:
        raise ConfigError("compute_loss: no loss terms given")
    return total, values


def model_loss_terms(config: ModelConfig, *, train_size: int) -> list[LossTerm]:
    """
    Return the training loss a model definition asks for.

    Parameters
    ----------
    config
        :class:`~ccharmony.harmonization.models.config.ModelConfig` of a network.
    train_size
        Side of the training crops in pixels (``A_min`` is scaled from 256).

    Returns
    -------
    list of LossTerm
        ``fn_mse``: :class:`MaskWeightedMSE` with ``config.min_area_at(train_size)``;
        with distillation, ``relation``: :class:`RelationDistillation` with the
        config's relation and distance, weighted by its lambda.

    References
    ----------
    :cite:`Sofiiuk2021`, :cite:`Niu2023`

    Examples
    --------
    >>> from ccharmony.harmonization.models import model_config
    >>> [(t.name, t.weight) for t in model_loss_terms(model_config("giftnet"), train_size=128)]
    [('fn_mse', 1.0), ('relation', 0.001)]
    >>> model_loss_terms(model_config("giftnet"), train_size=128)[0].loss.min_area
    25.0
    """
    terms = [LossTerm("fn_mse", MaskWeightedMSE(config.min_area_at(train_size)), 1.0)]
    if config.distillation is not None:
        distillation = config.distillation
        terms.append(LossTerm("relation", RelationDistillation(distillation.relation, distillation.distance),
                              distillation.weight))
    return terms
