"""Tests of ccharmony.illuminant."""

from __future__ import annotations

import numpy as np
import pytest

from ccharmony.checker import Patches, checker_from_corners, checker_mask, detect, sample
from ccharmony.checker._synthetic import chart_camera_RGB, render_chart
from ccharmony.errors import ConfigError
from ccharmony.illuminant import (
    ILLUMINANT_METHODS,
    angular_error,
    estimate_illuminant,
    illuminant_from_patches,
)


class TestAngularError:
    def test_known_values(self) -> None:
        assert float(angular_error([1, 0, 0], [0, 1, 0])) == pytest.approx(90.0)
        assert float(angular_error([1, 1, 1], [2, 2, 2])) == pytest.approx(0.0, abs=1e-6)
        assert float(angular_error([1, 1, 0], [1, 0, 0])) == pytest.approx(45.0)

    def test_shapes(self) -> None:
        a = np.tile([[1.0, 0.0, 0.0]], (6, 1))
        assert angular_error(a, [0, 1, 0]).shape == (6,)
        assert angular_error(a.reshape(2, 3, 3), [0, 1, 0]).shape == (2, 3)
        np.testing.assert_allclose(angular_error(a.reshape(2, 3, 3), [0, 1, 0]), 90.0)

    def test_nan_and_zero(self) -> None:
        assert np.isnan(angular_error([0, 0, 0], [1, 1, 1]))
        assert np.isnan(angular_error([np.nan, 1, 1], [1, 1, 1]))


def _patches(RGB: np.ndarray, clipped: list[int] | None = None) -> Patches:
    flags = np.zeros(24, bool)
    flags[clipped or []] = True
    return Patches(RGB.astype(np.float32), flags, np.zeros((24, 3), np.float32))


class TestFromPatches:
    @pytest.mark.parametrize("cct", [2000, 2856, 4000, 6500, 10000])
    def test_spectral_chart(self, cct: float) -> None:
        patches, truth = chart_camera_RGB(cct, 0.2)
        estimate = illuminant_from_patches(_patches(patches * 0.7))
        assert estimate.dtype == np.float32
        assert float(np.linalg.norm(estimate)) == pytest.approx(1.0, abs=1e-6)
        assert float(angular_error(estimate, truth)) < 0.3

    def test_skips_clipped_and_dark(self) -> None:
        RGB = np.full((24, 3), 0.3)
        RGB[18:] = [0.2, 0.4, 0.3]
        RGB[18] = [1.0, 1.0, 0.1]  # clipped white with a wrong colour
        RGB[23] = [0.001, 0.01, 0.001]  # too dark
        estimate = illuminant_from_patches(_patches(RGB, clipped=[18]))
        assert float(angular_error(estimate, [0.2, 0.4, 0.3])) < 1e-4

    def test_none_usable(self) -> None:
        estimate = illuminant_from_patches(_patches(np.full((24, 3), 0.001)))
        assert np.isnan(estimate).all()


class TestImageEstimators:
    def test_uniform_grey_scene(self) -> None:
        illuminant = np.array([0.3, 0.5, 0.2])
        rng = np.random.default_rng(0)
        grey = rng.uniform(0.1, 0.8, (64, 64, 1))
        RGB = (grey * illuminant).astype(np.float32)
        for method in ILLUMINANT_METHODS:
            estimate = estimate_illuminant(RGB, method=method)
            assert float(angular_error(estimate, illuminant)) < 0.5, method

    def test_mask_excludes_chart(self) -> None:
        capture = render_chart(4, size=(240, 320))
        checker = checker_from_corners(capture.corners)
        outside = ~checker_mask(capture.RGB.shape[:2], checker)
        assert 0.5 < outside.mean() < 0.99
        RGB = capture.RGB.copy()
        RGB[~outside] = [1.0, 0.0, 0.0]  # anything on the chart must not count
        a = estimate_illuminant(RGB, method="grey-world", mask=outside)
        b = estimate_illuminant(capture.RGB, method="grey-world", mask=outside)
        np.testing.assert_allclose(a, b)

    def test_shades_of_grey_between_grey_world_and_max(self) -> None:
        RGB = np.zeros((2, 2, 3))
        RGB[0, 0] = [1, 0.1, 0.1]
        RGB[1, 1] = [0.1, 0.1, 1]
        grey_world = estimate_illuminant(RGB, method="shades-of-grey", p=1)
        np.testing.assert_allclose(grey_world, estimate_illuminant(RGB, method="grey-world"), rtol=1e-6)

    def test_unknown_method(self) -> None:
        with pytest.raises(ConfigError, match="illuminant method 'max' is unknown; use one of"):
            estimate_illuminant(np.zeros((2, 2, 3)), method="max")

    def test_bad_mask_shape(self) -> None:
        with pytest.raises(ValueError, match=r"mask must have shape \(4, 4\)"):
            estimate_illuminant(np.zeros((4, 4, 3)), mask=np.ones((3, 3), bool))


def test_end_to_end_synthetic() -> None:
    errors = []
    for seed in range(6):
        capture = render_chart(200 + seed, size=(480, 640))
        checker = detect(capture.RGB)
        errors.append(float(angular_error(illuminant_from_patches(sample(capture.RGB, checker)),
                                          capture.illuminant)))
    assert np.median(errors) < 0.3 and max(errors) < 1.0
