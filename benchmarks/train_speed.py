"""Measure the training throughput of the harmonization models.

Runs a few timed training steps (forward, loss, backward, Adam step) of each
model on random batches of fixed size and prints a table of images per
second and the ratio to the plain U-Net. GiftNet's steps include the frozen
teacher's forward pass and the relation-distillation loss, as in real
training. The issue's target: giftnet / unet >= 0.7.

    python benchmarks/train_speed.py --size 96 --width 16 --batch 8 --steps 10

The defaults are the cpu-smoke preset's training shape (96x96, width 16, batch 8).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from ccharmony.harmonization.engine import default_loss_terms, resolve_device
from ccharmony.harmonization.losses import compute_loss
from ccharmony.harmonization.models import MODELS, ModelOptions, UNetOptions, build_model, build_teacher


def make_step(name: str, *, options: ModelOptions, size: int, batch: int,
              device: torch.device) -> Callable[[], None]:
    """Return one training step of a model (forward, loss, backward, Adam) on a fixed random batch."""
    torch.manual_seed(0)
    spec = MODELS[name]
    model = build_model(name, options).to(device).train()
    teacher = None
    if spec.distillation:
        teacher = build_teacher(options).to(device).eval()
        for parameter in teacher.parameters():
            parameter.requires_grad_(False)
    terms = default_loss_terms(distillation=spec.distillation)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(batch, 3, size, size, generator=generator).to(device)
    target = torch.rand(batch, 3, size, size, generator=generator).to(device)
    masks = torch.zeros(batch, 1, size, size)
    masks[:, :, size // 4: size * 3 // 4, size // 4: size // 2] = 1
    masks = masks.to(device)

    def step() -> None:
        data: dict[str, object] = {"images": images, "masks": masks, "target_images": target}
        outputs = model(images, masks)
        if teacher is not None:
            with torch.no_grad():
                data["teacher_relation_maps"] = teacher.relation_maps(target, masks)
        loss, _ = compute_loss(terms, outputs, data)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def time_steps(step: Callable[[], None], steps: int, device: torch.device) -> tuple[float, float]:
    """Return the wall-clock and process CPU seconds taken by ``steps`` calls of ``step``."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started, time.process_time() - cpu_started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--models", default="unet,unet-gift,unet-rd,giftnet")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    options = ModelOptions(unet=UNetOptions(width=args.width))
    print(f"device={device} threads={torch.get_num_threads()} size={args.size} width={args.width} "
          f"batch={args.batch} steps={args.steps}x{args.repeats} torch={torch.__version__}")
    names = args.models.split(",")
    steps = {name: make_step(name, options=options, size=args.size, batch=args.batch, device=device)
             for name in names}
    for name in names:
        time_steps(steps[name], args.warmup, device)
    # Round-robin repeats so that load changes on a shared machine hit every model alike.
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.repeats):
        for name in names:
            seconds, cpu_seconds = time_steps(steps[name], args.steps, device)
            wall[name].append(args.steps * args.batch / seconds)
            cpu[name].append(args.steps * args.batch / max(cpu_seconds, 1e-9))
    rates = {name: statistics.median(values) for name, values in wall.items()}
    cpu_rates = {name: statistics.median(values) for name, values in cpu.items()}
    base, cpu_base = rates.get("unet"), cpu_rates.get("unet")
    # On a shared machine the CPU-time rate (images per process CPU second) is the
    # steadier measure of the work per image; the wall-clock rate is what a user sees.
    print(f"{'model':<10} {'images/s':>9} {'vs unet':>8} {'img/CPU-s':>10} {'vs unet':>8}"
          f"  (median of {args.repeats} round-robin repeats)")
    for name in names:
        ratio = f"{rates[name] / base:.2f}" if base else "-"
        cpu_ratio = f"{cpu_rates[name] / cpu_base:.2f}" if cpu_base else "-"
        print(f"{name:<10} {rates[name]:9.2f} {ratio:>8} {cpu_rates[name]:10.2f} {cpu_ratio:>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
