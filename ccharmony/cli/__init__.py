"""
Command line
============

Parse arguments for the ``ccharmony`` command and call the library. Nothing
here computes anything: each sub-command lives in its own module
(``ccharmony/cli/<command>.py``) as an ``_add_<name>`` (parser) /
``_run_<name>`` (call) pair, and :func:`main` turns a
:class:`~ccharmony.errors.CCHarmonyError` into one stderr line and a non-zero
exit status.

Exit status (the README's "Exit status" section): 0 success; 1 problems found
or the run failed (every :class:`~ccharmony.errors.CCHarmonyError`,
:class:`OSError` and :class:`MemoryError` at run time, and, labelled "internal
error" with the traceback under ``-v``, any other exception: a bug); 2 usage (the
parser's errors, bad flag values, :class:`~ccharmony.errors.UsageError`);
130 interrupted; 141 standard output closed by its reader (``| head``), which
ends the command quietly as SIGPIPE ends other tools.

Everything printed is terminal-safe: error lines go through
:func:`ccharmony._text.printable`, standard output through a stream that
escapes control characters and undecodable bytes of file names (newlines and
tabs kept), and log lines through a formatter that does the same.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any, TextIO

from ccharmony import __version__
from ccharmony.cli import annotate as _annotate  # noqa: F401 - registers its commands
from ccharmony.cli import benchmark as _benchmark  # noqa: F401
from ccharmony.cli import build as _build  # noqa: F401
from ccharmony.cli import detect as _detect  # noqa: F401
from ccharmony.cli import export as _export  # noqa: F401
from ccharmony.cli import harmonize as _harmonize  # noqa: F401
from ccharmony.cli import report as _report  # noqa: F401
from ccharmony.cli import synth as _synth  # noqa: F401
from ccharmony.cli import verify as _verify  # noqa: F401
from ccharmony._text import printable
from ccharmony.cli._common import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    Formatter,
    add_verbosity_arguments,
    registered,
)
from ccharmony.errors import CCHarmonyError, UsageError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["main", "build_parser"]

# Sub-commands in the order `--help` lists them.
_ORDER = ["synth", "detect", "annotate", "build", "verify", "export", "benchmark", "harmonize", "report"]


def build_parser() -> argparse.ArgumentParser:
    """Return the ``ccharmony`` argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="ccharmony",
        description=(
            "Build colour-checker-based image-harmonization datasets from raw photographs "
            "(after ccHarmony, Niu et al. ICCV 2023) and benchmark harmonization models on them.\n\n"
            "example:\n"
            "  ccharmony build --out dataset          # the embedded default (synthetic captures), about a minute\n"
            "  ccharmony verify dataset               # exit status 0: sound\n"
            "  ccharmony report dataset --out report  # a browsable page: report/index.html"
        ),
        epilog="exit status: 0 success, 1 problems found or the run failed, 2 usage error",
        formatter_class=Formatter,
    )
    parser.add_argument("--version", action="version", version=f"ccharmony {__version__}")
    add_verbosity_arguments(parser, top_level=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    adders = registered()
    adders.sort(key=lambda add: _ORDER.index(add.__name__[len("_add_"):])
                if add.__name__[len("_add_"):] in _ORDER else len(_ORDER))
    for add in adders:
        add(sub)
    return parser


class _TerminalSafe:
    """Standard output that escapes control characters and undecodable bytes in whatever is printed.

    Newlines and tabs are kept (tab-separated output stays a table); everything
    else :func:`~ccharmony._text.printable` escapes is shown as an escape, so no
    file name printed by any sub-command can drive the user's terminal or make
    a strict UTF-8 stream raise.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        safe = printable(text, keep_layout=True)
        try:
            self._stream.write(safe)
        except UnicodeEncodeError:  # a non-UTF-8 terminal (LANG=C with a strict encoding)
            encoding = getattr(self._stream, "encoding", None) or "ascii"
            self._stream.write(safe.encode(encoding, "backslashreplace").decode(encoding))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _SafeFormatter(logging.Formatter):
    """Log lines with file names escaped (a warning names files from the data)."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record), keep_layout=True)


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.ERROR if args.quiet else logging.INFO if args.verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_ccharmony", False)]:
        root.removeHandler(old)
    handler._ccharmony = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)


def _silence_stdout() -> None:
    """Point standard output at /dev/null after a broken pipe (CPython's recommended pattern).

    Python flushes ``sys.stdout`` once more at exit; with the reader gone that
    flush would print "Exception ignored ... BrokenPipeError".
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (captured in tests)
        pass


def _error_line(command: str, message: object) -> None:
    try:
        print(f"ccharmony {command}: error: {printable(message)}", file=sys.stderr)
    except (OSError, ValueError):  # stderr closed too: nothing more can be said
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the ``ccharmony`` command and return its exit status.

    Returns
    -------
    int
        0 success; 1 problems found or the run failed; 2 usage error; 130
        interrupted; 141 standard output closed by its reader. The parser's
        own usage errors and ``--help`` / ``--version`` raise
        :class:`SystemExit` (2 and 0) as argparse does.
    """
    stdout = sys.stdout
    sys.stdout = _TerminalSafe(stdout)  # type: ignore[assignment]
    try:
        return _main(argv)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    finally:
        sys.stdout = stdout


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose and args.quiet:
        parser.error("-v/--verbose and -q/--quiet contradict each other; give one")
    _configure_logging(args)
    command = getattr(args, "command", None)
    if not command:
        parser.print_help()
        sys.stdout.flush()
        return EXIT_USAGE
    try:
        status = int(args.run(args) or EXIT_OK)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers below
        return status
    except BrokenPipeError:  # before OSError, of which it is a subclass
        raise
    except UsageError as error:
        _error_line(command, error)
        return EXIT_USAGE
    except CCHarmonyError as error:
        _error_line(command, error)
        return EXIT_PROBLEMS
    except OSError as error:
        # Disk full, permissions, a folder that vanished: the system's own words and the path.
        where = f"{error.filename}: " if getattr(error, "filename", None) else ""
        _error_line(command, f"{where}{error.strerror or error}")
        return EXIT_PROBLEMS
    except MemoryError:
        _error_line(command, "out of memory; use smaller inputs, fewer --workers, or a larger machine")
        return EXIT_PROBLEMS
    except RecursionError:
        _error_line(command, "input nested too deeply to process (maximum recursion depth exceeded)")
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        try:
            print(f"ccharmony {command}: interrupted", file=sys.stderr)
        except (OSError, ValueError):
            pass
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - a bug: say so in one line; -v shows where
        if args.verbose:
            traceback.print_exc(file=sys.stderr)
        _error_line(command, f"internal error: {type(error).__name__}: {error} (a bug in ccharmony, not in your "
                             "input: please report it with the command; -v shows the traceback)")
        return EXIT_PROBLEMS


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
