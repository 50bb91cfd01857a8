"""Measure the peak memory of a training run against the dataset's size (issue 12: under 3 GB, flat in N).

For each dataset size N (synthetic pairs at a photo size, written once by
``benchmarks/synthetic_pairs.py``), a fresh process builds the on-disk training cache and
trains one model for whole epochs through the loader with worker processes, exactly as
``ccharmony benchmark`` does (``HarmonizationDataset(cache_dir=...)``, ``prepare``,
``make_loader``, ``train``). This process samples the child's process tree every 0.1 s from
``/proc``: the resident memory (RSS) of the training process, the RSS summed over it and its
loader workers, and the proportional set size (PSS) summed, which counts the pages the forked
workers share with their parent once. Peaks are reported per phase (cache build, training),
with the training cache's size on disk.

    python benchmarks/train_memory.py --pairs 300,3000 --size 2000x1400 --work /tmp/ccharmony-memory

The defaults train ``issam`` (width 16) on 256x256 crops, batch 16, 2 loader workers, one epoch,
on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from synthetic_pairs import ensure_pairs, parse_size  # noqa: E402


def _tree(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stream:
                fields = stream.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def _kb(path: str, key: str) -> int:
    try:
        with open(path) as stream:
            for line in stream:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _sample(root: int) -> tuple[int, int, int]:
    """(RSS of root, RSS of the tree, PSS of the tree) in kB."""
    pids = _tree(root)
    rss = {pid: _kb(f"/proc/{pid}/status", "VmRSS:") for pid in pids}
    pss = sum(_kb(f"/proc/{pid}/smaps_rollup", "Pss:") for pid in pids)
    return rss.get(root, 0), sum(rss.values()), pss


def _child(args: argparse.Namespace) -> int:
    import torch

    from ccharmony.harmonization.data import HarmonizationDataset, make_loader
    from ccharmony.harmonization.engine import TrainOptions, seed_everything, train
    from ccharmony.harmonization.losses import model_loss_terms
    from ccharmony.harmonization.models import ModelOptions, UNetOptions, build_model, model_config

    phase = Path(args.phase_file)
    phase.write_text("build")
    started = time.perf_counter()
    dataset = HarmonizationDataset(args.data, "train", size=args.train_size, train=True, seed=0,
                                   cache_dir=args.cache, min_side_factor=args.min_side_factor)
    written = dataset.prepare(workers=args.workers, progress=False)
    build = time.perf_counter() - started
    phase.write_text("train")
    options = ModelOptions(unet=UNetOptions(width=args.width))
    seed_everything(0)
    model = build_model(args.model, options)
    loader = make_loader(dataset, batch_size=args.batch, shuffle=True, seed=0, drop_last=True,
                         num_workers=args.workers)
    if args.max_batches:
        loader = _FirstBatches(loader, args.max_batches)
    result = train(model, loader, options=TrainOptions(epochs=args.epochs, batch_size=args.batch, device="cpu",
                                                       progress=False, num_threads=args.threads),
                   loss_terms=model_loss_terms(model_config(args.model, options), train_size=args.train_size))
    import resource

    assert dataset.disk_cache is not None
    del loader  # stops the workers, so that their peak counts in RUSAGE_CHILDREN (build workers count too)
    import gc

    gc.collect()
    print(json.dumps({"maxrss_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "maxrss_workers_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                      "train_count": len(dataset), "written": written, "build_s": build,
                      "train_s": result.seconds, "samples_per_s": result.samples_per_second,
                      "cache_bytes": dataset.disk_cache.size_bytes(), "side": dataset.disk_cache.side,
                      "loss": result.history[-1]["loss"], "torch_threads": torch.get_num_threads()}))
    return 0


class _FirstBatches:
    """The first ``count`` batches of each epoch of a loader (its shuffle still draws from the whole set)."""

    def __init__(self, loader, count: int) -> None:  # noqa: ANN001
        self.loader, self.count = loader, int(count)
        self.dataset, self.sampler = loader.dataset, getattr(loader, "sampler", None)

    def __len__(self) -> int:
        return min(self.count, len(self.loader))

    def __iter__(self):  # noqa: ANN204
        import itertools

        return itertools.islice(iter(self.loader), len(self))


def _measure(args: argparse.Namespace, data: Path, cache: Path) -> dict:
    phase_file = args.work / "phase.txt"
    command = [sys.executable, __file__, "--child", "--data", str(data), "--cache", str(cache),
               "--phase-file", str(phase_file), "--model", args.model, "--width", str(args.width),
               "--train-size", str(args.train_size), "--batch", str(args.batch), "--workers", str(args.workers),
               "--epochs", str(args.epochs), "--threads", str(args.threads),
               "--min-side-factor", str(args.min_side_factor), "--max-batches", str(args.max_batches)]
    load_before = os.getloadavg()[0]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peaks: dict[str, list[int]] = {}
    while process.poll() is None:
        name = phase_file.read_text() if phase_file.exists() else "start"
        sample = _sample(process.pid)
        peak = peaks.setdefault(name, [0, 0, 0])
        peaks[name] = [max(a, b) for a, b in zip(peak, sample)]
        time.sleep(0.1)
    out, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"child failed ({process.returncode})")
    record = json.loads(out.strip().splitlines()[-1])
    record["peaks_kb"] = peaks
    record["load"] = (load_before, os.getloadavg()[0])
    phase_file.unlink(missing_ok=True)
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", default="300,3000", help="dataset sizes, comma-separated")
    parser.add_argument("--size", default="2000x1400", help="photo size WIDTHxHEIGHT")
    parser.add_argument("--work", type=Path, default=Path("/tmp/ccharmony-memory"))
    parser.add_argument("--model", default="issam")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--train-size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-side-factor", type=float, default=2.0)
    parser.add_argument("--max-batches", type=int, default=0,
                        help="train on the first N batches of each epoch (0: whole epochs); the shuffle still "
                             "draws from every sample")
    parser.add_argument("--keep-cache", action="store_true", help="reuse a cache built by an earlier run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--phase-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args)
    width, height = parse_size(args.size)
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"model {args.model} width {args.width}, crops {args.train_size}, batch {args.batch}, "
          f"{args.workers} loader workers, {args.epochs} epoch(s)"
          f"{f' of {args.max_batches} batches' if args.max_batches else ''}, {args.threads} torch threads, "
          f"photos {width}x{height}, cpu count {os.cpu_count()}")
    rows = []
    for pairs in (int(p) for p in args.pairs.split(",")):
        data = args.work / f"pairs-{pairs}-{width}x{height}"
        made = ensure_pairs(data, pairs=pairs, width=width, height=height)
        if made:
            print(f"  wrote {data} ({made['pairs']} pairs) in {made['seconds']:.0f} s")
        cache = args.work / f"cache-{pairs}-{width}x{height}"
        if not args.keep_cache and cache.exists():
            import shutil

            shutil.rmtree(cache)
        rows.append((pairs, _measure(args, data, cache)))
    print()
    print(f"{'pairs':>6} {'train':>6} {'build s':>8} {'train s':>8} {'img/s':>6} {'cache MB':>9} "
          f"{'build RSS':>10} {'build PSS':>10} {'train RSS':>10} {'train RSS+wk':>12} {'train PSS':>10} "
          f"{'maxrss':>8} {'worker':>8} {'load':>10}")
    for pairs, record in rows:
        build = record["peaks_kb"].get("build", [0, 0, 0])
        training = record["peaks_kb"].get("train", [0, 0, 0])
        print(f"{pairs:6d} {record['train_count']:6d} {record['build_s']:8.1f} {record['train_s']:8.1f} "
              f"{record['samples_per_s']:6.1f} {record['cache_bytes'] / 1e6:9.0f} "
              f"{build[1] / 1024:8.0f}MB {build[2] / 1024:8.0f}MB {training[0] / 1024:8.0f}MB "
              f"{training[1] / 1024:10.0f}MB {training[2] / 1024:8.0f}MB "
              f"{record['maxrss_self_mb']:6.0f}MB {record['maxrss_workers_mb']:6.0f}MB "
              f"{record['load'][0]:4.1f}/{record['load'][1]:4.1f}")
    print("build/train: peaks sampled every 0.1 s from /proc during each phase. RSS: the training process; "
          "RSS+wk: summed with its loader workers (shared pages counted in each); PSS: the whole tree, shared "
          "pages divided among the processes; maxrss: the training process's exact peak (getrusage), worker: "
          "the largest worker's; load: 1-min load average before/after")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
