"""Tests of :mod:`ccharmony.report.thumbnails`."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from ccharmony.errors import ConfigError
from ccharmony.report.thumbnails import CACHE_FILE, ThumbnailJob, make_thumbnails


@pytest.fixture()
def images(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.RandomState(3)
    image = rng.randint(0, 255, (300, 400, 3)).astype(np.uint8)
    mask = np.zeros((300, 400), np.uint8)
    mask[100:200, 150:250] = 255
    paths = {"image": tmp_path / "image.jpg", "png": tmp_path / "image.png", "mask": tmp_path / "mask.png",
             "broken": tmp_path / "broken.jpg"}
    cv2.imwrite(str(paths["image"]), image)
    cv2.imwrite(str(paths["png"]), image)
    cv2.imwrite(str(paths["mask"]), mask)
    paths["broken"].write_bytes(b"\xff\xd8 not a jpeg")
    return paths


def test_sizes_and_outline(images: dict[str, Path], tmp_path: Path) -> None:
    jobs = [ThumbnailJob(str(images["image"]), "a/plain.jpg", source_size=(300, 400)),
            ThumbnailJob(str(images["png"]), "a/outline.jpg", mask=str(images["mask"]))]
    results = make_thumbnails(jobs, tmp_path / "thumbs", size=100, workers=1)
    assert [r.ok for r in results] == [True, True]
    plain = cv2.imread(str(tmp_path / "thumbs/a/plain.jpg"))
    outline = cv2.imread(str(tmp_path / "thumbs/a/outline.jpg"))
    assert plain.shape == (75, 100, 3) and outline.shape == (75, 100, 3)
    assert results[1].foreground_ratio == pytest.approx(100 * 100 / (300 * 400))
    assert results[0].foreground_ratio is None
    # Magenta outline pixels sit on the mask border (rows 25 and 50 at 1/4 scale).
    magenta = (outline[..., 1] < 90) & (outline[..., 0] > 150) & (outline[..., 2] > 150)
    rows = np.nonzero(magenta.any(axis=1))[0]
    assert rows.min() == pytest.approx(25, abs=2) and rows.max() == pytest.approx(50, abs=2)


def test_cache_reuse_and_invalidation(images: dict[str, Path], tmp_path: Path) -> None:
    jobs = [ThumbnailJob(str(images["image"]), "plain.jpg"),
            ThumbnailJob(str(images["image"]), "outline.jpg", mask=str(images["mask"]))]
    folder = tmp_path / "thumbs"
    first = make_thumbnails(jobs, folder, size=64, workers=1)
    assert [r.cached for r in first] == [False, False]
    second = make_thumbnails(jobs, folder, size=64, workers=1)
    assert [r.cached for r in second] == [True, True]
    assert second[1].foreground_ratio == pytest.approx(first[1].foreground_ratio)
    # A changed mask (new mtime) remakes only the outline; a new size remakes all.
    stat = images["mask"].stat()
    os.utime(images["mask"], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    third = make_thumbnails(jobs, folder, size=64, workers=1)
    assert [r.cached for r in third] == [True, False]
    fourth = make_thumbnails(jobs, folder, size=32, workers=1)
    assert [r.cached for r in fourth] == [False, False]
    assert (folder / CACHE_FILE).is_file()


def test_bad_sources_are_results_not_errors(images: dict[str, Path], tmp_path: Path) -> None:
    jobs = [ThumbnailJob(str(images["broken"]), "broken.jpg"), ThumbnailJob(str(tmp_path / "gone.jpg"), "gone.jpg"),
            ThumbnailJob(str(images["image"]), "nomask.jpg", mask=str(tmp_path / "gone.png"))]
    results = make_thumbnails(jobs, tmp_path / "thumbs", workers=1)
    assert [r.ok for r in results] == [False, False, False]
    assert "broken.jpg: cannot be decoded" in results[0].error
    assert results[1].error.endswith("gone.jpg: file is missing")
    assert results[2].error.endswith("gone.png: file is missing")
    assert not (tmp_path / "thumbs" / "broken.jpg").exists()


def test_parallel_matches_serial(images: dict[str, Path], tmp_path: Path) -> None:
    jobs = [ThumbnailJob(str(images["image"]), f"{i}.jpg", mask=str(images["mask"]) if i % 2 else None)
            for i in range(40)]
    serial = make_thumbnails(jobs, tmp_path / "serial", size=48, workers=1)
    threads = make_thumbnails(jobs, tmp_path / "threads", size=48, workers=2, pool="thread")
    assert [r.foreground_ratio for r in serial] == [r.foreground_ratio for r in threads]
    for i in (0, 1, 39):
        assert (tmp_path / "serial" / f"{i}.jpg").read_bytes() == (tmp_path / "threads" / f"{i}.jpg").read_bytes()


@pytest.mark.parametrize(("options", "message"), [
    ({"size": 4}, "size must be >= 8"), ({"quality": 0}, "quality must be in 1..100"),
    ({"workers": -1}, "workers must be >= 0"), ({"pool": "gpu"}, "pool must be 'thread' or 'process'"),
])
def test_bad_options(tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_thumbnails([], tmp_path, **options)


def test_duplicate_targets(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unique"):
        make_thumbnails([ThumbnailJob("a.jpg", "x.jpg"), ThumbnailJob("b.jpg", "x.jpg")], tmp_path)
