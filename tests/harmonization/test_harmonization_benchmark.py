"""End-to-end benchmark on toy datasets: report, seeds, resume, separate train/test data, subsets, CLI."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ccharmony.errors import ConfigError
from ccharmony.harmonization.benchmark import RUN_MARKER, BenchmarkOptions, run_benchmark
from ccharmony.harmonization.data import HarmonizationDataset, read_mask, read_rgb
from ccharmony.harmonization.metrics import METRIC_NAMES
from ccharmony.harmonization.predict import load_model, score_prediction_folder
from ccharmony.harmonization.presets import Preset
from harmonization_toy import write_toy_dataset

TINY = Preset(name="test-tiny", train_size=32, eval_size=64, width=4, epochs=1, teacher_epochs=1,
              batch_size=4, min_area=4.0, num_threads=1, eval_batch_size=8, lr_milestones=(1.0,), num_workers=0)
# Baselines, a legacy U-Net row, and the iSSAM rows (GiftNet with its teacher).
MODELS = ("composite", "reinhard", "unet", "issam", "giftnet")


def _options(**changes) -> BenchmarkOptions:  # noqa: ANN003
    values = {"models": ("composite", "unet"), "preset": TINY, "device": "cpu", "progress": False,
              "grid_images": 1, "protocol": "ours"}
    return BenchmarkOptions(**{**values, **changes})


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_dataset(tmp_path_factory.mktemp("bench") / "data", scenes=5, width=48, height=40,
                             test_scenes=2)


@pytest.fixture(scope="module")
def run(data: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    options = BenchmarkOptions(models=tuple(reversed(MODELS)), preset=TINY, device="cpu", protocol="ours",
                               save_predictions=True, progress=False, grid_images=3)
    return data, run_benchmark(data, out_dir=tmp_path_factory.mktemp("runs"), options=options)


def test_report_rows_composite_first(run) -> None:  # noqa: ANN001
    _, result = run
    assert result.run_dir.name == "000_benchmark"
    assert list(result.summary) == list(MODELS)
    text = result.paths["markdown"].read_text()
    assert "re-implementation from the paper's description" in text
    assert "official code and weights unreleased" in text
    table = [line for line in text.splitlines() if line.startswith("| ") and "|---" not in line]
    assert [line.split("|")[1].strip() for line in table[1:6]] == list(MODELS)
    report = json.loads(result.paths["json"].read_text())
    assert report["protocol"]["name"] == "ours" and report["psnr_peak"] == "255"
    assert set(report["summary"]) == set(MODELS)
    assert set(report["meta"]["model_configs"]) == set(MODELS)
    from ccharmony.harmonization.models import ModelOptions, UNetOptions, model_config

    options = ModelOptions(unet=UNetOptions(width=TINY.width), relation_stages=TINY.relation_stages)
    for name in MODELS:  # every row's definition, as the library builds it
        assert report["meta"]["model_configs"][name] == json.loads(json.dumps(model_config(name, options).to_dict()))
    assert report["meta"]["train_count"] == 6 and report["meta"]["test_count"] == 4
    assert (result.run_dir / RUN_MARKER).read_text() == "ccharmony-benchmark-run-1\n"


def test_composite_row_is_the_composite_error(run) -> None:  # noqa: ANN001
    data, result = run
    dataset = HarmonizationDataset(data, "test", size=64)
    expected = []
    for index in range(len(dataset)):
        composite, real, mask = dataset.read(index)
        d = composite.astype(float) - real.astype(float)
        expected.append((mask[..., None] * d**2).sum() / (3 * mask.sum()))
    assert result.summary["composite"]["metrics"]["fMSE"] == pytest.approx(np.mean(expected))
    assert result.summary["composite"]["metrics"]["fMSE"] > 50  # the toy shift is visible


def test_saved_predictions_reproduce_csv(run) -> None:  # noqa: ANN001
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


def test_grid_checkpoints_and_the_shared_teacher(run) -> None:  # noqa: ANN001
    _, result = run
    grid = read_rgb(result.paths["grid"])
    assert grid.shape == (24 + 3 * 128, (len(MODELS) + 2) * 128, 3)
    model, meta = load_model(result.run_dir / "giftnet" / "checkpoints" / "last.pt")
    from ccharmony.harmonization.models import ISSAMNet

    assert isinstance(model, ISSAMNet) and meta["epoch"] == 1 and meta["inference_size"] == 64
    # One distilled row: one teacher, in teacher/.
    assert (result.run_dir / "teacher" / "checkpoints" / "last.pt").is_file()
    assert "teacher" in result.train_results
    first_loss = result.train_results["giftnet"].first_step_loss
    assert first_loss is not None and first_loss > 0


def test_seeds_train_each_row_per_seed(data: Path, tmp_path: Path) -> None:
    result = run_benchmark(data, out_dir=tmp_path, options=_options(seeds=(0, 1)))
    rows = result.per_image["unet"]
    assert sorted({row["seed"] for row in rows}) == [0, 1] and len(rows) == 8
    assert all("seed" not in row for row in result.per_image["composite"])  # baselines once
    entry = result.summary["unet"]
    assert entry["seeds"] == [0, 1] and set(entry["per_seed"]["fMSE"]) == {"0", "1"}
    per_seed = [np.mean([r["fMSE"] for r in rows if r["seed"] == s]) for s in (0, 1)]
    assert entry["per_seed"]["fMSE"]["0"] == pytest.approx(per_seed[0])
    assert entry["std"]["fMSE"] == pytest.approx(np.std(per_seed, ddof=1))
    saved = json.loads(result.paths["json"].read_text())["summary"]["unet"]  # per-seed values in report.json
    assert saved["per_seed"]["fMSE"]["1"] == pytest.approx(per_seed[1])
    assert saved["std"]["fMSE"] == pytest.approx(np.std(per_seed, ddof=1))
    states = [torch.load(result.run_dir / "unet" / f"seed-{s}" / "checkpoints" / "last.pt", weights_only=True)
              for s in (0, 1)]
    assert states[0]["seed"] == 0 and states[1]["seed"] == 1
    assert not torch.equal(states[0]["model"]["encoder.stages.0.0.weight"], states[1]["model"]["encoder.stages.0.0.weight"])


def test_workers_do_not_change_the_run(data: Path, tmp_path: Path) -> None:
    results = [run_benchmark(data, out_dir=tmp_path / f"w{workers}", options=_options(num_workers=workers))
               for workers in (0, 2)]
    states = [torch.load(result.run_dir / "unet" / "checkpoints" / "last.pt", weights_only=True)["model"]
              for result in results]
    for key, value in states[0].items():
        assert torch.equal(value, states[1][key]), key
    assert results[0].summary["unet"]["metrics"] == results[1].summary["unet"]["metrics"]


def test_resume_only_the_same_run(data: Path, tmp_path: Path) -> None:
    first = run_benchmark(data, out_dir=tmp_path, options=_options())
    checkpoint = first.run_dir / "unet" / "checkpoints" / "last.pt"
    before = checkpoint.read_bytes()
    again = run_benchmark(data, out_dir=tmp_path, options=_options(resume=str(first.run_dir)))
    assert again.run_dir == first.run_dir and again.train_results["unet"].epochs_run == 0
    assert checkpoint.read_bytes() == before and again.summary["unet"]["metrics"] == first.summary["unet"]["metrics"]
    snapshot = {path: path.read_bytes() for path in first.run_dir.rglob("*") if path.is_file()}
    with pytest.raises(ConfigError, match=r"cannot resume: seeds differs from the run's \(run: \[0\]; now: \[1\]\)"):
        run_benchmark(data, out_dir=tmp_path, options=_options(seed=1, resume=str(first.run_dir)))
    other = write_toy_dataset(tmp_path / "other", scenes=5, width=48, height=40, test_scenes=2, seed=9)
    with pytest.raises(ConfigError, match="cannot resume: test_data differs from the run's"):
        run_benchmark(other, out_dir=tmp_path, options=_options(resume=str(first.run_dir)))
    assert {path: path.read_bytes() for path in first.run_dir.rglob("*") if path.is_file()} == snapshot


def test_resume_refuses_a_folder_it_did_not_write(data: Path, tmp_path: Path) -> None:
    mine = tmp_path / "my-notes"
    mine.mkdir()
    (mine / "report.md").write_text("my own report\n")
    with pytest.raises(ConfigError, match=f"{mine}: not a run folder of ccharmony benchmark"):
        run_benchmark(data, out_dir=tmp_path, options=_options(resume=str(mine)))
    assert (mine / "report.md").read_text() == "my own report\n" and sorted(p.name for p in mine.iterdir()) == [
        "report.md"]


def test_separate_train_and_test_data(data: Path, tmp_path: Path) -> None:
    other = write_toy_dataset(tmp_path / "other", scenes=4, width=40, height=40, test_scenes=1, seed=3)
    result = run_benchmark(train_dir=other, test_dir=data, out_dir=tmp_path / "runs", options=_options())
    report = json.loads(result.paths["json"].read_text())
    assert report["meta"]["train_count"] == 6 and report["meta"]["test_count"] == 4
    assert report["meta"]["train_dataset"] == str(other) and report["meta"]["test_dataset"] == str(data)
    assert sorted(row["name"] for row in result.per_image["unet"]) == sorted(
        HarmonizationDataset(data, "test", size=64).names)


def test_ihd_root_trains_on_every_subset_and_reports_each(tmp_path: Path) -> None:
    root = tmp_path / "IHD"
    for seed, subset in enumerate(("HCOCO", "HFlickr")):
        folder = write_toy_dataset(root / subset, scenes=3, width=40, height=32, test_scenes=1, seed=seed)
        for path in (folder / "real_images").iterdir():  # distinct names per subset, as in iHarmony4
            path.rename(path.with_name(subset[1].lower() + path.name))
        for path in (folder / "masks").iterdir():
            path.rename(path.with_name(subset[1].lower() + path.name))
        for path in (folder / "composite_images").iterdir():
            path.rename(path.with_name(subset[1].lower() + path.name))
        lines = {split: [f"{subset}/composite_images/{subset[1].lower()}{line.split('/')[-1]}"
                         for line in (folder / f"Toy_{split}.txt").read_text().split()] for split in ("train", "test")}
        for split in ("train", "test"):
            (folder / f"Toy_{split}.txt").unlink()
            with open(root / f"IHD_{split}.txt", "a") as stream:
                stream.write("\n".join(lines[split]) + "\n")
    result = run_benchmark(root, out_dir=tmp_path / "runs", options=_options())
    assert json.loads(result.paths["json"].read_text())["meta"]["train_count"] == 8
    assert sorted(result.subsets) == ["HCOCO", "HFlickr"]
    for subset, paths in result.subsets.items():
        sub = json.loads(paths["json"].read_text())
        assert sub["meta"]["subset"] == subset and sub["summary"]["unet"]["count"] == 2
        with open(paths["csv"], newline="") as stream:
            names = {row["name"] for row in csv.DictReader(stream)}
        assert all(name.startswith(subset[1].lower()) for name in names)
    assert result.summary["unet"]["count"] == 4


def test_both_list_spellings_score_each_test_image_once(data: Path, tmp_path: Path) -> None:
    """The double-list crash: with ccHarmonytest.txt beside Toy_test.txt every image was scored twice."""
    copy = Path(shutil.copytree(data, tmp_path / "copy"))
    for split in ("train", "test"):
        names = [line.split("/")[-1] for line in (copy / f"Toy_{split}.txt").read_text().split()]
        (copy / f"Toy{split}.txt").write_text("\n".join(names) + "\n")
    result = run_benchmark(copy, out_dir=tmp_path / "runs", options=_options(models=("composite",)))
    assert len(result.per_image["composite"]) == 4


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ccharmony", *args], capture_output=True, text=True,
                          timeout=300)


def test_cli_harmonize(run, tmp_path: Path) -> None:  # noqa: ANN001
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


def test_cli_score_adds_a_row_that_reproduces_the_trained_one(run) -> None:  # noqa: ANN001
    data, result = run
    done = _cli("benchmark", "score", "--data", str(data), "--predictions",
                str(result.run_dir / "predictions" / "unet"), "--name", "unet-saved", "--protocol", "ours",
                "--run", str(result.run_dir))
    assert done.returncode == 0, done.stderr
    report = json.loads((result.run_dir / "report.json").read_text())
    assert report["summary"]["unet-saved"]["metrics"] == report["summary"]["unet"]["metrics"]
    assert done.stdout.splitlines()[-1] == f"report: {result.run_dir / 'report.md'} (protocol ours)"


def test_cli_parses_both_suites() -> None:
    from ccharmony.cli import benchmark as cli_benchmark
    from ccharmony.harmonization.models import DEFAULT_MODELS
    from ccharmony.harmonization.presets import PRESETS
    from ccharmony.harmonization.protocols import DEFAULT_PROTOCOL, PROTOCOL_NAMES

    assert cli_benchmark.PRESET_NAMES == tuple(PRESETS)
    assert cli_benchmark.PROTOCOL_NAMES == PROTOCOL_NAMES and PROTOCOL_NAMES[0] == DEFAULT_PROTOCOL
    assert cli_benchmark.DEFAULT_MODELS == ",".join(DEFAULT_MODELS)
    done = _cli("benchmark", "--help")
    assert done.returncode == 0 and "giftnet" in done.stdout and "score" in done.stdout
    for suite in ("giftnet", "score"):
        assert _cli("benchmark", suite, "--help").returncode == 0


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    done = _cli("benchmark", "giftnet", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "runs"))
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "dataset folder not found" in done.stderr
    done = _cli("benchmark", "giftnet", "--data", str(tmp_path), "--models", "unet,dovenet")
    assert done.returncode == 2 and "unknown model 'dovenet'" in done.stderr
    assert not (tmp_path / "runs").exists()
