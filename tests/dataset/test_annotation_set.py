"""Tests of ccharmony.dataset.annotations on tiny sets and on the shipped ccHarmony set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ccharmony.dataset.annotations import read_annotation_set, split_foreground_id
from ccharmony.errors import AnnotationError

REPO = Path(__file__).resolve().parents[2]


def _mask(path: Path) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.zeros((4, 6), np.uint8)
    image[1:3, 1:3] = 255
    cv2.imwrite(str(path), image)


def test_shipped_ccharmony_annotations_match_the_published_counts() -> None:
    annotations = read_annotation_set(REPO / "annotations" / "ccharmony")
    assert len(annotations.images) == 350
    assert sum(len(group) for group in annotations.foregrounds.values()) == 426
    assert len(annotations.patch_colors) == 350
    splits = list(annotations.splits.values())
    assert (splits.count("train"), splits.count("test")) == (308, 118)
    # No image has foregrounds in both splits.
    assert all(annotations.image_split(image) is not None for image in annotations.images)


def test_split_foreground_id() -> None:
    assert split_foreground_id("Canon1DsMkIII_0010_b") == ("Canon1DsMkIII_0010", "b")
    with pytest.raises(AnnotationError, match="must be '<image>_<fg>'"):
        split_foreground_id("nounderscore")


def test_duplicate_ids_are_fatal(tmp_path: Path) -> None:
    _mask(tmp_path / "masks" / "IMG_1_a.png")
    _mask(tmp_path / "masks" / "IMG-1_a.png")
    with pytest.raises(AnnotationError, match="duplicate id IMG-1_a"):
        read_annotation_set(tmp_path)


def test_foreground_in_both_lists_is_fatal(tmp_path: Path) -> None:
    _mask(tmp_path / "masks" / "A_a.png")
    (tmp_path / "train_list.txt").write_text("A_a\n")
    (tmp_path / "test_list.txt").write_text("A_a\n")
    with pytest.raises(AnnotationError, match="listed in both train and test"):
        read_annotation_set(tmp_path)


def test_list_problems_are_reported_not_fatal(tmp_path: Path) -> None:
    _mask(tmp_path / "masks" / "A_a.png")
    _mask(tmp_path / "masks" / "B_a.png")
    (tmp_path / "train_list.txt").write_text("A_a\nA_a\nC_a\n")
    annotations = read_annotation_set(tmp_path)
    assert annotations.splits == {"A_a": "train"}
    assert any("duplicate line 'A_a'" in p for p in annotations.problems)
    assert any("'C_a' names no mask" in p for p in annotations.problems)
    assert annotations.image_split("B") is None


def test_missing_folders(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match="annotation folder not found"):
        read_annotation_set(tmp_path / "absent")
    with pytest.raises(AnnotationError, match="no masks/"):
        read_annotation_set(tmp_path)
    (tmp_path / "masks").mkdir()
    (tmp_path / "masks" / "x_a.jpg").write_bytes(b"")
    with pytest.raises(AnnotationError, match="masks must be PNG"):
        read_annotation_set(tmp_path)
