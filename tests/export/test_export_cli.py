"""``ccharmony export`` as a user types it: relative paths, from a fresh working folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from export_fixtures import write_dataset
from export_peers import iih_entries, resolved_fraction


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ccharmony", "export", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False)


def test_cli_exports_with_relative_paths(tmp_path: Path) -> None:
    write_dataset(tmp_path / "dataset", images=3, foregrounds=1, k=2, test_images=1)
    done = _run(tmp_path, "dataset", "--format", "iih", "--out", "dataset-iih")
    assert done.returncode == 0, done.stderr
    out = (tmp_path / "dataset-iih").absolute()
    assert done.stdout.splitlines() == [
        f"exported iih to {out}: train 4, test 2; files: 16 hardlink",
        f"load: python train.py --dataset_root {out}/ --dataset_name tiny",
    ]
    assert resolved_fraction(iih_entries(f"{out}/", "tiny", True)) == (4, 4)
    # the folder can be moved: the lists hold names, not absolute paths
    shutil.move(str(out), str(tmp_path / "moved"))
    assert resolved_fraction(iih_entries(f"{tmp_path / 'moved'}/", "tiny", False)) == (2, 2)


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    write_dataset(tmp_path / "dataset", images=2, foregrounds=1, k=1, test_images=1)
    done = _run(tmp_path, "dataset", "--format", "dovenet", "--out", "o", "--shard-size", "3")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "ccharmony export: error: --shard-size: not an option of --format dovenet (it applies to hf, webdataset)"
    ]
    done = _run(tmp_path, "missing", "--format", "hf", "--out", "o")
    assert done.returncode == 1  # a dataset problem, not a usage error
    assert done.stderr.splitlines() == [
        "ccharmony export: error: missing: dataset folder not found (expected a folder written by ccharmony build)"
    ]
    assert not (tmp_path / "o").exists()
