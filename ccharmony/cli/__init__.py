"""
Command line
============

Parse arguments for the ``ccharmony`` command and call the library. Nothing
here computes anything: each sub-command lives in its own module
(``ccharmony/cli/<command>.py``) as an ``_add_<name>`` (parser) /
``_run_<name>`` (call) pair, and :func:`main` turns a
:class:`~ccharmony.errors.CCHarmonyError` into one stderr line and a non-zero
exit status.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ccharmony import __version__
from ccharmony.cli import benchmark as _benchmark  # noqa: F401 - registers its commands
from ccharmony.cli import build as _build  # noqa: F401
from ccharmony.cli import detect as _detect  # noqa: F401
from ccharmony.cli import harmonize as _harmonize  # noqa: F401
from ccharmony.cli import report as _report  # noqa: F401
from ccharmony.cli import synth as _synth  # noqa: F401
from ccharmony.cli import verify as _verify  # noqa: F401
from ccharmony.cli._common import EXIT_OK, EXIT_USAGE, Formatter, registered
from ccharmony.errors import CCHarmonyError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["main", "build_parser"]

# Sub-commands in the order `--help` lists them.
_ORDER = ["synth", "detect", "build", "verify", "benchmark", "harmonize", "report"]


def build_parser() -> argparse.ArgumentParser:
    """Return the ``ccharmony`` argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="ccharmony",
        description=(
            "Build colour-checker-based image-harmonization datasets from raw photographs "
            "(after ccHarmony, Niu et al. ICCV 2023) and benchmark harmonization models on them.\n\n"
            "example:\n  ccharmony build --out dataset    # the embedded default, a few minutes"
        ),
        formatter_class=Formatter,
    )
    parser.add_argument("--version", action="version", version=f"ccharmony {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    adders = registered()
    adders.sort(key=lambda add: _ORDER.index(add.__name__[len("_add_"):])
                if add.__name__[len("_add_"):] in _ORDER else len(_ORDER))
    for add in adders:
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
    except OSError as error:
        # Disk full, permissions, a folder that vanished: the system's own words and the path.
        where = f"{error.filename}: " if getattr(error, "filename", None) else ""
        print(f"ccharmony {args.command}: error: {where}{error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"ccharmony {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
