"""Tests of ccharmony.io.limits (header-only sizes), ccharmony.io.files (regular files) and ccharmony.io.paths."""

from __future__ import annotations

import io
import os
import struct
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from ccharmony.errors import AnnotationError, ImageTooLargeError, UnreadableImageError, UnsupportedFormatError
from ccharmony.io.files import check_regular, open_regular, read_regular_bytes, read_regular_text
from ccharmony.io.limits import (
    DEFAULT_MAX_PIXELS,
    ImageSize,
    check_image_size,
    check_pixel_count,
    read_image_size,
    validate_max_pixels,
)
from ccharmony.io.paths import inside, resolve_inside

sys.path.insert(0, str(Path(__file__).parent))
from hostile_images import jpeg_with_size, png_bomb, png_header, tiled_tiff_bomb  # noqa: E402


def _encoded(ext: str, height: int, width: int, channels: int = 3) -> bytes:
    ok, buffer = cv2.imencode(ext, np.zeros((height, width, channels), np.uint8))
    assert ok
    return buffer.tobytes()


@pytest.mark.parametrize(("ext", "name"), [(".png", "png"), (".jpg", "jpeg"), (".bmp", "bmp"), (".tif", "tiff"),
                                           (".webp", "webp"), (".ppm", "pnm")])
def test_sizes_of_every_format_opencv_writes(ext: str, name: str) -> None:
    size = read_image_size(_encoded(ext, 37, 53))
    assert size is not None and (size.width, size.height, size.format) == (53, 37, name)


def test_gif_and_unknown_formats() -> None:
    gif = b"GIF89a" + struct.pack("<HH", 300, 200) + b"\0" * 8
    assert read_image_size(gif) == ImageSize(300, 200, "gif", 240000)
    assert read_image_size(b"this is no image at all") is None
    with pytest.raises(UnsupportedFormatError, match="size cannot be read from the header"):
        check_image_size(b"this is no image at all", name="x.exr", allow_unknown=False)


def test_tiff_takes_the_largest_page_and_subifd(tmp_path: Path) -> None:
    path = tmp_path / "multi.tif"
    with tifffile.TiffWriter(path) as tiff:
        tiff.write(np.zeros((10, 20), np.uint8), subifds=1)
        tiff.write(np.zeros((300, 400), np.uint16))  # the SubIFD of page 0, larger than it
        tiff.write(np.zeros((30, 40, 3), np.uint8))
    size = read_image_size(path)
    assert size is not None and (size.width, size.height) == (400, 300) and size.decoded_bytes == 300 * 400 * 2


def test_tiled_tiff_bomb_is_refused_from_30_kb() -> None:
    data = tiled_tiff_bomb()
    assert len(data) < 40_000
    with pytest.raises(ImageTooLargeError, match=r"image is 60000x60000 pixels \(3600\.0 megapixels\)"):
        check_image_size(data, name="tiled.tif")


def test_huge_tiles_count_as_decoded_bytes() -> None:
    """A 64 x 64 image stored in one 30000 x 30000 tile still asks for a 2.7 GB buffer."""
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.zeros((64, 64, 3), np.uint8), tile=(32, 32))
    data = bytearray(buffer.getvalue())
    with tifffile.TiffFile(io.BytesIO(bytes(data))) as tiff:
        tags = tiff.pages.first.tags
        width_offset, length_offset = tags[322].valueoffset, tags[323].valueoffset
    for offset in (width_offset, length_offset):  # TileWidth / TileLength are SHORTs stored in the entry
        data[offset:offset + 2] = struct.pack("<H", 30000)
    size = read_image_size(bytes(data))
    assert size is not None and size.pixels == 64 * 64 and size.decoded_bytes == 30000 * 30000 * 3
    with pytest.raises(ImageTooLargeError, match=r"decodes to 2\.7 GB .* pass --max-pixels 225000000"):
        check_image_size(bytes(data), name="tiles.tif")


def test_png_and_jpeg_limits_and_the_flag_in_the_message() -> None:
    assert check_image_size(png_header(14204, 10652)).pixels == 14204 * 10652  # Phase One IQ4: accepted
    with pytest.raises(ImageTooLargeError) as caught:
        check_image_size(png_bomb(), name="bomb.png")
    assert str(caught.value) == ("bomb.png: image is 20000x20000 pixels (400.0 megapixels), above the limit of "
                                 "200.0 megapixels; pass --max-pixels 400000000 to read it")
    with pytest.raises(ImageTooLargeError, match="pass --max-pixels 4225000000"):
        check_image_size(jpeg_with_size(65000, 65000), name="big.jpg")
    assert check_image_size(jpeg_with_size(65000, 65000), max_pixels=5_000_000_000) is not None
    assert DEFAULT_MAX_PIXELS == 200_000_000


def test_corrupt_headers_are_one_line() -> None:
    with pytest.raises(UnreadableImageError, match="corrupt PNG header"):
        read_image_size(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDX" + b"\0" * 20)
    with pytest.raises(UnreadableImageError, match="JPEG header has no frame"):
        read_image_size(b"\xff\xd8\xff\xe0\x00\x04ab")
    with pytest.raises(UnreadableImageError, match="cannot read the TIFF header|TIFF has no image"):
        read_image_size(b"II*\x00\xff\xff\xff\x7f" + b"\0" * 40)
    five = bytearray(jpeg_with_size(16, 16))
    position = five.find(b"\xff\xc0")
    five[position + 9] = 5
    with pytest.raises(UnsupportedFormatError, match="JPEG with 5 components"):
        read_image_size(bytes(five))


def test_validate_and_check_pixel_count() -> None:
    assert validate_max_pixels(1) == 1
    for bad in (0, -3, 2.5, True, "100"):
        with pytest.raises(Exception, match="max_pixels must be a whole number >= 1"):
            validate_max_pixels(bad)
    check_pixel_count(100, 100, name="a", max_pixels=10_000)
    with pytest.raises(ImageTooLargeError, match="a: image is 100x101 pixels"):
        check_pixel_count(100, 101, name="a", max_pixels=10_000)


# --- regular files -------------------------------------------------------------------------------

def test_fifo_device_folder_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "list.txt"
    os.mkfifo(fifo)
    with pytest.raises(AnnotationError, match=r"list\.txt: is a FIFO \(named pipe\), not a split list; ccharmony "
                                              "reads only regular files"):
        read_regular_text(fifo, what="a split list", error=AnnotationError)
    with pytest.raises(UnreadableImageError, match="is a FIFO"):
        read_image_size(fifo)
    with pytest.raises(UnreadableImageError, match="/dev/zero: is a character device, not an image file"):
        read_regular_bytes("/dev/zero")
    with pytest.raises(UnreadableImageError, match="is a folder, not an image file"):
        check_regular(tmp_path)
    with pytest.raises(UnreadableImageError, match="absent.png: no such file"):
        open_regular(tmp_path / "absent.png")
    link = tmp_path / "link.png"
    link.symlink_to(fifo)
    with pytest.raises(UnreadableImageError, match="is a FIFO"):
        check_regular(link)


def test_regular_file_reads(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_bytes("café\n".encode())
    assert read_regular_text(target) == "café\n" and read_regular_bytes(target) == "café\n".encode()
    with open_regular(target) as handle:
        assert handle.read(3) == b"caf"


# --- containment ---------------------------------------------------------------------------------

def test_inside_resolves_links_and_dots(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    (root / "composite_images").mkdir(parents=True)
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"x")
    (root / "composite_images" / "out.jpg").symlink_to(outside)
    (root / "composite_images" / "in.jpg").symlink_to(root / "composite_images" / "real.jpg")
    assert inside(root, "composite_images/in.jpg") == root / "composite_images" / "in.jpg"
    assert inside(root, "composite_images/out.jpg") is None
    assert inside(root, "composite_images/../../outside.jpg") is None
    assert inside(root, str(outside)) is None
    assert inside(root, "composite_images/../composite_images/x.jpg") is not None
    linked_root = tmp_path / "via-link"
    linked_root.symlink_to(root)
    assert inside(linked_root, "composite_images/in.jpg") is not None
    with pytest.raises(Exception, match=r"leads outside .* \(to .*outside\.jpg\); refused"):
        resolve_inside(root, "composite_images/out.jpg", what="composite")
