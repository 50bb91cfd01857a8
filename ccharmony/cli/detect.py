"""``ccharmony detect``: find the ColorChecker and estimate the illuminant."""

from __future__ import annotations

import sys

from ccharmony.cli._common import (
    EXIT_OK,
    add_ingest_arguments,
    ingest_options_from_args,
    printable,
    register,
    subparser,
)

__author__ = "ccharmony developers"
__license__ = "MIT"


@register
def _add_detect(sub):  # noqa: ANN001, ANN202
    p = subparser(sub, "detect", "find the ColorChecker, sample its patches, estimate the illuminant",
                   "ccharmony detect synthetic/raw/SynthSDMerrill-0001.dng --json detect.json --overlay overlays/"
                   "    # a capture of `ccharmony synth --out synthetic --seed 1`")
    p.add_argument("files", nargs="+", metavar="FILE", help="photographs to read")
    p.add_argument("--json", dest="json_out", default=None, metavar="OUT",
                   help="write the record(s) here (default: standard output)")
    p.add_argument("--overlay", default=None, metavar="DIR",
                   help="write <DIR>/<stem>.png showing the detection")
    p.add_argument("--gt", type=_parse_gt, default=None, metavar="R,G,B",
                   help="ground-truth camera-RGB illuminant; adds illuminant_error_deg")
    p.add_argument("--annotation", default=None, metavar="PATH",
                   help="manual geometry (corners .json, <name>_macbeth.txt, <name>_mask.txt); one FILE only")
    p.add_argument("--methods", default=None, metavar="M1,M2",
                   help="detection backends in order (segmentation, mcc)")
    add_ingest_arguments(p)
    p.set_defaults(run=_run_detect)


def _parse_gt(text: str) -> list[float]:
    """Parse ``--gt R,G,B``: three finite, non-negative numbers, not all zero."""
    import argparse
    import math

    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3 or not all(math.isfinite(v) and v >= 0 for v in values) or not any(values):
        raise argparse.ArgumentTypeError(
            f"must be three comma-separated numbers R,G,B (finite, >= 0, not all 0), got {text!r}")
    return values


def _run_detect(args) -> int:  # noqa: ANN001
    import json

    from ccharmony.checker import detect_record
    from ccharmony.checker.detect import DETECTION_METHODS
    from ccharmony.errors import UsageError

    ground_truth = args.gt
    if args.annotation is not None and len(args.files) != 1:
        raise UsageError(f"--annotation applies to one FILE, got {len(args.files)} files")
    methods = [name.strip() for name in args.methods.split(",")] if args.methods else None
    for name in methods or ():
        if name not in DETECTION_METHODS:
            raise UsageError(f"--methods: detection method {name!r} is unknown; use one of {sorted(DETECTION_METHODS)}")
    options = ingest_options_from_args(args)
    if args.json_out is not None:
        _check_writable(args.json_out)
    records = [detect_record(path, options=options, ground_truth=ground_truth,
                             overlay_dir=args.overlay, annotation=args.annotation, methods=methods)
               for path in args.files]
    text = json.dumps(records[0] if len(records) == 1 else records, indent=1) + "\n"
    if args.json_out is None:
        sys.stdout.write(text)
    else:
        from ccharmony.io.atomic import atomic_write_text

        atomic_write_text(args.json_out, text)
    return EXIT_OK


def _check_writable(path: str) -> None:
    """Refuse a ``--json`` destination that cannot be written before the (slow) detection runs."""
    import os
    from pathlib import Path

    from ccharmony.errors import UsageError

    target = Path(path)
    folder = target.parent
    if target.is_dir():
        raise UsageError(f"--json {printable(path)}: is a folder; give a file name")
    if not folder.is_dir():
        raise UsageError(f"--json {printable(path)}: folder {printable(folder)} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"--json {printable(path)}: folder {printable(folder)} is not writable")
