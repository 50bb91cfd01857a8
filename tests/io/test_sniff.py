"""Tests of ccharmony.io.sniff: magic bytes and extension classes."""

from __future__ import annotations

import pytest

from ccharmony.io.sniff import extension_class, sniff_container


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe1\x00\x10Exif", "jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "png"),
        (b"II*\x00\x08\x00\x00\x00", "tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "tiff"),
        (b"II\x1a\x00\x00\x00HEAPCCDR\x02\x00", "raw"),
        (b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01", "raw"),
        (b"FUJIFILMCCD-RAW 0201", "raw"),
        (b"IIRO\x08\x00\x00\x00", "raw"),
        (b"IIU\x00\x18\x00\x00\x00", "raw"),
        (b"\x00\x01\x02\x03\x04\x05\x06\x07", "unknown"),
        (b"", "unknown"),
    ],
)
def test_sniff_container(head: bytes, expected: str) -> None:
    assert sniff_container(head) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.CR2", "raw"), ("b.nef", "raw"), ("c.DNG", "raw"), ("d.jpeg", "jpeg"), ("e.PNG", "png"),
     ("f.tif", "tiff"), ("g.txt", "unknown"), ("noext", "unknown")],
)
def test_extension_class(name: str, expected: str) -> None:
    assert extension_class(name) == expected
