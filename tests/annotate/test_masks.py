"""Pure mask operations: GrabCut proposal and refinement, brush, polygon, outline."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ccharmony.annotate.masks import (
    Stroke,
    clip_box,
    fill_polygon,
    grabcut_box,
    grabcut_refine,
    guided_upsample,
    mask_outline,
    paint_stroke,
)
from ccharmony.errors import AnnotationError


def _disc_scene(size: int = 400, radius: int = 90, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A textured disc on a textured background of other colours, and its true mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    truth = (xx - size / 2) ** 2 + (yy - size / 2) ** 2 <= radius ** 2
    image = np.empty((size, size, 3), np.uint8)
    image[...] = np.clip(rng.normal((40, 90, 160), 12, (size, size, 3)), 0, 255)
    image[truth] = np.clip(rng.normal((200, 120, 40), 12, (int(truth.sum()), 3)), 0, 255)
    return image, truth


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_grabcut_box_finds_the_disc_on_a_reduced_copy() -> None:
    image, truth = _disc_scene(size=1200, radius=300)
    mask = grabcut_box(image, [250, 250, 950, 950], work_side=256)
    assert mask.shape == truth.shape and mask.dtype == bool
    assert _iou(mask, truth) > 0.99
    # Nothing outside the user's box, even after the guided upsampling.
    assert not mask[:, :250].any() and not mask[:, 951:].any()


def test_grabcut_box_is_deterministic() -> None:
    image, _ = _disc_scene()
    first = grabcut_box(image, [100, 100, 300, 300], seed=3)
    second = grabcut_box(image, [100, 100, 300, 300], seed=3)
    assert np.array_equal(first, second)


def test_guided_upsample_snaps_edges_better_than_nearest() -> None:
    image, truth = _disc_scene(size=800, radius=200)
    scale = 0.125
    low = cv2.resize(truth.astype(np.float32), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) > 0.5
    nearest = cv2.resize(low.astype(np.uint8), truth.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
    guided = guided_upsample(image, low.astype(np.float32), scale=scale)
    assert _iou(guided, truth) > _iou(nearest, truth)
    assert _iou(guided, truth) > 0.99


def test_refine_uses_erase_strokes_as_certain_background() -> None:
    image, truth = _disc_scene()
    rough = np.zeros_like(truth)
    rough[120:280, 120:280] = True  # a square around the disc: corners are wrong
    erase = Stroke([[200, 200]], 6, "erase")  # a hole the user insists on
    refined = grabcut_refine(image, rough, [erase], iterations=3)
    assert _iou(refined & ~paint_stroke(np.zeros_like(truth), Stroke([[200, 200]], 6, "add")), truth) > 0.95
    assert not refined[200, 200] and not refined[196, 200]
    assert _iou(refined, truth) > _iou(rough, truth)


def test_refine_without_any_foreground_is_refused() -> None:
    image, truth = _disc_scene(size=64, radius=10)
    with pytest.raises(AnnotationError, match="refine needs a mask or an add stroke"):
        grabcut_refine(image, np.zeros_like(truth), [Stroke([[5, 5]], 2, "erase")])


def test_paint_stroke_is_a_round_brush_of_the_given_radius() -> None:
    mask = paint_stroke(np.zeros((41, 41), bool), Stroke([[20, 20]], 10, "add"))
    yy, xx = np.mgrid[:41, :41]
    distance = np.hypot(xx - 20, yy - 20)
    assert mask[distance <= 9.5].all()
    assert not mask[distance > 10.5].any()
    # A stroke segment paints a capsule; erase clears it again and the input is never changed.
    line = paint_stroke(np.zeros((20, 40), bool), Stroke([[5, 10], [35, 10]], 3, "add"))
    assert line[10, 2:39].all() and not line[10, :1].any() and not line[14, 20]
    cleared = paint_stroke(line, Stroke([[5, 10], [35, 10]], 3, "erase"))
    assert not cleared.any() and line.any()


def test_fill_polygon_add_and_erase() -> None:
    mask = fill_polygon(np.zeros((10, 10), bool), [[2, 2], [7, 2], [7, 7], [2, 7]])
    assert int(mask.sum()) == 36 and mask[2:8, 2:8].all()
    cut = fill_polygon(mask, [[4, 4], [5, 4], [5, 5], [4, 5]], mode="erase")
    assert int(cut.sum()) == 32 and not cut[4:6, 4:6].any()
    with pytest.raises(AnnotationError, match="at least 3"):
        fill_polygon(mask, [[1, 1], [2, 2]])


def test_mask_outline_fills_back_to_the_mask() -> None:
    mask = np.zeros((60, 80), bool)
    mask[10:50, 10:70] = True
    mask[20:30, 20:40] = False  # a hole
    mask[22:27, 25:30] = True  # an island in the hole
    canvas = np.zeros((60 * 4, 80 * 4), np.uint8)
    polygons = mask_outline(mask)
    assert len(polygons) == 3
    # Even-odd fill of the pixel-centre polygons, each grown by half a pixel, is the mask (as app.js draws it).
    for polygon in polygons:
        cv2.fillPoly(canvas, [np.round(np.asarray(polygon) * 4 - 2).astype(np.int32)], 1)
    filled = np.zeros_like(canvas)
    for polygon in polygons:
        one = np.zeros_like(canvas)
        cv2.fillPoly(one, [np.round(np.asarray(polygon) * 4 - 2).astype(np.int32)], 1)
        filled ^= one
    reduced = cv2.resize(filled, (80, 60), interpolation=cv2.INTER_AREA) > 0
    assert (reduced == mask).mean() > 0.97


def test_clip_box_and_stroke_validation() -> None:
    assert clip_box([10, 10, 2, 3], (20, 20)) == (2, 3, 11, 11)
    with pytest.raises(AnnotationError, match="less than 2 pixels"):
        clip_box([30, 30, 40, 40], (20, 20))
    with pytest.raises(AnnotationError, match="4 numbers"):
        clip_box([1, 2, 3], (20, 20))
    with pytest.raises(AnnotationError, match="radius must be a positive"):
        Stroke([[1, 1]], 0, "add")
    with pytest.raises(AnnotationError, match="mode must be"):
        Stroke([[1, 1]], 1, "paint")
    with pytest.raises(AnnotationError, match="finite"):
        Stroke([[np.nan, 1]], 1, "add")
