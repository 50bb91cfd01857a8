"""End-to-end benchmark on a toy dataset, re-scoring of saved predictions, CLI."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from ccharmony.harmonization.benchmark import BenchmarkOptions, run_benchmark
from ccharmony.harmonization.data import HarmonizationDataset, read_mask, read_rgb
from ccharmony.harmonization.metrics import METRIC_NAMES
from ccharmony.harmonization.predict import load_model, score_prediction_folder
from ccharmony.harmonization.presets import Preset
from harmonization_toy import write_toy_dataset

TINY = Preset(name="test-tiny", train_size=32, eval_size=64, width=4, epochs=1, teacher_epochs=1,
              batch_size=4, min_area=4.0, num_threads=1, eval_batch_size=8, lr_milestones=(1.0,))
MODELS = ("composite", "reinhard", "unet", "unet-gift", "unet-rd", "giftnet")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    data = write_toy_dataset(root / "data", scenes=5, width=48, height=40, test_scenes=2)
    options = BenchmarkOptions(models=tuple(reversed(MODELS)), preset=TINY, device="cpu",
                               save_predictions=True, progress=False, grid_images=3)
    return data, run_benchmark(data, out_dir=root / "runs", options=options)


def test_report_rows_composite_first(run):
    _, result = run
    assert result.run_dir.name == "000_benchmark"
    assert list(result.summary) == list(MODELS)
    text = result.paths["markdown"].read_text()
    assert "re-implementation from the paper's description" in text
    assert "official code and weights unreleased" in text
    table = [line for line in text.splitlines() if line.startswith("| ") and "|---" not in line]
    assert [line.split("|")[1].strip() for line in table[1:7]] == list(MODELS)
    report = json.loads(result.paths["json"].read_text())
    assert report["psnr_peak"] == "255" and set(report["summary"]) == set(MODELS)


def test_composite_row_is_the_composite_error(run):
    data, result = run
    dataset = HarmonizationDataset(data, "test", size=64)
    expected = []
    for index in range(len(dataset)):
        composite, real, mask = dataset.read(index)
        d = composite.astype(float) - real.astype(float)
        expected.append((mask[..., None] * d**2).sum() / (3 * mask.sum()))
    assert result.summary["composite"]["metrics"]["fMSE"] == pytest.approx(np.mean(expected))
    assert result.summary["composite"]["metrics"]["fMSE"] > 50  # the toy shift is visible


def test_saved_predictions_reproduce_csv(run):
    data, result = run
    with open(result.paths["csv"], newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == len(MODELS) * 4
    dataset = HarmonizationDataset(data, "test", size=64)
    for model in MODELS:
        rescored = score_prediction_folder(result.run_dir / "predictions" / model, dataset)
        saved = [row for row in rows if row["model"] == model]
        assert [row["name"] for row in saved] == [row["name"] for row in rescored]
        for csv_row, new_row in zip(saved, rescored):
            for name in METRIC_NAMES:
                assert float(csv_row[name]) == pytest.approx(new_row[name], rel=1e-12, abs=1e-12), (model, name)
            assert float(csv_row["foreground_ratio"]) == pytest.approx(new_row["foreground_ratio"])


def test_grid_and_checkpoints(run):
    _, result = run
    grid = read_rgb(result.paths["grid"])
    assert grid.shape == (24 + 3 * 128, (len(MODELS) + 2) * 128, 3)
    model, meta = load_model(result.run_dir / "giftnet" / "checkpoints" / "last.pt")
    assert type(model).__name__ == "GiftNet" and meta["epoch"] == 1 and meta["inference_size"] == 64
    assert (result.run_dir / "teacher" / "checkpoints" / "last.pt").is_file()
    assert "teacher" in result.train_results


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ccharmony", *args], capture_output=True, text=True,
                          timeout=300)


def test_cli_harmonize(run, tmp_path):
    data, result = run
    composite = data / "composite_images" / "scene004_1_1.jpg"
    mask_path = data / "masks" / "scene004_1.png"
    out = tmp_path / "out.png"
    done = _cli("harmonize", "--checkpoint", str(result.run_dir / "giftnet" / "checkpoints" / "last.pt"),
                str(composite), str(mask_path), "-o", str(out))
    assert done.returncode == 0, done.stderr
    harmonized = read_rgb(out)
    original = read_rgb(composite)
    mask = read_mask(mask_path)
    assert harmonized.shape == original.shape
    np.testing.assert_array_equal(harmonized[~mask], original[~mask])


def test_cli_errors_are_one_line(tmp_path):
    done = _cli("benchmark", "giftnet", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "runs"))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "dataset folder not found" in done.stderr
    done = _cli("harmonize", "--checkpoint", str(tmp_path / "none.pt"), "a.jpg", "m.png", "-o", "o.png")
    assert done.returncode == 2 and "checkpoint not found" in done.stderr
    done = _cli("benchmark", "giftnet", "--data", str(tmp_path), "--models", "unet,dovenet")
    assert done.returncode == 2 and "unknown model 'dovenet'" in done.stderr
