"""Tests of :mod:`ccharmony.dataset.plan`: shortfalls with their reasons, and empty splits refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ccharmony.dataset.annotations import AnnotationSet, Foreground
from ccharmony.dataset.config import Pipeline, builtin_pipeline
from ccharmony.dataset.plan import check_listed_splits, check_splits, plan_targets, shortfalls
from ccharmony.errors import DatasetError


def _prepared(count: int, *, spread_deg: float) -> dict[str, dict]:
    """Images whose sRGB illuminants lie on a line, ``spread_deg`` apart from the first."""
    records = {}
    for index in range(count):
        angle = np.radians(spread_deg * index)
        base = np.array([1.0, 1.0, 1.0]) / np.sqrt(3)
        side = np.array([1.0, -1.0, 0.0]) / np.sqrt(2)
        vector = np.cos(angle) * base + np.sin(angle) * side
        records[f"IMG_{index}"] = {"id": f"IMG-{index}", "camera": "A" if index % 2 else "B",
                                   "illuminant_srgb": vector.tolist(), "foregrounds": {"a": 0.1}}
    return records


def test_linear_pipeline_on_12_photos_records_each_shortfall_and_why() -> None:
    """The issue's case: `diverse` with min_angle_deg 3 leaves some foregrounds fewer than K = 10 targets."""
    pipeline = builtin_pipeline("linear")
    prepared = _prepared(12, spread_deg=1.0)  # 11 others, but those within 3 degrees are not eligible
    plan = plan_targets(prepared, pipeline, seed=0)
    found = shortfalls(plan, prepared, pipeline)
    assert found, "the plan gives every foreground K targets: the case does not test a shortfall"
    by_foreground = {item["foreground"]: item for item in found}
    for (name, letter), targets in plan.items():
        foreground = f"{prepared[name]['id']}_{letter}"
        if len(targets) < pipeline.k:
            item = by_foreground.pop(foreground)
            assert (item["wanted"], item["got"]) == (10, len(targets))
            assert item["reason"] == (f"only {len(targets)} eligible target image(s): 11 other usable image(s), "
                                      f"{len(targets)} at least 3 deg from its illuminant (min_angle_deg)")
    assert not by_foreground  # nothing recorded that is not short


def test_same_camera_shortfall_names_the_camera() -> None:
    pipeline = Pipeline(k=4, same_camera=True)
    prepared = _prepared(5, spread_deg=5.0)
    found = shortfalls(plan_targets(prepared, pipeline, seed=0), prepared, pipeline)
    assert {item["reason"] for item in found} == {
        "only 1 eligible target image(s): 4 other usable image(s), 1 of them from its camera (A)",
        "only 2 eligible target image(s): 4 other usable image(s), 2 of them from its camera (B)",
    }


def _annotations(tmp_path: Path, splits: dict[str, str]) -> AnnotationSet:
    lists = {split: tmp_path / f"{split}_list.txt" for split in set(splits.values())}
    return AnnotationSet(root=tmp_path, foregrounds={image: (Foreground(image, "a", tmp_path / f"{image}_a.png"),)
                                                       for image in splits},
                         splits={f"{image}_a": split for image, split in splits.items()}, list_files=lists)


def test_lists_leaving_a_split_empty_are_refused_before_any_work(tmp_path: Path) -> None:
    annotations = _annotations(tmp_path, {"A": "train", "B": "train"})
    with pytest.raises(DatasetError, match=r"^ds: the test split would be empty: all 2 image\(s\) are listed in "
                                           r".*train_list\.txt; list at least one image's foregrounds in .*test_list\.txt$"):
        check_listed_splits(annotations, ["A", "B"], where="ds")
    check_listed_splits(annotations, ["A", "B", "C"], where="ds")  # C is split by the seed: may fill the test


def test_a_split_emptied_by_skipped_images_is_refused(tmp_path: Path) -> None:
    annotations = _annotations(tmp_path, {"A": "train", "B": "train", "C": "test"})
    with pytest.raises(DatasetError, match=r"^ds: the test split would be empty: the annotation lists put all 2 "
                                           r"usable image\(s\) in train \(1 other image\(s\) were left out, e\.g\. C: "
                                           r"C\.dng: bad\); list at least one image's foregrounds in .*test_list\.txt$"):
        check_splits({"A": "train", "B": "train"}, ["A", "B"], annotations, where="ds",
                     left_out=[{"image": "C", "reason": "C.dng: bad"}])
    check_splits({"A": "train", "C": "test"}, ["A", "C"], annotations, where="ds")
