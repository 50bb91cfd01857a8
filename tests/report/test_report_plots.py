"""Tests of :mod:`ccharmony.report.plots`."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from ccharmony.report.plots import nice_ticks, rb_chromaticity, svg_histogram, svg_illuminant_chromaticities

SVG = "{http://www.w3.org/2000/svg}"


class TestRbChromaticity:
    def test_known_values(self) -> None:
        np.testing.assert_allclose(rb_chromaticity([0.2, 0.5, 0.3]), [0.2, 0.3], atol=1e-12)
        # Scale-invariant: a unit vector and its multiple give the same point.
        RGB = np.array([0.61, 0.72, 0.33])
        np.testing.assert_allclose(rb_chromaticity(RGB), rb_chromaticity(5 * RGB / np.linalg.norm(RGB)), atol=1e-12)

    @pytest.mark.parametrize("shape", [(3,), (6, 3), (2, 3, 3)])
    def test_shapes(self, shape: tuple[int, ...]) -> None:
        RGB = np.resize(np.array([0.2, 0.5, 0.3]), shape)
        result = rb_chromaticity(RGB)
        assert result.shape == shape[:-1] + (2,)
        np.testing.assert_allclose(result.reshape(-1, 2), np.tile([0.2, 0.3], (result.size // 2, 1)))

    def test_nan_inf_and_zero(self) -> None:
        result = rb_chromaticity([[0, 0, 0], [np.nan, 1, 1], [np.inf, 1, 1], [1, 1, 1]])
        assert np.isnan(result[:3]).all()
        np.testing.assert_allclose(result[3], [1 / 3, 1 / 3])


def test_nice_ticks_cover_range() -> None:
    ticks = nice_ticks(0.13, 0.47)
    assert ticks[0] <= 0.13 and ticks[-1] >= 0.47
    steps = np.diff(ticks)
    np.testing.assert_allclose(steps, steps[0])
    assert nice_ticks(float("nan"), 1.0) == []


def test_illuminant_plot_points_and_pairs() -> None:
    illuminants = {"a": [0.6, 0.7, 0.4], "b": [0.4, 0.7, 0.6], "c": [0.5, 0.7, 0.5], "d": [np.nan, 1, 1]}
    pairs = [("a", "b"), ("a", "b"), ("a", "c"), ("b", "c"), ("a", "d")]
    svg = svg_illuminant_chromaticities(illuminants, pairs, cameras={"a": "X", "b": "X", "c": "Y"})
    root = ET.fromstring(svg)
    lines = [e for e in root.iter(f"{SVG}line") if e.get("class") == "pair"]
    circles = [e for e in root.iter(f"{SVG}circle") if e.find(f"{SVG}title") is not None]
    assert len(lines) == 3  # duplicates drawn once, the NaN image left out
    assert len(circles) == 3
    hollow = [c for c in circles if c.get("fill") == "#fff"]
    assert [c.find(f"{SVG}title").text.split()[0] for c in hollow] == ["c"]  # only a target


def test_illuminant_plot_without_metadata() -> None:
    svg = svg_illuminant_chromaticities({}, [])
    ET.fromstring(svg)
    assert "No illuminant metadata" in svg


def test_histogram_counts() -> None:
    values = [0.5, 1.5, 1.6, 3.9, np.nan, np.inf]
    svg = svg_histogram(values, groups=["train", "train", "test", "test", "train", "test"], bins=4,
                        value_range=(0.0, 4.0))
    root = ET.fromstring(svg)
    bars = [e for e in root.iter(f"{SVG}rect") if e.get("class") == "bar"]
    titles = sorted(b.find(f"{SVG}title").text for b in bars)
    assert titles == ["test: 1 in [1, 2)", "test: 1 in [3, 4)", "train: 1 in [0, 1)", "train: 1 in [1, 2)"]
    assert "n = 4" in svg


def test_histogram_empty() -> None:
    assert "No values" in svg_histogram([np.nan])
