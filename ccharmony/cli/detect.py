"""``ccharmony detect``: find the ColorChecker and estimate the illuminant."""

from __future__ import annotations

import sys

from ccharmony.cli._common import (
    EXIT_OK,
    add_ingest_arguments,
    ingest_options_from_args,
    register,
    subparser,
)

__author__ = "ccharmony developers"
__license__ = "MIT"


@register
def _add_detect(sub):  # noqa: ANN001, ANN202
    p = subparser(sub, "detect", "find the ColorChecker, sample its patches, estimate the illuminant",
                   "ccharmony detect photo.dng --json detect.json --overlay overlays/")
    p.add_argument("files", nargs="+", metavar="FILE", help="photographs to read")
    p.add_argument("--json", dest="json_out", default=None, metavar="OUT",
                   help="write the record(s) here (default: standard output)")
    p.add_argument("--overlay", default=None, metavar="DIR",
                   help="write <DIR>/<stem>.png showing the detection")
    p.add_argument("--gt", default=None, metavar="R,G,B",
                   help="ground-truth camera-RGB illuminant; adds illuminant_error_deg")
    p.add_argument("--annotation", default=None, metavar="PATH",
                   help="manual geometry (corners .json, <name>_macbeth.txt, <name>_mask.txt); one FILE only")
    p.add_argument("--methods", default=None, metavar="M1,M2",
                   help="detection backends in order (segmentation, mcc)")
    add_ingest_arguments(p)
    p.set_defaults(run=_run_detect)


def _run_detect(args) -> int:  # noqa: ANN001
    import json

    from ccharmony.checker import detect_record
    from ccharmony.errors import ConfigError

    ground_truth = None
    if args.gt is not None:
        try:
            ground_truth = [float(v) for v in args.gt.split(",")]
        except ValueError:
            ground_truth = []
        if len(ground_truth) != 3:
            raise ConfigError(f"--gt must be three comma-separated numbers R,G,B, got {args.gt!r}")
    if args.annotation is not None and len(args.files) != 1:
        raise ConfigError(f"--annotation applies to one FILE, got {len(args.files)} files")
    methods = args.methods.split(",") if args.methods else None
    options = ingest_options_from_args(args)
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
