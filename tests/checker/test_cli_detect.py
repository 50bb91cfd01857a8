"""Run ``ccharmony detect`` as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import colour
import cv2
import numpy as np
import pytest

from ccharmony.checker._synthetic import render_chart


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ccharmony", "detect", *args],
                          capture_output=True, text=True, timeout=120)


def _write_srgb(path: Path, RGB: np.ndarray) -> None:
    encoded = colour.cctf_encoding(np.clip(RGB, 0, 1))
    cv2.imwrite(str(path), np.round(encoded[..., ::-1] * 255).astype(np.uint8))


def test_detect_found_and_not_found(tmp_path: Path) -> None:
    capture = render_chart(7, size=(360, 480), noise=0.0)
    chart, flat = tmp_path / "chart.png", tmp_path / "flat.png"
    _write_srgb(chart, capture.RGB)
    _write_srgb(flat, np.full((100, 120, 3), 0.4, np.float32))
    gt = ",".join(f"{v:.6f}" for v in capture.illuminant)
    result = _run(str(chart), str(flat), "--json", str(tmp_path / "out.json"),
                  "--overlay", str(tmp_path / "ov"), "--gt", gt)
    assert result.returncode == 0, result.stderr
    records = json.loads((tmp_path / "out.json").read_text())
    assert [r["found"] for r in records] == [True, False]
    record = records[0]
    assert set(record) == {"file", "found", "method", "corners", "patches", "clipped", "illuminant",
                           "illuminant_error_deg"}
    assert np.abs(np.array(record["corners"]) - capture.corners).max() < 3
    assert len(record["patches"]) == 24 and len(record["clipped"]) == 24
    assert record["illuminant_error_deg"] < 1.0  # 8-bit quantisation included
    assert (tmp_path / "ov" / "chart.png").is_file() and (tmp_path / "ov" / "flat.png").is_file()


def _main(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    """Run ``ccharmony detect`` in this process (no interpreter start-up)."""
    from ccharmony.cli import main

    code = main(["detect", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_detect_with_annotation_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    capture = render_chart(8, size=(360, 480), noise=0.0)
    chart = tmp_path / "c.png"
    _write_srgb(chart, capture.RGB)
    corners = tmp_path / "c.json"
    corners.write_text(json.dumps({"corners": capture.corners.tolist()}))
    code, out, err = _main(capsys, str(chart), "--annotation", str(corners))
    assert code == 0, err
    record = json.loads(out)
    assert record["method"] == "annotation"
    np.testing.assert_allclose(record["corners"], capture.corners, atol=0.01)

    code, _, err = _main(capsys, str(tmp_path / "nope.png"))
    assert code == 1  # a run-time failure; 2 is for usage errors
    assert err.strip().splitlines() == [f"ccharmony detect: error: {tmp_path / 'nope.png'}: no such file"]
    with pytest.raises(SystemExit) as exit_info:  # a bad flag value is a usage error (argparse: exit 2)
        _main(capsys, str(chart), "--gt", "1,2")
    assert exit_info.value.code == 2
    assert "argument --gt: must be three comma-separated numbers R,G,B" in capsys.readouterr().err
    code, _, err = _main(capsys, str(chart), "--methods", "foo")
    assert code == 2 and "detection method 'foo' is unknown" in err
