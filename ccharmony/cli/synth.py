"""``ccharmony synth``: physically based synthetic captures."""

from __future__ import annotations

import argparse
import sys

from ccharmony.cli._common import (
    EXIT_OK,
    register,
    subparser,
)

__author__ = "ccharmony developers"
__license__ = "MIT"


def _parse_size(text: str) -> tuple[int, int]:
    """Parse ``WxH`` (e.g. ``480x320``) into ``(width, height)``."""
    parts = text.lower().split("x")
    try:
        width, height = (int(parts[0]), int(parts[1])) if len(parts) == 2 else (0, 0)
    except ValueError:
        width, height = 0, 0
    if width <= 0 or height <= 0:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT such as 480x320, got {text!r}")
    return width, height


@register
def _add_synth(sub: argparse._SubParsersAction) -> None:
    p = subparser(sub, "synth",
                   "write physically based synthetic captures (DNG + ground truth + annotations)",
                   "ccharmony synth --out synthetic --count 20 --seed 1 --size 480x320")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--count", type=int, default=10, help="number of captures")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    p.add_argument("--size", type=_parse_size, default=(480, 320), metavar="WxH",
                   help="capture size in pixels, even numbers, at least 64x64")
    p.add_argument("--camera", action="append", default=None, metavar="NAME",
                   help="camera to draw from (repeatable): 'Nikon D5100', 'Sigma SD Merrill', "
                        "'Canon EOS 5D Mark II'; default all")
    p.add_argument("--no-relit", action="store_true",
                   help="do not write truth/<image>_relit.npz (render_relit regenerates it)")
    p.add_argument("--workers", type=int, default=1, help="processes to render with")
    p.set_defaults(run=_run_synth)


def _run_synth(args: argparse.Namespace) -> int:
    from ccharmony.synth import synthesize

    captures = synthesize(args.out, count=args.count, seed=args.seed, size=tuple(args.size),
                          relit=not args.no_relit, cameras=args.camera, workers=args.workers)
    for capture in captures:
        print(f"{capture.name}\t{capture.camera}\t{capture.dng_path}\t{capture.truth_path}")
    print(f"wrote {len(captures)} captures to {args.out}", file=sys.stderr)
    return EXIT_OK
