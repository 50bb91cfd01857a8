"""Helpers (not tests) for the ccharmony.io tests: EXIF blocks, mosaics from RGB fields, small files."""

from __future__ import annotations

import struct
import zlib

import numpy as np

_CFA_CHANNEL = {"R": 0, "G": 1, "B": 2}


def tiff_ifd0(orientation: int | None = None, make: str = "", model: str = "") -> bytes:
    """Build a little-endian TIFF structure whose IFD0 holds Make, Model and Orientation."""
    entries = []
    strings = b""
    ascii_tags = [(0x010F, make), (0x0110, model)]
    count = sum(1 for _, text in ascii_tags if text) + (orientation is not None)
    data_offset = 8 + 2 + 12 * count + 4
    for tag, text in ascii_tags:
        if text:
            raw = text.encode("ascii") + b"\0"
            if len(raw) <= 4:  # TIFF stores values of up to 4 bytes inside the entry
                entries.append(struct.pack("<HHI", tag, 2, len(raw)) + raw.ljust(4, b"\0"))
            else:
                entries.append(struct.pack("<HHII", tag, 2, len(raw), data_offset + len(strings)))
                strings += raw
    if orientation is not None:
        entries.append(struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0))
    return b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", count) + b"".join(entries) + b"\0\0\0\0" + strings


def jpeg_with_exif(jpeg: bytes, orientation: int, make: str = "", model: str = "") -> bytes:
    """Insert an Exif APP1 segment right after a JPEG's SOI marker."""
    body = b"Exif\0\0" + tiff_ifd0(orientation, make, model)
    segment = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    return jpeg[:2] + segment + jpeg[2:]


def png_with_exif(png: bytes, orientation: int) -> bytes:
    """Insert an eXIf chunk right after a PNG's IHDR chunk."""
    body = tiff_ifd0(orientation)
    chunk = struct.pack(">I", len(body)) + b"eXIf" + body + struct.pack(">I", zlib.crc32(b"eXIf" + body) & 0xFFFFFFFF)
    ihdr_end = 8 + 4 + 4 + 13 + 4
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def mosaic_from_rgb(RGB: np.ndarray, cfa: str) -> np.ndarray:
    """Sample an (H, W, 3) array through a 2x2 Bayer pattern (same dtype)."""
    mosaic = np.zeros(RGB.shape[:2], RGB.dtype)
    for index, letter in enumerate(cfa):
        row, column = divmod(index, 2)
        mosaic[row::2, column::2] = RGB[row::2, column::2, _CFA_CHANNEL[letter]]
    return mosaic
