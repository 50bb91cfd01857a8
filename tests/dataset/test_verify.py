"""Tests of ``ccharmony verify``: a clean folder passes; every corruption is caught and named."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from ccharmony.dataset.layout import BUILD_FILE, CARD_FILE, COMPOSITE_DIR, MASK_DIR, METADATA_FILE, REAL_DIR
from ccharmony.dataset.verify import CHECKS, verify_dataset
from ccharmony.dataset.verify._codec import jpeg_parameters, jpeg_quality
from ccharmony.errors import ConfigError, DatasetError

sys.path.insert(0, str(Path(__file__).parent))
from verify_fixtures import jpeg, png, reapply_gains, textured_image, write_dataset  # noqa: E402

TRAIN_LIST, TEST_LIST = "Synthtrain.txt", "Synthtest.txt"
COMPOSITE = f"{COMPOSITE_DIR}/Cam0-0000_a_1.jpg"  # a train composite of image Cam0-0000
MASK = f"{MASK_DIR}/Cam0-0000_a.png"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("template") / "synth")


@pytest.fixture()
def dataset(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the clean template, to corrupt."""
    return Path(shutil.copytree(template, tmp_path / "synth"))


def _verify(folder: Path, **options: object):
    return verify_dataset(folder, progress=False, **options)


def _problems(report) -> dict[str, list[str]]:  # noqa: ANN001
    return {check.name: check.files for check in report.checks if check.status == "problem"}


def _edit_composite(path: Path, edit, quality: int = 95) -> None:  # noqa: ANN001
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    edit(image)
    path.write_bytes(jpeg(image, quality) if path.suffix == ".jpg" else png(image))


def _outside_spot(folder: Path, mask: str = MASK) -> tuple[int, int]:
    """Top-left corner of a 4x4 spot at least 20 px from the mask."""
    foreground = cv2.imread(str(folder / mask), cv2.IMREAD_GRAYSCALE) > 0
    far = cv2.dilate(foreground.astype(np.uint8), np.ones((41, 41), np.uint8)) == 0
    rows, columns = np.nonzero(far[:-4, :-4] & far[4:, 4:])
    return int(rows[0]), int(columns[0])


# --- a clean folder ------------------------------------------------------------------------------


def test_clean_dataset_is_sound(template: Path) -> None:
    report = _verify(template)
    assert report.ok, report.problems
    statuses = {check.name: check.status for check in report.checks}
    assert list(statuses) == list(CHECKS)
    assert {name for name, status in statuses.items() if status != "ok"} == {"deep-reapply"}
    assert report.summary["splits"] == {"train": {"composites": 4, "foregrounds": 2, "images": 2},
                                        "test": {"composites": 4, "foregrounds": 2, "images": 2}}
    assert report.summary["cameras"] == {"Cam0": {"train": 2, "test": 2}, "Cam1": {"train": 2, "test": 2}}
    assert report.summary["jpeg_quality"] == {95: 8}
    assert sum(report.summary["foreground_ratio"]["counts"]) == 4
    assert sum(report.summary["illuminant_angle_deg"]["counts"]) == 8
    assert report.summary["problems"] == []


def test_report_to_dict_is_json(template: Path, tmp_path: Path) -> None:
    report = _verify(template)
    target = tmp_path / "report.json"
    report.write_json(target)
    data = json.loads(target.read_text())
    assert data["ok"] is True
    assert [check["name"] for check in data["checks"]] == list(CHECKS)
    assert not list(tmp_path.glob(".report.json.*"))  # the temporary file was renamed


# --- the corruptions the issue lists ------------------------------------------------------------


def _flip_byte(folder: Path) -> set[str]:
    path = folder / COMPOSITE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return {"sha256"}  # the damaged entropy data may also change pixels outside the mask (see below)


def _truncate(folder: Path) -> set[str]:
    path = folder / COMPOSITE
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) * 2 // 3])
    return {"decode", "sha256"}


def _delete_mask(folder: Path) -> set[str]:
    (folder / MASK).unlink()
    return {"files-exist"}


def _wrong_size_mask(folder: Path) -> set[str]:
    mask = cv2.imread(str(folder / MASK), cv2.IMREAD_GRAYSCALE)
    (folder / MASK).write_bytes(png(cv2.resize(mask, (mask.shape[1] // 2, mask.shape[0] // 2),
                                               interpolation=cv2.INTER_NEAREST)))
    return {"sizes-agree", "sha256"}


def _edit_outside(folder: Path) -> set[str]:
    row, column = _outside_spot(folder)

    def edit(image: np.ndarray) -> None:
        image[row:row + 4, column:column + 4] = 255 - image[row:row + 4, column:column + 4]

    _edit_composite(folder / COMPOSITE, edit)
    return {"outside-mask-equal", "sha256"}


def _move_to_test(folder: Path) -> set[str]:
    train = (folder / TRAIN_LIST).read_text().splitlines()
    train.remove(COMPOSITE.split("/")[1])
    (folder / TRAIN_LIST).write_text("".join(f"{n}\n" for n in train))
    with (folder / TEST_LIST).open("a") as stream:
        stream.write(COMPOSITE.split("/")[1] + "\n")
    # the source image now has composites in both splits; metadata still says train; counts changed
    return {"split-source-leakage", "metadata-rows", "counts-build", "counts-card"}


def _duplicate_line(folder: Path) -> set[str]:
    with (folder / TRAIN_LIST).open("a") as stream:
        stream.write(COMPOSITE.split("/")[1] + "\n")
    return {"split-duplicates"}


def _row_to_missing_file(folder: Path) -> set[str]:
    frame = pd.read_parquet(folder / METADATA_FILE)
    extra = frame.iloc[[0]].copy()
    extra["composite_file_name"] = f"{COMPOSITE_DIR}/Cam0-0000_a_9.jpg"
    extra["k"] = 9
    pd.concat([frame, extra]).to_parquet(folder / METADATA_FILE, index=False)
    return {"files-exist", "metadata-rows"}


CORRUPTIONS = {
    "flipped byte in a composite": (_flip_byte, "sha256", COMPOSITE),
    "truncated JPEG": (_truncate, "decode", COMPOSITE),
    "deleted mask": (_delete_mask, "files-exist", MASK),
    "mask of the wrong size": (_wrong_size_mask, "sizes-agree", COMPOSITE),
    "edited pixels outside the mask": (_edit_outside, "outside-mask-equal", COMPOSITE),
    "image moved from train to test": (_move_to_test, "split-source-leakage", COMPOSITE),
    "duplicated line": (_duplicate_line, "split-duplicates", f"{TRAIN_LIST}:5"),
    "metadata row pointing at a missing file": (_row_to_missing_file, "files-exist", f"{COMPOSITE_DIR}/Cam0-0000_a_9.jpg"),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_corruption_is_caught_and_named(dataset: Path, corruption: str) -> None:
    corrupt, check, file = CORRUPTIONS[corruption]
    expected = corrupt(dataset)
    report = _verify(dataset)
    problems = _problems(report)
    assert not report.ok
    allowed = {"outside-mask-equal", "inside-mask-differs"} if corruption == "flipped byte in a composite" else set()
    assert expected <= set(problems) <= expected | allowed, {name: report.check(name).evidence for name in problems}
    assert file in problems[check], problems


def test_truncated_jpeg_evidence(dataset: Path) -> None:
    _truncate(dataset)
    check = _verify(dataset).check("decode")
    assert check.evidence == {COMPOSITE: "truncated JPEG (no EOI marker at the end)"}


def test_edit_outside_mask_is_caught_without_metadata(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "third", metadata=False)
    _edit_outside(folder)
    report = _verify(folder)
    assert _problems(report) == {"outside-mask-equal": [COMPOSITE]}
    assert "beyond the JPEG error" in report.check("outside-mask-equal").evidence[COMPOSITE]


def test_edit_inside_band_near_mask_edge_is_not_flagged(tmp_path: Path) -> None:
    """A composite differs from the real image only inside its mask; nothing else is flagged."""
    folder = write_dataset(tmp_path / "d", height=128, width=192, quality=75)
    assert _verify(folder).ok


# --- the tolerance rule ------------------------------------------------------------------------


@pytest.mark.parametrize(("real_quality", "quality", "from_original"),
                         [(95, 95, True), (90, 95, True), (95, 85, True), (85, 95, False), (100, 100, True)])
def test_jpeg_tolerance_accepts_honest_composites(tmp_path: Path, real_quality: int, quality: int,
                                                  from_original: bool) -> None:
    folder = write_dataset(tmp_path / "q", n_images=2, k=2, height=160, width=224, quality=quality,
                           real_quality=real_quality, from_original=from_original)
    report = _verify(folder)
    assert report.ok, {c.name: c.evidence for c in report.problems}


def test_lossless_files_must_match_exactly(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "png", metadata=False, composite_extension=".png")
    assert _verify(folder).ok
    png_composite = COMPOSITE.replace(".jpg", ".png")
    row, column = _outside_spot(folder)

    def nudge(image: np.ndarray) -> None:
        image[row, column, 0] = image[row, column, 0] ^ 1  # one level, one pixel

    _edit_composite(folder / png_composite, nudge)
    report = _verify(folder)
    assert _problems(report) == {"outside-mask-equal": [png_composite]}
    assert "1 pixels differ" in report.check("outside-mask-equal").evidence[png_composite]


def test_composite_equal_to_real_does_not_differ_inside(dataset: Path) -> None:
    real = cv2.imread(str(dataset / REAL_DIR / "Cam0-0000.jpg"), cv2.IMREAD_COLOR)
    (dataset / COMPOSITE).write_bytes(jpeg(real, 95))
    report = _verify(dataset)
    assert set(_problems(report)) == {"inside-mask-differs", "sha256"}
    assert report.check("inside-mask-differs").files == [COMPOSITE]


@pytest.mark.parametrize(("fill", "expected"), [
    (lambda mask: np.where(mask > 0, np.uint8(200), np.uint8(0)).astype(np.uint8) + (mask > 0) * (
        np.arange(mask.size).reshape(mask.shape) % 2).astype(np.uint8), "mask-binary"),
    (lambda mask: np.zeros_like(mask), "mask-nonempty"),
    (lambda mask: np.full_like(mask, 255), "mask-not-full"),
])
def test_bad_masks(dataset: Path, fill, expected: str) -> None:  # noqa: ANN001
    mask = cv2.imread(str(dataset / MASK), cv2.IMREAD_GRAYSCALE)
    (dataset / MASK).write_bytes(png(fill(mask)))
    problems = _problems(_verify(dataset))
    assert problems[expected] == [MASK]


def test_jpeg_quality_estimate() -> None:
    image = textured_image(np.random.default_rng(1), 32, 48)
    assert [jpeg_quality(jpeg(image, q)) for q in (30, 50, 75, 90, 95, 100)] == [30, 50, 75, 90, 95, 100]
    assert jpeg_quality(png(image)) is None
    assert jpeg_parameters(jpeg(image, 90))[1] == (2, 2)  # OpenCV's default 4:2:0
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                                            cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444])
    assert jpeg_parameters(data.tobytes()) == (90, (1, 1))


# --- splits, counts, third-party layout ----------------------------------------------------------


def test_near_duplicate_across_splits(dataset: Path) -> None:
    """A test image that is a tinted copy of a train image (new id) is a near duplicate."""
    train_real = cv2.imread(str(dataset / REAL_DIR / "Cam0-0000.jpg"), cv2.IMREAD_COLOR)
    tinted = np.clip(train_real * np.array([0.8, 1.0, 1.2]), 0, 255).astype(np.uint8)
    (dataset / REAL_DIR / "Cam0-0002.jpg").write_bytes(jpeg(tinted, 95))
    problems = _problems(_verify(dataset))
    assert problems["split-near-duplicates"] == [f"{REAL_DIR}/Cam0-0000.jpg", f"{REAL_DIR}/Cam0-0002.jpg"]


def test_composite_in_both_lists_and_unlisted(dataset: Path) -> None:
    with (dataset / TEST_LIST).open("a") as stream:
        stream.write(f"{COMPOSITE}\n")  # prefixed form is accepted too
    shutil.copy(dataset / COMPOSITE, dataset / COMPOSITE_DIR / "Cam0-0000_a_7.jpg")
    problems = _problems(_verify(dataset))
    assert problems["split-exclusive"] == [COMPOSITE]
    assert problems["split-coverage"] == [f"{COMPOSITE_DIR}/Cam0-0000_a_7.jpg"]


def test_counts_must_match_build_json_and_card(dataset: Path) -> None:
    build = json.loads((dataset / BUILD_FILE).read_text())
    build["counts"]["composites"] = 99
    (dataset / BUILD_FILE).write_text(json.dumps(build))
    card = (dataset / CARD_FILE).read_text().replace("num_examples: 4", "num_examples: 5", 1)
    (dataset / CARD_FILE).write_text(card)
    report = _verify(dataset)
    assert set(_problems(report)) == {"counts-build", "counts-card"}
    assert "composites 99 != 8 found" in report.check("counts-build").evidence[BUILD_FILE]
    assert "train 5 != 4 found" in report.check("counts-card").evidence[CARD_FILE]


def test_bad_names_are_reported(dataset: Path) -> None:
    with (dataset / TEST_LIST).open("a") as stream:
        stream.write("Cam0_0001_a_1.jpg\n")
    problems = _problems(_verify(dataset))
    assert f"{COMPOSITE_DIR}/Cam0_0001_a_1.jpg" in problems["naming"]


def test_third_party_layout(tmp_path: Path) -> None:
    """An iHarmony4-style folder: no metadata, build.json or card; the checks that apply, and a note."""
    folder = write_dataset(tmp_path / "HFoo", metadata=False, name="HFoo")
    for split in ("train", "test"):  # iHarmony4 spells its lists HCOCO_train.txt
        (folder / f"HFoo{split}.txt").rename(folder / f"HFoo_{split}.txt")
    report = _verify(folder)
    assert report.ok
    statuses = {check.name: check.status for check in report.checks}
    assert {name for name, status in statuses.items() if status == "skipped"} == {
        "sha256", "recorded-size", "metadata-rows", "metadata-values", "deep-reapply", "counts-build",
        "counts-card", "build-complete"}
    assert statuses["metadata"] == "note"
    assert statuses["outside-mask-equal"] == statuses["split-near-duplicates"] == "ok"
    assert report.summary["splits"]["train"]["composites"] == 4
    assert report.summary["list_files"] == {"train": "HFoo_train.txt", "test": "HFoo_test.txt"}


def test_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        verify_dataset(tmp_path / "absent", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="not a dataset folder"):
        verify_dataset(tmp_path / "empty", progress=False)
    with pytest.raises(ConfigError, match="workers must be >= 1"):
        verify_dataset(tmp_path / "empty", workers=0, progress=False)


# --- deep ---------------------------------------------------------------------------------------


def test_deep_reapply(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ccharmony.dataset.reapply as reapply

    monkeypatch.setattr(reapply, "reapply_transfer", reapply_gains)
    report = _verify(dataset, deep=True)
    assert report.ok and report.check("deep-reapply").status == "ok"
    assert report.check("deep-reapply").detail.startswith("8 composites")
    frame = pd.read_parquet(dataset / METADATA_FILE)
    frame.loc[frame["composite_file_name"] == COMPOSITE, "transfer"] = json.dumps(
        {"domain": "gains", "gains": [1.0, 1.0, 1.0]})
    frame.to_parquet(dataset / METADATA_FILE, index=False)
    problems = _problems(_verify(dataset, deep=True))
    assert problems == {"deep-reapply": [COMPOSITE]}


def test_deep_not_available(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ccharmony.dataset.reapply", None)
    report = _verify(dataset, deep=True)
    assert report.ok
    assert report.check("deep-reapply").status == "skipped"
    assert "not available" in report.check("deep-reapply").detail


# --- workers and the command line --------------------------------------------------------------


def test_workers_give_the_same_report(dataset: Path) -> None:
    _edit_outside(dataset)
    one, two = _verify(dataset).to_dict(), _verify(dataset, workers=2).to_dict()
    assert one == two and not one["ok"]


def _cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ccharmony", "verify", *arguments, "--no-progress"],
                          capture_output=True, text=True, timeout=120)


def test_cli_exit_codes(dataset: Path, tmp_path: Path) -> None:
    clean = _cli(str(dataset), "--json", str(tmp_path / "clean.json"))
    assert clean.returncode == 0, clean.stderr
    assert "sound: no problems found" in clean.stdout
    assert json.loads((tmp_path / "clean.json").read_text())["ok"] is True
    _duplicate_line(dataset)
    broken = _cli(str(dataset))
    assert broken.returncode == 1
    assert "PROBLEM split-duplicates" in broken.stdout and f"{TRAIN_LIST}:5" in broken.stdout
    missing = _cli(str(tmp_path / "absent"))
    assert missing.returncode == 1  # a run-time failure (2 is kept for usage errors)
    assert missing.stderr.strip().splitlines() == [
        f"ccharmony verify: error: dataset folder {tmp_path / 'absent'} does not exist"]


# --- a dataset from the builder -------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded default dataset, built once by ``ccharmony build``."""
    builder = pytest.importorskip("ccharmony.dataset.builder")
    out = tmp_path_factory.mktemp("built") / "dataset"
    try:
        builder.build_dataset(builder.BuildOptions(out=out, progress=False))
    except ImportError as error:  # the builder's dependencies are still being written
        pytest.skip(f"the builder cannot run yet: {error}")
    return out


@pytest.mark.slow
def test_built_dataset_verifies_clean(built: Path) -> None:
    report = _verify(built, deep=True)
    assert report.ok, {check.name: check.evidence for check in report.problems}
    assert report.check("deep-reapply").status == "ok"
    assert report.check("sha256").status == "ok"


# --- hostile folders: nothing outside is read, unfinished builds and empty splits are problems -----


def test_paths_from_data_stay_inside(dataset: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x_a_1.jpg").write_bytes((dataset / COMPOSITE).read_bytes())
    with open(dataset / TRAIN_LIST, "a") as stream:
        stream.write("composite_images/../../outside/x_a_1.jpg\n")
    (dataset / MASK).unlink()
    (dataset / MASK).symlink_to(outside / "x_a_1.jpg")
    report = _verify(dataset)
    check = report.check("paths-inside")
    assert check.status == "problem"
    assert check.evidence[f"{TRAIN_LIST}:5"] == ("line 'composite_images/../../outside/x_a_1.jpg' is a path, not a "
                                            "composite file name; not read")
    assert check.evidence[MASK].startswith("leads outside the dataset folder (to ")
    assert report.summary["files_read"] == 15  # 16 files, less the link: nothing outside was opened


def test_unfinished_build_and_empty_split(dataset: Path) -> None:
    (dataset / ".ccharmony-build").mkdir()
    (dataset / BUILD_FILE).unlink()
    (dataset / TEST_LIST).write_text("\n")
    problems = _problems(_verify(dataset))
    assert problems["build-complete"] == [".ccharmony-build/", BUILD_FILE]
    assert problems["splits-nonempty"] == [TEST_LIST]


def test_non_finite_metadata_values(dataset: Path) -> None:
    frame = pd.read_parquet(dataset / METADATA_FILE)
    frame.loc[0, "illuminant_angle_deg"] = float("inf")
    frame["target_illuminant"] = [[float("nan"), 0.5, 0.5]] * len(frame)
    frame.to_parquet(dataset / METADATA_FILE, index=False)
    check = _verify(dataset).check("metadata-values")
    assert check.status == "problem" and len(check.files) == 8
    first = check.evidence[check.files[0]]
    assert "target_illuminant [nan, 0.5, 0.5]" in first
