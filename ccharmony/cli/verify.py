"""``ccharmony verify``: integrity, consistency and leakage checks."""

from __future__ import annotations

from ccharmony.cli._common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    register,
    subparser,
)

__author__ = "ccharmony developers"
__license__ = "MIT"


@register
def _add_verify(sub):  # noqa: ANN001, ANN202
    p = subparser(sub, "verify", "check that a dataset folder is intact, consistent and free of split leakage",
                   "ccharmony verify dataset --deep --json verify.json --workers 2")
    p.add_argument("dataset", metavar="DIR", help="dataset folder (ours, or any iHarmony4-layout folder)")
    p.add_argument("--deep", action="store_true",
                   help="also re-apply each recorded transfer and compare with the stored composite")
    p.add_argument("--json", metavar="REPORT", default=None, help="write the machine-readable report here")
    p.add_argument("--workers", metavar="N", type=int, default=1, help="processes for the per-image checks")
    p.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    p.set_defaults(run=_run_verify)


def _run_verify(args) -> int:  # noqa: ANN001
    from ccharmony.dataset.verify import format_report, verify_dataset

    report = verify_dataset(args.dataset, deep=args.deep, workers=args.workers, progress=not args.no_progress)
    if args.json:
        report.write_json(args.json)
    print(format_report(report))
    return EXIT_OK if report.ok else EXIT_PROBLEMS
