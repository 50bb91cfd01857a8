"""Tests of ccharmony.io.ingest (read_image, IngestOptions) on small synthetic files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from io_helpers import jpeg_with_exif, mosaic_from_rgb, png_with_exif

from ccharmony.errors import CCHarmonyError, ConfigError, UnreadableImageError, UnsupportedFormatError
from ccharmony.io import IngestOptions, LinearImage, read_image, read_srgb8
from ccharmony.io.encode import encode_image


def _write_png16(path: Path, rgb: np.ndarray) -> Path:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb)
    assert ok
    path.write_bytes(data.tobytes())
    return path


def _assert_record(image: LinearImage, shape: tuple[int, int]) -> None:
    assert isinstance(image, LinearImage)
    assert image.RGB.shape == (*shape, 3) and image.RGB.dtype == np.float32
    assert image.clipped.shape == shape and image.clipped.dtype == np.bool_


# --- options ----------------------------------------------------------------


def test_options_validate_and_normalise() -> None:
    options = IngestOptions(cfa="gbrg", black_level=64, white_level=1023, half_size=1)  # type: ignore[arg-type]
    assert (options.cfa, options.black_level, options.white_level, options.half_size) == ("GBRG", 64.0, 1023.0, True)
    with pytest.raises(ConfigError, match="cfa must be one of RGGB"):
        IngestOptions(cfa="RGB")
    with pytest.raises(ConfigError, match="kind must be one of"):
        IngestOptions(kind="raw")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="white_level must be above black_level"):
        IngestOptions(black_level=100, white_level=100)
    with pytest.raises(ConfigError, match="black_level must be finite"):
        IngestOptions(black_level=float("nan"))
    with pytest.raises(ConfigError, match="black_level must be finite"):
        IngestOptions(black_level=-1)


# --- rendered ---------------------------------------------------------------


def test_rendered_jpeg_png_decode_with_srgb_cctf(tmp_path: Path) -> None:
    import colour

    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 255, 128, 10
    image = read_image(_write_png16(tmp_path / "photo.png", rgb))
    assert image.metadata.source_kind == "rendered"
    expected = colour.cctf_decoding(np.array([255, 128, 10]) / 255, "sRGB")
    np.testing.assert_allclose(image.RGB[0, 0], expected, rtol=1e-6)
    assert image.clipped.all()  # R is at 255
    jpeg = tmp_path / "photo.jpg"
    jpeg.write_bytes(encode_image(np.full((8, 8, 3), 100, np.uint8), ".jpg"))
    out = read_image(jpeg)
    _assert_record(out, (8, 8))
    np.testing.assert_allclose(out.RGB, colour.cctf_decoding(100 / 255, "sRGB"), atol=0.005)
    assert not out.clipped.any()


def test_rendered_16_bit_when_kind_given(tmp_path: Path) -> None:
    path = _write_png16(tmp_path / "wide.png", np.full((2, 2, 3), 65535, np.uint16))
    image = read_image(path, IngestOptions(kind="rendered"))
    assert image.metadata.source_kind == "rendered" and image.metadata.white_level == 65535
    np.testing.assert_allclose(image.RGB, 1.0)
    assert image.clipped.all()


def test_jpeg_exif_orientation_6_is_applied(tmp_path: Path) -> None:
    stored = np.zeros((16, 24, 3), np.uint8)
    stored[:8, :8] = [250, 0, 0]  # red block at the stored top-left
    path = tmp_path / "rotated.jpg"
    path.write_bytes(jpeg_with_exif(encode_image(stored, ".jpg", quality=100), 6, "Acme", "One"))
    image = read_image(path)
    _assert_record(image, (24, 16))  # 90 degrees clockwise: rows and columns swap
    assert image.metadata.orientation == 6 and (image.metadata.make, image.metadata.model) == ("Acme", "One")
    # the stored top-left ends at the top-right once turned clockwise
    assert image.RGB[2, -3, 0] > 0.8 and image.RGB[2, 2, 0] < 0.05
    upright = read_srgb8(path)
    assert upright.shape == (24, 16, 3) and upright.dtype == np.uint8
    assert upright[2, -3, 0] > 200 and upright[-3, 2, 0] < 20


def test_png_exif_orientation_3(tmp_path: Path) -> None:
    stored = np.zeros((4, 6, 3), np.uint8)
    stored[0, 0] = [0, 0, 200]
    path = tmp_path / "flipped.png"
    path.write_bytes(png_with_exif(encode_image(stored, ".png"), 3))
    assert read_srgb8(path)[-1, -1].tolist() == [0, 0, 200]
    assert read_image(path).metadata.orientation == 3


# --- linear -----------------------------------------------------------------


def test_linear_16_bit_png_default_levels(tmp_path: Path) -> None:
    rgb = np.zeros((3, 5, 3), np.uint16)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 6553, 32767, 65535
    image = read_image(_write_png16(tmp_path / "linear.png", rgb))
    assert image.metadata.source_kind == "linear"
    np.testing.assert_allclose(image.RGB[1, 1], [6553 / 65535, 32767 / 65535, 1.0], rtol=1e-6)
    assert image.clipped.all() and image.metadata.white_level == 65535


def test_gehler_shi_camera_table_from_file_names(tmp_path: Path) -> None:
    rgb = np.full((2, 2, 3), 129 + 1000, np.uint16)
    rgb[0, 0] = 3692
    canon5d = read_image(_write_png16(tmp_path / "IMG_0285.png", rgb))
    assert canon5d.metadata.black_level == (129.0, 129.0, 129.0) and canon5d.metadata.white_level == 3692
    np.testing.assert_allclose(canon5d.RGB[1, 1], 1000 / (3692 - 129), rtol=1e-6)
    assert canon5d.clipped.tolist() == [[True, False], [False, False]]
    assert "GehlerShiSensor.m" in str(canon5d.metadata.extra["levels_source"])
    canon1d = read_image(_write_png16(tmp_path / "8D5U5524.png", rgb))
    assert canon1d.metadata.black_level == (0.0, 0.0, 0.0) and canon1d.metadata.white_level == 3692
    np.testing.assert_allclose(canon1d.RGB[1, 1], 1129 / 3692, rtol=1e-6)
    flagged = read_image(tmp_path / "IMG_0285.png", IngestOptions(black_level=100))
    assert flagged.metadata.black_level[0] == 100 and flagged.metadata.white_level == 3692
    named = read_image(_write_png16(tmp_path / "scene.png", rgb), IngestOptions(camera="canon5d"))
    assert named.metadata.black_level[0] == 129 and named.metadata.model == "EOS 5D"


def test_nus8_levels_need_groundtruth_or_flags(tmp_path: Path) -> None:
    from scipy.io import savemat

    folder = tmp_path / "SonyA57"
    folder.mkdir()
    path = _write_png16(folder / "SonyA57_0001.PNG", np.full((2, 2, 3), 1128, np.uint16))
    with pytest.raises(ConfigError, match=r"SonyA57_0001\.PNG: NUS-8 camera SonyA57 has no tabulated"):
        read_image(path)
    flagged = read_image(path, IngestOptions(black_level=128, white_level=4095))
    np.testing.assert_allclose(flagged.RGB, 1000 / (4095 - 128), rtol=1e-6)
    savemat(str(folder / "SonyA57_gt.mat"), {"darkness_level": np.array([[128.0]]),
                                             "saturation_level": np.array([[4000.0]])})
    found = read_image(path)
    assert found.metadata.black_level[0] == 128 and found.metadata.white_level == 4000
    assert found.metadata.extra["levels_source"] == "SonyA57_gt.mat: darkness_level / saturation_level"


def test_8_bit_nus8_name_is_linear_generic_name_is_rendered(tmp_path: Path) -> None:
    rgb = np.full((2, 2, 3), 28, np.uint8)
    nus = read_image(_write_png16(tmp_path / "Canon1DsMkIII_0001.PNG", rgb))
    assert nus.metadata.source_kind == "linear" and nus.metadata.white_level == 255
    np.testing.assert_allclose(nus.RGB, 28 / 255, rtol=1e-6)
    assert read_image(_write_png16(tmp_path / "IMG_1234.png", rgb)).metadata.source_kind == "rendered"
    assert read_image(tmp_path / "IMG_1234.png", IngestOptions(kind="linear")).metadata.source_kind == "linear"


def test_linear_tiff(tmp_path: Path) -> None:
    rgb = np.full((3, 4, 3), 2000, np.uint16)
    tifffile.imwrite(tmp_path / "scene.tif", rgb, photometric="rgb")
    image = read_image(tmp_path / "scene.tif", IngestOptions(black_level=1000, white_level=5000))
    assert image.metadata.source_kind == "linear"
    np.testing.assert_allclose(image.RGB, 0.25, rtol=1e-6)


# --- Bayer ------------------------------------------------------------------


@pytest.mark.parametrize("cfa", ["RGGB", "GBRG"])
def test_bayer_png_and_tiff(tmp_path: Path, cfa: str) -> None:
    RGB = np.zeros((8, 10, 3), np.uint16)
    RGB[...] = [64 + 2000, 64 + 1000, 64 + 500]
    mosaic = mosaic_from_rgb(RGB, cfa)
    _write_png16(tmp_path / "mosaic.png", mosaic)
    tifffile.imwrite(tmp_path / "mosaic.tif", mosaic)
    options = IngestOptions(cfa=cfa, black_level=64, white_level=4095)
    for name in ("mosaic.png", "mosaic.tif"):
        image = read_image(tmp_path / name, options)
        _assert_record(image, (8, 10))
        assert image.metadata.source_kind == "bayer" and image.metadata.cfa == cfa
        np.testing.assert_allclose(image.RGB[3, 4], np.array([2000, 1000, 500]) / 4031, rtol=1e-6)
    half = read_image(tmp_path / "mosaic.png", IngestOptions(cfa=cfa, black_level=64, white_level=4095,
                                                             half_size=True))
    _assert_record(half, (4, 5))
    assert half.metadata.binned and half.metadata.original_size == (8, 10)
    with pytest.raises(ConfigError, match=r"mosaic\.png: single-channel image is a Bayer mosaic; pass --cfa"):
        read_image(tmp_path / "mosaic.png")


# --- failures ---------------------------------------------------------------


def test_mislabelled_jpeg_named_cr2(tmp_path: Path) -> None:
    path = tmp_path / "photo.CR2"
    path.write_bytes(encode_image(np.full((4, 4, 3), 90, np.uint8), ".jpg"))
    with pytest.raises(UnreadableImageError) as caught:
        read_image(path)
    message = str(caught.value)
    assert message == (f"{path}: file content is JPEG but the extension says camera RAW; "
                       "rename it or pass --kind rendered")
    assert "\n" not in message
    assert read_image(path, IngestOptions(kind="rendered")).metadata.source_kind == "rendered"


def test_png_named_nef_and_raw_named_jpg(tmp_path: Path) -> None:
    png = tmp_path / "scan.NEF"
    png.write_bytes(encode_image(np.zeros((2, 2, 3), np.uint8), ".png"))
    with pytest.raises(UnreadableImageError, match=r"scan\.NEF: file content is PNG but the extension says camera RAW"):
        read_image(png)
    crw = tmp_path / "fake.jpg"
    crw.write_bytes(b"II\x1a\x00\x00\x00HEAPCCDR" + b"\x00" * 100)
    with pytest.raises(UnreadableImageError, match=r"fake\.jpg: file content is camera RAW but the extension says JPEG"):
        read_image(crw)


@pytest.mark.parametrize(
    ("name", "content", "error", "pattern"),
    [
        ("empty.CR2", b"", UnreadableImageError, r"empty\.CR2: file is empty"),
        ("noise.CR2", bytes(range(256)) * 8, UnreadableImageError, r"noise\.CR2: LibRaw cannot decode it"),
        ("noise.png", bytes(range(256)) * 8, UnreadableImageError, r"noise\.png: file content is not a PNG image"),
        ("noise.dat", bytes(range(256)) * 8, UnsupportedFormatError, r"noise\.dat: file content is not a recognised"),
    ],
)
def test_bad_files_give_one_line_naming_the_file(
    tmp_path: Path, name: str, content: bytes, error: type[CCHarmonyError], pattern: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(error, match=pattern) as caught:
        read_image(path)
    assert "\n" not in str(caught.value)


def test_missing_folder_and_truncated_files(tmp_path: Path) -> None:
    with pytest.raises(UnreadableImageError, match=r"absent\.NEF: no such file"):
        read_image(tmp_path / "absent.NEF")
    with pytest.raises(UnreadableImageError, match="is a folder"):
        read_image(tmp_path)
    jpeg = encode_image(np.random.default_rng(3).integers(0, 255, (32, 32, 3), dtype=np.uint8), ".jpg")
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    with pytest.raises(UnreadableImageError, match=r"cut\.jpg: JPEG file is truncated"):
        read_image(tmp_path / "cut.jpg")
    tifffile.imwrite(tmp_path / "cut.tif", np.full((64, 64, 3), 7, np.uint16), photometric="rgb")
    data = (tmp_path / "cut.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[: len(data) // 3])
    with pytest.raises(UnreadableImageError, match=r"cut\.tif: cannot decode the TIFF"):
        read_image(tmp_path / "cut.tif")
