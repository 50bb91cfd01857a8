"""
Time ``ccharmony synth`` (:func:`ccharmony.synth.synthesize`) per capture.

Writes capture sets into a temporary folder and prints a table: size, count,
relit truth on or off, workers, seconds per capture, MB per capture. Spectral
data are loaded (and cached) by a warm-up run that is not timed.

    python benchmarks/synth_speed.py                       # 480x320 x 20 and 6000x4000 x 2
    python benchmarks/synth_speed.py --size 6000x4000 --count 3
    python benchmarks/synth_speed.py --workers 2
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from ccharmony.synth import synthesize


def _size(text: str) -> tuple[int, int]:
    width, height = text.lower().split("x")
    return int(width), int(height)


def _run(size: tuple[int, int], count: int, relit: bool, workers: int) -> tuple[float, float]:
    folder = Path(tempfile.mkdtemp(prefix="synth_speed_"))
    try:
        start = time.perf_counter()
        synthesize(folder, count=count, seed=1, size=size, relit=relit, workers=workers)
        seconds = time.perf_counter() - start
        megabytes = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return seconds / count, megabytes / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--size", type=_size, action="append", default=None, metavar="WxH")
    parser.add_argument("--count", type=int, default=None, help="captures per run")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    plans = ([(size, args.count or 2) for size in args.size] if args.size
             else [((480, 320), args.count or 20), ((6000, 4000), args.count or 2)])
    _run((96, 64), 1, True, 1)  # warm-up: loads colour's spectral data
    print(f"{'size':>10} {'count':>5} {'relit':>5} {'workers':>7} {'s/capture':>10} {'MB/capture':>10}")
    for size, count in plans:
        for relit in (False, True):
            seconds, megabytes = _run(size, count, relit, args.workers)
            print(f"{size[0]:>5}x{size[1]:<4} {count:>5} {str(relit):>5} {args.workers:>7} "
                  f"{seconds:>10.3f} {megabytes:>10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
