"""
Benchmark report
================

Summarise and write the results of a harmonization benchmark:

-   :func:`summarise`: mean metrics per model, overall and by foreground ratio.
-   :func:`render_markdown`: the ``report.md`` text.
-   :func:`picture_grid`: a grid of composite | each model | real images.
-   :func:`write_report`: ``report.md``, ``report.json``, ``per_image.csv``
    and ``grid.png``, each written atomically.

Every report says that GiftNet :cite:`Niu2023` is a re-implementation from
the paper's description, the official code and weights being unreleased, and
names the metric conventions (:mod:`ccharmony.harmonization.metrics`).

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
-   :cite:`Cong2020` : Cong, W., Zhang, J., Niu, L., Liu, L., Ling, Z., Li, W.,
    & Zhang, L. (2020). DoveNet: Deep Image Harmonization via Domain
    Verification. CVPR 2020, 8394-8403. doi:10.1109/CVPR42600.2020.00842
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from ccharmony._types import NDArrayUInt8, PathType
from ccharmony.errors import DatasetError
from ccharmony.harmonization.metrics import (
    FOREGROUND_RATIO_GROUPS,
    METRIC_NAMES,
    foreground_ratio_group,
)
from ccharmony.io.atomic import atomic_write_bytes, atomic_write_text

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "REIMPLEMENTATION_NOTE",
    "METRIC_CONVENTIONS",
    "summarise",
    "render_markdown",
    "picture_grid",
    "write_png",
    "write_report",
]

REIMPLEMENTATION_NOTE = (
    "GiftNet is a re-implementation from the paper's description "
    "(Niu et al., ICCV 2023); official code and weights unreleased."
)
"""The sentence every report carries."""

METRIC_CONVENTIONS = (
    "Metrics at 256x256 on 0..255 values of the 8-bit prediction. "
    "MSE = mean over pixels and channels; fMSE = sum(mask*(pred-real)^2) / (3*sum(mask)) "
    "(iSSAM convention: squared error summed over channels, divided by 3 x foreground area); "
    "PSNR = 10 log10(peak^2/MSE) and fPSNR = 10 log10(peak^2/fMSE) with peak {peak}; "
    "SSIM = skimage structural_similarity (channel_axis=-1, data_range=255, Gaussian window "
    "sigma 1.5, population covariance, Wang et al. 2004); fSSIM = mean of the SSIM map over the mask. "
    "Foreground-ratio groups 0-5 %, 5-15 %, 15-100 % (Cong et al. 2020)."
)
"""Template of the conventions paragraph (``peak`` filled in)."""

_LOWER_IS_BETTER = {"MSE", "fMSE"}


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else math.nan


def summarise(per_image: Mapping[str, Sequence[Mapping[str, float | str]]]) -> dict[str, dict]:
    """
    Average the per-image metrics of each model, overall and per foreground-ratio group.

    Parameters
    ----------
    per_image
        Model name -> rows of :func:`~ccharmony.harmonization.predict.evaluate`.

    Returns
    -------
    dict
        ``{model: {"count": n, "metrics": {name: mean}, "groups": {label:
        {"count": n, "metrics": {name: mean}}}}}``.

    Examples
    --------
    >>> rows = [{"name": "a", "MSE": 1.0, "fMSE": 2.0, "PSNR": 0, "fPSNR": 0, "SSIM": 1,
    ...          "fSSIM": 1, "foreground_ratio": 0.1}]
    >>> summarise({"composite": rows})["composite"]["groups"]["5-15%"]["metrics"]["fMSE"]
    2.0
    """
    summary: dict[str, dict] = {}
    for model, rows in per_image.items():
        groups: dict[str, dict] = {}
        for label, _, _ in FOREGROUND_RATIO_GROUPS:
            members = [row for row in rows if foreground_ratio_group(float(row["foreground_ratio"])) == label]
            groups[label] = {
                "count": len(members),
                "metrics": {name: _mean([float(row[name]) for row in members]) for name in METRIC_NAMES},
            }
        summary[model] = {
            "count": len(rows),
            "metrics": {name: _mean([float(row[name]) for row in rows]) for name in METRIC_NAMES},
            "groups": groups,
        }
    return summary


def _format(value: float, name: str) -> str:
    if math.isnan(value):
        return "-"
    if name in ("SSIM", "fSSIM"):
        return f"{value:.4f}"
    return f"{value:.2f}"


def render_markdown(
    summary: Mapping[str, dict],
    *,
    meta: Mapping[str, object],
    psnr_peak: str = "255",
) -> str:
    """
    Return the ``report.md`` text: the note, the settings and the tables.

    Parameters
    ----------
    summary
        Output of :func:`summarise`, in row order (composite first).
    meta
        Run information: ``dataset``, ``preset``, ``device``, ``descriptions``
        (model -> text), ``train_seconds`` (model -> float), ``run_dir`` ...
    psnr_peak
        The PSNR peak convention used.

    Returns
    -------
    str
        Markdown.
    """
    peak = "255" if psnr_peak == "255" else "max(real image)"
    descriptions = dict(meta.get("descriptions", {}))  # type: ignore[call-overload]
    seconds = dict(meta.get("train_seconds", {}))  # type: ignore[call-overload]
    lines = [
        "# Harmonization benchmark",
        "",
        f"> {REIMPLEMENTATION_NOTE}",
        "",
        f"- dataset: `{meta.get('dataset', '')}` ({meta.get('test_count', '?')} test composites, "
        f"{meta.get('train_count', '?')} training composites)",
        f"- preset: `{meta.get('preset', '')}`; device: `{meta.get('device', '')}`; seed: {meta.get('seed', '')}",
        f"- ccharmony {meta.get('ccharmony_version', '')}, torch {meta.get('torch_version', '')}",
        "",
        "## Results (test set mean)",
        "",
        "| model | " + " | ".join(METRIC_NAMES) + " | train s | description |",
        "|---|" + "---:|" * len(METRIC_NAMES) + "---:|---|",
    ]
    for model, entry in summary.items():
        cells = [_format(entry["metrics"][name], name) for name in METRIC_NAMES]
        train = f"{seconds[model]:.0f}" if model in seconds else "-"
        lines.append(f"| {model} | " + " | ".join(cells) + f" | {train} | {descriptions.get(model, '')} |")
    lines += ["", "MSE and fMSE: lower is better; PSNR, fPSNR, SSIM, fSSIM: higher is better.", ""]
    lines += ["## By foreground ratio (MSE / fMSE / fPSNR)", ""]
    labels = [label for label, _, _ in FOREGROUND_RATIO_GROUPS]
    first = next(iter(summary.values()), None)
    counts = [str(first["groups"][label]["count"]) if first else "0" for label in labels]
    lines.append("| model | " + " | ".join(f"{label} (n={n})" for label, n in zip(labels, counts)) + " |")
    lines.append("|---|" + "---:|" * len(labels))
    for model, entry in summary.items():
        cells = []
        for label in labels:
            metrics = entry["groups"][label]["metrics"]
            cells.append(" / ".join(_format(metrics[name], name) for name in ("MSE", "fMSE", "fPSNR")))
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    lines += ["", "## Conventions", "", METRIC_CONVENTIONS.format(peak=peak), ""]
    notes = meta.get("notes")
    if notes:
        lines += ["## Settings", ""]
        lines += [f"- {note}" for note in list(notes)]  # type: ignore[call-overload]
        lines.append("")
    return "\n".join(lines)


def picture_grid(
    rows: Sequence[Sequence[NDArrayUInt8]],
    labels: Sequence[str],
    *,
    tile: int = 128,
) -> NDArrayUInt8:
    """
    Tile images into a labelled grid (one row per test image).

    Parameters
    ----------
    rows
        Each row: ``(H, W, 3)`` uint8 RGB images, one per column.
    labels
        Column titles.
    tile
        Side of each tile in pixels.

    Returns
    -------
    ndarray
        ``(24 + n_rows tile, n_columns tile, 3)`` uint8 RGB.

    Examples
    --------
    >>> grid = picture_grid([[np.zeros((8, 8, 3), np.uint8)] * 2], ["a", "b"], tile=32)
    >>> grid.shape
    (56, 64, 3)
    """
    columns = len(labels)
    header = np.full((24, columns * tile, 3), 255, np.uint8)
    for index, label in enumerate(labels):
        cv2.putText(header, label[:14], (index * tile + 4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
    body = [
        np.concatenate(
            [cv2.resize(np.ascontiguousarray(image), (tile, tile), interpolation=cv2.INTER_AREA) for image in row],
            axis=1,
        )
        for row in rows
    ]
    return np.concatenate([header, *body], axis=0)


def write_png(path: PathType, image: NDArrayUInt8) -> None:
    """
    Write an ``(H, W, 3)`` uint8 RGB image as PNG, atomically.

    Raises
    ------
    DatasetError
        When encoding or writing fails.
    """
    ok, data = cv2.imencode(".png", np.ascontiguousarray(np.asarray(image)[..., ::-1]))
    if not ok:
        raise DatasetError(f"{path}: PNG encoding failed")
    atomic_write_bytes(path, data.tobytes())


def write_report(
    folder: PathType,
    per_image: Mapping[str, Sequence[Mapping[str, float | str]]],
    *,
    meta: Mapping[str, object],
    psnr_peak: str = "255",
    grid: NDArrayUInt8 | None = None,
) -> dict[str, Path]:
    """
    Write ``report.md``, ``report.json``, ``per_image.csv`` (and ``grid.png``).

    Parameters
    ----------
    folder
        Run folder (exists).
    per_image
        Model name -> per-image rows, in report order (composite first).
    meta
        Run information (see :func:`render_markdown`), stored in the JSON.
    psnr_peak
        PSNR peak convention.
    grid
        Picture grid from :func:`picture_grid`.

    Returns
    -------
    dict
        File kind -> path.
    """
    folder = Path(folder)
    summary = summarise(per_image)
    paths = {
        "markdown": folder / "report.md",
        "json": folder / "report.json",
        "csv": folder / "per_image.csv",
    }
    atomic_write_text(paths["markdown"], render_markdown(summary, meta=meta, psnr_peak=psnr_peak))
    document = {
        "note": REIMPLEMENTATION_NOTE,
        "conventions": METRIC_CONVENTIONS.format(peak=psnr_peak),
        "psnr_peak": psnr_peak,
        "meta": dict(meta),
        "summary": summary,
    }
    atomic_write_text(paths["json"], json.dumps(document, indent=2, default=str, allow_nan=True) + "\n")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["model", "name", *METRIC_NAMES, "foreground_ratio", "foreground_ratio_group"])
    for model, rows in per_image.items():
        for row in rows:
            ratio = float(row["foreground_ratio"])
            writer.writerow([model, row["name"], *(repr(float(row[name])) for name in METRIC_NAMES),
                             repr(ratio), foreground_ratio_group(ratio)])
    atomic_write_text(paths["csv"], buffer.getvalue())
    if grid is not None:
        paths["grid"] = folder / "grid.png"
        write_png(paths["grid"], grid)
    return paths
