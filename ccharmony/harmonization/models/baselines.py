"""
Baselines
=========

Define the non-learned baselines of the benchmark:

-   :func:`transfer_statistics_Reinhard2001`: Reinhard et al.'s colour
    statistics transfer :cite:`Reinhard2001` from the background to the
    foreground, in their decorrelated l-alpha-beta space (``reinhard-lalphabeta``).
-   :func:`transfer_statistics_CIELab`: the same statistics transfer in CIE
    L*a*b* (``reinhard-lab``; the ``reinhard`` row of earlier reports).
-   :data:`REINHARD_SPACES`: space name -> function.
-   :class:`CompositeModel`: the composite itself (identity).
-   :class:`ReinhardModel`: either transfer per image.

Both use the background (mask off) statistics as the target and the
foreground (mask on) as the source, per channel: ``(x - mu_fg) sigma_bg /
sigma_fg + mu_bg``.

The l-alpha-beta space follows the paper's equations: linear RGB to LMS with
its matrix (its eq. 4, the product of its RGB->XYZ and XYZ->LMS matrices), the
base-10 logarithm, then
``l = (L + M + S) / sqrt(3)``, ``alpha = (L + M - 2S) / sqrt(6)``,
``beta = (L - M) / sqrt(2)``, and back through the inverse of each step. Two
points the paper leaves to the reader, with our choices: its RGB is taken
through XYZ, which is defined on linear light, so we decode sRGB
(IEC 61966-2-1) first and encode afterwards (``linearise=False`` applies the
matrices to the encoded values, as some re-implementations do); and the
printed LMS->RGB matrix is not the inverse of the printed RGB->LMS one (its
product with it is off the identity by up to 0.0072, which would tint an
untouched foreground by up to 0.7 %), so we invert the forward matrix
numerically (``inverse="published"`` uses the printed one). LMS values are
floored at ``lms_floor`` before the logarithm (black pixels have LMS 0).

References
----------
-   :cite:`Reinhard2001` : Reinhard, E., Ashikhmin, M., Gooch, B., & Shirley, P.
    (2001). Color Transfer between Images. IEEE Computer Graphics and
    Applications, 21(5), 34-41. doi:10.1109/38.946629
-   :cite:`IEC61966-2-1` : IEC (1999). IEC 61966-2-1:1999 Multimedia systems
    and equipment - Colour measurement and management - Part 2-1: Colour
    management - Default RGB colour space - sRGB.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Literal

import colour
import numpy as np
import torch
from skimage.color import lab2rgb, rgb2lab
from torch import nn

from ccharmony._types import ArrayLike, NDArrayFloat
from ccharmony.errors import ConfigError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "MATRIX_RGB_TO_LMS_REINHARD2001",
    "MATRIX_LMS_TO_RGB_REINHARD2001",
    "transfer_statistics_Reinhard2001",
    "transfer_statistics_CIELab",
    "REINHARD_SPACES",
    "CompositeModel",
    "ReinhardModel",
]

MATRIX_RGB_TO_LMS_REINHARD2001 = np.array([
    [0.3811, 0.5783, 0.0402],
    [0.1967, 0.7244, 0.0782],
    [0.0241, 0.1288, 0.8444],
])
"""Linear RGB -> LMS, as printed in :cite:`Reinhard2001`."""

MATRIX_LMS_TO_RGB_REINHARD2001 = np.array([
    [4.4679, -3.5873, 0.1193],
    [-1.2186, 2.3809, -0.1624],
    [0.0497, -0.2439, 1.2045],
])
"""LMS -> linear RGB, as printed in :cite:`Reinhard2001` (not the exact inverse of the forward matrix)."""

_LOG_LMS_TO_LAB = np.diag([1 / np.sqrt(3), 1 / np.sqrt(6), 1 / np.sqrt(2)]) @ np.array(
    [[1.0, 1.0, 1.0], [1.0, 1.0, -2.0], [1.0, -1.0, 0.0]])
_LAB_TO_LOG_LMS = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, -1.0], [1.0, -2.0, 0.0]]) @ np.diag(
    [np.sqrt(3) / 3, np.sqrt(6) / 6, np.sqrt(2) / 2])


def _match_statistics(values: np.ndarray, foreground: np.ndarray, eps: float) -> np.ndarray:
    """Return ``values`` with the foreground's per-channel mean and std set to the background's."""
    source = values[foreground]
    target = values[~foreground]
    spread = source.std(axis=0)
    # A flat foreground has no spread to scale: keep it flat (scale 1).
    scale = np.where(spread < eps, 1.0, target.std(axis=0) / np.maximum(spread, eps))
    out = values.copy()
    out[foreground] = (source - source.mean(axis=0)) * scale + target.mean(axis=0)
    return out



def transfer_statistics_CIELab(
    image: ArrayLike, mask: ArrayLike, *, eps: float = 1e-6
) -> NDArrayFloat:
    """
    Match the foreground's CIE L*a*b* mean and standard deviation to the background's.

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
        channel (D65, :func:`skimage.color.rgb2lab`), converted back and
        clipped (out-of-gamut values silently). An image whose foreground or
        background is empty is returned unchanged.

    Notes
    -----
    Domain: ``image`` sRGB (IEC 61966-2-1), [0, 1].
    Range: [0, 1].

    Reinhard et al.'s method :cite:`Reinhard2001` in CIELAB instead of their
    l-alpha-beta space (:func:`transfer_statistics_Reinhard2001`).

    References
    ----------
    :cite:`Reinhard2001`

    Examples
    --------
    >>> image = np.full((4, 4, 3), 0.5, np.float32)
    >>> image[:2] = (0.6, 0.4, 0.4)
    >>> mask = np.zeros((4, 4), bool); mask[:2] = True
    >>> out = transfer_statistics_CIELab(image, mask)
    >>> np.round(out[0, 0], 3).tolist()
    [0.5, 0.5, 0.5]
    """
    RGB = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
    foreground = np.asarray(mask) > 0.5
    if not foreground.any() or foreground.all():
        return RGB.astype(np.float32)
    Lab_out = _match_statistics(rgb2lab(RGB), foreground, eps)
    with warnings.catch_warnings():
        # Out-of-gamut Lab values are clipped on the way back (documented above).
        warnings.simplefilter("ignore", UserWarning)
        out = np.clip(lab2rgb(Lab_out), 0.0, 1.0)
    out[~foreground] = RGB[~foreground]
    return out.astype(np.float32)


def transfer_statistics_Reinhard2001(
    image: ArrayLike,
    mask: ArrayLike,
    *,
    linearise: bool = True,
    inverse: Literal["exact", "published"] = "exact",
    lms_floor: float = 1e-4,
    eps: float = 1e-6,
) -> NDArrayFloat:
    """
    Match the foreground's l-alpha-beta mean and standard deviation to the background's :cite:`Reinhard2001`.

    Parameters
    ----------
    image
        ``(H, W, 3)`` sRGB composite, [0, 1].
    mask
        ``(H, W)`` foreground mask (bool or > 0.5).
    linearise
        Decode sRGB to linear RGB before the RGB->LMS matrix and encode after
        (default); False applies the matrices to the encoded values.
    inverse
        ``"exact"``: LMS->RGB is the inverse of
        :data:`MATRIX_RGB_TO_LMS_REINHARD2001`; ``"published"``:
        :data:`MATRIX_LMS_TO_RGB_REINHARD2001` as printed.
    lms_floor
        Least LMS value before the logarithm (black pixels have LMS 0; 1e-4 is
        a third of the smallest non-zero 8-bit sRGB level in linear light).
    eps
        Guard of the foreground standard deviation.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 sRGB in [0, 1]: the background unchanged, the
        foreground transferred and clipped. An image whose foreground or
        background is empty is returned unchanged.

    Raises
    ------
    ConfigError
        When ``inverse`` is unknown.

    Notes
    -----
    Domain: ``image`` sRGB (IEC 61966-2-1), [0, 1].
    Range: [0, 1].

    ``LMS = M RGB``, ``LMS' = log10(max(LMS, lms_floor))``,
    ``[l, alpha, beta] = diag(1/sqrt3, 1/sqrt6, 1/sqrt2) [[1, 1, 1], [1, 1, -2],
    [1, -1, 0]] LMS'``; per channel ``(x - mu_fg) sigma_bg / sigma_fg + mu_bg``
    on the foreground; then ``LMS' = [[1, 1, 1], [1, 1, -1], [1, -2, 0]]
    diag(sqrt3/3, sqrt6/6, sqrt2/2) [l, alpha, beta]``, ``LMS = 10^LMS'``,
    ``RGB = M^-1 LMS`` :cite:`Reinhard2001`.

    References
    ----------
    :cite:`Reinhard2001`, :cite:`IEC61966-2-1`

    Examples
    --------
    >>> image = np.full((4, 4, 3), 0.5, np.float32)
    >>> image[:2] = (0.6, 0.4, 0.4)
    >>> mask = np.zeros((4, 4), bool); mask[:2] = True
    >>> out = transfer_statistics_Reinhard2001(image, mask)
    >>> np.round(out[0, 0], 3).tolist()
    [0.5, 0.5, 0.5]
    """
    if inverse not in ("exact", "published"):
        raise ConfigError(f"transfer_statistics_Reinhard2001: inverse must be 'exact' or 'published', "
                          f"got {inverse!r}")
    RGB = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
    foreground = np.asarray(mask) > 0.5
    if not foreground.any() or foreground.all():
        return RGB.astype(np.float32)
    linear = np.asarray(colour.cctf_decoding(RGB, function="sRGB")) if linearise else RGB
    LMS = linear @ MATRIX_RGB_TO_LMS_REINHARD2001.T
    lab = np.log10(np.maximum(LMS, lms_floor)) @ _LOG_LMS_TO_LAB.T
    lab_out = _match_statistics(lab, foreground, eps)
    M_inverse = (np.linalg.inv(MATRIX_RGB_TO_LMS_REINHARD2001) if inverse == "exact"
                 else MATRIX_LMS_TO_RGB_REINHARD2001)
    linear_out = (10.0 ** (lab_out @ _LAB_TO_LOG_LMS.T)) @ M_inverse.T
    linear_out = np.clip(linear_out, 0.0, 1.0)
    out = np.asarray(colour.cctf_encoding(linear_out, function="sRGB")) if linearise else linear_out
    out = np.clip(out, 0.0, 1.0)
    out[~foreground] = RGB[~foreground]
    return out.astype(np.float32)


REINHARD_SPACES: dict[str, Callable[..., NDArrayFloat]] = {
    "lalphabeta": transfer_statistics_Reinhard2001,
    "cielab": transfer_statistics_CIELab,
}
"""Statistics-transfer space -> function (``ReinhardModel(space=...)``)."""


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
    Apply a Reinhard statistics transfer to each image of a batch.

    Parameters
    ----------
    space
        ``"lalphabeta"`` (:func:`transfer_statistics_Reinhard2001`) or
        ``"cielab"`` (:func:`transfer_statistics_CIELab`, the default: what the
        ``reinhard`` row always computed).

    Raises
    ------
    ConfigError
        When ``space`` is unknown.

    Notes
    -----
    ``forward(images, masks)`` works on ``(B, 3, H, W)`` in [0, 1] (computed in
    NumPy on the CPU, returned on the input's device).

    References
    ----------
    :cite:`Reinhard2001`
    """

    name = "reinhard-lab"
    trainable = False

    def __init__(self, space: str = "cielab") -> None:
        super().__init__()
        if space not in REINHARD_SPACES:
            raise ConfigError(f"ReinhardModel: unknown space {space!r}; accepted: {', '.join(REINHARD_SPACES)}")
        self.space = space
        self.name = "reinhard-lab" if space == "cielab" else "reinhard-lalphabeta"

    def forward(self, images: torch.Tensor, masks: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return the statistics-transferred composites."""
        transfer = REINHARD_SPACES[self.space]
        outputs = []
        for image, mask in zip(images.detach().float().cpu().numpy(), masks.detach().float().cpu().numpy()):
            outputs.append(transfer(image.transpose(1, 2, 0), mask[0]).transpose(2, 0, 1))
        return {"images": torch.from_numpy(np.stack(outputs)).to(images.device, images.dtype)}
