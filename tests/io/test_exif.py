"""Tests of ccharmony.io.exif: EXIF parsing, orientation, LibRaw flip codes."""

from __future__ import annotations

import numpy as np
import pytest
from io_helpers import jpeg_with_exif, png_with_exif, tiff_ifd0

from ccharmony.io.encode import encode_image
from ccharmony.io.exif import (
    ExifInfo,
    apply_orientation,
    orientation_from_libraw_flip,
    parse_tiff_ifd0,
    read_exif,
)

IMAGE = np.arange(2 * 3).reshape(2, 3)
# Expected upright images, written out by hand from the EXIF definitions.
UPRIGHT = {
    1: [[0, 1, 2], [3, 4, 5]],
    2: [[2, 1, 0], [5, 4, 3]],
    3: [[5, 4, 3], [2, 1, 0]],
    4: [[3, 4, 5], [0, 1, 2]],
    5: [[0, 3], [1, 4], [2, 5]],
    6: [[3, 0], [4, 1], [5, 2]],
    7: [[5, 2], [4, 1], [3, 0]],
    8: [[2, 5], [1, 4], [0, 3]],
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_apply_orientation_all_eight(orientation: int) -> None:
    assert apply_orientation(IMAGE, orientation).tolist() == UPRIGHT[orientation]


def test_apply_orientation_keeps_channels_and_rejects_bad_values() -> None:
    rgb = np.zeros((2, 3, 3), np.float32)
    rgb[0, 0] = [1, 2, 3]
    out = apply_orientation(rgb, 6)
    assert out.shape == (3, 2, 3) and out.flags.c_contiguous
    assert out[0, 1].tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="1-8"):
        apply_orientation(rgb, 9)


def test_read_exif_from_jpeg_png_tiff() -> None:
    jpeg = jpeg_with_exif(encode_image(np.zeros((4, 4, 3), np.uint8), ".jpg"), 6, "Canon", "EOS 5D")
    assert read_exif(jpeg, "jpeg") == ExifInfo(6, "Canon", "EOS 5D")
    png = png_with_exif(encode_image(np.zeros((4, 4, 3), np.uint8), ".png"), 3)
    assert read_exif(png, "png").orientation == 3
    assert read_exif(tiff_ifd0(8), "tiff").orientation == 8


def test_read_exif_tolerates_missing_or_broken_data() -> None:
    plain = encode_image(np.zeros((4, 4, 3), np.uint8), ".jpg")
    assert read_exif(plain, "jpeg") == ExifInfo()
    assert read_exif(b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00II*\x00\xff\xff", "jpeg") == ExifInfo()
    assert read_exif(tiff_ifd0(0), "tiff").orientation == 1  # invalid value
    assert parse_tiff_ifd0(b"XX") == {}


def test_libraw_flip_codes() -> None:
    assert [orientation_from_libraw_flip(flip) for flip in (0, 3, 5, 6)] == [1, 3, 8, 6]
    assert orientation_from_libraw_flip(42) == 1
