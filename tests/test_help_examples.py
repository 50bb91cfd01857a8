"""
Every example that ``--help`` prints, run as a user would type it.

The examples are discovered from the parser (the top level and every sub-command, nested ones
included), not listed here, and taken in the order of a user's session: synthetic captures,
detection, the embedded default build, verification, export, benchmark, harmonization, report.
They run verbatim, relative paths and all, in one fresh working folder that holds only what a
user has by then: the outputs of the earlier examples, and, where an example cannot run in CI
time, what its command would have produced (prepared with the same command on less work, and
named in :data:`STAND_INS`). Such an example is still checked: parsed by the real parser, with
every input path it names produced by an earlier command, shipped in the checkout, or one of
the user's own inputs the README tells them to provide (:data:`USER_INPUTS`).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

ORDER = ["synth", "detect", "annotate", "build", "verify", "export", "benchmark", "harmonize", "report"]
"""A user's session; commands not listed run last, in parser order."""

OUTPUT_DESTS = {"out", "output", "json", "json_out", "overlay"}
"""Arguments that name what a command writes (everything else that names a path is read)."""

WRITES_INPUT = {("annotate", "annotations")}
"""Arguments that a command creates although they look like inputs (annotate writes its annotation set)."""

USER_INPUTS = {"photos"}
"""The user's own files, which the README asks them to provide (``Reproducing ccHarmony``)."""

PARSE_ONLY = {
    "annotate --raw-dir photos/": "starts a web app that waits for the user, on the user's own photos",
    "build --raw-dir photos/": "needs the user's own photos (Gehler-Shi and NUS-8 downloads, several GB)",
    "benchmark giftnet --data dataset --out runs --preset cpu-smoke": (
        "trains four networks and a teacher, about half an hour on 2 cores (tests/test_quickstart.py runs it verbatim)"),
}
"""Example prefix -> why it is checked by parsing instead of run."""

STAND_INS = {
    "benchmark giftnet --data dataset --out runs --preset cpu-smoke": [
        "benchmark", "giftnet", "--data", "dataset", "--out", "runs", "--preset", "cpu-smoke",
        "--models", "composite,giftnet", "--epochs", "1", "--teacher-epochs", "1", "--save-predictions"],
}
"""For a parse-only example whose outputs later examples read: the same command on less work."""

TIMEOUT = 1800


@dataclass(frozen=True)
class Example:
    """One example line: the command it runs and its words (without ``ccharmony``)."""

    command: str
    text: str
    words: tuple[str, ...]


def _example_lines(description: str) -> list[str]:
    """The ``ccharmony ...`` lines after ``example:`` in a help text (comments dropped, continuations joined)."""
    if "example:" not in description:
        return []
    lines, pending = [], ""
    for raw in description.split("example:", 1)[1].splitlines():
        line = raw.strip()
        if pending:
            line = pending + line
            pending = ""
        if line.endswith("\\"):
            pending = line[:-1].rstrip() + " "
            continue
        if line.startswith("ccharmony "):
            lines.append(line)
        elif line and lines:
            break  # the examples are over
    return lines


def discover_examples() -> list[Example]:
    """Every example of ``ccharmony --help`` and of each sub-command's ``--help``, once each."""
    from ccharmony.cli import build_parser

    found: dict[str, Example] = {}

    def visit(parser: argparse.ArgumentParser) -> None:
        for line in _example_lines(parser.description or ""):
            words = tuple(shlex.split(line, comments=True))[1:]
            key = " ".join(words)
            found.setdefault(key, Example(words[0], key, words))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    visit(child)

    visit(build_parser())
    rank = {name: index for index, name in enumerate(ORDER)}
    return sorted(found.values(), key=lambda e: rank.get(e.command, len(ORDER)))


def _why_parse_only(example: Example) -> str | None:
    return next((why for prefix, why in PARSE_ONLY.items() if example.text.startswith(prefix)), None)


def _stand_in(example: Example) -> list[str] | None:
    return next((words for prefix, words in STAND_INS.items() if example.text.startswith(prefix)), None)


def test_every_command_has_an_example() -> None:
    from ccharmony.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    missing = [name for name, child in commands.items() if not _example_lines(child.description or "")]
    assert not missing, f"commands whose --help shows no example: {missing}"


def test_examples_are_parsed_by_the_real_parser() -> None:
    from ccharmony.cli import build_parser

    for example in discover_examples():
        try:
            build_parser().parse_args(list(example.words))
        except SystemExit as exit:
            pytest.fail(f"`ccharmony {example.text}` does not parse (exit {exit.code})")


def _paths_read(example: Example) -> list[str]:
    """The input paths an example names, from the real parser's namespace."""
    from ccharmony.cli import build_parser

    namespace = vars(build_parser().parse_args(list(example.words)))
    paths = []
    for dest, value in namespace.items():
        if dest in OUTPUT_DESTS or (example.command, dest) in WRITES_INPUT or dest in ("command", "run"):
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, (str, Path)) and ("/" in str(item) or Path(str(item)).suffix or
                                                 dest in ("data", "dataset", "composite", "mask", "files",
                                                          "predictions", "checkpoint", "raw_dir",
                                                          "annotations", "benchmark")):
                paths.append(str(item))
    return paths


def _outputs(example: Example) -> list[str]:
    from ccharmony.cli import build_parser

    namespace = vars(build_parser().parse_args(list(example.words)))
    return [str(namespace[dest]) for dest in namespace
            if (dest in OUTPUT_DESTS or (example.command, dest) in WRITES_INPUT) and namespace[dest] is not None]


def _run(words: list[str] | tuple[str, ...], cwd: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "ccharmony", *words], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_help_examples_run_verbatim(tmp_path: Path) -> None:
    """The session: each example runs (or is parse-checked) in one fresh working folder, in order."""
    work = tmp_path / "work"
    work.mkdir()
    produced: set[str] = set()
    ran, checked, failures = [], [], []
    for example in discover_examples():  # one failure does not hide the examples after it
        why = _why_parse_only(example)
        for path in _paths_read(example):
            inside = path.rstrip("/")
            known = ((work / path).exists() or (REPO / path).exists() or inside in USER_INPUTS
                     or any(inside == p or inside.startswith(p.rstrip("/") + "/") for p in produced))
            if not known:
                failures.append(f"`ccharmony {example.text}` reads {path}, which no earlier example, shipped "
                                "file or documented user input provides")
        if why is None:
            done = _run(example.words, work)
            if done.returncode != 0 or "Traceback" in done.stderr:
                failures.append(f"`ccharmony {example.text}` failed with exit {done.returncode}:\n"
                                f"{done.stderr[-3000:]}\n{done.stdout[-1000:]}")
            failures += [f"`ccharmony {example.text}` did not write {output}" for output in _outputs(example)
                         if done.returncode == 0 and not (work / output).exists()]
            ran.append(example.text)
        else:
            stand_in = _stand_in(example)
            if stand_in is not None:
                done = _run(stand_in, work)
                if done.returncode != 0:
                    failures.append(f"stand-in for `{example.text}` failed:\n{done.stderr[-3000:]}")
            checked.append(f"{example.text}  ({why})")
        produced.update(_outputs(example))
    print("ran verbatim:\n  " + "\n  ".join(ran) + "\nparsed and path-checked:\n  " + "\n  ".join(checked))
    assert ran, "no example ran"
    assert not failures, "\n\n".join(failures)
