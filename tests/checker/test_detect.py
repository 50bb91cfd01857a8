"""Tests of detection, orientation, sampling and the overlay."""

from __future__ import annotations

from pathlib import Path

import colour
import cv2
import numpy as np
import pytest

from ccharmony.checker import DETECTION_METHODS, checker_from_corners, detect, sample
from ccharmony.checker._synthetic import chart_camera_RGB, render_chart
from ccharmony.checker.geometry import order_corners_clockwise
from ccharmony.checker.orientation import best_orientation, orientation_score
from ccharmony.checker.overlay import render_overlay, write_overlay
from ccharmony.errors import ConfigError


def _rotate(patches: np.ndarray, turns: int) -> np.ndarray:
    """Patches read from a chart turned by 180 degrees ``turns`` times (code order)."""
    grid = patches.reshape(4, 6, 3)
    return (grid[::-1, ::-1] if turns % 2 else grid).reshape(24, 3)


class TestOrientation:
    @pytest.mark.parametrize("cct", [2000, 3000, 6500, 12000])
    @pytest.mark.parametrize("tint", [-0.5, 0.5])
    def test_upright_wins_under_casts(self, cct: float, tint: float) -> None:
        patches, _ = chart_camera_RGB(cct, tint)
        # an extra strong diagonal cast on top of the illuminant
        cast = patches * [3.0, 1.0, 0.2]
        index, score = best_orientation([_rotate(cast, 1), cast])
        assert index == 1 and score.accepted
        assert not orientation_score(_rotate(cast, 1)).accepted

    def test_rejects_random_colours(self) -> None:
        rng = np.random.default_rng(3)
        assert best_orientation([rng.uniform(0.05, 0.9, (24, 3)) for _ in range(20)]) is None

    def test_rejects_grey_card(self) -> None:
        assert not orientation_score(np.full((24, 3), 0.3)).accepted


class TestSample:
    def test_values_clipped_noise(self) -> None:
        corners = np.array([[20.0, 10.0], [300.0, 10.0], [300.0, 210.0], [20.0, 210.0]])
        checker = checker_from_corners(corners)
        rng = np.random.default_rng(0)
        RGB = np.zeros((230, 320, 3), np.float32)
        expected = rng.uniform(0.05, 0.9, (24, 3))
        expected[3] = [0.5, 0.995, 0.5]  # within 2 % of white in G
        for index, quad in enumerate(checker.patches):
            cv2.fillPoly(RGB, [np.round(quad).astype(np.int32)], expected[index].tolist())
        RGB = RGB + rng.normal(0, 0.01, RGB.shape).astype(np.float32)
        RGB[60, :] = 5.0  # a hot line through row 1: the robust mean ignores it
        patches = sample(RGB, checker)
        np.testing.assert_allclose(patches.RGB, expected, atol=0.003)
        assert patches.RGB.dtype == np.float32
        assert bool(patches.clipped[3]) and not patches.clipped[12:].any()
        np.testing.assert_allclose(patches.noise[12:], 0.01, atol=0.002)

    def test_outside_frame_is_nan_and_clipped(self) -> None:
        checker = checker_from_corners([[-500, -500], [-360, -500], [-360, -400], [-500, -400]])
        patches = sample(np.zeros((10, 10, 3), np.float32), checker)
        assert np.isnan(patches.RGB).all() and patches.clipped.all()

    def test_inner_out_of_range(self) -> None:
        checker = checker_from_corners([[0, 0], [140, 0], [140, 100], [0, 100]])
        with pytest.raises(ValueError, match="inner must be in"):
            sample(np.zeros((100, 140, 3), np.float32), checker, inner=0.0)


class TestDetectSynthetic:
    @pytest.mark.parametrize("seed", range(5))
    def test_found_upright(self, seed: int) -> None:
        capture = render_chart(seed, size=(480, 640))
        checker = detect(capture.RGB)
        assert checker is not None
        assert np.abs(checker.corners - capture.corners).max() < 2.0

    @pytest.mark.parametrize("cct", [2000, 12000])
    def test_strong_casts_all_rotations(self, cct: float) -> None:
        for seed in range(4):
            capture = render_chart(100 + seed, size=(480, 640), cct=cct, tint=0.5)
            checker = detect(capture.RGB)
            assert checker is not None and np.abs(checker.corners - capture.corners).max() < 4.0

    def test_mcc_backend(self) -> None:
        capture = render_chart(3, size=(480, 640))
        checker = detect(capture.RGB, methods=["mcc"])
        assert checker is not None and checker.method == "mcc"
        assert np.abs(checker.corners - capture.corners).max() < 15.0

    def test_reduced_copy_maps_back(self) -> None:
        capture = render_chart(5, size=(1200, 1600))
        checker = detect(capture.RGB, max_side=512)
        assert np.abs(checker.corners - capture.corners).max() < 4.0

    def test_no_chart(self) -> None:
        rng = np.random.default_rng(1)
        smooth = cv2.resize(rng.uniform(0, 1, (6, 8, 3)).astype(np.float32), (640, 480))
        assert detect(smooth) is None
        assert detect(np.zeros((100, 100, 3), np.float32)) is None

    def test_unknown_method(self) -> None:
        with pytest.raises(ConfigError, match="detection method 'foo' is unknown; use one of"):
            detect(np.zeros((10, 10, 3), np.float32), methods=["foo"])
        assert set(DETECTION_METHODS) == {"mcc", "segmentation"}

    def test_overlay(self, tmp_path: Path) -> None:
        capture = render_chart(2, size=(240, 320))
        checker = checker_from_corners(capture.corners)
        picture = render_overlay(capture.RGB, checker)
        x, y = np.round(capture.corners[0]).astype(int)
        assert picture[y, x].tolist() == [0, 0, 255]  # the red dot at the dark-skin corner
        path = write_overlay(tmp_path / "sub" / "o.png", capture.RGB, checker)
        assert cv2.imread(str(path)).shape == (240, 320, 3)


def test_order_corners_clockwise_start() -> None:
    points = np.array([[1.0, 1.0], [0.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert order_corners_clockwise(points).tolist() == [[1, 1], [0, 1], [0, 0], [1, 0]]


# --- real photographs -----------------------------------------------------------

# Dark-skin corner (x, y) read off the photos (and agreed by both backends).
JTVD_DARK_SKIN = {
    "color_checker (1).jpg": (376, 1485), "color_checker (2).jpg": (262, 1531),
    "color_checker (3).jpg": (554, 1568), "color_checker (4).jpg": (585, 1658),
    "color_checker (5).jpg": (409, 1547), "color_checker_mini (1).jpg": (958, 797),
    "color_checker_mini (2).jpg": (611, 1283), "color_checker_mini (3).jpg": (489, 1370),
    "color_checker_mini (4).jpg": (563, 1253), "color_checker_mini (5).jpg": (468, 1486),
    "color_checker_mini (6).jpg": (501, 1427),
}


_SRGB_DECODE = colour.cctf_decoding(np.arange(256) / 255.0).astype(np.float32)


def _srgb_jpeg(path: Path) -> np.ndarray:
    """Linear RGB of an 8-bit sRGB JPEG (a 256-entry look-up table: fast)."""
    BGR = cv2.imread(str(path))
    return _SRGB_DECODE[BGR[..., ::-1]]


@pytest.mark.parametrize("name", sorted(JTVD_DARK_SKIN))
def test_jtvd_photos(real_dir: Path, name: str) -> None:
    RGB = _srgb_jpeg(real_dir / "photos__JTvD_arcu_colorchecker" / name)
    checker = detect(RGB)
    assert checker is not None
    size = np.linalg.norm(checker.corners[1] - checker.corners[0])
    assert np.linalg.norm(checker.corners[0] - JTVD_DARK_SKIN[name]) < 0.1 * size


def test_pedrodiamel_photo(real_dir: Path) -> None:
    RGB = _srgb_jpeg(real_dir / "photos__pedrodiamel_colorchecker-detection" / "img-colorchecker.jpg")
    checker = detect(RGB)
    assert checker is not None
    # upright, dark skin at the top-left of the chart
    np.testing.assert_allclose(checker.corners[0], [226, 275], atol=12)


def test_bayer_tiff_against_label_map(real_dir: Path) -> None:
    from ccharmony.io import IngestOptions, read_image

    folder = real_dir / "lab__bllanos_chromatic-aberration"
    image = read_image(folder / "d2_colorChecker30cm_raw01.tif", IngestOptions(cfa="GBRG"))
    checker = detect(image)
    assert checker is not None
    labels = cv2.imread(str(folder / "d2_colorChecker30cm_d3_green_labels.png"), cv2.IMREAD_UNCHANGED)
    for index in range(24):
        ys, xs = np.nonzero(labels == index + 1)
        centre = checker.patches[index].mean(axis=0)
        assert np.hypot(centre[0] - xs.mean(), centre[1] - ys.mean()) < 10, index


def test_nus_rendered_against_mask(real_dir: Path) -> None:
    from ccharmony.checker import read_nus_mask_txt
    from ccharmony.io import read_image

    folder = real_dir / "nus8__WB_sRGB_RenderedWB_Set1"
    truth = read_nus_mask_txt(folder / "Canon1DsMkIII_0087_F_P_mask.txt")
    for name in ("Canon1DsMkIII_0087_F_P.png", "Canon1DsMkIII_0087_G_AS.png"):
        checker = detect(read_image(folder / name))
        assert checker is not None
        error = np.abs(checker.patches.mean(axis=1) - truth.patches.mean(axis=1)).max()
        assert error < 6, name
