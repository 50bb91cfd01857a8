"""
Foreground masks
================

Define the pure mask operations of ``ccharmony annotate``:

-   :func:`grabcut_box`: a foreground proposal from a box (OpenCV GrabCut,
    ``GC_INIT_WITH_RECT``).
-   :func:`grabcut_refine`: more GrabCut iterations seeded by the current mask
    and the user's add / erase strokes (``GC_INIT_WITH_MASK``).
-   :func:`guided_upsample`: bring a mask computed on a reduced copy back to
    full resolution, its edges snapped to the photo's (guided filter).
-   :func:`paint_stroke`, :func:`fill_polygon`: brush and polygon edits.
-   :func:`mask_outline`: the mask's boundary as polygons, for drawing.
-   :func:`Stroke`: one brush stroke (full-frame pixels).

All coordinates are full-frame pixels ``(x, y)`` with pixel centres at
integers; masks are ``(H, W)`` bool arrays of the full frame. GrabCut runs on
a reduced copy of the region around the box (at most
:data:`WORK_SIDE` pixels on its longer side) and the result is upsampled with a
guided filter whose guide is the full-resolution photo. Measured on a
24-megapixel synthetic capture (6000x4000; two objects whose regions are
about 1600x1800 and 1300x1750 pixels; 5 iterations; a loaded 2-core machine,
load average about 3): GrabCut on a copy of 1000 pixels took 5.3-11.7 s, of
640 pixels 2.1-3.4 s, of 400 pixels 0.6-0.8 s; upsampling the 400-pixel result
with the guided filter (0.4-1.0 s) gives an intersection over union with the
true mask of 0.999 against 0.992-0.994 for nearest-neighbour upsampling, and
beats a second GrabCut pass at full resolution in a band around the edge
(IoU 0.996-0.998, 2.9-7.0 s).

References
----------
-   :cite:`Rother2004` : Rother, C., Kolmogorov, V., & Blake, A. (2004).
    "GrabCut": interactive foreground extraction using iterated graph cuts.
    ACM Transactions on Graphics (SIGGRAPH), 23(3), 309-314.
    doi:10.1145/1015706.1015720
-   :cite:`He2013` : He, K., Sun, J., & Tang, X. (2013). Guided image
    filtering. IEEE Transactions on Pattern Analysis and Machine Intelligence,
    35(6), 1397-1409. doi:10.1109/TPAMI.2012.213
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from ccharmony._types import ArrayLike, NDArrayBool, NDArrayUInt8
from ccharmony.errors import AnnotationError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "WORK_SIDE",
    "Stroke",
    "clip_box",
    "grabcut_box",
    "grabcut_refine",
    "guided_upsample",
    "paint_stroke",
    "fill_polygon",
    "mask_outline",
]

WORK_SIDE = 512
"""Longest side, in pixels, of the reduced copy GrabCut runs on."""

_CONTEXT = 0.25
"""Context kept around a box for GrabCut's background model: fraction of the box's longer side."""

_GUIDED_EPS = (0.1 * 255.0) ** 2
"""Guided-filter regularisation on 8-bit values: edges weaker than about 10 % of full scale are smoothed."""


@dataclass(frozen=True)
class Stroke:
    """
    Describe one brush stroke.

    Parameters
    ----------
    points
        ``(n, 2)`` stroke centre line ``(x, y)``, full-frame pixels, n >= 1.
    radius
        Brush radius in full-frame pixels (> 0).
    mode
        ``"add"`` paints foreground, ``"erase"`` paints background.

    Examples
    --------
    >>> Stroke([[1, 2], [3, 4]], 2.0, "add").points.shape
    (2, 2)
    """

    points: np.ndarray
    radius: float
    mode: Literal["add", "erase"]

    def __init__(self, points: ArrayLike, radius: float, mode: str) -> None:
        array = np.asarray(points, dtype=np.float64).reshape(-1, 2) if np.size(points) else np.zeros((0, 2))
        if array.shape[0] < 1 or not np.all(np.isfinite(array)):
            raise AnnotationError(f"stroke: points must be finite [x, y] pairs, got {np.size(points)} values")
        if not np.isfinite(radius) or radius <= 0:
            raise AnnotationError(f"stroke: radius must be a positive number of pixels, got {radius!r}")
        if mode not in ("add", "erase"):
            raise AnnotationError(f"stroke: mode must be 'add' or 'erase', got {mode!r}")
        object.__setattr__(self, "points", array)
        object.__setattr__(self, "radius", float(radius))
        object.__setattr__(self, "mode", mode)


def clip_box(box: ArrayLike, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """
    Return ``(x0, y0, x1, y1)`` (inclusive-exclusive, integers) of a box clipped to a frame.

    Parameters
    ----------
    box
        ``(x0, y0, x1, y1)`` in full-frame pixels, corners in any order.
    shape
        ``(height, width)`` of the frame.

    Raises
    ------
    AnnotationError
        When the box is not 4 finite numbers or has less than 2 pixels on a side
        inside the frame.

    Examples
    --------
    >>> clip_box([-5, 10, 50.4, 2], (40, 30))
    (0, 2, 30, 11)
    """
    values = np.asarray(box, dtype=np.float64).reshape(-1)
    if values.shape != (4,) or not np.all(np.isfinite(values)):
        raise AnnotationError(f"box must be 4 numbers x0, y0, x1, y1, got {np.asarray(box).tolist()}")
    height, width = shape
    x0, x1 = sorted((values[0], values[2]))
    y0, y1 = sorted((values[1], values[3]))
    left, top = int(max(0, np.floor(x0))), int(max(0, np.floor(y0)))
    right, bottom = int(min(width, np.ceil(x1) + 1)), int(min(height, np.ceil(y1) + 1))
    if right - left < 2 or bottom - top < 2:
        raise AnnotationError(
            f"box {values.round(1).tolist()} has less than 2 pixels on a side inside the {width}x{height} frame"
        )
    return left, top, right, bottom


def _region(box: tuple[int, int, int, int], shape: tuple[int, int], context: float) -> tuple[int, int, int, int]:
    """Grow a box by ``context`` of its longer side (at least 8 pixels), clipped to the frame."""
    x0, y0, x1, y1 = box
    pad = max(8, int(round(context * max(x1 - x0, y1 - y0))))
    return max(0, x0 - pad), max(0, y0 - pad), min(shape[1], x1 + pad), min(shape[0], y1 + pad)


def _reduce(region: np.ndarray, work_side: int) -> tuple[np.ndarray, float]:
    """Return an area-averaged copy of at most ``work_side`` on its longer side and its scale."""
    height, width = region.shape[:2]
    scale = min(1.0, work_side / max(height, width))
    if scale >= 1.0:
        return np.ascontiguousarray(region), 1.0
    size = (max(2, round(width * scale)), max(2, round(height * scale)))
    return cv2.resize(region, size, interpolation=cv2.INTER_AREA), size[0] / width


def guided_upsample(guide: NDArrayUInt8, low: ArrayLike, *, scale: float) -> NDArrayBool:
    """
    Upsample a reduced-resolution mask to its guide's size, edges snapped to the guide.

    Parameters
    ----------
    guide
        ``(H, W, 3)`` uint8 photo region at full resolution.
    low
        ``(h, w)`` mask or foreground probability in [0, 1] on the reduced grid
        (``h ~ H * scale``).
    scale
        Reduced / full size (<= 1).

    Returns
    -------
    numpy.ndarray
        bool ``(H, W)``: bilinear upsampling, then a guided filter of radius
        ``2 / scale`` pixels (about two reduced pixels, the band where the
        reduced mask is uncertain), thresholded at 0.5.

    Notes
    -----
    Domain: ``guide`` 8-bit sRGB, ``low`` [0, 1]. With ``scale == 1`` the mask
    is returned thresholded, unfiltered.

    References
    ----------
    :cite:`He2013`

    Examples
    --------
    >>> guide = np.zeros((40, 40, 3), np.uint8); guide[:, 20:] = 255
    >>> low = np.zeros((10, 10)); low[:, 5:] = 1
    >>> mask = guided_upsample(guide, low, scale=0.25)
    >>> bool(mask[:, 19].any()), bool(mask[:, 20].all())
    (False, True)
    """
    height, width = guide.shape[:2]
    source = np.asarray(low, dtype=np.float32)
    if scale >= 1.0 and source.shape == (height, width):
        return source > 0.5
    up = cv2.resize(source, (width, height), interpolation=cv2.INTER_LINEAR)
    radius = max(1, int(np.ceil(2.0 / max(scale, 1e-6))))
    filtered = cv2.ximgproc.guidedFilter(np.ascontiguousarray(guide), up, radius, _GUIDED_EPS)
    return np.asarray(filtered > 0.5)


def _run_grabcut(image: np.ndarray, labels: np.ndarray, rect: tuple[int, int, int, int] | None,
                 iterations: int, mode: int, seed: int) -> np.ndarray:
    background = np.zeros((1, 65), np.float64)
    foreground = np.zeros((1, 65), np.float64)
    # GrabCut's GMM initialisation (k-means) draws from OpenCV's RNG: seeded, same proposal every time.
    cv2.setRNGSeed(int(seed))
    try:
        cv2.grabCut(image, labels, rect if rect is not None else (0, 0, 0, 0), background, foreground,
                    int(iterations), mode)
    except cv2.error as error:  # one colour class empty (e.g. a stroke covering everything)
        raise AnnotationError(f"GrabCut could not separate foreground and background ({str(error).strip()[-80:]})"
                              ) from None
    return labels


def grabcut_box(
    image: NDArrayUInt8,
    box: ArrayLike,
    *,
    iterations: int = 5,
    work_side: int = WORK_SIDE,
    seed: int = 0,
) -> NDArrayBool:
    """
    Propose a foreground mask from a box around the object.

    Parameters
    ----------
    image
        ``(H, W, 3)`` uint8 photo, BGR (OpenCV order) or RGB: GrabCut's colour
        models do not depend on the channel order.
    box
        ``(x0, y0, x1, y1)`` full-frame pixels around the object; everything
        outside it is background.
    iterations
        GrabCut iterations.
    work_side
        GrabCut runs on the region ``box`` plus :data:`_CONTEXT` of context,
        reduced to at most this many pixels on its longer side.
    seed
        Seed of GrabCut's colour-model initialisation.

    Returns
    -------
    numpy.ndarray
        bool ``(H, W)`` full-frame mask (foreground and probable foreground),
        empty outside the box.

    Raises
    ------
    AnnotationError
        For a box outside the frame or too small.

    Notes
    -----
    Domain: 8-bit sRGB; full-frame pixels.

    References
    ----------
    :cite:`Rother2004`, :cite:`He2013`

    Examples
    --------
    >>> image = np.full((60, 80, 3), 40, np.uint8)
    >>> image[20:40, 30:50] = (30, 200, 220)
    >>> mask = grabcut_box(image, [25, 15, 55, 45])
    >>> int(mask.sum()), bool(mask[20:40, 30:50].all())
    (400, True)
    """
    frame = np.asarray(image)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise AnnotationError(f"image must be (H, W, 3) uint8, got {frame.dtype} {frame.shape}")
    shape = frame.shape[:2]
    x0, y0, x1, y1 = clip_box(box, shape)
    rx0, ry0, rx1, ry1 = _region((x0, y0, x1, y1), shape, _CONTEXT)
    region = frame[ry0:ry1, rx0:rx1]
    small, scale = _reduce(region, work_side)
    h, w = small.shape[:2]
    # The box in the reduced grid, at least one pixel inside the region on each side when it can be.
    bx0 = int(np.clip(np.floor((x0 - rx0) * scale), 0, w - 2))
    by0 = int(np.clip(np.floor((y0 - ry0) * scale), 0, h - 2))
    bx1 = int(np.clip(np.ceil((x1 - rx0) * scale), bx0 + 2, w))
    by1 = int(np.clip(np.ceil((y1 - ry0) * scale), by0 + 2, h))
    labels = np.zeros((h, w), np.uint8)
    if bx0 == 0 and by0 == 0 and bx1 == w and by1 == h:
        # The box is the whole frame: GC_INIT_WITH_RECT would have no background sample.
        labels[:] = cv2.GC_PR_FGD
        labels[[0, -1], :] = cv2.GC_BGD
        labels[:, [0, -1]] = cv2.GC_BGD
        labels = _run_grabcut(small, labels, None, iterations, cv2.GC_INIT_WITH_MASK, seed)
    else:
        labels = _run_grabcut(small, labels, (bx0, by0, bx1 - bx0, by1 - by0), iterations,
                              cv2.GC_INIT_WITH_RECT, seed)
    low = ((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)).astype(np.float32)
    mask_region = guided_upsample(region, low, scale=scale)
    out = np.zeros(shape, bool)
    out[ry0:ry1, rx0:rx1] = mask_region
    # Nothing outside the user's box (the guided filter may bleed a pixel or two).
    keep = np.zeros(shape, bool)
    keep[y0:y1, x0:x1] = True
    return out & keep


def _stroke_labels(strokes: Sequence[Stroke], shape: tuple[int, int], origin: tuple[int, int],
                   scale: float) -> np.ndarray:
    """Rasterise strokes on a reduced grid: 1 = add (foreground), 2 = erase (background), 0 = none."""
    labels = np.zeros(shape, np.uint8)
    for stroke in strokes:
        value = 1 if stroke.mode == "add" else 2
        points = (stroke.points - np.asarray(origin, np.float64) + 0.5) * scale - 0.5
        _draw_polyline(labels, points, stroke.radius * scale, value)
    return labels


_SHIFT = 4
"""Fractional bits of OpenCV's sub-pixel drawing."""


def _draw_polyline(target: np.ndarray, points: np.ndarray, radius: float, value: int) -> None:
    """
    Paint a round brush of ``radius`` along a polyline into ``target``, in place.

    A pixel is painted when its centre lies within ``radius`` of the centre
    line, rasterised one pixel wide (so within half a pixel): OpenCV's thick
    lines and sub-pixel circles are not symmetric about their centre.
    """
    height, width = target.shape
    margin = int(np.ceil(radius)) + 2
    x0 = max(0, int(np.floor(points[:, 0].min())) - margin)
    y0 = max(0, int(np.floor(points[:, 1].min())) - margin)
    x1 = min(width, int(np.ceil(points[:, 0].max())) + margin + 1)
    y1 = min(height, int(np.ceil(points[:, 1].max())) + margin + 1)
    if x1 <= x0 or y1 <= y0:
        return
    line = np.full((y1 - y0, x1 - x0), 255, np.uint8)
    fixed = np.round((np.asarray(points, np.float64) - [x0, y0]) * (1 << _SHIFT)).astype(np.int32)
    cv2.polylines(line, [fixed.reshape(-1, 1, 2)], False, 0, 1, cv2.LINE_8, _SHIFT)
    for point in fixed:  # single points and segment ends
        column, row = (point + (1 << (_SHIFT - 1))) >> _SHIFT
        if 0 <= row < line.shape[0] and 0 <= column < line.shape[1]:
            line[row, column] = 0
    distance = cv2.distanceTransform(line, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    target[y0:y1, x0:x1][distance <= radius] = value


def grabcut_refine(
    image: NDArrayUInt8,
    mask: ArrayLike,
    strokes: Sequence[Stroke],
    *,
    iterations: int = 3,
    work_side: int = WORK_SIDE,
    seed: int = 0,
) -> NDArrayBool:
    """
    Refine a mask with more GrabCut iterations, the user's strokes as hard labels.

    Parameters
    ----------
    image
        ``(H, W, 3)`` uint8 photo.
    mask
        ``(H, W)`` current mask: probable foreground inside, probable background
        outside.
    strokes
        Add strokes are certain foreground, erase strokes certain background.
    iterations
        GrabCut iterations (``GC_INIT_WITH_MASK``).
    work_side, seed
        As :func:`grabcut_box`.

    Returns
    -------
    numpy.ndarray
        bool ``(H, W)``; the strokes are applied at full resolution on top, and
        the mask is unchanged outside the working region (the bounding box of
        the mask and the add strokes, grown by a quarter of its side).

    Raises
    ------
    AnnotationError
        When the mask and the add strokes are both empty.

    References
    ----------
    :cite:`Rother2004`, :cite:`He2013`

    Examples
    --------
    >>> image = np.full((60, 80, 3), 40, np.uint8)
    >>> image[20:40, 30:50] = (30, 200, 220)
    >>> rough = np.zeros((60, 80), bool); rough[22:38, 32:44] = True
    >>> refined = grabcut_refine(image, rough, [Stroke([[45, 30]], 2, "add")])
    >>> int(refined.sum())
    400
    """
    frame = np.asarray(image)
    current = np.asarray(mask, dtype=bool)
    shape = frame.shape[:2]
    if current.shape != shape:
        raise AnnotationError(f"mask is {current.shape} but the image is {shape}")
    seeds = np.zeros(shape, bool)
    for stroke in strokes:
        if stroke.mode == "add":
            seeds[np.clip(np.round(stroke.points[:, 1]).astype(int), 0, shape[0] - 1),
                  np.clip(np.round(stroke.points[:, 0]).astype(int), 0, shape[1] - 1)] = True
    extent = current | seeds
    if not extent.any():
        raise AnnotationError("refine needs a mask or an add stroke to start from; draw a box first")
    ys = np.flatnonzero(extent.any(axis=1))
    xs = np.flatnonzero(extent.any(axis=0))
    pad = max(int(np.ceil(max((s.radius for s in strokes), default=0.0))), 1)
    box = (max(0, xs[0] - pad), max(0, ys[0] - pad), min(shape[1], xs[-1] + 1 + pad), min(shape[0], ys[-1] + 1 + pad))
    rx0, ry0, rx1, ry1 = _region(box, shape, _CONTEXT)
    region = frame[ry0:ry1, rx0:rx1]
    small, scale = _reduce(region, work_side)
    h, w = small.shape[:2]
    current_small = cv2.resize(current[ry0:ry1, rx0:rx1].astype(np.float32), (w, h),
                               interpolation=cv2.INTER_AREA) > 0.5
    labels = np.where(current_small, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    hints = _stroke_labels(strokes, (h, w), (rx0, ry0), scale)
    labels[hints == 1] = cv2.GC_FGD
    labels[hints == 2] = cv2.GC_BGD
    # The region's border is background unless the frame ends there or a stroke says otherwise.
    border = np.zeros((h, w), bool)
    if ry0 > 0:
        border[0, :] = True
    if ry1 < shape[0]:
        border[-1, :] = True
    if rx0 > 0:
        border[:, 0] = True
    if rx1 < shape[1]:
        border[:, -1] = True
    labels[border & (hints != 1)] = cv2.GC_BGD
    if not np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).any():
        raise AnnotationError("refine: nothing is left as foreground; use add strokes or draw a box")
    labels = _run_grabcut(small, labels, None, iterations, cv2.GC_INIT_WITH_MASK, seed)
    low = ((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)).astype(np.float32)
    out = current.copy()
    out[ry0:ry1, rx0:rx1] = guided_upsample(region, low, scale=scale)
    for stroke in strokes:  # the user's strokes are certain, at full resolution
        out = paint_stroke(out, stroke)
    return out


def paint_stroke(mask: ArrayLike, stroke: Stroke) -> NDArrayBool:
    """
    Return a copy of ``mask`` with a brush stroke painted in.

    Parameters
    ----------
    mask
        ``(H, W)`` bool mask.
    stroke
        The stroke: a round brush of ``stroke.radius`` pixels along its points.

    Returns
    -------
    numpy.ndarray
        bool ``(H, W)``: ``True`` under an add stroke, ``False`` under an erase
        stroke, unchanged elsewhere.

    Examples
    --------
    >>> mask = paint_stroke(np.zeros((9, 9), bool), Stroke([[2, 4], [6, 4]], 1.5, "add"))
    >>> mask[4].astype(int).tolist()
    [0, 1, 1, 1, 1, 1, 1, 1, 0]
    >>> paint_stroke(mask, Stroke([[4, 4]], 1, "erase"))[4, 3:6].tolist()
    [False, False, False]
    """
    current = np.asarray(mask, dtype=bool)
    painted = np.zeros(current.shape, np.uint8)
    _draw_polyline(painted, stroke.points, stroke.radius, 1)
    out = current.copy()
    out[painted > 0] = stroke.mode == "add"
    return out


def fill_polygon(mask: ArrayLike, points: ArrayLike, *, mode: Literal["add", "erase"] = "add") -> NDArrayBool:
    """
    Return a copy of ``mask`` with a polygon filled in (add) or cut out (erase).

    Parameters
    ----------
    mask
        ``(H, W)`` bool mask.
    points
        ``(n, 2)`` polygon vertices ``(x, y)``, full-frame pixels, n >= 3.
    mode
        ``"add"`` or ``"erase"``.

    Raises
    ------
    AnnotationError
        Fewer than 3 finite vertices, or an unknown mode.

    Examples
    --------
    >>> mask = fill_polygon(np.zeros((6, 6), bool), [[1, 1], [4, 1], [4, 4], [1, 4]])
    >>> int(mask.sum())
    16
    """
    vertices = np.asarray(points, dtype=np.float64).reshape(-1, 2) if np.size(points) else np.zeros((0, 2))
    if vertices.shape[0] < 3 or not np.all(np.isfinite(vertices)):
        raise AnnotationError(f"polygon needs at least 3 finite [x, y] vertices, got {vertices.shape[0]}")
    if mode not in ("add", "erase"):
        raise AnnotationError(f"polygon: mode must be 'add' or 'erase', got {mode!r}")
    current = np.asarray(mask, dtype=bool)
    painted = np.zeros(current.shape, np.uint8)
    fixed = np.round(vertices * (1 << _SHIFT)).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(painted, [fixed], 1, cv2.LINE_8, _SHIFT)
    out = current.copy()
    out[painted > 0] = mode == "add"
    return out


def mask_outline(mask: ArrayLike, *, max_points: int = 200_000) -> list[list[list[float]]]:
    """
    Return a mask's boundary as polygons for drawing (even-odd fill gives the mask back).

    Parameters
    ----------
    mask
        ``(H, W)`` bool mask.
    max_points
        When the exact boundary has more vertices, it is simplified
        (Douglas-Peucker, tolerance doubled from 0.5 pixel until it fits).

    Returns
    -------
    list
        Polygons, each a list of ``[x, y]`` vertices in continuous full-frame
        coordinates (pixel ``(x, y)`` covers ``[x, x + 1) x [y, y + 1)``), outer
        boundaries and holes alike.

    Examples
    --------
    >>> mask = np.zeros((5, 5), bool); mask[1:3, 1:4] = True
    >>> mask_outline(mask)
    [[[1.5, 1.5], [1.5, 2.5], [3.5, 2.5], [3.5, 1.5]]]
    """
    current = np.ascontiguousarray(np.asarray(mask, dtype=bool).view(np.uint8))
    contours, _ = cv2.findContours(current, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    total = sum(len(c) for c in contours)
    epsilon = 0.5
    while total > max_points and epsilon < 64:
        contours = tuple(cv2.approxPolyDP(c, epsilon, True) for c in contours)
        total = sum(len(c) for c in contours)
        epsilon *= 2
    return [
        (contour.reshape(-1, 2).astype(np.float64) + 0.5).round(2).tolist()
        for contour in contours
        if len(contour) >= 2
    ]
