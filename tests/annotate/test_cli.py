"""`ccharmony annotate` as a user types it: prints the URL with its token, refuses requests without it, stops on Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def test_annotate_prints_a_tokened_loopback_url_and_stops_on_ctrl_c(synth_set: Path, tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "ccharmony", "annotate", "--raw-dir", str(synth_set / "raw"),
         "--annotations", "ann", "--no-browser", "--port", "0"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as process:
        _drive(process, tmp_path)
        stderr = process.stderr.read() if process.stderr else ""
    assert process.returncode == 0, stderr
    assert "ccharmony annotate: stopped" in stderr


def _drive(process: subprocess.Popen, tmp_path: Path) -> None:
    try:
        url = None
        deadline = time.monotonic() + 120
        assert process.stdout is not None
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            match = re.search(r"open (http://127\.0\.0\.1:\d+/\?token=[A-Za-z0-9_-]{32})\s", line)
            if match:
                url = match.group(1)
        assert url is not None, process.stderr.read() if process.poll() is not None else "no URL printed"
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200 and b"ccharmony annotate" in response.read()
        base = url.split("?")[0]
        try:
            urllib.request.urlopen(base + "api/images", timeout=30)
            raise AssertionError("a request without the token was answered")
        except urllib.error.HTTPError as error:
            assert error.code == 403
        assert (tmp_path / "ann" / "masks").is_dir()  # the annotation set is created
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
