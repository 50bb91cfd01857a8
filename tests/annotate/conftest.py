"""Fixtures of the annotate tests: a synthetic capture set, a served session, an HTTP client, Chromium."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ccharmony.annotate import AnnotateOptions, Session
from ccharmony.annotate.server import TOKEN_HEADER, AnnotateServer
from ccharmony.io.encode import decode_mask
from ccharmony.synth import read_truth, synthesize

SYNTH_SEED = 1
SYNTH_COUNT = 6


@pytest.fixture(scope="session")
def synth_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a ``ccharmony synth`` folder: 6 captures of 480x320, seed 1 (two or three cameras)."""
    out = tmp_path_factory.mktemp("annotate-synth") / "synth"
    synthesize(out, count=SYNTH_COUNT, seed=SYNTH_SEED, size=(480, 320), relit=False)
    return out


def true_mask(synth: Path, name: str, letter: str) -> np.ndarray:
    """Return a capture's true object mask in the full frame (the synth set stores it cropped)."""
    truth = read_truth(synth / "truth" / f"{name}.json")
    crop = truth["crop"]
    width, height = truth["size"]
    cropped = decode_mask(synth / "annotations" / "masks" / f"{name}_{letter}.png")
    full = np.zeros((height, width), bool)
    full[crop["y"]:crop["y"] + crop["height"], crop["x"]:crop["x"] + crop["width"]] = cropped
    return full


def box_around(mask: np.ndarray, margin: float = 0.05) -> list[float]:
    """Return the mask's bounding box grown by ``margin`` of its longer side plus 2 pixels (x0, y0, x1, y1)."""
    rows, columns = np.nonzero(mask)
    pad = margin * max(np.ptp(columns), np.ptp(rows)) + 2
    return [float(columns.min() - pad), float(rows.min() - pad), float(columns.max() + pad), float(rows.max() + pad)]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


@dataclass
class Client:
    """A minimal HTTP client of the annotation API (urllib, the token in a header)."""

    server: AnnotateServer

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = "default",
                host: str | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server.base + path, data=data, method=method)
        if token == "default":
            token = self.server.token
        if token is not None:
            request.add_header(TOKEN_HEADER, token)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if host is not None:
            request.add_header("Host", host)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = response.read()
                status = response.status
                kind = response.headers.get("content-type", "")
        except urllib.error.HTTPError as error:
            payload, status, kind = error.read(), error.code, error.headers.get("content-type", "")
        return status, json.loads(payload) if "json" in kind else payload

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, payload = self.request(method, path, body)
        assert status == 200, (status, payload)
        return payload


@dataclass
class Served:
    session: Session
    server: AnnotateServer
    client: Client
    annotations: Path
    raw: Path


def serve(raw: Path, annotations: Path, *, background: bool = False) -> Served:
    session = Session(AnnotateOptions(raw_dir=raw, annotations=annotations, background=background))
    server = AnnotateServer(session).start()
    return Served(session, server, Client(server), annotations, raw)


@pytest.fixture()
def served(synth_set: Path, tmp_path: Path) -> Iterator[Served]:
    """Serve the synth set's photos with a fresh, empty annotation folder."""
    running = serve(synth_set / "raw", tmp_path / "ann")
    try:
        yield running
    finally:
        running.server.stop()


def chromium_paths() -> tuple[str, str] | None:
    browser = os.environ.get("CCHARMONY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    driver = os.environ.get("CCHARMONY_CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not (Path(browser).is_file() and Path(driver).is_file()):
        return None
    return browser, driver


@pytest.fixture()
def browser() -> Iterator[Any]:
    """Return a headless Chromium under Selenium (Debian's chromium + chromium-driver), or skip."""
    paths = chromium_paths()
    if paths is None:
        pytest.skip("Chromium or chromedriver is missing: apt-get install chromium chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="ccharmony-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                     "--window-size=1500,900", "--force-device-scale-factor=1", f"--user-data-dir={profile}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(paths[1]), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
