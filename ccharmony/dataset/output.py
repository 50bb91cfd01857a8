"""
Output folder state
===================

Decide what an output folder holds before a build writes into it, and keep a
finished one honest:

-   :func:`inspect_output`: ``new``, an ``unfinished`` build (its work folder
    is there) or a ``finished`` one (``build.json``), with its record; a
    folder holding anything else is refused untouched.
-   :func:`build_record`: what a build records about its inputs and settings
    (in its work folder's ``state.json`` and in ``build.json``).
-   :func:`describe_difference`: what differs between a recorded build and
    this one, in one line (pipeline keys, seed, version, input files).
-   :func:`damaged_files`: the files of a finished build that are missing or
    changed since it was written (sha256 against its records).
-   :func:`remove_stale`: delete the files a rebuild no longer produces.
-   :func:`file_sha256`: the one file hash of the builder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccharmony import __version__
from ccharmony.dataset.inputs import describe_changes
from ccharmony.dataset.layout import BUILD_FILE, COMPOSITE_DIR, MASK_DIR, METADATA_FILE, REAL_DIR
from ccharmony.dataset.lock import LOCK_FILE
from ccharmony.errors import DatasetError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "STATE_DIR",
    "STATE_FILE",
    "CARD_DIR",
    "OutputState",
    "inspect_output",
    "build_record",
    "describe_difference",
    "damaged_files",
    "remove_stale",
    "file_sha256",
]

STATE_DIR = ".ccharmony-build"
"""Work folder inside the output: finished-stage records and decoded-pixel caches.
Removed when the build completes."""

STATE_FILE = f"{STATE_DIR}/state.json"
"""The work folder's record of the build it belongs to (:func:`build_record`)."""

CARD_DIR = "card"
"""The card's plots."""

_MANAGED_DIRS = (REAL_DIR, MASK_DIR, COMPOSITE_DIR, CARD_DIR)
"""Folders whose every file the build writes (a rebuild removes the ones it no longer writes)."""


@dataclass(frozen=True)
class OutputState:
    """
    What an output folder holds.

    Parameters
    ----------
    kind
        ``"new"`` (absent or empty), ``"unfinished"`` (a build's work folder is
        there) or ``"finished"`` (``build.json``, no work folder).
    record
        The recorded build (``state.json`` or ``build.json``); empty for ``new``
        or when the record cannot be read.
    """

    kind: str
    record: dict[str, Any] = field(default_factory=dict)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _entries(out: Path) -> list[str]:
    try:
        return sorted(name for name in os.listdir(out) if name != LOCK_FILE)
    except OSError as error:
        raise DatasetError(f"{out}: cannot read the output folder ({error.strerror or error})") from None


def inspect_output(out: Path, *, shown: object | None = None) -> OutputState:
    """
    Return what ``out`` holds, refusing a folder that is not a ccharmony build.

    Parameters
    ----------
    out
        The output folder.
    shown
        How to name it in messages (the path as the user gave it).

    Raises
    ------
    DatasetError
        ``out`` is a file, or a non-empty folder without a build's records
        (it is left untouched).
    """
    shown = out if shown is None else shown
    if os.path.lexists(out) and not out.is_dir():
        raise DatasetError(f"{shown}: output path exists and is not a folder")
    if not out.is_dir() or not _entries(out):
        return OutputState("new")
    if (out / STATE_FILE).is_file():
        return OutputState("unfinished", _read_json(out / STATE_FILE))
    if (out / BUILD_FILE).is_file():
        return OutputState("finished", _read_json(out / BUILD_FILE))
    raise DatasetError(f"{shown}: folder is not empty and holds no ccharmony build; use another --out")


def build_record(
    *, key: str, config: Mapping[str, Any], seed: int, inputs: Mapping[str, Any], input_files: Mapping[str, str]
) -> dict[str, Any]:
    """Return the record of a build's settings and inputs (``state.json``; ``build.json`` holds the same keys)."""
    return {"key": key, "config": dict(config), "seed": seed, "version": __version__, "inputs": dict(inputs),
            "input_files": dict(input_files)}


def _view(record: Mapping[str, Any]) -> dict[str, Any]:
    """The comparable part of a ``state.json`` or ``build.json``."""
    version = record.get("version") or (record.get("versions") or {}).get("ccharmony")
    return {"config": record.get("config") or {}, "seed": record.get("seed"), "version": version,
            "inputs": record.get("inputs") or {}, "input_files": record.get("input_files")}


def describe_difference(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> str:
    """
    Say what differs between a recorded build and the current one, in one line.

    Examples
    --------
    >>> old = {"config": {"k": 10}, "seed": 0, "version": "1", "inputs": {}, "input_files": {"raw_dir/a.dng": "1:x"}}
    >>> new = {"config": {"k": 3}, "seed": 0, "version": "1", "inputs": {}, "input_files": {"raw_dir/a.dng": "1:y"}}
    >>> describe_difference(old, new)
    'pipeline k 10 -> 3; raw_dir/a.dng changed'
    """
    before, after = _view(recorded), _view(current)
    parts = []
    changed = [key for key in sorted(set(before["config"]) | set(after["config"]))
               if before["config"].get(key) != after["config"].get(key)]
    if changed:
        parts.append("pipeline " + ", ".join(f"{key} {before['config'].get(key)} -> {after['config'].get(key)}"
                                             for key in changed[:3]) + (" ..." if len(changed) > 3 else ""))
    if before["seed"] != after["seed"]:
        parts.append(f"seed {before['seed']} -> {after['seed']}")
    if before["version"] != after["version"]:
        parts.append(f"ccharmony {before['version']} -> {after['version']}")
    for key in sorted(set(before["inputs"]) | set(after["inputs"])):
        if before["inputs"].get(key) != after["inputs"].get(key):
            parts.append(f"{key} {before['inputs'].get(key)} -> {after['inputs'].get(key)}")
    if before["input_files"] is None and after["input_files"]:
        parts.append("it records no input fingerprints (an older build)")
    elif before["input_files"] != after["input_files"]:
        parts.append(describe_changes(before["input_files"] or {}, after["input_files"] or {}))
    return "; ".join(parts) or "its build key differs"


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _state_of(out: Path, relative: str, expected: str) -> str | None:
    path = out / relative
    if not os.path.lexists(path):
        return f"{relative} is missing"
    if path.is_symlink() or not path.is_file():
        return f"{relative} is no longer a regular file"
    try:
        actual = file_sha256(path)
    except OSError as error:
        return f"{relative} cannot be read ({error.strerror or error})"
    return None if actual == expected else f"{relative} has changed since the build (sha256 differs)"


def damaged_files(out: Path, build: Mapping[str, Any]) -> list[str]:
    """
    Return the files of a finished build that are missing or changed, one line each.

    The metadata, lists and card are checked against ``build.json``'s
    ``files``; every composite, real image and mask against the sha256 that
    ``metadata.parquet`` records. Files the build did not write are not
    judged. Every file is read once (about as long as copying the folder).
    """
    files = build.get("files")
    if not isinstance(files, dict):
        return [f"{BUILD_FILE} records no file checksums (written by an older ccharmony)"]
    problems = [problem for relative, expected in sorted(files.items())
                if (problem := _state_of(out, relative, str(expected))) is not None]
    if any(problem.startswith(METADATA_FILE) for problem in problems):
        return problems
    try:
        import pandas as pd

        frame = pd.read_parquet(out / METADATA_FILE)
    except Exception as error:  # noqa: BLE001 - any unreadable parquet is damage
        return [*problems, f"{METADATA_FILE} cannot be read ({type(error).__name__})"]
    expected: dict[str, str] = {}
    for kind in ("composite", "real", "mask"):
        names, digests = frame[f"{kind}_file_name"].tolist(), frame[f"{kind}_sha256"].tolist()
        expected.update(zip(names, digests))
    for relative, digest in sorted(expected.items()):
        problem = _state_of(out, relative, str(digest))
        if problem is not None:
            problems.append(problem)
    return problems


def remove_stale(out: Path, produced: Iterable[str], *, lists: Iterable[str] = ()) -> list[str]:
    """
    Delete the files of the build's own folders that this build did not produce.

    Parameters
    ----------
    out
        The output folder (a build of this tool: checked by the caller).
    produced
        Relative paths (posix) of every file this build wrote.
    lists
        Split lists a previous build of the folder wrote (removed unless produced).

    Returns
    -------
    list of str
        The relative paths removed.
    """
    keep = set(produced)
    removed = []
    for folder in _MANAGED_DIRS:
        root = out / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(out).as_posix()
            if (path.is_file() or path.is_symlink()) and relative not in keep:
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(relative)
    for name in lists:
        if name not in keep and "/" not in name and (out / name).is_file():
            with contextlib.suppress(OSError):
                (out / name).unlink()
                removed.append(name)
    return removed
