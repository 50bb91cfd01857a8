"""Distributed (DDP, gloo, 2 CPU processes) benchmark training against one process.

Launched with ``python -m torch.distributed.run --standalone --nproc_per_node 2``
(``--standalone`` picks a free port). Run as a script, this file is also the
worker of :func:`test_ddp_without_batchnorm_equals_one_process`.

Tolerances
----------
DDP with 2 processes of batch B/2 computes the same averaged gradient as one
process of batch B (the losses are batch means and the sampler splits each
global batch between the ranks), except for BatchNorm: ``SyncBatchNorm`` is
CUDA-only, so on gloo/CPU each rank normalises with its own half-batch
statistics and the running statistics are rank 0's. Hence two tests:

-   no BatchNorm (layers replaced by ``Identity``): equal up to float32
    summation order and the 8-bit rounding of predictions; measured: metrics
    identical, epoch losses within 1e-7 relative; we allow 1e-4 (metrics) and
    1e-5 (loss) for other BLAS builds. Giving both ranks the same half of the
    data instead fails it (CLI unet MSE 45.2 vs 41.3; no-BN metric off
    by 0.8 %);
-   the real UNet through the CLI: BatchNorm on batches of 1 instead of 2 over
    3 steps moved fMSE by 0.3 % (274.4 vs 273.5) and MSE by 0.4 %; we allow
    2 % on MSE/fMSE, 0.2 dB on PSNR, 0.005 on SSIM, against a training effect
    (composite -> unet) of 2 % fMSE and 0.04 SSIM. The composite row, which
    involves no training, must be identical.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

dist = pytest.importorskip("torch.distributed")
if not dist.is_available() or not dist.is_gloo_available():  # pragma: no cover - platform dependent
    pytest.skip("torch.distributed with the gloo backend is not available", allow_module_level=True)

from ccharmony.harmonization.data import EpochSampler  # noqa: E402
from harmonization_toy import write_toy_dataset  # noqa: E402

METRICS = ("MSE", "fMSE", "PSNR", "fPSNR", "SSIM", "fSSIM")


def _env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    return env


def _run(args: list[str], processes: int) -> subprocess.CompletedProcess:
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
    done = subprocess.run([*launcher, *args], capture_output=True, text=True, timeout=120, env=_env())
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _report(runs: Path) -> dict:
    folders = sorted(path for path in runs.iterdir() if not path.name.startswith("."))  # .cache: training cache
    assert [folder.name for folder in folders] == ["000_benchmark"]  # rank 1 made no folder
    return json.loads((folders[0] / "report.json").read_text())


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_dataset(tmp_path_factory.mktemp("ddp") / "data", scenes=5, width=48, height=40, test_scenes=2)


def test_sampler_ranks_split_every_global_batch() -> None:
    batch, world = 4, 2
    one = list(EpochSampler(10, seed=3))
    ranks = [list(EpochSampler(10, seed=3, rank=r, world_size=world, drop_last=True)) for r in range(world)]
    assert [len(r) for r in ranks] == [5, 5]
    for k in range(10 // batch):
        merged = sorted(i for r in ranks for i in r[k * batch // world:(k + 1) * batch // world])
        assert merged == sorted(one[k * batch:(k + 1) * batch])
    padded = [list(EpochSampler(7, seed=3, rank=r, world_size=world)) for r in range(world)]
    assert [len(r) for r in padded] == [4, 4] and set(padded[0] + padded[1]) == set(range(7))


def test_cli_torchrun_matches_one_process(data: Path, tmp_path: Path) -> None:
    args = ["-m", "ccharmony", "benchmark", "giftnet", "--data", str(data), "--models", "composite,unet",
            "--epochs", "1", "--batch-size", "2", "--device", "cpu", "--no-progress"]
    _run([*args, "--out", str(tmp_path / "one")], 1)
    _run([*args, "--out", str(tmp_path / "two")], 2)
    one, two = _report(tmp_path / "one"), _report(tmp_path / "two")
    assert one["meta"]["processes"] == 1 and two["meta"]["processes"] == 2
    assert two["summary"]["composite"]["metrics"] == one["summary"]["composite"]["metrics"]
    a, b = one["summary"]["unet"]["metrics"], two["summary"]["unet"]["metrics"]
    for name, tolerance in (("MSE", 0.02), ("fMSE", 0.02)):
        assert b[name] == pytest.approx(a[name], rel=tolerance), name
    for name, tolerance in (("PSNR", 0.2), ("fPSNR", 0.2), ("SSIM", 0.005), ("fSSIM", 0.005)):
        assert b[name] == pytest.approx(a[name], abs=tolerance), name
    assert b != a  # the unet was trained in both runs (BatchNorm makes them differ slightly)
    loss_one = one["meta"]["train_history"]["unet"][0]["loss"]
    loss_two = two["meta"]["train_history"]["unet"][0]["loss"]
    assert loss_two == pytest.approx(loss_one, rel=0.05)
    checkpoint = tmp_path / "two" / "000_benchmark" / "unet" / "checkpoints" / "last.pt"
    from ccharmony.harmonization.predict import load_model

    _, meta = load_model(checkpoint)
    assert meta["epoch"] == 1


def test_ddp_without_batchnorm_equals_one_process(data: Path, tmp_path: Path) -> None:
    for processes in (1, 2):
        _run([str(Path(__file__)), str(data), str(tmp_path / f"p{processes}")], processes)
    one, two = _report(tmp_path / "p1"), _report(tmp_path / "p2")
    for model in ("unet", "giftnet"):
        a, b = one["summary"][model]["metrics"], two["summary"][model]["metrics"]
        for name in METRICS:
            assert b[name] == pytest.approx(a[name], rel=1e-4), (model, name)
    for model in ("teacher", "unet", "giftnet"):
        h1, h2 = one["meta"]["train_history"][model], two["meta"]["train_history"][model]
        assert len(h1) == len(h2) == 2
        for r1, r2 in zip(h1, h2):
            assert r2["loss"] == pytest.approx(r1["loss"], rel=1e-5), model
    assert two["meta"]["train_samples_per_second"]["unet"] > 0


def _worker(data: str, out: str) -> None:
    """Benchmark ``unet`` and ``giftnet`` (with a teacher) with BatchNorm replaced by Identity."""
    import torch

    from ccharmony.harmonization.benchmark import BenchmarkOptions, run_benchmark
    from ccharmony.harmonization.presets import Preset

    torch.nn.BatchNorm2d = lambda *args, **kwargs: torch.nn.Identity()  # type: ignore[assignment, misc]
    preset = Preset(name="test-ddp", train_size=32, eval_size=64, width=4, epochs=2, teacher_epochs=2,
                    batch_size=2, min_area=4.0, num_threads=1, eval_batch_size=8, lr_milestones=(1.0,),
                    num_workers=0)
    run_benchmark(data, out_dir=out, options=BenchmarkOptions(models=("unet", "giftnet"), preset=preset,
                                                               device="cpu", progress=False, grid_images=1))


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2])
