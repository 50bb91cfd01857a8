"""
Command line
============

Parse arguments for the ``ccharmony`` command and call the library. Nothing
here computes anything: each ``_run_*`` function converts arguments into a
library call, and :func:`main` turns a :class:`~ccharmony.errors.CCHarmonyError`
into one stderr line and a non-zero exit status.

Each sub-command lives in a ``_add_<name>`` (parser) / ``_run_<name>`` (call)
pair so that the commands stay independent of one another.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ccharmony import __version__
from ccharmony.errors import CCHarmonyError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["main", "build_parser"]

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


_ADDERS: list = []


def _register(function):  # noqa: ANN001, ANN202
    """Add a ``_add_<command>(sub)`` function to the parser (in definition order)."""
    _ADDERS.append(function)
    return function


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keep the examples' line breaks and show defaults."""


def _subparser(sub: argparse._SubParsersAction, name: str, help_: str, example: str) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=help_,
        description=f"{help_}\n\nexample:\n  {example}",
        formatter_class=_Formatter,
    )


# --- ingest flags, shared by every command that reads photos ----------------


def add_ingest_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the flags that tell the ingester how to read a photo."""
    group = parser.add_argument_group("ingestion")
    group.add_argument("--cfa", choices=["RGGB", "BGGR", "GRBG", "GBRG"], default=None,
                       help="treat single-channel PNG/TIFF input as a Bayer mosaic with this pattern")
    group.add_argument("--black", type=float, default=None,
                       help="black level in digital numbers (overrides the camera table)")
    group.add_argument("--white", type=float, default=None,
                       help="white (saturation) level in digital numbers (overrides the camera table)")
    group.add_argument("--camera", default=None,
                       help="camera name for the linear PNG/TIFF level table (default: from the file name)")
    group.add_argument("--half-size", action="store_true",
                       help="2x2 binning instead of full-resolution demosaicing for RAW and Bayer input")


def ingest_options_from_args(args: argparse.Namespace):  # noqa: ANN201 - library type
    """Build :class:`ccharmony.io.IngestOptions` from parsed ingest flags."""
    from ccharmony.io import IngestOptions

    return IngestOptions(
        cfa=args.cfa, black_level=args.black, white_level=args.white,
        camera=args.camera, half_size=args.half_size,
    )


# --- sub-commands -----------------------------------------------------------
# One section per command: ``@_register def _add_<name>(sub)`` builds the parser
# and sets ``run=_run_<name>``; ``_run_<name>(args) -> int`` calls the library
# (imported inside the function so that ``--help`` stays fast).

# [section: synth]
# [end: synth]

# [section: detect]
# [end: detect]

# [section: build]
# [end: build]

# [section: verify]
# [end: verify]

# [section: benchmark, harmonize]
# [end: benchmark, harmonize]

# [section: report]
# [end: report]



def build_parser() -> argparse.ArgumentParser:
    """Return the ``ccharmony`` argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="ccharmony",
        description=(
            "Build colour-checker-based image-harmonization datasets from raw photographs "
            "(after ccHarmony, Niu et al. ICCV 2023) and benchmark harmonization models on them.\n\n"
            "example:\n  ccharmony build --out dataset    # the embedded default, a few minutes"
        ),
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"ccharmony {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _ADDERS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ccharmony`` command and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.run(args) or EXIT_OK)
    except CCHarmonyError as error:
        print(f"ccharmony {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"ccharmony {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
