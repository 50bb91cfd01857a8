"""
Report site
===========

Write a dataset's report as a self-contained static site (HTML, CSS, a
little JavaScript, SVG plots and JPEG thumbnails; no server, no network):

-   :class:`ReportOptions`: page size, thumbnail size, workers, verify.
-   :class:`ReportResult`: what was written, with stage timings.
-   :func:`write_report`: read a dataset folder (and a benchmark run folder),
    make thumbnails, write ``index.html`` (overview and plots),
    ``gallery.html`` and ``benchmark.html``.

The pages read their data from ``data/*.js`` files (``window.CCH_GALLERY =
...``) rather than fetching JSON, so that they open from ``file://`` without
cross-origin errors. Filters, sort order and page live in the location hash
(``gallery.html#split=test&camera=Canon5D&amin=5&amax=15&sort=angle-desc&page=2``),
so a view can be bookmarked and tested.

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ccharmony import __version__
from ccharmony._types import PathType
from ccharmony.errors import CCHarmonyError, ConfigError
from ccharmony.io.limits import DEFAULT_MAX_PIXELS, validate_max_pixels
from ccharmony.io.paths import inside
from ccharmony.report import plots
from ccharmony.report.inputs import (
    BenchmarkView,
    DatasetView,
    composite_stem,
    lower_is_better,
    read_benchmark,
    read_dataset,
)
from ccharmony.report.thumbnails import ThumbnailJob, ThumbnailResult, make_thumbnails

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["MARKER_FILE", "ReportOptions", "ReportResult", "write_report"]

MARKER_FILE = "ccharmony-report.json"
"""File that marks a folder as a report (and records what it shows); a
non-empty ``--out`` folder without it is refused, so that the report never
overwrites someone else's files."""

_ASSETS = ("report.css", "report.js")
_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportOptions:
    """
    Options of :func:`write_report`.

    Parameters
    ----------
    page_size
        Gallery cards (and benchmark cases) per page, >= 1.
    thumbnail_size
        Longest side of a thumbnail in pixels, >= 8.
    jpeg_quality
        JPEG quality of the thumbnails, 1-100.
    workers
        Thumbnail workers; 0 = ``min(8, cpu count)``.
    pool
        ``"thread"`` or ``"process"`` pool for the thumbnails.
    verify
        Run :func:`ccharmony.dataset.verify.verify_dataset` (quick checks)
        for the overview; the result is kept in ``data/verify.json`` and
        reused while no file of the dataset changes (same paths, sizes and
        modification times).
    title
        Page title; default: the dataset name.
    max_pixels
        Largest image decoded for a thumbnail (and by the verification),
        checked on each file's header (:mod:`ccharmony.io.limits`).
    """

    page_size: int = 48
    thumbnail_size: int = 160
    jpeg_quality: int = 82
    workers: int = 0
    pool: Literal["thread", "process"] = "thread"
    verify: bool = True
    title: str | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        if self.page_size < 1:
            raise ConfigError(f"report page size must be >= 1, got {self.page_size}")
        if self.thumbnail_size < 8:
            raise ConfigError(f"report thumbnail size must be >= 8 pixels, got {self.thumbnail_size}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ConfigError(f"report JPEG quality must be in 1..100, got {self.jpeg_quality}")
        if self.workers < 0:
            raise ConfigError(f"report workers must be >= 0 (0 = automatic), got {self.workers}")
        if self.pool not in ("thread", "process"):
            raise ConfigError(f"report pool must be 'thread' or 'process', got {self.pool!r}")
        validate_max_pixels(self.max_pixels)


@dataclass(frozen=True)
class ReportResult:
    """
    Describe a written report.

    Parameters
    ----------
    out
        The report folder.
    pages
        HTML pages written (``index.html`` first).
    cards
        Gallery cards (foregrounds).
    composites
        Composites shown.
    thumbnails_made, thumbnails_cached
        Thumbnails made by this run and taken from the cache.
    failures
        One line per source file that could not be shown.
    seconds
        Wall-clock seconds per stage (``read``, ``thumbnails``, ``verify``,
        ``write``, ``total``).
    """

    out: Path
    pages: tuple[Path, ...]
    cards: int
    composites: int
    thumbnails_made: int
    thumbnails_cached: int
    failures: tuple[str, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def index(self) -> Path:
        """The overview page, ``index.html``."""
        return self.pages[0]


# --- small helpers --------------------------------------------------------------------


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and :func:`os.replace`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._\-]+", "-", text).strip("-") or "x"


def _number(value: Any, digits: int = 4) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return round(number, digits) if math.isfinite(number) else None


def _format(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            return "–"
        return f"{float(value):.4g}"
    return str(value)


def _link(out: Path, target: Path) -> str:
    """Return a relative URL from the report folder to ``target`` (absolute file URI across drives)."""
    try:
        relative = os.path.relpath(target.resolve(), out.resolve())
    except ValueError:
        return target.resolve().as_uri()
    return relative.replace(os.sep, "/")


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]], *, table_id: str = "",
           classes: str = "") -> str:
    attributes = (f' id="{table_id}"' if table_id else "") + (f' class="{classes}"' if classes else "")
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table{attributes}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            items += _flatten(value, f"{name}.")
        else:
            items.append((name, value))
    return items


def _cell(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return escape(text)


# --- pages ----------------------------------------------------------------------------

_HEAD_SCRIPT = """(function(){var l=window.CCH_ERRORS=[];function s(){var e=document.getElementById('errors');
if(e){e.textContent=l.join('\\n');e.hidden=!l.length;}}window.cchError=function(m){l.push(String(m));s();};
window.addEventListener('error',function(v){var t=v.target;window.cchError(v.message||('failed to load '+
(t&&(t.src||t.href))));},true);window.addEventListener('unhandledrejection',function(v){window.cchError(
'unhandled rejection: '+v.reason);});var c=console.error;console.error=function(){window.cchError(
Array.prototype.join.call(arguments,' '));c.apply(console,arguments);};
document.addEventListener('DOMContentLoaded',s);})();"""


def _page(title: str, page: str, body: str, *, has_benchmark: bool, scripts: Iterable[str] = ()) -> str:
    nav = [("index.html", "overview", "Overview"), ("gallery.html", "gallery", "Gallery")]
    if has_benchmark:
        nav.append(("benchmark.html", "benchmark", "Benchmark"))
    current = ' class="current"'
    links = "".join(
        f'<a href="{href}" id="nav-{key}"{current if key == page else ""}>{label}</a>' for href, key, label in nav
    )
    script_tags = "".join(f'<script src="{src}"></script>' for src in scripts)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(title)}</title><link rel=\"icon\" href=\"data:,\">"
        "<link rel=\"stylesheet\" href=\"assets/report.css\">"
        f"<script>{_HEAD_SCRIPT}</script></head>\n"
        f"<body data-page=\"{page}\"><header class=\"top\"><h1>{escape(title)}</h1><nav>{links}</nav></header>"
        "<pre id=\"errors\" hidden></pre>\n"
        f"<main>{body}</main>\n"
        f"<footer>ccharmony {escape(__version__)} · generated "
        f"{datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}</footer>"
        f"{script_tags}<script src=\"assets/report.js\"></script></body></html>\n"
    )


def _counts_section(composites: pd.DataFrame) -> str:
    splits = sorted(composites["split"].unique(), key=lambda s: (s not in ("train", "test"), s != "train", s))
    per_split = []
    for split in splits:
        rows = composites[composites["split"] == split]
        per_split.append([escape(split), rows["image_id"].nunique(),
                          len(rows.drop_duplicates(["image_id", "foreground_id"])), len(rows)])
    per_split.append(["<b>all</b>", composites["image_id"].nunique(),
                      len(composites.drop_duplicates(["image_id", "foreground_id"])), len(composites)])
    pivot = composites.pivot_table(index="source_camera", columns="split", values="composite", aggfunc="count",
                                   fill_value=0)
    camera_rows = [[escape(str(camera))] + [int(pivot.loc[camera].get(split, 0)) for split in splits]
                   + [int(pivot.loc[camera].sum())] for camera in pivot.index]
    return (
        "<section id=\"counts\"><h2>Counts</h2><div class=\"row\">"
        + _table(["split", "real images", "foregrounds", "composites"], per_split, table_id="counts-split")
        + _table(["source camera"] + [f"{s} composites" for s in splits] + ["all"], camera_rows,
                 table_id="counts-camera")
        + "</div></section>"
    )


def _verify_section(verify: dict | None, message: str) -> str:
    if verify is None:
        return f"<section id=\"verify\"><h2>Verify</h2><p class=\"note\">{escape(message)}</p></section>"
    ok = bool(verify.get("ok"))
    badge = (f"<span class=\"badge {'ok' if ok else 'bad'}\" id=\"verify-ok\">"
             f"{'passed' if ok else 'problems found'}</span>")
    checks = [c for c in verify.get("checks", []) if isinstance(c, Mapping)]
    statuses: dict[str, int] = {}
    for check in checks:
        status = str(check.get("status", check.get("ok", "")))
        statuses[status] = statuses.get(status, 0) + 1
    tally = ", ".join(f"{count} {status}" for status, count in statuses.items())
    parts = [f"<section id=\"verify\"><h2>Verify {badge}</h2><p class=\"note\">Quick checks of "
             f"<code>ccharmony verify</code>: {escape(tally)}.</p>"]
    keys = list(dict.fromkeys(key for check in checks for key in check))
    problems = [c for c in checks if str(c.get("status", "ok")) not in ("ok", "skipped", "passed", "True")]
    if problems:
        parts.append(_table(keys, [[_cell(check.get(key, "")) for key in keys] for check in problems[:200]],
                            table_id="verify-problems"))
    if checks:
        rows = [[_cell(check.get(key, "")) for key in keys] for check in checks[:200]]
        parts.append("<details><summary>all checks</summary>" + _table(keys, rows, table_id="verify-checks")
                     + "</details>")
    summary = verify.get("summary") if isinstance(verify.get("summary"), Mapping) else {}
    if summary:
        parts.append("<details><summary>verify summary</summary>"
                     + _table(["summary", "value"], [[escape(k), _cell(v)] for k, v in _flatten(summary)])
                     + "</details>")
    parts.append("</section>")
    return "".join(parts)


def _pipeline_section(build: dict) -> str:
    if not build:
        return "<section id=\"pipeline\"><h2>Pipeline</h2><p class=\"note\">No build.json in the dataset folder.</p></section>"
    parts = ["<section id=\"pipeline\"><h2>Pipeline and versions</h2><div class=\"row\">"]
    config = build.get("config")
    if isinstance(config, Mapping):
        parts.append(_table(["config", "value"], [[escape(k), _cell(v)] for k, v in _flatten(config)],
                            table_id="pipeline-config"))
    versions = build.get("versions")
    if isinstance(versions, Mapping):
        parts.append(_table(["package", "version"], [[escape(k), _cell(v)] for k, v in _flatten(versions)],
                            table_id="pipeline-versions"))
    counts = build.get("counts")
    if isinstance(counts, Mapping):
        parts.append(_table(["build count", "value"], [[escape(k), _cell(v)] for k, v in _flatten(counts)]))
    parts.append("</div>")
    skipped = build.get("skipped")
    if isinstance(skipped, list):
        parts.append(f"<details><summary>{len(skipped)} skipped inputs</summary>")
        if skipped:
            records = [s if isinstance(s, Mapping) else {"input": s} for s in skipped[:200]]
            keys = list(dict.fromkeys(k for r in records for k in r))
            parts.append(_table(keys, [[_cell(r.get(k, "")) for k in keys] for r in records], table_id="skipped"))
        parts.append("</details>")
    other = {k: v for k, v in build.items() if k not in ("config", "versions", "counts", "skipped")}
    if other:
        parts.append("<details><summary>other build.json fields</summary><pre>"
                     + escape(json.dumps(other, indent=2, default=str)[:20000]) + "</pre></details>")
    parts.append("</section>")
    return "".join(parts)


def _plots(view: DatasetView, folder: Path) -> str:
    composites = view.composites
    illuminants: dict[str, Any] = {}
    cameras: dict[str, str] = {}
    for image, camera, RGB in zip(composites["source_image"], composites["source_camera"],
                                  composites["source_illuminant"]):
        if RGB is not None:
            illuminants.setdefault(image, RGB)
        cameras.setdefault(image, camera)
    for image, camera, RGB in zip(composites["target_image"], composites["target_camera"],
                                  composites["target_illuminant"]):
        if RGB is not None:
            illuminants.setdefault(image, RGB)
        cameras.setdefault(image, camera)
    files = {
        "illuminants.svg": plots.svg_illuminant_chromaticities(
            illuminants, zip(composites["source_image"], composites["target_image"]), cameras=cameras,
            title="Illuminant chromaticities (lines: composites)"),
        "angles.svg": plots.svg_histogram(
            composites["illuminant_angle_deg"].to_numpy(), groups=composites["split"].tolist(), bins=24,
            title="Illuminant angle between source and target", x_label="angle (degrees)"),
        "foreground_ratio.svg": plots.svg_histogram(
            composites.drop_duplicates(["image_id", "foreground_id"])["foreground_ratio"].to_numpy(),
            groups=composites.drop_duplicates(["image_id", "foreground_id"])["split"].tolist(), bins=20,
            value_range=(0.0, 1.0), title="Foreground ratio (one per foreground)",
            x_label="foreground area / image area"),
    }
    for name, svg in files.items():
        _write_text(folder / name, svg)
    images = "".join(f'<figure><img src="plots/{name}" alt="{escape(name)}" id="plot-{name[:-4]}"></figure>'
                     for name in files)
    return ("<section id=\"plots\"><h2>Plots</h2><div class=\"plots\">" + images + "</div>"
            "<p class=\"note\">Chromaticities are in each camera's own RGB space, so points of different "
            "cameras are not directly comparable. Filled points are source images, hollow points images "
            "used only as targets.</p></section>")


def _overview(view: DatasetView, verify: dict | None, verify_message: str, plots_html: str,
              failures: list[str], benchmark: BenchmarkView | None) -> str:
    parts = [f"<section id=\"dataset\"><h2>Dataset</h2><p><b>{escape(view.name)}</b> · "
             f"<code>{escape(str(view.path))}</code> · "
             f"{'metadata.parquet' if view.has_metadata else 'no metadata.parquet (derived from lists and names)'}"
             "</p>"]
    notes = list(view.notes) + (list(benchmark.notes) if benchmark is not None else [])
    if notes:
        parts.append("<ul class=\"notes\" id=\"notes\">" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>")
    if failures:
        parts.append(f"<details id=\"failures\"><summary>{len(failures)} files could not be shown</summary><ul>"
                     + "".join(f"<li>{escape(f)}</li>" for f in failures[:100]) + "</ul></details>")
    parts.append("</section>")
    parts.append(_counts_section(view.composites))
    if benchmark is not None:
        parts.append("<section id=\"benchmark-summary\"><h2>Benchmark</h2>" + _results_table(benchmark)
                     + "<p><a href=\"benchmark.html\">Per-image results, worst first →</a></p></section>")
    parts.append(plots_html)
    parts.append(_verify_section(verify, verify_message))
    parts.append(_pipeline_section(view.build))
    return "".join(parts)


def _results_table(benchmark: BenchmarkView) -> str:
    summary = benchmark.summary
    best = {}
    for metric in benchmark.metrics:
        values = summary[metric].to_numpy(dtype=float)
        if np.isfinite(values).any():
            best[metric] = np.nanmin(values) if lower_is_better(metric) else np.nanmax(values)
    rows = []
    for _, record in summary.iterrows():
        cells = [escape(str(record["model"])), str(int(record["images"]))]
        for metric in benchmark.metrics:
            text = _format(record[metric])
            cells.append(f"<b>{text}</b>" if metric in best and record[metric] == best[metric] else text)
        rows.append(cells)
    header = ["model", "images"] + [f"{m} {'↓' if lower_is_better(m) else '↑'}" for m in benchmark.metrics]
    extra = {k: v for k, v in benchmark.report.items() if not isinstance(v, (Mapping, list))}
    note = ""
    if extra:
        note = "<p class=\"note\" id=\"benchmark-info\">" + " · ".join(
            f"{escape(str(k))}: {escape(str(v))}" for k, v in extra.items()) + "</p>"
    return _table(header, rows, table_id="results") + note


# --- data files -----------------------------------------------------------------------


def _gallery_data(view: DatasetView, thumbs: Mapping[str, str | None], out: Path,
                  errors: Mapping[tuple[str, str], float], models: tuple[str, ...], metric: str,
                  options: ReportOptions) -> dict:
    # Plain records: pandas row access per composite is ~100x slower on ccHarmony-sized tables.
    records = view.composites.to_dict("records")
    groups: dict[tuple[str, str], list[dict]] = {}
    for record in records:
        groups.setdefault((record["image_id"], record["foreground_id"]), []).append(record)
    cards = []
    for (image, foreground), group in groups.items():
        first = group[0]
        comps = []
        for record in group:
            stem = composite_stem(record["composite"])
            comps.append({
                "k": int(record["k"]), "name": record["composite"], "path": record["composite_path"],
                "thumb": thumbs.get(f"composite/{_slug(stem)}.jpg"),
                "angle": _number(record["illuminant_angle_deg"], 3), "target": record["target_camera"],
                "targetImage": record["target_image"],
                "err": {m: _number(errors[(m, stem)], 3) for m in models if (m, stem) in errors},
            })
        cards.append({
            "id": f"{image}_{foreground}", "image": image, "fg": foreground, "split": first["split"],
            "camera": first["source_camera"], "ratio": _number(first["foreground_ratio"]),
            "real": thumbs.get(f"real/{_slug(image)}.jpg"),
            "outline": thumbs.get(f"outline/{_slug(image)}_{_slug(foreground)}.jpg"),
            "realPath": first["real_path"], "maskPath": first["mask_path"], "comps": comps,
        })
    return {
        "title": options.title or view.name, "pageSize": options.page_size, "base": _link(out, view.path) + "/",
        "splits": sorted({r["split"] for r in records}, key=lambda s: (s != "train", s != "test", s)),
        "cameras": sorted({r["source_camera"] for r in records}),
        "models": list(models), "metric": metric, "cards": cards,
    }


def _benchmark_data(benchmark: BenchmarkView, view: DatasetView, thumbs: Mapping[str, str | None],
                    options: ReportOptions) -> dict:
    by_stem = {composite_stem(r["composite"]): r for r in view.composites.to_dict("records")}
    cases: dict[str, dict] = {}
    for row in benchmark.per_image.to_dict("records"):
        name = str(row["name"])
        case = cases.get(name)
        if case is None:
            stem = _slug(composite_stem(name))
            record = by_stem.get(composite_stem(name))
            case = cases[name] = {
                "name": name, "stem": stem,
                "composite": thumbs.get(f"composite/{stem}.jpg") if record is not None else None,
                "real": thumbs.get(f"real/{_slug(str(record['image_id']))}.jpg") if record is not None else None,
                "split": str(record["split"]) if record is not None else "unknown",
                "angle": _number(record["illuminant_angle_deg"], 3) if record is not None else None,
                "m": {},
            }
        model = str(row["model"])
        case["m"][model] = {
            "pred": thumbs.get(f"pred/{_slug(model)}/{case['stem']}.jpg"),
            "v": {metric: _number(row[metric], 4) for metric in benchmark.metrics},
        }
    return {
        "pageSize": options.page_size, "models": list(benchmark.models), "metrics": list(benchmark.metrics),
        "lower": {m: lower_is_better(m) for m in benchmark.metrics}, "primary": _primary_model(benchmark),
        "cases": list(cases.values()),
    }


def _primary_model(benchmark: BenchmarkView) -> str:
    candidates = [m for m in benchmark.models if m.lower() not in ("composite", "input", "identity")]
    return (candidates or list(benchmark.models))[0]


def _error_metric(benchmark: BenchmarkView) -> str:
    for preferred in ("fmse", "mse"):
        for metric in benchmark.metrics:
            if metric.lower() == preferred:
                return metric
    return benchmark.metrics[0]


def _js(variable: str, data: dict) -> str:
    return f"window.{variable} = " + json.dumps(data, separators=(",", ":"), allow_nan=False,
                                                ensure_ascii=False) + ";\n"


# --- thumbnails -----------------------------------------------------------------------


def _thumbnail_jobs(view: DatasetView, benchmark: BenchmarkView | None) -> tuple[list[ThumbnailJob], list[str]]:
    """Return the thumbnails to make and one line per file refused because it leads outside its folder."""
    root = view.path
    jobs: dict[str, ThumbnailJob] = {}
    refused: dict[str, str] = {}

    def size_of(record: Any) -> tuple[int, int] | None:
        height, width = record.height, record.width
        if isinstance(height, float) and isinstance(width, float) and math.isfinite(height) and math.isfinite(width):
            return int(height), int(width)
        return None

    def contained(folder: Path, relative: str) -> str | None:
        # A name from the metadata, or a link in the folder, must not make the report read elsewhere.
        found = inside(folder, relative)
        if found is None:
            refused.setdefault(relative, f"{folder / relative}: leads outside {folder} "
                                         f"(to {os.path.realpath(folder / relative)}); not shown")
            return None
        return str(found)

    for record in view.composites.itertuples(index=False):
        size = size_of(record)
        real_source = contained(root, record.real_path)
        real = f"real/{_slug(record.image_id)}.jpg"
        if real_source is not None and real not in jobs:
            jobs[real] = ThumbnailJob(real_source, real, source_size=size)
        mask_source = contained(root, record.mask_path)
        outline = f"outline/{_slug(record.image_id)}_{_slug(record.foreground_id)}.jpg"
        if real_source is not None and mask_source is not None and outline not in jobs:
            jobs[outline] = ThumbnailJob(real_source, outline, mask=mask_source, source_size=size)
        composite_source = contained(root, record.composite_path)
        composite = f"composite/{_slug(composite_stem(record.composite))}.jpg"
        if composite_source is not None:
            jobs.setdefault(composite, ThumbnailJob(composite_source, composite, source_size=size))
    if benchmark is not None:
        for (model, name), path in benchmark.predictions.items():
            source = contained(benchmark.path, os.path.relpath(path, benchmark.path))
            target = f"pred/{_slug(model)}/{_slug(composite_stem(name))}.jpg"
            if source is not None:
                jobs.setdefault(target, ThumbnailJob(source, target))
    return list(jobs.values()), list(refused.values())


def _run_verify(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[dict | None, str]:
    try:
        from ccharmony.dataset.verify import verify_dataset
    except ImportError:
        return None, "Verification is unavailable in this installation (ccharmony.dataset.verify is missing)."
    try:
        return verify_dataset(path, deep=False, workers=1, progress=False, max_pixels=max_pixels).to_dict(), ""
    except CCHarmonyError as error:
        return None, f"Verification could not run: {error}"
    except Exception as error:  # a verifier bug must not hide the rest of the report
        _LOGGER.warning("verify_dataset failed: %s: %s", type(error).__name__, error)
        return None, f"Verification failed with {type(error).__name__}: {error}"


def _folder_key(path: Path, skip: Path) -> str:
    """Hash every file's relative path, size and modification time under ``path`` (``skip`` left out)."""
    digest = hashlib.sha256()
    skip_resolved = str(skip.resolve())
    stack = [path]
    entries = []
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as scan:
                for entry in scan:
                    if entry.is_dir(follow_symlinks=False):
                        if os.path.realpath(entry.path) != skip_resolved:
                            stack.append(Path(entry.path))
                    else:
                        stat = entry.stat()
                        entries.append(f"{os.path.relpath(entry.path, path)}\0{stat.st_size}\0{stat.st_mtime_ns}")
        except OSError:
            continue
    for line in sorted(entries):
        digest.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


def _verify_cached(path: Path, out: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[dict | None, str]:
    """Run the quick verification, or reuse the last one when no file of the dataset changed."""
    cache = out / "data" / "verify.json"
    key = _folder_key(path, out)
    try:
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if cached.get("key") == key:
            return cached.get("result"), cached.get("message", "")
    except (OSError, ValueError, AttributeError, RecursionError):
        pass
    result, message = _run_verify(path, max_pixels)
    if result is not None or "unavailable" not in message:
        _write_text(cache, json.dumps({"key": key, "result": result, "message": message}, default=str))
    return result, message


def _prepare_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER_FILE).is_file():
        raise ConfigError(f"--out {out}: folder is not empty and is not a ccharmony report "
                          f"(no {MARKER_FILE}); choose an empty or new folder")
    out.mkdir(parents=True, exist_ok=True)


def write_report(
    dataset: PathType,
    out: PathType,
    *,
    benchmark: PathType | None = None,
    options: ReportOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReportResult:
    """
    Write the static report site of a dataset folder.

    Parameters
    ----------
    dataset
        Dataset folder (``ccharmony build`` output or a third-party
        iHarmony4 folder).
    out
        Report folder: created when missing; an existing one must be empty
        or a previous report (its thumbnails are reused).
    benchmark
        Benchmark run folder (``per_image.csv``, ``report.json``,
        ``predictions/``); adds ``benchmark.html`` and error sorting.
    options
        :class:`ReportOptions`; default options when ``None``.
    progress
        Called as ``progress(done, total)`` while thumbnails are made.

    Returns
    -------
    ReportResult
        Pages written, counts and stage timings.

    Raises
    ------
    DatasetError
        When the dataset or benchmark folder cannot be read.
    ConfigError
        When ``out`` is a non-empty folder that is not a report, or an
        option is out of range.

    Notes
    -----
    Files that cannot be decoded are listed on the overview and shown as
    placeholders; they do not stop the report. Every file is written through
    a temporary file and :func:`os.replace`.

    References
    ----------
    :cite:`Niu2023`
    """
    options = options or ReportOptions()
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    out_path = Path(out)
    view = read_dataset(dataset)
    bench = read_benchmark(benchmark) if benchmark is not None else None
    _prepare_out(out_path)
    seconds["read"] = time.perf_counter() - started

    tick = time.perf_counter()
    jobs, refused = _thumbnail_jobs(view, bench)
    results: list[ThumbnailResult] = make_thumbnails(
        jobs, out_path / "thumbs", size=options.thumbnail_size, quality=options.jpeg_quality,
        workers=options.workers, pool=options.pool, progress=progress, max_pixels=options.max_pixels)
    thumbs: dict[str, str | None] = {r.target: (f"thumbs/{r.target}" if r.ok else None) for r in results}
    failures = sorted({r.error for r in results if not r.ok} | set(refused))
    ratios = {r.target: r.foreground_ratio for r in results if r.foreground_ratio is not None}
    seconds["thumbnails"] = time.perf_counter() - tick

    composites = view.composites
    if composites["foreground_ratio"].isna().any():
        keys = [f"outline/{_slug(i)}_{_slug(f)}.jpg" for i, f in zip(composites["image_id"], composites["foreground_id"])]
        measured = pd.Series([ratios.get(key, np.nan) for key in keys], index=composites.index, dtype=float)
        composites = composites.assign(foreground_ratio=composites["foreground_ratio"].fillna(measured))
        view = DatasetView(view.path, view.name, composites, view.has_metadata, view.build, view.notes)

    tick = time.perf_counter()
    verify, verify_message = (_verify_cached(view.path, out_path, options.max_pixels) if options.verify
                              else (None, "Verification was not run (--no-verify)."))
    seconds["verify"] = time.perf_counter() - tick

    tick = time.perf_counter()
    models: tuple[str, ...] = ()
    metric = ""
    errors: dict[tuple[str, str], float] = {}
    if bench is not None:
        metric = _error_metric(bench)
        models = tuple(m for m in bench.models)
        errors = {(str(m), composite_stem(str(n))): float(v) for m, n, v in
                  zip(bench.per_image["model"], bench.per_image["name"], bench.per_image[metric])}
    title = options.title or f"{view.name} report"
    gallery = _gallery_data(view, thumbs, out_path, errors, models, metric, options)
    _write_text(out_path / "data" / "gallery.js", _js("CCH_GALLERY", gallery))
    for asset in _ASSETS:
        text = resources.files("ccharmony.report").joinpath("assets", asset).read_text(encoding="utf-8")
        _write_text(out_path / "assets" / asset, text)
    plots_html = _plots(view, out_path / "plots")
    pages = [out_path / "index.html", out_path / "gallery.html"]
    _write_text(pages[0], _page(title, "overview", _overview(view, verify, verify_message, plots_html, failures,
                                                                 bench), has_benchmark=bench is not None))
    _write_text(pages[1], _page(title, "gallery", _GALLERY_BODY, has_benchmark=bench is not None,
                                scripts=["data/gallery.js"]))
    if bench is not None:
        _write_text(out_path / "data" / "benchmark.js",
                    _js("CCH_BENCH", _benchmark_data(bench, view, thumbs, options)))
        body = ("<section id=\"results-section\"><h2>Results</h2>" + _results_table(bench)
                + f"<p class=\"note\">Run folder <code>{escape(str(bench.path))}</code>.</p></section>"
                + _BENCHMARK_BODY)
        pages.append(out_path / "benchmark.html")
        _write_text(pages[2], _page(title, "benchmark", body, has_benchmark=True, scripts=["data/benchmark.js"]))
    else:
        for stale in (out_path / "benchmark.html", out_path / "data" / "benchmark.js"):
            if stale.is_file():
                stale.unlink()
    made = sum(1 for r in results if r.ok and not r.cached)
    cached = sum(1 for r in results if r.cached)
    seconds["write"] = time.perf_counter() - tick
    seconds["total"] = time.perf_counter() - started
    cards = len(gallery["cards"])
    marker = {
        "ccharmony": __version__, "dataset": str(view.path.resolve()),
        "benchmark": str(bench.path.resolve()) if bench is not None else None,
        "cards": cards, "composites": len(view.composites), "thumbnails": {"made": made, "cached": cached},
        "failures": failures, "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }
    _write_text(out_path / MARKER_FILE, json.dumps(marker, indent=2))
    return ReportResult(out_path, tuple(pages), cards, len(view.composites), made, cached, tuple(failures), seconds)


_GALLERY_BODY = """<section id="gallery-section">
<form id="controls" class="controls" onsubmit="return false">
<label>split <select id="filter-split"><option value="">all</option></select></label>
<label>camera <select id="filter-camera"><option value="">all</option></select></label>
<label>angle ≥ <input id="filter-angle-min" type="number" step="any" min="0" size="5" placeholder="0">°</label>
<label>angle ≤ <input id="filter-angle-max" type="number" step="any" min="0" size="5" placeholder="180">°</label>
<label>sort <select id="sort"></select></label>
<button type="button" id="reset">reset</button>
</form>
<p class="status"><span id="card-count" data-count="0"></span></p>
<div id="pager-top" class="pager"></div>
<div id="gallery" class="gallery"></div>
<div id="pager" class="pager"></div>
</section>"""

_BENCHMARK_BODY = """<section id="cases-section"><h2>Per image: composite | each model | real</h2>
<form class="controls" onsubmit="return false">
<label>split <select id="case-split"><option value="">all</option></select></label>
<label>sort <select id="case-sort"></select></label></form>
<p class="status"><span id="case-count" data-count="0"></span></p>
<div id="case-pager-top" class="pager"></div>
<div id="cases" class="cases"></div>
<div id="case-pager" class="pager"></div>
</section>"""
