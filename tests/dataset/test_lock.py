"""Tests of :mod:`ccharmony.dataset.lock`: one build per output folder, enforced by the kernel."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ccharmony.dataset.lock import LOCK_FILE, folder_lock
from ccharmony.errors import DatasetError

HOLD = (
    "import sys, time\n"
    "from ccharmony.dataset.lock import folder_lock\n"
    "with folder_lock(sys.argv[1]):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(60)\n"
)


def test_another_process_holding_the_folder_is_refused_until_it_dies(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    with subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            with pytest.raises(DatasetError, match=r"^ds: another ccharmony build holds this folder \(lock "
                                                   r"\.ccharmony-build\.lock\); wait for it to finish, or use another --out$"):
                with folder_lock(out, shown="ds"):
                    pass
            holder.send_signal(signal.SIGKILL)  # a crash: the kernel releases the lock, the file stays
            holder.wait(timeout=30)
        finally:
            if holder.poll() is None:
                holder.kill()
    assert (out / LOCK_FILE).exists()
    with folder_lock(out) as lock:  # a stale file is no lock
        assert lock == out / LOCK_FILE
    assert not (out / LOCK_FILE).exists()


def test_lock_file_is_removed_even_on_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with folder_lock(tmp_path):
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with folder_lock(tmp_path):  # and the folder can be locked again
        pass


def test_an_unwritable_place_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DatasetError, match=r"out: output folder is not writable \(Not a directory\)$"):
        with folder_lock(blocker / "out", shown="out"):
            pass
