"""Helpers shared by the build tests: compare two dataset folders byte for byte."""

from __future__ import annotations

import json
from pathlib import Path


def tree(folder: Path) -> dict[str, bytes]:
    """Return every file of a dataset folder but build.json, by relative path."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "build.json"
    }


def build_json(folder: Path) -> dict:
    """Return build.json without its ``timings`` block (the only run-dependent part)."""
    data = json.loads((folder / "build.json").read_text())
    data.pop("timings")
    return data
