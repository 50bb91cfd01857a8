"""
Baselines
=========

Define the non-learned baselines of the benchmark:

-   :func:`transfer_statistics_Reinhard2001`: colour statistics transfer
    :cite:`Reinhard2001` from the background to the foreground, in CIE Lab.
-   :class:`CompositeModel`: the composite itself (identity).
-   :class:`ReinhardModel`: :func:`transfer_statistics_Reinhard2001` per image.

Reinhard et al. transfer means and standard deviations in their l-alpha-beta
space; as the issue asks, ours works in CIE L*a*b* (sRGB, D65, via
:func:`skimage.color.rgb2lab`), per channel, using the background (mask off)
statistics as the target and the foreground (mask on) as the source.

References
----------
-   :cite:`Reinhard2001` : Reinhard, E., Ashikhmin, M., Gooch, B., & Shirley, P.
    (2001). Color Transfer between Images. IEEE Computer Graphics and
    Applications, 21(5), 34-41. doi:10.1109/38.946629
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from skimage.color import lab2rgb, rgb2lab
from torch import nn

from ccharmony._types import ArrayLike, NDArrayFloat

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["transfer_statistics_Reinhard2001", "CompositeModel", "ReinhardModel"]


def transfer_statistics_Reinhard2001(
    image: ArrayLike, mask: ArrayLike, *, eps: float = 1e-6
) -> NDArrayFloat:
    """
    Match the foreground's Lab mean and standard deviation to the background's.

    Parameters
    ----------
    image
        ``(H, W, 3)`` sRGB composite, [0, 1].
    mask
        ``(H, W)`` foreground mask (bool or > 0.5).
    eps
        Guard of the foreground standard deviation.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 sRGB in [0, 1]; the background is unchanged and
        the foreground is ``(Lab - mu_fg) / sigma_fg * sigma_bg + mu_bg`` per
        channel, converted back and clipped (out-of-gamut values silently). An image whose foreground or
        background is empty is returned unchanged.

    Notes
    -----
    Domain: ``image`` sRGB (IEC 61966-2-1), [0, 1].
    Range: [0, 1].

    References
    ----------
    :cite:`Reinhard2001`

    Examples
    --------
    >>> image = np.full((4, 4, 3), 0.5, np.float32)
    >>> image[:2] = (0.6, 0.4, 0.4)
    >>> mask = np.zeros((4, 4), bool); mask[:2] = True
    >>> out = transfer_statistics_Reinhard2001(image, mask)
    >>> np.round(out[0, 0], 3).tolist()
    [0.5, 0.5, 0.5]
    """
    RGB = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
    foreground = np.asarray(mask) > 0.5
    if not foreground.any() or foreground.all():
        return RGB.astype(np.float32)
    Lab = rgb2lab(RGB)
    source = Lab[foreground]
    target = Lab[~foreground]
    scale = target.std(axis=0) / np.maximum(source.std(axis=0), eps)
    # A flat foreground has no spread to scale: keep it flat (scale 1).
    scale = np.where(source.std(axis=0) < eps, 1.0, scale)
    Lab_out = Lab.copy()
    Lab_out[foreground] = (source - source.mean(axis=0)) * scale + target.mean(axis=0)
    with warnings.catch_warnings():
        # Out-of-gamut Lab values are clipped on the way back (documented above).
        warnings.simplefilter("ignore", UserWarning)
        out = np.clip(lab2rgb(Lab_out), 0.0, 1.0)
    out[~foreground] = RGB[~foreground]
    return out.astype(np.float32)


class CompositeModel(nn.Module):
    """
    Return the composite unchanged (the lower bound of any harmonization).

    Notes
    -----
    ``forward(images, masks)`` returns ``{"images": images}``.
    """

    name = "composite"
    trainable = False

    def forward(self, images: torch.Tensor, masks: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return the input composite."""
        return {"images": images}


class ReinhardModel(nn.Module):
    """
    Apply :func:`transfer_statistics_Reinhard2001` to each image of a batch.

    Notes
    -----
    ``forward(images, masks)`` works on ``(B, 3, H, W)`` in [0, 1] (computed in
    NumPy on the CPU, returned on the input's device).

    References
    ----------
    :cite:`Reinhard2001`
    """

    name = "reinhard"
    trainable = False

    def forward(self, images: torch.Tensor, masks: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return the statistics-transferred composites."""
        outputs = []
        for image, mask in zip(images.detach().float().cpu().numpy(), masks.detach().float().cpu().numpy()):
            outputs.append(transfer_statistics_Reinhard2001(image.transpose(1, 2, 0), mask[0]).transpose(2, 0, 1))
        return {"images": torch.from_numpy(np.stack(outputs)).to(images.device, images.dtype)}
