"""Time from opening a 24-megapixel photo in ``ccharmony annotate`` to seeing it; print a table.

Makes one synthetic DNG (the same as ``ccharmony synth --size 6000x4000 --count 1``), serves it,
and opens it in headless Chromium (Debian's chromium + chromedriver through Selenium):

- cold: a fresh annotation folder (decode, detect, sample, render the display copy);
- warm: the server restarted on the same folder (the display copy comes from its cache);
- again: the same photo reopened in the same server.

"open -> seen" is measured in the page: from the click (``location.hash`` set) to the first
animation frame after the display copy is drawn. The server's steps are timed separately in
this process, plus the full-resolution render (tiles, GrabCut) and one GrabCut proposal
(box = the true mask's bounding box + 5 %) with its IoU against the true mask.

    python benchmarks/annotate_open.py [--size 6000x4000] [--screenshot docs/annotate-screenshot.png]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                     "--window-size=1600,900", "--force-device-scale-factor=1",
                     f"--user-data-dir={tempfile.mkdtemp(prefix='ccharmony-bench-')}"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)


def _wait(condition: Any, timeout: float = 300.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise TimeoutError("the page did not get there")


def _open(driver: Any, server: Any, name: str) -> dict[str, float]:
    """Open the list, then the photo; return the page's timings (ms)."""
    driver.get(server.url)
    _wait(lambda: driver.execute_script("return document.body.dataset.ready === '1'"))
    driver.execute_script("document.body.dataset.image = ''; location.hash = '#image=' + encodeURIComponent(arguments[0])", name)
    _wait(lambda: driver.execute_script(
        "return document.body.dataset.ready === '1' && document.body.dataset.image === arguments[0]", name))
    return driver.execute_script("return window.ccharmonyAnnotate.timing")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="6000x4000", help="WxH of the synthetic capture")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="warm and again opens to take the median of")
    parser.add_argument("--screenshot", type=Path, default=None, help="write a screenshot of the image view here")
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))

    from ccharmony.annotate import AnnotateOptions, Session
    from ccharmony.annotate import photos as views
    from ccharmony.annotate.server import AnnotateServer
    from ccharmony.checker import detect
    from ccharmony.io import read_image
    from ccharmony.io.encode import decode_mask
    from ccharmony.synth import read_truth, synthesize

    work = args.work or Path(tempfile.mkdtemp(prefix="ccharmony-annotate-bench-"))
    synth = work / "synth"
    if not (synth / "raw").is_dir():
        synthesize(synth, count=1, seed=args.seed, size=(width, height), relit=False)
    name = sorted(p.stem for p in (synth / "raw").glob("*.dng"))[0]
    photo = synth / "raw" / f"{name}.dng"

    # Server steps, in this process (one run; the page timings below include them on a cold open).
    steps: dict[str, float] = {}
    start = time.perf_counter()
    linear = read_image(photo)
    steps["decode + demosaic (read_image)"] = time.perf_counter() - start
    start = time.perf_counter()
    checker = detect(linear)
    steps["detect the chart"] = time.perf_counter() - start
    start = time.perf_counter()
    view = views.chart_view(linear, None if checker is None else checker.corners, crop_margin=0.05)
    steps["sample + swatches + crop (chart_view)"] = time.perf_counter() - start
    start = time.perf_counter()
    overview = views.render_overview(linear, view.render)
    steps["display copy: reduce + render (2048 px)"] = time.perf_counter() - start
    start = time.perf_counter()
    views.encode_jpeg(overview)
    steps["display copy: JPEG"] = time.perf_counter() - start
    start = time.perf_counter()
    full = views.render_full(linear, view.render)
    steps["full-resolution render (tiles, GrabCut; in the background)"] = time.perf_counter() - start
    start = time.perf_counter()
    views.encode_jpeg(views.tile(full, 0, 0))
    steps["one 512-px tile: JPEG"] = time.perf_counter() - start
    del linear, full

    driver = _browser()
    rows: list[tuple[str, float, float]] = []
    try:
        annotations = work / "ann"
        shutil.rmtree(annotations, ignore_errors=True)
        session = Session(AnnotateOptions(raw_dir=synth / "raw", annotations=annotations, background=False))
        server = AnnotateServer(session).start()
        cold = _open(driver, server, name)
        rows.append(("cold (fresh annotation folder)", cold["firstPaint"], cold["detail"]))
        again = [_open(driver, server, name) for _ in range(args.repeats)]
        # GrabCut proposal on the full-resolution photo, through the API, and its accuracy.
        truth = read_truth(synth / "truth" / f"{name}.json")
        crop = truth["crop"]
        mask = np.zeros((height, width), bool)
        mask[crop["y"]:crop["y"] + crop["height"], crop["x"]:crop["x"] + crop["width"]] = decode_mask(
            synth / "annotations" / "masks" / f"{name}_a.png")
        rows_, columns = np.nonzero(mask)
        pad = 0.05 * max(np.ptp(rows_), np.ptp(columns)) + 2
        box = [columns.min() - pad, rows_.min() - pad, columns.max() + pad, rows_.max() + pad]
        session.full_render(name)
        letter = session.new_foreground(name)["created"]
        start = time.perf_counter()
        session.propose_box(name, letter, box)
        grabcut_s = time.perf_counter() - start
        session.accept(name, letter)
        saved = decode_mask(annotations / "masks" / f"{name}_{letter}.png")
        grabcut_iou = float((saved & mask).sum() / (saved | mask).sum())
        if args.screenshot is not None:
            _open(driver, server, name)
            time.sleep(1.0)  # tiles
            args.screenshot.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(args.screenshot))
        server.stop()
        warm = []
        for _ in range(args.repeats):
            session = Session(AnnotateOptions(raw_dir=synth / "raw", annotations=annotations, background=False))
            server = AnnotateServer(session).start()
            warm.append(_open(driver, server, name))
            server.stop()
        rows.append(("warm (server restarted, display cache on disk)",
                     statistics.median(t["firstPaint"] for t in warm), statistics.median(t["detail"] for t in warm)))
        rows.append(("again (reopened in the same server)",
                     statistics.median(t["firstPaint"] for t in again), statistics.median(t["detail"] for t in again)))
    finally:
        driver.quit()

    print(f"photo: {name}, {width}x{height} ({width * height / 1e6:.0f} MP) synthetic DNG\n")
    print("| open | open -> seen (ms) | of which the detail request (ms) |")
    print("|---|---:|---:|")
    for label, seen, detail in rows:
        print(f"| {label} | {seen:.0f} | {detail:.0f} |")
    print("\n| server step (one run) | s |")
    print("|---|---:|")
    for label, seconds in steps.items():
        print(f"| {label} | {seconds:.3f} |")
    print(f"| GrabCut proposal from a box, full resolution (512-px work copy + guided upsampling) | {grabcut_s:.3f} |")
    print(f"\nGrabCut box proposal IoU with the true mask: {grabcut_iou:.4f}")
    print(json.dumps({"rows": rows, "steps": steps, "grabcut_s": grabcut_s, "grabcut_iou": grabcut_iou}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
