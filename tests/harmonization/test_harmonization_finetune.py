"""The ccHarmony protocol end to end at toy sizes: pre-train on one dataset, fine-tune from its weights on another."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ccharmony.errors import ConfigError
from ccharmony.harmonization.benchmark import BenchmarkOptions, run_benchmark
from ccharmony.harmonization.checkpoint import apply_weights, build_from_checkpoint, match_weights, read_checkpoint
from ccharmony.harmonization.data import HarmonizationDataset, make_loader
from ccharmony.harmonization.engine import seed_everything
from ccharmony.harmonization.losses import MaskWeightedMSE
from ccharmony.harmonization.models import ModelOptions, UNetOptions, build_model
from ccharmony.harmonization.presets import Preset
from harmonization_toy import write_toy_dataset

PRETRAIN = Preset(name="test-pretrain", train_size=32, eval_size=64, width=4, epochs=3, teacher_epochs=1,
                  batch_size=4, min_area=4.0, num_threads=1, eval_batch_size=8, lr_milestones=(1.0,),
                  learning_rate=3e-3, num_workers=0)
FINETUNE = replace(PRETRAIN, name="test-finetune", epochs=1, learning_rate=1e-4, pretrained_with="test-pretrain")


def _options(**changes) -> BenchmarkOptions:  # noqa: ANN003
    values = {"models": ("composite", "unet"), "preset": FINETUNE, "device": "cpu", "progress": False,
              "grid_images": 1, "protocol": "ours"}
    return BenchmarkOptions(**{**values, **changes})


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("finetune")
    first = write_toy_dataset(root / "first", scenes=5, width=48, height=40, test_scenes=2, seed=0)
    second = write_toy_dataset(root / "second", scenes=4, width=56, height=40, test_scenes=1, seed=11)
    return first, second


@pytest.fixture(scope="module")
def pretrained(datasets: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    first, _ = datasets
    result = run_benchmark(first, out_dir=tmp_path_factory.mktemp("pre"),
                           options=_options(preset=PRETRAIN, models=("composite", "unet", "issam-rd")))
    return result.run_dir


def _first_batch(dataset_dir: Path, out: Path) -> dict:
    """The first training batch of a run on ``dataset_dir`` (seed 0), rebuilt here as the benchmark builds it."""
    dataset = HarmonizationDataset(dataset_dir, "train", size=32, train=True, seed=0, cache_dir=out / ".cache",
                                   min_side_factor=2.0)
    assert dataset.prepare(progress=False) == 0  # the run's cache, already built
    loader = make_loader(dataset, batch_size=4, shuffle=True, seed=0, drop_last=True)
    loader.sampler.set_epoch(0)
    return next(iter(loader))


def _loss(model: torch.nn.Module, batch: dict) -> float:
    model.train()
    with torch.no_grad():
        outputs = model(batch["images"], batch["masks"])
    return float(MaskWeightedMSE(4.0)(outputs["images"], batch["target_images"], batch["masks"]))


def test_finetune_from_a_checkpoint_uses_its_weights(datasets: tuple[Path, Path], pretrained: Path,
                                                     tmp_path: Path) -> None:
    _, second = datasets
    checkpoint = pretrained / "unet" / "checkpoints" / "last.pt"
    result = run_benchmark(second, out_dir=tmp_path, options=_options(init_from=str(checkpoint)))
    keys = list(build_model("unet", ModelOptions(unet=UNetOptions(width=4))).state_dict())
    report = result.init_reports["unet"]
    assert report.matched == tuple(keys) and report.missing == () and report.unexpected == ()
    assert report.mismatched == () and report.source == str(checkpoint)
    written = json.loads((result.run_dir / "unet" / "init.json").read_text())
    assert written == report.to_dict() and written["summary"].startswith(f"{len(keys)} matched, 0 missing")
    # The first step's loss is the pre-trained model's loss on the new data's first batch, not a fresh one's.
    batch = _first_batch(second, tmp_path)
    pretrained_model = build_from_checkpoint(read_checkpoint(checkpoint))
    expected = _loss(pretrained_model, batch)
    assert result.train_results["unet"].first_step_loss == pytest.approx(expected, rel=1e-5)
    seed_everything(0)
    fresh = _loss(build_model("unet", ModelOptions(unet=UNetOptions(width=4))), batch)
    assert abs(fresh - expected) > 0.05 * expected
    meta = json.loads(result.paths["json"].read_text())["meta"]
    assert meta["init_reports"]["unet"]["matched"] == keys
    assert any(note.startswith(f"unet initialised from {checkpoint}: {len(keys)} matched") for note in meta["notes"])


def test_finetune_from_a_run_folder_initialises_the_teacher_too(datasets: tuple[Path, Path], pretrained: Path,
                                                                tmp_path: Path) -> None:
    _, second = datasets
    result = run_benchmark(second, out_dir=tmp_path,
                           options=_options(models=("composite", "issam-rd"), init_from=str(pretrained)))
    assert set(result.init_reports) == {"issam-rd", "teacher"}
    for name in ("issam-rd", "teacher"):
        report = result.init_reports[name]
        assert report.source == str(pretrained / name / "checkpoints" / "last.pt")
        assert report.matched and not report.missing and not report.unexpected and not report.mismatched
        assert (result.run_dir / name / "init.json").is_file()


def test_a_plain_state_dict_initialises_the_one_learned_model(datasets: tuple[Path, Path], pretrained: Path,
                                                              tmp_path: Path) -> None:
    _, second = datasets
    state = read_checkpoint(pretrained / "unet" / "checkpoints" / "last.pt").weights
    plain = tmp_path / "plain.pth"
    torch.save(state, plain)  # what iSSAM's save_checkpoint writes: net.state_dict()
    result = run_benchmark(second, out_dir=tmp_path / "runs", options=_options(init_from=str(plain)))
    assert result.init_reports["unet"].matched == tuple(state)
    with pytest.raises(ConfigError, match="select exactly one learned model, not 2"):
        run_benchmark(second, out_dir=tmp_path / "runs",
                      options=_options(models=("unet", "issam"), init_from=str(plain)))


def test_weights_of_another_width_are_refused_and_reported(datasets: tuple[Path, Path], pretrained: Path,
                                                           tmp_path: Path) -> None:
    _, second = datasets
    checkpoint = pretrained / "unet" / "checkpoints" / "last.pt"
    with pytest.raises(ConfigError, match=r"--init-from weights do not fit model 'unet': \d+ matched, 0 missing, "
                                          r"0 unexpected, \d+ shape mismatches \(first: "):
        run_benchmark(second, out_dir=tmp_path, options=_options(preset=replace(FINETUNE, width=8),
                                                                 init_from=str(checkpoint)))
    report = json.loads(next(tmp_path.glob("*_benchmark/unet/init.json")).read_text())
    assert report["mismatched"] and report["mismatched"][0]["checkpoint"][0] * 2 == report["mismatched"][0]["model"][0]


def test_a_checkpoint_of_another_row_or_none_is_refused(datasets: tuple[Path, Path], pretrained: Path,
                                                        tmp_path: Path) -> None:
    _, second = datasets
    checkpoint = str(pretrained / "unet" / "checkpoints" / "last.pt")
    with pytest.raises(ConfigError, match="holds weights of 'unet', which is not among the learned models selected"):
        run_benchmark(second, out_dir=tmp_path, options=_options(models=("composite", "issam"),
                                                                 init_from=checkpoint))
    with pytest.raises(ConfigError, match="holds weights of 'unet' only, but issam would be trained too"):
        run_benchmark(second, out_dir=tmp_path, options=_options(models=("unet", "issam"), init_from=checkpoint))
    with pytest.raises(ConfigError, match="fine-tunes a model pre-trained with preset 'test-pretrain': give --init-from"):
        run_benchmark(second, out_dir=tmp_path, options=_options())
    assert not any(tmp_path.glob("*_benchmark"))


def test_partial_weights_load_by_name() -> None:
    """iSSAM weights into GiftNet: the backbone matches by name, GIFT's parameters are reported missing."""
    options = ModelOptions(unet=UNetOptions(width=4))
    torch.manual_seed(0)
    source = build_model("issam", options).state_dict()
    target = build_model("giftnet", options)
    report = match_weights(target, {**source, "extra.weight": torch.zeros(1)}, source="issam.pth", name="giftnet")
    assert report.matched and report.missing and report.unexpected == ("extra.weight",) and not report.mismatched
    assert set(report.matched) == set(source) & set(target.state_dict())
    missing_before = {key: target.state_dict()[key].clone() for key in report.missing}
    apply_weights(target, source, report)
    state = target.state_dict()
    for key in report.matched:
        assert torch.equal(state[key], source[key]), key
    for key, value in missing_before.items():
        assert torch.equal(state[key], value), key
    with pytest.raises(ConfigError, match="shares no parameter name with model 'giftnet'"):
        apply_weights(target, {"x": torch.zeros(1)}, match_weights(target, {"x": torch.zeros(1)},
                                                                    source="x.pth", name="giftnet"))
