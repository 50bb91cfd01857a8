"""``ccharmony synth``: physically based synthetic captures."""

from __future__ import annotations

import argparse
import sys

from ccharmony.cli._common import (
    EXIT_OK,
    int_range,
    positive_int,
    register,
    subparser,
)

__author__ = "ccharmony developers"
__license__ = "MIT"

# ccharmony.synth.captures.MAX_SIDE, MAX_PIXELS, MAX_COUNT, MAX_SEED (not imported: --help stays fast)
_MAX_SIDE = 16384
_MAX_PIXELS = 100_000_000
_MAX_COUNT = 100_000
_MAX_SEED = 2**63 - 1


def _parse_size(text: str) -> tuple[int, int]:
    """
    Parse ``WxH`` (e.g. ``480x320``) into ``(width, height)``: even, 64 to 16384 a side, at most 100 megapixels.

    Examples
    --------
    >>> _parse_size("480x320")
    (480, 320)
    >>> _parse_size("100000x100000")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: size must be at most 16384 pixels a side and 100 megapixels in all, got '100000x100000'
    """
    parts = text.lower().split("x")
    try:
        width, height = (int(parts[0], 10), int(parts[1], 10)) if len(parts) == 2 else (0, 0)
    except ValueError:
        width, height = 0, 0
    if width <= 0 or height <= 0:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT such as 480x320, got {text!r}")
    if width < 64 or height < 64 or width % 2 or height % 2:
        raise argparse.ArgumentTypeError(f"size must be even and at least 64x64, got {text!r}")
    if width > _MAX_SIDE or height > _MAX_SIDE or width * height > _MAX_PIXELS:
        raise argparse.ArgumentTypeError(
            f"size must be at most {_MAX_SIDE} pixels a side and {_MAX_PIXELS // 1_000_000} megapixels in all, "
            f"got {text!r}")
    return width, height


@register
def _add_synth(sub: argparse._SubParsersAction) -> None:
    p = subparser(sub, "synth",
                   "write physically based synthetic captures (DNG + ground truth + annotations)",
                   "ccharmony synth --out synthetic --count 20 --seed 1 --size 480x320")
    p.add_argument("--out", required=True,
                   help="output folder: absent, empty, or a set written with the same settings")
    p.add_argument("--count", type=int_range(1, _MAX_COUNT), default=10, help="number of captures")
    p.add_argument("--seed", type=int_range(0, _MAX_SEED), default=0,
                   help="random seed, 0 to 2**63-1 (same seed, same bytes)")
    p.add_argument("--size", type=_parse_size, default=(480, 320), metavar="WxH",
                   help="capture size in pixels, even numbers, 64 to 16384 a side, at most 100 megapixels")
    p.add_argument("--camera", action="append", default=None, metavar="NAME",
                   help="camera to draw from (repeatable): 'Nikon D5100', 'Sigma SD Merrill', "
                        "'Canon EOS 5D Mark II'; default all")
    p.add_argument("--no-relit", action="store_true",
                   help="do not write truth/<image>_relit.npz (render_relit regenerates it)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a synth set written there with other settings (swapped in when complete)")
    p.add_argument("--workers", type=positive_int, default=1, help="processes to render with")
    p.set_defaults(run=_run_synth)


def _run_synth(args: argparse.Namespace) -> int:
    from ccharmony.synth import synthesize

    captures = synthesize(args.out, count=args.count, seed=args.seed, size=tuple(args.size),
                          relit=not args.no_relit, cameras=args.camera, workers=args.workers,
                          overwrite=args.overwrite)
    for capture in captures:
        print(f"{capture.name}\t{capture.camera}\t{capture.dng_path}\t{capture.truth_path}")
    if not getattr(args, "quiet", False):
        print(f"wrote {len(captures)} captures to {args.out}", file=sys.stderr)
    return EXIT_OK
