"""
Benchmark report
================

Summarise and write the results of a harmonization benchmark:

-   :func:`summarise`: per model, the mean of every metric with its 95 %
    bootstrap interval over source photos, the mean ± std over training seeds
    and each seed's value, paired tests against the composite row and against
    the best row, and the means by foreground ratio.
-   :func:`render_markdown`: the ``report.md`` text.
-   :func:`picture_grid`: a grid of composite | each model | real images.
-   :func:`fingerprint_test_set`: the fingerprint of a test set that
    ``report.json`` records.
-   :func:`write_report`: ``report.md``, ``report.json``, ``per_image.csv``
    and ``grid.png``, each written atomically.
-   :func:`read_report`: the rows and records of an existing run folder (to
    add rows to it).

Every report says that GiftNet :cite:`Niu2023` is a re-implementation from
the paper's description, the official code and weights being unreleased, and
records the evaluation protocol with every convention
(:mod:`ccharmony.harmonization.protocols`) and the statistics
(:mod:`ccharmony.harmonization.statistics`).

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
-   :cite:`Cong2020` : Cong, W., Zhang, J., Niu, L., Liu, L., Ling, Z., Li, W.,
    & Zhang, L. (2020). DoveNet: Deep Image Harmonization via Domain
    Verification. CVPR 2020, 8394-8403. doi:10.1109/CVPR42600.2020.00842
-   :cite:`Field2007` : Field, C. A., & Welsh, A. H. (2007). Bootstrapping
    clustered data. Journal of the Royal Statistical Society: Series B, 69(3),
    369-390. doi:10.1111/j.1467-9868.2007.00593.x
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
from ccharmony.harmonization.protocols import EvaluationProtocol, get_protocol
from ccharmony.harmonization.statistics import (
    BootstrapOptions,
    aggregate_seeds,
    average_over_seeds,
    bootstrap_interval,
    paired_bootstrap_test,
)
from ccharmony.io.atomic import atomic_write_bytes, atomic_write_text

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "REIMPLEMENTATION_NOTE",
    "METRIC_CONVENTIONS",
    "LOWER_IS_BETTER",
    "COMPOSITE_ROW",
    "summarise",
    "render_markdown",
    "picture_grid",
    "write_png",
    "fingerprint_test_set",
    "write_report",
    "RunReport",
    "read_report",
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
"""The conventions paragraph of the ``ours`` protocol (``peak`` filled in)."""

LOWER_IS_BETTER = frozenset({"MSE", "fMSE"})
"""Metrics where a lower value is better (higher for the others)."""

COMPOSITE_ROW = "composite"
"""The row every other row is tested against (the unharmonized input)."""



def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else math.nan


def _photo(row: Mapping[str, object]) -> str:
    photo = row.get("photo")
    if isinstance(photo, str) and photo:
        return photo
    # iHarmony4 naming: the real image of <id>_<fg>_<k> is <id>.
    return str(row["name"]).rsplit("_", 2)[0]


def _seed(row: Mapping[str, object]) -> int | None:
    seed = row.get("seed")
    if seed is None or seed == "" or (isinstance(seed, float) and math.isnan(seed)):
        return None
    return int(seed)  # type: ignore[call-overload]


def _best(values: Mapping[str, float], metric: str) -> str | None:
    finite = {model: value for model, value in values.items() if math.isfinite(value)}
    if not finite:
        return None
    if metric in LOWER_IS_BETTER:
        return min(finite, key=lambda model: finite[model])
    return max(finite, key=lambda model: finite[model])


def _test_dict(test: object) -> dict | None:
    if test is None:
        return None
    return dict(test._asdict())  # type: ignore[attr-defined]


def summarise(
    per_image: Mapping[str, Sequence[Mapping[str, object]]],
    *,
    statistics: BootstrapOptions | None = None,
    composite: str = COMPOSITE_ROW,
) -> dict[str, dict]:
    """
    Summarise the per-image metrics of each model, with intervals and tests.

    Parameters
    ----------
    per_image
        Model name -> rows of :func:`~ccharmony.harmonization.predict.evaluate`
        (``name``, the metrics, ``foreground_ratio``, optionally ``photo`` and
        ``seed``; a model trained with several seeds has one row per composite
        and seed).
    statistics
        :class:`~ccharmony.harmonization.statistics.BootstrapOptions`.
    composite
        The row the others are tested against.

    Returns
    -------
    dict
        Per model: ``count`` (composites), ``metrics`` (mean; over seeds, the
        mean of the per-seed means), ``interval`` (``[low, high]`` over source
        photos), ``seeds``, ``std`` and ``per_seed`` (over training seeds),
        ``groups`` (by foreground ratio: ``count`` and ``metrics``), ``tests``
        (per metric: ``vs_composite`` and ``vs_best``, each ``None`` or the
        fields of :class:`~ccharmony.harmonization.statistics.PairedTest`,
        the difference being this row minus the other) and ``best`` (the
        metrics where this row has the best mean).

    Notes
    -----
    Photos come from each row's ``photo`` (else the iHarmony4 rule: the photo
    of ``a_b_c`` is ``a``). A metric that is not finite in some row gets a
    NaN interval and no test.

    Examples
    --------
    >>> rows = [{"name": "a", "MSE": 1.0, "fMSE": 2.0, "PSNR": 0, "fPSNR": 0, "SSIM": 1,
    ...          "fSSIM": 1, "foreground_ratio": 0.1}]
    >>> summarise({"composite": rows})["composite"]["groups"]["5-15%"]["metrics"]["fMSE"]
    2.0
    """
    options = statistics or BootstrapOptions()
    combined: dict[str, list[Mapping[str, object]]] = {}
    summary: dict[str, dict] = {}
    for model, rows in per_image.items():
        seeds = sorted({seed for row in rows if (seed := _seed(row)) is not None})
        merged: list[Mapping[str, object]] = (
            list(average_over_seeds(rows, METRIC_NAMES)) if seeds else [dict(row) for row in rows])
        combined[model] = merged
        photos = [_photo(row) for row in merged]
        groups: dict[str, dict] = {}
        for label, _, _ in FOREGROUND_RATIO_GROUPS:
            members = [row for row in merged if foreground_ratio_group(float(row["foreground_ratio"])) == label]  # type: ignore[arg-type]
            groups[label] = {
                "count": len(members),
                "metrics": {name: _mean([float(row[name]) for row in members]) for name in METRIC_NAMES},  # type: ignore[arg-type]
            }
        entry: dict = {
            "count": len(merged),
            "metrics": {name: _mean([float(row[name]) for row in merged]) for name in METRIC_NAMES},  # type: ignore[arg-type]
            "interval": {},
            "seeds": seeds,
            "std": {},
            "per_seed": {},
            "groups": groups,
            "tests": {},
            "best": [],
        }
        for name in METRIC_NAMES:
            values = [float(row[name]) for row in merged]  # type: ignore[arg-type]
            interval = bootstrap_interval(values, photos, options=options)
            entry["interval"][name] = [interval.low, interval.high]
            if seeds:
                per_seed = {seed: _mean([float(row[name]) for row in rows if _seed(row) == seed])  # type: ignore[arg-type]
                            for seed in seeds}
                aggregate = aggregate_seeds(per_seed)
                entry["std"][name] = aggregate.std
                entry["per_seed"][name] = {str(seed): value for seed, value in aggregate.per_seed.items()}
        summary[model] = entry
    photo_of = {str(row["name"]): _photo(row) for rows in combined.values() for row in rows}
    for name in METRIC_NAMES:
        by_model = {model: {str(row["name"]): float(row[name]) for row in rows}  # type: ignore[arg-type]
                    for model, rows in combined.items()}
        best = _best({model: summary[model]["metrics"][name] for model in summary}, name)
        if best is not None:
            summary[best]["best"].append(name)
        for model in summary:
            vs_composite = (paired_bootstrap_test(by_model[model], by_model[composite], photo_of, options=options)
                            if composite in by_model and model != composite else None)
            vs_best = (paired_bootstrap_test(by_model[model], by_model[best], photo_of, options=options)
                       if best is not None and model != best else None)
            summary[model]["tests"][name] = {"vs_composite": _test_dict(vs_composite),
                                             "vs_best": _test_dict(vs_best)}
    return summary


def _format(value: float, name: str) -> str:
    if not isinstance(value, (int, float)) or math.isnan(value):
        return "-"
    if name in ("SSIM", "fSSIM"):
        return f"{value:.4f}"
    return f"{value:.2f}"


def _cell(entry: Mapping, name: str) -> str:
    value = entry["metrics"][name]
    text = _format(value, name)
    if text == "-":
        return text
    if name in entry.get("best", ()):
        text = f"**{text}**"
    std = entry.get("std", {}).get(name)
    if len(entry.get("seeds", ())) > 1 and std is not None and math.isfinite(std):
        text += f" ± {_format(std, name)}"
    low, high = entry.get("interval", {}).get(name, [math.nan, math.nan])
    if math.isfinite(low) and math.isfinite(high):
        text += f" [{_format(low, name)}, {_format(high, name)}]"
    tests = entry.get("tests", {}).get(name, {})
    marks = ""
    vs_composite = tests.get("vs_composite")
    if vs_composite and vs_composite["excludes_zero"]:
        marks += "*"
    vs_best = tests.get("vs_best")
    if vs_best and not vs_best["excludes_zero"]:
        marks += "†"
    return text + (f" {marks}" if marks else "")


def _p_cell(tests: Mapping) -> str:
    parts = []
    for key in ("vs_composite", "vs_best"):
        test = tests.get(key)
        parts.append("-" if not test else f"{test['p_value']:.3f}")
    return " / ".join(parts)


def _resolve_protocol(protocol: str | EvaluationProtocol | None, psnr_peak: str | None) -> EvaluationProtocol:
    if protocol is None:
        # A caller that names only a peak is a caller of the first benchmark: the ``ours`` protocol.
        return get_protocol() if psnr_peak is None else get_protocol("ours", psnr_peak=psnr_peak)
    return get_protocol(protocol, psnr_peak=psnr_peak)


def render_markdown(
    summary: Mapping[str, dict],
    *,
    meta: Mapping[str, object],
    psnr_peak: str | None = None,
    protocol: str | EvaluationProtocol | None = None,
    statistics: BootstrapOptions | None = None,
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
        The PSNR peak (only with the ``ours`` protocol; alone, it selects
        ``ours`` as the first benchmark did).
    protocol
        The protocol the metrics were computed under (default ``bcmi``).
    statistics
        The bootstrap options the summary used.

    Returns
    -------
    str
        Markdown.
    """
    chosen = _resolve_protocol(protocol, psnr_peak)
    options = statistics or BootstrapOptions()
    descriptions = dict(meta.get("descriptions", {}))  # type: ignore[call-overload]
    seconds = dict(meta.get("train_seconds", {}))  # type: ignore[call-overload]
    level = f"{100 * options.confidence:g} %"
    lines = [
        "# Harmonization benchmark",
        "",
        f"> {REIMPLEMENTATION_NOTE}",
        "",
        f"- dataset: `{meta.get('dataset', '')}` ({meta.get('test_count', '?')} test composites, "
        f"{meta.get('train_count', '?')} training composites)",
        f"- preset: `{meta.get('preset', '-')}`; device: `{meta.get('device', '-')}`; seed: {meta.get('seed', '-')}",
        f"- protocol: `{chosen.name}`: {chosen.title}",
        f"- ccharmony {meta.get('ccharmony_version', '')}"
        + (f", torch {meta['torch_version']}" if meta.get("torch_version") else ""),
        "",
        f"## Results (test set mean [{level} interval over source photos])",
        "",
        "| model | " + " | ".join(METRIC_NAMES) + " | train s | description |",
        "|---|" + "---:|" * len(METRIC_NAMES) + "---:|---|",
    ]
    for model, entry in summary.items():
        cells = [_cell(entry, name) for name in METRIC_NAMES]
        train = f"{seconds[model]:.0f}" if model in seconds else "-"
        lines.append(f"| {model} | " + " | ".join(cells) + f" | {train} | {descriptions.get(model, '')} |")
    multi_seed = [model for model, entry in summary.items() if len(entry.get("seeds", ())) > 1]
    lines += [
        "",
        "MSE and fMSE: lower is better; PSNR, fPSNR, SSIM, fSSIM: higher is better; `-`: not defined by the "
        "protocol. **Bold**: the best mean. `[low, high]`: the cluster-bootstrap interval (source photos "
        f"resampled, {options.resamples} resamples, seed {options.seed}). `*`: differs from the "
        f"`{COMPOSITE_ROW}` row (the {level} interval of the paired difference excludes 0). `†`: not "
        "distinguishable from the best row (its interval of the paired difference includes 0).",
    ]
    if multi_seed:
        seeds_text = ", ".join(f"{model} ({', '.join(map(str, summary[model]['seeds']))})" for model in multi_seed)
        lines.append(f"`± std`: standard deviation of the per-seed means over training seeds: {seeds_text}; "
                     "the interval is over photos of the seed-averaged per-composite values.")
    lines += ["", "## Paired tests (two-sided bootstrap p-value: vs composite / vs best)", "",
              "| model | " + " | ".join(METRIC_NAMES) + " |", "|---|" + "---:|" * len(METRIC_NAMES)]
    for model, entry in summary.items():
        cells = [_p_cell(entry.get("tests", {}).get(name, {})) for name in METRIC_NAMES]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    lines += ["", "## By foreground ratio (MSE / fMSE / fPSNR)", ""]
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
    lines += ["", f"## Protocol `{chosen.name}`", ""]
    lines += [f"- {key}: {value}" for key, value in chosen.conventions().items() if key not in ("protocol",)]
    lines += ["- foreground-ratio groups: 0-5 %, 5-15 %, 15-100 % (Cong et al. 2020)", ""]
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


def fingerprint_test_set(samples: Mapping[str, str]) -> dict[str, object]:
    """
    Return the fingerprint of a test set: its size and one SHA-256 over its samples.

    Parameters
    ----------
    samples
        Composite name -> the sample's SHA-256
        (:attr:`~ccharmony.harmonization.protocols.EvaluationSample.sha256`:
        composite, real and mask files).

    Returns
    -------
    dict
        ``{"count": n, "sha256": hex}``: the hash of the sorted
        ``"<name> <sha256>"`` lines. Two test sets are the same when both agree.

    Examples
    --------
    >>> fingerprint_test_set({"b": "2", "a": "1"})["count"]
    2
    """
    lines = "\n".join(f"{name} {samples[name]}" for name in sorted(samples))
    return {"count": len(samples), "sha256": hashlib.sha256(lines.encode("utf-8")).hexdigest()}


def _rows_identity(per_image: Mapping[str, Sequence[Mapping[str, object]]]) -> dict[str, object] | None:
    samples: dict[str, str] = {}
    for rows in per_image.values():
        for row in rows:
            sha = row.get("sha256")
            if not isinstance(sha, str) or not sha:
                return None
            samples[str(row["name"])] = sha
    return fingerprint_test_set(samples) if samples else None


def _csv_columns(per_image: Mapping[str, Sequence[Mapping[str, object]]]) -> list[str]:
    columns = ["model", "name", "photo"]
    if any(_seed(row) is not None for rows in per_image.values() for row in rows):
        columns.append("seed")
    return columns + [*METRIC_NAMES, "foreground_ratio", "foreground_ratio_group", "sha256"]


def write_report(
    folder: PathType,
    per_image: Mapping[str, Sequence[Mapping[str, object]]],
    *,
    meta: Mapping[str, object],
    psnr_peak: str | None = None,
    protocol: str | EvaluationProtocol | None = None,
    grid: NDArrayUInt8 | None = None,
    statistics: BootstrapOptions | None = None,
    rows_info: Mapping[str, Mapping[str, object]] | None = None,
    test_set: Mapping[str, object] | None = None,
) -> dict[str, Path]:
    """
    Write ``report.md``, ``report.json``, ``per_image.csv`` (and ``grid.png``).

    Parameters
    ----------
    folder
        Run folder (exists).
    per_image
        Model name -> per-image rows, in report order (composite first); a
        model trained with several seeds has one row per composite and seed
        (``seed`` key).
    meta
        Run information (see :func:`render_markdown`), stored in the JSON.
    psnr_peak
        PSNR peak; alone (no ``protocol``) it selects the ``ours`` protocol,
        as the first benchmark wrote its reports.
    protocol
        The protocol the rows were computed under (default ``bcmi`` when
        neither argument is given).
    grid
        Picture grid from :func:`picture_grid`.
    statistics
        Bootstrap options.
    rows_info
        Model -> where the row comes from (``source``: ``"trained"`` or
        ``"scored"``, ``predictions``, ``missing``, ``extra``, ...), stored in
        ``report.json`` under ``rows``.
    test_set
        :func:`fingerprint_test_set` of the whole test set; by default computed
        from the rows' ``sha256``.

    Returns
    -------
    dict
        File kind -> path.

    Notes
    -----
    ``report.json`` keys: ``note``, ``protocol`` (``name``, ``title``,
    ``size``, ``conventions``), ``conventions`` (one paragraph), ``psnr_peak``,
    ``statistics`` (the bootstrap method and options), ``test_set``,
    ``rows``, ``meta``, ``summary`` (:func:`summarise`). ``per_image.csv``
    columns: ``model, name, photo, [seed,] MSE, fMSE, PSNR, fPSNR, SSIM, fSSIM,
    foreground_ratio, foreground_ratio_group, sha256`` (floats as ``repr``,
    so they read back exactly).
    """
    folder = Path(folder)
    chosen = _resolve_protocol(protocol, psnr_peak)
    options = statistics or BootstrapOptions()
    summary = summarise(per_image, statistics=options)
    paths = {
        "markdown": folder / "report.md",
        "json": folder / "report.json",
        "csv": folder / "per_image.csv",
    }
    atomic_write_text(paths["markdown"], render_markdown(summary, meta=meta, protocol=chosen, statistics=options))
    conventions = chosen.conventions()
    paragraph = (METRIC_CONVENTIONS.format(peak="255" if chosen.psnr_peak == "255" else "max(real image)")
                 if chosen.name == "ours" else "; ".join(f"{key}: {value}" for key, value in conventions.items()))
    document = {
        "note": REIMPLEMENTATION_NOTE,
        "protocol": {"name": chosen.name, "title": chosen.title, "size": chosen.size, "conventions": conventions},
        "conventions": paragraph,
        "psnr_peak": chosen.psnr_peak,
        "statistics": options.to_dict(),
        "test_set": dict(test_set) if test_set is not None else _rows_identity(per_image),
        "rows": {model: dict(info) for model, info in (rows_info or {}).items()},
        "meta": dict(meta),
        "summary": summary,
    }
    atomic_write_text(paths["json"], json.dumps(document, indent=2, default=str, allow_nan=True) + "\n")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = _csv_columns(per_image)
    writer.writerow(columns)
    for model, rows in per_image.items():
        for row in rows:
            ratio = float(row["foreground_ratio"])  # type: ignore[arg-type]
            record = {
                "model": model, "name": row["name"], "photo": _photo(row), "seed": _seed(row),
                **{name: repr(float(row[name])) for name in METRIC_NAMES},  # type: ignore[arg-type]
                "foreground_ratio": repr(ratio), "foreground_ratio_group": foreground_ratio_group(ratio),
                "sha256": row.get("sha256", ""),
            }
            writer.writerow(["" if record[column] is None else record[column] for column in columns])
    atomic_write_text(paths["csv"], buffer.getvalue())
    if grid is not None:
        paths["grid"] = folder / "grid.png"
        write_png(paths["grid"], grid)
    return paths


@dataclass(frozen=True)
class RunReport:
    """
    Hold what :func:`read_report` found in a run folder.

    Parameters
    ----------
    folder
        The run folder.
    document
        ``report.json`` as read.
    per_image
        Model -> per-image rows (floats as written, ``seed`` an int when set).
    protocol
        The protocol name it records (``ours`` for reports written before
        protocols, which recorded only ``psnr_peak``).
    conventions
        The conventions it records (those of ``ours`` with its peak for old
        reports).
    """

    folder: Path
    document: dict
    per_image: dict[str, list[dict]] = field(default_factory=dict)
    protocol: str = ""
    conventions: dict = field(default_factory=dict)


def _contained(folder: Path, name: str, what: str) -> str:
    from ccharmony.io.files import read_regular_text
    from ccharmony.io.paths import resolve_inside

    path = resolve_inside(folder, name, what=what)
    return read_regular_text(path, what=what, error=DatasetError)


def read_report(folder: PathType) -> RunReport:
    """
    Read ``report.json`` and ``per_image.csv`` of a run folder.

    Parameters
    ----------
    folder
        A run folder written by :func:`write_report`.

    Returns
    -------
    RunReport

    Raises
    ------
    DatasetError
        When the folder, ``report.json`` or ``per_image.csv`` is missing, not
        a regular file inside the folder, or malformed.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"{root}: run folder not found")
    text = _contained(root, "report.json", "the run's report.json")
    try:
        document = json.loads(text)
    except ValueError as error:
        raise DatasetError(f"{root / 'report.json'}: not JSON ({error})") from None
    if not isinstance(document, dict):
        raise DatasetError(f"{root / 'report.json'}: not a benchmark report (a JSON object expected)")
    recorded = document.get("protocol")
    if isinstance(recorded, dict) and isinstance(recorded.get("name"), str):
        name, conventions = recorded["name"], dict(recorded.get("conventions") or {})
    else:
        peak = str(document.get("psnr_peak", "255"))
        name, conventions = "ours", get_protocol("ours", psnr_peak=peak).conventions()
    rows: dict[str, list[dict]] = {}
    table = _contained(root, "per_image.csv", "the run's per_image.csv")
    reader = csv.DictReader(io.StringIO(table))
    missing = {"model", "name", "foreground_ratio", *METRIC_NAMES} - set(reader.fieldnames or ())
    if missing:
        raise DatasetError(f"{root / 'per_image.csv'}: missing columns {sorted(missing)}")
    for line, record in enumerate(reader, start=2):
        try:
            row: dict = {"name": record["name"], **{metric: float(record[metric]) for metric in METRIC_NAMES},
                         "foreground_ratio": float(record["foreground_ratio"])}
            if record.get("seed"):
                row["seed"] = int(record["seed"])
        except (TypeError, ValueError) as error:
            raise DatasetError(f"{root / 'per_image.csv'}: line {line}: {error}") from None
        if record.get("photo"):
            row["photo"] = record["photo"]
        if record.get("sha256"):
            row["sha256"] = record["sha256"]
        rows.setdefault(record["model"], []).append(row)
    return RunReport(folder=root, document=document, per_image=rows, protocol=name, conventions=conventions)
