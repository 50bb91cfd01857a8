"""End-to-end tests of ``ccharmony build`` on tiny synthetic captures."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from build_helpers import build_json as _build_json
from build_helpers import tree as _tree

from ccharmony.dataset.builder import STATE_DIR, BuildOptions, build_dataset
from ccharmony.dataset.config import Pipeline
from ccharmony.dataset.layout import BUILT_METADATA_COLUMNS, parse_composite_name
from ccharmony.errors import DatasetError

K = 3


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five small synthetic captures with annotations (masks, crops, lists)."""
    from ccharmony.synth import synthesize

    root = tmp_path_factory.mktemp("scenes")
    synthesize(root, count=5, seed=3, size=(240, 160), relit=False)
    return root


def _copy_scenes(scenes: Path, target: Path) -> Path:
    shutil.copytree(scenes, target)
    return target


def _build(raw: Path, out: Path, **changes: object) -> object:
    pipeline = Pipeline(k=K, name="tiny")
    options = dict(out=out, raw_dir=raw / "raw", annotations=raw / "annotations", pipeline=pipeline,
                   seed=1, progress=False)
    options.update(changes)
    return build_dataset(BuildOptions(**options))



@pytest.fixture(scope="module")
def built(scenes: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("built") / "ds"
    _build(scenes, out)
    return out


def test_layout_counts_and_metadata(built: Path, scenes: Path) -> None:
    build = json.loads((built / "build.json").read_text())
    frame = pd.read_parquet(built / "metadata.parquet")
    assert list(frame.columns) == list(BUILT_METADATA_COLUMNS)
    n_foregrounds = build["counts"]["foregrounds"]
    assert n_foregrounds >= 5
    assert len(frame) == build["counts"]["composites"] == K * n_foregrounds
    train = (built / "tinytrain.txt").read_text().split()
    test = (built / "tinytest.txt").read_text().split()
    assert len(train) + len(test) == len(frame)
    assert set(train).isdisjoint(test)
    # Bare composite names, as iSSAM's HDataset joins them to composite_images/.
    assert all("/" not in line for line in train + test)
    # No source image in both splits.
    train_images = {parse_composite_name(n)[0] for n in train}
    test_images = {parse_composite_name(n)[0] for n in test}
    assert train_images.isdisjoint(test_images)
    for row in frame.itertuples():
        assert "_" not in row.image_id
        assert row.target_image != row.source_image
        for column in ("composite_file_name", "real_file_name", "mask_file_name"):
            assert (built / getattr(row, column)).is_file()
    # The card's YAML front matter states the split sizes.
    card = (built / "DATASET_CARD.md").read_text()
    assert f"name: train\n    num_examples: {len(train)}" in card
    assert not (built / STATE_DIR).exists()


def test_composites_equal_real_outside_mask_before_encoding(scenes: Path, tmp_path: Path) -> None:
    """PNG composites make the outside-mask identity checkable byte for byte."""
    out = tmp_path / "png"
    _build(scenes, out, pipeline=Pipeline(k=2, name="tiny", image_format="png"))
    frame = pd.read_parquet(out / "metadata.parquet")
    for row in frame.head(6).itertuples():
        composite = cv2.imread(str(out / row.composite_file_name))
        mask = cv2.imread(str(out / row.mask_file_name), cv2.IMREAD_GRAYSCALE) > 127
        assert composite.shape[:2] == mask.shape
        # The PNG real image is not stored; re-create it from the composite's record instead.
        from ccharmony.dataset.reapply import reapply_transfer

        assert row.foreground_ratio == pytest.approx(mask.mean(), abs=1e-9)
        # Outside the mask the composite must be identical to every other composite of the
        # same foreground (they share the real image).
        siblings = frame[frame.foreground_id == row.foreground_id]
        other = cv2.imread(str(out / siblings.iloc[-1].composite_file_name))
        np.testing.assert_array_equal(composite[~mask], other[~mask])
        assert callable(reapply_transfer)


def test_same_seed_gives_identical_bytes(built: Path, scenes: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    _build(scenes, again)
    assert _tree(again) == _tree(built)
    assert _build_json(again) == _build_json(built)


def test_different_seed_changes_targets(built: Path, scenes: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    _build(scenes, other, seed=2)
    first = pd.read_parquet(built / "metadata.parquet").target_image.tolist()
    second = pd.read_parquet(other / "metadata.parquet").target_image.tolist()
    assert first != second


def test_workers_give_identical_bytes(built: Path, scenes: Path, tmp_path: Path) -> None:
    parallel = tmp_path / "parallel"
    _build(scenes, parallel, workers=2)
    assert _tree(parallel) == _tree(built)


def test_resume_after_kill_is_byte_identical(built: Path, scenes: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    script = (
        "import sys, time; from pathlib import Path\n"
        "import ccharmony.dataset.stages as stages\n"
        "original = stages.make_composites\n"
        "def slow(task, pipeline):\n"
        "    time.sleep(0.4)\n"
        "    return original(task, pipeline)\n"
        "stages.make_composites = slow\n"
        "import ccharmony.dataset.builder as builder\n"
        "builder.make_composites = slow\n"
        "from ccharmony.dataset.config import Pipeline\n"
        f"builder.build_dataset(builder.BuildOptions(out=Path({str(out)!r}), raw_dir=Path({str(scenes / 'raw')!r}),"
        f" annotations=Path({str(scenes / 'annotations')!r}), pipeline=Pipeline(k={K}, name='tiny'), seed=1, progress=False))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 120
    # Kill -9 once some composites are on disk but the build is unfinished.
    while time.time() < deadline:
        done = list((out / "composite_images").glob("*.jpg")) if (out / "composite_images").exists() else []
        if len(done) >= K and process.poll() is None:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert (out / STATE_DIR).exists(), "the build finished before it could be killed"
    assert not (out / "build.json").exists()
    _build(scenes, out)
    assert _tree(out) == _tree(built)
    assert _build_json(out) == _build_json(built)


def test_resume_after_killing_a_two_worker_build_is_byte_identical(built: Path, scenes: Path, tmp_path: Path) -> None:
    """Pool workers stage their files; whatever a killed pool left staged never reaches the dataset."""
    import os

    out = tmp_path / "killed"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    # The pool's workers import this module by name (a fork server does not run the parent's patches).
    (hooks / "slow_stages.py").write_text(
        "import time\n"
        "from ccharmony.dataset import stages\n"
        "def composites(args):\n"
        "    time.sleep(0.4)\n"
        "    return stages.make_composites(*args)\n"
    )
    script = (
        f"import sys; sys.path.insert(0, {str(hooks)!r})\n"
        "from pathlib import Path\n"
        "import slow_stages\n"
        "import ccharmony.dataset.builder as builder\n"
        "builder._run_composites = slow_stages.composites\n"
        "from ccharmony.dataset.config import Pipeline\n"
        "if __name__ == '__main__':\n"
        f"    builder.build_dataset(builder.BuildOptions(out=Path({str(out)!r}), raw_dir=Path({str(scenes / 'raw')!r}),"
        f" annotations=Path({str(scenes / 'annotations')!r}), pipeline=Pipeline(k={K}, name='tiny'), seed=1,"
        " workers=2, progress=False))\n"
    )
    (hooks / "run.py").write_text(script)
    process = subprocess.Popen([sys.executable, str(hooks / "run.py")], start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        done = list((out / "composite_images").glob("*.jpg")) if (out / "composite_images").exists() else []
        if len(done) >= K and process.poll() is None:
            break
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the driver, its fork server and the workers at once
    process.wait()
    assert (out / STATE_DIR).exists(), "the build finished before it could be killed"
    assert not (out / "build.json").exists()
    _build(scenes, out, workers=2)
    assert _tree(out) == _tree(built)
    assert _build_json(out) == _build_json(built)
    assert not (out / STATE_DIR).exists()


def test_bad_inputs_skip_images_with_reasons(scenes: Path, tmp_path: Path) -> None:
    raw = _copy_scenes(scenes, tmp_path / "bad")
    masks = sorted((raw / "annotations" / "masks").glob("*.png"))
    photos = sorted((raw / "raw").glob("*.dng"))
    # 1: a mask of the wrong size; 2: a mask with no foreground; 3: an unreadable photo.
    wrong = masks[0]
    cv2.imwrite(str(wrong), np.zeros((7, 9), np.uint8) + 255)
    image_1 = wrong.stem.rsplit("_", 1)[0]
    empty_image = next(m for m in masks if not m.stem.startswith(image_1 + "_"))
    cv2.imwrite(str(empty_image), np.zeros_like(cv2.imread(str(empty_image), cv2.IMREAD_GRAYSCALE)))
    image_2 = empty_image.stem.rsplit("_", 1)[0]
    broken = next(p for p in photos if p.stem not in (image_1, image_2))
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is a JPEG header in a .dng")
    (raw / "annotations" / "crops" / f"{image_1}.json").unlink(missing_ok=True)
    summary = _build(raw, tmp_path / "out")
    reasons = {item["image"]: item["reason"] for item in summary.skipped}
    assert set(reasons) >= {image_1, image_2, broken.stem}
    assert "9x7" in reasons[image_1] or "size" in reasons[image_1]
    assert "no foreground" in reasons[image_2]
    assert broken.name in reasons[broken.stem]
    build = json.loads((tmp_path / "out" / "build.json").read_text())
    assert {item["image"] for item in build["skipped"]} >= {image_1, image_2, broken.stem}


def test_fatal_inputs_stop_before_writing(scenes: Path, tmp_path: Path) -> None:
    raw = _copy_scenes(scenes, tmp_path / "dup")
    first = sorted((raw / "raw").glob("*.dng"))[0]
    shutil.copy(first, first.with_name(first.stem + ".tif"))
    out = tmp_path / "out"
    with pytest.raises(DatasetError, match="duplicate photo"):
        _build(raw, out)
    # A foreign non-empty output folder is never overwritten.
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="not empty"):
        _build(scenes, foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


def test_unwritable_output(scenes: Path, tmp_path: Path) -> None:
    # A path below a regular file cannot be created, even by root (CI runs as root).
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(DatasetError, match="not writable"):
        _build(scenes, blocker / "out")
    with pytest.raises(DatasetError, match="not a folder"):
        _build(scenes, blocker)


def test_cli_error_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ccharmony", "build", "--raw-dir", str(tmp_path / "absent"), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 1  # a run-time failure (README, "Exit status"); 2 is for usage errors
    assert result.stderr.strip().count("\n") == 0
    assert "absent: --raw-dir is not a folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_issam_hdataset_rules_find_every_file(built: Path) -> None:
    """The loading rules of iharm.data.hdataset.HDataset, applied verbatim."""
    for split in ("train", "test"):
        lists = [x for x in built.glob("*.txt") if x.stem.endswith(split)]
        assert len(lists) == 1
        samples = [x.strip() for x in lists[0].read_text().splitlines()]
        for name in samples:
            real = name.split("_")[0] + ".jpg"
            mask = "_".join(name.split("_")[:-1]) + ".png"
            composite = cv2.imread(str(built / "composite_images" / name))
            assert composite is not None
            assert cv2.imread(str(built / "real_images" / real)).shape == composite.shape
            assert cv2.imread(str(built / "masks" / mask)).shape == composite.shape


def test_hugging_face_imagefolder_loads_three_image_columns(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets", reason="Hugging Face datasets is not installed")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    loaded = datasets.load_dataset("imagefolder", data_dir=str(built), cache_dir=str(tmp_path / "hf"))
    frame = pd.read_parquet(built / "metadata.parquet")
    assert list(loaded) == ["train"]
    table = loaded["train"]
    assert table.num_rows == len(frame)
    for column in ("composite", "real", "mask"):
        assert isinstance(table.features[column], datasets.Image)
    first = table[0]
    assert first["composite"].size == (int(first["width"]), int(first["height"]))
    assert sorted(set(table["split"])) == ["test", "train"]


def test_photo_without_chart_or_patch_colours_is_skipped(scenes: Path, tmp_path: Path) -> None:
    raw = _copy_scenes(scenes, tmp_path / "nochart")
    photo = sorted((raw / "raw").glob("*.dng"))[0]
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, size=(160, 240, 3), dtype=np.uint8)
    photo.unlink()
    (raw / "annotations" / "checkers" / f"{photo.stem}.json").unlink(missing_ok=True)
    cv2.imwrite(str(photo.with_suffix(".jpg")), noise)
    summary = _build(raw, tmp_path / "out")
    reasons = {item["image"]: item["reason"] for item in summary.skipped}
    assert "no ColorChecker found and no patch colours annotated" in reasons[photo.stem]
    assert summary.images == 4


def _rename_image(root: Path, old: str, new: str) -> None:
    """Rename one source image everywhere in a synth set (photo, annotations, list lines)."""
    for path in sorted(root.rglob(f"{old}*")):
        if path.is_file():
            path.rename(path.with_name(path.name.replace(old, new, 1)))
    for listed in (root / "annotations").glob("*_list.txt"):
        listed.write_text(listed.read_text().replace(f"{old}_", f"{new}_"))


def _largest_sorts_last(scenes: Path, target: Path) -> Path:
    """A copy of the scenes whose image with the most stage-B work (largest crop) sorts last by name.

    Stage B runs the largest tasks first, and stage A prepares images in name order: the
    last image prepared is the first whose composites are made, right after its pixel
    cache went to the writer thread (the README's first-contact failure).
    """
    raw = _copy_scenes(scenes, target)
    crops = {p.stem: json.loads(p.read_text()) for p in (raw / "annotations" / "crops").glob("*.json")}
    largest = max(crops, key=lambda name: (crops[name]["width"] * crops[name]["height"], name))
    _rename_image(raw, largest, "SynthZZ-9999")
    return raw


def test_in_process_hand_off_is_ordered_whatever_the_writer_speed(
    scenes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ccharmony.dataset.writer import DatasetWriter

    raw = _largest_sorts_last(scenes, tmp_path / "swapped")
    reference = tmp_path / "reference"
    _build(raw, reference)
    original = DatasetWriter._write_now

    def slow(self: DatasetWriter, path: Path, data: object) -> None:
        if path.suffix == ".npy":
            time.sleep(0.05)  # the stage-A pixel cache lands 50 ms late, each file
        original(self, path, data)  # type: ignore[arg-type]

    monkeypatch.setattr(DatasetWriter, "_write_now", slow)
    # Without the completion handle, stage B reads a cache file still queued: the test can fail.
    real_wait = DatasetWriter.wait_for
    monkeypatch.setattr(DatasetWriter, "wait_for", lambda self, paths: None)
    with pytest.raises(FileNotFoundError, match=r"\.(real-bgr|mask-bits)\.npy"):
        _build(raw, tmp_path / "unordered")
    monkeypatch.setattr(DatasetWriter, "wait_for", real_wait)
    _build(raw, tmp_path / "slow")
    assert _tree(tmp_path / "slow") == _tree(reference)
    assert _build_json(tmp_path / "slow") == _build_json(reference)


def test_relative_out_is_written_once(built: Path, scenes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative --out (the README's `--out dataset`): the folder is never joined to itself."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    summary = _build(scenes, Path("ds"))
    assert summary.out == Path("ds")
    assert sorted(p.name for p in work.iterdir()) == ["ds"]
    assert not (work / "ds" / "ds").exists()
    assert _tree(work / "ds") == _tree(built)
    assert _build_json(work / "ds") == _build_json(built)
