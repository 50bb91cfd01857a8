"""
Hostile use of the command line as a whole: exit statuses, pipes, verbosity flags, progress bars,
and text that must not reach a terminal raw (control characters, bytes that are not UTF-8).

The exit-status policy (README, "Exit status"): 0 success; 1 problems found or the run failed;
2 usage; 141 standard output closed by its reader. Case ids start with ``error-`` (one clear error
line, non-zero exit) or ``handled-`` (documented handling). Commands run in their own processes
with a timeout: real ``python -m ccharmony`` where the interpreter's start or exit matters (pipes,
a strict UTF-8 stdout, a terminal), forked children of a preloaded interpreter elsewhere
(:mod:`forked_cli`).
"""

from __future__ import annotations

import fcntl
import io
import logging
import os
import pty
import select
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "io"))
sys.path.insert(0, str(TESTS / "dataset"))
from forked_cli import ForkedCLI  # noqa: E402
from verify_fixtures import write_dataset  # noqa: E402

TIMEOUT = 120
COMPOSITE = "composite_images/Cam0-0000_a_1.jpg"


def python_m_ccharmony(*args: str, env: dict[str, str] | None = None, **options: object) -> subprocess.Popen:
    """Start ``python -m ccharmony ARGS`` for real (the caller decides what its streams are)."""
    environment = {**os.environ, "PYTHONIOENCODING": "utf-8:strict", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "ccharmony", *args], env=environment,  # type: ignore[call-overload]
                            stdin=subprocess.DEVNULL, **options)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("cli-template") / "ds")


@pytest.fixture()
def dataset(template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "ds"))


@pytest.fixture(scope="module")
def cli():  # noqa: ANN201
    runner = ForkedCLI()
    yield runner
    runner.close()


# --- exit statuses ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "arguments", "status", "last_line"), [pytest.param(*case, id=case[0]) for case in [
    ("handled-sound-dataset-exits-0", ["verify", "{ds}"], 0, None),
    ("handled-problems-found-exit-1", ["verify", "{ds}", "--deep", "--json", "{ds}/../v.json"], 1, None),
    ("error-run-failure-missing-folder-exits-1", ["verify", "{ds}/absent"], 1,
     "ccharmony verify: error: dataset folder {ds}/absent does not exist"),
    ("error-run-failure-os-error-exits-1", ["report", "{ds}", "--out", "{ds}/Synthtrain.txt/report",
                                            "--no-verify"], 1,
     "ccharmony report: error: {ds}/Synthtrain.txt/report: Not a directory"),
    ("error-usage-unknown-flag-exits-2", ["verify", "{ds}", "--bogus"], 2,
     "ccharmony: error: unrecognized arguments: --bogus"),
    ("error-usage-workers-0-exits-2", ["verify", "{ds}", "--workers", "0"], 2,
     "ccharmony verify: error: argument --workers: must be a whole number >= 1, got '0'"),
    ("error-usage-max-pixels-negative-exits-2", ["detect", "x.png", "--max-pixels", "-1"], 2,
     "ccharmony detect: error: argument --max-pixels: must be a whole number >= 1, got '-1'"),
    ("error-usage-verbose-and-quiet-exit-2", ["-v", "verify", "{ds}", "-q"], 2,
     "ccharmony: error: -v/--verbose and -q/--quiet contradict each other; give one"),
    ("error-usage-no-command-exits-2", [], 2, None),
    ("error-usage-bad-method-exits-2", ["detect", "x.png", "--methods", "foo"], 2,
     "ccharmony detect: error: --methods: detection method 'foo' is unknown; use one of ['mcc', 'segmentation']"),
]])
def test_exit_status(name: str, arguments: list[str], status: int, last_line: str | None, dataset: Path,
                     tmp_path: Path, cli: ForkedCLI) -> None:
    if name == "handled-problems-found-exit-1":
        (dataset / "Synthtrain.txt").write_text((dataset / "Synthtrain.txt").read_text() * 2)  # duplicated lines
    args = [a.replace("{ds}", str(dataset)) for a in arguments]
    done = cli.run(*args, cwd=tmp_path, timeout=TIMEOUT)
    stderr = done.stderr.decode()
    assert "Traceback" not in stderr
    assert done.returncode == status, (done.returncode, stderr)
    if last_line is not None:
        lines = stderr.splitlines()
        assert lines[-1] == last_line.replace("{ds}", str(dataset))
        if status == 1:
            assert len(lines) == 1  # a run failure is one line; usage errors add argparse's usage
    elif status != 2:
        assert stderr == ""  # results and problems go to stdout, exit status says which
    if name == "error-usage-no-command-exits-2":
        assert done.stdout.decode().startswith("usage: ccharmony")


# --- pipes -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [pytest.param(name, id=name) for name in ("handled-verify-into-a-closed-pipe",
                                                                             "handled-help-into-a-closed-pipe")])
def test_closed_pipe_is_quiet(name: str, template: Path) -> None:
    """`ccharmony verify ds | head -1`: nothing on stderr, 141 as after SIGPIPE (0 when all output fitted)."""
    args = ["verify", str(template)] if "verify" in name else ["--help"]
    process = python_m_ccharmony(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader has gone before the first line is written
    stderr = process.stderr.read()
    process.stderr.close()
    process.wait(timeout=TIMEOUT)
    assert stderr == b""
    assert process.returncode == (141 if "verify" in name else 0) or process.returncode in (0, 141)
    if "verify" in name:
        assert process.returncode == 141


def test_head_reads_the_first_line(template: Path) -> None:
    """The real shell pipe: `ccharmony verify DS | head -1` prints the first line, nothing else."""
    shell = shutil.which("sh")
    assert shell is not None
    command = f"{sys.executable} -m ccharmony verify {template} | head -1; echo \"status ${{?}}\""
    done = subprocess.run([shell, "-c", command], capture_output=True, text=True, timeout=TIMEOUT)
    assert done.stdout.splitlines() == [f"dataset {template}", "status 0"]
    assert done.stderr == ""


# --- verbosity and progress ----------------------------------------------------------------------------

@pytest.mark.parametrize("arguments", [
    pytest.param(words, id="handled-" + "-".join(w.strip("-") for w in words).lower())
    for words in (["-v", "verify", "DS"], ["verify", "DS", "-v"], ["verify", "-v", "DS"], ["-q", "verify", "DS"],
                  ["verify", "DS", "--quiet"])])
def test_verbosity_before_and_after_the_command(arguments: list[str]) -> None:
    from ccharmony.cli import build_parser

    args = build_parser().parse_args(arguments)
    quiet = "-q" in arguments or "--quiet" in arguments
    assert (args.verbose, args.quiet) == (not quiet, quiet)


def test_verbosity_sets_the_log_level(template: Path, capsys: pytest.CaptureFixture) -> None:
    from ccharmony.cli import main

    root = logging.getLogger()
    previous = root.level
    try:
        for arguments, level in ((["verify", str(template), "-q"], logging.ERROR),
                                 (["-v", "verify", str(template)], logging.INFO),
                                 (["verify", str(template)], logging.WARNING)):
            assert main(arguments) == 0
            assert root.level == level
    finally:
        root.setLevel(previous)
    capsys.readouterr()


def test_progress_bar_only_on_a_terminal(template: Path) -> None:
    """`verify` draws its bar on a terminal, and never into a redirected stderr."""
    redirected = python_m_ccharmony("verify", str(template), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, stderr = redirected.communicate(timeout=TIMEOUT)
    assert redirected.returncode == 0 and stderr == b""
    main_fd, child_fd = pty.openpty()
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a new pty is 0 columns wide
    on_terminal = python_m_ccharmony("verify", str(template), stdout=subprocess.DEVNULL, stderr=child_fd)
    os.close(child_fd)
    seen = b""
    while True:
        ready, _, _ = select.select([main_fd], [], [], TIMEOUT)
        if not ready:
            break
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        seen += chunk
    on_terminal.wait(timeout=TIMEOUT)
    os.close(main_fd)
    assert on_terminal.returncode == 0
    assert b"verify: 100%" in seen and b"4/4" in seen
    quiet = python_m_ccharmony("verify", str(template), "--no-progress", stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    assert quiet.communicate(timeout=TIMEOUT)[1] == b""


# --- text that must not reach a terminal raw -------------------------------------------------------------

def test_non_utf8_file_name_under_strict_utf8_stdout(dataset: Path) -> None:
    """A composite whose name is not UTF-8 is printed escaped; stdout stays valid strict UTF-8."""
    name = os.fsdecode(b"caf\xe9-0001_a_1.jpg")
    shutil.copy(dataset / COMPOSITE, dataset / "composite_images" / name)
    process = python_m_ccharmony("verify", str(dataset), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env={"PYTHONIOENCODING": "utf-8:strict"})
    stdout, stderr = process.communicate(timeout=TIMEOUT)
    assert b"Traceback" not in stderr and stderr == b""
    assert process.returncode == 1
    lines = stdout.decode("utf-8").splitlines()  # strict
    assert "  PROBLEM split-coverage: composite_images/caf\\xe9-0001_a_1.jpg: in no split list" in lines


@pytest.mark.parametrize(("name", "file_name", "shown"), [pytest.param(*case, id=case[0]) for case in [
    ("error-missing-photo-named-with-terminal-escapes", "a\x1b]0;pwned\x07\x1b[2Jb.png", "a\\x1b]0;pwned\\x07\\x1b[2Jb.png"),
    ("error-missing-photo-named-with-non-utf8-bytes", os.fsdecode(b"caf\xe9.png"), "caf\\xe9.png"),
    ("error-missing-photo-named-with-a-newline", "two\nlines.png", "two\\nlines.png"),
    ("error-missing-photo-named-with-a-c1-csi", "x\x9b2Jy.png", "x\\x9b2Jy.png"),
]])
def test_error_lines_are_escaped(name: str, file_name: str, shown: str, tmp_path: Path, cli: ForkedCLI) -> None:
    done = cli.run("detect", str(tmp_path / file_name), cwd=tmp_path, timeout=TIMEOUT)
    assert done.returncode == 1
    assert done.stderr.decode("utf-8").splitlines() == [f"ccharmony detect: error: {tmp_path}/{shown}: no such file"]
    assert b"\x1b" not in done.stderr and b"\x07" not in done.stderr


def test_stdout_safety_net_escapes_whatever_a_command_prints() -> None:
    """Standard output under `main` escapes control characters even where a command forgot to."""
    from ccharmony.cli import _TerminalSafe

    sink = io.StringIO()
    stream = _TerminalSafe(sink)  # type: ignore[arg-type]
    print("name\tcamera\t" + "x\x1b[2J" + os.fsdecode(b"\xff"), file=stream)  # type: ignore[arg-type]
    assert sink.getvalue() == "name\tcamera\tx\\x1b[2J\\xff\n"
    strict = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict")
    _TerminalSafe(strict).write("café")  # type: ignore[arg-type]
    strict.flush()
    assert strict.buffer.getvalue() == b"caf\\xe9"  # type: ignore[attr-defined]


def test_log_lines_are_escaped(capsys: pytest.CaptureFixture) -> None:
    from ccharmony.cli import _SafeFormatter

    record = logging.LogRecord("ccharmony.x", logging.WARNING, __file__, 1, "bad file %s", ("a\x1b[2Jb",), None)
    assert _SafeFormatter("%(levelname)s %(message)s").format(record) == "WARNING bad file a\\x1b[2Jb"


@pytest.mark.parametrize(("text", "shown"), [
    pytest.param("x\x1b]0;title\x07\x1b[2J", "x\\x1b]0;title\\x07\\x1b[2J", id="handled-escape-osc-title-and-clear-screen"),  # OSC title, clear screen
    pytest.param("a\x9b31mb", "a\\x9b31mb", id="handled-escape-c1-csi"),  # C1 CSI
    pytest.param("del\x7f", "del\\x7f", id="handled-escape-del"),
    pytest.param("nul\x00", "nul\\x00", id="handled-escape-nul"),
    pytest.param("tab\tnew\nline\r", "tab\\tnew\\nline\\r", id="handled-escape-tab-newline-return"),
    pytest.param("abc\u202etxt.exe", "abc\\u202etxt.exe", id="handled-escape-right-to-left-override"),  # right-to-left override
    pytest.param(os.fsdecode(b"\xff\xfe.jpg"), "\\xff\\xfe.jpg", id="handled-escape-undecodable-bytes"),  # undecodable bytes of a file name
    pytest.param("café ✓ 日本", "café ✓ 日本", id="handled-escape-ordinary-text-kept"),  # ordinary text is left alone
])
def test_printable(text: str, shown: str) -> None:
    from ccharmony._text import printable

    assert printable(text) == shown
    assert printable(printable(text)) == shown  # escaping twice changes nothing
    printable(text).encode("utf-8", "strict")


def test_show_progress_needs_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from ccharmony.cli._common import show_progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not show_progress(argparse.Namespace(no_progress=False, quiet=False))
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert show_progress(argparse.Namespace(no_progress=False, quiet=False))
    assert not show_progress(argparse.Namespace(no_progress=True, quiet=False))
    assert not show_progress(argparse.Namespace(no_progress=False, quiet=True))
