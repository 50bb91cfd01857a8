"""
Hostile input for ``ccharmony synth``: bad numbers, huge sizes, and folders that hold something else.

Each case runs the command in its own (forked, preloaded) process with relative paths and a
timeout, and asserts the exit status, the exact last stderr line, no traceback, and that a folder
it refused is untouched. Ids start with ``error-`` (one clear error line, non-zero exit: 2 for a
bad flag value refused by the parser, 1 for a folder that cannot be written) or ``handled-``.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "io"))
from forked_cli import ForkedCLI  # noqa: E402

from ccharmony.synth import synthesize  # noqa: E402

TIMEOUT = 120
SMALL = ["--count", "2", "--size", "96x64", "--no-relit"]


@pytest.fixture(scope="module")
def cli():  # noqa: ANN201
    runner = ForkedCLI()
    yield runner
    runner.close()


def files(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` -> its sha256."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def last_error(result: subprocess.CompletedProcess, expected: str, status: int) -> None:
    err = result.stderr.decode("utf-8", errors="strict").splitlines()
    assert "Traceback" not in result.stderr.decode(), err
    assert result.returncode == status, (result.returncode, err)
    assert err and err[-1] == expected, err
    if status == 1:
        assert len(err) == 1, err


@dataclass
class Case:
    prepare: Callable[[Path], None]
    args: list[str]
    line: str
    status: int


def _nothing(work: Path) -> None:
    pass


def _old_set(work: Path) -> None:
    synthesize(work / "set", count=2, seed=1, size=(96, 64), relit=False)


def _foreign(work: Path) -> None:
    (work / "set").mkdir()
    (work / "set" / "notes.txt").write_text("keep me")


def _a_file(work: Path) -> None:
    (work / "set").write_text("a file")


CASES = {
    "error-negative-seed": Case(_nothing, ["--seed", "-1", *SMALL],
                                "ccharmony synth: error: argument --seed: must be a whole number from 0 to "
                                "9223372036854775807, got '-1'", 2),
    "error-seed-not-a-number": Case(_nothing, ["--seed", "1e3", *SMALL],
                                    "ccharmony synth: error: argument --seed: must be a whole number from 0 to "
                                    "9223372036854775807, got '1e3'", 2),
    "error-size-100000x100000": Case(_nothing, ["--size", "100000x100000", "--count", "1"],
                                     "ccharmony synth: error: argument --size: size must be at most 16384 pixels a side "
                                     "and 100 megapixels in all, got '100000x100000'", 2),
    "error-size-over-100-megapixels": Case(_nothing, ["--size", "12000x9000", "--count", "1"],
                                           "ccharmony synth: error: argument --size: size must be at most 16384 pixels "
                                           "a side and 100 megapixels in all, got '12000x9000'", 2),
    "error-size-zero": Case(_nothing, ["--size", "0x0"],
                            "ccharmony synth: error: argument --size: size must be WIDTHxHEIGHT such as 480x320, "
                            "got '0x0'", 2),
    "error-size-odd": Case(_nothing, ["--size", "99x64"],
                           "ccharmony synth: error: argument --size: size must be even and at least 64x64, got '99x64'", 2),
    "error-count-zero": Case(_nothing, ["--count", "0"],
                             "ccharmony synth: error: argument --count: must be a whole number from 1 to 100000, got '0'", 2),
    "error-workers-zero": Case(_nothing, ["--workers", "0", *SMALL],
                               "ccharmony synth: error: argument --workers: must be a whole number >= 1, got '0'", 2),
    # Writing into a set made with another seed would mix two sets under one synth.json.
    "error-set-of-another-seed": Case(
        _old_set, ["--seed", "2", *SMALL],
        "ccharmony synth: error: set: holds a synth set written with seed 1, count 2, size 96x64, relit false, "
        "ccharmony {version}, not seed 2, count 2, size 96x64, relit false, ccharmony {version}; writing into it would "
        "mix two sets: use another --out, or pass --overwrite to replace it", 1),
    "error-foreign-folder": Case(_foreign, ["--seed", "1", *SMALL, "--overwrite"],
                                 "ccharmony synth: error: set: folder is not empty and is not a synth set (it holds "
                                 "'notes.txt'); use another --out", 1),
    "error-out-is-a-file": Case(_a_file, ["--seed", "1", *SMALL],
                                "ccharmony synth: error: set: output path exists and is not a folder", 1),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_refused(case: Case, cli: ForkedCLI, tmp_path: Path) -> None:
    from ccharmony import __version__

    case.prepare(tmp_path)
    before = files(tmp_path)
    result = cli.run("synth", "--out", "set", *case.args, cwd=tmp_path, timeout=TIMEOUT)
    last_error(result, case.line.format(version=__version__), case.status)
    assert files(tmp_path) == before
    if case.prepare is _nothing:
        assert not (tmp_path / "set").exists()


def test_same_settings_again_rewrite_the_same_bytes(cli: ForkedCLI, tmp_path: Path) -> None:
    """handled-same-settings: the command run twice gives the same folder (nothing mixed)."""
    _old_set(tmp_path)
    before = files(tmp_path / "set")
    result = cli.run("synth", "--out", "set", "--seed", "1", *SMALL, cwd=tmp_path, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr.decode()
    assert files(tmp_path / "set") == before


def test_overwrite_replaces_another_set_whole(cli: ForkedCLI, tmp_path: Path) -> None:
    """handled-overwrite: the new set is swapped in complete; no file of the old one stays."""
    synthesize(tmp_path / "set", count=3, seed=1, size=(96, 64), relit=False)
    result = cli.run("synth", "--out", "set", "--seed", "2", *SMALL, "--overwrite", cwd=tmp_path, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr.decode()
    fresh = tmp_path / "fresh"
    synthesize(fresh, count=2, seed=2, size=(96, 64), relit=False)
    assert files(tmp_path / "set") == files(fresh)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "set"]
    lines = result.stdout.decode().splitlines()
    assert len(lines) == 2 and all(f"\t{tmp_path / 'set'}/raw/" in line or "\tset/raw/" in line for line in lines)
