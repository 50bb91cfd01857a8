"""Tests of :mod:`ccharmony.dataset.inputs`: the photo scan and the content fingerprints of a build's inputs."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from ccharmony.dataset.inputs import FINGERPRINT_CHUNK, describe_changes, fingerprint, scan_photos
from ccharmony.errors import DatasetError


def test_fingerprint_is_content_not_time(tmp_path: Path) -> None:
    path = tmp_path / "a.dng"
    path.write_bytes(b"x" * 10)
    first = fingerprint(path)
    os.utime(path, (1, 1))  # a copy, a checkout: other times, same content
    assert fingerprint(path) == first
    path.write_bytes(b"y" * 10)
    assert fingerprint(path) != first


def test_a_photo_is_fingerprinted_on_its_size_and_ends(tmp_path: Path) -> None:
    size = 3 * FINGERPRINT_CHUNK
    data = bytearray(size)
    path = tmp_path / "big.dng"
    path.write_bytes(bytes(data))
    base = fingerprint(path)
    for offset, seen in ((0, True), (size - 1, True), (FINGERPRINT_CHUNK + 10, False)):
        changed = bytearray(data)
        changed[offset] = 1
        path.write_bytes(bytes(changed))
        assert (fingerprint(path) != base) is seen, offset  # the middle of a photo is not read (documented)
    path.write_bytes(bytes(data[:-1]))
    assert fingerprint(path) != base  # a truncated photo changes size
    changed = bytearray(data)
    changed[FINGERPRINT_CHUNK + 10] = 1
    path.write_bytes(bytes(changed))
    assert fingerprint(path, whole=True) != fingerprint(path)  # annotation files are hashed whole


def test_fingerprint_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(DatasetError, match=r"pipe: is a FIFO \(named pipe\), not an input file"):
        fingerprint(tmp_path / "pipe")


def test_scan_finds_regular_photos_and_reports_the_rest(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    (raw / "sub").mkdir(parents=True)
    (raw / "a.dng").write_bytes(b"a")
    (raw / "sub" / "b.png").write_bytes(b"b")
    (raw / "b_macbeth.txt").write_text("0 0\n")
    (raw / "notes.txt").write_text("not a photo")
    os.mkfifo(raw / "c.dng")
    (raw / "d.dng").symlink_to(raw / "gone.dng")
    (raw / "ds" / "real_images").mkdir(parents=True)  # the build's own output, inside --raw-dir
    (raw / "ds" / "real_images" / "a.jpg").write_bytes(b"ours")
    (raw / "old" / "real_images").mkdir(parents=True)  # another dataset folder
    (raw / "old" / "build.json").write_text("{}")
    (raw / "old" / "real_images" / "b.jpg").write_bytes(b"theirs")
    scan = scan_photos(raw, ["a", "b", "c", "d", "e"], exclude=[raw / "ds"])
    assert scan.photos == {"a": raw / "a.dng", "b": raw / "sub" / "b.png"}
    assert scan.macbeth == {"b": raw / "b_macbeth.txt"}
    assert scan.irregular == {
        "c": f"{raw / 'c.dng'}: is a FIFO (named pipe), not a photo; ccharmony reads only regular files",
        "d": f"{raw / 'd.dng'}: is a broken symbolic link, not a photo; ccharmony reads only regular files",
    }
    assert scan.problems == (f"{raw / 'old'}: a ccharmony dataset folder inside --raw-dir, not searched for photos",)


def test_scan_duplicate_photo_is_fatal(tmp_path: Path) -> None:
    (tmp_path / "a.dng").write_bytes(b"a")
    (tmp_path / "a.tif").write_bytes(b"a")
    with pytest.raises(DatasetError, match=r"a\.tif: duplicate photo for image 'a' \(also .*a\.dng\); keep one"):
        scan_photos(tmp_path, ["a"])


def test_unreadable_folders_say_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locked").mkdir()
    (tmp_path / "a.dng").write_bytes(b"a")
    real = os.scandir

    def scandir(path: str = ".") -> object:  # root reads any folder; the kernel's refusal stood in for
        if os.fspath(path).endswith("locked") or os.fspath(path).endswith("top"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    scan = scan_photos(tmp_path, ["a"])
    assert scan.photos == {"a": tmp_path / "a.dng"}
    assert scan.problems == (f"{tmp_path / 'locked'}: cannot read the folder (permission denied); photos in it are "
                             "not used",)
    (tmp_path / "top").mkdir()
    with pytest.raises(DatasetError, match=r"top: cannot read the --raw-dir folder \(permission denied\)$"):
        scan_photos(tmp_path / "top", ["a"])


def test_non_utf8_names_are_scanned(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9")
    (tmp_path / f"{name}.dng").write_bytes(b"x")
    assert scan_photos(tmp_path, [name]).photos == {name: tmp_path / f"{name}.dng"}
    assert scan_photos(tmp_path, ["other"]).photos == {}


def test_describe_changes_limits_the_list() -> None:
    before = {f"raw_dir/{i}.dng": "1:a" for i in range(6)}
    after = {f"raw_dir/{i}.dng": "1:b" for i in range(6)}
    assert describe_changes(before, after) == (
        "raw_dir/0.dng changed, raw_dir/1.dng changed, raw_dir/2.dng changed and 3 more")
