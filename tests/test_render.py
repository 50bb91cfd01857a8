"""Tests of :mod:`ccharmony.render`."""

from __future__ import annotations

import colour
import numpy as np
import pytest

from ccharmony.errors import ConfigError
from ccharmony.render import (
    RenderParameters,
    linearise_srgb_float,
    render_srgb,
    render_srgb_float,
    rendering_parameters,
)

# XYZ -> camera of a plausible camera (Canon EOS 5D Mark II adobe_coeff / 10000)
CANON_5D2 = np.array(
    [[0.4716, 0.0603, -0.0830], [-0.7798, 1.5474, 0.2480], [-0.1496, 0.1937, 0.6651]]
)
M_sRGB_to_XYZ = colour.RGB_COLOURSPACES["sRGB"].matrix_RGB_to_XYZ


def _camera_response(XYZ: np.ndarray) -> np.ndarray:
    return XYZ @ CANON_5D2.T


class TestRender:
    def test_neutral_under_d65_is_neutral(self) -> None:
        white = _camera_response(M_sRGB_to_XYZ @ np.ones(3))  # camera RGB of a D65 white
        greys = np.stack([white * k for k in (0.05, 0.18, 0.4)]) / white.max() * 0.9
        out = render_srgb(greys[None], camera_matrix=CANON_5D2)[0]
        assert np.all(np.ptp(out.astype(int), axis=1) <= 1), out
        assert out[0, 1] < out[1, 1] < out[2, 1]

    def test_cast_survives(self) -> None:
        # a tungsten white (more red, less blue than D65) renders orange
        XYZ_A = colour.xy_to_XYZ(colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["A"])
        rgb = _camera_response(XYZ_A)
        out = render_srgb(rgb / rgb.max() * 0.5, camera_matrix=CANON_5D2).astype(int)
        assert out[0] > out[1] > out[2]

    def test_gains_from_matrix(self) -> None:
        P = rendering_parameters(CANON_5D2)
        white = CANON_5D2 @ M_sRGB_to_XYZ @ np.ones(3)
        np.testing.assert_allclose(P.gains, white[1] / white, rtol=1e-12)
        np.testing.assert_allclose(P.combined @ white, np.full(3, white[1]), rtol=1e-10)
        assert P.camera_matrix_known

    def test_identity_fallback(self) -> None:
        for matrix in (None, np.zeros((3, 3))):
            P = rendering_parameters(matrix)
            assert not P.camera_matrix_known
            assert np.array_equal(P.combined, np.eye(3))
        x = np.array([0.0, 0.0031308, 0.5, 1.0, 2.0])
        out = render_srgb_float(np.stack([x] * 3, -1), camera_matrix=None)[:, 0]
        expected = np.clip(colour.cctf_encoding(np.clip(x, 0, 1), function="sRGB") * 255, 0, 255)
        np.testing.assert_allclose(out, expected, rtol=1e-6)

    @pytest.mark.parametrize("shape", [(3,), (5, 3), (2, 4, 3)])
    def test_shapes(self, shape: tuple[int, ...]) -> None:
        RGB = np.random.RandomState(1).uniform(0, 1, shape).astype(np.float32)
        out = render_srgb(RGB, camera_matrix=CANON_5D2)
        assert out.shape == shape and out.dtype == np.uint8
        flt = render_srgb_float(RGB, camera_matrix=CANON_5D2)
        assert flt.dtype == np.float32
        np.testing.assert_array_equal(out, np.rint(flt).astype(np.uint8))

    def test_blocks_agree(self) -> None:
        RGB = np.random.RandomState(2).uniform(0, 1, (7, 9, 3)).astype(np.float32)
        np.testing.assert_array_equal(
            render_srgb_float(RGB, camera_matrix=CANON_5D2, block_pixels=5),
            render_srgb_float(RGB, camera_matrix=CANON_5D2),
        )

    def test_exposure_and_gains(self) -> None:
        RGB = np.full(3, 0.1)
        a = render_srgb_float(RGB, camera_matrix=None, exposure=2.0)
        b = render_srgb_float(RGB * 2, camera_matrix=None)
        np.testing.assert_allclose(a, b)
        c = render_srgb_float(RGB, camera_matrix=None, daylight_gains=[4.0, 2.0, 1.0])
        np.testing.assert_allclose(c, render_srgb_float(RGB * [2, 1, 0.5], camera_matrix=None))

    def test_nan(self) -> None:
        out = render_srgb_float(np.array([[np.nan, 0.5, 0.5], [0.5, 0.5, 0.5]]), camera_matrix=CANON_5D2)
        assert np.all(np.isnan(out[0])) and np.all(np.isfinite(out[1]))
        assert render_srgb(np.array([[np.nan, 0.5, 0.5]]), camera_matrix=None).dtype == np.uint8

    def test_linearise_inverts(self) -> None:
        P = rendering_parameters(CANON_5D2, exposure=1.5)
        srgb_linear = np.random.RandomState(3).uniform(0.02, 0.95, (20, 3))  # inside the gamut
        RGB = srgb_linear @ np.linalg.inv(P.combined).T
        back = linearise_srgb_float(render_srgb_float(RGB, camera_matrix=P), camera_matrix=P)
        np.testing.assert_allclose(back, RGB, rtol=1e-4, atol=1e-6)

    def test_record_round_trip(self) -> None:
        P = rendering_parameters(CANON_5D2, exposure=1.25)
        Q = RenderParameters.from_dict(P.to_dict())
        assert np.array_equal(P.combined, Q.combined) and Q.exposure == 1.25

    def test_errors(self) -> None:
        with pytest.raises(ConfigError, match=r"camera_matrix: expected a finite \(3, 3\) matrix"):
            rendering_parameters(np.ones((2, 3)))
        with pytest.raises(ConfigError, match=r"daylight_gains: expected 3 positive values"):
            rendering_parameters(None, daylight_gains=[1, -1, 1])
        with pytest.raises(ConfigError, match=r"singular"):
            rendering_parameters(np.ones((3, 3)))
        with pytest.raises(ConfigError, match=r"exposure: expected a positive"):
            rendering_parameters(None, exposure=0)
