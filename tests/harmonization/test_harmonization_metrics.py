"""Metrics against hand-computed values on small arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from ccharmony.errors import ConfigError
from ccharmony.harmonization.metrics import (
    fmse_image,
    foreground_ratio_group,
    fpsnr_image,
    fssim_image,
    mse_image,
    psnr_image,
    score_image,
    ssim_image,
)


@pytest.fixture()
def case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    real = np.zeros((2, 2, 3))
    real[..., 0] = 100.0
    real[1, 1] = (200.0, 50.0, 25.0)
    pred = real.copy()
    pred[0, 0] = (110.0, 0.0, 0.0)  # errors 10, 0, 0
    pred[0, 1] = (100.0, 6.0, 8.0)  # errors 0, 6, 8
    mask = np.array([[True, True], [False, False]])
    return pred, real, mask


class TestErrors:
    def test_mse(self, case):
        pred, real, _ = case
        # squared errors: 100 + 36 + 64 = 200 over 12 values
        assert mse_image(pred, real) == pytest.approx(200.0 / 12.0)

    def test_fmse_sums_channels_then_divides_by_three_areas(self, case):
        pred, real, mask = case
        assert fmse_image(pred, real, mask) == pytest.approx(200.0 / (3 * 2))

    def test_fmse_outside_mask_ignored(self, case):
        pred, real, mask = case
        pred = pred.copy()
        pred[1, 0] = 255.0
        assert fmse_image(pred, real, mask) == pytest.approx(200.0 / 6.0)

    def test_fmse_empty_mask(self, case):
        pred, real, _ = case
        assert fmse_image(pred, real, np.zeros((2, 2), bool)) == 0.0

    def test_soft_mask_weights(self, case):
        pred, real, _ = case
        weights = np.array([[1.0, 0.5], [0.0, 0.0]])
        # (100 + 0.5 * 100) / (3 * 1.5)
        assert fmse_image(pred, real, weights) == pytest.approx(150.0 / 4.5)


class TestPSNR:
    def test_peak_255(self, case):
        pred, real, mask = case
        assert psnr_image(pred, real) == pytest.approx(10 * math.log10(255**2 / (200.0 / 12.0)))
        assert fpsnr_image(pred, real, mask) == pytest.approx(10 * math.log10(255**2 / (200.0 / 6.0)))

    def test_peak_max_real(self, case):
        pred, real, mask = case
        assert psnr_image(pred, real, psnr_peak="max-real") == pytest.approx(
            10 * math.log10(200.0**2 / (200.0 / 12.0)))
        assert fpsnr_image(pred, real, mask, psnr_peak="max-real") == pytest.approx(
            10 * math.log10(200.0**2 / (200.0 / 6.0)))

    def test_identical_images_are_finite(self, case):
        _, real, _ = case
        assert psnr_image(real, real) == pytest.approx(10 * math.log10(255**2 / 1e-10))

    def test_unknown_peak(self, case):
        pred, real, _ = case
        with pytest.raises(ConfigError, match="psnr_peak"):
            psnr_image(pred, real, psnr_peak="256")

    def test_shape_mismatch(self, case):
        pred, real, _ = case
        with pytest.raises(ConfigError, match=r"\(H, W, 3\)"):
            mse_image(pred[:1], real)


class TestSSIM:
    @pytest.fixture()
    def images(self):
        rng = np.random.RandomState(3)
        real = rng.uniform(0, 255, (24, 20, 3)).round()
        pred = np.clip(real + rng.normal(0, 20, real.shape), 0, 255).round()
        mask = np.zeros((24, 20), bool)
        mask[4:14, 6:16] = True
        return pred, real, mask

    def test_ssim_is_wang2004_gaussian(self, images):
        pred, real, _ = images
        expected = structural_similarity(pred, real, channel_axis=-1, data_range=255, gaussian_weights=True,
                                         sigma=1.5, use_sample_covariance=False)
        assert ssim_image(pred, real) == pytest.approx(expected, abs=1e-12)
        assert 0.0 < ssim_image(pred, real) < 0.99

    def test_fssim_is_mask_mean_of_map(self, images):
        pred, real, mask = images
        _, full = structural_similarity(pred, real, channel_axis=-1, data_range=255, gaussian_weights=True,
                                        sigma=1.5, use_sample_covariance=False, full=True)
        expected = full.mean(axis=2)[mask].mean()
        assert fssim_image(pred, real, mask) == pytest.approx(expected, abs=1e-12)

    def test_full_mask_fssim_vs_ssim_border(self, images):
        # skimage's SSIM averages the map without a 5-pixel border (11-pixel Gaussian window);
        # fSSIM averages every foreground pixel, border included.
        pred, real, _ = images
        _, full = structural_similarity(pred, real, channel_axis=-1, data_range=255, gaussian_weights=True,
                                        sigma=1.5, use_sample_covariance=False, full=True)
        assert fssim_image(pred, real, np.ones((24, 20), bool)) == pytest.approx(full.mean(), abs=1e-12)
        assert ssim_image(pred, real) == pytest.approx(full[5:-5, 5:-5].mean(), abs=1e-12)

    def test_identical(self, images):
        _, real, mask = images
        assert ssim_image(real, real) == pytest.approx(1.0)
        assert fssim_image(real, real, mask) == pytest.approx(1.0)


def test_score_image_consistent(case):
    pred, real, mask = case
    big = [np.kron(a, np.ones((8, 8, 1))) for a in (pred, real)]
    big_mask = np.kron(mask, np.ones((8, 8))).astype(bool)
    scores = score_image(*big, big_mask)
    assert scores["MSE"] == pytest.approx(200.0 / 12.0)
    assert scores["fMSE"] == pytest.approx(200.0 / 6.0)
    assert scores["foreground_ratio"] == pytest.approx(0.5)
    assert scores["fPSNR"] == pytest.approx(10 * math.log10(255**2 / (200.0 / 6.0)))


@pytest.mark.parametrize(("ratio", "group"), [(0.0, "0-5%"), (0.0499, "0-5%"), (0.05, "5-15%"),
                                              (0.1499, "5-15%"), (0.15, "15-100%"), (1.0, "15-100%")])
def test_foreground_ratio_groups(ratio, group):
    assert foreground_ratio_group(ratio) == group
