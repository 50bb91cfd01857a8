"""Every export of a real ``ccharmony build``, loaded by every peer's rules (``export_peers.py``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from export_peers import peer_counts

pytest.importorskip("datasets")
pytest.importorskip("webdataset")


def _ccharmony(cwd: Path, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "ccharmony", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_every_peer_loads_every_entry_of_a_build(tmp_path: Path) -> None:
    # The embedded default gives the same result (190/190 train, 80/80 test for every reader: see the
    # README's Export section); four small captures keep this test short.
    _ccharmony(tmp_path, "synth", "--out", "scenes", "--count", "4", "--size", "160x128", "--seed", "2",
               "--no-relit", "-q")
    _ccharmony(tmp_path, "build", "--raw-dir", "scenes/raw", "--annotations", "scenes/annotations",
               "--out", "ds", "--k", "2", "--no-progress", "-q")
    counts = peer_counts(tmp_path / "ds", tmp_path / "exports", "ccHarmony")
    assert len(counts) == 7
    for reader, splits in counts.items():
        for split, (loaded, listed) in splits.items():
            assert listed > 0 and loaded == listed, (reader, split, loaded, listed)
