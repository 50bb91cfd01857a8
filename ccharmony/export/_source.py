"""
Export source (private)
=======================

Read a dataset folder (ARCHITECTURE.md section 6) for the exporters, treating
every path that comes from its files as untrusted:

-   :class:`SourceSample`: one composite with its real image, mask and
    metadata row.
-   :class:`SourceDataset`: the samples of each split, the metadata schema and
    the provenance files that travel with an export.
-   :func:`read_source`: read a folder's split lists and ``metadata.parquet``.
-   :func:`resolve_inside`: resolve a relative path and refuse it when it (or a
    symlink on the way) leads outside the folder.

The split lists are the truth for membership and order (the readers of the
iSSAM family :cite:`Sofiiuk2021` iterate them); ``metadata.parquet`` supplies
the real-image and mask file of each composite and the metadata columns. A
folder without ``metadata.parquet`` (any iHarmony4-layout folder) still
exports: real image and mask then follow the iSSAM naming rule and the
metadata columns are the ones the names give.

References
----------
-   :cite:`Sofiiuk2021` : Sofiiuk, K., Popenova, P., & Konushin, A. (2021).
    Foreground-aware Semantic Representations for Image Harmonization. WACV
    2021, 1620-1629. doi:10.1109/WACV48630.2021.00166
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccharmony._types import PathType
from ccharmony.dataset.layout import (
    BUILD_FILE,
    CARD_FILE,
    COMPOSITE_DIR,
    MASK_DIR,
    METADATA_FILE,
    PUBLISHED_IDS_FILE,
    REAL_DIR,
    SPLITS,
    find_split_lists,
)
from ccharmony.errors import DatasetError
from ccharmony.io.sniff import SNIFF_BYTES, sniff_container

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["SourceSample", "SourceDataset", "read_source", "resolve_inside", "container_of", "check_name"]

CARD_ASSETS_DIR = "card"
"""Folder of the card's plots (``card/illuminants.png``), carried with the card."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-_]*$")


@dataclass(frozen=True)
class SourceSample:
    """
    Name one composite of a dataset folder and its two companion files.

    Parameters
    ----------
    name
        The composite's file name as listed (``"IMG-0285_a_3.jpg"``).
    split
        ``"train"`` or ``"test"``.
    index
        Position in the split list, from 0 (the ``index`` that
        :class:`ccharmony.harmonization.data.HarmonizationDataset` gives it).
    composite, real, mask
        Resolved paths, each inside the dataset folder.
    image_id, foreground, k
        The parts of the composite name ``<image_id>_<foreground>_<k>``.
    row
        The composite's metadata row (JSON-safe values: NaN becomes ``None``).
    """

    name: str
    split: str
    index: int
    composite: Path
    real: Path
    mask: Path
    image_id: str
    foreground: str
    k: int
    row: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Return the composite file stem, ``"<image_id>_<foreground>_<k>"``."""
        return f"{self.image_id}_{self.foreground}_{self.k}"


@dataclass(frozen=True)
class SourceDataset:
    """
    Hold what an exporter reads from a dataset folder.

    Parameters
    ----------
    root
        The resolved dataset folder.
    name
        Dataset name: the list file name without its split (``ccHarmonytrain.txt``
        -> ``"ccHarmony"``, ``HCOCO_train.txt`` -> ``"HCOCO"``).
    samples
        Split -> samples in list order.
    columns
        Metadata column names in file order (the minimal columns derived from
        the names when the folder has no ``metadata.parquet``).
    metadata
        ``metadata.parquet`` resolved, or ``None``.
    provenance
        Files that travel with an export (card, its plots, ``build.json``):
        path relative to the folder -> resolved path.
    """

    root: Path
    name: str
    samples: Mapping[str, tuple[SourceSample, ...]]
    columns: tuple[str, ...]
    metadata: Path | None
    provenance: Mapping[str, Path]

    def counts(self) -> dict[str, int]:
        """Return the number of composites per split."""
        return {split: len(self.samples[split]) for split in SPLITS}


def _printable(text: str) -> str:
    """Return ``text`` quoted with control characters escaped (house rule 17)."""
    return repr(text)


def resolve_inside(root: Path, relative: str, *, what: str) -> Path:
    """
    Resolve ``relative`` under ``root`` and require a regular file inside ``root``.

    Parameters
    ----------
    root
        A resolved folder.
    relative
        A path read from a dataset file (a list line, a metadata value).
    what
        What the path names, for the message (``"ccHarmonytrain.txt line 3"``).

    Returns
    -------
    pathlib.Path
        The resolved file; symlinks that stay inside ``root`` are followed.

    Raises
    ------
    DatasetError
        When the path is absolute, leads outside ``root`` (through ``..`` or a
        symlink), or does not name an existing regular file.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()).resolve()
    >>> _ = (root / "a.txt").write_text("x")
    >>> resolve_inside(root, "a.txt", what="line 1").name
    'a.txt'
    >>> resolve_inside(root, "../a.txt", what="line 2")
    Traceback (most recent call last):
    ...
    ccharmony.errors.DatasetError: line 2: '../a.txt' leads outside the dataset folder ...
    """
    text = relative.strip().replace("\\", "/")
    if not text or text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise DatasetError(
            f"{what}: {_printable(text)} is not a path relative to the dataset folder {root}; "
            "list lines and metadata file names must be relative"
        )
    resolved = (root / text).resolve()
    if not resolved.is_relative_to(root):
        raise DatasetError(
            f"{what}: {_printable(text)} leads outside the dataset folder {root} "
            f"(to {resolved}); every file of a dataset must be inside it"
        )
    if not resolved.is_file():
        raise DatasetError(f"{what}: {root / text} does not exist or is not a file")
    return resolved


def container_of(path: Path) -> str:
    """Return the sniffed container of a file (``"jpeg"``, ``"png"``, ...)."""
    with open(path, "rb") as handle:
        return sniff_container(handle.read(SNIFF_BYTES))


def check_name(name: str, *, argument: str = "name") -> str:
    """
    Check a dataset name used as a folder name and list prefix.

    Raises
    ------
    DatasetError
        When the name is empty, starts with a dot or has characters other
        than letters, digits, ``.``, ``-`` and ``_``.

    Examples
    --------
    >>> check_name("ccHarmony")
    'ccHarmony'
    """
    if not _NAME.match(name):
        raise DatasetError(
            f"{argument}: {_printable(name)} cannot name an exported dataset; "
            "use letters, digits, '.', '-' and '_' (not starting with '.')"
        )
    return name


def _name_from_lists(lists: Mapping[str, list[Path]]) -> str:
    for split in SPLITS:
        for path in lists[split]:
            stem = path.stem[: -len(split)].rstrip("_-. ")
            if stem and _NAME.match(stem):
                return stem
    return "dataset"


def _json_safe(value: Any) -> Any:
    """Return ``value`` with NaN/inf floats as ``None`` (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    return value


def _composite_key(text: str) -> str:
    """A list line or ``composite_file_name`` -> path relative to the folder."""
    line = text.strip().replace("\\", "/").removeprefix("./")
    return line if "/" in line else f"{COMPOSITE_DIR}/{line}"


def _read_metadata(root: Path) -> tuple[Path | None, tuple[str, ...], dict[str, dict[str, Any]]]:
    candidate = root / METADATA_FILE
    if not (candidate.exists() or candidate.is_symlink()):
        return None, (), {}
    path = resolve_inside(root, METADATA_FILE, what=METADATA_FILE)
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as error:  # noqa: BLE001 - pyarrow raises many types for a bad file
        raise DatasetError(f"{path}: unreadable Parquet file ({type(error).__name__}: {error})") from None
    if "composite_file_name" not in table.column_names:
        raise DatasetError(f"{path}: no composite_file_name column; rebuild the dataset or delete the file")
    rows: dict[str, dict[str, Any]] = {}
    for row in table.to_pylist():
        key = _composite_key(str(row["composite_file_name"]))
        if key in rows:
            raise DatasetError(f"{path}: more than one row for {_printable(key)}; run ccharmony verify")
        rows[key] = {name: _json_safe(value) for name, value in row.items()}
    return path, tuple(table.column_names), rows


def _split_name(key: str, what: str) -> tuple[str, str, int]:
    stem = key.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    parts = stem.rsplit("_", 2)
    if len(parts) != 3 or not all(parts) or not parts[2].isdigit():
        raise DatasetError(
            f"{what}: composite {_printable(key)} is not named <image-id>_<foreground>_<k>.<ext>"
        )
    return parts[0], parts[1], int(parts[2])


def _provenance(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for name in (CARD_FILE, BUILD_FILE, PUBLISHED_IDS_FILE):
        if (root / name).is_file():
            found[name] = resolve_inside(root, name, what=name)
    assets = root / CARD_ASSETS_DIR
    if assets.is_dir() and not assets.is_symlink():
        for path in sorted(assets.rglob("*")):
            relative = path.relative_to(root).as_posix()
            if path.is_file() and not path.name.startswith("."):
                found[relative] = resolve_inside(root, relative, what=relative)
    return found


def read_source(folder: PathType) -> SourceDataset:
    """
    Read a dataset folder's lists and metadata for an export.

    Parameters
    ----------
    folder
        A dataset folder: ``*train.txt`` / ``*test.txt`` lists at its root
        (either spelling, ``<Name>train.txt`` or ``<Name>_train.txt``),
        ``composite_images/``, ``masks/``, ``real_images/`` and, optionally,
        ``metadata.parquet``.

    Returns
    -------
    SourceDataset

    Raises
    ------
    DatasetError
        When the folder or a split list is missing, a list names a composite
        twice or a file outside the folder, a composite has no metadata row
        (when there is metadata) or its metadata split disagrees with the list,
        or a listed file is missing.
    """
    given = Path(folder)
    if not given.is_dir():
        raise DatasetError(f"{given}: dataset folder not found (expected a folder written by ccharmony build)")
    root = given.resolve()
    lists = find_split_lists(root)
    missing = [split for split in SPLITS if not lists[split]]
    if missing:
        raise DatasetError(
            f"{root}: no {' or '.join(f'*{split}.txt' for split in missing)} split list; "
            "a dataset folder has one list per split at its root"
        )
    metadata, columns, rows = _read_metadata(root)
    seen: dict[str, str] = {}
    samples: dict[str, tuple[SourceSample, ...]] = {}
    for split in SPLITS:
        entries: list[SourceSample] = []
        for list_path in lists[split]:
            list_file = resolve_inside(root, list_path.name, what=list_path.name)
            try:
                text = list_file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise DatasetError(f"{list_path}: unreadable split list ({error})") from None
            for number, line in enumerate(text.splitlines(), start=1):
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                what = f"{list_path.name} line {number}"
                key = _composite_key(line)
                if key in seen:
                    raise DatasetError(f"{what}: {_printable(key)} is already listed ({seen[key]}); "
                                       "each composite belongs to one split, once")
                seen[key] = what
                image_id, foreground, k = _split_name(key, what)
                composite = resolve_inside(root, key, what=what)
                row = rows.get(key)
                if metadata is not None and row is None:
                    raise DatasetError(f"{metadata}: no row for {_printable(key)} ({what}); run ccharmony verify")
                if row is not None:
                    if row.get("split") not in (None, split):
                        raise DatasetError(
                            f"{metadata}: {_printable(key)} has split {row.get('split')!r} but {what} "
                            f"lists it under {split!r}; run ccharmony verify"
                        )
                    real_rel = str(row.get("real_file_name") or "")
                    mask_rel = str(row.get("mask_file_name") or "")
                else:
                    base = key.rsplit("/", 2)[0] + "/" if key.count("/") >= 2 else ""
                    real_rel = f"{base}{REAL_DIR}/{image_id}.jpg"
                    mask_rel = f"{base}{MASK_DIR}/{image_id}_{foreground}.png"
                    row = {
                        "composite_file_name": key, "real_file_name": real_rel, "mask_file_name": mask_rel,
                        "image_id": image_id, "foreground_id": f"{image_id}_{foreground}", "k": k,
                        "split": split,
                    }
                entries.append(SourceSample(
                    name=key.rsplit("/", 1)[-1], split=split, index=len(entries), composite=composite,
                    real=resolve_inside(root, real_rel, what=f"real image of {what}"),
                    mask=resolve_inside(root, mask_rel, what=f"mask of {what}"),
                    image_id=image_id, foreground=foreground, k=k, row=row,
                ))
        samples[split] = tuple(entries)
    if not columns:
        columns = ("composite_file_name", "real_file_name", "mask_file_name", "image_id",
                   "foreground_id", "k", "split")
    return SourceDataset(root=root, name=_name_from_lists(lists), samples=samples, columns=columns,
                         metadata=metadata, provenance=_provenance(root))
