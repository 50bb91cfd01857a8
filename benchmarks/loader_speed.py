"""Measure the training loader's throughput against its number of worker processes (issue 12: 2 >= 1.8 x 1).

The loader is the one ``ccharmony benchmark`` trains from: the on-disk training cache
(pre-resized, memory-mapped), the field's random resized crop and flip, collated batches, with
``num_workers`` processes (0: in the main process). No model runs: the table is what the loader
alone can deliver. Each setting is timed ``--repeats`` times round-robin (so that a load change
on a shared machine hits every setting alike), after the workers started and one batch each was
discarded; the median is reported, with the 1-minute load average before and after.

    python benchmarks/loader_speed.py --data /tmp/ccharmony-memory/pairs-3000-2000x1400 \\
        --cache /tmp/ccharmony-memory/cache-3000-2000x1400 --workers 0,1,2

The cache is built first when missing (``benchmarks/train_memory.py`` builds the same one).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from synthetic_pairs import ensure_pairs, parse_size  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (written when missing)")
    parser.add_argument("--pairs", type=int, default=3000, help="pairs to write when --data is missing")
    parser.add_argument("--size", default="2000x1400", help="photo size when --data is missing")
    parser.add_argument("--cache", type=Path, required=True, help="training cache folder")
    parser.add_argument("--train-size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--workers", default="0,1,2")
    parser.add_argument("--batches", type=int, default=60, help="batches timed per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    from ccharmony.harmonization.data import HarmonizationDataset, make_loader

    torch.set_num_threads(1)
    width, height = parse_size(args.size)
    ensure_pairs(args.data, pairs=args.pairs, width=width, height=height)
    dataset = HarmonizationDataset(args.data, "train", size=args.train_size, train=True, seed=0,
                                   illuminant_jitter=0.0, cache_dir=args.cache)
    started = time.perf_counter()
    built = dataset.prepare(workers=2, progress=False)
    if built:
        print(f"built {built} cache samples in {time.perf_counter() - started:.0f} s")
    counts = [int(w) for w in args.workers.split(",")]
    loaders = {w: make_loader(dataset, batch_size=args.batch, shuffle=True, seed=0, drop_last=True, num_workers=w)
               for w in counts}
    iterators = {}
    for w, loader in loaders.items():
        loader.sampler.set_epoch(0)
        iterators[w] = iter(loader)
        next(iterators[w])  # starts the workers; not timed
    rates: dict[int, list[float]] = {w: [] for w in counts}
    loads = [os.getloadavg()[0]]
    epoch = 0
    for _ in range(args.repeats):
        for w in counts:
            timed = 0
            begin = time.perf_counter()
            while timed < args.batches:
                try:
                    batch = next(iterators[w])
                except StopIteration:
                    epoch += 1
                    loaders[w].sampler.set_epoch(epoch)
                    iterators[w] = iter(loaders[w])
                    continue
                timed += 1
            rates[w].append(args.batches * batch["images"].shape[0] / (time.perf_counter() - begin))
        loads.append(os.getloadavg()[0])
    print(f"{len(dataset)} training samples, cache side {dataset.disk_cache.side if dataset.disk_cache else '-'}, "
          f"crops {args.train_size}, batch {args.batch}, {args.batches} batches x {args.repeats} repeats, "
          f"cpu count {os.cpu_count()}, load {min(loads):.1f}-{max(loads):.1f}")
    base = statistics.median(rates[1]) if 1 in rates else None
    print(f"{'workers':>7} {'samples/s':>10} {'vs 1 worker':>12}   per repeat")
    for w in counts:
        median = statistics.median(rates[w])
        ratio = f"{median / base:.2f}" if base else "-"
        print(f"{w:7d} {median:10.1f} {ratio:>12}   {' '.join(f'{r:.1f}' for r in rates[w])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
