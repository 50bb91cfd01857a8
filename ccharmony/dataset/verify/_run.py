"""
The :func:`verify_dataset` driver (private; documented in :mod:`ccharmony.dataset.verify`).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import stat
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ccharmony._types import PathType
from ccharmony.dataset.layout import (
    BUILD_FILE,
    CARD_FILE,
    COMPOSITE_DIR,
    MASK_DIR,
    METADATA_COLUMNS,
    METADATA_FILE,
    REAL_DIR,
    SPLITS,
    find_split_lists,
    image_id,
    mask_name,
    parse_composite_name,
    real_name,
)
from ccharmony.dataset.phash import NEAR_DUPLICATE_DISTANCE, near_duplicate_pairs
from ccharmony.dataset.verify._codec import FileInfo
from ccharmony.dataset.verify._pixels import CompositeTask, ForegroundResult, ForegroundTask, check_foreground
from ccharmony.dataset.verify._report import CHECKS, Check, VerifyReport
from ccharmony.errors import ConfigError, DatasetError
from ccharmony.io.files import file_kind, open_regular, read_regular_text
from ccharmony.io.limits import DEFAULT_MAX_PIXELS
from ccharmony.io.paths import inside

__author__ = "ccharmony developers"
__license__ = "MIT"

_COMPOSITE_EXTENSIONS = (".jpg", ".jpeg", ".png")


class _Findings:
    """Problems (check -> file -> reason), skipped reasons and ok details, gathered while checking."""

    def __init__(self) -> None:
        self.problems: dict[str, dict[str, str]] = defaultdict(dict)
        self.skipped: dict[str, str] = {}
        self.details: dict[str, str] = {}
        self.notes: list[Check] = []

    def add(self, check: str, file: str, reason: str) -> None:
        self.problems[check].setdefault(file, reason)

    def checks(self) -> list[Check]:
        out = []
        for name in CHECKS:
            if self.problems.get(name):
                evidence = self.problems[name]
                files = sorted(evidence)
                first = evidence[files[0]]
                detail = f"{len(files)} file(s): {files[0]}: {first}" if len(files) > 1 else f"{files[0]}: {first}"
                out.append(Check(name, "problem", files, detail, dict(sorted(evidence.items()))))
            elif name in self.skipped:
                out.append(Check(name, "skipped", [], self.skipped[name]))
            else:
                out.append(Check(name, "ok", [], self.details.get(name, CHECKS[name])))
        return out + self.notes


def _composite_path(name: str) -> str:
    return f"{COMPOSITE_DIR}/{name}"


def _bare(value: str) -> str:
    """A list line or metadata value -> bare composite file name."""
    text = value.strip().replace("\\", "/")
    if f"{COMPOSITE_DIR}/" in text:
        text = text.split(f"{COMPOSITE_DIR}/")[-1]
    return text.removeprefix("./")


def _plain_name(name: str) -> bool:
    """Whether a bare name read from a list or the metadata is one file name (no folder, no '..')."""
    return bool(name) and "/" not in name and name not in (".", "..") and "\0" not in name


def _not_contained(root: Path, name: str) -> str | None:
    """Why the dataset's file ``name`` must not be read (outside the folder, not a regular file), or None."""
    if inside(root, name) is None:
        return f"leads outside the dataset folder (to {os.path.realpath(root / name)}); not read"
    try:
        mode = os.stat(root / name).st_mode  # stat does not block on a FIFO, open would
    except OSError:
        return None  # missing: the caller's own message
    if not stat.S_ISREG(mode):
        return f"is {file_kind(mode)}, not a regular file; not read"
    return None


def _read_text_file(root: Path, name: str, found: _Findings, check: str, what: str) -> str | None:
    """Read a text file of the dataset's root, or record why not (outside, not regular, not UTF-8)."""
    refusal = _not_contained(root, name)
    if refusal is not None:
        found.add("paths-inside", name, refusal)
        return None
    try:
        return read_regular_text(root / name, what=what, error=DatasetError)
    except DatasetError as error:
        found.add(check, name, str(error).removeprefix(f"{root / name}: "))
        return None


def _read_lists(root: Path, found: _Findings) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Return split -> composite names (in order, duplicates kept) and split -> list file name."""
    entries: dict[str, list[str]] = {}
    files: dict[str, str] = {}
    lists = find_split_lists(root)
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        stem = entry.name[:-4] if entry.name.endswith(".txt") else ""
        if stem.endswith(SPLITS) and not entry.is_file():
            try:
                kind = file_kind(os.stat(entry.path).st_mode)
            except OSError:
                kind = "a broken symbolic link"
            found.add("paths-inside", entry.name, f"is {kind}, not a regular file; not read")
    for split in SPLITS:
        candidates = [path.name for path in lists[split]]
        if not candidates:
            found.add("layout", f"*{split}.txt", f"no {split} split list (expected <Name>{split}.txt)")
            continue
        if len(candidates) > 1:
            for candidate in candidates:
                found.add("layout", candidate, f"{len(candidates)} {split} lists: keep exactly one *{split}.txt")
        files[split] = candidates[0]
        text = _read_text_file(root, candidates[0], found, "layout", "a split list")
        if text is None:
            continue
        names = []
        first_line: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            name = _bare(line)
            if not _plain_name(name):
                # Never read: "composite_images/../../x.jpg" would leave the folder.
                found.add("paths-inside", f"{candidates[0]}:{number}",
                          f"line {line.strip()!r} is a path, not a composite file name; not read")
                continue
            if name in first_line:
                found.add("split-duplicates", f"{candidates[0]}:{number}",
                          f"{name} repeats line {first_line[name]}")
            else:
                first_line[name] = number
            names.append(name)
        entries[split] = names
    return entries, files


def _read_metadata(root: Path, found: _Findings) -> dict[str, dict[str, Any]] | None:
    """Return bare composite name -> metadata row, or None when there is no usable metadata."""
    path = root / METADATA_FILE
    if not os.path.lexists(path):
        return None
    refusal = _not_contained(root, METADATA_FILE)
    if refusal is not None:
        found.add("paths-inside", METADATA_FILE, refusal)
        return None
    try:
        import pandas as pd

        with open_regular(path, what="a Parquet table", error=DatasetError) as handle:
            frame = pd.read_parquet(handle)
    except DatasetError as error:
        found.add("metadata-rows", METADATA_FILE, str(error).removeprefix(f"{path}: "))
        return None
    except Exception as error:  # noqa: BLE001 - pyarrow raises many types for a bad file
        found.add("metadata-rows", METADATA_FILE, f"unreadable: {type(error).__name__}: {error}")
        return None
    missing = [column for column in METADATA_COLUMNS if column not in frame.columns]
    if missing:
        found.add("metadata-rows", METADATA_FILE, f"missing columns {missing}")
        if "composite_file_name" in missing:
            return None
    rows: dict[str, dict[str, Any]] = {}
    for number, row in enumerate(frame.to_dict(orient="records")):
        name = _bare(str(row["composite_file_name"]))
        if not _plain_name(name):
            found.add("paths-inside", f"{METADATA_FILE}:row {number}",
                      f"composite_file_name {row['composite_file_name']!r} is a path outside {COMPOSITE_DIR}/; not read")
            continue
        if name in rows:
            found.add("metadata-rows", _composite_path(name), "more than one metadata row")
        rows[name] = row
    return rows


def _parse(name: str, found: _Findings) -> tuple[str, str, int] | None:
    """Check a composite name against the layout rules; return (id, fg, k) or None."""
    path = _composite_path(name)
    try:
        identifier, foreground, k = parse_composite_name(name)
        if image_id(identifier) != identifier:  # pragma: no cover - parse splits on "_"
            raise DatasetError(f"image id {identifier!r} contains '_'")
        mask_name(identifier, foreground)
    except DatasetError as error:
        found.add("naming", path, str(error))
        return None
    if "." + name.rsplit(".", 1)[-1].lower() not in _COMPOSITE_EXTENSIONS:
        found.add("naming", path, f"extension must be one of {_COMPOSITE_EXTENSIONS}")
    if k < 1:
        found.add("naming", path, "composite index k must be >= 1")
    return identifier, foreground, k


def _map(tasks: Sequence[ForegroundTask], workers: int, progress: bool) -> Iterator[ForegroundResult]:
    from tqdm import tqdm

    bar = tqdm(total=len(tasks), desc="verify", unit="foreground", disable=not progress, file=sys.stderr)
    try:
        if workers == 1 or len(tasks) < 2:
            for task in tasks:
                result = check_foreground(task)
                bar.update()  # before yielding: the consumer stops asking after the last result
                yield result
            return
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for result in pool.map(check_foreground, tasks, chunksize=max(1, min(8, len(tasks) // (4 * workers)))):
                bar.update()
                yield result
    finally:
        bar.close()


def _histogram(values: Sequence[float], edges: Sequence[float] | np.ndarray) -> dict[str, list]:
    counts, _ = np.histogram(np.asarray(values, dtype=float), bins=np.asarray(edges, dtype=float))
    return {"edges": [float(edge) for edge in edges], "counts": [int(count) for count in counts]}


def _front_matter(text: str) -> dict[str, Any]:
    """Return the YAML front matter of a dataset card; ValueError (one line) for anything malformed."""
    import yaml

    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ValueError("does not start with a '---' YAML front matter line")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise ValueError("YAML front matter has no closing '---' line") from None
    try:
        data = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        raise ValueError(f"YAML front matter is malformed{where}: {problem}") from None
    except RecursionError:
        raise ValueError("YAML front matter is nested too deeply") from None
    if not isinstance(data, dict):
        raise ValueError("YAML front matter is not a mapping")
    return data


def _card_splits(front: dict[str, Any]) -> dict[str, int]:
    info = front.get("dataset_info")
    infos = info if isinstance(info, list) else [info]
    splits: dict[str, int] = {}
    for item in infos:
        if isinstance(item, dict):
            for split in item.get("splits") or []:
                splits[str(split["name"])] = int(split["num_examples"])
    if not splits:
        raise ValueError("front matter has no dataset_info.splits")
    return splits


def _check_counts(root: Path, observed: dict[str, Any], found: _Findings) -> None:
    if not os.path.lexists(root / BUILD_FILE):
        found.skipped["counts-build"] = f"{BUILD_FILE} absent"
    else:
        text = _read_text_file(root, BUILD_FILE, found, "counts-build", "a JSON file")
        if text is not None:
            try:
                counts = json.loads(text)["counts"]
                recorded = {key: counts[key] for key in ("images", "foregrounds", "composites")}
                recorded.update({f"splits.{split}": counts["splits"][split] for split in SPLITS})
                wrong = [f"{key} {recorded[key]} != {observed[key]} found" for key in recorded
                         if int(recorded[key]) != observed[key]]
            except RecursionError:
                found.add("counts-build", BUILD_FILE, "no readable counts (JSON nested too deeply)")
            except (ValueError, KeyError, TypeError, IndexError, OverflowError) as error:
                found.add("counts-build", BUILD_FILE, f"no readable counts ({type(error).__name__}: {error})")
            else:
                if wrong:
                    found.add("counts-build", BUILD_FILE, "; ".join(wrong))
                else:
                    found.details["counts-build"] = "images, foregrounds, composites and split sizes match build.json"
    if not os.path.lexists(root / CARD_FILE):
        found.skipped["counts-card"] = f"{CARD_FILE} absent"
        return
    text = _read_text_file(root, CARD_FILE, found, "counts-card", "a dataset card")
    if text is None:
        return
    try:
        splits = _card_splits(_front_matter(text))
    except (ValueError, KeyError, TypeError, IndexError, OverflowError) as error:
        found.add("counts-card", CARD_FILE, f"no readable split sizes ({error})")
        return
    wrong = [f"{split} {splits.get(split)} != {observed[f'splits.{split}']} found" for split in SPLITS
             if splits.get(split) != observed[f"splits.{split}"]]
    if wrong:
        found.add("counts-card", CARD_FILE, "; ".join(wrong))
    else:
        found.details["counts-card"] = "split sizes match the card's dataset_info"


def _check_build_complete(root: Path, has_metadata: bool, found: _Findings) -> None:
    """An unfinished build: its work folder is still there, or the metadata lacks the card or build.json."""
    from ccharmony.dataset.builder import STATE_DIR

    if os.path.lexists(root / STATE_DIR):
        found.add("build-complete", f"{STATE_DIR}/",
                  "an unfinished build's work folder is still there; run the same `ccharmony build` again "
                  "to finish it")
    if has_metadata:
        for name in (BUILD_FILE, CARD_FILE):
            if not os.path.lexists(root / name):
                found.add("build-complete", name,
                          f"missing beside {METADATA_FILE}: the build did not finish (run it again)")
    elif not found.problems.get("build-complete"):
        found.skipped["build-complete"] = f"{METADATA_FILE} absent (third-party layout): not a ccharmony build"


_FINITE_COLUMNS = ("source_illuminant", "target_illuminant", "source_illuminant_srgb", "target_illuminant_srgb",
                   "illuminant_angle_deg", "foreground_ratio", "width", "height")


def _non_finite(value: Any) -> bool:
    """Whether a metadata value (a number or a list of numbers) holds NaN, an infinity or a non-number."""
    if value is None:
        return True
    try:
        numbers = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return True
    return numbers.size == 0 or not bool(np.all(np.isfinite(numbers)))


def _shown(value: Any) -> str:
    try:
        numbers = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return repr(value)
    return str(numbers.tolist()) if numbers.ndim else str(float(numbers))


def _check_metadata_values(rows: dict[str, dict[str, Any]], found: _Findings) -> None:
    for name, row in rows.items():
        bad = [column for column in _FINITE_COLUMNS if column in row and _non_finite(row[column])]
        if bad:
            found.add("metadata-values", _composite_path(name),
                      "non-finite (NaN, infinite or missing) " + ", ".join(f"{c} {_shown(row[c])}" for c in bad))


def verify_dataset(
    path: PathType,
    *,
    deep: bool = False,
    workers: int = 1,
    progress: bool = True,
    near_duplicate_distance: int = NEAR_DUPLICATE_DISTANCE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> VerifyReport:
    """
    Verify a dataset folder and report every check by name with the files involved.

    Parameters
    ----------
    path
        The dataset folder (iHarmony4 layout, with or without ``metadata.parquet``).
    deep
        Also re-apply each composite's recorded transfer to its real image and
        mask and compare with the stored composite.
    workers
        Processes for the per-foreground checks (1: in this process).
    progress
        Show a progress bar on stderr.
    near_duplicate_distance
        Largest perceptual-hash distance (bits of 64) counted as a near duplicate.
    max_pixels
        Largest image decoded; a file whose header declares more pixels is a
        ``decode`` problem and is not decoded (:mod:`ccharmony.io.limits`).

    Returns
    -------
    VerifyReport
        ``report.ok`` is False when any check found a problem.

    Raises
    ------
    DatasetError
        When ``path`` is not a folder, or has neither ``composite_images/`` nor a split list.
    ConfigError
        When ``workers`` < 1.

    Notes
    -----
    The tolerance rule for lossy files is given in :mod:`ccharmony.dataset.verify`.
    Nothing outside ``path`` is read: list lines and metadata names that are
    paths, and files whose symbolic links lead out of the folder, are
    ``paths-inside`` problems; FIFOs and devices are reported, never opened.
    Each real image and mask is read once per foreground; only the
    composites are read once each.

    References
    ----------
    :cite:`Niu2023`, :cite:`Cong2020`, :cite:`Zauner2010`

    Examples
    --------
    >>> verify_dataset("/no/such/folder")
    Traceback (most recent call last):
    ...
    ccharmony.errors.DatasetError: dataset folder /no/such/folder does not exist
    """
    root = Path(path)
    if not root.exists():
        raise DatasetError(f"dataset folder {root} does not exist")
    if not root.is_dir():
        raise DatasetError(f"dataset path {root} is a file, not a folder; give the dataset folder")
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if not (root / COMPOSITE_DIR).is_dir() and not any(find_split_lists(root).values()):
        raise DatasetError(f"{root} is not a dataset folder: it has no {COMPOSITE_DIR}/ and no <Name>train.txt "
                           "or <Name>test.txt split list")
    found = _Findings()
    for folder in (REAL_DIR, MASK_DIR, COMPOSITE_DIR):
        if not (root / folder).is_dir():
            found.add("layout", f"{folder}/", "folder missing")

    _check_build_complete(root, os.path.lexists(root / METADATA_FILE), found)
    lists, list_files = _read_lists(root, found)
    for split in SPLITS:
        if split in lists and not lists[split]:
            found.add("splits-nonempty", list_files[split], f"the {split} list names no composite")
    membership: dict[str, list[str]] = defaultdict(list)
    for split, names in lists.items():
        for name in dict.fromkeys(names):
            membership[name].append(split)
    for name, splits in membership.items():
        if len(splits) > 1:
            found.add("split-exclusive", _composite_path(name), f"listed in {' and '.join(splits)}")
    rows = _read_metadata(root, found)
    if rows is not None:
        _check_metadata_values(rows, found)
    elif found.problems.get("metadata-rows"):
        for name in ("sha256", "recorded-size", "metadata-values"):
            found.skipped[name] = f"{METADATA_FILE} unreadable: nothing recorded to compare with"
    else:
        skipped = ["sha256", "recorded-size", "metadata-rows", "metadata-values", "deep-reapply"]
        for name in skipped:
            found.skipped[name] = f"{METADATA_FILE} absent (third-party layout): nothing recorded to compare with"
        found.notes.append(Check("metadata", "note", [], (
            f"{METADATA_FILE} absent: checked files, decoding, masks, pixels, splits and naming; skipped "
            f"{', '.join(skipped)}; cameras and illuminant angles are not in the summary")))
    names = list(dict.fromkeys([*membership, *(rows or {})]))

    parsed: dict[str, tuple[str, str, int]] = {}
    for name in names:
        parts = _parse(name, found)
        if parts is not None:
            parsed[name] = parts
    composite_dir = root / COMPOSITE_DIR
    if composite_dir.is_dir():
        for entry in sorted(os.listdir(composite_dir)):
            if entry not in membership and not entry.startswith("."):
                found.add("split-coverage", _composite_path(entry), "in no split list")

    reapply_available = True
    if deep:
        try:
            from ccharmony.dataset.reapply import reapply_transfer  # noqa: F401
        except ImportError as error:
            reapply_available = False
            found.skipped["deep-reapply"] = f"not available: ccharmony.dataset.reapply.reapply_transfer ({error})"
        if rows is None and "deep-reapply" not in found.skipped:
            found.skipped["deep-reapply"] = f"{METADATA_FILE} unusable: no recorded transfers"
    else:
        found.skipped["deep-reapply"] = "not requested (use --deep)"
    run_deep = deep and reapply_available and rows is not None

    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name, (identifier, foreground, _) in parsed.items():
        groups[(identifier, foreground)].append(name)
    tasks = []
    seen_images: set[str] = set()
    for (identifier, foreground), members in sorted(groups.items()):
        members.sort(key=lambda n: (parsed[n][2], n))
        composites = tuple(
            CompositeTask(_composite_path(n), None if rows is None or n not in rows else str(rows[n].get("transfer")))
            for n in members)
        tasks.append(ForegroundTask(str(root), f"{REAL_DIR}/{real_name(identifier)}",
                                    f"{MASK_DIR}/{mask_name(identifier, foreground)}", composites,
                                    deep=run_deep, want_phash=identifier not in seen_images,
                                    max_pixels=max_pixels))
        seen_images.add(identifier)

    infos: dict[str, FileInfo] = {}
    phashes: dict[str, int] = {}
    ratios: list[float] = []
    deep_ran = 0
    for task, result in zip(tasks, _map(tasks, workers, progress)):
        if result.error:
            for file in (task.real, task.mask):
                found.add("decode", file, f"check failed: {result.error}")
            continue
        for info in result.files:
            if info.path not in infos:
                infos[info.path] = info
                if info.outside:
                    found.add("paths-inside", info.path, info.outside)
                elif info.problem == "missing":
                    found.add("files-exist", info.path, "missing")
                elif info.problem:
                    found.add("decode", info.path, info.problem)
        for check, reason in (("mask-binary", result.mask_binary), ("mask-nonempty", result.mask_nonempty),
                              ("mask-not-full", result.mask_not_full)):
            if reason:
                found.add(check, task.mask, reason)
        if result.foreground_ratio is not None:
            ratios.append(result.foreground_ratio)
        if result.phash is not None:
            phashes[parse_composite_name(task.composites[0].composite)[0]] = result.phash
        for outcome in result.composites:
            for check, reason in (("sizes-agree", outcome.sizes), ("outside-mask-equal", outcome.outside),
                                  ("inside-mask-differs", outcome.inside), ("deep-reapply", outcome.deep)):
                if reason:
                    found.add(check, outcome.composite, reason)
            deep_ran += outcome.deep_ran
    if run_deep:
        found.details["deep-reapply"] = f"{deep_ran} composites re-created from their recorded transfer"

    if rows is not None:
        _check_metadata(rows, membership, parsed, infos, root, found)

    # Splits: leakage of source images and near duplicates.
    image_splits: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for name, splits in membership.items():
        if name in parsed:
            for split_name in splits:
                image_splits[parsed[name][0]][split_name].append(name)
    for identifier, per_split in image_splits.items():
        if len(per_split) > 1:
            smallest = min(per_split, key=lambda s: (len(per_split[s]), s))
            counts = ", ".join(f"{len(v)} in {s}" for s, v in per_split.items())
            found.add("split-source-leakage", f"{REAL_DIR}/{real_name(identifier)}", f"composites {counts}")
            for name in per_split[smallest]:
                found.add("split-source-leakage", _composite_path(name),
                          f"its source image {identifier} also has composites in another split")
    split_images = {split: {i: phashes[i] for i, s in image_splits.items() if list(s) == [split] and i in phashes}
                    for split in SPLITS}
    pairs = near_duplicate_pairs(split_images[SPLITS[0]], split_images[SPLITS[1]], max_distance=near_duplicate_distance)
    for first, second, distance in pairs:
        a, b = f"{REAL_DIR}/{real_name(first)}", f"{REAL_DIR}/{real_name(second)}"
        found.add("split-near-duplicates", a, f"near duplicate ({distance} of 64 bits) of {b} ({SPLITS[1]})")
        found.add("split-near-duplicates", b, f"near duplicate ({distance} of 64 bits) of {a} ({SPLITS[0]})")
    found.details["split-near-duplicates"] = (
        f"{len(split_images[SPLITS[0]])} x {len(split_images[SPLITS[1]])} source images compared, "
        f"none within {near_duplicate_distance} bits")

    # Counts and summary.
    listed = [name for name in membership]
    observed = {
        "images": len({parsed[n][0] for n in listed if n in parsed}),
        "foregrounds": len({parsed[n][:2] for n in listed if n in parsed}),
        "composites": len(listed),
        **{f"splits.{split}": len(set(lists.get(split, []))) for split in SPLITS},
    }
    _check_counts(root, observed, found)
    summary = _summary(lists, parsed, rows, infos, ratios, observed)
    checks = found.checks()
    summary["problems"] = [check.name for check in checks if check.status == "problem"]
    summary["list_files"] = list_files
    return VerifyReport(dataset=str(root), checks=checks, summary=summary, deep=deep)


def _normalised(value: Any, folder: str) -> str:
    text = str(value).replace("\\", "/")
    return text if "/" in text else f"{folder}/{text}"


def _check_metadata(rows: dict[str, dict[str, Any]], membership: dict[str, list[str]],
                    parsed: dict[str, tuple[str, str, int]], infos: dict[str, FileInfo],
                    root: Path, found: _Findings) -> None:
    for name in membership:
        if name not in rows:
            found.add("metadata-rows", _composite_path(name), "listed but has no metadata row")
    for name, row in rows.items():
        path = _composite_path(name)
        if name not in membership:
            found.add("metadata-rows", path, "metadata row for a composite in no split list")
        elif row.get("split") not in membership[name]:
            found.add("metadata-rows", path, f"split column {row.get('split')!r} but listed in {membership[name]}")
        if name not in parsed:
            continue
        identifier, foreground, k = parsed[name]
        real = f"{REAL_DIR}/{real_name(identifier)}"
        mask = f"{MASK_DIR}/{mask_name(identifier, foreground)}"
        expected = {"real_file_name": real, "mask_file_name": mask}
        for column, value in expected.items():
            if column in row and _normalised(row[column], value.split("/")[0]) != value:
                found.add("metadata-rows", path, f"{column} {row[column]!r} != {value!r}")
        accepted = {"image_id": (identifier,), "foreground_id": (foreground, f"{identifier}_{foreground}"),
                    "k": (str(k),)}
        for column, values in accepted.items():
            if column in row and str(row[column]) not in values:
                found.add("metadata-rows", path, f"{column} {row[column]!r} != {values[0]!r} from the file name")
        for column, file in (("composite_sha256", path), ("real_sha256", real), ("mask_sha256", mask)):
            info = infos.get(file)
            recorded = row.get(column)
            if info is not None and info.sha256 and recorded and str(recorded) != info.sha256:
                found.add("sha256", file, f"sha256 {info.sha256[:12]}... != recorded {str(recorded)[:12]}...")
        info = infos.get(path)
        if info is not None and info.width is not None and "width" in row:
            if (int(row["width"]), int(row["height"])) != (info.width, info.height):
                found.add("recorded-size", path,
                          f"{info.width}x{info.height} != recorded {int(row['width'])}x{int(row['height'])}")
        for column, folder in (("real_file_name", REAL_DIR), ("mask_file_name", MASK_DIR)):
            if column in row:
                file = _normalised(row[column], folder)
                if inside(root, file) is None:
                    found.add("paths-inside", path, f"{column} {row[column]!r} leads outside the dataset folder; "
                                                    "not read")
                elif file not in infos and not (root / file).is_file():
                    found.add("files-exist", file, f"missing (named by the metadata row of {name})")


def _summary(lists: dict[str, list[str]], parsed: dict[str, tuple[str, str, int]],
             rows: dict[str, dict[str, Any]] | None, infos: dict[str, FileInfo],
             ratios: list[float], observed: dict[str, Any]) -> dict[str, Any]:
    splits = {}
    for split in SPLITS:
        names = [n for n in dict.fromkeys(lists.get(split, [])) if n in parsed]
        splits[split] = {"composites": len(set(lists.get(split, []))),
                         "foregrounds": len({parsed[n][:2] for n in names}),
                         "images": len({parsed[n][0] for n in names})}
    summary: dict[str, Any] = {"splits": splits, "counts": observed}
    cameras: dict[str, Counter] = defaultdict(Counter)
    angles: list[float] = []
    if rows is not None:
        for split in SPLITS:
            for name in dict.fromkeys(lists.get(split, [])):
                if name in rows:
                    cameras[str(rows[name].get("source_camera", "unknown"))][split] += 1
        for row in rows.values():
            angle: Any = row.get("illuminant_angle_deg")
            try:
                value = float(angle)
            except (TypeError, ValueError):
                continue
            if math.isfinite(value):  # non-finite values are a metadata-values problem, not a bin
                angles.append(value)
    summary["cameras"] = {camera: dict(counts) for camera, counts in sorted(cameras.items())}
    summary["foreground_ratio"] = _histogram(ratios, np.linspace(0.0, 1.0, 11))
    top = max(5.0, 5.0 * math.ceil(max(angles) / 5.0)) if angles else 5.0
    summary["illuminant_angle_deg"] = _histogram(angles, np.linspace(0.0, top, 11)) if angles else {}
    qualities = Counter(info.quality for path, info in infos.items()
                        if path.startswith(COMPOSITE_DIR) and info.quality is not None)
    summary["jpeg_quality"] = {int(q): n for q, n in sorted(qualities.items())}
    summary["files_read"] = sum(1 for info in infos.values() if info.sha256 is not None)  # opened and read
    summary["bytes_read"] = int(sum(info.n_bytes for info in infos.values()))
    return summary
