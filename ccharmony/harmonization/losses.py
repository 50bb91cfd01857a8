"""
Training losses
===============

Define the training losses; each declares the keys it reads from the model
outputs (``pred_keys``) and from the batch (``gt_keys``), so that the engine
routes tensors generically (the iSSAM convention, :cite:`Sofiiuk2021`):

-   :class:`MaskWeightedMSE`: the foreground-normalised MSE of the field,
    ``sum((pred - real)^2) / (3 max(sum(mask), A_min))`` per image.
-   :class:`ImageMSE`: the plain MSE (reconstruction teacher).
-   :class:`RelationDistillationL1`: ``L1(student relation maps on the
    composite, teacher relation maps on the real image)`` :cite:`Niu2023`.
-   :class:`LossTerm`, :func:`compute_loss`: a weighted sum of terms.

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

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["MaskWeightedMSE", "ImageMSE", "RelationDistillationL1", "LossTerm", "compute_loss"]


class MaskWeightedMSE(nn.Module):
    """
    Compute the foreground-normalised MSE of :cite:`Sofiiuk2021`.

    Parameters
    ----------
    min_area
        ``A_min``, the least foreground area in pixels of the training size
        (100 by default, iSSAM's value at 256x256), so that tiny foregrounds
        do not dominate.

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
    Domain: RGB in [0, 1]. Range: [0, 1].

    Examples
    --------
    >>> float(ImageMSE()(torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)))
    1.0
    """

    pred_keys = ("images",)
    gt_keys = ("target_images",)

    def forward(self, pred: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """Return the mean squared error."""
        return ((pred.float() - real.float()) ** 2).mean()


class RelationDistillationL1(nn.Module):
    """
    Compute the L1 distance between student and teacher relation maps.

    Notes
    -----
    The mean over stages of ``mean |R_student - R_teacher|``, where each ``R``
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
    """

    pred_keys = ("relation_maps",)
    gt_keys = ("teacher_relation_maps",)

    def forward(self, student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor]) -> torch.Tensor:
        """Return the stage-mean L1 distance."""
        if len(student) != len(teacher) or not student:
            raise ConfigError(
                f"RelationDistillationL1: {len(student)} student maps vs {len(teacher)} teacher maps"
            )
        terms = [(s.float() - t.float()).abs().mean() for s, t in zip(student, teacher)]
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
