"""Tests of ccharmony.io.encode: PNG/JPEG round trips, strict decoding of truncated files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ccharmony.errors import UnreadableImageError, UnsupportedFormatError
from ccharmony.io.encode import decode_image, decode_pixels, encode_image


def _image() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)


def test_png_round_trip_is_exact_and_rgb_ordered(tmp_path: Path) -> None:
    rgb = _image()
    rgb[0, 0] = [255, 0, 0]
    data = encode_image(rgb, ".png")
    assert data[:4] == b"\x89PNG"
    np.testing.assert_array_equal(decode_image(data), rgb)
    (tmp_path / "x.png").write_bytes(data)
    decoded = decode_image(tmp_path / "x.png")
    assert decoded[0, 0].tolist() == [255, 0, 0]


def test_jpeg_round_trip_is_close_and_deterministic() -> None:
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[..., 0] = 200
    rgb[..., 2] = 40
    first, second = encode_image(rgb, ".jpg", quality=95), encode_image(rgb, ".JPEG", quality=95)
    assert first == second and first[:3] == b"\xff\xd8\xff"
    decoded = decode_image(first)
    assert np.abs(decoded.astype(int) - rgb).max() <= 3
    assert decoded[..., 0].mean() > 190 and decoded[..., 2].mean() < 50  # red stays red


def test_grey_round_trip_and_16_bit_decoding() -> None:
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    np.testing.assert_array_equal(decode_image(encode_image(grey, ".png")), grey)
    import cv2

    ok, png16 = cv2.imencode(".png", np.full((2, 2), 65535, np.uint16))
    assert ok
    assert decode_pixels(png16.tobytes(), name="a.png").dtype == np.uint16
    assert decode_image(png16.tobytes()).tolist() == [[255, 255], [255, 255]]


def test_truncated_jpeg_and_png_are_refused(tmp_path: Path) -> None:
    jpeg = encode_image(_image(), ".jpg")
    target = tmp_path / "cut.jpg"
    target.write_bytes(jpeg[: len(jpeg) * 2 // 3])
    with pytest.raises(UnreadableImageError, match=r"cut\.jpg: JPEG file is truncated"):
        decode_image(target)
    png = encode_image(_image(), ".png")
    with pytest.raises(UnreadableImageError, match=r"cut\.png: PNG file is truncated"):
        decode_image(png[:-20], name="cut.png")


def test_decode_failures_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableImageError, match=r"missing\.png: no such file"):
        decode_image(tmp_path / "missing.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(UnreadableImageError, match=r"empty\.png: file is empty"):
        decode_image(tmp_path / "empty.png")
    (tmp_path / "noise.png").write_bytes(np.random.default_rng(1).bytes(500))
    with pytest.raises(UnsupportedFormatError, match=r"noise\.png: file content is not a recognised"):
        decode_image(tmp_path / "noise.png")
    broken = bytearray(encode_image(_image(), ".png"))
    broken[40:80] = b"\x00" * 40  # corrupt the image data, keep IEND
    with pytest.raises(UnreadableImageError, match=r"bad\.png: cannot decode"):
        decode_image(bytes(broken), name="bad.png")


def test_encode_errors() -> None:
    with pytest.raises(ValueError, match="uint8"):
        encode_image(np.zeros((2, 2), np.float32), ".png")
    with pytest.raises(ValueError, match="shape"):
        encode_image(np.zeros((2, 2, 2), np.uint8), ".png")
    with pytest.raises(UnsupportedFormatError, match="'.bmp'"):
        encode_image(np.zeros((2, 2), np.uint8), ".bmp")
