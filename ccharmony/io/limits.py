"""
Image size limits
=================

Read an image's dimensions from its header, without decoding it, and refuse
images larger than a limit before any large allocation:

-   :data:`DEFAULT_MAX_PIXELS`: the default limit, 200 megapixels.
-   :class:`ImageSize`: width, height, format and the decoded size in bytes.
-   :func:`read_image_size`: the header of a PNG, JPEG, TIFF (tiled, multi-page
    and SubIFDs included, so DNG and the TIFF-based camera RAW formats), BMP,
    GIF, WebP or PNM file, or of any camera RAW file through LibRaw.
-   :func:`check_image_size`: :func:`read_image_size`, then the limit.
-   :func:`check_pixel_count`: the limit for a size already known.
-   :func:`validate_max_pixels`: a limit given by a user.

A compressed image is a promise of pixels: 1.1 MB of PNG can declare
20000 x 20000 RGB pixels (1.2 GB decoded, 8.4 GB as the float32 images a
detection makes of it), and 3.6 MB of tiled TIFF can declare 11 GB. Decoders
allocate what the header says, and OpenCV refuses headers above its own limit
(``CV_IO_MAX_IMAGE_PIXELS``, 2**30) with an exception rather than a message.
So every reader of :mod:`ccharmony.io` (and the dataset verifier and the
report) looks at the header first and refuses past ``max_pixels`` with
:class:`~ccharmony.errors.ImageTooLargeError`, one line naming the file, its
size, the limit and the ``--max-pixels`` flag that raises it.

The default, 200 000 000 pixels, is sized for the largest single-shot camera
sensors sold: the Phase One IQ4 150MP back (14204 x 10652 = 151.3 MP) and the
Fujifilm GFX100 II (11648 x 8736 = 101.8 MP), with a third to spare. Multi-shot
composites (pixel shift: Sony's 240 MP, Hasselblad's 400 MP H6D-400c MS files)
and stitched panoramas need ``--max-pixels``. At the limit a decoded RGB image
in float32 takes 2.4 GB.

Besides the pixel count, a file whose decoded samples would exceed the
memory of a float32 RGB image at the limit (``12 * max_pixels`` bytes: a TIFF
with many samples per pixel, or huge tiles) is refused the same way, and a
JPEG with more than 4 components or a TIFF with more than 8 samples per pixel
is not an image the readers take.
"""

from __future__ import annotations

import io
import logging
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from ccharmony._types import PathType
from ccharmony.errors import ConfigError, ImageTooLargeError, UnreadableImageError, UnsupportedFormatError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "BYTES_PER_PIXEL_LIMIT",
    "ImageSize",
    "read_image_size",
    "check_image_size",
    "check_pixel_count",
    "validate_max_pixels",
    "opencv_failure",
]

DEFAULT_MAX_PIXELS = 200_000_000
"""Largest image (width x height, in pixels) read unless ``--max-pixels`` says otherwise."""

BYTES_PER_PIXEL_LIMIT = 12
"""Decoded bytes allowed per pixel of the limit: float32 RGB (3 x 4 bytes)."""

_MAX_TIFF_PAGES = 64
"""Pages (and SubIFDs of each, two levels deep) whose headers are read; decoders read the first few."""

_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


@dataclass(frozen=True)
class ImageSize:
    """
    Dimensions read from an image file's header.

    Parameters
    ----------
    width, height
        Of the largest image the file holds, in pixels (for a TIFF: the
        largest page or SubIFD; for a camera RAW file: the raw frame).
    format
        ``"png"``, ``"jpeg"``, ``"tiff"``, ``"bmp"``, ``"gif"``, ``"webp"``,
        ``"pnm"`` or ``"raw"``.
    decoded_bytes
        The largest decoded buffer the header asks for (all samples of a
        page, or of one tile), in bytes; ``0`` when not known.
    """

    width: int
    height: int
    format: str
    decoded_bytes: int = 0

    @property
    def pixels(self) -> int:
        """Return ``width * height``."""
        return self.width * self.height


def validate_max_pixels(value: object) -> int:
    """
    Return a pixel limit given by a user as an ``int`` >= 1.

    Raises
    ------
    ConfigError
        For anything else.

    Examples
    --------
    >>> validate_max_pixels(24_000_000)
    24000000
    >>> validate_max_pixels(0)
    Traceback (most recent call last):
    ...
    ccharmony.errors.ConfigError: max_pixels must be a whole number >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"max_pixels must be a whole number >= 1, got {value!r}")
    return value


def opencv_failure(error: BaseException) -> str:
    """
    Say in one line why OpenCV refused to decode an image (for messages after a ``cv2.error``).

    OpenCV checks a header against ``CV_IO_MAX_IMAGE_PIXELS`` (2**30 unless that
    environment variable says otherwise) and raises a multi-line assertion
    error; this turns it into a reason a user can act on.

    Examples
    --------
    >>> opencv_failure(Exception("error: (-215:Assertion failed) pixels <= CV_IO_MAX_IMAGE_PIXELS in function"))
    "OpenCV refuses to decode it: above OpenCV's own limit CV_IO_MAX_IMAGE_PIXELS (an environment variable, 2**30 pixels by default)"
    """
    text = " ".join(str(error).split())
    for limit in ("CV_IO_MAX_IMAGE_PIXELS", "CV_IO_MAX_IMAGE_WIDTH", "CV_IO_MAX_IMAGE_HEIGHT"):
        if limit in text:
            return (f"OpenCV refuses to decode it: above OpenCV's own limit {limit} (an environment variable, "
                    f"{'2**30 pixels' if limit.endswith('PIXELS') else '2**20 pixels per side'} by default)")
    detail = text.split("error:", 1)[-1].strip() if "error:" in text else text
    return f"OpenCV cannot decode it ({detail or type(error).__name__})"


def check_pixel_count(
    width: int, height: int, *, name: str, max_pixels: int = DEFAULT_MAX_PIXELS, decoded_bytes: int = 0
) -> None:
    """
    Raise when an image of ``width`` x ``height`` pixels is above the limit.

    Raises
    ------
    ImageTooLargeError
        One line naming the file, its size, the limit and the flag.

    Examples
    --------
    >>> check_pixel_count(20000, 20000, name="bomb.png")
    Traceback (most recent call last):
    ...
    ccharmony.errors.ImageTooLargeError: bomb.png: image is 20000x20000 pixels (400.0 megapixels), above the limit of 200.0 megapixels; pass --max-pixels 400000000 to read it
    """
    pixels = int(width) * int(height)
    if pixels > max_pixels:
        raise ImageTooLargeError(
            f"{name}: image is {width}x{height} pixels ({pixels / 1e6:.1f} megapixels), above the limit of "
            f"{max_pixels / 1e6:.1f} megapixels; pass --max-pixels {pixels} to read it"
        )
    budget = BYTES_PER_PIXEL_LIMIT * max_pixels
    if decoded_bytes > budget:
        needed = -(-decoded_bytes // BYTES_PER_PIXEL_LIMIT)
        raise ImageTooLargeError(
            f"{name}: image of {width}x{height} pixels decodes to {decoded_bytes / 1e9:.1f} GB (many samples "
            f"per pixel, or huge tiles), above the {budget / 1e9:.1f} GB allowed at the limit of "
            f"{max_pixels / 1e6:.1f} megapixels; pass --max-pixels {needed} to read it"
        )


def check_image_size(
    source: PathType | bytes,
    *,
    name: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    allow_unknown: bool = True,
) -> ImageSize | None:
    """
    Read an image's size from its header and refuse it above ``max_pixels``.

    Parameters
    ----------
    source
        A file path (opened without blocking; only a regular file is read), or
        the file's bytes.
    name
        Name for messages (default: the path, or ``"<bytes>"``).
    max_pixels
        Largest ``width * height`` accepted.
    allow_unknown
        Return ``None`` for a format whose header :func:`read_image_size` does
        not know; with ``False`` such a file is refused, for readers that would
        hand it to a decoder of any format.

    Returns
    -------
    ImageSize or None

    Raises
    ------
    ImageTooLargeError
        Above the limit (see :func:`check_pixel_count`).
    UnreadableImageError
        A corrupt header, or not a regular file.
    UnsupportedFormatError
        An unknown format with ``allow_unknown=False``, or a JPEG / TIFF whose
        channel count no reader takes.
    """
    label = name or ("<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else str(source))
    size = read_image_size(source, name=label)
    if size is None:
        if not allow_unknown:
            raise UnsupportedFormatError(
                f"{label}: the image size cannot be read from the header of this format; "
                "ccharmony reads PNG, JPEG, TIFF, BMP, GIF, WebP, PNM and camera RAW files"
            )
        return None
    check_pixel_count(size.width, size.height, name=label, max_pixels=max_pixels, decoded_bytes=size.decoded_bytes)
    return size


def read_image_size(source: PathType | bytes, *, name: str | None = None) -> ImageSize | None:
    """
    Read an image's dimensions from its header without decoding its pixels.

    Parameters
    ----------
    source
        A file path or the file's bytes.
    name
        Name for messages.

    Returns
    -------
    ImageSize or None
        ``None`` when the format is none of those listed in the module docstring.

    Raises
    ------
    UnreadableImageError
        A header too short or corrupt to give a size; a path that is not a
        regular file.
    UnsupportedFormatError
        A JPEG with more than 4 components, a TIFF with more than 8 samples per pixel.

    Examples
    --------
    >>> import struct, zlib
    >>> ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    >>> png = b"\\x89PNG\\r\\n\\x1a\\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    >>> read_image_size(png)
    ImageSize(width=20000, height=20000, format='png', decoded_bytes=1200000000)
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _size_of(io.BytesIO(bytes(source)), name or "<bytes>")
    from ccharmony.io.files import open_regular

    with open_regular(source) as handle:
        return _size_of(handle, name or str(source))


def _size_of(handle: BinaryIO, name: str) -> ImageSize | None:
    head = handle.read(64)
    handle.seek(0)
    try:
        if head.startswith(b"\x89PNG\r\n\x1a\n"):
            return _png(head, name)
        if head.startswith(b"\xff\xd8\xff"):
            return _jpeg(handle, name)
        if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
            return _tiff(handle, name)
        if head.startswith(b"BM") and len(head) >= 26:
            return _bmp(head, name)
        if head[:6] in (b"GIF87a", b"GIF89a"):
            return _gif(head, name)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return _webp(head, name)
        if len(head) >= 2 and head[0:1] == b"P" and head[1:2] in b"123456" and head[1:2] != b"":
            return _pnm(handle, name)
    except (struct.error, IndexError, ValueError) as error:
        raise UnreadableImageError(f"{name}: corrupt image header ({error})") from None
    from ccharmony.io.sniff import sniff_container

    if sniff_container(head) == "raw":
        return _camera_raw(handle, name)
    return None


def _png(head: bytes, name: str) -> ImageSize:
    if len(head) < 29 or head[12:16] != b"IHDR":
        raise UnreadableImageError(f"{name}: corrupt PNG header (no IHDR chunk first)")
    width, height, depth, colour = struct.unpack(">IIBB", head[16:26])
    samples = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour, 4)
    return ImageSize(width, height, "png", width * height * samples * max(1, depth // 8))


def _jpeg(handle: BinaryIO, name: str) -> ImageSize:
    handle.seek(2)
    while True:
        byte = handle.read(1)
        if not byte:
            raise UnreadableImageError(f"{name}: JPEG header has no frame (SOF) marker")
        if byte != b"\xff":
            continue  # tolerate garbage between segments, as libjpeg does (with a warning)
        marker = handle.read(1)
        while marker == b"\xff":  # fill bytes
            marker = handle.read(1)
        if not marker:
            raise UnreadableImageError(f"{name}: JPEG header has no frame (SOF) marker")
        code = marker[0]
        if code in (0x01, 0xD8) or 0xD0 <= code <= 0xD7:
            continue
        if code in (0xD9, 0xDA):
            raise UnreadableImageError(f"{name}: JPEG has no frame (SOF) marker before its image data")
        length_bytes = handle.read(2)
        if len(length_bytes) < 2:
            raise UnreadableImageError(f"{name}: JPEG header is truncated")
        length = struct.unpack(">H", length_bytes)[0]
        if length < 2:
            raise UnreadableImageError(f"{name}: corrupt JPEG header (segment length {length})")
        if code in _JPEG_SOF:
            segment = handle.read(length - 2)
            if len(segment) < 6:
                raise UnreadableImageError(f"{name}: JPEG frame header is truncated")
            precision, height, width, components = struct.unpack(">BHHB", segment[:6])
            if height == 0 or width == 0:
                raise UnreadableImageError(
                    f"{name}: JPEG frame header gives a size of {width}x{height} (a DNL height is not supported)"
                )
            if components not in (1, 3, 4):
                raise UnsupportedFormatError(f"{name}: JPEG with {components} components is not an image ccharmony reads")
            return ImageSize(width, height, "jpeg", width * height * components * (2 if precision > 8 else 1))
        handle.seek(length - 2, io.SEEK_CUR)


@contextmanager
def _quiet_tifffile() -> Iterator[None]:
    """Keep tifffile's log lines about odd headers off the user's terminal (the error says it)."""
    logger = logging.getLogger("tifffile")
    previous = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _tiff_page_size(page: object) -> tuple[int, int, int]:
    """Return ``(width, height, decoded bytes)`` of one TIFF page: the whole page or, if larger, one tile."""
    width = int(getattr(page, "imagewidth", 0) or 0)
    height = int(getattr(page, "imagelength", 0) or 0)
    depth = max(1, int(getattr(page, "imagedepth", 1) or 1))
    samples = max(1, int(getattr(page, "samplesperpixel", 1) or 1))
    bits = getattr(page, "bitspersample", 8)
    bits = max(bits) if isinstance(bits, tuple) else int(bits or 8)
    if samples > 8:
        raise UnsupportedFormatError(f"TIFF page with {samples} samples per pixel is not an image ccharmony reads")
    per_pixel = samples * max(1, -(-bits // 8))
    whole = width * height * depth * per_pixel
    tile = 0
    if getattr(page, "is_tiled", False):
        tile = (int(page.tilewidth) * int(page.tilelength)  # type: ignore[attr-defined]
                * max(1, int(getattr(page, "tiledepth", 1) or 1)) * per_pixel)
    return width, height * depth, max(whole, tile)


def _tiff(handle: BinaryIO, name: str) -> ImageSize:
    import tifffile

    largest = (0, 0)
    decoded = 0
    try:
        with _quiet_tifffile(), tifffile.TiffFile(handle) as tiff:
            pending: list[tuple[object, int]] = []
            for index in range(_MAX_TIFF_PAGES):
                try:
                    pending.append((tiff.pages[index], 0))
                except IndexError:
                    break
            seen = 0
            while pending and seen < 4 * _MAX_TIFF_PAGES:
                current, level = pending.pop()
                seen += 1
                width, height, page_bytes = _tiff_page_size(current)
                if width * height > largest[0] * largest[1]:
                    largest = (width, height)
                decoded = max(decoded, page_bytes)
                subifds = getattr(current, "subifds", None) or ()
                if level < 2:
                    for number, offset in enumerate(subifds[:_MAX_TIFF_PAGES]):
                        tiff.filehandle.seek(offset)
                        pending.append((tifffile.TiffPage(tiff, index=(seen, number)), level + 1))
    except UnsupportedFormatError as error:
        raise UnsupportedFormatError(f"{name}: {error}") from None
    except Exception as error:  # noqa: BLE001 - tifffile raises many types on corrupt headers
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        try:  # a TIFF-based camera RAW file tifffile does not follow may still be one LibRaw reads
            handle.seek(0)
            return _camera_raw(handle, name)
        except UnreadableImageError:
            pass
        raise UnreadableImageError(f"{name}: cannot read the TIFF header ({message})") from None
    if largest[0] == 0 or largest[1] == 0:
        raise UnreadableImageError(f"{name}: TIFF has no image (no page with a width and height)")
    return ImageSize(largest[0], largest[1], "tiff", decoded)


def _bmp(head: bytes, name: str) -> ImageSize:
    header = struct.unpack("<I", head[14:18])[0]
    if header == 12:
        width, height = struct.unpack("<HH", head[18:22])
    else:
        width, height = struct.unpack("<ii", head[18:26])
    width, height = abs(width), abs(height)
    if width == 0 or height == 0:
        raise UnreadableImageError(f"{name}: BMP header gives a size of {width}x{height}")
    return ImageSize(width, height, "bmp", width * height * 4)


def _gif(head: bytes, name: str) -> ImageSize:
    width, height = struct.unpack("<HH", head[6:10])
    return ImageSize(width, height, "gif", width * height * 4)


def _webp(head: bytes, name: str) -> ImageSize:
    chunk = head[12:16]
    if chunk == b"VP8X":
        width = 1 + int.from_bytes(head[24:27], "little")
        height = 1 + int.from_bytes(head[27:30], "little")
    elif chunk == b"VP8L":
        bits = int.from_bytes(head[21:25], "little")
        width, height = 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    elif chunk == b"VP8 ":
        width = int.from_bytes(head[26:28], "little") & 0x3FFF
        height = int.from_bytes(head[28:30], "little") & 0x3FFF
    else:
        raise UnreadableImageError(f"{name}: corrupt WebP header (chunk {chunk!r})")
    return ImageSize(width, height, "webp", width * height * 4)


def _pnm(handle: BinaryIO, name: str) -> ImageSize:
    text = handle.read(1024)
    tokens: list[bytes] = []
    for line in text.split(b"\n"):
        tokens += line.split(b"#", 1)[0].split()
        if len(tokens) >= 3:
            break
    if len(tokens) < 3:
        raise UnreadableImageError(f"{name}: corrupt PNM header")
    width, height = int(tokens[1]), int(tokens[2])
    return ImageSize(width, height, "pnm", width * height * 6)


def _camera_raw(handle: BinaryIO, name: str) -> ImageSize:
    """The raw frame of a non-TIFF camera RAW file (CR3, CRW, RAF, RW2, MRW, X3F) from LibRaw's header parse."""
    import rawpy

    from ccharmony.io.raw import libraw_error_types

    try:
        with rawpy.imread(handle) as raw:
            sizes = raw.sizes
            width, height = int(sizes.raw_width), int(sizes.raw_height)
    except libraw_error_types() as error:
        raise UnreadableImageError(f"{name}: LibRaw cannot read its header ({error})") from None
    return ImageSize(width, height, "raw", width * height * 2)
