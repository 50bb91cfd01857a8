"""Drive the annotation tool in a real headless Chromium: box, GrabCut proposal, erase, undo, save, chart corner.

Skips where Chromium or chromedriver is missing (CI installs Debian's chromium and chromium-driver).
Set CCHARMONY_ARTIFACTS=DIR to keep the screenshot.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ccharmony.io.encode import decode_mask

from .conftest import Served, box_around, iou, true_mask


def _wait(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _drag(driver: Any, start: tuple[float, float], end: tuple[float, float], steps: int = 12) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput

    mouse = PointerInput("mouse", "mouse")
    actions = ActionBuilder(driver, mouse=mouse, duration=10)
    actions.pointer_action.move_to_location(int(round(start[0])), int(round(start[1])))
    actions.pointer_action.pointer_down()
    for step in range(1, steps + 1):
        t = step / steps
        actions.pointer_action.move_to_location(int(round(start[0] + t * (end[0] - start[0]))),
                                                int(round(start[1] + t * (end[1] - start[1]))))
    actions.pointer_action.pointer_up()
    actions.perform()
    ActionChains(driver).reset_actions()


def _keys(driver: Any, *keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    chain = ActionChains(driver)
    for key in keys:
        chain.send_keys(key)
    chain.perform()


def _chord(driver: Any, modifier: str, key: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).key_down(modifier).send_keys(key).key_up(modifier).perform()


def _to_client(driver: Any, x: float, y: float) -> tuple[float, float]:
    """Client (CSS) pixels of full-frame pixel centre (x, y), from the page's own view transform."""
    point = driver.execute_script("return window.ccharmonyAnnotate.toClient(arguments[0], arguments[1])", x + 0.5, y + 0.5)
    return float(point[0]), float(point[1])


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def test_box_grabcut_erase_undo_save_and_drag_a_corner(served: Served, synth_set: Path, browser: Any,
                                                        tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = browser
    name = sorted(served.session.photos)[0]
    driver.get(served.server.url)
    _wait(lambda: driver.execute_script("return document.body.dataset.ready === '1' && document.body.dataset.view === 'list'"),
          "the list")
    rows = _wait(lambda: driver.find_elements(By.CSS_SELECTOR, "#images tbody tr"), "the list rows")
    assert len(rows) == 6
    assert driver.find_element(By.ID, "counts").text == "0 of 6 photos ready to build"

    driver.find_element(By.CSS_SELECTOR, f'#images tbody tr[data-name="{name}"]').click()
    _wait(lambda: driver.execute_script(
        "return document.body.dataset.ready === '1' && document.body.dataset.image === arguments[0]", name), "the image view")
    scale = driver.execute_script("return window.ccharmonyAnnotate.view.s")
    assert scale > 1  # a 480x320 photo fills the pane

    # Box -> GrabCut proposal -> accept (Enter).
    truth = true_mask(synth_set, name, "a")
    x0, y0, x1, y1 = box_around(truth)
    _keys(driver, "b")
    _drag(driver, _to_client(driver, x0, y0), _to_client(driver, x1, y1))
    _wait(lambda: driver.execute_script(
        "const d = window.ccharmonyAnnotate.detail; return d.foregrounds.length === 1 && d.foregrounds[0].proposal !== null"),
        "the GrabCut proposal")
    mask_file = served.annotations / "masks" / f"{name}_a.png"
    assert not mask_file.exists()  # a proposal is not saved until accepted
    _keys(driver, Keys.ENTER)
    accepted = _wait(lambda: _read(mask_file), "the accepted mask")
    mask = decode_mask(accepted)
    assert mask.shape == truth.shape and iou(mask, truth) >= 0.9

    # Erase a stroke through the object, then undo it.
    rows_, columns = np.nonzero(mask)
    cy, cx = float(np.median(rows_)), float(np.median(columns))
    _keys(driver, "e")
    _drag(driver, _to_client(driver, cx - 15, cy), _to_client(driver, cx + 15, cy))
    erased = decode_mask(_wait(lambda: (data := _read(mask_file)) != accepted and data, "the erased mask"))
    assert not erased[int(round(cy)), int(round(cx))] and mask[int(round(cy)), int(round(cx))]
    assert 100 < int(mask.sum()) - int(erased.sum())
    _chord(driver, Keys.CONTROL, "z")
    _wait(lambda: _read(mask_file) == accepted, "the undone stroke")
    _chord(driver, Keys.CONTROL, "s")
    _wait(lambda: driver.find_element(By.ID, "status").text == "All changes saved", "the saved status")

    # Drag chart corner 3 (next to black) by (24, -16) screen pixels.
    corners = np.asarray(driver.execute_script("return window.ccharmonyAnnotate.detail.chart.corners"), np.float64)
    _keys(driver, "c")
    start = _to_client(driver, *corners[2])
    _drag(driver, start, (start[0] + 24, start[1] - 16))
    checker_file = served.annotations / "checkers" / f"{name}.json"
    saved = json.loads(_wait(lambda: _read(checker_file), "the corrected chart"))
    moved = np.asarray(saved["corners"])
    np.testing.assert_allclose(moved[[0, 1, 3]], corners[[0, 1, 3]], atol=1e-3)
    np.testing.assert_allclose(moved[2] - corners[2], [24 / scale, -16 / scale], atol=1.0 / scale + 1e-3)
    _wait(lambda: driver.execute_script("return window.ccharmonyAnnotate.detail.chart.state === 'corrected'"),
          "the corrected state")

    # The undone stroke stayed undone, the page logged no error.
    assert mask_file.read_bytes() == accepted
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], errors
    shot = tmp_path / "annotate-browser.png"
    driver.save_screenshot(str(shot))
    if os.environ.get("CCHARMONY_ARTIFACTS"):
        Path(os.environ["CCHARMONY_ARTIFACTS"]).mkdir(parents=True, exist_ok=True)
        shutil.copy2(shot, Path(os.environ["CCHARMONY_ARTIFACTS"]) / shot.name)
