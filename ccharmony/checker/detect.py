"""
Chart detection
===============

Define the detection dispatcher and the verification shared by its backends:

-   :data:`DETECTION_METHODS`: backend name -> function finding candidate
    patch-centre sets on a reduced, viewable copy.
-   :func:`detect`: run the backends in order on a reduced copy, verify and
    orient each candidate with :mod:`ccharmony.checker.orientation`, map the
    accepted chart back to full-frame pixels.
-   :func:`checker_from_corners`: build a :class:`Checker` from four corners.
-   :func:`viewable_rendering`: an 8-bit BGR rendering of linear camera RGB
    (grey-world gain, gamma 1/2.2) for backends and overlays.

Backends only propose where the patches are; orientation and acceptance are
decided here from illuminant-invariant properties, never by the backend.

References
----------
:cite:`Buchsbaum1980` : Buchsbaum, G. (1980). A spatial processor model for
    object colour perception. Journal of the Franklin Institute, 310(1), 1-26.
    doi:10.1016/0016-0032(80)90058-7
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from ccharmony._types import NDArrayUInt8
from ccharmony.checker.geometry import (
    CHART_PATCH_CENTRES,
    apply_homography,
    order_corners_clockwise,
    patch_quads_from_corners,
)
from ccharmony.checker.orientation import best_orientation
from ccharmony.checker.records import Checker
from ccharmony.checker.sample import inner_quads
from ccharmony.errors import ConfigError
from ccharmony.io.image import LinearImage

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "DETECTION_METHODS",
    "DEFAULT_METHODS",
    "detect",
    "checker_from_corners",
    "viewable_rendering",
    "reduce_image",
    "candidates_from_centres",
    "remove_pedestal",
]

_CORNER_PATCHES = (0, 5, 23, 18)


def checker_from_corners(corners: ArrayLike, *, method: str = "annotation",
                         score: float = float("nan")) -> Checker:
    """
    Build a :class:`Checker` from the chart's four outer corners.

    Parameters
    ----------
    corners
        ``(4, 2)`` outer corners ``(x, y)`` in full-frame pixels, §4 order
        (next to dark skin, bluish green, black, white).
    method
        Recorded in :attr:`Checker.method`.
    score
        Recorded in :attr:`Checker.score`.

    Returns
    -------
    Checker
        With the 24 patch quadrilaterals from the chart model's homography.

    Raises
    ------
    ValueError
        If ``corners`` is not ``(4, 2)`` of finite numbers.

    Notes
    -----
    Domain/Range: full-frame pixels.

    Examples
    --------
    >>> checker = checker_from_corners([[0, 0], [140, 0], [140, 100], [0, 100]])
    >>> checker.patches[23].mean(axis=0).round(1).tolist()
    [124.8, 81.8]
    """
    corners = np.asarray(corners, np.float64)
    if corners.shape != (4, 2) or not np.all(np.isfinite(corners)):
        raise ValueError(f"corners must be (4, 2) finite (x, y) pixels, got {corners.tolist()}")
    return Checker(corners=corners, patches=patch_quads_from_corners(corners),
                   method=method, score=score)


def viewable_rendering(RGB: ArrayLike, *, gamma: float = 2.2) -> NDArrayUInt8:
    """
    Render linear camera RGB as 8-bit BGR for viewing and for 8-bit detectors.

    Parameters
    ----------
    RGB
        ``(H, W, 3)`` linear camera RGB.
    gamma
        Display gamma.

    Returns
    -------
    NDArray
        ``(H, W, 3)`` uint8 BGR: grey-world diagonal gain, 99th-percentile
        exposure, ``x ** (1 / gamma)``.

    Notes
    -----
    Domain: ``RGB`` [0, 1] of white level. Range: [0, 255] uint8, BGR order
    (OpenCV).

    References
    ----------
    :cite:`Buchsbaum1980`

    Examples
    --------
    >>> viewable_rendering(np.full((2, 2, 3), [0.1, 0.2, 0.4], np.float32))[0, 0].tolist()
    [255, 255, 255]
    """
    RGB = np.asarray(RGB, np.float32)
    means = np.maximum(RGB.reshape(-1, 3).mean(axis=0), 1e-6)
    balanced = RGB * (means.mean() / means)
    level = max(float(np.percentile(balanced, 99)), 1e-6)
    encoded = np.clip(balanced / level, 0.0, 1.0) ** (1.0 / gamma)
    return np.ascontiguousarray((encoded[..., ::-1] * 255.0 + 0.5).astype(np.uint8))


def reduce_image(RGB: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """
    Return a copy reduced so that its longer side is at most ``max_side``.

    Parameters
    ----------
    RGB
        ``(H, W, 3)`` image.
    max_side
        Longest side of the result in pixels.

    Returns
    -------
    tuple
        ``(reduced float32 image, scale)`` with reduced = full * scale.

    Notes
    -----
    Domain/Range: unchanged values (area averaging).

    Examples
    --------
    >>> reduced, scale = reduce_image(np.zeros((400, 800, 3), np.float32), 200)
    >>> reduced.shape, scale
    ((100, 200, 3), 0.25)
    """
    height, width = RGB.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale >= 1.0:
        return np.asarray(RGB, np.float32), 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # OpenCV's area resampling is an exact box average and about 9x faster
    # than a NumPy block mean on 24 MP.
    reduced = cv2.resize(np.asarray(RGB, np.float32), size, interpolation=cv2.INTER_AREA)
    return reduced, size[0] / width


def remove_pedestal(RGB: np.ndarray, *, percentile: float = 0.1) -> np.ndarray:
    """
    Subtract a dark pedestal (an unremoved black level, flare) for detection.

    Parameters
    ----------
    RGB
        ``(H, W, 3)`` linear image (the reduced copy).
    percentile
        Percentile (per channel, then the smallest) taken as the pedestal.

    Returns
    -------
    NDArray
        ``RGB`` minus the smallest of its per-channel ``percentile``-th
        percentiles (one level for all channels, like a black level), clipped
        at 0 (float32); ``RGB`` itself when that level is not positive.
        Detection only: sampling reads the image as given.

    Notes
    -----
    Domain/Range: linear values, [0, 1] of white level. A black offset left in
    the data (8-bit NUS-8 exports keep about 28/255) lowers the neutral row's
    contrast and chroma spread until verification rejects the chart; in
    black-subtracted data the pedestal is about 0 and nothing changes.

    Examples
    --------
    >>> RGB = np.full((4, 4, 3), 0.1, np.float32)
    >>> RGB[0, 0] = 0.5
    >>> round(float(remove_pedestal(RGB)[0, 0, 0]), 6), float(remove_pedestal(RGB)[1, 1, 0])
    (0.4, 0.0)
    """
    RGB = np.asarray(RGB, np.float32)
    step = max(1, int(np.sqrt(RGB.shape[0] * RGB.shape[1] / 250_000)))
    pedestal = float(np.percentile(RGB[::step, ::step].reshape(-1, 3), percentile, axis=0).min())
    if not pedestal > 0:
        return RGB
    return np.maximum(RGB - np.float32(pedestal), 0.0)


def candidates_from_centres(centres: ArrayLike) -> list[NDArray[np.float64]]:
    """
    Return candidate §4 corner sets for a set of detected patch centres.

    Parameters
    ----------
    centres
        ``(n, 2)`` detected patch centres, ``n >= 4``, ideally the 24 of one
        chart (a partial grid works when it includes the corner patches).

    Returns
    -------
    list
        Four ``(4, 2)`` corner sets, one per 90-degree rotation of the grid,
        each refined by a homography over the matched centres.

    Notes
    -----
    Domain/Range: pixels of the image the centres came from.

    Examples
    --------
    >>> from ccharmony.checker.geometry import CHART_PATCH_CENTRES
    >>> found = candidates_from_centres(CHART_PATCH_CENTRES * [140, 100])
    >>> truth = [[0, 0], [140, 0], [140, 100], [0, 100]]
    >>> len(found), sum(bool(np.allclose(c, truth, atol=1e-3)) for c in found)
    (4, 1)
    """
    centres = np.asarray(centres, np.float64).reshape(-1, 2)
    box = cv2.boxPoints(cv2.minAreaRect(centres.astype(np.float32))).astype(np.float64)
    nearest = [centres[np.argmin(np.linalg.norm(centres - point, axis=1))] for point in box]
    corner_centres = order_corners_clockwise(np.array(nearest))
    model = CHART_PATCH_CENTRES[list(_CORNER_PATCHES)]
    candidates = []
    for shift in range(4):
        image_points = np.roll(corner_centres, -shift, axis=0)
        H, _ = cv2.findHomography(model, image_points, 0)
        if H is None:
            continue
        for _ in range(2):
            predicted = apply_homography(H, CHART_PATCH_CENTRES)
            distances = np.linalg.norm(predicted[:, None] - centres[None], axis=2)
            match = distances.argmin(axis=1)
            pitch = np.linalg.norm(predicted[1] - predicted[0])
            good = distances[np.arange(24), match] < 0.35 * pitch
            if np.count_nonzero(good) < 6:
                break
            refined, _ = cv2.findHomography(CHART_PATCH_CENTRES[good], centres[match[good]], 0)
            if refined is None:
                break
            H = refined
        corners = apply_homography(H, np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]))
        candidates.append(corners)
    return candidates


def _mcc(view: NDArrayUInt8) -> list[np.ndarray]:
    from ccharmony.checker.mcc import find_patch_centres_mcc

    return find_patch_centres_mcc(view)


def _segmentation(view: NDArrayUInt8) -> list[np.ndarray]:
    from ccharmony.checker.segmentation import find_patch_centres_segmentation

    return find_patch_centres_segmentation(view)


DETECTION_METHODS: dict[str, Callable[[NDArrayUInt8], list[np.ndarray]]] = {
    "segmentation": _segmentation,
    "mcc": _mcc,
}
"""Backends: name -> function(8-bit BGR view) -> list of patch-centre arrays."""

DEFAULT_METHODS = ("segmentation", "mcc")
"""Order tried by :func:`detect` (see ``benchmarks/detection.py`` for the measurements)."""


def _box_means(integral: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """Mean colour in the integer bounding box of each quad (``(n, 3)``, NaN if empty)."""
    height, width = integral.shape[0] - 1, integral.shape[1] - 1
    low = np.floor(quads.min(axis=1)).astype(np.int64)
    high = np.ceil(quads.max(axis=1)).astype(np.int64) + 1
    x0, y0 = np.clip(low[:, 0], 0, width), np.clip(low[:, 1], 0, height)
    x1, y1 = np.clip(high[:, 0], 0, width), np.clip(high[:, 1], 0, height)
    area = ((x1 - x0) * (y1 - y0)).astype(np.float64)
    total = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(area[:, None] > 0, total / area[:, None], np.nan)


def _orient(reduced: np.ndarray, candidates: Sequence[np.ndarray],  # noqa: ANN202
            integral: np.ndarray | None = None):
    # Box means from an integral image: O(1) per patch, so the hundreds of
    # candidate windows a partial lattice proposes cost little; the inner 35 %
    # keeps a rotated patch's bounding box inside the patch.
    if integral is None:
        integral = cv2.integral(np.ascontiguousarray(reduced, np.float32), sdepth=cv2.CV_64F)
    reads = [_box_means(integral, inner_quads(patch_quads_from_corners(corners), 0.35))
             for corners in candidates]
    return best_orientation(reads) if reads else None


def detect(
    image: LinearImage | ArrayLike,
    *,
    methods: Sequence[str] | None = None,
    max_side: int = 1024,
) -> Checker | None:
    """
    Find a ColorChecker Classic (or Classic Mini) and return it upright.

    Parameters
    ----------
    image
        :class:`~ccharmony.io.image.LinearImage` or ``(H, W, 3)`` linear
        camera RGB; need not be white balanced.
    methods
        Backend names from :data:`DETECTION_METHODS`, tried in order until
        one finds a chart that passes verification; default
        :data:`DEFAULT_METHODS`.
    max_side
        Detection runs on a copy reduced to this longest side.

    Returns
    -------
    Checker or None
        Full-frame corners (§4 order) and patch quads; ``None`` when no
        candidate is a ColorChecker (a result, not an error).

    Raises
    ------
    ConfigError
        If a method name is unknown.

    Notes
    -----
    Domain: ``image`` linear camera RGB, [0, 1] of white level.
    Range: pixel coordinates of the full frame. When no backend finds a
    chart, the backends run once more on a copy without its dark pedestal
    (:func:`remove_pedestal`: an unremoved black level, as in 8-bit NUS-8
    exports); candidates are oriented and verified on box means read from an
    integral image of the reduced copy.

    Examples
    --------
    >>> from ccharmony.checker._synthetic import render_chart
    >>> capture = render_chart(1, size=(384, 512))
    >>> checker = detect(capture.RGB)
    >>> bool(np.abs(checker.corners - capture.corners).max() < 3)
    True
    """
    methods = DEFAULT_METHODS if methods is None else tuple(methods)
    for name in methods:
        if name not in DETECTION_METHODS:
            raise ConfigError(
                f"detection method {name!r} is unknown; use one of {sorted(DETECTION_METHODS)}")
    RGB = image.RGB if isinstance(image, LinearImage) else np.asarray(image)
    if RGB.ndim != 3 or RGB.shape[2] != 3:
        raise ValueError(f"image must have shape (H, W, 3), got {RGB.shape}")
    reduced, scale = reduce_image(RGB, max_side)
    # Second pass, only when the first finds nothing: without a dark pedestal
    # (an unremoved black level), which hides the neutral row's contrast.
    for copy in (reduced, None):
        if copy is None:
            copy = remove_pedestal(reduced)
            if copy is reduced:
                break
        view = viewable_rendering(copy)
        integral = cv2.integral(np.ascontiguousarray(copy, np.float32), sdepth=cv2.CV_64F)
        for name in methods:
            best = None
            for centres in DETECTION_METHODS[name](view):
                if len(centres) < 4:
                    continue
                candidates = candidates_from_centres(centres)
                chosen = _orient(copy, candidates, integral)
                if chosen is not None and (best is None or chosen[1].score > best[1].score):
                    best = (candidates[chosen[0]], chosen[1])
            if best is not None:
                # pixel centres: reduced = (full + 0.5) * scale - 0.5
                corners = (best[0] + 0.5) / scale - 0.5
                return checker_from_corners(corners, method=name, score=best[1].score)
    return None
