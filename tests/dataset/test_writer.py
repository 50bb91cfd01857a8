"""Tests of :mod:`ccharmony.dataset.writer`: atomic, ordered, bounded writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ccharmony.dataset.writer import DatasetWriter
from ccharmony.errors import DatasetError


def test_payload_kinds_land_in_order(tmp_path: Path) -> None:
    staged = tmp_path / "staged.jpg"
    staged.write_bytes(b"jpeg bytes")
    writer = DatasetWriter(tmp_path / "out", backlog_bytes=16)
    with writer.background():
        writer.write("composite_images/a_1.jpg", staged)  # moved, not copied
        writer.write("cache/x.npy", np.arange(6, dtype=np.int16).reshape(2, 3))
        for index in range(5):  # 5 x 10 bytes through a 16-byte backlog: the building thread waits
            writer.write(f"records/{index}.txt", b"0123456789")
        writer.write("gone.txt", b"soon deleted")
        writer.delete(writer.out / "gone.txt")  # after the write queued before it
        writer.write_json("build.json", {"b": 1, "a": [1, 2]})
    out = writer.out
    assert (out / "composite_images/a_1.jpg").read_bytes() == b"jpeg bytes" and not staged.exists()
    np.testing.assert_array_equal(np.load(out / "cache/x.npy"), np.arange(6, dtype=np.int16).reshape(2, 3))
    assert [p.read_bytes() for p in sorted((out / "records").iterdir())] == [b"0123456789"] * 5
    assert not (out / "gone.txt").exists()
    assert (out / "build.json").read_text() == '{\n "a": [\n  1,\n  2\n ],\n "b": 1\n}\n'
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]  # every temporary renamed
    assert writer.seconds > 0


def test_write_error_is_raised_in_the_building_thread(tmp_path: Path) -> None:
    writer = DatasetWriter(tmp_path)
    with pytest.raises(DatasetError, match="missing.jpg"):
        with writer.background():
            writer.write("composite_images/a_1.jpg", tmp_path / "missing.jpg")  # no such staged file
            writer.write("after.txt", b"not written once a write failed")
    assert not (tmp_path / "composite_images/a_1.jpg").exists()
    assert not (tmp_path / "after.txt").exists()


def test_without_background_writes_at_once(tmp_path: Path) -> None:
    writer = DatasetWriter(tmp_path)
    writer.write("a.bin", b"x")
    assert (tmp_path / "a.bin").read_bytes() == b"x"
    writer.delete(tmp_path / "a.bin")
    writer.delete(tmp_path / "never-there.bin")  # deleting what is not there is fine
    assert not (tmp_path / "a.bin").exists()
