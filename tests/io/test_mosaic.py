"""Tests of ccharmony.io.mosaic: per-site black subtraction, demosaicing, binning, clip mask."""

from __future__ import annotations

import numpy as np
import pytest
from io_helpers import mosaic_from_rgb

from ccharmony.errors import ConfigError, UnsupportedFormatError
from ccharmony.io.mosaic import (
    CFA_PATTERNS,
    bin_2x2,
    demosaic_bilinear,
    develop_mosaic,
    normalise_mosaic,
    site_black_levels,
)


@pytest.mark.parametrize("cfa", CFA_PATTERNS)
@pytest.mark.parametrize("channel", [0, 1, 2])
def test_pure_field_demosaics_to_that_primary(cfa: str, channel: int) -> None:
    RGB = np.zeros((16, 20, 3), np.uint16)
    RGB[..., channel] = 3000
    mosaic = mosaic_from_rgb(RGB, cfa)
    out, clipped = demosaic_bilinear(mosaic, cfa=cfa, black_level=0, white_level=4000)
    expected = np.zeros(3, np.float32)
    expected[channel] = 0.75
    # OpenCV fills the one-pixel border by replication; the interior must be exact.
    np.testing.assert_allclose(out[2:-2, 2:-2].reshape(-1, 3), np.tile(expected, (12 * 16, 1)), atol=1e-6)
    assert not clipped.any()


@pytest.mark.parametrize("cfa", CFA_PATTERNS)
def test_linear_ramp_is_reconstructed(cfa: str) -> None:
    rows, columns = np.mgrid[0:24, 0:32]
    RGB = np.stack([100 + 20 * columns, 300 + 7 * rows + 5 * columns, 2000 - 30 * rows], axis=-1).astype(np.uint16)
    out, _ = demosaic_bilinear(mosaic_from_rgb(RGB, cfa), cfa=cfa, black_level=100, white_level=4100)
    expected = (RGB.astype(np.float64) - 100) / 4000
    # bilinear interpolation is exact on planes; OpenCV rounds to integers (<= 0.5 DN)
    np.testing.assert_allclose(out[2:-2, 2:-2], expected[2:-2, 2:-2], atol=0.51 / 4000)


@pytest.mark.parametrize("cfa", CFA_PATTERNS)
def test_per_site_black_levels_are_subtracted_per_site(cfa: str) -> None:
    blacks = np.array([[64.0, 60.0], [70.0, 66.0]])
    scene = 500.0
    mosaic = np.zeros((12, 14), np.uint16)
    for row in (0, 1):
        for column in (0, 1):
            mosaic[row::2, column::2] = int(blacks[row, column] + scene)
    expected_sites = scene / (4095 - blacks)
    normalised = normalise_mosaic(mosaic, cfa=cfa, black_level=blacks, white_level=4095)
    for row in (0, 1):
        for column in (0, 1):
            np.testing.assert_allclose(normalised[row::2, column::2], expected_sites[row, column], rtol=1e-6)
    full, _ = demosaic_bilinear(mosaic, cfa=cfa, black_level=blacks, white_level=4095)
    binned, _ = bin_2x2(mosaic, cfa=cfa, black_level=blacks, white_level=4095)
    channel_black = np.array([np.mean([blacks.ravel()[i] for i, c in enumerate(cfa) if c == letter])
                              for letter in "RGB"])
    expected = scene / (4095 - channel_black)
    for out in (full, binned):
        # every channel sees the same scene value above its own black level
        inner = out[1:-1, 1:-1]
        np.testing.assert_allclose(inner, np.broadcast_to(expected, inner.shape), rtol=1e-5)


def test_site_black_levels_shapes() -> None:
    assert site_black_levels([1, 2, 3], "GRBG").tolist() == [[2, 1], [3, 2]]
    assert site_black_levels([1, 2, 3, 4], "RGGB").tolist() == [[1, 2], [3, 4]]
    with pytest.raises(ConfigError, match="black_level must be"):
        site_black_levels([1, 2], "RGGB")
    with pytest.raises(ConfigError, match=">= 0"):
        site_black_levels(-1, "RGGB")


@pytest.mark.parametrize("cfa", CFA_PATTERNS)
def test_binning_values_and_green_average(cfa: str) -> None:
    block = {"R": 1000, "B": 200}
    mosaic = np.zeros((4, 6), np.uint16)
    greens = iter((400, 600))
    for index, letter in enumerate(cfa):
        row, column = divmod(index, 2)
        mosaic[row::2, column::2] = block.get(letter) or next(greens)
    RGB, clipped = bin_2x2(mosaic, cfa=cfa, black_level=0, white_level=2000)
    assert RGB.shape == (2, 3, 3) and RGB.dtype == np.float32
    np.testing.assert_allclose(RGB.reshape(-1, 3), np.tile([0.5, 0.25, 0.1], (6, 1)), rtol=1e-6)
    assert not clipped.any()


def test_clip_mask_full_and_half_size() -> None:
    mosaic = np.full((8, 8), 100, np.uint16)
    mosaic[4, 5] = 4095
    _, full = demosaic_bilinear(mosaic, cfa="RGGB", black_level=0, white_level=4095)
    expected = np.zeros((8, 8), bool)
    expected[3:6, 4:7] = True  # the site and every pixel whose interpolation reads it
    np.testing.assert_array_equal(full, expected)
    _, half = bin_2x2(mosaic, cfa="RGGB", black_level=0, white_level=4095)
    expected_half = np.zeros((4, 4), bool)
    expected_half[2, 2] = True
    np.testing.assert_array_equal(half, expected_half)


def test_odd_sizes_are_cropped_to_even_and_input_untouched() -> None:
    mosaic = np.full((7, 9), 1000, np.uint16)
    before = mosaic.copy()
    full, clipped = develop_mosaic(mosaic, cfa="BGGR", black_level=0, white_level=2000)
    half, _ = develop_mosaic(mosaic, cfa="BGGR", black_level=0, white_level=2000, half_size=True)
    assert full.shape == (6, 8, 3) and clipped.shape == (6, 8)
    assert half.shape == (3, 4, 3)
    np.testing.assert_array_equal(mosaic, before)
    np.testing.assert_allclose(full, 0.5)


def test_uint8_mosaic_and_float32_output() -> None:
    mosaic = np.full((6, 6), 128, np.uint8)
    out, _ = demosaic_bilinear(mosaic, cfa="GBRG", black_level=28, white_level=255)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, 100 / 227, rtol=1e-6)


def test_mosaic_errors() -> None:
    mosaic = np.zeros((4, 4), np.uint16)
    with pytest.raises(ConfigError, match="cfa must be one of"):
        demosaic_bilinear(mosaic, cfa="RGBG", black_level=0, white_level=10)
    with pytest.raises(ConfigError, match="white_level must be"):
        demosaic_bilinear(mosaic, cfa="RGGB", black_level=10, white_level=10)
    with pytest.raises(UnsupportedFormatError, match="8- or 16-bit"):
        demosaic_bilinear(mosaic.astype(np.float32), cfa="RGGB", black_level=0, white_level=1)
    with pytest.raises(UnsupportedFormatError, match="single-channel"):
        bin_2x2(np.zeros((4, 4, 3), np.uint16), cfa="RGGB", black_level=0, white_level=1)
