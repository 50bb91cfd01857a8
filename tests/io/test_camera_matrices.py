"""Tests for ccharmony.io.camera_matrices and the camera matrix of linear PNG / TIFF input."""

from __future__ import annotations

from pathlib import Path

import colour
import cv2
import numpy as np
import pytest

from ccharmony.io import IngestOptions, read_image
from ccharmony.io.camera_matrices import CAMERA_MATRICES, CameraMatrix, find_camera_matrix
from ccharmony.io.linear import LINEAR_CAMERA_LEVELS, camera_from_filename, linear_from_pixels
from ccharmony.render import render_srgb_float, rendering_parameters

XYZ_D65 = colour.RGB_COLOURSPACES["sRGB"].matrix_RGB_to_XYZ @ np.ones(3)  # Y = 1

KEYS = sorted(CAMERA_MATRICES)


def test_table_covers_the_level_table_with_the_same_cameras() -> None:
    assert set(CAMERA_MATRICES) == set(LINEAR_CAMERA_LEVELS)
    assert len(CAMERA_MATRICES) == 11
    for key, entry in CAMERA_MATRICES.items():
        levels = LINEAR_CAMERA_LEVELS[key]
        assert (entry.camera, entry.make, entry.model) == (key, levels.make, levels.model)


@pytest.mark.parametrize("key", KEYS)
def test_row_is_a_finite_invertible_matrix_with_positive_d65_response(key: str) -> None:
    entry = CAMERA_MATRICES[key]
    M = entry.matrix
    assert M.shape == (3, 3) and M.dtype == np.float64 and np.all(np.isfinite(M))
    assert all(isinstance(value, int) for value in entry.coefficients) and len(entry.coefficients) == 9
    white = M @ XYZ_D65
    assert np.all(white > 0), white
    assert abs(np.linalg.det(M)) > 1e-3
    # DNG ColorMatrix rows of these cameras: the green row has the largest Y response
    assert np.argmax(M[:, 1]) == 1
    assert entry.as_tuple == tuple(tuple(row) for row in M.tolist())


@pytest.mark.parametrize("key", KEYS)
def test_camera_white_of_d65_renders_neutral(key: str) -> None:
    M = CAMERA_MATRICES[key].matrix
    parameters = rendering_parameters(M)
    assert parameters.camera_matrix_known
    white = M @ XYZ_D65
    linear_srgb = parameters.combined @ white
    np.testing.assert_allclose(linear_srgb, linear_srgb[1], rtol=0, atol=1e-6)
    # scaled to mid-grey, through the whole pipeline (sRGB values 0..255)
    grey = white * (0.18 / (parameters.combined @ white)[1])
    srgb = render_srgb_float(grey, camera_matrix=M)
    assert np.ptp(srgb) < 1e-3 and 117.0 < srgb[1] < 119.0  # 0.18 -> 118.3 in sRGB
    # the identity fallback leaves the same pixel visibly coloured
    assert np.ptp(render_srgb_float(grey, camera_matrix=None)) > 10


def test_known_values_canon_eos_5d_to_the_digit() -> None:
    entry = CAMERA_MATRICES["Canon5D"]
    assert entry.coefficients == (6347, -479, -972, -8297, 15954, 2480, -1968, 2131, 7649)
    assert entry.matrix[1, 1] == 1.5954 and entry.matrix[2, 0] == -0.1968
    assert CAMERA_MATRICES["Canon600D"].coefficients[:3] == (6461, -907, -882)
    assert CAMERA_MATRICES["SonyA57"].coefficients[-1] == 6701


def test_canon_1d_and_5d_naming_traps() -> None:
    # the exact rows, not the rows of longer names that share the prefix (LibRaw colordata.cpp)
    mark_ii_5d = (4716, 603, -830, -7798, 15474, 2480, -1496, 1937, 6651)
    eos_1ds = (3925, 4060, -1739, -8973, 16552, 2545, -3287, 3945, 8243)
    eos_1ds_mark_ii = (6517, -602, -867, -8180, 15926, 2378, -1618, 1771, 7633)
    assert CAMERA_MATRICES["Canon5D"].coefficients != mark_ii_5d
    assert CAMERA_MATRICES["Canon1D"].coefficients == (6806, -179, -1020, -8097, 16415, 1687, -3267, 4236, 7690)
    assert CAMERA_MATRICES["Canon1D"].coefficients not in (eos_1ds, eos_1ds_mark_ii)
    assert CAMERA_MATRICES["Canon1DsMkIII"].coefficients == (
        5859, -211, -930, -8255, 16017, 2353, -1732, 1887, 7448)
    # look-ups by name are whole-name, never prefix
    assert find_camera_matrix("Canon EOS-1D").camera == "Canon1D"  # type: ignore[union-attr]
    assert find_camera_matrix("canon  eos-1ds mark iii").camera == "Canon1DsMkIII"  # type: ignore[union-attr]
    assert find_camera_matrix("Canon EOS 5D").camera == "Canon5D"  # type: ignore[union-attr]
    for other in ("Canon EOS 5D Mark II", "Canon EOS-1Ds", "Canon EOS-1D Mark III", "Canon EOS 5DS",
                  "Nikon D40X", "Samsung NX2", "Sony SLT-A5", "Canon EOS"):
        assert find_camera_matrix(other) is None, other
    # and file names: the Canon 1Ds Mark III (NUS) is not the Canon 1D (Gehler-Shi)
    assert camera_from_filename("Canon1DsMkIII_0001.PNG") == "Canon1DsMkIII"
    assert camera_from_filename("8D5U5524.png") == "Canon1D"
    assert camera_from_filename("NikonD40_0001.PNG") == "NikonD40"
    assert camera_from_filename("NikonD5200_0001.PNG") == "NikonD5200"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("IMG_0285.png", "Canon5D"),
        ("8D5U5524.png", "Canon1D"),
        ("Canon1DsMkIII_0001.PNG", "Canon1DsMkIII"),
        ("Canon600D_0001.PNG", "Canon600D"),
        ("FujifilmXM1_0001.PNG", "FujifilmXM1"),
        ("NikonD40_0001.PNG", "NikonD40"),
        ("NikonD5200_0001.PNG", "NikonD5200"),
        ("OlympusEPL6_0001.PNG", "OlympusEPL6"),
        ("PanasonicGX1_0001.PNG", "PanasonicGX1"),
        ("SamsungNX2000_0001.PNG", "SamsungNX2000"),
        ("SonyA57_0001.PNG", "SonyA57"),
    ],
)
def test_file_name_sets_camera_matrix_make_and_model(name: str, key: str) -> None:
    pixels = np.full((2, 2, 3), 1000, np.uint16)
    image = linear_from_pixels(pixels, path=name, black_level=0, white_level=4095, make="X", model="Y")
    meta = image.metadata
    assert meta.camera_matrix == CAMERA_MATRICES[key].as_tuple
    assert (meta.make, meta.model) == (CAMERA_MATRICES[key].make, CAMERA_MATRICES[key].model)
    assert meta.extra["camera_key"] == key
    assert "colordata.cpp" in str(meta.extra["camera_matrix_source"])


def test_unknown_camera_keeps_no_matrix_and_exif_names() -> None:
    image = linear_from_pixels(np.full((2, 2, 3), 10, np.uint16), path="scene.png", make="Acme", model="One")
    assert image.metadata.camera_matrix is None
    assert (image.metadata.make, image.metadata.model) == ("Acme", "One")
    assert "camera_matrix_source" not in image.metadata.extra


def _write_png16(path: Path, rgb: np.ndarray) -> Path:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    path.write_bytes(data.tobytes())
    return path


def test_read_image_camera_option_and_neutral_render(tmp_path: Path) -> None:
    entry = CAMERA_MATRICES["Canon5D"]
    white = entry.matrix @ XYZ_D65
    # a D65-lit grey as the Gehler-Shi Canon 5D stores it: black 129, saturation 3692
    rgb = np.rint(129 + 2000 * white / white.max()).astype(np.uint16)
    path = _write_png16(tmp_path / "scene.png", np.tile(rgb, (2, 2, 1)))
    plain = read_image(path)
    assert plain.metadata.camera_matrix is None
    named = read_image(path, IngestOptions(camera="Canon5D"))
    assert named.metadata.camera_matrix == entry.as_tuple
    assert (named.metadata.make, named.metadata.model) == ("Canon", "EOS 5D")
    srgb = render_srgb_float(named.RGB[0, 0], camera_matrix=named.metadata.camera_matrix)
    assert np.ptp(srgb) < 0.3  # neutral up to the 16-bit rounding of the stored pixel
    assert np.ptp(render_srgb_float(plain.RGB[0, 0], camera_matrix=plain.metadata.camera_matrix)) > 10


def test_camera_matrix_record_is_frozen() -> None:
    entry = CAMERA_MATRICES["NikonD40"]
    assert isinstance(entry, CameraMatrix) and entry.name == "Nikon D40"
    with pytest.raises(AttributeError):
        entry.make = "Other"  # type: ignore[misc]
