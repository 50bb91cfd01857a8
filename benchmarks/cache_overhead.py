"""Measure what the on-disk training cache costs a small run (issue 12: small runs must not get slower).

Times the training loader alone (no model) over the epochs of a run, three ways, each in a
fresh process so that no page cache or allocator state carries over between them:

-   ``ram``: decoded files kept in memory (the loader before the cache: decode on first use,
    full-size crops every epoch);
-   ``disk-cold``: the on-disk cache built first (included in the time), then read;
-   ``disk-warm``: the cache already built (a second run on the same dataset).

    python benchmarks/cache_overhead.py --data dataset --train-size 96 --batch 8 --epochs 43

The defaults are the cpu-smoke preset's loader on the embedded default (``ccharmony build --out
dataset``): 96x96 crops, batch 8, illuminant jitter 0.3, in the training process, and 43 epochs:
a default run iterates the loader once per epoch of every learned row (``issam``,
``issam-gift``, ``issam-rd``, ``giftnet`` at 10 epochs) and of the teacher (3).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _child(args: argparse.Namespace) -> int:
    import torch

    from ccharmony.harmonization.data import HarmonizationDataset, make_loader

    torch.set_num_threads(2)
    wall, cpu = time.perf_counter(), time.process_time()
    cache_dir = None if args.mode == "ram" else args.cache
    dataset = HarmonizationDataset(args.data, "train", size=args.train_size, train=True, seed=0,
                                   illuminant_jitter=0.3, cache_dir=cache_dir, cache=True)
    dataset.prepare(progress=False)
    build = time.perf_counter() - wall
    loader = make_loader(dataset, batch_size=args.batch, shuffle=True, seed=0, drop_last=True)
    samples = 0
    for epoch in range(args.epochs):
        loader.sampler.set_epoch(epoch)
        for batch in loader:
            samples += int(batch["images"].shape[0])
    print(json.dumps({"mode": args.mode, "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                      "build": build, "samples": samples}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("dataset"))
    parser.add_argument("--train-size", type=int, default=96)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=43)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        return _child(args)
    work = Path(tempfile.mkdtemp(prefix="cache-overhead-"))
    results: dict[str, list[dict]] = {"ram": [], "disk-cold": [], "disk-warm": []}
    loads = [os.getloadavg()[0]]
    try:
        for repeat in range(args.repeats):
            for mode in results:
                cache = work / "cache"
                if mode == "disk-cold" and cache.exists():
                    shutil.rmtree(cache)
                command = [sys.executable, __file__, "--mode", mode,
                           "--cache", str(cache), "--data", str(args.data), "--train-size", str(args.train_size),
                           "--batch", str(args.batch), "--epochs", str(args.epochs)]
                done = subprocess.run(command, capture_output=True, text=True, check=True)
                results[mode].append(json.loads(done.stdout.strip().splitlines()[-1]))
            loads.append(os.getloadavg()[0])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.data}: crops {args.train_size}, batch {args.batch}, {args.epochs} epochs, "
          f"{results['ram'][0]['samples']} samples per run, median of {args.repeats}, "
          f"load {min(loads):.1f}-{max(loads):.1f}")
    print(f"{'mode':<10} {'wall s':>7} {'CPU s':>7} {'build s':>8}")
    for mode, runs in results.items():
        runs = sorted(runs, key=lambda r: r["wall"])
        middle = runs[len(runs) // 2]
        print(f"{mode:<10} {middle['wall']:7.2f} {middle['cpu']:7.2f} {middle['build']:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
