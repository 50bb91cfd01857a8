"""Tests of :mod:`ccharmony.io.dng`: LibRaw reads our DNG files back exactly."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import rawpy
import tifffile

from ccharmony.errors import ConfigError
from ccharmony.io.dng import CFA_PATTERNS, write_dng

M_XYZ_TO_CAMERA = np.array([[0.9, -0.3, -0.1], [-0.4, 1.2, 0.2], [-0.05, 0.1, 0.6]])
M_XYZ_TO_SRGB_LIBRAW = np.array([[0.412453, 0.357580, 0.180423],
                                 [0.212671, 0.715160, 0.072169],
                                 [0.019334, 0.119193, 0.950227]])


def _mosaic(seed: int = 0, shape: tuple[int, int] = (64, 96)) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, 16384, size=shape).astype(np.uint16)


@pytest.mark.parametrize("pattern", list(CFA_PATTERNS))
@pytest.mark.parametrize("black", [512, 2048])
def test_round_trip_is_bit_exact(tmp_path: Path, pattern: str, black: int) -> None:
    mosaic = _mosaic()
    path = write_dng(tmp_path / "x.dng", mosaic, cfa_pattern=pattern, black_level=black,
                     white_level=16383, colour_matrix=M_XYZ_TO_CAMERA,
                     as_shot_neutral=[0.5, 1.0, 0.7], make="ccharmony", model="Test")
    with rawpy.imread(str(path)) as raw:
        np.testing.assert_array_equal(raw.raw_image_visible, mosaic)
        assert raw.black_level_per_channel == [black] * 4
        assert raw.white_level == 16383
        letters = raw.color_desc.decode()  # "RGBG": index 3 is the second green
        read = "".join(letters[i] for i in raw.raw_pattern.ravel())
        assert read == pattern
        channel = raw.raw_colors_visible
        expected = np.tile(np.array(CFA_PATTERNS[pattern]).reshape(2, 2), (32, 48))
        np.testing.assert_array_equal(np.where(channel == 3, 1, channel), expected)


def test_colour_matrix_and_neutral_reach_libraw(tmp_path: Path) -> None:
    path = write_dng(tmp_path / "x.dng", _mosaic(), black_level=1024, white_level=16383,
                     colour_matrix=M_XYZ_TO_CAMERA, as_shot_neutral=[0.25, 0.5, 0.35],
                     make="ccharmony", model="Test")
    # LibRaw turns ColorMatrix1 into rgb_cam = inverse(row-normalised(M @ xyz_rgb));
    # rgb_xyz_matrix is its own table (zeros for cameras it does not know).
    cam_rgb = M_XYZ_TO_CAMERA @ M_XYZ_TO_SRGB_LIBRAW
    cam_rgb /= cam_rgb.sum(axis=1, keepdims=True)
    with rawpy.imread(str(path)) as raw:
        np.testing.assert_allclose(raw.color_matrix[:3, :3], np.linalg.inv(cam_rgb), atol=2e-3)
        np.testing.assert_allclose(raw.camera_whitebalance[:3], [2.0, 1.0, 1 / 0.7], rtol=1e-5)
    with tifffile.TiffFile(path) as tif:
        tags = tif.pages[0].tags
        assert tags["Make"].value == "ccharmony"
        assert tags["Model"].value == "Test"
        assert tags[50708].value == "ccharmony Test"
        numbers = np.array(tags[50721].value, dtype=float).reshape(9, 2)
        np.testing.assert_allclose(numbers[:, 0] / numbers[:, 1], M_XYZ_TO_CAMERA.ravel())
        assert tags[50778].value == 21
        assert tags["Compression"].value == 1
        assert tags["PhotometricInterpretation"].value == 32803


def test_same_input_same_bytes(tmp_path: Path) -> None:
    digests = []
    for name in ("a.dng", "b.dng"):
        path = write_dng(tmp_path / name, _mosaic(3), black_level=512, white_level=16383,
                         colour_matrix=M_XYZ_TO_CAMERA, as_shot_neutral=[1, 1, 1])
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.dng", "b.dng"]  # no temp files left


@pytest.mark.parametrize(
    ("kwargs", "mosaic", "match"),
    [
        ({}, np.zeros((5, 8), np.uint16), "H and W even"),
        ({}, np.zeros((4, 4, 3), np.uint16), "H and W even"),
        ({}, np.zeros((4, 4), np.float32), "integers"),
        ({"cfa_pattern": "RGBG"}, np.zeros((4, 4), np.uint16), "unknown CFA pattern"),
        ({"black_level": 20000, "white_level": 16383}, np.zeros((4, 4), np.uint16), "levels"),
        ({"colour_matrix": np.eye(2)}, np.zeros((4, 4), np.uint16), "colour_matrix"),
        ({"as_shot_neutral": [1, 0, 1]}, np.zeros((4, 4), np.uint16), "as_shot_neutral"),
        ({"calibration_illuminant": "F2"}, np.zeros((4, 4), np.uint16), "illuminant"),
    ],
)
def test_bad_input_raises(tmp_path: Path, kwargs: dict, mosaic: np.ndarray, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        write_dng(tmp_path / "x.dng", mosaic, **kwargs)
    assert not list(tmp_path.iterdir())
