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


def _mask_variants() -> dict[str, bytes]:
    """The same 3x4 mask pattern in the containers and layouts masks come in."""
    import io

    import cv2
    import tifffile

    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    rgb[0, 0] = (128, 0, 255)  # red 128 -> inside even where green / blue say otherwise
    rgb[0, 1] = (127, 255, 255)  # red 127 -> outside
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    bgra = np.dstack([bgr, np.full((3, 4), 9, np.uint8)])
    grey16 = (rng.integers(0, 65536, (3, 4))).astype(np.uint16)
    grey16[0, 0], grey16[0, 1] = 32768, 32767  # rounded to 8 bits: 128 / 127
    tiff = io.BytesIO()
    tifffile.imwrite(tiff, rgb)
    return {
        "rgb png": cv2.imencode(".png", bgr)[1].tobytes(),
        "rgba png": cv2.imencode(".png", bgra)[1].tobytes(),
        "grey png": cv2.imencode(".png", rgb[..., 0])[1].tobytes(),
        "grey 16-bit png": cv2.imencode(".png", grey16)[1].tobytes(),
        "rgb jpeg": cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 100])[1].tobytes(),
        "rgb tiff": tiff.getvalue(),
    }


@pytest.mark.parametrize("variant", sorted(_mask_variants()))
def test_decode_mask_is_decode_image_red_above_127(variant: str) -> None:
    from ccharmony.io.encode import decode_mask

    data = _mask_variants()[variant]
    image = decode_image(data)
    expected = (image[..., 0] if image.ndim == 3 else image) > 127
    mask = decode_mask(data)
    assert mask.dtype == np.bool_ and mask.shape == (3, 4)
    np.testing.assert_array_equal(mask, expected)
    assert 0 < mask.sum() < 12  # the pattern has both values, so the test can fail
    if variant != "rgb jpeg":
        assert mask[0, 0] and not mask[0, 1]


def test_decode_mask_failures_name_the_file(tmp_path: Path) -> None:
    from ccharmony.io.encode import decode_mask

    data = _mask_variants()["rgb png"]
    truncated = tmp_path / "fg_a.png"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableImageError, match="fg_a.png"):
        decode_mask(truncated)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(UnreadableImageError, match="empty.png: file is empty"):
        decode_mask(empty)
    text = tmp_path / "notes.png"
    text.write_bytes(b"not an image at all")
    with pytest.raises(UnsupportedFormatError, match="notes.png"):
        decode_mask(text)


def test_encode_mask_is_an_8_bit_grey_png_with_unfiltered_rows() -> None:
    import struct
    import zlib

    import cv2

    from ccharmony.io.encode import decode_mask, encode_mask

    rng = np.random.default_rng(7)
    mask = rng.random((37, 53)) < 0.3
    data = encode_mask(mask)
    assert data == encode_mask(mask.view(np.uint8) * np.uint8(255))  # bool and 0/255 alike
    np.testing.assert_array_equal(decode_mask(data), mask)
    np.testing.assert_array_equal(decode_image(data), mask.astype(np.uint8) * 255)
    width, height, depth, colour_type = struct.unpack(">IIBB", data[16:26])
    assert (width, height, depth, colour_type) == (53, 37, 8, 0)  # 8-bit greyscale, as iHarmony4 masks
    if hasattr(cv2, "IMWRITE_PNG_FILTER"):
        # Every row stored with filter type 0 (none): the measured fast setting.
        chunks, position = b"", 8
        while position < len(data):
            length, kind = struct.unpack(">I4s", data[position : position + 8])
            if kind == b"IDAT":
                chunks += data[position + 8 : position + 8 + length]
            position += 12 + length
        rows = zlib.decompress(chunks)
        assert len(rows) == height * (width + 1)
        assert {rows[r * (width + 1)] for r in range(height)} == {0}


def test_encode_mask_refuses_other_arrays() -> None:
    from ccharmony.io.encode import encode_mask

    with pytest.raises(ValueError, match="mask must be bool or uint8"):
        encode_mask(np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="mask must be bool or uint8"):
        encode_mask(np.zeros((2, 2), np.float32))
