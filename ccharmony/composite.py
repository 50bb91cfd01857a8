"""
Composites
==========

Choose target images for a foreground and paste the transferred foreground
back onto its own real image:

-   :class:`TargetCandidate`: an image that can serve as a target.
-   :attr:`TARGET_POLICIES` and :func:`select_targets`: ``random`` (uniform
    without replacement over the other images, as published) and
    ``diverse`` (farthest-point sampling over illuminant chromaticity, at a
    minimum angle from the source illuminant); ``same_camera`` filters.
-   :func:`composite`: ``mask·T(real) + (1 − mask)·real``; pixels outside the
    mask are byte-identical to the real image.
-   :func:`make_composite`: transfer the foreground pixels and composite.

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
-   :cite:`Eldar1997` : Eldar, Y., Lindenbaum, M., Porat, M., & Zeevi, Y. Y.
    (1997). The farthest point strategy for progressive image sampling. IEEE
    Transactions on Image Processing, 6(9), 1305-1315. doi:10.1109/83.623193
"""

from __future__ import annotations

import difflib
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from ccharmony._types import ArrayLike, NDArrayUInt8
from ccharmony.errors import AnnotationError, ConfigError, DatasetError
from ccharmony.illuminant import angular_error

if TYPE_CHECKING:
    from ccharmony.render import RenderParameters
    from ccharmony.transfer import Transfer

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "TargetCandidate",
    "select_targets_random",
    "select_targets_diverse",
    "TARGET_POLICIES",
    "select_targets",
    "composite",
    "make_composite",
]


@dataclass(frozen=True)
class TargetCandidate:
    """
    Describe an image that can serve as a composite's target.

    Parameters
    ----------
    id
        Image id (unique among the candidates).
    illuminant
        ``(3,)`` illuminant in camera RGB (any positive scale), ``None`` when
        unknown (then the ``diverse`` policy cannot use the image).
    camera
        Camera name (``"Canon 5D"``), ``""`` when unknown.
    """

    id: str
    illuminant: tuple[float, float, float] | None = None
    camera: str = ""


def _rng(seed: int, source_id: str) -> np.random.Generator:
    # One stream per (seed, source): a source's targets do not depend on the
    # order in which sources are processed (parallel builds agree).
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(source_id.encode("utf-8"))])


def select_targets_random(
    source: TargetCandidate, pool: Sequence[TargetCandidate], *, k: int, rng: np.random.Generator, min_angle_deg: float = 0.0
) -> list[str]:
    """
    Pick ``k`` ids uniformly without replacement (the published policy).

    Parameters
    ----------
    source
        The source image (not in ``pool``).
    pool
        Eligible candidates, sorted by id.
    k
        How many to pick; all of them when the pool is smaller.
    rng
        Random generator.
    min_angle_deg
        Unused (accepted for a uniform policy signature).

    Returns
    -------
    list of str
        The chosen ids in the order drawn.

    References
    ----------
    :cite:`Niu2023`
    """
    count = min(k, len(pool))
    if count == 0:
        return []
    picks = rng.choice(len(pool), size=count, replace=False)
    return [pool[int(i)].id for i in picks]


def _chromaticity(illuminant: ArrayLike) -> np.ndarray:
    v = np.asarray(illuminant, dtype=np.float64)
    return v[:2] / v.sum()


def select_targets_diverse(
    source: TargetCandidate,
    pool: Sequence[TargetCandidate],
    *,
    k: int,
    rng: np.random.Generator,
    min_angle_deg: float = 5.0,
) -> list[str]:
    """
    Pick ``k`` ids spread over illuminant chromaticity (farthest-point sampling).

    Parameters
    ----------
    source
        The source image; its illuminant must be known.
    pool
        Eligible candidates, sorted by id; each needs an illuminant.
    k
        How many to pick; fewer when fewer candidates qualify.
    rng
        Random generator for the tie-break order.
    min_angle_deg
        Candidates whose illuminant is closer than this to the source's (in
        camera RGB angle) are not used.

    Returns
    -------
    list of str
        Ids in the order picked: each maximises its smallest rg-chromaticity
        distance to the source and the ids already picked; ties go to the
        earlier of a seeded random permutation.

    Raises
    ------
    DatasetError
        The source or a candidate has no illuminant.

    Notes
    -----
    rg chromaticity: ``r = R / (R + G + B)``, ``g = G / (R + G + B)``.

    References
    ----------
    :cite:`Eldar1997`
    """
    for candidate in (source, *pool):
        if candidate.illuminant is None:
            raise DatasetError(
                f"image {candidate.id}: the 'diverse' target policy needs its illuminant, got None"
            )
    source_illuminant = np.asarray(source.illuminant, dtype=np.float64)
    eligible = [
        c for c in pool if float(angular_error(source_illuminant, c.illuminant)) >= min_angle_deg  # type: ignore[arg-type]
    ]
    if not eligible or k <= 0:
        return []
    order = rng.permutation(len(eligible))
    points = np.array([_chromaticity(eligible[i].illuminant) for i in order])  # type: ignore[arg-type]
    nearest = np.linalg.norm(points - _chromaticity(source_illuminant), axis=1)
    chosen: list[int] = []
    for _ in range(min(k, len(eligible))):
        masked = nearest.copy()
        masked[chosen] = -np.inf
        index = int(np.argmax(masked))  # first maximum = earliest in the permutation
        chosen.append(index)
        nearest = np.minimum(nearest, np.linalg.norm(points - points[index], axis=1))
    return [eligible[order[i]].id for i in chosen]


TARGET_POLICIES: dict[str, Callable[..., list[str]]] = {
    "random": select_targets_random,
    "diverse": select_targets_diverse,
}
"""Target selection policies: ``random`` (published) and ``diverse``."""


def select_targets(
    source_id: str,
    candidates: Sequence[TargetCandidate],
    *,
    k: int = 10,
    policy: Literal["random", "diverse"] | str = "random",
    same_camera: bool = False,
    min_angle_deg: float = 5.0,
    seed: int = 0,
) -> list[str]:
    """
    Choose the target images of one source image's composites.

    Parameters
    ----------
    source_id
        Id of the source image; it is never chosen. It must be among
        ``candidates`` when ``policy="diverse"`` or ``same_camera``.
    candidates
        All images (order does not matter: they are sorted by id).
    k
        Composites per foreground (published: 10).
    policy
        A key of :attr:`TARGET_POLICIES`.
    same_camera
        Keep only candidates whose camera equals the source's.
    min_angle_deg
        ``diverse`` only: minimum illuminant angle from the source.
    seed
        Base seed; the stream is derived from ``(seed, source_id)``.

    Returns
    -------
    list of str
        Up to ``k`` distinct ids. When fewer than ``k`` candidates qualify,
        all of them are returned (fewer than ``k``; the caller records it)
        rather than raising, so one small camera group does not stop a
        build. Deterministic for equal inputs and seed.

    Raises
    ------
    ConfigError
        Unknown policy or negative ``k``.
    DatasetError
        Duplicate candidate ids, or the source is needed but absent.

    References
    ----------
    :cite:`Niu2023`

    Examples
    --------
    >>> pool = [TargetCandidate(f"im{i}", (1.0, 1.0 + i / 10, 1.0), "cam") for i in range(6)]
    >>> select_targets("im0", pool, k=3, seed=1) == select_targets("im0", pool[::-1], k=3, seed=1)
    True
    >>> sorted(select_targets("im0", pool, k=10, policy="diverse", min_angle_deg=0))
    ['im1', 'im2', 'im3', 'im4', 'im5']
    """
    if policy not in TARGET_POLICIES:
        close = difflib.get_close_matches(str(policy), list(TARGET_POLICIES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"policy: unknown target policy {policy!r}{hint}; accepted: {', '.join(TARGET_POLICIES)}")
    if int(k) < 0:
        raise ConfigError(f"k: composites per foreground must be >= 0, got {k}")
    by_id: dict[str, TargetCandidate] = {}
    for candidate in candidates:
        if candidate.id in by_id:
            raise DatasetError(f"candidates: duplicate image id {candidate.id!r}")
        by_id[candidate.id] = candidate
    source = by_id.get(source_id)
    if source is None:
        if policy == "diverse" or same_camera:
            raise DatasetError(
                f"source image {source_id!r} is not among the candidates; "
                f"policy {policy!r} / same_camera needs its illuminant and camera"
            )
        source = TargetCandidate(source_id)
    pool = [by_id[i] for i in sorted(by_id) if i != source_id]
    if same_camera:
        pool = [c for c in pool if c.camera == source.camera]
    return TARGET_POLICIES[policy](
        source, pool, k=int(k), rng=_rng(seed, source_id), min_angle_deg=float(min_angle_deg)
    )


# --- compositing ------------------------------------------------------------


def _mask_2d(mask: ArrayLike, size: tuple[int, int]) -> np.ndarray:
    array = np.asarray(mask)
    if array.ndim == 3:
        if not np.all(array == array[..., :1]):
            raise AnnotationError(f"mask: channels differ, expected a grey mask of shape {size}")
        array = array[..., 0]
    if array.shape != size:
        raise AnnotationError(f"mask: size {array.shape} does not match the real image size {size}")
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * np.uint8(255)
    if array.dtype != np.uint8:
        raise AnnotationError(f"mask: expected bool or uint8 values, got {array.dtype}")
    if array.size and int(array.max()) == 1:  # a 0/1 mask, not a soft 0..255 one
        return array * np.uint8(255)
    return array


def composite(real: ArrayLike, mask: ArrayLike, transferred: ArrayLike) -> NDArrayUInt8:
    """
    Blend a transferred foreground onto its real image.

    Parameters
    ----------
    real
        ``(H, W, 3)`` uint8 real image.
    mask
        ``(H, W)`` (or ``(H, W, C)`` with equal channels) bool, or uint8
        where 0 is background, 255 foreground and values between blend (a
        uint8 mask whose largest value is 1 is read as 0/1).
    transferred
        ``(H, W, 3)`` uint8: the transferred real image (only pixels with a
        non-zero mask are read).

    Returns
    -------
    :class:`numpy.ndarray`
        ``(H, W, 3)`` uint8: ``rint(α·transferred + (1 − α)·real)`` with
        ``α = mask / 255``; where the mask is 0 the bytes are the real
        image's, where it is 255 (or True) the transferred image's.

    Raises
    ------
    AnnotationError
        The mask's size or type does not fit.

    Notes
    -----
    Domain/Range: 8-bit sRGB, [0, 255].

    References
    ----------
    :cite:`Niu2023`

    Examples
    --------
    >>> real = np.zeros((1, 3, 3), np.uint8)
    >>> composite(real, np.array([[0, 255, 128]], np.uint8), np.full((1, 3, 3), 200, np.uint8))[0, :, 0]
    array([  0, 200, 100], dtype=uint8)
    """
    real_array = np.asarray(real)
    moved = np.asarray(transferred)
    if real_array.dtype != np.uint8 or real_array.ndim != 3 or real_array.shape[2] != 3:
        raise ValueError(f"real must be (H, W, 3) uint8, got {real_array.shape} {real_array.dtype}")
    if moved.shape != real_array.shape or moved.dtype != np.uint8:
        raise ValueError(
            f"transferred must be {real_array.shape} uint8, got {moved.shape} {moved.dtype}"
        )
    alpha = _mask_2d(mask, real_array.shape[:2])
    out = real_array.copy()
    full = alpha == 255
    out[full] = moved[full]
    partial = (alpha != 0) & ~full
    if np.any(partial):
        a = alpha[partial].astype(np.float32)[:, None] / np.float32(255.0)
        blended = a * moved[partial] + (np.float32(1.0) - a) * real_array[partial]
        out[partial] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return out


def make_composite(
    real: ArrayLike,
    mask: ArrayLike,
    transfer: Transfer,
    *,
    real_linear: ArrayLike | None = None,
    render: RenderParameters | None = None,
) -> NDArrayUInt8:
    """
    Transfer the foreground of a real image and composite it.

    Parameters
    ----------
    real
        ``(H, W, 3)`` uint8 real image (8-bit sRGB).
    mask
        Foreground mask, as :func:`composite`.
    transfer
        The source -> target mapping. An ``"srgb8"`` transfer is applied to
        ``real`` with :meth:`~ccharmony.transfer.Transfer.apply_uint8`; a
        ``"linear"`` one to ``real_linear``, then rendered with ``render``.
    real_linear
        ``(H, W, 3)`` linear camera RGB that ``real`` was rendered from
        (required for linear transfers).
    render
        The :class:`~ccharmony.render.RenderParameters` that rendered
        ``real`` (required for linear transfers).

    Returns
    -------
    :class:`numpy.ndarray`
        ``(H, W, 3)`` uint8 composite; outside the mask byte-identical to
        ``real``. Only foreground pixels are transferred.

    Raises
    ------
    ConfigError
        A linear transfer without ``real_linear`` and ``render``.
    AnnotationError
        The mask does not fit the image.

    Notes
    -----
    Domain/Range: 8-bit sRGB, [0, 255].

    References
    ----------
    :cite:`Niu2023`
    """
    real_array = np.asarray(real)
    if real_array.dtype != np.uint8 or real_array.ndim != 3 or real_array.shape[2] != 3:
        raise ValueError(f"real must be (H, W, 3) uint8, got {real_array.shape} {real_array.dtype}")
    alpha = _mask_2d(mask, real_array.shape[:2])
    foreground = alpha != 0
    transferred = real_array.copy()
    if transfer.domain == "srgb8":
        transferred[foreground] = transfer.apply_uint8(real_array[foreground])
    else:
        if real_linear is None or render is None:
            raise ConfigError(
                f"make_composite: the {transfer.method!r} transfer works in linear camera RGB; "
                "pass real_linear= and render="
            )
        from ccharmony.render import render_srgb

        linear = np.asarray(real_linear)
        if linear.shape != real_array.shape:
            raise ValueError(f"real_linear must have shape {real_array.shape}, got {linear.shape}")
        transferred[foreground] = render_srgb(transfer.apply(linear[foreground]), camera_matrix=render)
    return composite(real_array, alpha, transferred)
