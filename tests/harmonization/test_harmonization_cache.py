"""The on-disk training cache: pre-resizing, keys, invalidation, atomic builds, reading."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from ccharmony.errors import ConfigError, DatasetError, ImageTooLargeError
from ccharmony.harmonization.cache import (
    TrainingCache,
    cache_side,
    fingerprint_samples,
    prepare_sample,
)
from ccharmony.harmonization.data import HarmonizationDataset, read_mask, read_rgb
from harmonization_toy import write_toy_dataset


@pytest.fixture()
def toy(tmp_path: Path) -> Path:
    # 120x90 images: with crops of 16 (cached side 32) every sample is shrunk.
    return write_toy_dataset(tmp_path / "data", scenes=4, width=120, height=90, test_scenes=1)


def _triples(dataset: HarmonizationDataset) -> list[tuple[Path, Path, Path]]:
    return [(p.composite, p.real, p.mask) for p in dataset.paths]


def test_cache_side_rule() -> None:
    assert cache_side(256) == 512 and cache_side(96, 2.5) == 240 and cache_side(100, 1.0) == 100
    with pytest.raises(ConfigError, match="min_side_factor must be a number >= 1, got 0.5"):
        cache_side(256, 0.5)


def test_prepare_sample_shrinks_with_area_averaging_and_never_enlarges() -> None:
    rng = np.random.default_rng(1)
    composite = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    real = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    mask = np.zeros((90, 120), bool)
    mask[20:70, 30:90] = True
    stacked = prepare_sample(composite, real, mask, side=30)
    # Shorter side 90 -> 30: a factor of 3, so each output pixel is the mean of a 3x3 block.
    assert stacked.shape == (30, 40, 7) and stacked.dtype == np.uint8
    block = composite.reshape(30, 3, 40, 3, 3).astype(float).mean(axis=(1, 3))
    assert np.abs(stacked[..., :3].astype(float) - block).max() <= 0.5 + 1e-9
    real_block = real.reshape(30, 3, 40, 3, 3).astype(float).mean(axis=(1, 3))
    assert np.abs(stacked[..., 3:6].astype(float) - real_block).max() <= 0.5 + 1e-9
    expected_mask = (mask.reshape(30, 3, 40, 3).mean(axis=(1, 3)) * 255)
    assert np.abs(stacked[..., 6].astype(float) - expected_mask).max() <= 0.5 + 1e-9
    # Already small enough: stored as it is.
    same = prepare_sample(composite, real, mask, side=200)
    assert same.shape == (90, 120, 7)
    np.testing.assert_array_equal(same[..., :3], composite)
    np.testing.assert_array_equal(same[..., 6], mask.astype(np.uint8) * 255)


def test_prepare_sample_refuses_a_mask_of_another_size() -> None:
    image = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(DatasetError, match="m.png: mask is 4x8 but the composite is 8x8"):
        prepare_sample(image, image, np.zeros((8, 4), bool), side=4, name="m.png")


def test_build_once_then_reuse_and_read(toy: Path, tmp_path: Path) -> None:
    dataset = HarmonizationDataset(toy, "train", size=16, train=True, cache_dir=tmp_path / "cache")
    cache = dataset.disk_cache
    assert cache is not None and cache.side == 32 and len(cache) == 6
    assert cache.missing() == list(range(6))
    assert dataset.prepare(progress=False) == 6
    assert cache.missing() == [] and dataset.prepare(progress=False) == 0
    names = sorted(path.name for path in cache.folder.iterdir())
    assert names == sorted([".lock", "manifest.json", *(path.name for path in cache.files)])
    # Each sample is the decoded triplet shrunk to a shorter side of 32 (computed here independently).
    for index, paths in enumerate(dataset.paths):
        stored = cache.read(index)
        assert stored.shape == (32, 43, 7) and not stored.flags.writeable
        composite = cv2.resize(read_rgb(paths.composite), (43, 32), interpolation=cv2.INTER_AREA)
        np.testing.assert_array_equal(stored[..., :3], composite)
        mask = cv2.resize(read_mask(paths.mask).astype(np.uint8) * 255, (43, 32), interpolation=cv2.INTER_AREA)
        np.testing.assert_array_equal(stored[..., 6], mask)
    # Training samples come from the cache: the right shape, hard masks.
    sample = dataset[(0, 2)]
    assert sample["images"].shape == (3, 16, 16) and set(np.unique(sample["masks"].numpy())) <= {0.0, 1.0}


def test_a_changed_file_rebuilds_its_sample_and_drops_the_stale_one(toy: Path, tmp_path: Path) -> None:
    dataset = HarmonizationDataset(toy, "train", size=16, train=True, cache_dir=tmp_path / "cache")
    dataset.prepare(progress=False)
    old_files = list(dataset.disk_cache.files)  # type: ignore[union-attr]
    changed = dataset.paths[3].composite
    image = read_rgb(changed)
    cv2.imwrite(str(changed), np.ascontiguousarray(255 - image[..., ::-1]))
    os.utime(changed, ns=(1_000_000_000, 1_000_000_000))
    again = HarmonizationDataset(toy, "train", size=16, train=True, cache_dir=tmp_path / "cache")
    cache = again.disk_cache
    assert cache is not None and cache.missing() == [3]
    assert again.prepare(progress=False) == 1
    assert [f == g for f, g in zip(old_files, cache.files)] == [True, True, True, False, True, True]
    assert not old_files[3].exists() and cache.files[3].exists()
    np.testing.assert_array_equal(cache.read(3)[..., :3],
                                  cv2.resize(read_rgb(changed), (43, 32), interpolation=cv2.INTER_AREA))


def test_an_interrupted_build_leaves_only_complete_samples(toy: Path, tmp_path: Path) -> None:
    dataset = HarmonizationDataset(toy, "train", size=16, train=True, cache_dir=tmp_path / "cache")
    broken = dataset.paths[4].real
    good = broken.read_bytes()
    broken.write_bytes(good[: len(good) // 2])  # a truncated JPEG: the build stops on it
    cache = dataset.disk_cache
    assert cache is not None
    # A temporary file of an earlier, killed build.
    cache.folder.mkdir(parents=True)
    leftover = cache.folder / f".{cache.files[0].stem}.0123456789ab.tmp.npy"
    leftover.write_bytes(b"\x93NUMPY half")
    with pytest.raises(Exception, match="JPEG file is truncated"):
        dataset.prepare(progress=False)
    built = [path for path in cache.files if path.exists()]
    assert 0 < len(built) < 6 and not cache.files[4].exists()
    for path in built:  # every sample present is complete
        assert np.load(path).shape == (32, 43, 7)
    # Repaired, the next build writes only what is missing and removes the leftover.
    broken.write_bytes(good)
    fresh = HarmonizationDataset(toy, "train", size=16, train=True, cache_dir=tmp_path / "cache")
    assert fresh.prepare(progress=False) == 6 - len(built)
    assert not leftover.exists() and fresh.disk_cache is not None and fresh.disk_cache.missing() == []


def test_a_damaged_sample_is_named(toy: Path, tmp_path: Path) -> None:
    dataset = HarmonizationDataset(toy, "train", size=16, train=True, cache_dir=tmp_path / "cache")
    dataset.prepare(progress=False)
    cache = dataset.disk_cache
    assert cache is not None
    cache.files[1].write_bytes(b"not an npy file")
    with pytest.raises(DatasetError, match=f"{cache.files[1]}: damaged training cache sample .*; delete it to rebuild"):
        dataset[1]


def test_bomb_in_the_train_split_is_refused_before_decoding(toy: Path, tmp_path: Path) -> None:
    import struct
    import zlib

    dataset = HarmonizationDataset(toy, "train", size=16, train=True, cache_dir=tmp_path / "cache")
    target = dataset.paths[0].mask
    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + header
    target.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
                       + b"\x00\x00\x00\x00IEND\xaeB`\x82")
    with pytest.raises(ImageTooLargeError, match=f"{target}: image is 20000x20000 pixels"):
        HarmonizationDataset(toy, "train", size=16, train=True, cache_dir=tmp_path / "cache2").prepare(progress=False)


def test_keys_ignore_where_the_dataset_lives_and_fingerprints_follow_the_files(toy: Path, tmp_path: Path) -> None:
    dataset = HarmonizationDataset(toy, "train", size=16, train=True)
    triples = _triples(dataset)
    first = fingerprint_samples(toy, triples)
    moved = tmp_path / "moved"
    os.rename(toy, moved)
    moved_set = HarmonizationDataset(moved, "train", size=16, train=True)
    assert fingerprint_samples(moved, _triples(moved_set)) == first
    cache_a = TrainingCache(moved, _triples(moved_set), cache_root=tmp_path / "c", side=32)
    cache_b = TrainingCache(moved, _triples(moved_set), cache_root=tmp_path / "c", side=48)
    assert cache_a.keys != cache_b.keys  # the cached side is part of the key
    os.utime(moved_set.paths[0].mask, ns=(5, 5))
    assert fingerprint_samples(moved, _triples(moved_set)) != first
