"""
Time ``ccharmony verify`` on a dataset of ccHarmony's size and image sizes.

Generates (once, cached under /tmp) a synthetic dataset in our layout: 350 real
images of 1000-1500 px on the long side (JPEG q95, 4:4:4 like the builder),
426 foregrounds (76 images with two), 10 composites per foreground (4260
pairs) made with the paper's poly11 transfer (recorded in metadata.parquet so
that ``--deep`` has something to re-apply), split lists, build.json and a
card. Then times shallow and deep verification and prints a table with the
wall time, the CPU time (this process and the worker pool) and the load
average: on a shared machine the wall time depends on the other jobs, and
CPU seconds / 2 is the wall time two free cores would need.

    python benchmarks/verify_speed.py                 # workers 2, shallow + deep
    python benchmarks/verify_speed.py --workers 1 2   # several worker counts
    python benchmarks/verify_speed.py --small         # 40 pairs, a quick smoke run
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from ccharmony.dataset.layout import (
    BUILD_FILE,
    CARD_FILE,
    COMPOSITE_DIR,
    MASK_DIR,
    METADATA_FILE,
    REAL_DIR,
    composite_name,
    list_file_name,
    mask_name,
    real_name,
)

N_IMAGES, N_TWO_FOREGROUNDS, K = 350, 76, 10
VERSION = "v1"
JPEG_OPTIONS = [cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]


def _record(rng: np.random.Generator) -> dict:
    """A poly11 transfer (Niu 2023) fitted between a random chart and a colour-cast copy of it."""
    from ccharmony.dataset.reapply import transfer_record
    from ccharmony.transfer import fit

    source = rng.uniform(20, 235, (24, 3))
    gains = rng.uniform(0.75, 1.25, 3)
    target = np.clip(source * gains + rng.normal(0, 1.0, source.shape), 0, 255)
    return transfer_record(fit("poly11", source, target), domain="srgb8")


def _apply(record: dict, pixels: np.ndarray) -> np.ndarray:
    """Map ``(n, 3)`` RGB uint8 pixels as ccharmony.dataset.reapply does for srgb8 records."""
    from ccharmony.transfer import Transfer

    mapped = Transfer.from_dict(record["transfer"]).apply(pixels.astype(np.float32))
    return np.clip(np.rint(mapped), 0, 255).astype(np.uint8)


def _image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    coarse = rng.integers(0, 256, (height // 24, width // 24, 3), dtype=np.uint8)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    image += rng.normal(0.0, 3.0, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def _write_image(args: tuple[Path, int, int]) -> list[dict]:
    root, index, foregrounds = args
    rng = np.random.default_rng(1000 + index)
    long_side = int(rng.integers(1000, 1501))
    short_side = long_side * int(rng.choice([2, 3])) // 3 if rng.random() < 0.5 else long_side * 3 // 4
    height, width = (short_side, long_side) if rng.random() < 0.7 else (long_side, short_side)
    identifier = f"Synth{index % 4}-{index:04d}"
    real_path = root / REAL_DIR / real_name(identifier)
    real_path.write_bytes(cv2.imencode(".jpg", _image(rng, height, width), JPEG_OPTIONS)[1].tobytes())
    real = cv2.imread(str(real_path), cv2.IMREAD_COLOR)
    real_rgb = cv2.cvtColor(real, cv2.COLOR_BGR2RGB)
    rows = []
    for f in range(foregrounds):
        foreground_id = "ab"[f]
        mask = np.zeros((height, width), np.uint8)
        axes = (int(width * rng.uniform(0.1, 0.3)), int(height * rng.uniform(0.1, 0.3)))
        centre = (int(rng.integers(axes[0], width - axes[0])), int(rng.integers(axes[1], height - axes[1])))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
        mask_path = root / MASK_DIR / mask_name(identifier, foreground_id)
        mask_path.write_bytes(cv2.imencode(".png", mask)[1].tobytes())
        inside = mask > 0
        for k in range(1, K + 1):
            record = _record(rng)
            composite_rgb = real_rgb.copy()
            composite_rgb[inside] = _apply(record, real_rgb[inside])
            name = composite_name(identifier, foreground_id, k)
            path = root / COMPOSITE_DIR / name
            path.write_bytes(cv2.imencode(".jpg", cv2.cvtColor(composite_rgb, cv2.COLOR_RGB2BGR),
                                          JPEG_OPTIONS)[1].tobytes())
            rows.append({
                "composite_file_name": f"{COMPOSITE_DIR}/{name}",
                "real_file_name": f"{REAL_DIR}/{real_name(identifier)}",
                "mask_file_name": f"{MASK_DIR}/{mask_name(identifier, foreground_id)}",
                "image_id": identifier, "foreground_id": foreground_id, "k": k,
                "split": "test" if index % 5 == 0 else "train",
                "source_image": identifier, "target_image": f"target-{k}",
                "source_camera": f"Synth{index % 4}", "target_camera": "Synth9",
                "source_illuminant": [0.5, 0.7, 0.5], "target_illuminant": [0.6, 0.6, 0.5],
                    "source_illuminant_srgb": [0.5, 0.7, 0.5], "target_illuminant_srgb": [0.6, 0.6, 0.5],
                "illuminant_angle_deg": float(rng.uniform(0, 25)), "method": "poly11",
                "foreground_ratio": float(inside.mean()), "width": width, "height": height,
                "composite_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "real_sha256": hashlib.sha256(real_path.read_bytes()).hexdigest(),
                "mask_sha256": hashlib.sha256(mask_path.read_bytes()).hexdigest(),
                "transfer": json.dumps(record),
            })
    return rows


def generate(root: Path, *, n_images: int, n_two: int, processes: int) -> Path:
    """Write the benchmark dataset under ``root`` unless a complete one is there."""
    import pandas as pd

    done = root / ".complete"
    if done.is_file():
        return root
    for folder in (REAL_DIR, MASK_DIR, COMPOSITE_DIR):
        (root / folder).mkdir(parents=True, exist_ok=True)
    jobs = [(root, i, 2 if i < n_two else 1) for i in range(n_images)]
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        rows = [row for chunk in pool.imap(_write_image, jobs, chunksize=4) for row in chunk]
    rows.sort(key=lambda row: row["composite_file_name"])
    splits = {split: [r["composite_file_name"].split("/", 1)[1] for r in rows if r["split"] == split]
              for split in ("train", "test")}
    for split, names in splits.items():
        (root / list_file_name("Bench", split)).write_text("".join(f"{n}\n" for n in names))
    pd.DataFrame(rows).to_parquet(root / METADATA_FILE, index=False)
    counts = {"images": n_images, "foregrounds": n_images + n_two, "composites": len(rows),
              "splits": {split: len(names) for split, names in splits.items()}}
    (root / BUILD_FILE).write_text(json.dumps({"counts": counts, "config": {}, "seed": 0, "skipped": []}))
    (root / CARD_FILE).write_text("---\ndataset_info:\n  splits:\n" + "".join(
        f"  - name: {split}\n    num_examples: {len(names)}\n" for split, names in splits.items()) + "---\n")
    done.write_text("ok\n")
    print(f"generated {len(rows)} composites in {time.perf_counter() - started:.0f} s under {root}", file=sys.stderr)
    return root


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (the worker pool)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[2])
    parser.add_argument("--no-deep", action="store_true")
    parser.add_argument("--small", action="store_true", help="4 images, 40 composites")
    parser.add_argument("--cache", type=Path, default=Path("/tmp"))
    args = parser.parse_args()
    n_images, n_two = (4, 0) if args.small else (N_IMAGES, N_TWO_FOREGROUNDS)
    root = args.cache / f"ccharmony-verify-bench-{VERSION}-{n_images}"
    generate(root, n_images=n_images, n_two=n_two, processes=min(2, os.cpu_count() or 1))

    from ccharmony.dataset.verify import verify_dataset

    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    lines = [f"dataset: {root} ({size / 2**30:.2f} GiB), {os.cpu_count()} CPUs",
             "| mode    | workers | pairs | wall s | CPU s | CPU s / 2 cores | load avg | pairs/s | sound |",
             "|---------|---------|-------|--------|-------|-----------------|----------|---------|-------|"]
    for deep in (False,) if args.no_deep else (False, True):
        for workers in args.workers:
            cpu_before = _cpu_seconds()
            started = time.perf_counter()
            report = verify_dataset(root, deep=deep, workers=workers, progress=False)
            seconds = time.perf_counter() - started
            cpu = _cpu_seconds() - cpu_before
            load = os.getloadavg()[0]
            pairs = report.summary["counts"]["composites"]
            mode = "deep" if deep else "shallow"
            if deep and report.check("deep-reapply").status != "ok":
                mode += f" ({report.check('deep-reapply').status}: {report.check('deep-reapply').detail[:60]})"
            lines.append(f"| {mode:7s} | {workers:7d} | {pairs:5d} | {seconds:6.1f} | {cpu:5.1f} | {cpu / 2:15.1f} "
                         f"| {load:8.1f} | {pairs / seconds:7.1f} "
                         f"| {'yes' if report.ok else 'NO: ' + ','.join(report.summary['problems'])} |")
            print(lines[-1], file=sys.stderr)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
