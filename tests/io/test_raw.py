"""Tests of ccharmony.io.raw on synthetic DNGs and the shared real RAW files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rawpy
import tifffile

from ccharmony.errors import UnreadableImageError
from ccharmony.io import IngestOptions, read_image
from ccharmony.io.raw import cfa_pattern_from_colors


def _write_dng(path: Path, mosaic: np.ndarray, *, orientation: int = 1, black: int = 64, white: int = 4095,
               pattern: tuple[int, int, int, int] = (0, 1, 1, 2)) -> Path:
    """A minimal CFA DNG (recipe of ARCHITECTURE.md section 7) with an Orientation tag."""
    matrix = [0.9, -0.3, -0.1, -0.4, 1.3, 0.1, -0.1, 0.2, 0.6]
    rationals: list[int] = []
    for value in matrix:
        rationals += [int(round(value * 10000)), 10000]
    tags = [
        (33421, "H", 2, (2, 2), True), (33422, "B", 4, pattern, True), (50706, "B", 4, (1, 4, 0, 0), True),
        (50707, "B", 4, (1, 1, 0, 0), True), (50708, "s", 0, "Test Cam", True), (50714, "H", 1, (black,), True),
        (50717, "I", 1, (white,), True), (50721, 10, 9, rationals, True), (50778, "H", 1, (21,), True),
        (50728, 5, 3, (1, 2, 1, 1, 4, 5), True), (274, "H", 1, (orientation,), True),
    ]
    tifffile.imwrite(path, mosaic, photometric=32803, compression=None, subfiletype=0, extratags=tags)
    return path


def _field_mosaic(height: int = 32, width: int = 48) -> np.ndarray:
    mosaic = np.empty((height, width), np.uint16)
    mosaic[0::2, 0::2] = 64 + 2000  # R
    mosaic[0::2, 1::2] = 64 + 1000  # G
    mosaic[1::2, 0::2] = 64 + 1000  # G
    mosaic[1::2, 1::2] = 64 + 500  # B
    return mosaic


def test_synthetic_dng_values_and_metadata(tmp_path: Path) -> None:
    mosaic = _field_mosaic()
    mosaic[10, 20] = 4095  # one clipped R site
    image = read_image(_write_dng(tmp_path / "field.dng", mosaic))
    meta = image.metadata
    assert image.RGB.shape == (32, 48, 3) and image.RGB.dtype == np.float32
    np.testing.assert_allclose(image.RGB[3, 3], np.array([2000, 1000, 500]) / (4095 - 64), rtol=1e-6)
    assert (meta.source_kind, meta.cfa, meta.black_level, meta.white_level) == ("camera-raw", "RGGB", (64.0,) * 3, 4095)
    assert meta.model == "Test Cam" and meta.orientation == 1
    assert meta.as_shot_white_balance == pytest.approx((2.0, 1.0, 1.25))  # AsShotNeutral (0.5, 1, 0.8)
    assert meta.camera_matrix is not None
    np.testing.assert_allclose(meta.camera_matrix, [[0.9, -0.3, -0.1], [-0.4, 1.3, 0.1], [-0.1, 0.2, 0.6]])
    assert image.clipped[10, 20] and image.clipped[9:12, 19:22].all() and image.clipped.sum() == 9
    half = read_image(tmp_path / "field.dng", IngestOptions(half_size=True))
    assert half.RGB.shape == (16, 24, 3) and half.metadata.binned and half.metadata.original_size == (32, 48)
    np.testing.assert_allclose(half.RGB[0, 0], np.array([2000, 1000, 500]) / 4031, rtol=1e-6)
    assert half.clipped.sum() == 1 and half.clipped[5, 10]


@pytest.mark.parametrize(("orientation", "shape", "corner"), [(3, (32, 48), (-1, -1)), (6, (48, 32), (0, -1)),
                                                               (8, (48, 32), (-1, 0))])
def test_raw_orientation_is_applied(tmp_path: Path, orientation: int, shape: tuple[int, int],
                                    corner: tuple[int, int]) -> None:
    mosaic = _field_mosaic()
    mosaic[0:4, 0:4] = 64  # a black 4x4 corner at the stored top-left
    image = read_image(_write_dng(tmp_path / "turned.dng", mosaic, orientation=orientation), IngestOptions(half_size=True))
    assert image.metadata.orientation == orientation
    assert image.RGB.shape == (shape[0] // 2, shape[1] // 2, 3)
    assert image.metadata.original_size == shape
    assert np.all(image.RGB[corner] == 0)  # the stored top-left moved to this corner
    assert image.RGB[image.RGB.shape[0] // 2, image.RGB.shape[1] // 2, 0] > 0.4


def test_black_and_white_flags_override_libraw(tmp_path: Path) -> None:
    image = read_image(_write_dng(tmp_path / "f.dng", _field_mosaic()),
                       IngestOptions(black_level=0, white_level=8000, half_size=True))
    np.testing.assert_allclose(image.RGB[0, 0], np.array([2064, 1064, 564]) / 8000, rtol=1e-6)


def test_cfa_pattern_from_colors() -> None:
    assert cfa_pattern_from_colors(np.array([[1, 2], [0, 3]]), "RGBG") == "GBRG"
    assert cfa_pattern_from_colors(np.array([[3, 0], [2, 1]]), "RGBG") == "GRBG"


def test_dng_written_by_ccharmony_io_dng(tmp_path: Path) -> None:
    dng = pytest.importorskip("ccharmony.io.dng")
    mosaic = _field_mosaic(32, 32)
    path = dng.write_dng(tmp_path / "w.dng", mosaic, cfa_pattern="RGGB", black_level=64, white_level=4095)
    image = read_image(path)
    np.testing.assert_allclose(image.RGB[5, 5], np.array([2000, 1000, 500]) / 4031, rtol=1e-6)


# --- the shared real RAW files (skipped when ../shared is absent) ----------------------------------


@pytest.mark.parametrize(
    ("relative", "shape", "black", "white", "cfa"),
    [
        ("raw__boostorg_gil/RAW_CANON_D30_SRGB.CRW", (1448, 2176), 126.0, 4095.0, "RGGB"),
        ("raw__dcuddeback_libraw-rs/RAW_NIKON_D1.NEF", (1324, 2012), 0.0, 4095.0, "BGGR"),
        ("raw__imageio_test_images/Blackmagic.dng", (2176, 4128), 512.0, 65535.0, "RGGB"),
    ],
)
def test_real_raw_files(real_dir: Path, relative: str, shape: tuple[int, int], black: float, white: float,
                        cfa: str) -> None:
    path = real_dir / relative
    image = read_image(path, IngestOptions(half_size=True))
    meta = image.metadata
    assert image.RGB.shape == (shape[0] // 2, shape[1] // 2, 3) and image.RGB.dtype == np.float32
    assert meta.original_size == shape and meta.black_level == (black,) * 3 and meta.white_level == white
    assert meta.cfa == cfa and meta.source_kind == "camera-raw"
    with rawpy.imread(str(path)) as raw:
        visible = raw.raw_image_visible.astype(np.float64)
    red_row, red_column = divmod(cfa.index("R"), 2)
    expected_red = (visible[red_row::2, red_column::2] - black) / (white - black)
    np.testing.assert_allclose(image.RGB[..., 0], expected_red, atol=1e-6)
    assert float(image.RGB.max()) <= 1.0 and float(image.RGB.min()) >= -0.05


def test_real_raw_metadata(real_dir: Path) -> None:
    nef = read_image(real_dir / "raw__dcuddeback_libraw-rs/RAW_NIKON_D1.NEF", IngestOptions(half_size=True))
    assert (nef.metadata.make, nef.metadata.model) == ("NIKON CORPORATION", "NIKON D1")
    assert nef.metadata.camera_matrix is not None and nef.clipped.any()  # the D1 file has saturated sky
    crw = read_image(real_dir / "raw__boostorg_gil/RAW_CANON_D30_SRGB.CRW", IngestOptions(half_size=True))
    assert crw.metadata.as_shot_white_balance is None  # LibRaw reports -1 (unknown) for this file
    dng = read_image(real_dir / "raw__imageio_test_images/Blackmagic.dng", IngestOptions(half_size=True))
    assert dng.metadata.model == "Blackmagic Pocket Cinema Camera 4K"
    assert dng.metadata.extra["camera_matrix_source"] == "DNG ColorMatrix"
    assert dng.metadata.as_shot_white_balance == pytest.approx((2.206, 1.0, 1.887), abs=1e-3)


def test_real_raw_full_resolution(real_dir: Path) -> None:
    image = read_image(real_dir / "raw__dcuddeback_libraw-rs/RAW_NIKON_D1.NEF")
    assert image.RGB.shape == (1324, 2012, 3) and image.clipped.shape == (1324, 2012)


def test_truncated_real_raw_is_refused(real_dir: Path, tmp_path: Path) -> None:
    data = (real_dir / "raw__dcuddeback_libraw-rs/RAW_NIKON_D1.NEF").read_bytes()
    (tmp_path / "cut.NEF").write_bytes(data[: len(data) * 2 // 5])
    with pytest.raises(UnreadableImageError, match=r"cut\.NEF: LibRaw cannot decode it \(Input/output error\)"):
        read_image(tmp_path / "cut.NEF")


def test_dng_under_a_tif_name_is_read_as_raw(tmp_path: Path) -> None:
    path = _write_dng(tmp_path / "capture.tif", _field_mosaic())
    image = read_image(path, IngestOptions(half_size=True))
    assert image.metadata.source_kind == "camera-raw" and image.metadata.cfa == "RGGB"
