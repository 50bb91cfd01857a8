"""
Shared pieces of the command line
=================================

The parser helpers every sub-command module uses: the exit-status policy, the
help formatter, :func:`subparser` (one sub-command with its example) and the
ingestion flags shared by the commands that read photos.

A sub-command module ``ccharmony/cli/<name>.py`` defines ``_add_<name>(sub)``
decorated with :func:`register`, which builds its parser and sets
``run=_run_<name>``; ``_run_<name>(args) -> int`` calls the library, imported
inside the function so that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "EXIT_OK",
    "EXIT_PROBLEMS",
    "EXIT_USAGE",
    "add_ingest_arguments",
    "ingest_options_from_args",
    "register",
    "registered",
    "subparser",
]

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2

_ADDERS: list[Callable[[argparse._SubParsersAction], None]] = []


def register(function: Callable[[argparse._SubParsersAction], None]) -> Callable[[argparse._SubParsersAction], None]:
    """Add a ``_add_<command>(sub)`` function to the parser (in import order)."""
    _ADDERS.append(function)
    return function


def registered() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Return the registered ``_add_<command>`` functions in registration order."""
    return list(_ADDERS)


class Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keep the examples' line breaks and show defaults."""


def subparser(sub: argparse._SubParsersAction, name: str, help_: str, example: str) -> argparse.ArgumentParser:
    """Add sub-command ``name`` whose description ends with ``example``."""
    return sub.add_parser(
        name,
        help=help_,
        description=f"{help_}\n\nexample:\n  {example}",
        formatter_class=Formatter,
    )


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
    group.add_argument("--kind", choices=["auto", "camera-raw", "linear", "bayer", "rendered"], default="auto",
                       help="how to read the photos; auto decides from the file content")
    group.add_argument("--half-size", action="store_true",
                       help="2x2 binning instead of full-resolution demosaicing for RAW and Bayer input")


def ingest_options_from_args(args: argparse.Namespace):  # noqa: ANN201 - library type
    """Build :class:`ccharmony.io.IngestOptions` from parsed ingest flags."""
    from ccharmony.io import IngestOptions

    return IngestOptions(
        cfa=args.cfa, black_level=args.black, white_level=args.white,
        camera=args.camera, half_size=args.half_size, kind=args.kind,
    )
