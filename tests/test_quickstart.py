"""
The README's quick start, run verbatim as a new user runs it.

The commands are taken out of README.md (the fenced ``bash`` blocks of the "Quick start"
section), not copied here, and run exactly as written, relative paths and all, in a fresh copy
of the checkout (the files git tracks or would track, as a clone after commit has them) with a
fresh virtual environment first on ``PATH``, so that ``python3``, ``pip`` and ``ccharmony``
are the new environment's. The environment sees the current one's packages through a ``.pth``
file (torch and the rest are not downloaded again) but installs ccharmony itself, editable,
from the copy; the current environment's own editable install is checked to be untouched.

Only ``python3 -m pip install ... && python3 -m pytest -q`` is skipped: it is the command that
runs this test. The test suite used absolute temporary folders everywhere, which is how a
relative ``--out`` that broke the first command went unnoticed (STYLE.md house rule 16).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SKIPPED = re.compile(r"\bpython3? -m pytest\b")
"""The command that runs this test (the README's second command) is not run again from inside it."""


def quickstart_blocks(readme: str) -> list[list[str]]:
    """
    Return the commands of each fenced ``bash`` block of the README's "Quick start" section.

    A command is one line with comments (``#`` to the end of the line, outside quotes) and
    surrounding blanks removed; lines continued with a backslash are joined.
    """
    section = re.search(r"^## Quick start\n(.*?)(?=^## )", readme, flags=re.S | re.M)
    assert section, "README.md has no '## Quick start' section"
    blocks = []
    for body in re.findall(r"^```bash\n(.*?)^```", section.group(1), flags=re.S | re.M):
        commands, pending = [], ""
        for line in body.splitlines():
            text = _strip_comment(line).rstrip()
            if text.endswith("\\"):
                pending += text[:-1].rstrip() + " "
                continue
            text = (pending + text).strip()
            pending = ""
            if text:
                commands.append(text)
        blocks.append(commands)
    return blocks


def _strip_comment(line: str) -> str:
    quote = ""
    for index, character in enumerate(line):
        if quote:
            quote = "" if character == quote else quote
        elif character in "'\"":
            quote = character
        elif character == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index]
    return line


def test_quickstart_blocks_are_read() -> None:
    """The parser finds the commands this test runs (a README edit that hides them fails here)."""
    blocks = quickstart_blocks(README.read_text(encoding="utf-8"))
    assert blocks[0][0] == "python3 -m pip install torch==2.13.0 -e . && ccharmony build --out dataset"
    assert any(SKIPPED.search(command) for command in blocks[0])
    follow = blocks[1]
    assert [command.split()[1] for command in follow] == ["verify", "benchmark", "report"]
    assert _strip_comment("ccharmony verify dataset   # prove it # twice") == "ccharmony verify dataset   "


def _tracked_files(repo: Path) -> list[str]:
    """The files a clone has once the working tree is committed: tracked, or untracked and not ignored."""
    git = shutil.which("git")
    if git is not None and (repo / ".git").exists():
        done = subprocess.run([git, "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                              capture_output=True, check=True)
        names = [os.fsdecode(name) for name in done.stdout.split(b"\0") if name]
        return [name for name in dict.fromkeys(names) if os.path.lexists(repo / name)]
    anywhere = {".git", "__pycache__", ".pytest_cache", ".mypy_cache"}
    top_level = {"build", "dist", "dataset", "runs", "out", "report"}  # outputs of the README's own commands

    def kept(relative: Path) -> bool:
        return (not anywhere & set(relative.parts) and relative.parts[0] not in top_level
                and not any(part.endswith(".egg-info") for part in relative.parts))

    return [str(path.relative_to(repo)) for path in sorted(repo.rglob("*"))
            if path.is_file() and kept(path.relative_to(repo))]


def _copy_checkout(repo: Path, target: Path) -> None:
    for name in _tracked_files(repo):
        source, destination = repo / name, target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            destination.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, destination)


def _fingerprint(paths: list[Path]) -> dict[str, str]:
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "absent"
            for path in paths}


class QuickStart:
    """A fresh checkout copy and virtual environment, and what each README command did there."""

    def __init__(self, root: Path) -> None:
        self.checkout = root / "clone"
        self.venv = root / "venv"
        self.results: list[tuple[str, subprocess.CompletedProcess, float]] = []
        _copy_checkout(REPO, self.checkout)
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(self.venv)], check=True,
                       timeout=300)
        # A venv made from a venv sees the base interpreter's packages, not ours: add our package
        # folders by .pth lines. Their own .pth files (among them our editable ccharmony) are not
        # processed, so the new environment imports ccharmony only from the copy it installs.
        folders = [entry for entry in sys.path if entry.endswith(("site-packages", "dist-packages"))
                   and os.path.isdir(entry)]
        new_purelib = next((self.venv / "lib").glob("python*/site-packages"))
        (new_purelib / "zz_outer_environment.pth").write_text("".join(f"{folder}\n" for folder in folders))
        bin_dir = self.venv / "bin"
        self.env = {key: value for key, value in os.environ.items()
                    if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
        self.env.update({"VIRTUAL_ENV": str(self.venv), "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
                         "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONUNBUFFERED": "1"})

    def run(self, command: str, timeout: float) -> subprocess.CompletedProcess:
        """Run one README line verbatim with bash in the checkout copy."""
        started = time.perf_counter()
        done = subprocess.run(["bash", "-c", command], cwd=self.checkout, env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        self.results.append((command, done, time.perf_counter() - started))
        return done

    def resolve(self, program: str) -> str:
        done = subprocess.run(["bash", "-c", f"command -v {program}"], env=self.env, capture_output=True, text=True)
        return done.stdout.strip()


def _report(done: subprocess.CompletedProcess) -> str:
    return f"exit {done.returncode}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    outer = Path(sysconfig.get_paths()["purelib"])
    watched = sorted(outer.glob("__editable__*ccharmony*")) + sorted(outer.glob("ccharmony-*.dist-info/RECORD"))
    watched.append(Path(sysconfig.get_paths()["scripts"]) / "ccharmony")
    before = _fingerprint(watched)
    state = QuickStart(tmp_path_factory.mktemp("quickstart"))
    yield state
    assert _fingerprint(watched) == before, "installing the copy changed the current environment's ccharmony"


def test_first_command_verbatim(quickstart: QuickStart) -> None:
    """`python3 -m pip install torch==2.13.0 -e . && ccharmony build --out dataset`, exactly."""
    first = quickstart_blocks(README.read_text(encoding="utf-8"))[0]
    for command in first:
        if SKIPPED.search(command):
            continue
        done = quickstart.run(command, timeout=1200)
        assert done.returncode == 0, f"README command failed: {command}\n{_report(done)}"
    assert quickstart.resolve("python3") == str(quickstart.venv / "bin" / "python3")
    assert quickstart.resolve("ccharmony") == str(quickstart.venv / "bin" / "ccharmony")
    where = subprocess.run([str(quickstart.venv / "bin" / "python3"), "-c", "import ccharmony; print(ccharmony.__file__)"],
                           env=quickstart.env, capture_output=True, text=True, cwd="/")
    assert where.stdout.strip() == str(quickstart.checkout / "ccharmony" / "__init__.py"), where.stderr
    dataset = quickstart.checkout / "dataset"
    assert (dataset / "build.json").is_file() and (dataset / "DATASET_CARD.md").is_file()
    assert not (dataset / "dataset").exists(), "a relative --out was joined to itself"
    assert not (dataset / ".ccharmony-build").exists(), "the build did not finish"
    assert sorted(p.name for p in dataset.glob("*.txt")) == ["ccHarmonytest.txt", "ccHarmonytrain.txt"]


@pytest.mark.slow
def test_follow_on_commands_verbatim(quickstart: QuickStart) -> None:
    """verify, the cpu-smoke benchmark and the report, exactly as the README gives them."""
    if not (quickstart.checkout / "dataset" / "build.json").is_file():
        pytest.fail("the first command did not build ./dataset (see test_first_command_verbatim)")
    follow = quickstart_blocks(README.read_text(encoding="utf-8"))[1]
    for command in follow:
        done = quickstart.run(command, timeout=2400)  # the benchmark: 224 s idle, 868 s on a loaded machine (README)
        assert done.returncode == 0, f"README command failed: {command}\n{_report(done)}"
        assert "Traceback" not in done.stderr
    assert "sound: no problems found" in quickstart.results[-3][1].stdout
    assert (quickstart.checkout / "runs" / "000_benchmark" / "report.md").is_file()
    assert (quickstart.checkout / "report" / "index.html").is_file()
    timings = ", ".join(f"{command.split()[1]} {seconds:.0f} s" for command, _, seconds in quickstart.results)
    print(f"quick start timings: {timings}")
