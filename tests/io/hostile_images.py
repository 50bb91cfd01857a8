"""Helpers (not tests): small files whose headers ask for huge images (decompression bombs), built fast."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_header(width: int, height: int, *, colour: int = 2, depth: int = 8) -> bytes:
    """The signature and IHDR chunk of a PNG of ``width`` x ``height`` (RGB 8-bit by default)."""
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """
    A valid RGB 8-bit PNG of black pixels: 20000 x 20000 is 1.2 GB decoded and 1.17 MB on disk.

    The zlib stream repeats one raw-deflate piece made with a full flush (which resets the
    compressor's dictionary, so every piece decodes on its own): a second to build instead of
    the 14 s that compressing 1.2 GB takes.
    """
    rows = 100 if height % 100 == 0 else 1
    block = (b"\0" * (1 + 3 * width)) * rows
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    adler = 1
    for _ in range(height // rows):
        adler = zlib.adler32(block, adler)
    idat = b"\x78\xda" + piece * (height // rows) + end + struct.pack(">I", adler)
    return png_header(width, height) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def tiled_tiff_bomb(width: int = 60000, height: int = 60000, tile: int = 1024) -> bytes:
    """
    A little-endian tiled RGB TIFF whose tiles all point at one deflated black tile.

    60000 x 60000 x 3 is 10.8 GB decoded, from about 30 kB (the tile offset and byte-count
    arrays). Tags: ImageWidth, ImageLength, BitsPerSample, Compression 8 (deflate),
    Photometric 2, SamplesPerPixel 3, PlanarConfiguration 1, TileWidth, TileLength,
    TileOffsets, TileByteCounts.
    """
    tiles = -(-width // tile) * -(-height // tile)
    data = zlib.compress(b"\0" * (tile * tile * 3), 9)
    entries = 11
    ifd_offset = 8
    ifd_size = 2 + 12 * entries + 4
    bits_offset = ifd_offset + ifd_size
    offsets_offset = bits_offset + 6
    counts_offset = offsets_offset + 4 * tiles
    data_offset = counts_offset + 4 * tiles

    def entry(tag: int, kind: int, count: int, value: int) -> bytes:
        if kind == 3 and count == 1:
            return struct.pack("<HHIHH", tag, kind, count, value, 0)
        return struct.pack("<HHII", tag, kind, count, value)

    ifd = struct.pack("<H", entries) + b"".join([
        entry(256, 4, 1, width), entry(257, 4, 1, height), entry(258, 3, 3, bits_offset),
        entry(259, 3, 1, 8), entry(262, 3, 1, 2), entry(277, 3, 1, 3), entry(284, 3, 1, 1),
        entry(322, 3, 1, tile), entry(323, 3, 1, tile),
        entry(324, 4, tiles, offsets_offset), entry(325, 4, tiles, counts_offset),
    ]) + struct.pack("<I", 0)
    body = (b"II*\x00" + struct.pack("<I", ifd_offset) + ifd + struct.pack("<HHH", 8, 8, 8)
            + struct.pack(f"<{tiles}I", *([data_offset] * tiles)) + struct.pack(f"<{tiles}I", *([len(data)] * tiles))
            + data)
    return body


def jpeg_with_size(width: int, height: int) -> bytes:
    """A real 16 x 16 JPEG whose frame header (SOF0) is patched to claim ``width`` x ``height``."""
    ok, buffer = cv2.imencode(".jpg", np.zeros((16, 16, 3), np.uint8))
    assert ok
    data = bytearray(buffer.tobytes())
    position = data.find(b"\xff\xc0")
    assert position > 0
    data[position + 5:position + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def write(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
