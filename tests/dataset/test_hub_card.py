"""
The dataset folder itself on the Hugging Face side, and the published-id mapping (issue 15, A and B).

- ``datasets.load_dataset(DIR)`` (the real package, offline, in a child process) gives exactly
  ``{'train', 'test'}`` with the list's composites, their files' bytes and the metadata;
- ``load_dataset("imagefolder", data_dir=DIR)`` gives the one split the card says it does;
- ``published_ids.csv`` maps every published name (an image name with ``_``) to its id, so the
  annotation set's own ``train_list.txt``/``test_list.txt`` lines are all found.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ccharmony.dataset.builder import BuildOptions, build_dataset
from ccharmony.dataset.config import Pipeline
from ccharmony.dataset.layout import SPLIT_METADATA_FILES

RENAMED = ("Synth5DMarkII-0001", "Canon1DsMkIII_0010")
"""One image renamed to a published NUS-8 name: ids hold no ``_``, so the build renames it."""


def _rename_image(root: Path, old: str, new: str) -> None:
    """Rename an image of a synth set everywhere: its files (photo, masks, crops ...) and list lines."""
    for path in sorted(root.rglob(f"{old}*")):
        path.rename(path.with_name(new + path.name[len(old):]))
    for name in ("train_list.txt", "test_list.txt"):
        path = root / "annotations" / name
        if path.is_file():
            path.write_text(path.read_text().replace(old, new))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ccharmony.synth import synthesize

    scenes = tmp_path_factory.mktemp("scenes")
    synthesize(scenes, count=5, seed=3, size=(240, 160), relit=False)
    _rename_image(scenes, *RENAMED)
    out = tmp_path_factory.mktemp("hub") / "ds"
    build_dataset(BuildOptions(out=out, raw_dir=scenes / "raw", annotations=scenes / "annotations",
                               pipeline=Pipeline(k=3, name="tiny"), seed=1, progress=False))
    shutil.copytree(scenes / "annotations", out.parent / "annotations")
    return out


_LOADER = r"""
import hashlib, json, sys
import datasets
folder = sys.argv[1]
hub = datasets.load_dataset(folder)
result = {"splits": sorted(hub), "rows": {}}
for split, table in hub.items():
    table = table.cast_column("composite", datasets.Image(decode=False))
    result["features"] = {name: type(feature).__name__ for name, feature in table.features.items()}
    result["rows"][split] = [
        {"foreground_id": row["foreground_id"], "k": row["k"], "split": row["split"],
         "composite_sha256": row["composite_sha256"],
         "bytes_sha256": hashlib.sha256(row["composite"]["bytes"] or open(row["composite"]["path"], "rb").read()).hexdigest()}
        for row in table]
folder_view = datasets.load_dataset("imagefolder", data_dir=folder)
result["imagefolder"] = {split: table.num_rows for split, table in folder_view.items()}
print(json.dumps(result))
"""


def _load(folder: Path, cache: Path) -> dict:
    env = dict(os.environ, HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", HF_HOME=str(cache),
               HF_DATASETS_CACHE=str(cache / "datasets"), HF_HUB_DISABLE_TELEMETRY="1")
    done = subprocess.run([sys.executable, "-c", _LOADER, str(folder)], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_load_dataset_of_the_folder_gives_train_and_test(dataset: Path, tmp_path: Path) -> None:
    loaded = _load(dataset, tmp_path / "hf")
    frame = pd.read_parquet(dataset / "metadata.parquet")
    assert loaded["splits"] == ["test", "train"]
    for split in ("train", "test"):
        listed = (dataset / f"tiny{split}.txt").read_text().split()
        rows = loaded["rows"][split]
        assert len(rows) == len(listed) == int((frame["split"] == split).sum()) > 0
        assert {row["split"] for row in rows} == {split}
        # Every composite of the list, once, with its file's bytes.
        expected = {f"{r.foreground_id}_{r.k}.jpg": r.composite_sha256 for r in frame[frame["split"] == split].itertuples()}
        assert sorted(f"{row['foreground_id']}_{row['k']}.jpg" for row in rows) == sorted(listed)
        for row in rows:
            assert row["bytes_sha256"] == row["composite_sha256"] == expected[f"{row['foreground_id']}_{row['k']}.jpg"]
    assert loaded["features"]["composite"] == "Image"
    assert loaded["features"]["real"] == loaded["features"]["mask"] == "Image"
    # The imagefolder builder ignores the card's configs: one split of every composite (as the card says).
    assert loaded["imagefolder"] == {"train": len(frame)}


def test_card_yaml_and_per_split_metadata(dataset: Path) -> None:
    card = (dataset / "DATASET_CARD.md").read_bytes()
    assert (dataset / "README.md").read_bytes() == card  # the name load_dataset and the Hub read
    front = yaml.safe_load(card.decode().split("---\n")[1])
    frame = pd.read_parquet(dataset / "metadata.parquet")
    sizes = {split["name"]: split["num_examples"] for split in front["dataset_info"]["splits"]}
    assert sizes == {split: int((frame["split"] == split).sum()) for split in ("train", "test")}
    config = front["configs"][0]
    assert config["metadata_filenames"] == [SPLIT_METADATA_FILES["train"], SPLIT_METADATA_FILES["test"]]
    assert [entry["split"] for entry in config["data_files"]] == ["train", "test"]
    for split, name in SPLIT_METADATA_FILES.items():
        part = pd.read_parquet(dataset / name)
        expected = frame[frame["split"] == split].reset_index(drop=True)
        pd.testing.assert_frame_equal(part, expected)


def test_published_ids_match_the_published_lists(dataset: Path) -> None:
    frame = pd.read_parquet(dataset / "metadata.parquet")
    text = (dataset / "published_ids.csv").read_text(encoding="utf-8")
    assert text.endswith("\n") and "\r" not in text
    rows = list(csv.DictReader(text.splitlines()))
    assert list(rows[0]) == ["published_foreground", "foreground_id", "published_image", "image_id", "split"]
    assert [row["published_foreground"] for row in rows] == sorted(row["published_foreground"] for row in rows)
    by_published = {row["published_foreground"]: row for row in rows}
    # One row per foreground of the dataset, with its split.
    per_foreground = frame.groupby("foreground_id")["split"].first().to_dict()
    assert sorted(row["foreground_id"] for row in rows) == sorted(per_foreground)
    for row in rows:
        assert row["split"] == per_foreground[row["foreground_id"]]
        assert row["image_id"] == row["published_image"].replace("_", "-")
        assert row["foreground_id"] == f"{row['image_id']}_{row['published_foreground'].rsplit('_', 1)[1]}"
    # The renamed image: published with "_", "-" here.
    assert by_published[f"{RENAMED[1]}_a"]["foreground_id"] == f"{RENAMED[1].replace('_', '-')}_a"
    # Every line of the annotation set's own lists is found by its published name, in its split.
    annotations = dataset.parent / "annotations"
    for split in ("train", "test"):
        lines = [line.strip() for line in (annotations / f"{split}_list.txt").read_text().splitlines() if line.strip()]
        assert lines
        for line in lines:
            assert by_published[line]["split"] == split
    assert hashlib.sha256(text.encode()).hexdigest() == json.loads((dataset / "build.json").read_text())["files"][
        "published_ids.csv"]
