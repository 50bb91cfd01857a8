"""
Foreground-background relations
===============================

Define the relation that relation distillation transfers :cite:`Niu2023`:

-   :func:`resize_mask`: a soft foreground mask resized to a feature map.
-   :func:`relation_map`: the cosine similarity between the mask-averaged
    foreground feature and the feature at every location.

The distance between a student's and a teacher's maps, over the background or
over all pixels, is :class:`~ccharmony.harmonization.losses.RelationDistillation`.

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["resize_mask", "relation_map"]


def resize_mask(mask: torch.Tensor, size: tuple[int, int] | torch.Size, *, align_corners: bool = False) -> torch.Tensor:
    """
    Resize a ``(B, 1, H, W)`` mask in [0, 1] bilinearly to ``size`` (returned as is when it fits).

    Parameters
    ----------
    mask
        Foreground mask.
    size
        ``(h, w)``.
    align_corners
        PyTorch's flag; iSSAM's SSAM and DucoNet's control module use True
        (``iharm/model/base/ssam_model.py``, ``iharm/model/modeling/unet_v1.py``),
        our legacy U-Net False.

    Examples
    --------
    >>> resize_mask(torch.ones(1, 1, 4, 4), (2, 2)).shape
    torch.Size([1, 1, 2, 2])
    """
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    return F.interpolate(mask, size=tuple(size), mode="bilinear", align_corners=align_corners)


def relation_map(
    features: torch.Tensor, mask: torch.Tensor, *, eps: float = 1e-6, align_corners: bool = False
) -> torch.Tensor:
    """
    Compute the cosine similarity between the mean foreground feature and every location.

    Parameters
    ----------
    features
        ``(B, C, h, w)`` feature map.
    mask
        ``(B, 1, H, W)`` foreground mask in [0, 1], resized to ``(h, w)``
        (bilinear, :func:`resize_mask`) when needed.
    eps
        Guard of the foreground area and of the norms.
    align_corners
        Passed to :func:`resize_mask`.

    Returns
    -------
    Tensor
        ``(B, 1, h, w)`` relation map in [-1, 1].

    Notes
    -----
    The foreground feature is the mask-weighted mean
    ``f = sum(mask * F) / sum(mask)``; the map is
    ``<f, F(x)> / (|f| |F(x)|)`` :cite:`Niu2023`.

    References
    ----------
    :cite:`Niu2023`

    Examples
    --------
    >>> features = torch.ones(1, 4, 3, 3)
    >>> relation_map(features, torch.ones(1, 1, 3, 3)).flatten().tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    mask = resize_mask(mask, features.shape[-2:], align_corners=align_corners).to(features.dtype)
    area = mask.sum(dim=(2, 3)).clamp_min(eps)
    foreground = (features * mask).sum(dim=(2, 3)) / area
    return F.cosine_similarity(features, foreground[:, :, None, None], dim=1, eps=eps)[:, None]
