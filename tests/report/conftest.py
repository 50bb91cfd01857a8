"""Fixtures of the report tests: synthetic dataset and benchmark folders, Chromium, a local server."""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from ccharmony.report._synthetic import write_synthetic_benchmark, write_synthetic_dataset

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a dataset folder: 4 images (2 cameras), 2 foregrounds each, K = 3; image 3 is the test split."""
    return write_synthetic_dataset(tmp_path_factory.mktemp("report-data") / "dataset", images=4, foregrounds=2, k=3)


@pytest.fixture(scope="session")
def synthetic_benchmark(tmp_path_factory: pytest.TempPathFactory, synthetic_dataset: Path) -> Path:
    """Return a benchmark run folder for the test split of :func:`synthetic_dataset`."""
    return write_synthetic_benchmark(tmp_path_factory.mktemp("report-run") / "run", synthetic_dataset)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Return the Chromium executable, or skip (with the install command) where there is none."""
    explicit = os.environ.get("CCHARMONY_CHROMIUM")
    if explicit:
        return explicit
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("Chromium is not installed (Debian: apt-get install -y chromium; or set CCHARMONY_CHROMIUM): "
                "the browser test of the report needs a headless Chromium")


@dataclass
class BrowserRun:
    """What one headless Chromium run printed."""

    dom: str
    console: list[str]
    stderr: str


@pytest.fixture()
def browser(chromium: str, tmp_path: Path) -> Callable[..., BrowserRun]:
    """Return ``browser(url, screenshot=None, budget_ms=5000, size=(1280, 900))`` running headless Chromium."""

    def run(url: str, *, screenshot: Path | None = None, budget_ms: int = 5000,
            size: tuple[int, int] = (1280, 900)) -> BrowserRun:
        profile = tmp_path / f"chromium-profile-{time.monotonic_ns()}"
        command = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--disable-extensions", "--disable-background-networking", "--hide-scrollbars",
            "--mute-audio", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
            # Any name other than the local server resolves nowhere: a page that fetched from a CDN would fail.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--virtual-time-budget={budget_ms}", f"--window-size={size[0]},{size[1]}",
        ]
        command += [f"--screenshot={screenshot}"] if screenshot is not None else ["--dump-dom"]
        completed = subprocess.run(command + [url], capture_output=True, text=True, timeout=120)
        console = [line for line in completed.stderr.splitlines() if ":CONSOLE" in line]
        if completed.returncode != 0:
            raise AssertionError(f"chromium exited {completed.returncode}: {completed.stderr[-2000:]}")
        return BrowserRun(completed.stdout, console, completed.stderr)

    return run


@contextmanager
def _server(folder: Path, log: Path) -> Iterator[str]:
    with open(log, "w") as log_stream:
        process = subprocess.Popen(
            [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(folder)],
            stdout=subprocess.PIPE, stderr=log_stream, text=True,
        )
        try:
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], 20)
            line = process.stdout.readline() if ready else ""
            match = re.search(r"port (\d+)", line)
            if not match:
                raise AssertionError(f"http.server did not start: {line!r}")
            yield f"http://127.0.0.1:{match.group(1)}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


@pytest.fixture()
def serve(tmp_path: Path) -> Callable[[Path], Iterator[str]]:
    """Return a context manager ``serve(folder)`` that serves a folder on 127.0.0.1 and yields its base URL."""

    @contextmanager
    def serve_folder(folder: Path) -> Iterator[str]:
        with _server(folder, tmp_path / "http-server.log") as url:
            yield url

    return serve_folder
