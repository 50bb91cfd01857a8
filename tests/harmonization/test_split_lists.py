"""The one split-list reader (ccharmony.dataset.lists): every spelling, the several-lists rule, hostile lines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ccharmony.dataset.lists import PROBLEM_KINDS, read_split_list, split_list_files, subset_folders
from ccharmony.errors import DatasetError
from ccharmony.harmonization.data import HarmonizationDataset, sample_paths

SUBSETS = ("HAdobe5k", "HCOCO", "HFlickr", "Hday2night")


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def _kinds(found) -> list[str]:  # noqa: ANN001
    return [problem.kind for problem in found.problems]


def test_our_spelling_bare_names(tmp_path: Path) -> None:
    _write(tmp_path / "ccHarmonytrain.txt", ["a_1_1.jpg", "", "# a comment", "  b_1_2.jpg  "])
    found = read_split_list(tmp_path, "train")
    assert found.paths == ["composite_images/a_1_1.jpg", "composite_images/b_1_2.jpg"]
    assert found.files == ("ccHarmonytrain.txt",) and found.problems == () and found.subsets == [""]
    assert [(entry.list_file, entry.line, entry.name) for entry in found.entries] == [
        ("ccHarmonytrain.txt", 1, "a_1_1.jpg"), ("ccHarmonytrain.txt", 4, "b_1_2.jpg")]


def test_issam_spelling_with_folder_prefix_and_backslashes(tmp_path: Path) -> None:
    _write(tmp_path / "HCOCO_test.txt", ["composite_images\\c1_1_1.jpg", "./composite_images/c2_1_1.jpg"])
    found = read_split_list(tmp_path, "test")
    assert found.paths == ["composite_images/c1_1_1.jpg", "composite_images/c2_1_1.jpg"]


def test_both_spellings_with_the_same_composites_are_one_list(tmp_path: Path) -> None:
    _write(tmp_path / "ccHarmonytest.txt", ["a_1_1.jpg", "a_1_2.jpg", "b_1_1.jpg"])
    _write(tmp_path / "ccHarmony_test.txt", ["composite_images/b_1_1.jpg", "composite_images/a_1_1.jpg",
                                             "composite_images/a_1_2.jpg"])
    found = read_split_list(tmp_path, "test")
    # The first by name is read ("_" sorts before "t"); the other is recorded, not read again.
    assert found.files == ("ccHarmony_test.txt",) and found.duplicates == ("ccHarmonytest.txt",)
    assert found.paths == ["composite_images/b_1_1.jpg", "composite_images/a_1_1.jpg", "composite_images/a_1_2.jpg"]
    assert found.problems == ()


def test_two_lists_with_different_composites_conflict(tmp_path: Path) -> None:
    _write(tmp_path / "ccHarmonytest.txt", ["a_1_1.jpg", "a_1_2.jpg"])
    _write(tmp_path / "ccHarmony_test.txt", ["a_1_1.jpg"])
    found = read_split_list(tmp_path, "test")
    assert _kinds(found) == ["conflict"]
    with pytest.raises(DatasetError) as raised:
        found.checked()
    assert str(raised.value) == (
        f"{tmp_path / 'ccHarmonytest.txt'}: this test list and ccHarmony_test.txt name different composites "
        "(2 and 1 lines); keep exactly one test list in the folder")


def test_ihd_root_list_with_subset_prefixes(tmp_path: Path) -> None:
    _write(tmp_path / "IHD_train.txt", ["HCOCO/composite_images/c1_1_1.jpg",
                                        "HAdobe5k/composite_images/a0001_1_2.jpg"])
    # Subset lists exist too: the root list wins (DoveNet/IIH read IHD_train.txt alone).
    for subset in SUBSETS:
        (tmp_path / subset / "composite_images").mkdir(parents=True)
        _write(tmp_path / subset / f"{subset}_train.txt", ["x_1_1.jpg"])
    found = read_split_list(tmp_path, "train")
    assert found.files == ("IHD_train.txt",)
    assert [(entry.subset, entry.path) for entry in found.entries] == [
        ("HCOCO", "HCOCO/composite_images/c1_1_1.jpg"), ("HAdobe5k", "HAdobe5k/composite_images/a0001_1_2.jpg")]
    paths = sample_paths(tmp_path, found.paths[0])
    assert paths.real == tmp_path / "HCOCO" / "real_images" / "c1.jpg"
    assert paths.mask == tmp_path / "HCOCO" / "masks" / "c1_1.png" and paths.subset == "HCOCO"


def test_four_subsets_without_a_root_list_are_read_together(tmp_path: Path) -> None:
    for number, subset in enumerate(SUBSETS):
        (tmp_path / subset / "composite_images").mkdir(parents=True)
        _write(tmp_path / subset / f"{subset}_test.txt", [f"s{number}_1_1.jpg", f"s{number}_1_2.jpg"])
    (tmp_path / "notes").mkdir()  # a folder without composite_images is not a subset
    assert [p.name for p in subset_folders(tmp_path, "test")] == sorted(SUBSETS)
    found = read_split_list(tmp_path, "test")
    assert found.problems == () and found.subsets == sorted(SUBSETS)
    assert found.files == tuple(f"{subset}/{subset}_test.txt" for subset in sorted(SUBSETS))
    assert found.paths[:2] == ["HAdobe5k/composite_images/s0_1_1.jpg", "HAdobe5k/composite_images/s0_1_2.jpg"]
    assert len(found.paths) == 8


@pytest.mark.parametrize("line", [
    "../outside/x_1_1.jpg",
    "composite_images/../../outside/x_1_1.jpg",
    "/etc/x_1_1.jpg",
])
def test_lines_leading_outside_are_problems(tmp_path: Path, line: str) -> None:
    root = tmp_path / "ds"
    _write(root / "Dtest.txt", ["a_1_1.jpg", line])
    found = read_split_list(root, "test")
    assert found.paths == ["composite_images/a_1_1.jpg"]
    assert [str(problem) for problem in found.problems] == [
        f"Dtest.txt:2: {line!r} leads outside the dataset folder; list paths must stay inside it"]


def test_a_symlink_out_of_the_folder_is_a_problem(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    (root / "composite_images").mkdir(parents=True)
    (tmp_path / "secret_1_1.jpg").write_bytes(b"x")
    os.symlink(tmp_path / "secret_1_1.jpg", root / "composite_images" / "secret_1_1.jpg")
    _write(root / "Dtest.txt", ["secret_1_1.jpg"])
    found = read_split_list(root, "test")
    assert _kinds(found) == ["outside", "empty"] and found.paths == []


def test_repeated_composites_are_reported_once_kept_once(tmp_path: Path) -> None:
    _write(tmp_path / "Dtrain.txt", ["a_1_1.jpg", "composite_images/a_1_1.jpg", "b_1_1.jpg"])
    found = read_split_list(tmp_path, "train")
    assert found.paths == ["composite_images/a_1_1.jpg", "composite_images/b_1_1.jpg"]
    assert [str(problem) for problem in found.problems] == [
        "Dtrain.txt:2: composite_images/a_1_1.jpg is listed again (first at Dtrain.txt:1); list each composite once"]


def test_unreadable_lists_are_problems_not_hangs(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "Dtest.txt")
    (tmp_path / "Etrain.txt").write_bytes(b"a_1_1.jpg\n\xff\xfe\n")
    test = read_split_list(tmp_path, "test")
    assert [str(problem) for problem in test.problems][0] == (
        "Dtest.txt: cannot read the split list (is a FIFO (named pipe), not a split list; ccharmony reads only "
        "regular files)")
    train = read_split_list(tmp_path, "train")
    assert _kinds(train) == ["unreadable"] and "is not UTF-8 text (byte 0xff at offset 10)" in str(train.problems[0])


def test_missing_and_empty(tmp_path: Path) -> None:
    found = read_split_list(tmp_path, "train")
    assert _kinds(found) == ["missing"]
    with pytest.raises(DatasetError) as raised:
        found.checked()
    assert str(raised.value) == (f"{tmp_path}: no train split list: expected <Name>train.txt or <Name>_train.txt "
                                 "in the folder (or in each iHarmony4 subset folder)")
    _write(tmp_path / "Dtrain.txt", ["", "# nothing"])
    assert _kinds(read_split_list(tmp_path, "train")) == ["empty"]
    assert set(PROBLEM_KINDS) >= {"missing", "conflict", "unreadable", "outside", "duplicate", "empty"}


def test_split_rule_is_issams(tmp_path: Path) -> None:
    for name in ("IHD_train.txt", "ccHarmonytrain.txt", "train_notes.txt", "IHD_test.txt"):
        (tmp_path / name).write_text("")
    (tmp_path / "dir_train.txt").mkdir()  # not a regular file
    assert [p.name for p in split_list_files(tmp_path, "train")] == ["IHD_train.txt", "ccHarmonytrain.txt"]
    with pytest.raises(DatasetError, match="split must be one of"):
        split_list_files(tmp_path, "val")


def test_dataset_on_an_ihd_root_and_duplicated_lists(tmp_path: Path) -> None:
    """Benchmark's dataset reads the root's subsets; both list spellings do not double the test set."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from harmonization_toy import write_toy_dataset

    for seed, subset in enumerate(("HCOCO", "HFlickr")):
        write_toy_dataset(tmp_path / "IHD" / subset, scenes=3, width=24, height=16, test_scenes=1, seed=seed)
        folder = tmp_path / "IHD" / subset
        # Distinct names per subset, as in iHarmony4 (c... and f...).
        for list_path in folder.glob("*.txt"):
            list_path.rename(folder / f"{subset}_{list_path.stem.split('_')[-1]}.txt")
    dataset = HarmonizationDataset(tmp_path / "IHD", "train", size=16, train=True)
    assert len(dataset) == 8 and sorted(set(dataset.subsets)) == ["HCOCO", "HFlickr"]
    single = write_toy_dataset(tmp_path / "one", scenes=3, width=24, height=16, test_scenes=1)
    (single / "Toytest.txt").write_text((single / "Toy_test.txt").read_text())
    assert len(HarmonizationDataset(single, "test", size=16)) == 2
