"""Tests of ccharmony.io.atomic: atomic writers leave no temporary file behind."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ccharmony.errors import DatasetError
from ccharmony.io.atomic import atomic_output, atomic_save_npy, atomic_write_bytes, atomic_write_text


def test_writers_replace_the_destination(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    atomic_write_text(target, "first")
    atomic_write_text(target, "colour ✓")
    assert target.read_text(encoding="utf-8") == "colour ✓"
    atomic_write_bytes(tmp_path / "b.bin", b"\x00\xff")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_error_inside_block_keeps_old_file_and_removes_temporary(tmp_path: Path) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"), atomic_output(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_temporary_keeps_suffix_for_extension_driven_writers(tmp_path: Path) -> None:
    target = tmp_path / "mask.png"
    with atomic_output(target) as temporary:
        assert temporary.suffix == ".png" and temporary.parent == tmp_path and not temporary.exists()
        assert cv2.imwrite(str(temporary), np.full((3, 3), 255, np.uint8))
    assert cv2.imread(str(target), cv2.IMREAD_UNCHANGED).tolist() == [[255] * 3] * 3
    assert [p.name for p in tmp_path.iterdir()] == ["mask.png"]


def test_write_failures_are_dataset_errors_without_leftovers(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"missing[/\\]x\.txt: cannot write it"):
        atomic_write_text(tmp_path / "missing" / "x.txt", "x")
    with pytest.raises(DatasetError, match="nothing was written"), atomic_output(tmp_path / "y.txt"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_npy_writer_names_the_file_on_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    target = tmp_path / "cache.npy"
    atomic_save_npy(target, np.arange(4, dtype=np.uint8))
    monkeypatch.setattr(np, "save", no_space)
    with pytest.raises(DatasetError) as caught:
        atomic_save_npy(target, np.zeros(3))
    assert str(caught.value) == f"{target}: cannot write it (No space left on device)"
    assert np.load(target).tolist() == [0, 1, 2, 3]
    assert [p.name for p in tmp_path.iterdir()] == ["cache.npy"]
