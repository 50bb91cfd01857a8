"""Time ``ccharmony report`` on a ccHarmony-sized dataset (4260 composites) and print a table.

    python benchmarks/report_speed.py                       # 710 images x 2 foregrounds x K=3 = 4260
    python benchmarks/report_speed.py --images 50 --quick   # a smoke run

Stages measured:
- building the synthetic dataset (not part of the report, shown for context);
- ``write_report`` cold (every thumbnail made) with the thread pool and, with ``--pools``, the process pool;
- ``write_report`` warm (thumbnails from the cache): without verification, with the quick
  verification run, and with its result reused (no dataset file changed);
- the gallery's first page in headless Chromium (where installed): the page's own
  ``performance.now()`` when the first page of cards is in the DOM (``data-render-ms``) and at the
  ``load`` event (``data-load-ms``, visible thumbnails loaded), read from ``--dump-dom``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ccharmony.report import ReportOptions, write_report
from ccharmony.report._synthetic import write_synthetic_benchmark, write_synthetic_dataset


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _page_times(chromium: str, url: str, profile: Path, marker: str) -> tuple[float, float, float]:
    """Return the page's render and load times (ms, page clock) and the Chromium process wall time (s)."""
    started = time.perf_counter()
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           f"--user-data-dir={profile}", "--window-size=1280,900", "--dump-dom", url],
                          capture_output=True, text=True, timeout=120)
    wall = time.perf_counter() - started
    render = re.search(r'data-render-ms="([\d.]+)"', done.stdout)
    load = re.search(r'data-load-ms="([\d.]+)"', done.stdout)
    if not render or not load or f'<article class="{marker}"' not in done.stdout:
        raise RuntimeError(f"{url} did not render: {done.stderr[-500:]}")
    return float(render.group(1)), float(load.group(1)), wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=710, help="real images (x2 foregrounds x K=3 composites)")
    parser.add_argument("--size", type=int, nargs=2, default=(480, 640), metavar=("H", "W"), help="image size")
    parser.add_argument("--work", type=Path, default=None, help="folder to keep the dataset in (reused)")
    parser.add_argument("--workers", type=int, default=0, help="thumbnail workers (0 = automatic)")
    parser.add_argument("--pools", action="store_true", help="also time a cold run with the process pool")
    parser.add_argument("--repeats", type=int, default=3, help="browser runs per measurement")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="ccharmony-report-bench-"))
    dataset = work / f"dataset-{args.images}-{args.size[0]}x{args.size[1]}"
    rows: list[tuple[str, str]] = []
    started = time.perf_counter()
    if not (dataset / "metadata.parquet").is_file():
        write_synthetic_dataset(dataset, images=args.images, foregrounds=2, k=3, size=tuple(args.size),
                                test_every=5, seed=0)
        rows.append(("synthetic dataset written (context)", f"{time.perf_counter() - started:.1f} s"))
    run = write_synthetic_benchmark(work / f"run-{args.images}", dataset, predictions=True)
    options = ReportOptions(workers=args.workers, verify=False)

    def timed(label: str, out: Path, opts: ReportOptions, fresh: bool) -> None:
        if fresh and out.exists():
            shutil.rmtree(out)
        result = write_report(dataset, out, benchmark=run, options=opts)
        stages = ", ".join(f"{k} {v:.2f}" for k, v in result.seconds.items() if k != "total")
        rows.append((label, f"{result.seconds['total']:.2f} s ({stages}; {result.thumbnails_made} made, "
                            f"{result.thumbnails_cached} cached)"))

    out = work / "report"
    workers = args.workers or min(8, os.cpu_count() or 1)
    timed(f"report, cold, thread pool x{workers}", out, options, True)
    if args.pools:
        timed(f"report, cold, process pool x{workers}", work / "report-process",
              ReportOptions(workers=args.workers, verify=False, pool="process"), True)
        timed("report, cold, 1 worker", work / "report-serial", ReportOptions(workers=1, verify=False), True)
    timed("report, warm (cached thumbnails), no verify", out, options, False)
    verify_cache = out / "data" / "verify.json"
    if verify_cache.exists():
        verify_cache.unlink()
    timed("report, warm, quick verify run", out, ReportOptions(workers=args.workers, verify=True), False)
    timed("report, warm, quick verify reused (dataset unchanged)", out,
          ReportOptions(workers=args.workers, verify=True), False)
    gallery_js = out / "data" / "gallery.js"
    rows.append(("gallery.js size", f"{gallery_js.stat().st_size / 1e6:.2f} MB"))
    thumbs = sum(p.stat().st_size for p in (out / "thumbs").rglob("*.jpg"))
    rows.append(("thumbnails on disk", f"{thumbs / 1e6:.1f} MB"))

    chromium = _chromium()
    if chromium is None:
        rows.append(("browser first page", "skipped: Chromium not installed"))
    else:
        with tempfile.TemporaryDirectory() as profiles:
            blank = Path(profiles) / "blank.html"
            blank.write_text("<!DOCTYPE html><html><body>blank</body></html>")
            for label, marker in (("gallery.html", "card"), ("benchmark.html", "case")):
                renders, loads, walls = [], [], []
                for repeat in range(args.repeats):
                    render, load, wall = _page_times(chromium, (out / label).as_uri(),
                                                     Path(profiles) / f"{label}{repeat}", marker)
                    renders.append(render)
                    loads.append(load)
                    walls.append(wall)
                rows.append((f"{label} first page rendered (page clock, median of {args.repeats})",
                             f"{statistics.median(renders):.0f} ms"))
                rows.append((f"{label} load event, visible thumbnails in (median)", f"{statistics.median(loads):.0f} ms"))
                rows.append((f"{label} headless Chromium process wall (median)", f"{statistics.median(walls):.2f} s"))
            walls = []
            for repeat in range(args.repeats):
                begin = time.perf_counter()
                subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                f"--user-data-dir={Path(profiles) / f'blank{repeat}'}", "--dump-dom", blank.as_uri()],
                               capture_output=True, timeout=120)
                walls.append(time.perf_counter() - begin)
            rows.append(("blank page, headless Chromium process wall (baseline)", f"{statistics.median(walls):.2f} s"))

    composites = 6 * args.images
    print(f"\nccharmony report speed: {composites} composites, {args.images} images, "
          f"{args.size[0]}x{args.size[1]} px, {os.cpu_count()} CPUs, dataset in {dataset}\n")
    width = max(len(label) for label, _ in rows)
    print(f"| {'measurement'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for label, value in rows:
        print(f"| {label.ljust(width)} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
