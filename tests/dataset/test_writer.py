"""Tests of :mod:`ccharmony.dataset.writer`: atomic, ordered, bounded writes."""

from __future__ import annotations

import time
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


def _slow_writes(monkeypatch: pytest.MonkeyPatch, seconds: float) -> list[str]:
    """Make every write of the writer thread ``seconds`` slower; return the order files landed in."""
    landed: list[str] = []
    original = DatasetWriter._write_now

    def slow(self: DatasetWriter, path: Path, data: object) -> None:
        time.sleep(seconds)
        original(self, path, data)  # type: ignore[arg-type]
        landed.append(path.name)

    monkeypatch.setattr(DatasetWriter, "_write_now", slow)
    return landed


def test_wait_for_orders_a_reader_after_the_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hand-off is ordered by construction: the reader waits on the file's completion, whatever the speed."""
    landed = _slow_writes(monkeypatch, 0.05)
    writer = DatasetWriter(tmp_path)
    with writer.background():
        writer.write("cache/a.npy", np.arange(5))
        writer.write("cache/b.npy", np.arange(7))
        assert not (tmp_path / "cache/b.npy").exists()  # still queued: a reader without the handle fails here
        writer.wait_for([tmp_path / "cache/b.npy"])
        assert np.load(tmp_path / "cache/b.npy").tolist() == list(range(7))
        assert landed == ["a.npy", "b.npy"]
        writer.wait_for(["never-written.npy"])  # nothing queued for it: returns at once


def test_wait_for_raises_the_writer_error(tmp_path: Path) -> None:
    writer = DatasetWriter(tmp_path)
    with pytest.raises(DatasetError, match="missing.jpg"):
        with writer.background():
            writer.write("composite_images/a_1.jpg", tmp_path / "missing.jpg")
            writer.wait_for(["composite_images/a_1.jpg"])


def test_a_relative_folder_is_joined_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    writer = DatasetWriter(Path("dataset"))
    with writer.background():
        # An absolute path inside the folder (as the builder's cache paths are) and a relative one.
        writer.write(Path("dataset").absolute() / ".state/cache/x.npy", np.zeros(2))
        writer.write(".state/record.json", b"{}")
    assert (tmp_path / "dataset/.state/cache/x.npy").is_file()
    assert (tmp_path / "dataset/.state/record.json").is_file()
    assert not (tmp_path / "dataset/dataset").exists()


@pytest.mark.parametrize("where", ["../outside.txt", "a/../../outside.txt", "/tmp/elsewhere/outside.txt"])
def test_paths_outside_the_folder_are_refused(tmp_path: Path, where: str) -> None:
    writer = DatasetWriter(tmp_path / "out")
    with pytest.raises(DatasetError, match=r"path leaves the dataset folder .*; the builder writes only inside it"):
        writer.write(where, b"x")
    assert not (tmp_path / "outside.txt").exists()


def test_a_link_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out" / "real_images").symlink_to(tmp_path / "elsewhere")
    writer = DatasetWriter(tmp_path / "out")
    with pytest.raises(DatasetError, match=r"real_images: resolves to .*elsewhere, outside the dataset folder"):
        writer.write("real_images/a.jpg", b"x")
    assert list((tmp_path / "elsewhere").iterdir()) == []


@pytest.mark.parametrize("payload", [b"0123456789" * 1000, np.arange(5000, dtype=np.int32)])
def test_a_full_disk_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, payload: object) -> None:
    import errno
    import os

    real_write = os.write

    def full(descriptor: int, data: bytes) -> int:
        if len(data) > 100:  # the first bytes go through, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(descriptor, data)

    monkeypatch.setattr(os, "write", full)
    writer = DatasetWriter(tmp_path)
    with pytest.raises(DatasetError) as info:
        writer.write("composite_images/x_a_1.jpg", payload)  # type: ignore[arg-type]
    message = str(info.value)
    assert message.startswith(f"{tmp_path}/composite_images/x_a_1.jpg: cannot write it: no space left on device (")
    assert "MB free there)" in message
    assert message.endswith("; free some space and run the build again (it resumes where it stopped)")
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "composite_images").iterdir()) == []  # no partial file left


def test_npy_bytes_read_back_like_numpy_save(tmp_path: Path) -> None:
    from ccharmony.dataset.writer import write_file_atomic

    for array in (np.arange(12, dtype=np.uint8).reshape(3, 4), np.packbits(np.ones(13, bool)),
                  np.zeros((2, 3, 3), np.float32)[:, ::2], np.array(3.5)):
        write_file_atomic(tmp_path / "a.npy", array)
        loaded = np.load(tmp_path / "a.npy", mmap_mode="r")
        np.testing.assert_array_equal(loaded, array)
        assert loaded.dtype == array.dtype
