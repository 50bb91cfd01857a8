"""Tests of :mod:`ccharmony.transfer` and :mod:`ccharmony.io.patch_colors`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ccharmony.errors import AnnotationError, ConfigError
from ccharmony.io.patch_colors import (
    CSV_TO_CODE,
    code_to_csv_order,
    read_patch_colors_csv,
    read_standard_srgb,
)
from ccharmony.transfer import (
    NEUTRAL_PATCHES,
    TRANSFER_METHODS,
    Transfer,
    delta_E_patches,
    fit,
    fit_transitive,
    loo_residual,
)

RNG_SEED = 20231


def _poly11_terms(RGB: np.ndarray) -> np.ndarray:
    r, g, b = RGB[..., 0], RGB[..., 1], RGB[..., 2]
    return np.stack([r, g, b, r * g, r * b, g * b, r * r, g * g, b * b, r * g * b, np.ones_like(r)], -1)


@pytest.fixture()
def linear_chart() -> np.ndarray:
    return np.random.RandomState(RNG_SEED).uniform(0.02, 0.9, (24, 3))


@pytest.fixture()
def srgb_chart() -> np.ndarray:
    return np.random.RandomState(RNG_SEED + 1).uniform(10, 245, (24, 3))


def _fitted(method: str) -> Transfer:
    rng = np.random.RandomState(7)
    if method == "poly11":
        S = rng.uniform(10, 245, (24, 3))
        return fit(method, S, np.clip(S * [0.9, 1.0, 1.1] + 5, 0, 255))
    S = rng.uniform(0.02, 0.9, (24, 3))
    return fit(method, S, S @ np.array([[0.9, 0.1, 0.0], [0.0, 1.0, 0.05], [0.02, 0.0, 0.7]]).T)


class TestPatchColours:
    def test_row_mapping(self) -> None:
        assert CSV_TO_CODE.tolist()[:6] == [18, 19, 20, 21, 22, 23]
        assert CSV_TO_CODE.tolist()[18:] == [0, 1, 2, 3, 4, 5]
        assert sorted(CSV_TO_CODE.tolist()) == list(range(24))

    def test_standard_values(self) -> None:
        S = read_standard_srgb()
        assert S.dtype == np.float32 and S.shape == (24, 3)
        assert S[0].tolist() == [116, 81, 67]  # dark skin
        assert S[18].tolist() == [245, 245, 243]  # white
        assert S[23].tolist() == [49, 49, 51]  # black
        assert S[5].tolist() == [92, 190, 172]  # bluish green

    def test_read_round_trip(self, tmp_path: Path) -> None:
        values = np.arange(72, dtype=np.float64).reshape(24, 3) + 0.125
        path = tmp_path / "x.csv"
        path.write_text("\r\n".join(",".join(repr(float(v)) for v in row) for row in values) + "\r\n")
        RGB = read_patch_colors_csv(path, dtype=np.float64)
        assert np.array_equal(code_to_csv_order(RGB), values)
        assert read_patch_colors_csv(path).dtype == np.float32

    def test_wrong_row_count(self, tmp_path: Path) -> None:
        path = tmp_path / "short.csv"
        path.write_text("1,2,3\n" * 23)
        with pytest.raises(AnnotationError, match=r"short\.csv: 23 patch rows, expected 24"):
            read_patch_colors_csv(path)

    def test_non_numeric(self, tmp_path: Path) -> None:
        path = tmp_path / "bad.csv"
        path.write_text("1,2,3\n" * 5 + "1,x,3\n" + "1,2,3\n" * 18)
        with pytest.raises(AnnotationError, match=r"bad\.csv: line 6 is not numeric"):
            read_patch_colors_csv(path)

    def test_missing(self, tmp_path: Path) -> None:
        with pytest.raises(AnnotationError, match=r"nope\.csv: no such file"):
            read_patch_colors_csv(tmp_path / "nope.csv")

    def test_shared_file(self, shared_dir: Path) -> None:
        path = shared_dir / "data" / "ccharmony" / "patch_colors" / "8D5U5531.csv"
        RGB = read_patch_colors_csv(path, dtype=np.float64)
        # first CSV row (the white patch) goes to code index 18
        assert RGB[18, 0] == pytest.approx(254.97142857142856, abs=0)


class TestMethods:
    def test_poly11_term_order_matches_published(self, srgb_chart: np.ndarray) -> None:
        from colour.characterisation import matrix_augmented_Cheung2004

        from ccharmony.transfer._methods import _expand_poly11

        assert np.array_equal(_expand_poly11(srgb_chart), _poly11_terms(srgb_chart))
        np.testing.assert_allclose(
            _expand_poly11(srgb_chart), matrix_augmented_Cheung2004(srgb_chart, terms=11), rtol=1e-15
        )

    def test_root_poly2_expansion_matches_colour(self) -> None:
        from colour.characterisation import polynomial_expansion_Finlayson2015

        from ccharmony.transfer._methods import _expand_root_poly2

        RGB = np.random.RandomState(6).uniform(-0.1, 1, (50, 3))
        np.testing.assert_allclose(
            _expand_root_poly2(RGB), polynomial_expansion_Finlayson2015(RGB, degree=2), rtol=1e-14
        )

    def test_poly11_exact_on_polynomial_target(self, srgb_chart: np.ndarray) -> None:
        M = np.random.RandomState(3).normal(0, 1e-3, (3, 11))
        M[:, :3] += np.eye(3) * 0.8
        M[:, 10] = [10, 20, 5]
        target = _poly11_terms(srgb_chart) @ M.T
        T = fit("poly11", srgb_chart, target)
        np.testing.assert_allclose(T.params, M, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(T.apply(srgb_chart), np.clip(target, 0, 255), atol=1e-3)

    def test_poly11_matches_lstsq(self, srgb_chart: np.ndarray) -> None:
        target = np.random.RandomState(4).uniform(0, 255, (24, 3))
        expected, *_ = np.linalg.lstsq(_poly11_terms(srgb_chart), target, rcond=None)
        assert np.array_equal(fit("poly11", srgb_chart, target).params, expected.T)

    def test_poly11_clips(self, srgb_chart: np.ndarray) -> None:
        T = fit("poly11", srgb_chart, srgb_chart * 2.0)
        out = T.apply(np.array([200.0, 10.0, 250.0]))
        assert out.tolist() == pytest.approx([255.0, 20.0, 255.0], abs=1e-3)

    def test_diagonal_recovers_gains(self, linear_chart: np.ndarray) -> None:
        gains = np.array([1.7, 1.0, 0.45])
        target = linear_chart * gains
        target[:18] = 0.5  # non-neutral patches must not matter
        T = fit("diagonal", linear_chart, target)
        np.testing.assert_allclose(T.params, np.diag(gains), rtol=1e-12)

    def test_diagonal_skips_nan_neutral(self, linear_chart: np.ndarray) -> None:
        source = linear_chart.copy()
        source[18] = np.nan  # clipped white
        T = fit("diagonal", source, linear_chart * [2.0, 1.0, 0.5])
        np.testing.assert_allclose(np.diag(T.params), [2.0, 1.0, 0.5], rtol=1e-12)

    def test_linear3x3_recovers_matrix(self, linear_chart: np.ndarray) -> None:
        M = np.array([[0.8, 0.15, 0.05], [0.1, 1.2, -0.1], [-0.02, 0.3, 0.6]])
        T = fit("linear3x3", linear_chart, linear_chart @ M.T)
        np.testing.assert_allclose(T.params, M, rtol=1e-10, atol=1e-12)

    def test_root_poly2_exposure_invariant(self, linear_chart: np.ndarray) -> None:
        target = np.random.RandomState(5).uniform(0.02, 0.9, (24, 3))
        T = fit("root-poly2", linear_chart, target)
        np.testing.assert_allclose(
            T.apply(2 * linear_chart), 2 * T.apply(linear_chart), rtol=1e-5, atol=1e-7
        )
        np.testing.assert_allclose(
            fit("root-poly2", 2 * linear_chart, 2 * target).params, T.params, rtol=1e-8, atol=1e-10
        )

    def test_root_poly2_terms(self) -> None:
        T = Transfer("root-poly2", np.array([[0, 0, 0, 1.0, 0, 0], [0, 0, 0, 0, 1.0, 0], [0, 0, 0, 0, 0, 1.0]]), "linear")
        out = T.apply(np.array([4.0, 9.0, 1.0], np.float32))
        assert out.tolist() == pytest.approx([6.0, 3.0, 2.0])  # sqrt(rg), sqrt(gb), sqrt(rb)

    def test_unknown_method(self, linear_chart: np.ndarray) -> None:
        with pytest.raises(ConfigError, match=r"unknown transfer method 'root-poly3'.*did you mean 'root-poly2'"):
            fit("root-poly3", linear_chart, linear_chart)

    def test_too_few_patches(self, srgb_chart: np.ndarray) -> None:
        source = srgb_chart.copy()
        source[:14] = np.nan
        with pytest.raises(AnnotationError, match=r"'poly11' needs at least 11 finite patch pairs, got 10"):
            fit("poly11", source, srgb_chart)

    def test_methods_table(self) -> None:
        assert set(TRANSFER_METHODS) == {"poly11", "root-poly2", "linear3x3", "diagonal"}
        assert NEUTRAL_PATCHES == (18, 19, 20, 21, 22, 23)


class TestTransfer:
    @pytest.mark.parametrize("method", sorted(TRANSFER_METHODS))
    def test_shapes_and_dtype(self, method: str) -> None:
        T = _fitted(method)
        scale = 255.0 if method == "poly11" else 1.0
        pixels = np.random.RandomState(8).uniform(0, scale, (6, 3)).astype(np.float32)
        flat = T.apply(pixels)
        assert flat.dtype == np.float32 and flat.shape == (6, 3)
        np.testing.assert_array_equal(T.apply(pixels[0]), flat[0])
        np.testing.assert_array_equal(T.apply(pixels.reshape(2, 3, 3)), flat.reshape(2, 3, 3))
        np.testing.assert_array_equal(T.apply(pixels, block_pixels=4), flat)  # block edges
        np.testing.assert_allclose(T.apply(pixels.astype(np.float64)), flat)

    @pytest.mark.parametrize("method", sorted(TRANSFER_METHODS))
    def test_nan_propagates(self, method: str) -> None:
        out = _fitted(method).apply(np.array([[np.nan, 0.5, 0.5], [0.5, 0.5, 0.5]]))
        assert np.all(np.isnan(out[0])) and np.all(np.isfinite(out[1]))

    def test_bad_shape(self) -> None:
        with pytest.raises(ValueError, match=r"shape \(\.\.\., 3\), got \(4, 2\)"):
            _fitted("diagonal").apply(np.zeros((4, 2)))

    def test_then_equals_sequential(self, srgb_chart: np.ndarray) -> None:
        standard = read_standard_srgb(dtype=np.float64)
        target = np.random.RandomState(9).uniform(10, 245, (24, 3))
        a = fit("poly11", srgb_chart, standard)
        b = fit("poly11", standard, target)
        pixels = np.random.RandomState(10).uniform(0, 255, (50, 3))
        chained = a.then(b).apply(pixels)
        # published order: both steps unclipped in between, clip at the end
        sequential = np.clip(b._evaluate64(a._evaluate64(pixels)), 0, 255).astype(np.float32)
        np.testing.assert_array_equal(chained, sequential)
        assert fit_transitive("poly11", srgb_chart, target) == a.then(b)
        assert len(a.then(b).then(a).steps) == 3

    def test_then_linear(self, linear_chart: np.ndarray) -> None:
        a, b = _fitted("linear3x3"), _fitted("root-poly2")
        x = linear_chart.astype(np.float32)
        np.testing.assert_allclose(a.then(b).apply(x), b.apply(a.apply(x)), rtol=1e-5, atol=1e-6)

    def test_then_domain_mismatch(self) -> None:
        with pytest.raises(ConfigError, match=r"cannot chain a 'linear' transfer after a 'srgb8' one"):
            _fitted("poly11").then(_fitted("diagonal"))

    @pytest.mark.parametrize("method", sorted(TRANSFER_METHODS))
    def test_dict_round_trip(self, method: str) -> None:
        T = _fitted(method).then(_fitted(method))
        record = json.loads(json.dumps(T.to_dict()))
        back = Transfer.from_dict(record)
        assert back == T
        for x, y in zip(back.steps, T.steps):
            assert x.params.tobytes() == y.params.tobytes()  # repr-exact

    def test_from_dict_errors(self) -> None:
        with pytest.raises(ConfigError, match=r"missing keys \['params'\]"):
            Transfer.from_dict({"method": "diagonal", "domain": "linear"})
        with pytest.raises(ConfigError, match=r"needs a \(3, 11\) matrix, got shape \(3, 3\)"):
            Transfer.from_dict({"method": "poly11", "domain": "srgb8", "params": np.eye(3).tolist()})
        with pytest.raises(ConfigError, match=r"works in 'linear', got 'srgb8'"):
            Transfer.from_dict({"method": "diagonal", "domain": "srgb8", "params": np.eye(3).tolist()})

    def test_params_are_private_copies(self) -> None:
        params = np.eye(3)
        T = Transfer("linear3x3", params, "linear")
        params[0, 0] = 5
        assert T.params[0, 0] == 1.0
        with pytest.raises(ValueError):
            T.params[0, 0] = 2.0

    @pytest.mark.parametrize("count", [10, 70_000])
    def test_apply_uint8_matches_apply(self, srgb_chart: np.ndarray, count: int) -> None:
        T = fit_transitive("poly11", srgb_chart, np.random.RandomState(11).uniform(10, 245, (24, 3)))
        image = np.random.RandomState(12).randint(0, 256, (count, 3)).astype(np.uint8)
        expected = np.clip(np.rint(T.apply(image)), 0, 255).astype(np.uint8)
        out = T.apply_uint8(image.reshape(count // 10, 10, 3))
        assert out.dtype == np.uint8
        np.testing.assert_array_equal(out.reshape(-1, 3), expected)

    def test_apply_uint8_rejects_linear(self) -> None:
        with pytest.raises(ConfigError, match=r"'diagonal' works in linear camera RGB"):
            _fitted("diagonal").apply_uint8(np.zeros((2, 3), np.uint8))


class TestResiduals:
    def test_delta_E_known_value(self) -> None:
        # CIEDE2000 of sRGB red vs pure sRGB orange-red, checked against colour directly
        import colour

        a, b = np.array([255.0, 0, 0]), np.array([255.0, 60, 0])
        Lab = [
            colour.XYZ_to_Lab(colour.sRGB_to_XYZ(x / 255, apply_cctf_decoding=True)) for x in (a, b)
        ]
        expected = colour.delta_E(*Lab, method="CIE 2000")
        assert float(delta_E_patches(a, b, domain="srgb8")) == pytest.approx(expected, abs=1e-3)

    def test_linear_delta_E_exposure_free(self, linear_chart: np.ndarray) -> None:
        other = linear_chart * 1.05
        d1 = delta_E_patches(other, linear_chart, domain="linear")
        d2 = delta_E_patches(4 * other, 4 * linear_chart, domain="linear")
        np.testing.assert_allclose(d1, d2, rtol=1e-4)
        assert np.all(d1 > 0)

    @pytest.mark.parametrize("method", sorted(TRANSFER_METHODS))
    def test_loo_zero_on_exact_model(self, method: str, linear_chart: np.ndarray) -> None:
        chart = linear_chart * 255 if method == "poly11" else linear_chart
        residual = loo_residual(method, chart, chart)
        assert residual.shape == (24,) and residual.dtype == np.float32
        assert float(np.max(residual)) < 1e-3

    def test_loo_flags_bad_patch(self, srgb_chart: np.ndarray) -> None:
        target = srgb_chart * 0.9 + 8
        target[3] = [250, 5, 5]  # a misread patch
        residual = loo_residual("poly11", srgb_chart, target)
        assert int(np.argmax(residual)) == 3 and residual[3] > 20
        assert np.isnan(loo_residual("linear3x3", np.where(np.arange(24)[:, None] == 2, np.nan, 0.5 + 0 * srgb_chart), srgb_chart / 255)[2])
