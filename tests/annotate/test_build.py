"""End to end: annotate a synthetic set through the API, then `ccharmony build` and `ccharmony verify` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Served, box_around, true_mask


@pytest.mark.slow
def test_build_reads_the_annotation_set_as_is_and_verify_says_clean(served: Served, synth_set: Path,
                                                                      tmp_path: Path) -> None:
    client = served.client
    names = sorted(served.session.photos)[:4]
    for name in names:
        letter = client.ok("POST", f"/api/images/{name}/foregrounds")["created"]
        client.ok("POST", f"/api/images/{name}/foregrounds/{letter}/propose",
                  {"box": box_around(true_mask(synth_set, name, "a"))})
        client.ok("POST", f"/api/images/{name}/foregrounds/{letter}/accept", {})
    listing = client.ok("GET", "/api/images")
    assert listing["ready"] == 4
    served.server.stop()  # the set on disk is all the build needs

    out = tmp_path / "dataset"
    build = subprocess.run(
        [sys.executable, "-m", "ccharmony", "build", "--raw-dir", str(served.raw), "--annotations",
         str(served.annotations), "--out", str(out), "--k", "2", "--no-progress"],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr
    record = json.loads((out / "build.json").read_text())
    assert record["counts"]["images"] == 4 and record["counts"]["foregrounds"] == 4
    assert record["counts"]["composites"] == 8
    assert not record["skipped"], record["skipped"]
    splits = {line.split("_")[0].replace("-", "_") for line in (served.annotations / "test_list.txt").read_text().split()}
    assert record["counts"]["splits"]["test"] == 2 * len([n for n in names if n.replace("-", "_") in splits])
    verify = subprocess.run([sys.executable, "-m", "ccharmony", "verify", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "sound: no problems found" in verify.stdout
