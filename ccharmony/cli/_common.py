"""
Shared pieces of the command line
=================================

The parser helpers every sub-command module uses: the exit-status policy, the
help formatter, :func:`subparser` (one sub-command with its example, and the
``-v`` / ``-q`` flags it accepts after the command name too), argument types
that refuse bad values as usage errors (:func:`positive_int`,
:func:`int_range`), the ingestion flags shared by the commands that read
photos, :func:`add_max_pixels_argument`, :func:`show_progress`, and
:func:`printable` (re-exported from :mod:`ccharmony._text`) through which
every file name printed goes.

Exit statuses (README, "Exit status"): :data:`EXIT_OK` 0 success;
:data:`EXIT_PROBLEMS` 1 problems found (``verify``) or the run failed (every
:class:`~ccharmony.errors.CCHarmonyError` and :class:`OSError` at run time);
:data:`EXIT_USAGE` 2 a usage error (the parser's, a bad flag value, a
:class:`~ccharmony.errors.UsageError`); :data:`EXIT_BROKEN_PIPE` 141 when the
reader of standard output went away (``ccharmony verify ds | head -1``), as a
process killed by SIGPIPE; :data:`EXIT_INTERRUPTED` 130 after Ctrl-C.

A sub-command module ``ccharmony/cli/<name>.py`` defines ``_add_<name>(sub)``
decorated with :func:`register`, which builds its parser and sets
``run=_run_<name>``; ``_run_<name>(args) -> int`` calls the library, imported
inside the function so that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ccharmony._text import printable

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "EXIT_OK",
    "EXIT_PROBLEMS",
    "EXIT_USAGE",
    "EXIT_INTERRUPTED",
    "EXIT_BROKEN_PIPE",
    "add_ingest_arguments",
    "add_max_pixels_argument",
    "add_verbosity_arguments",
    "int_range",
    "positive_int",
    "printable",
    "show_progress",
    "ingest_options_from_args",
    "register",
    "registered",
    "subparser",
]

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

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


def add_verbosity_arguments(parser: argparse.ArgumentParser, *, top_level: bool = False) -> None:
    """
    Add ``-v`` / ``-q`` to ``parser``.

    The top-level parser sets the defaults; each sub-command's parser takes the
    same flags with ``argparse.SUPPRESS`` defaults, so ``ccharmony -v verify ds``
    and ``ccharmony verify ds -v`` mean the same and a flag given before the
    command is not reset after it.
    """
    default_true: object = False if top_level else argparse.SUPPRESS
    group = parser.add_argument_group("output") if not top_level else parser
    group.add_argument("-v", "--verbose", action="store_true", default=default_true,
                       help="log progress details")
    group.add_argument("-q", "--quiet", action="store_true", default=default_true,
                       help="only errors on stderr: no warnings, no progress bars")


def subparser(sub: argparse._SubParsersAction, name: str, help_: str, example: str) -> argparse.ArgumentParser:
    """Add sub-command ``name`` whose description ends with ``example`` (each example line runs as given)."""
    parser = sub.add_parser(
        name,
        help=help_,
        description=f"{help_}\n\nexample:\n  {example}",
        formatter_class=Formatter,
    )
    add_verbosity_arguments(parser)
    return parser


def positive_int(text: str) -> int:
    """
    Parse a whole number >= 1 for argparse (a bad value is a usage error, exit 2).

    Examples
    --------
    >>> positive_int("4")
    4
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a whole number >= 1, got '0'
    """
    return int_range(1, None)(text)


def int_range(low: int | None, high: int | None) -> Callable[[str], int]:
    """
    Return an argparse type accepting whole numbers in ``[low, high]`` (``None``: unbounded).

    Examples
    --------
    >>> int_range(1, 8192)("-5")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a whole number from 1 to 8192, got '-5'
    """
    if low is not None and high is not None:
        wanted = f"a whole number from {low} to {high}"
    elif low is not None:
        wanted = f"a whole number >= {low}"
    elif high is not None:
        wanted = f"a whole number <= {high}"
    else:
        wanted = "a whole number"

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except (TypeError, ValueError):
            value = None
        if value is None or (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in its messages
    return parse


def add_max_pixels_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add ``--max-pixels N``: images above N pixels are refused on their header, before decoding."""
    from ccharmony.io.limits import DEFAULT_MAX_PIXELS

    parser.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS, metavar="N",
                        help="refuse images above N pixels (width x height) from their header, before decoding; "
                             "the default fits the largest camera sensors (Phase One IQ4, 151 MP)")


def show_progress(args: argparse.Namespace) -> bool:
    """Return whether to draw progress bars: on a terminal only, unless ``--no-progress`` or ``-q``."""
    if getattr(args, "no_progress", False) or getattr(args, "quiet", False):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


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
    add_max_pixels_argument(group)


def ingest_options_from_args(args: argparse.Namespace):  # noqa: ANN201 - library type
    """Build :class:`ccharmony.io.IngestOptions` from parsed ingest flags (a bad value is a usage error)."""
    from ccharmony.errors import ConfigError, UsageError
    from ccharmony.io import IngestOptions
    from ccharmony.io.limits import DEFAULT_MAX_PIXELS

    try:
        return IngestOptions(
            cfa=args.cfa, black_level=args.black, white_level=args.white,
            camera=args.camera, half_size=args.half_size, kind=args.kind,
            max_pixels=getattr(args, "max_pixels", DEFAULT_MAX_PIXELS),
        )
    except ConfigError as error:
        raise UsageError(str(error)) from None
