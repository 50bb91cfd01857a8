"""
Scoring any method's outputs
============================

Score a folder of harmonized images from any method against a dataset's test
split, under a named protocol, and write the same run-folder files as a
training run (the Python call behind ``ccharmony benchmark score``):

-   :func:`score_predictions`: score one folder of predictions; write a new
    run folder or add the row to an existing one.
-   :func:`list_predictions`: the prediction files of a folder, by composite.
-   :class:`PredictionFolder`, :class:`ScoreResult`: the records.
-   :data:`PREDICTION_EXTENSIONS`.

Predictions are named by composite: ``<composite stem>.jpg`` or ``.png``
(``.jpeg`` too, any letter case), which is also how iSSAM's
``scripts/predict_for_dir.py`` names its output (SamsungLabs/image_harmonization:
it writes each result under the composite's own file name, JPEG quality 85,
at 256x256 or, with ``--original-size``, at the composite's size). They may be
at any resolution: a prediction is decoded as uint8 (through
:mod:`ccharmony.io`, so only complete regular files within the pixel limit
are read) and, when not at the protocol's size, resized as uint8 with the
protocol's interpolation (``ARCHITECTURE.md`` section 7).

Every path stays inside its folder: a prediction that is a symbolic link out
of the predictions folder, or a test composite whose files lead out of the
dataset folder, is refused; ``report.json`` and ``per_image.csv`` of a run
folder are read only as regular files inside it.

Adding to a run folder (``run_dir``) merges the new row with the rows already
there, so trained and scored rows sit in one table; the run must have been
computed under the same protocol (every convention equal) on the same test
set (the SHA-256 fingerprint of every composite, real image and mask), else it
is refused.

References
----------
-   :cite:`Sofiiuk2021` : Sofiiuk, K., Popenova, P., & Konushin, A. (2021).
    Foreground-aware Semantic Representations for Image Harmonization. WACV
    2021, 1620-1629. doi:10.1109/WACV48630.2021.00166
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ccharmony import __version__
from ccharmony._text import printable
from ccharmony._types import PathType
from ccharmony.errors import ConfigError, DatasetError
from ccharmony.harmonization.data import SamplePaths, sample_paths
from ccharmony.harmonization.protocols import (
    DEFAULT_PROTOCOL,
    EvaluationProtocol,
    EvaluationSample,
    get_protocol,
)
from ccharmony.harmonization.protocols.base import read_file_bytes_hashed
from ccharmony.harmonization.report import (
    COMPOSITE_ROW,
    RunReport,
    fingerprint_test_set,
    read_report,
    summarise,
    write_report,
)
from ccharmony.harmonization.statistics import BootstrapOptions

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["PREDICTION_EXTENSIONS", "PredictionFolder", "ScoreResult", "list_predictions", "score_predictions"]

LOGGER = logging.getLogger(__name__)

PREDICTION_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png")
"""Extensions of prediction files (compared in lower case)."""

_MAX_LISTED = 5


@dataclass(frozen=True)
class PredictionFolder:
    """
    The prediction files of a folder.

    Parameters
    ----------
    folder
        The folder.
    files
        Composite stem -> prediction file.
    ignored
        Entries that are not prediction files (other extensions, hidden
        files, sub-folders), by name.
    """

    folder: Path
    files: dict[str, Path]
    ignored: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScoreResult:
    """
    Hold the outcome of :func:`score_predictions`.

    Parameters
    ----------
    run_dir
        The run folder written (new or the one given).
    name
        The scored row's name.
    protocol
        The protocol's name.
    rows
        The scored row's per-image rows.
    summary
        :func:`~ccharmony.harmonization.report.summarise` of every row of the
        run folder.
    missing
        Test composites without a prediction (scored without them only with
        ``allow_missing``).
    extra
        Prediction files whose stem is no test composite (not scored).
    paths
        Report file kind -> path.
    """

    run_dir: Path
    name: str
    protocol: str
    rows: list[dict]
    summary: dict[str, dict]
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    paths: dict[str, Path] = field(default_factory=dict)


def _listed(names: list[str] | tuple[str, ...]) -> str:
    shown = ", ".join(printable(name) for name in list(names)[:_MAX_LISTED])
    return shown + (f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else "")


def list_predictions(folder: PathType) -> PredictionFolder:
    """
    List the prediction files of a folder by composite stem.

    Parameters
    ----------
    folder
        Folder of ``<composite stem>.jpg|.jpeg|.png`` files (any letter case).

    Returns
    -------
    PredictionFolder

    Raises
    ------
    DatasetError
        When the folder is missing, when a prediction file leads outside the
        folder (a symbolic link out) or is not a regular file, or when two
        files share a stem (``a.jpg`` and ``a.png``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a_1_1.JPG").write_bytes(b"x"); _ = (folder / "notes.txt").write_text("")
    >>> found = list_predictions(folder)
    >>> sorted(found.files), found.ignored
    (['a_1_1'], ('notes.txt',))
    """
    from ccharmony.io.paths import inside

    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"{root}: predictions folder not found")
    files: dict[str, Path] = {}
    ignored: list[str] = []
    for entry in sorted(os.listdir(root)):
        stem, extension = os.path.splitext(entry)
        if entry.startswith(".") or extension.lower() not in PREDICTION_EXTENSIONS:
            ignored.append(entry)
            continue
        path = inside(root, entry)
        if path is None:
            raise DatasetError(
                f"{root / printable(entry)}: prediction leads outside {root} "
                f"(to {printable(os.path.realpath(root / entry))}); refused"
            )
        if not path.is_file():
            raise DatasetError(f"{root / printable(entry)}: prediction is not a regular file")
        if stem in files:
            raise DatasetError(
                f"{root}: two predictions for {printable(stem)!s} ({printable(files[stem].name)}, "
                f"{printable(entry)}); keep one file per composite"
            )
        files[stem] = path
    return PredictionFolder(folder=root, files=files, ignored=tuple(ignored))


def _check_name(name: str) -> str:
    text = str(name)
    if (not text or text in (".", "..") or "/" in text or "\\" in text or printable(text) != text
            or len(text) > 100):
        raise ConfigError(
            f"name {printable(text)!r} is not a row name; use letters, digits, '-', '_' or '.' "
            "(no path separator, at most 100 characters)"
        )
    return text


def _test_samples(data: Path) -> list[SamplePaths]:
    from ccharmony.dataset.lists import read_split_list
    from ccharmony.io.paths import inside

    entries = read_split_list(data, "test").checked().paths
    samples = [sample_paths(data, entry) for entry in entries]
    counts = Counter(sample.name for sample in samples)
    repeated = sorted(name for name, count in counts.items() if count > 1)
    if repeated:
        raise DatasetError(
            f"{data}: {len(repeated)} composite names appear in several subsets ({_listed(repeated)}); "
            "predictions named by composite cannot tell them apart: score each subset folder on its own"
        )
    for sample in samples:
        for path in (sample.composite, sample.real, sample.mask):
            if inside(data, os.path.relpath(path, data)) is None:
                raise DatasetError(
                    f"{path}: test file leads outside {data} (to {os.path.realpath(path)}); refused"
                )
    return samples


def _first_difference(recorded: Mapping[str, object], current: Mapping[str, object]) -> str:
    for key in sorted(set(recorded) | set(current)):
        if recorded.get(key) != current.get(key):
            return f"{key}: {recorded.get(key)!r} there, {current.get(key)!r} here"
    return ""


def _check_run_protocol(run: RunReport, chosen: EvaluationProtocol, name: str, replace: bool) -> None:
    conventions = chosen.conventions()
    if run.protocol != chosen.name or run.conventions != conventions:
        raise DatasetError(
            f"{run.folder}: the run was scored under protocol {run.protocol!r}, not {chosen.name!r} with these "
            f"conventions ({_first_difference(run.conventions, conventions) or 'conventions differ'}); "
            "score into a new run folder, or pass the run's protocol"
        )
    if name in run.per_image and not replace:
        raise DatasetError(
            f"{run.folder}: the run already has a row {printable(name)!r}; choose another name or replace it"
        )


def _check_run_test_set(run: RunReport, identity: Mapping[str, object], names: set[str]) -> None:
    recorded = run.document.get("test_set")
    if isinstance(recorded, dict) and recorded.get("sha256"):
        if recorded.get("sha256") != identity["sha256"] or recorded.get("count") != identity["count"]:
            raise DatasetError(
                f"{run.folder}: the run's test set ({recorded.get('count')} composites, sha256 "
                f"{str(recorded.get('sha256'))[:12]}) is not this dataset's ({identity['count']} composites, "
                f"sha256 {str(identity['sha256'])[:12]}); score into a new run folder"
            )
    else:
        # A run written before test-set fingerprints: its composite names must be the test set's.
        existing = {str(row["name"]) for rows in run.per_image.values() for row in rows}
        if existing != names:
            raise DatasetError(
                f"{run.folder}: the run's {len(existing)} test composites are not this dataset's "
                f"{len(names)}; score into a new run folder"
            )


def _score_files(
    chosen: EvaluationProtocol,
    samples: list[EvaluationSample],
    files: Mapping[str, Path],
) -> tuple[list[dict], dict[str, int]]:
    rows: list[dict] = []
    sizes: Counter[str] = Counter()
    for sample in samples:
        path = files.get(sample.name)
        if path is None:
            continue
        data, _ = read_file_bytes_hashed(path)
        image = chosen.decode_prediction(data, name=str(path))
        sizes[f"{image.shape[1]}x{image.shape[0]}"] += 1
        prediction = chosen.prediction_from_file(image)
        rows.append({"name": sample.name, "photo": sample.photo, "sha256": sample.sha256,
                     **chosen.score(prediction, sample)})
    return rows, dict(sizes)


def score_predictions(
    data_dir: PathType,
    predictions_dir: PathType,
    *,
    name: str,
    protocol: str | EvaluationProtocol = DEFAULT_PROTOCOL,
    run_dir: PathType | None = None,
    out_dir: PathType = "runs",
    allow_missing: bool = False,
    replace: bool = False,
    description: str | None = None,
    include_composite: bool = True,
    statistics: BootstrapOptions | None = None,
    progress: bool = False,
    data_location: str | None = None,
) -> ScoreResult:
    """
    Score a folder of predictions against a dataset's test split under a protocol.

    Parameters
    ----------
    data_dir
        Dataset folder (iHarmony4 layout with a test list; an iHarmony4 root
        with ``IHD_test.txt`` or subset lists too).
    predictions_dir
        Folder of ``<composite stem>.jpg|.png`` files, any size.
    name
        The row's name in the table (``"my-method"``).
    protocol
        Protocol name (:data:`~ccharmony.harmonization.protocols.PROTOCOLS`,
        default ``bcmi``) or protocol.
    run_dir
        An existing run folder to add the row to (a ``benchmark`` run, or an
        earlier ``score``); ``None`` creates ``<out_dir>/NNN_score``.
    out_dir
        Folder of numbered run folders, when ``run_dir`` is ``None``.
    allow_missing
        Score the composites that have a prediction when some have none (they
        are listed in ``report.json``); by default that is an error.
    replace
        Replace a row of the same name in ``run_dir``.
    description
        Text of the row's description column (default: where the
        predictions came from).
    include_composite
        Add the ``composite`` row (the unharmonized input, scored under the
        same protocol) when the run folder has none: every other row is
        tested against it.
    statistics
        Bootstrap options (default: those ``run_dir`` recorded, else
        :class:`~ccharmony.harmonization.statistics.BootstrapOptions`).
    progress
        Show a progress bar while reading the test set.
    data_location
        How to name the dataset in messages and ``report.json`` when
        ``data_dir`` is a local mirror of it (a store URL such as
        ``s3://bucket/ds``); default ``data_dir`` itself.

    Returns
    -------
    ScoreResult

    Raises
    ------
    DatasetError
        When the dataset or the predictions folder cannot be read, when
        predictions are missing (without ``allow_missing``) or none matches,
        when a path leads outside its folder, or when ``run_dir`` holds
        another protocol, another test set or a row of the same name.
    ConfigError
        For a bad name or protocol.
    UnreadableImageError
        When a prediction or a test file cannot be decoded.

    Notes
    -----
    The files written are those of a training run: ``report.md``,
    ``report.json`` (protocol and every convention, statistics, test-set
    fingerprint, and under ``rows`` the source of each row: ``predictions``,
    ``count``, ``missing``, ``extra``, ``ignored``, the prediction sizes
    seen) and ``per_image.csv``
    (:func:`~ccharmony.harmonization.report.write_report`).

    Examples
    --------
    In a notebook, score iSSAM-style outputs and add them to a benchmark run::

        from ccharmony.harmonization.scoring import score_predictions

        result = score_predictions("dataset", "my_method_outputs", name="my-method",
                                   protocol="bcmi", run_dir="runs/000_benchmark")
        result.summary["my-method"]["metrics"]["fMSE"]      # the mean
        result.summary["my-method"]["interval"]["fMSE"]     # its 95 % interval
        result.summary["my-method"]["tests"]["fMSE"]["vs_composite"]["p_value"]
        result.missing, result.extra                        # files not matched
    """
    row_name = _check_name(name)
    chosen = get_protocol(protocol)
    data = Path(data_dir)
    shown = data_location or str(data)
    paths = _test_samples(data)
    names = [sample.name for sample in paths]
    found = list_predictions(predictions_dir)
    missing = tuple(sample for sample in names if sample not in found.files)
    extra = tuple(sorted(set(found.files) - set(names)))
    if len(missing) == len(names):
        raise DatasetError(
            f"{found.folder}: no prediction matches a test composite of {shown} ({len(names)} expected, named "
            f"<composite stem>.jpg or .png, e.g. {printable(names[0])}.jpg)"
        )
    if missing and not allow_missing:
        raise DatasetError(
            f"{found.folder}: {len(missing)} of {len(names)} test composites have no prediction "
            f"({_listed(missing)}); add them, or allow missing predictions"
        )
    run = read_report(run_dir) if run_dir is not None else None
    if run is not None and chosen.name == run.protocol and run.conventions != chosen.conventions():
        # The same protocol at the run's size (a benchmark evaluated at another size).
        size = run.document.get("protocol", {}).get("size") if isinstance(run.document.get("protocol"), dict) else None
        if isinstance(size, int) and size != chosen.size:
            chosen = chosen.with_size(size)
    if run is not None:
        _check_run_protocol(run, chosen, row_name, replace)
    samples: list[EvaluationSample] = []
    iterator = paths
    if progress:
        from tqdm import tqdm

        iterator = tqdm(paths, desc=f"reading the test set ({chosen.name})", unit="image")
    for sample in iterator:
        samples.append(chosen.read_sample(sample, folder=data))
    identity = fingerprint_test_set({sample.name: sample.sha256 for sample in samples})
    if run is not None:
        _check_run_test_set(run, identity, set(names))
    rows, sizes = _score_files(chosen, samples, found.files)
    if missing:
        LOGGER.warning("%s: %d test composites have no prediction: %s", found.folder, len(missing), _listed(missing))
    if extra:
        LOGGER.warning("%s: %d predictions match no test composite: %s", found.folder, len(extra), _listed(extra))

    per_image: dict[str, list[dict]] = {}
    existing = dict(run.per_image) if run is not None else {}
    if include_composite and row_name != COMPOSITE_ROW and COMPOSITE_ROW not in existing:
        per_image[COMPOSITE_ROW] = [
            {"name": sample.name, "photo": sample.photo, "sha256": sample.sha256,
             **chosen.score(chosen.prediction_from_file(sample.composite), sample)}
            for sample in samples
        ]
    for model, model_rows in existing.items():
        if model != row_name:
            per_image[model] = model_rows
    per_image[row_name] = rows

    document = run.document if run is not None else {}
    meta = dict(document.get("meta") or {})
    descriptions = dict(meta.get("descriptions") or {})
    descriptions.setdefault(COMPOSITE_ROW, "composite (input)")
    descriptions[row_name] = description or f"scored from {printable(found.folder)}"
    meta.update({
        "descriptions": descriptions,
        "dataset": meta.get("dataset", shown),
        "test_count": len(names),
        "ccharmony_version": meta.get("ccharmony_version", __version__),
    })
    meta.setdefault("train_count", "-")
    rows_info = dict(document.get("rows") or {})
    for model in per_image:
        rows_info.setdefault(model, {"source": "trained" if run is not None else "scored"})
    rows_info[row_name] = {
        "source": "scored",
        "predictions": str(found.folder.resolve()),
        "count": len(rows),
        "missing": list(missing),
        "extra": list(extra),
        "ignored": list(found.ignored),
        "prediction_sizes": sizes,
    }
    if COMPOSITE_ROW in per_image and COMPOSITE_ROW not in existing:
        rows_info[COMPOSITE_ROW] = {"source": "scored", "predictions": "the composites themselves"}
    if statistics is None:
        recorded = document.get("statistics") if isinstance(document.get("statistics"), dict) else {}
        statistics = BootstrapOptions(
            resamples=int(recorded.get("resamples", BootstrapOptions().resamples)),  # type: ignore[union-attr]
            seed=int(recorded.get("seed", 0)),  # type: ignore[union-attr]
            confidence=float(recorded.get("confidence", BootstrapOptions().confidence)),  # type: ignore[union-attr]
        )
    if run is not None:
        folder = run.folder
    else:
        from ccharmony.harmonization.benchmark import next_run_dir

        folder = next_run_dir(out_dir, "score")
    meta["run_dir"] = str(folder)
    report_paths = write_report(folder, per_image, meta=meta, protocol=chosen, statistics=statistics,
                                rows_info=rows_info, test_set=identity)
    return ScoreResult(
        run_dir=folder,
        name=row_name,
        protocol=chosen.name,
        rows=rows,
        summary=summarise(per_image, statistics=statistics),
        missing=missing,
        extra=extra,
        paths=report_paths,
    )
