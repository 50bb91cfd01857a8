"""Confined paths, photo index and versioned atomic writes of the annotation store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ccharmony.annotate.store import (
    AnnotationStore,
    ConflictError,
    PathRefusedError,
    confined_path,
    file_version,
    index_photos,
)


@pytest.mark.parametrize("relative", ["../x", "a/../../x", "/etc/passwd", "a//b", "", "a\\..\\b", "a\x00b", "."])
def test_confined_path_refuses_leaving_the_folder(tmp_path: Path, relative: str) -> None:
    with pytest.raises(PathRefusedError, match="refused"):
        confined_path(tmp_path.resolve(), relative)


def test_confined_path_refuses_symbolic_links(tmp_path: Path) -> None:
    root = (tmp_path / "ann").resolve()
    (root / "masks").mkdir(parents=True)
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"x")
    (root / "masks" / "a_a.png").symlink_to(outside)
    (root / "linked").symlink_to(tmp_path)
    with pytest.raises(PathRefusedError, match="symbolic link"):
        confined_path(root, "masks/a_a.png")
    with pytest.raises(PathRefusedError, match="symbolic link"):
        confined_path(root, "linked/outside.png")
    assert confined_path(root, "masks/b_a.png") == root / "masks" / "b_a.png"


def test_store_writes_atomically_and_refuses_silent_overwrites(tmp_path: Path) -> None:
    store = AnnotationStore(tmp_path / "ann")
    version = store.write("masks/a_a.png", b"one")
    assert version == file_version(b"one") and (tmp_path / "ann/masks/a_a.png").read_bytes() == b"one"
    # Someone else changes the file: the next write is refused and the file kept.
    (tmp_path / "ann/masks/a_a.png").write_bytes(b"theirs")
    with pytest.raises(ConflictError, match="changed on disk since it was loaded") as caught:
        store.write("masks/a_a.png", b"two")
    assert caught.value.relative == "masks/a_a.png"
    assert (tmp_path / "ann/masks/a_a.png").read_bytes() == b"theirs"
    # A client that based its change on an old version is refused too.
    assert store.read("masks/a_a.png") == b"theirs"
    with pytest.raises(ConflictError, match="another window"):
        store.write("masks/a_a.png", b"two", expected=version)
    # A file the store never read is taken as absent: creating it over someone's file is a conflict.
    (tmp_path / "ann/masks/b_a.png").write_bytes(b"new elsewhere")
    with pytest.raises(ConflictError):
        store.write("masks/b_a.png", b"mine")
    # Deleting; no temporary files are left.
    store.write("masks/a_a.png", None)
    assert not (tmp_path / "ann/masks/a_a.png").exists()
    assert sorted(os.listdir(tmp_path / "ann/masks")) == ["b_a.png"]


def test_store_refuses_a_linked_folder(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(PathRefusedError, match="not a link"):
        AnnotationStore(tmp_path / "link")


def test_index_photos_names_like_build_and_skips_links_out(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    (raw / "sub").mkdir(parents=True)
    (raw / "IMG_1.dng").write_bytes(b"x")
    (raw / "sub" / "IMG_2.CR2").write_bytes(b"x")
    (raw / "IMG_3.txt").write_bytes(b"x")  # not a photo
    (raw / ".hidden.dng").write_bytes(b"x")
    (raw / "sub" / "IMG_1.png").write_bytes(b"x")  # duplicate name
    (tmp_path / "secret.dng").write_bytes(b"x")
    (raw / "escape.dng").symlink_to(tmp_path / "secret.dng")
    (raw / "annotations" / "masks").mkdir(parents=True)
    (raw / "annotations" / "masks" / "IMG_1_a.png").write_bytes(b"x")
    index = index_photos(raw, exclude=raw / "annotations")
    assert sorted(index.photos) == ["IMG_1", "IMG_2"]
    assert index.photos["IMG_1"].name == "IMG_1.dng"
    assert any("escape.dng: left out, it links outside" in p for p in index.problems)
    assert any("duplicate names" in p for p in index.problems)
