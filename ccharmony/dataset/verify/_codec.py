"""
Codec-aware reading and comparison of dataset images (private to :mod:`ccharmony.dataset.verify`).

Reads a file once (bytes for sha256, then decodes those bytes), checks that it
is complete (JPEG EOI marker, PNG IEND chunk: ``cv2.imdecode`` silently
decodes a truncated JPEG), estimates the JPEG quality from the luminance
quantisation table, and compares two images "within the codec's error",
where that error is measured by re-encoding the reference image itself.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ccharmony._types import NDArray
from ccharmony.errors import CCHarmonyError, DatasetError
from ccharmony.io.files import open_regular
from ccharmony.io.limits import DEFAULT_MAX_PIXELS, check_image_size, opencv_failure
from ccharmony.io.paths import inside

__author__ = "ccharmony developers"
__license__ = "MIT"

LOSSLESS_EXTENSIONS = (".png", ".tif", ".tiff", ".bmp")
JPEG_EXTENSIONS = (".jpg", ".jpeg")

TOLERANCE_FACTOR = 1.5
"""Measured codec error is multiplied by this factor ..."""
TOLERANCE_MAX_OFFSET = 2.0
"""... and this many 8-bit levels are added to the largest-difference bound ..."""
TOLERANCE_MEAN_OFFSET = 0.5
"""... and this many to the mean-difference bound."""
BLOCK = 8
"""JPEG block size in pixels; the minimum coded unit is 8 times the luma sampling factors."""
BAND_PAD = 2
"""Pixels the mask is grown by before whole blocks are excluded (chroma upsampling reaches 1-2 px)."""

# ITU-T T.81 Annex K, table K.1 (luminance), natural (row-major) order.
_STANDARD_LUMA = np.array(
    [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
     14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
     18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
     49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99],
    dtype=np.int64,
)
_ZIGZAG = np.array(
    [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48,
     41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15,
     23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63],
    dtype=np.intp,
)


def _ijg_tables() -> NDArray[np.int64]:
    quality = np.arange(1, 101)
    scale = np.where(quality < 50, 5000 // quality, 200 - 2 * quality)
    tables = (_STANDARD_LUMA[None, :] * scale[:, None] + 50) // 100
    return np.clip(tables, 1, 255)


_IJG_TABLES = _ijg_tables()


@dataclass
class FileInfo:
    """What reading one file found. ``problem`` is None when the file is sound."""

    path: str
    exists: bool = False
    n_bytes: int = 0
    sha256: str | None = None
    problem: str | None = None
    height: int | None = None
    width: int | None = None
    quality: int | None = None
    """Estimated JPEG quality (IJG scale 1-100); None for lossless files."""
    sampling: tuple[int, int] = (1, 1)
    """JPEG luma sampling factors (horizontal, vertical) relative to chroma: (2, 2) is 4:2:0."""
    outside: str | None = None
    """Why the file was not read because it leads outside the dataset folder (None: inside)."""

    @property
    def lossy(self) -> bool:
        return self.quality is not None


def jpeg_parameters(data: bytes) -> tuple[int | None, tuple[int, int]]:
    """
    Estimate the IJG quality and read the luma sampling factors of a JPEG.

    The quality is the one whose IJG-scaled ITU-T T.81 Annex K luminance table is
    nearest (sum of absolute differences) to the file's first table (None when the
    file has no table before its first scan); the sampling is that of the first
    component in the frame header ((1, 1) when absent).
    """
    quality: int | None = None
    sampling = (1, 1)
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            break
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            position += 2
            continue
        if marker == 0xDA:  # start of scan: headers are over
            break
        length = int.from_bytes(data[position + 2:position + 4], "big")
        segment = data[position + 4:position + 2 + length]
        if marker == 0xDB and quality is None:
            offset = 0
            while offset < len(segment):
                precision, table_id = segment[offset] >> 4, segment[offset] & 0x0F
                size = 128 if precision else 64
                raw = segment[offset + 1:offset + 1 + size]
                values = np.frombuffer(raw, dtype=">u2" if precision else np.uint8).astype(np.int64)
                if table_id == 0 and values.size == 64:
                    natural = np.empty(64, dtype=np.int64)
                    natural[_ZIGZAG] = values
                    errors = np.abs(_IJG_TABLES - natural[None, :]).sum(axis=1)
                    quality = int(np.argmin(errors)) + 1
                    break
                offset += 1 + size
        elif marker in (0xC0, 0xC1, 0xC2) and len(segment) >= 9:
            factors = segment[7]
            sampling = (factors >> 4, factors & 0x0F)
        position += 2 + length
    return quality, sampling


def jpeg_quality(data: bytes) -> int | None:
    """Estimate the IJG quality of a JPEG from its first luminance quantisation table (None if absent)."""
    return jpeg_parameters(data)[0]


def read_image(root: Path, relative: str, *, mask: bool = False,
               max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[FileInfo, np.ndarray | None]:
    """
    Read, hash, check and decode one file; the array is ``(H, W, 3)`` BGR or, for masks, as stored.

    The file must resolve inside ``root`` (a name with ``..`` or a symbolic link
    pointing out of the dataset is reported in ``FileInfo.outside`` and not
    read), be a regular file (a FIFO or device is reported, never opened
    blocking), carry the signature its extension names, and declare at most
    ``max_pixels`` pixels in its header (checked before decoding).
    """
    info = FileInfo(path=relative)
    if inside(root, relative) is None:
        info.exists = True
        info.outside = f"leads outside the dataset folder (to {os.path.realpath(root / relative)}); not read"
        return info, None
    path = root / relative
    try:
        with open_regular(path, what="an image file", error=DatasetError) as handle:
            data = handle.read()
    except DatasetError as error:
        if not os.path.lexists(path):
            info.problem = "missing"
            return info, None
        info.exists = True
        message = str(error)
        info.problem = message[len(str(path)) + 2:] if message.startswith(f"{path}: ") else message
        return info, None
    except OSError as error:
        info.exists = True
        info.problem = f"unreadable ({error.strerror or error})"
        return info, None
    info.exists = True
    info.n_bytes = len(data)
    info.sha256 = hashlib.sha256(data).hexdigest()
    if not data:
        info.problem = "empty file"
        return info, None
    suffix = path.suffix.lower()
    if suffix in JPEG_EXTENSIONS:
        if data[:2] != b"\xff\xd8":
            info.problem = "not a JPEG (no SOI marker)"
            return info, None
        if data.rstrip(b"\x00\r\n ")[-2:] != b"\xff\xd9":
            info.problem = "truncated JPEG (no EOI marker at the end)"
            return info, None
        quality, info.sampling = jpeg_parameters(data)
        info.quality = quality or 100
    elif suffix == ".png":
        if data[:8] != b"\x89PNG\r\n\x1a\n":
            jpeg = data[:3] == b"\xff\xd8\xff"
            info.problem = "a JPEG named .png (bad PNG signature)" if jpeg else "not a PNG (bad signature)"
            return info, None
        if b"IEND" not in data[-16:]:
            info.problem = "truncated PNG (no IEND chunk at the end)"
            return info, None
    elif suffix not in LOSSLESS_EXTENSIONS:
        info.problem = f"unsupported extension {suffix!r}"
        return info, None
    try:
        check_image_size(data, name=relative, max_pixels=max_pixels, allow_unknown=False)
    except CCHarmonyError as error:
        message = str(error)
        info.problem = message[len(relative) + 2:] if message.startswith(f"{relative}: ") else message
        return info, None
    flags = (cv2.IMREAD_UNCHANGED if mask else cv2.IMREAD_COLOR) | cv2.IMREAD_IGNORE_ORIENTATION
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    except cv2.error as error:
        info.problem = f"does not decode: {opencv_failure(error)}"
        return info, None
    if image is None or image.size == 0:
        info.problem = "does not decode"
        return info, None
    if image.dtype != np.uint8:
        info.problem = f"is {image.dtype}, expected 8-bit"
        return info, None
    info.height, info.width = int(image.shape[0]), int(image.shape[1])
    return info, image


def excluded_band(foreground: np.ndarray, block: tuple[int, int] = (BLOCK, BLOCK)) -> np.ndarray:
    """Return the mask grown by :data:`BAND_PAD` px, then to whole ``block`` (rows, columns) JPEG blocks."""
    height, width = foreground.shape
    block_rows, block_columns = block
    size = 2 * BAND_PAD + 1
    grown = cv2.dilate(foreground.astype(np.uint8), np.ones((size, size), np.uint8)) > 0
    rows, columns = -(-height // block_rows), -(-width // block_columns)
    padded = np.zeros((rows * block_rows, columns * block_columns), dtype=bool)
    padded[:height, :width] = grown
    touched = padded.reshape(rows, block_rows, columns, block_columns).any(axis=(1, 3))
    return np.repeat(np.repeat(touched, block_rows, axis=0), block_columns, axis=1)[:height, :width]


_SAMPLING_FLAGS = {
    (1, 1): cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
    (2, 1): cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
    (1, 2): cv2.IMWRITE_JPEG_SAMPLING_FACTOR_440,
    (2, 2): cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
    (4, 1): cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411,
}


def encode_decode(image: np.ndarray, quality: int, sampling: tuple[int, int] = (2, 2)) -> np.ndarray:
    """Round-trip ``image`` through JPEG at ``quality`` and luma ``sampling`` (h, v) with OpenCV's encoder."""
    options = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    if sampling in _SAMPLING_FLAGS:
        options += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, _SAMPLING_FLAGS[sampling]]
    ok, buffer = cv2.imencode(".jpg", image, options)
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR image
        raise RuntimeError("JPEG encoding failed")
    return np.asarray(cv2.imdecode(buffer, cv2.IMREAD_COLOR))


def encode_decode_shifted(image: np.ndarray, quality: int, sampling: tuple[int, int] = (2, 2)) -> np.ndarray:
    """
    Round-trip ``image`` through JPEG on a block grid shifted by half a block (4 px).

    Re-encoding a decoded JPEG on its own grid changes little (its coefficients are
    already quantised); on a shifted grid the error is that of a first encoding.
    """
    padded = cv2.copyMakeBorder(image, 4, 0, 4, 0, cv2.BORDER_REFLECT)
    return np.ascontiguousarray(encode_decode(padded, quality, sampling)[4:, 4:])


def channel_max_absdiff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel largest absolute difference over the channels, ``(H, W)`` uint8."""
    difference = cv2.absdiff(a, b)
    if difference.ndim == 2:
        return difference
    channels = cv2.split(difference)  # OpenCV: ~10x faster than numpy's max over the last axis
    largest = channels[0]
    for channel in channels[1:]:
        largest = cv2.max(largest, channel)
    return largest


def region_stats(values: np.ndarray, region: np.ndarray | None) -> tuple[float, float, int]:
    """Largest value, mean value and pixel count of ``values`` over ``region`` (uint8 0/255; None: all)."""
    count = values.size if region is None else int(cv2.countNonZero(region))
    if count == 0:
        return 0.0, 0.0, 0
    _, largest, _, _ = cv2.minMaxLoc(values, mask=region)
    mean = cv2.mean(values, mask=region)[0]
    return float(largest), float(mean), count


@dataclass(frozen=True)
class CodecError:
    """Measured re-encoding error of a reference image: largest and mean difference over a region."""

    largest: float
    mean: float


def measure_error(reference: np.ndarray, reencoded: np.ndarray, region: np.ndarray | None) -> CodecError:
    """Return :class:`CodecError` of ``|reencoded - reference|`` over ``region`` (uint8 0/255; None: all)."""
    largest, mean, _ = region_stats(channel_max_absdiff(reference, reencoded), region)
    return CodecError(largest, mean)


def compare_within_codec(
    stored: np.ndarray,
    candidates: list[np.ndarray],
    region: np.ndarray | None,
    errors: list[CodecError],
    *,
    factor: float = TOLERANCE_FACTOR,
    first_difference: np.ndarray | None = None,
) -> tuple[bool, str]:
    """
    Check that ``stored`` equals one of ``candidates`` over ``region`` within the measured codec error.

    The residual at a pixel is the smallest, over the candidates, of the largest
    per-channel absolute difference. With no lossy file involved (``errors``
    empty) the residual must be zero everywhere. Otherwise, with ``E`` the sum of
    the measured re-encoding errors (one per JPEG quality involved), the largest
    residual must be <= factor E_largest + 2 and the mean residual <= factor E_mean + 0.5.
    ``region`` is a uint8 0/255 mask (None: the whole image); ``first_difference``, when
    given, is ``channel_max_absdiff(stored, candidates[0])`` already computed.
    """
    residual = channel_max_absdiff(stored, candidates[0]) if first_difference is None else first_difference
    for candidate in candidates[1:]:
        residual = cv2.min(residual, channel_max_absdiff(stored, candidate))
    largest, mean, count = region_stats(residual, region)
    if count == 0:
        return True, "no pixels to compare"
    if not errors:
        if largest == 0:
            return True, "identical (lossless)"
        differing = int(cv2.countNonZero(residual if region is None else cv2.bitwise_and(residual, residual, mask=region)))
        return False, f"{differing} pixels differ (lossless files must match exactly; largest difference {largest:.0f})"
    bound_largest = factor * sum(e.largest for e in errors) + TOLERANCE_MAX_OFFSET
    bound_mean = factor * sum(e.mean for e in errors) + TOLERANCE_MEAN_OFFSET
    text = (f"largest difference {largest:.0f} (bound {bound_largest:.1f}), "
            f"mean {mean:.2f} (bound {bound_mean:.2f})")
    if largest > bound_largest:
        beyond = (residual > bound_largest) if region is None else (residual > bound_largest) & (region > 0)
        return False, f"{int(np.count_nonzero(beyond))} pixels beyond the JPEG error: {text}"
    if mean > bound_mean:
        return False, f"differs throughout beyond the JPEG error: {text}"
    return True, text
