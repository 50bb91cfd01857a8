"""``ccharmony report``: the static browsable site."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ccharmony.cli._common import (
    EXIT_OK,
    add_max_pixels_argument,
    int_range,
    printable,
    register,
    subparser,
)

__author__ = "ccharmony developers"
__license__ = "MIT"


@register
def _add_report(sub: argparse._SubParsersAction) -> None:
    p = subparser(
        sub, "report",
        "write a self-contained static HTML report of a dataset (overview, plots, gallery, benchmark)",
        "ccharmony report dataset --out report --benchmark runs/000_benchmark",
    )
    p.add_argument("dataset", type=Path, metavar="DIR", help="dataset folder (ccharmony build output or iHarmony4)")
    p.add_argument("--out", type=Path, default=Path("report"),
                   help="report folder (new, empty, or a previous report whose thumbnails are reused)")
    p.add_argument("--benchmark", type=Path, default=None, metavar="RUN_DIR",
                   help="benchmark run folder (per_image.csv, report.json, predictions/) to add results")
    p.add_argument("--open", action="store_true", help="open the report in the default web browser")
    p.add_argument("--page-size", type=int_range(1, 100_000), default=48, help="gallery cards per page")
    p.add_argument("--thumbnail-size", type=int_range(8, 4096), default=160, help="longest thumbnail side in pixels")
    p.add_argument("--workers", type=int_range(0, 256), default=0, help="thumbnail workers (0 = automatic)")
    p.add_argument("--no-verify", action="store_true", help="skip the quick dataset verification")
    p.add_argument("--title", default=None, help="page title; none means '<dataset name> report'")
    add_max_pixels_argument(p)
    p.set_defaults(run=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from ccharmony.report import ReportOptions, write_report

    options = ReportOptions(page_size=args.page_size, thumbnail_size=args.thumbnail_size, workers=args.workers,
                            verify=not args.no_verify, title=args.title, max_pixels=args.max_pixels)
    result = write_report(args.dataset, args.out, benchmark=args.benchmark, options=options)
    print(f"wrote {printable(result.index)} ({result.cards} foregrounds, {result.composites} composites; thumbnails: "
          f"{result.thumbnails_made} made, {result.thumbnails_cached} cached; {result.seconds['total']:.2f} s)")
    shown = [] if getattr(args, "quiet", False) else result.failures[:10]  # -q: errors only
    for failure in shown:
        print(f"not shown: {printable(failure)}", file=sys.stderr)
    if shown and len(result.failures) > 10:
        print(f"... and {len(result.failures) - 10} more files not shown (listed on the overview)", file=sys.stderr)
    if args.open:
        import webbrowser

        webbrowser.open(result.index.resolve().as_uri())
    return EXIT_OK
