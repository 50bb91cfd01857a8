"""
Report inputs
=============

Read what the report shows into tables with fixed columns:

-   :class:`DatasetView` and :func:`read_dataset`: a dataset folder, one row
    per composite, from ``metadata.parquet`` when present, otherwise from the
    split lists and file names (third-party iHarmony4 folders).
-   :class:`BenchmarkView` and :func:`read_benchmark`: a benchmark run folder
    (``per_image.csv``, ``report.json``, ``predictions/<model>/``).

Nothing here reads pixels; thumbnails are made by
:mod:`ccharmony.report.thumbnails`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ccharmony._types import PathType
from ccharmony.dataset import layout
from ccharmony.errors import DatasetError
from ccharmony.io.paths import inside

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "COMPOSITE_COLUMNS",
    "LOWER_IS_BETTER",
    "DatasetView",
    "BenchmarkView",
    "read_dataset",
    "read_benchmark",
    "lower_is_better",
    "composite_stem",
]

COMPOSITE_COLUMNS = (
    "composite",  # bare composite file name, e.g. "IMG-0285_a_1.jpg"
    "composite_path",  # relative to the dataset folder
    "real_path",
    "mask_path",
    "image_id",
    "foreground_id",
    "k",
    "split",
    "source_camera",
    "target_camera",
    "source_image",
    "target_image",
    "source_illuminant",
    "target_illuminant",
    "illuminant_angle_deg",
    "foreground_ratio",
    "method",
    "width",
    "height",
)
"""Columns of :attr:`DatasetView.composites`. ``foreground_id`` is the short
foreground id (``"a"``, also where the metadata records ``"<id>_a"``). Unknown
text is ``"unknown"``, unknown numbers are NaN and unknown illuminants are
``None``."""

LOWER_IS_BETTER = ("mse", "fmse", "lpips", "de", "delta_e")
"""Metric names (lower case) for which smaller is better; others are larger-is-better."""

_METRIC_ORDER = ("mse", "fmse", "psnr", "fpsnr", "ssim", "fssim")
_NAME_COLUMNS = ("name", "composite", "composite_file_name", "image", "file")


def lower_is_better(metric: str) -> bool:
    """Return whether a smaller ``metric`` value is better.

    >>> lower_is_better("fMSE"), lower_is_better("psnr")
    (True, False)
    """
    return metric.lower() in LOWER_IS_BETTER


@dataclass(frozen=True)
class DatasetView:
    """
    Describe a dataset folder for the report.

    Parameters
    ----------
    path
        The dataset folder.
    name
        Dataset name (prefix of the split lists, else the folder name).
    composites
        One row per composite with :data:`COMPOSITE_COLUMNS`.
    has_metadata
        Whether ``metadata.parquet`` was read.
    build
        ``build.json`` as a dict, ``{}`` when absent.
    notes
        One line per thing derived or missing (shown on the overview).
    """

    path: Path
    name: str
    composites: pd.DataFrame
    has_metadata: bool
    build: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class BenchmarkView:
    """
    Describe a benchmark run folder for the report.

    Parameters
    ----------
    path
        The run folder.
    per_image
        One row per (composite, model): ``name`` (as written: a composite
        file name or its stem), ``model`` and the metric columns.
    models
        Model names in file order.
    metrics
        Metric columns found, e.g. ``("mse", "fmse", "psnr", ...)``.
    summary
        One row per model: ``model``, ``images`` and the mean of each metric.
    report
        ``report.json`` as a dict, ``{}`` when absent.
    predictions
        ``(model, name)`` to the prediction image, where saved.
    notes
        One line per thing missing.
    """

    path: Path
    per_image: pd.DataFrame
    models: tuple[str, ...]
    metrics: tuple[str, ...]
    summary: pd.DataFrame
    report: dict = field(default_factory=dict)
    predictions: dict[tuple[str, str], Path] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def _bare(name: str) -> str:
    return str(name).replace("\\", "/").rsplit("/", 1)[-1]


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")


def composite_stem(name: str) -> str:
    """Return a composite's name without folder and image extension (ids may contain ``"."``).

    >>> composite_stem("composite_images/IMG-1.2_a_3.jpg"), composite_stem("IMG-1.2_a_3")
    ('IMG-1.2_a_3', 'IMG-1.2_a_3')
    """
    bare = _bare(name)
    return bare.rsplit(".", 1)[0] if bare.lower().endswith(IMAGE_EXTENSIONS) else bare


def _parse(name: str) -> tuple[str, str, int]:
    """Split ``<id>_<fg>_<k>.<ext>``; third-party ids may contain ``"_"``."""
    try:
        return layout.parse_composite_name(name)
    except DatasetError:
        stem = _bare(name).rsplit(".", 1)[0]
        parts = stem.rsplit("_", 2)
        if len(parts) == 3 and parts[2].isdigit() and parts[0] and parts[1]:
            return parts[0], parts[1], int(parts[2])
        raise


def _folder(path: PathType, what: str, hint: str) -> Path:
    """Return ``path`` as a folder, or raise one line saying it is missing or a file."""
    root = Path(path)
    if root.is_dir():
        return root
    if os.path.lexists(root):
        raise DatasetError(f"{root}: is a file, not a folder; give the {what} ({hint})")
    raise DatasetError(f"{root}: {what} does not exist ({hint})")


def _contained_file(root: Path, name: str, what: str) -> Path:
    """Return ``root / name`` after checking it stays inside ``root`` and is a regular file."""
    from ccharmony.io.files import check_regular
    from ccharmony.io.paths import resolve_inside

    resolve_inside(root, name, what=what)
    return check_regular(root / name, what=what, error=DatasetError)


def _read_contained_text(root: Path, name: str, what: str) -> str:
    from ccharmony.io.files import read_regular_text

    _contained_file(root, name, what)
    return read_regular_text(root / name, what=what, error=DatasetError)


def _read_json(root: Path, name: str, what: str) -> object:
    text = _read_contained_text(root, name, what)
    try:
        return json.loads(text)
    except RecursionError:
        raise DatasetError(f"{root / name}: cannot read {what} (JSON nested too deeply)") from None
    except ValueError as error:
        raise DatasetError(f"{root / name}: cannot read {what} ({error})") from None


def _read_lists(root: Path) -> tuple[str, dict[str, str], list[Path]]:
    """Return the dataset name, composite name to split, and the list files read."""
    splits: dict[str, str] = {}
    names: list[str] = []
    files: list[Path] = []
    for entry in os.scandir(root):  # a FIFO or device named like a list is refused, not skipped silently
        if entry.name.endswith(tuple(f"{split}.txt" for split in layout.SPLITS)) and not entry.is_file():
            _contained_file(root, entry.name, "a split list")
    for split, list_files in layout.find_split_lists(root).items():
        for list_file in list_files:
            lines = _read_contained_text(root, list_file.name, "a split list").splitlines()
            files.append(list_file)
            names.append(list_file.stem[: -len(split)].rstrip("_-"))
            for line in lines:
                if line.strip():
                    splits[_bare(line.strip())] = split
    name = names[0] if len(set(names)) == 1 and names[0] else root.resolve().name
    return name, splits, files


def _relative(value: object, folder: str) -> str:
    text = str(value).replace("\\", "/")
    return text if "/" in text else f"{folder}/{text}"


def _as_illuminant(value: object) -> list[float] | None:
    if value is None:
        return None
    try:
        RGB = [float(v) for v in value]  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    return RGB if len(RGB) == 3 and all(math.isfinite(v) for v in RGB) else None


def _from_metadata(root: Path, splits: dict[str, str], notes: list[str]) -> pd.DataFrame:
    path = _contained_file(root, layout.METADATA_FILE, "the metadata table")
    try:
        frame = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several unrelated types for bad files
        raise DatasetError(f"{path}: cannot read the metadata table ({type(error).__name__}: {error})") from error
    if "composite_file_name" not in frame.columns:
        raise DatasetError(f"{path}: has no 'composite_file_name' column; columns are {list(frame.columns)}")
    missing = [column for column in layout.METADATA_COLUMNS if column not in frame.columns]
    if missing:
        notes.append(f"metadata.parquet lacks columns {', '.join(missing)}; the report shows them as unknown.")
    out = pd.DataFrame()
    out["composite"] = frame["composite_file_name"].map(_bare)
    out["composite_path"] = frame["composite_file_name"].map(lambda v: _relative(v, layout.COMPOSITE_DIR))
    parsed = [_parse(name) for name in out["composite"]]
    out["image_id"] = frame["image_id"].astype(str) if "image_id" in frame else [p[0] for p in parsed]
    # The builder may record the foreground as "<id>_<fg>" (the mask stem); keep the short "<fg>".
    out["foreground_id"] = ([f[len(i) + 1:] if f.startswith(f"{i}_") else f
                             for i, f in zip(out["image_id"], frame["foreground_id"].astype(str))]
                            if "foreground_id" in frame else [p[1] for p in parsed])
    out["k"] = frame["k"].astype(int) if "k" in frame else [p[2] for p in parsed]
    out["real_path"] = (frame["real_file_name"].map(lambda v: _relative(v, layout.REAL_DIR))
                        if "real_file_name" in frame
                        else [f"{layout.REAL_DIR}/{layout.real_name(i)}" for i in out["image_id"]])
    out["mask_path"] = (frame["mask_file_name"].map(lambda v: _relative(v, layout.MASK_DIR))
                        if "mask_file_name" in frame
                        else [f"{layout.MASK_DIR}/{i}_{f}.png" for i, f in zip(out["image_id"], out["foreground_id"])])
    if "split" in frame:
        out["split"] = frame["split"].astype(str)
    else:
        out["split"] = [splits.get(name, "unknown") for name in out["composite"]]
    for column in ("source_camera", "target_camera", "source_image", "target_image", "method"):
        out[column] = frame[column].astype(str) if column in frame else "unknown"
    if "source_image" not in frame:
        out["source_image"] = out["image_id"]
    for column in ("source_illuminant", "target_illuminant"):
        # Prefer the illuminants in linear sRGB: camera-RGB directions of different
        # cameras are not comparable on one chromaticity plot.
        source = f"{column}_srgb" if f"{column}_srgb" in frame else column
        out[column] = (frame[source].map(_as_illuminant) if source in frame else None)
    for column in ("illuminant_angle_deg", "foreground_ratio", "width", "height"):
        out[column] = pd.to_numeric(frame[column], errors="coerce").astype(float) if column in frame else np.nan
    return out


def _from_lists(root: Path, splits: dict[str, str], notes: list[str]) -> pd.DataFrame:
    names = list(splits)
    if not names:
        folder = root / layout.COMPOSITE_DIR
        names = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
        if names:
            notes.append("No split lists (*train.txt, *test.txt): every composite is in split 'unknown'.")
    notes.append("No metadata.parquet: cameras, illuminants and angles are unknown; foreground ratios "
                 "are measured from the masks.")
    rows = []
    for name in names:
        try:
            image, foreground, k = _parse(name)
        except DatasetError as error:
            raise DatasetError(f"{root}: {error}") from error
        rows.append({
            "composite": name, "composite_path": f"{layout.COMPOSITE_DIR}/{name}",
            "real_path": f"{layout.REAL_DIR}/{image}.jpg", "mask_path": f"{layout.MASK_DIR}/{image}_{foreground}.png",
            "image_id": image, "foreground_id": foreground, "k": k, "split": splits.get(name, "unknown"),
        })
    out = pd.DataFrame.from_records(rows, columns=["composite", "composite_path", "real_path", "mask_path",
                                                   "image_id", "foreground_id", "k", "split"])
    for column in ("source_camera", "target_camera", "target_image", "method"):
        out[column] = "unknown"
    out["source_image"] = out["image_id"]
    out["source_illuminant"] = None
    out["target_illuminant"] = None
    for column in ("illuminant_angle_deg", "foreground_ratio", "width", "height"):
        out[column] = np.nan
    return out


def read_dataset(path: PathType) -> DatasetView:
    """
    Read a dataset folder into a :class:`DatasetView`.

    Parameters
    ----------
    path
        Dataset folder in the iHarmony4 layout (ARCHITECTURE.md section 6),
        with or without ``metadata.parquet`` and ``build.json``.

    Returns
    -------
    DatasetView
        The composites sorted by image, foreground and ``k``.

    Raises
    ------
    DatasetError
        When the folder is missing, has no composites, or a table or list
        in it cannot be read.

    Notes
    -----
    Without ``metadata.parquet`` the image id, foreground and ``k`` come from
    the composite names (``<id>_<fg>_<k>.<ext>``; the last two ``"_"`` split
    it, so third-party ids may contain ``"_"``), the split from the
    ``*train.txt``/``*test.txt`` lists (:func:`ccharmony.dataset.layout.find_split_lists`),
    and the real image and mask from
    the iHarmony4 naming rule.
    """
    root = _folder(path, "dataset folder", "give the folder `ccharmony build --out` wrote")
    notes: list[str] = []
    name, splits, _ = _read_lists(root)
    has_metadata = os.path.lexists(root / layout.METADATA_FILE)
    composites = _from_metadata(root, splits, notes) if has_metadata else _from_lists(root, splits, notes)
    if composites.empty:
        raise DatasetError(f"{root}: no composites found (no metadata.parquet rows, split lists or "
                           f"{layout.COMPOSITE_DIR}/ files)")
    composites = composites.sort_values(["image_id", "foreground_id", "k"], kind="stable").reset_index(drop=True)
    build: dict = {}
    build_path = root / layout.BUILD_FILE
    if os.path.lexists(build_path):
        loaded = _read_json(root, layout.BUILD_FILE, "build information")
        build = loaded if isinstance(loaded, dict) else {"build.json": loaded}
    else:
        notes.append("No build.json: pipeline, versions and skipped inputs are unknown.")
    config = build.get("config")
    if isinstance(config, dict) and isinstance(config.get("name"), str) and not splits:
        name = config["name"]
    return DatasetView(root, name, composites[list(COMPOSITE_COLUMNS)], has_metadata, build, tuple(notes))


def _prediction_path(root: Path, folder: str, name: str) -> Path | None:
    """The saved prediction of composite ``name`` under ``root / folder``, when it is a regular file inside ``root``."""
    stem = composite_stem(name)
    for candidate in (f"{folder}/{stem}.png", f"{folder}/{name}.png", f"{folder}/{name}"):
        found = inside(root, candidate)
        if found is not None and found.is_file():
            return found
    return None


def read_benchmark(path: PathType) -> BenchmarkView:
    """
    Read a benchmark run folder into a :class:`BenchmarkView`.

    Parameters
    ----------
    path
        Run folder with ``per_image.csv`` (columns ``model``, ``name`` and
        numeric metrics, e.g. ``MSE, fMSE, PSNR, fPSNR, SSIM, fSSIM`` as
        :func:`ccharmony.harmonization.report.write_report` writes them),
        optionally ``report.json`` and ``predictions/<model>/<stem>.png``.

    Returns
    -------
    BenchmarkView
        Per-image rows and per-model means.

    Raises
    ------
    DatasetError
        When the folder or ``per_image.csv`` is missing or unreadable, or
        the table has no name, model or numeric metric column.

    Notes
    -----
    Metrics are shown as written: harmonization metrics are computed at
    256x256 on 0..255 values (fMSE over the mask); the PSNR peak is the one
    ``report.json`` names.
    """
    root = _folder(path, "benchmark run folder", "give the NNN_benchmark folder `ccharmony benchmark` wrote")
    csv_path = root / "per_image.csv"
    if not os.path.lexists(csv_path):
        raise DatasetError(f"{csv_path}: missing; a benchmark run folder has per_image.csv")
    _contained_file(root, "per_image.csv", "the per-image results")
    try:
        table = pd.read_csv(csv_path)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise DatasetError(f"{csv_path}: cannot read ({error})") from error
    name_column = next((c for c in _NAME_COLUMNS if c in table.columns), None)
    if name_column is None or "model" not in table.columns:
        raise DatasetError(f"{csv_path}: needs a 'name' and a 'model' column, got {list(table.columns)}")
    # ``seed`` (runs with --seeds) is a row key, not a metric.
    metrics = [c for c in table.columns if c not in (name_column, "model", "foreground_ratio", "seed")
               and pd.api.types.is_numeric_dtype(table[c])]
    if not metrics:
        raise DatasetError(f"{csv_path}: has no numeric metric column, got {list(table.columns)}")
    metrics.sort(key=lambda m: (_METRIC_ORDER.index(m.lower()) if m.lower() in _METRIC_ORDER else 99))
    per_image = pd.DataFrame({"name": table[name_column].map(_bare), "model": table["model"].astype(str)})
    for metric in metrics:
        per_image[metric] = table[metric].astype(float)
    if "foreground_ratio" in table.columns:
        per_image["foreground_ratio"] = pd.to_numeric(table["foreground_ratio"], errors="coerce")
    if "seed" in table.columns and table["seed"].notna().any():
        # One row per (model, image): trained rows repeat each image once per seed; the view shows
        # the mean over seeds, so counts and cases are per image as in a one-seed run.
        per_image = per_image.groupby(["model", "name"], sort=False).mean(numeric_only=True).reset_index()
    models = tuple(dict.fromkeys(per_image["model"]))
    grouped = per_image.groupby("model", sort=False)
    summary = grouped[metrics].mean().reset_index()
    summary.insert(1, "images", grouped.size().to_numpy())
    report: dict = {}
    notes: list[str] = []
    report_path = root / "report.json"
    if os.path.lexists(report_path):
        loaded = _read_json(root, "report.json", "the benchmark report")
        report = loaded if isinstance(loaded, dict) else {"report.json": loaded}
    else:
        notes.append("No report.json in the run folder: the table shows means of per_image.csv.")
    predictions: dict[tuple[str, str], Path] = {}
    for model in models:
        # A model name is a name: "../../x" in per_image.csv must not send the report out of the run folder.
        if not model or "/" in model or "\\" in model or model in (".", ".."):
            notes.append(f"Model name {model!r} in per_image.csv is a path, not a name: its predictions are not read.")
            continue
        folder = f"predictions/{model}"
        if inside(root, folder) is None:
            notes.append(f"predictions/{model} leads outside the run folder: its predictions are not read.")
            continue
        if not (root / folder).is_dir():
            continue
        for name in per_image.loc[per_image["model"] == model, "name"]:
            found = _prediction_path(root, folder, name)
            if found is not None:
                predictions[(model, name)] = found
    if not predictions:
        notes.append("No predictions/<model>/ images in the run folder: the cases show metrics only.")
    return BenchmarkView(root, per_image, models, tuple(metrics), summary, report, predictions, tuple(notes))
