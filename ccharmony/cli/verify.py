"""``ccharmony verify``: integrity, consistency and leakage checks."""

from __future__ import annotations

from ccharmony.cli._common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    add_max_pixels_argument,
    positive_int,
    register,
    show_progress,
    subparser,
)

__author__ = "ccharmony developers"
__license__ = "MIT"


@register
def _add_verify(sub):  # noqa: ANN001, ANN202
    p = subparser(sub, "verify", "check that a dataset folder is intact, consistent and free of split leakage",
                   "ccharmony verify dataset --deep --json verify.json --workers 2")
    p.epilog = "exit status: 0 sound, 1 problems found (or the folder cannot be read), 2 usage error"
    p.add_argument("dataset", metavar="DIR", help="dataset folder (ours, or any iHarmony4-layout folder), or the "
                                                  "store URL of one ccharmony built (s3://bucket/ds)")
    p.add_argument("--deep", action="store_true",
                   help="also re-apply each recorded transfer and compare with the stored composite")
    p.add_argument("--json", metavar="REPORT", default=None, help="write the machine-readable report here")
    p.add_argument("--workers", metavar="N", type=positive_int, default=1, help="processes for the per-image checks")
    p.add_argument("--no-progress", action="store_true", help="do not show the progress bar (shown only on a terminal)")
    add_max_pixels_argument(p)
    p.set_defaults(run=_run_verify)


def _run_verify(args) -> int:  # noqa: ANN001
    from ccharmony.dataset.verify import check_report_destination, format_report, verify_dataset

    if args.json:
        check_report_destination(args.json)  # before the checks, which may take minutes
    from ccharmony.dataset.store import is_url, open_dataset_location

    # A store URL (s3://...): the files its MANIFEST.json names, mirrored and checked; a folder: itself.
    with open_dataset_location(args.dataset) as folder:
        report = verify_dataset(folder, deep=args.deep, workers=args.workers, progress=show_progress(args),
                                max_pixels=args.max_pixels)
    if is_url(args.dataset):
        report.dataset = args.dataset  # named as given, not by its temporary mirror
    if args.json:
        report.write_json(args.json)
    print(format_report(report))
    return EXIT_OK if report.ok else EXIT_PROBLEMS
