"""Check the GPU path: train the paper preset for a fixed number of steps and print throughput and memory.

One prepared script for a CUDA machine (about 10 minutes on one GPU with the defaults, dataset build
included): it builds the embedded default dataset with ``ccharmony build --out <work>/embedded``
(or reads ``--data``), trains the relation-distillation teacher and each model of ``--models`` for a
fixed number of steps with the ``paper`` preset (256x256 crops, width 32, batch 16, Adam 1e-3, mixed
precision) through :func:`ccharmony.harmonization.engine.train`, and prints, per model, samples/s,
peak GPU memory (``torch.cuda.max_memory_allocated``) and the loss curve (one point per
``--log-every`` steps). ``--json FILE`` writes the same numbers.

    python benchmarks/gpu_check.py                       # CUDA: paper preset, 300 steps per model
    python benchmarks/gpu_check.py --device cpu --steps 3  # CPU smoke: batch 2 at 64 px

On the CPU the defaults shrink to batch 2 at 64x64 (the paper's 16 at 256 would take minutes a
step on two cores); every other setting is the preset's.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import Dataset

from ccharmony.harmonization.data import HarmonizationDataset, ReconstructionView, make_loader
from ccharmony.harmonization.engine import TrainOptions, reconstruction_loss_terms, seed_everything, train
from ccharmony.harmonization.losses import model_loss_terms
from ccharmony.harmonization.models import build_model, build_teacher, model_config, teacher_key
from ccharmony.harmonization.presets import get_preset


class Steps(Dataset):
    """Serve ``length`` samples per epoch from a dataset, cycling through it across epochs."""

    def __init__(self, dataset: Dataset, length: int) -> None:
        self.dataset = dataset
        self.length = length
        self.epoch = 0

    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def __getitem__(self, index: int) -> dict:
        return self.dataset[(self.epoch * self.length + index) % len(self.dataset)]


def build_dataset(work: Path) -> Path:
    """Build the embedded default with the CLI (as a user would) unless it is there."""
    folder = work / "embedded"
    if not (folder / "build.json").exists():
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ccharmony", "build", "--out", str(folder), "--no-progress",
                        "--workers", str(min(8, os.cpu_count() or 1))], check=True)
        print(f"built {folder} in {time.perf_counter() - started:.0f} s", flush=True)
    return folder


def run_steps(model, dataset, *, steps: int, log_every: int, batch: int, options: TrainOptions, loss_terms,
              teacher=None, workers: int = 0) -> dict:
    """Train ``steps`` steps (``steps / log_every`` epochs of ``log_every`` steps) and measure them."""
    chunks = max(1, math.ceil(steps / log_every))
    per_chunk = min(steps, log_every)
    view = Steps(dataset, per_chunk * batch)
    loader = make_loader(view, batch_size=batch, shuffle=False, seed=options.seed, drop_last=True,
                         num_workers=workers, pin_memory=options.device != "cpu")
    cuda = torch.cuda.is_available() and options.device != "cpu"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    result = train(model, loader, options=TrainOptions(**{**options.to_dict(), "epochs": chunks}),
                   loss_terms=loss_terms, teacher=teacher)
    if cuda:
        torch.cuda.synchronize()
    return {
        "steps": chunks * per_chunk,
        "samples_per_second": result.samples_per_second,
        "seconds": result.seconds,
        "peak_gpu_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
        "loss_curve": [{key: value for key, value in record.items() if key != "learning_rate"}
                       for record in result.history],
        "device": result.device,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--models", default="issam,giftnet", help="registered models, comma-separated")
    parser.add_argument("--steps", type=int, default=300, help="training steps per model")
    parser.add_argument("--teacher-steps", type=int, default=None, help="teacher steps (default: steps / 2)")
    parser.add_argument("--log-every", type=int, default=25, help="steps per loss-curve point")
    parser.add_argument("--batch", type=int, default=None, help="batch size (paper: 16; CPU default 2)")
    parser.add_argument("--size", type=int, default=None, help="training crop side (paper: 256; CPU default 64)")
    parser.add_argument("--workers", type=int, default=None, help="loader workers (default: 8 on CUDA, 0 on CPU)")
    parser.add_argument("--data", default=None, help="existing dataset folder (default: build the embedded default)")
    parser.add_argument("--work", default=None, help="folder for the built dataset (default: a temporary one)")
    parser.add_argument("--json", default=None, help="write the measurements to this JSON file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: CUDA is not available here; run with --device cpu --steps 3 for the smoke mode",
              file=sys.stderr)
        return 2
    cpu = args.device == "cpu"
    preset = get_preset("paper")
    batch = args.batch or (2 if cpu else preset.batch_size)
    size = args.size or (64 if cpu else preset.train_size)
    workers = args.workers if args.workers is not None else (0 if cpu else 8)
    teacher_steps = args.teacher_steps if args.teacher_steps is not None else max(1, args.steps // 2)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="gpu_check_"))
    data = Path(args.data) if args.data else build_dataset(work)
    options = TrainOptions(epochs=1, batch_size=batch, learning_rate=preset.learning_rate, lr_milestones=(1.0,),
                           lr_gamma=preset.lr_gamma, seed=0, device=args.device, amp=True, progress=False,
                           num_threads=None if not cpu else min(2, os.cpu_count() or 1))
    train_set = HarmonizationDataset(data, "train", size=size, train=True, seed=0)
    device_name = torch.cuda.get_device_name(0) if not cpu else "cpu"
    print(f"gpu_check: {device_name}, torch {torch.__version__}, preset paper: {size}x{size}, width "
          f"{preset.width}, batch {batch}, Adam {preset.learning_rate:g}, amp {'on' if not cpu else 'off (CPU)'}, "
          f"{len(train_set)} training composites, {workers} loader workers", flush=True)
    report: dict = {"device": device_name, "torch": torch.__version__, "size": size, "batch": batch,
                    "width": preset.width, "models": {}}
    teachers: dict[str, object] = {}
    for name in [item.strip() for item in args.models.split(",") if item.strip()]:
        config = model_config(name).with_backbone(width=preset.width)
        teacher = None
        if config.distillation is not None:
            key = teacher_key(config)
            if key not in teachers:
                seed_everything(0)
                teacher = build_teacher(config)
                measured = run_steps(teacher, ReconstructionView(train_set), steps=teacher_steps,
                                     log_every=args.log_every, batch=batch, options=options,
                                     loss_terms=reconstruction_loss_terms(), workers=workers)
                report["models"][f"{name}-teacher"] = measured
                _print(f"{name}-teacher", measured)
                teachers[key] = teacher
            teacher = teachers[key]
        seed_everything(0)
        model = build_model(config)
        measured = run_steps(model, train_set, steps=args.steps, log_every=args.log_every, batch=batch,
                             options=options, loss_terms=model_loss_terms(config, train_size=size),
                             teacher=teacher, workers=workers)
        report["models"][name] = measured
        _print(name, measured)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    finite = all(math.isfinite(point["loss"]) for entry in report["models"].values() for point in entry["loss_curve"])
    print("loss finite everywhere" if finite else "NON-FINITE LOSS", flush=True)
    return 0 if finite else 1


def _print(name: str, measured: dict) -> None:
    memory = measured["peak_gpu_memory_gib"]
    curve = " ".join(f"{point['loss']:.4g}" for point in measured["loss_curve"])
    print(f"{name:<16} {measured['steps']:>5} steps  {measured['samples_per_second']:8.1f} samples/s  "
          + (f"peak GPU memory {memory:.2f} GiB  " if memory is not None else "")
          + f"loss curve: {curve}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
