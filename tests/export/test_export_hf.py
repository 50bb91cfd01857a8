"""The ``hf`` export loaded by the real ``datasets`` package, offline, in a fresh process."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from ccharmony.export import export_hf

pytest.importorskip("datasets")

# Runs in a child process: HF_*_OFFLINE are read when `datasets` is imported, and the package's own
# warnings stay out of this suite's warnings-are-errors policy.
_LOADER = r"""
import hashlib, json, sys
import numpy as np
import datasets
out = {"version": datasets.__version__, "splits": {}}
loaded = datasets.load_dataset(sys.argv[1])
out["keys"] = sorted(loaded.keys())
for split, table in loaded.items():
    features = {name: type(feature).__name__ for name, feature in table.features.items()}
    raw = table.cast_column("composite", datasets.Image(decode=False))
    raw = raw.cast_column("mask", datasets.Image(decode=False)).cast_column("real", datasets.Image(decode=False))
    rows = []
    for decoded, stored in zip(table, raw):
        row = {}
        for column in ("composite", "mask", "real"):
            pixels = np.asarray(decoded[column])
            row[column] = {"bytes": hashlib.sha256(stored[column]["bytes"]).hexdigest(),
                           "path": stored[column]["path"], "mode": decoded[column].mode,
                           "shape": list(pixels.shape), "pixels": hashlib.sha256(pixels.tobytes()).hexdigest()}
        row["meta"] = {k: v for k, v in decoded.items() if k not in ("composite", "mask", "real")}
        rows.append(row)
    out["splits"][split] = {"num_rows": table.num_rows, "features": features, "rows": rows}
print(json.dumps(out))
"""


def _load(folder: Path, cache: Path) -> dict:
    env = dict(os.environ, HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", HF_HOME=str(cache),
               HF_DATASETS_CACHE=str(cache / "datasets"), HF_HUB_DISABLE_TELEMETRY="1")
    done = subprocess.run([sys.executable, "-c", _LOADER, str(folder)], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _expected(path: Path) -> dict:
    """The file's bytes and its pixels as PIL decodes them (independently of the export)."""
    with Image.open(path) as image:
        pixels = np.asarray(image)
        mode = image.mode
    return {"bytes": hashlib.sha256(path.read_bytes()).hexdigest(), "path": path.name, "mode": mode,
            "shape": list(pixels.shape), "pixels": hashlib.sha256(pixels.tobytes()).hexdigest()}


def _same(value: object, expected: object) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return value is None or (isinstance(value, float) and math.isnan(value))
    if isinstance(expected, (list, np.ndarray)):
        return list(value) == list(expected)  # type: ignore[call-overload]
    return value == expected


@pytest.mark.slow
def test_load_dataset_gives_both_splits_with_the_source_files(dataset: Path, tmp_path: Path) -> None:
    result = export_hf(dataset, tmp_path / "hf", shard_size=7)
    assert result.shards == {"train": 3, "test": 2}  # ceil(18 / 7), ceil(12 / 7)
    loaded = _load(tmp_path / "hf", tmp_path / "cache")
    assert loaded["keys"] == ["test", "train"]
    frame = pd.read_parquet(dataset / "metadata.parquet")
    for split in ("train", "test"):
        names = (dataset / f"tiny{split}.txt").read_text().split()
        got = loaded["splits"][split]
        assert got["num_rows"] == len(names) == (18 if split == "train" else 12)
        assert {got["features"][c] for c in ("composite", "mask", "real")} == {"Image"}
        assert list(got["features"])[3:] == list(frame.columns)  # every metadata column, in order
        rows = frame.set_index("composite_file_name")
        for name, row in zip(names, got["rows"]):
            source = rows.loc[f"composite_images/{name}"]
            assert row["composite"] == _expected(dataset / "composite_images" / name)
            assert row["mask"] == _expected(dataset / source["mask_file_name"])
            assert row["real"] == _expected(dataset / source["real_file_name"])
            assert row["mask"]["mode"] == "L" and row["composite"]["mode"] == "RGB"
            assert row["meta"]["composite_file_name"] == f"composite_images/{name}"
            for column, value in source.items():
                assert _same(row["meta"][column], value), (name, column, row["meta"][column], value)


def test_card_yaml_declares_a_config_per_split(dataset: Path, tmp_path: Path) -> None:
    export_hf(dataset, tmp_path / "hf")
    text = (tmp_path / "hf" / "README.md").read_text()
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["configs"] == [{"config_name": "default", "data_files": [
        {"split": "train", "path": "data/train-*.parquet"}, {"split": "test", "path": "data/test-*.parquet"}]}]
    assert front["license"] == "mit" and front["tags"] == ["image-harmonization"]  # kept from the source card
    assert "dataset_info" not in front  # the source folder's counts do not describe the export
    assert sorted(p.name for p in (tmp_path / "hf" / "data").iterdir()) == [
        "test-00000-of-00001.parquet", "train-00000-of-00001.parquet"]
    # the source card travels with its plot, byte for byte
    assert (tmp_path / "hf" / "DATASET_CARD.md").read_bytes() == (dataset / "DATASET_CARD.md").read_bytes()
    assert (tmp_path / "hf" / "card" / "plot.png").read_bytes() == (dataset / "card" / "plot.png").read_bytes()


def test_parquet_holds_the_file_bytes_and_the_image_features(dataset: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    export_hf(dataset, tmp_path / "hf")
    table = pq.read_table(tmp_path / "hf" / "data" / "test-00000-of-00001.parquet")
    features = json.loads(table.schema.metadata[b"huggingface"])["info"]["features"]
    assert features["composite"] == {"_type": "Image"} and features["k"]["dtype"] == "int64"
    first = table.slice(0, 1).to_pylist()[0]
    name = (dataset / "tinytest.txt").read_text().split()[0]
    assert first["composite"] == {"bytes": (dataset / "composite_images" / name).read_bytes(), "path": name}
    with pytest.raises(Exception, match=r"--shard-size must be at least 1, got 0"):
        export_hf(dataset, tmp_path / "zero", shard_size=0)
