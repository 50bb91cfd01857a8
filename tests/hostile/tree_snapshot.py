"""A folder's state for the hostile suites: nothing already written may be lost or changed."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder`` -> its sha256 (files), link target (links) or type (others)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        relative = str(path.relative_to(folder))
        if path.is_symlink():
            out[relative] = "link:" + os.readlink(path)
        elif stat.S_ISFIFO(path.lstat().st_mode):
            out[relative] = "fifo"
        elif path.is_file():
            out[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[relative] = "dir"
    return out
