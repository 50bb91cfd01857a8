"""The suggested split: one photo in one split, cameras balanced, seeded, overrides kept."""

from __future__ import annotations

import pytest

from ccharmony.annotate.split import split_rank, suggest_splits
from ccharmony.errors import ConfigError


def _cameras() -> dict[str, str]:
    cameras = {f"canon-{i:02d}": "Canon" for i in range(20)}
    cameras.update({f"nikon-{i:02d}": "Nikon" for i in range(7)})
    cameras.update({"sigma-00": "Sigma"})
    return cameras


def test_each_camera_gets_its_share_of_test_photos() -> None:
    cameras = _cameras()
    splits = suggest_splits(cameras, seed=0, test_fraction=0.3)
    assert set(splits) == set(cameras) and set(splits.values()) == {"train", "test"}
    for camera, expected in (("Canon", 6), ("Nikon", 2), ("Sigma", 0)):  # round(0.3 n)
        assert sum(splits[n] == "test" for n, c in cameras.items() if c == camera) == expected


def test_the_first_ranked_photos_go_to_test_and_the_seed_changes_them() -> None:
    cameras = {f"p{i}": "A" for i in range(10)}
    splits = suggest_splits(cameras, seed=5, test_fraction=0.3)
    ranked = sorted(cameras, key=lambda n: split_rank(n, 5))
    assert sorted(n for n in cameras if splits[n] == "test") == sorted(ranked[:3])
    assert splits == suggest_splits(cameras, seed=5, test_fraction=0.3)
    others = [suggest_splits(cameras, seed=s, test_fraction=0.3) for s in range(6, 12)]
    assert any(other != splits for other in others)


def test_fixed_splits_are_kept_and_count_towards_the_quota() -> None:
    cameras = {f"p{i}": "A" for i in range(10)}
    fixed = {"p0": "test", "p1": "test", "p2": "test", "p3": "train"}
    splits = suggest_splits(cameras, fixed, seed=0, test_fraction=0.3)
    assert all(splits[n] == s for n, s in fixed.items())
    assert sum(v == "test" for v in splits.values()) == 3
    # Adding a photo moves no other suggestion when the quota is unchanged.
    more = dict(cameras, p10="A")
    assert {n: s for n, s in suggest_splits(more, fixed, seed=0).items() if n != "p10"} == splits


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ConfigError, match="test_fraction must be in"):
        suggest_splits({"a": "A"}, test_fraction=1.0)
    with pytest.raises(ConfigError, match="must be 'train' or 'test'"):
        suggest_splits({"a": "A"}, {"a": "val"})
