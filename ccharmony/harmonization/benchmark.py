"""
GiftNet benchmark
=================

Train and compare harmonization models on dataset folders:

-   :class:`BenchmarkOptions`: models, preset, seeds, protocol, device,
    initial weights, loader and outputs.
-   :class:`BenchmarkResult`: run folder, per-image rows, summary, timings,
    initialisation reports.
-   :func:`next_run_dir`: the next numbered run folder (``000_benchmark``).
-   :func:`run_benchmark`: for each training seed, pre-train the
    relation-distillation teacher of each distilled model (one per teacher
    key), train each learned model, evaluate every model at 256x256 under the
    chosen protocol, and write the report (:mod:`ccharmony.harmonization.report`),
    with one report per iHarmony4 subset when the test data has several.
-   :func:`check_resumable`: refuse to resume a folder this tool did not
    write, or one written with other data or settings.

GiftNet :cite:`Niu2023` is a re-implementation from the paper's description;
the official code and weights were never released.

Data: ``data_dir`` is both the training and the test data; ``train_dir`` and
``test_dir`` separate them (the ccHarmony protocol trains on iHarmony4 then
on ccHarmony's train split, and tests on ccHarmony's test split). Every
folder may be in any layout :func:`ccharmony.dataset.lists.read_split_list`
reads, an iHarmony4 root included (its subsets are trained on together).
Training reads from the on-disk cache (:mod:`ccharmony.harmonization.cache`)
under ``<out>/.cache`` through a loader with worker processes.

Run folder::

    <out>/NNN_benchmark/
        .ccharmony-run                the marker: written by this tool
        config.json                   resolved preset, options, versions, resume key
        teacher/checkpoints/last.pt   reconstruction teacher (distillation)
        <model>/checkpoints/last.pt   each learned model (``ccharmony harmonize``)
        <model>/init.json             with --init-from: matched/missing/unexpected keys
        <model>/seed-<s>/...          with several seeds: one folder per seed
        predictions/<model>/<name>.png  with save_predictions (first seed)
        report.md, report.json, per_image.csv, grid.png
        subsets/<subset>/report.*     one report per iHarmony4 subset

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
-   :cite:`Li2020` : Li, S., Zhao, Y., Varma, R., Salpekar, O., Noordhuis, P.,
    Li, T., Paszke, A., Smith, J., Vaughan, B., Damania, P., & Chintala, S.
    (2020). PyTorch Distributed: Experiences on Accelerating Data Parallel
    Training. Proc. VLDB Endow. 13(12), 3005-3018. doi:10.14778/3415478.3415530
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import platform
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ccharmony import __version__
from ccharmony._types import NDArrayUInt8, PathType
from ccharmony.errors import ConfigError, DatasetError
from ccharmony.harmonization import distributed
from ccharmony.harmonization.cache import fingerprint_samples
from ccharmony.harmonization.checkpoint import (
    InitReport,
    apply_weights,
    match_weights,
    read_checkpoint,
)
from ccharmony.harmonization.data import HarmonizationDataset, ReconstructionView, make_loader
from ccharmony.harmonization.engine import (
    TrainOptions,
    TrainResult,
    reconstruction_loss_terms,
    resolve_device,
    seed_everything,
    train,
)
from ccharmony.harmonization.losses import LossTerm, MaskWeightedMSE, model_loss_terms
from ccharmony.harmonization.models import (
    DEFAULT_MODELS,
    MODELS,
    ModelConfig,
    ModelOptions,
    UNetOptions,
    build_model,
    build_teacher,
    canonical_name,
    model_config,
    teacher_key,
    validate_model_names,
)
from ccharmony.harmonization.predict import evaluate
from ccharmony.harmonization.presets import Preset, get_preset
from ccharmony.harmonization.protocols import (
    DEFAULT_PROTOCOL,
    EvaluationProtocol,
    EvaluationSample,
    get_protocol,
    read_samples,
)
from ccharmony.harmonization.report import fingerprint_test_set, picture_grid, summarise, write_png, write_report
from ccharmony.harmonization.statistics import BootstrapOptions
from ccharmony.io.atomic import atomic_write_text
from ccharmony.io.limits import DEFAULT_MAX_PIXELS

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "RUN_MARKER",
    "MAX_SEED",
    "BenchmarkOptions",
    "BenchmarkResult",
    "next_run_dir",
    "check_resumable",
    "run_benchmark",
]

LOGGER = logging.getLogger(__name__)

RUN_MARKER = ".ccharmony-run"
"""File that marks a folder as a run folder written by :func:`run_benchmark` (``--resume`` needs it)."""

RUN_FORMAT = "ccharmony-benchmark-run-1"
"""Content of :data:`RUN_MARKER`, and the ``format`` of ``config.json``."""

MAX_SEED = 2**63 - 1
"""Largest training seed (seeds are 0 .. 2**63 - 1)."""


def _check_seed(seed: object, what: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{what} must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
    return seed


@dataclass(frozen=True)
class BenchmarkOptions:
    """
    Configure a benchmark run.

    Parameters
    ----------
    models
        Registered model names (:data:`~ccharmony.harmonization.models.MODELS`);
        reported in registry order, the composite first.
    preset
        A name of :data:`~ccharmony.harmonization.presets.PRESETS`, or a
        :class:`~ccharmony.harmonization.presets.Preset`.
    epochs, teacher_epochs, batch_size
        Override the preset's values when not ``None``.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    save_predictions
        Write every prediction as PNG at the evaluation size (first seed).
    protocol
        Evaluation protocol (:data:`~ccharmony.harmonization.protocols.PROTOCOLS`).
    psnr_peak
        ``"255"`` or ``"max-real"`` for the ``ours`` protocol; ``None``: the
        protocol's own.
    seed
        Seed of initialisation, shuffling and augmentation (0 .. 2**63-1).
    seeds
        Several training seeds: each learned model is trained once per seed,
        and the report gives mean ± std over seeds (``seed`` is then unused).
    grid_images
        Test images in the picture grid.
    progress
        Show progress bars.
    resume
        A run folder of this tool to continue (its checkpoints are resumed);
        refused unless it was written with the same data and settings
        (:func:`check_resumable`). ``None`` starts a new numbered folder.
    init_from
        Initial weights of the learned models (``--init-from``): a checkpoint
        file (ccharmony's, or a plain state dict such as iSSAM's) for the one
        learned model it fits, or a run folder of this tool (each model and
        teacher from its own checkpoint there). Loaded by parameter name
        (:func:`~ccharmony.harmonization.checkpoint.match_weights`), weights
        only.
    num_workers
        Loader worker processes (``None``: the preset's).
    cache_dir
        Folder of the on-disk training cache (``None``: ``<out>/.cache``).
    max_pixels
        Largest image read (:mod:`ccharmony.io.limits`).
    bootstrap
        Resamples of the 95 % intervals (source photos resampled;
        :class:`~ccharmony.harmonization.statistics.BootstrapOptions`, >= 100).
    """

    models: tuple[str, ...] = tuple(DEFAULT_MODELS)
    preset: str | Preset = "cpu-smoke"
    epochs: int | None = None
    teacher_epochs: int | None = None
    batch_size: int | None = None
    device: str = "auto"
    save_predictions: bool = False
    protocol: str = DEFAULT_PROTOCOL
    psnr_peak: str | None = None
    seed: int = 0
    seeds: tuple[int, ...] | None = None
    grid_images: int = 4
    progress: bool = True
    resume: str | None = None
    init_from: str | None = None
    num_workers: int | None = None
    cache_dir: str | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    bootstrap: int = 2000

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(validate_model_names(list(self.models))))
        BootstrapOptions(resamples=self.bootstrap)  # raises for fewer than 100
        if not self.models:
            raise ConfigError("benchmark: no model selected")
        _check_seed(self.seed)
        if self.seeds is not None:
            seeds = tuple(self.seeds)
            if not seeds:
                raise ConfigError("seeds: give at least one seed, e.g. 0,1,2")
            for seed in seeds:
                _check_seed(seed, "each of seeds")
            repeated = sorted(seed for seed, count in Counter(seeds).items() if count > 1)
            if repeated:
                raise ConfigError(f"seeds: seed {repeated[0]} is given twice; give each seed once")
            object.__setattr__(self, "seeds", seeds)
        if self.num_workers is not None and (isinstance(self.num_workers, bool) or self.num_workers < 0):
            raise ConfigError(f"num_workers must be a whole number >= 0, got {self.num_workers!r}")
        get_protocol(self.protocol, psnr_peak=self.psnr_peak)  # raises for a bad name or peak

    @property
    def seed_list(self) -> tuple[int, ...]:
        """Return the training seeds: ``seeds``, else ``(seed,)``."""
        return tuple(self.seeds) if self.seeds else (int(self.seed),)


@dataclass(frozen=True)
class BenchmarkResult:
    """
    Hold the outcome of :func:`run_benchmark`.

    Parameters
    ----------
    run_dir
        The run folder.
    per_image
        Model -> per-image metric rows (with a ``seed`` key when several seeds
        were trained).
    summary
        :func:`~ccharmony.harmonization.report.summarise` output.
    train_results
        Model (and teacher) -> :class:`~ccharmony.harmonization.engine.TrainResult`
        (of the first seed; ``"<model>@<seed>"`` for the others).
    seconds
        Wall-clock seconds of the whole run.
    paths
        Report file kind -> path.
    init_reports
        Model (and teacher) -> :class:`~ccharmony.harmonization.checkpoint.InitReport`
        with ``init_from``.
    subsets
        Subset -> its report paths, when the test data has several subsets.
    """

    run_dir: Path
    per_image: dict[str, list[dict]]
    summary: dict[str, dict]
    train_results: dict[str, TrainResult] = field(default_factory=dict)
    seconds: float = 0.0
    paths: dict[str, Path] = field(default_factory=dict)
    init_reports: dict[str, InitReport] = field(default_factory=dict)
    subsets: dict[str, dict[str, Path]] = field(default_factory=dict)


def next_run_dir(root: PathType, name: str) -> Path:
    """
    Create and return the next numbered run folder ``<root>/NNN_<name>``.

    Raises
    ------
    ConfigError
        When ``root`` is a file.

    Examples
    --------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> next_run_dir(root, "benchmark").name, next_run_dir(root, "benchmark").name
    ('000_benchmark', '001_benchmark')
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root}: --out is a file, not a folder of run folders; give a folder")
    root.mkdir(parents=True, exist_ok=True)
    numbers = [int(match.group(1)) for path in root.iterdir()
               if (match := re.match(r"^(\d{3,})_", path.name))]
    number = max(numbers, default=-1) + 1
    while True:
        candidate = root / f"{number:03d}_{name}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            number += 1


def _threads(preset: Preset) -> int | None:
    # torchrun's processes on one machine share its cores.
    if not preset.num_threads:
        return preset.num_threads
    return max(1, preset.num_threads // distributed.local_world_size())


def _train_options(preset: Preset, options: BenchmarkOptions, epochs: int, seed: int) -> TrainOptions:
    return TrainOptions(
        epochs=epochs,
        batch_size=preset.batch_size,
        learning_rate=preset.learning_rate,
        lr_milestones=preset.lr_milestones,
        lr_gamma=preset.lr_gamma,
        seed=seed,
        device=options.device,
        num_threads=_threads(preset),
        progress=options.progress and distributed.is_main(),
    )


def _resolve_preset(options: BenchmarkOptions) -> Preset:
    overrides: dict[str, Any] = {"epochs": options.epochs, "teacher_epochs": options.teacher_epochs,
                                 "batch_size": options.batch_size}
    if isinstance(options.preset, Preset):
        return replace(options.preset, **{k: v for k, v in overrides.items() if v is not None})
    return get_preset(options.preset, **overrides)


def _loss_terms(config: ModelConfig, preset: Preset) -> list[LossTerm]:
    """The model definition's loss, with the preset's overrides of A_min and lambda."""
    terms = model_loss_terms(config, train_size=preset.train_size)
    if preset.min_area is not None:
        terms = [LossTerm(t.name, MaskWeightedMSE(preset.min_area), t.weight) if t.name == "fn_mse" else t
                 for t in terms]
    if preset.relation_weight is not None:
        terms = [replace(t, weight=preset.relation_weight) if t.name == "relation" else t for t in terms]
    return terms


def _loss_note(config: ModelConfig, terms: Sequence[LossTerm]) -> str:
    parts = []
    for term in terms:
        if term.name == "fn_mse":
            parts.append(f"foreground-normalised MSE (A_min {getattr(term.loss, 'min_area', 0):g} px)")
        elif config.distillation is not None:
            parts.append(f"{term.weight:g} x relation distillation ({config.distillation.relation}, "
                         f"{config.distillation.distance}) at {config.distillation_site} levels "
                         f"{list(config.distillation_levels)}")
    return " + ".join(parts)


# --- data --------------------------------------------------------------------------------------------


def _data_dirs(data_dir: PathType | None, train_dir: PathType | None,
               test_dir: PathType | None) -> tuple[Path | None, Path]:
    train = train_dir if train_dir is not None else data_dir
    test = test_dir if test_dir is not None else data_dir
    if test is None:
        raise ConfigError("benchmark: give --data (train and test) or --test-data (and --train-data)")
    return (Path(train) if train is not None else None), Path(test)


def _check_unique_names(test_set: HarmonizationDataset) -> None:
    counts = Counter(test_set.names)
    repeated = sorted(name for name, count in counts.items() if count > 1)
    if repeated:
        where = [str(p.composite) for p in test_set.paths if p.name == repeated[0]]
        raise DatasetError(
            f"{test_set.folder}: {len(repeated)} test composite names appear in several subsets (e.g. "
            f"{repeated[0]}: {', '.join(where[:2])}); rows are matched by name: test each subset folder on its own"
        )


# --- run folders and resuming -------------------------------------------------------------------------


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_resumable(run_dir: PathType, resume_key: dict) -> Path:
    """
    Return a run folder that may be resumed with ``resume_key``, or raise.

    Parameters
    ----------
    run_dir
        The folder given with ``--resume``.
    resume_key
        What the new run would train from: data fingerprints, preset, models,
        seeds, model options, initial weights, processes (``config.json``
        stores the key of the run that wrote the folder).

    Raises
    ------
    ConfigError
        When the folder is missing, has no :data:`RUN_MARKER` (not written by
        ``ccharmony benchmark``: nothing in it is touched), has an unreadable
        ``config.json``, or was written with other data or settings (the
        first difference is named).

    Examples
    --------
    >>> import tempfile
    >>> check_resumable(tempfile.mkdtemp(), {})
    Traceback (most recent call last):
    ...
    ccharmony.errors.ConfigError: ...: not a run folder of ccharmony benchmark (no .ccharmony-run marker); refusing to resume into it, nothing was changed
    """
    from ccharmony.io.files import read_regular_text
    from ccharmony.io.paths import inside

    folder = Path(run_dir)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: run folder to resume not found")
    marker = inside(folder, RUN_MARKER)
    if marker is None or not marker.is_file() or marker.is_symlink():
        raise ConfigError(f"{folder}: not a run folder of ccharmony benchmark (no {RUN_MARKER} marker); "
                          "refusing to resume into it, nothing was changed")
    config_path = folder / "config.json"
    if inside(folder, "config.json") is None:
        raise ConfigError(f"{config_path}: leads outside the run folder; refused")
    try:
        config = json.loads(read_regular_text(config_path, what="a run's config.json", error=ConfigError))
    except ValueError as error:
        raise ConfigError(f"{config_path}: not JSON ({error}); cannot check the run's settings") from None
    recorded = config.get("resume_key") if isinstance(config, dict) else None
    if not isinstance(recorded, dict):
        raise ConfigError(f"{config_path}: no resume_key recorded; cannot check the run's settings")
    for key in sorted(set(recorded) | set(resume_key)):
        if recorded.get(key) != resume_key.get(key):
            old, new = json.dumps(recorded.get(key), sort_keys=True), json.dumps(resume_key.get(key), sort_keys=True)
            shown = (lambda text: text if len(text) <= 80 else text[:77] + "...")
            raise ConfigError(
                f"{folder}: cannot resume: {key} differs from the run's (run: {shown(old)}; now: {shown(new)}); "
                "resume with the run's own data and settings, or start a new run without --resume"
            )
    return folder


# --- initial weights ---------------------------------------------------------------------------------


def _seed_folder(base: Path, seed: int, seeds: Sequence[int]) -> Path:
    return base if len(seeds) == 1 else base / f"seed-{seed}"


def _init_sources(init_from: str, learned: Sequence[str], teacher_folders: dict[str, str]) -> dict[str, Path]:
    """Row (or teacher folder) name -> the checkpoint its initial weights come from."""
    source = Path(init_from)
    if source.is_dir():
        check = source / RUN_MARKER
        if not check.is_file():
            raise ConfigError(f"{source}: --init-from folder is not a run folder of ccharmony benchmark "
                              f"(no {RUN_MARKER}); give a run folder or one checkpoint file")
        found: dict[str, Path] = {}
        for name in [*learned, *teacher_folders.values()]:
            candidates = [source / name / "checkpoints" / "last.pt",
                          *sorted((source / name).glob("seed-*/checkpoints/last.pt"))]
            existing = [path for path in candidates if path.is_file()]
            if existing:
                found[name] = existing[0]
            elif name in learned:
                raise ConfigError(f"{source}: --init-from run has no checkpoint for {name!r} "
                                  f"({candidates[0]} missing); select the models that run trained")
        return found
    if not source.exists():
        raise ConfigError(f"{source}: --init-from checkpoint not found")
    checkpoint = read_checkpoint(source, foreign=True)
    if checkpoint.model_name is not None and not checkpoint.model_name.startswith("teacher"):
        target = [name for name in learned if canonical_name(name) == canonical_name(checkpoint.model_name)]
        others = [name for name in learned if name not in target]
        if not target:
            raise ConfigError(f"{source}: --init-from holds weights of {checkpoint.model_name!r}, which is not "
                              f"among the learned models selected ({', '.join(learned) or 'none'})")
        if others:
            raise ConfigError(f"{source}: --init-from holds weights of {checkpoint.model_name!r} only, but "
                              f"{', '.join(others)} would be trained too; select only {target[0]} (plus "
                              "baselines), or give a run folder")
        return {target[0]: source}
    if len(learned) != 1:
        raise ConfigError(f"{source}: --init-from is a checkpoint of no named model (a plain state dict); "
                          f"select exactly one learned model, not {len(learned)} ({', '.join(learned)})")
    return {learned[0]: source}


def _initialise(model: nn.Module, source: Path, *, name: str, report_path: Path | None,
                main: bool) -> InitReport:
    checkpoint = read_checkpoint(source, foreign=True)
    report = match_weights(model, checkpoint.weights, source=str(source), name=name)
    if main and report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(report_path, report.to_json())
    apply_weights(model, checkpoint.weights, report)
    LOGGER.info("%s: initialised from %s: %s", name, source, report.summary())
    return report


# --- the run -----------------------------------------------------------------------------------------


def run_benchmark(
    data_dir: PathType | None = None,
    *,
    out_dir: PathType = "runs",
    options: BenchmarkOptions | None = None,
    train_dir: PathType | None = None,
    test_dir: PathType | None = None,
    train_location: str | None = None,
    test_location: str | None = None,
) -> BenchmarkResult:
    """
    Train, evaluate and report the selected models.

    Parameters
    ----------
    data_dir
        Dataset folder with train and test lists (used for both splits).
    out_dir
        Folder of numbered run folders (and of the training cache ``.cache``).
    options
        :class:`BenchmarkOptions`.
    train_dir, test_dir
        Separate training and test folders (each overrides ``data_dir`` for
        its split): the train split of ``train_dir`` is trained on and the
        test split of ``test_dir`` is evaluated.
    train_location, test_location
        Where the training and test folders came from when they are local
        mirrors (a store URL given to
        :func:`ccharmony.dataset.store.open_dataset_location`): recorded in
        ``config.json`` and the report instead of the temporary folder, and
        naming the training cache, so the next run finds it again.

    Returns
    -------
    BenchmarkResult

    Raises
    ------
    DatasetError
        When a dataset cannot be read.
    ConfigError
        When an option is invalid, CUDA is asked for but absent, ``--resume``
        names a folder that cannot be resumed, or ``--init-from`` does not fit.

    Notes
    -----
    Evaluation: 256x256 under ``options.protocol``
    (:mod:`ccharmony.harmonization.protocols`). The teachers are trained once
    per seed and shared by the distillation models with the same teacher
    key; their training time counts in the run.

    Distributed: launched with ``torchrun --nproc_per_node N -m ccharmony
    benchmark ...`` every process trains with DistributedDataParallel on
    ``batch_size / N`` samples per step (the global batch stays the preset's,
    which must divide by N); rank 0 alone builds the training cache, writes
    the run folder, checkpoints and report and evaluates, and every process
    returns rank 0's result (:mod:`ccharmony.harmonization.distributed`).

    References
    ----------
    :cite:`Niu2023`, :cite:`Li2020`
    """
    options = options or BenchmarkOptions()
    with distributed.session(resolve_device(options.device)):
        return _run_benchmark(data_dir, train_dir, test_dir, out_dir=Path(out_dir), options=options,
                              locations=(train_location, test_location))


def _run_benchmark(data_dir: PathType | None, train_dir: PathType | None, test_dir: PathType | None, *,
                   out_dir: Path, options: BenchmarkOptions,
                   locations: tuple[str | None, str | None] = (None, None)) -> BenchmarkResult:
    started = time.perf_counter()
    preset = _resolve_preset(options)
    device = distributed.local_device(resolve_device(options.device))
    world, main = distributed.get_world_size(), distributed.is_main()
    if preset.batch_size % world:
        raise ConfigError(f"batch size {preset.batch_size} does not divide among {world} processes")
    train_root, test_root = _data_dirs(data_dir, train_dir, test_dir)
    # How each folder is named in config.json and the report: the store URL of a mirror, else the folder.
    train_name = locations[0] if locations[0] is not None else (
        str(train_root.resolve()) if train_root is not None else None)
    test_name = locations[1] if locations[1] is not None else str(test_root.resolve())
    names = list(options.models)
    specs = {name: MODELS[name] for name in names}
    learned = [name for name in names if specs[name].trainable]
    if learned and preset.pretrained_with and options.init_from is None:
        raise ConfigError(
            f"preset {preset.name!r} fine-tunes a model pre-trained with preset {preset.pretrained_with!r}: "
            f"give --init-from (the run folder or checkpoint of that pre-training)"
        )
    seeds = options.seed_list
    protocol = get_protocol(options.protocol, size=preset.eval_size, psnr_peak=options.psnr_peak)
    model_options = ModelOptions(unet=UNetOptions(width=preset.width), relation_stages=preset.relation_stages)
    configs = {name: model_config(name, model_options) for name in names}

    test_set = HarmonizationDataset(test_root, "test", size=preset.eval_size, train=False, cache=False,
                                    max_pixels=options.max_pixels)
    _check_unique_names(test_set)
    train_set: HarmonizationDataset | None = None
    if learned:
        if train_root is None:
            raise ConfigError("benchmark: learned models need training data: give --data or --train-data")
        train_set = HarmonizationDataset(
            train_root, "train", size=preset.train_size, train=True, seed=seeds[0],
            illuminant_jitter=preset.illuminant_jitter, cache=False,
            cache_dir=Path(options.cache_dir) if options.cache_dir else out_dir / ".cache",
            min_side_factor=preset.cache_min_side_factor, max_pixels=options.max_pixels,
            cache_name=locations[0],
        )

    # Teachers: one per teacher key, shared by the distilled rows with that key.
    teacher_of: dict[str, str] = {}
    teacher_keys: dict[str, str] = {}
    for name in learned:
        if configs[name].distillation is not None:
            key = teacher_key(configs[name])
            teacher_keys.setdefault(key, name)
            teacher_of[name] = key
    teacher_folders = {key: "teacher" if len(teacher_keys) == 1 else f"teacher-{first}"
                       for key, first in teacher_keys.items()}

    init_sources = _init_sources(options.init_from, learned, teacher_folders) if options.init_from else {}
    resume_key = {
        "format": RUN_FORMAT,
        "train_data": fingerprint_samples(train_set.folder, [(p.composite, p.real, p.mask) for p in train_set.paths])
        if train_set is not None else None,
        "test_data": fingerprint_samples(test_root, [(p.composite, p.real, p.mask) for p in test_set.paths]),
        "preset": preset.to_dict(),
        "models": names,
        "seeds": list(seeds),
        "model_options": model_options.to_dict(),
        "init_from": {name: _file_sha256(path) for name, path in sorted(init_sources.items())},
        "processes": world,
    }
    if options.resume is not None:
        run_dir = check_resumable(options.resume, resume_key)
    else:
        run_dir = distributed.broadcast_object(next_run_dir(out_dir, "benchmark") if main else None)
    config = {
        "format": RUN_FORMAT,
        "train_dataset": train_name,
        "test_dataset": test_name,
        "preset": preset.to_dict(),
        "options": {**asdict(options), "models": names, "preset": preset.name},
        "protocol": protocol.name,
        "model_options": model_options.to_dict(),
        "model_configs": {name: configs[name].to_dict() for name in names},
        "init_from": {name: str(path) for name, path in init_sources.items()},
        "device": str(device),
        "processes": world,
        "versions": {
            "ccharmony": __version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "resume_key": resume_key,
        "note": "GiftNet: re-implementation from the paper's description; official code and weights unreleased.",
    }
    if main and options.resume is None:
        # A resumed run keeps the marker and config.json it was started with.
        atomic_write_text(run_dir / RUN_MARKER, RUN_FORMAT + "\n")
        atomic_write_text(run_dir / "config.json", json.dumps(config, indent=2, default=str) + "\n")

    # The test set, read once under the protocol (and checked) before any training.
    samples: list[EvaluationSample] = read_samples(test_set.folder, test_set.paths, protocol) if main else []

    if train_set is not None:
        workers = preset.num_workers if options.num_workers is None else int(options.num_workers)
        if main:
            train_set.prepare(workers=workers, progress=options.progress)
        distributed.barrier()
    else:
        workers = 0

    train_results: dict[str, TrainResult] = {}
    init_reports: dict[str, InitReport] = {}
    per_image: dict[str, list[dict]] = {}
    grid_predictions: dict[str, dict[int, NDArrayUInt8]] = {}
    grid_indices = np.unique(np.linspace(0, len(test_set) - 1, max(1, options.grid_images)).round().astype(int))
    index_of = {name: index for index, name in enumerate(test_set.names)}
    inference_size = preset.inference_size if preset.inference_size is not None else preset.eval_size
    loss_notes: dict[str, str] = {}
    threads = torch.get_num_threads()
    pin = device.type == "cuda"

    def loader_for(dataset: Any, seed: int) -> Any:
        return make_loader(dataset, batch_size=preset.batch_size // world, shuffle=True, seed=seed,
                           drop_last=len(dataset) > preset.batch_size, num_workers=workers,
                           rank=distributed.get_rank(), world_size=world, pin_memory=pin)

    def training_data(dataset: HarmonizationDataset | None) -> HarmonizationDataset:
        if dataset is None:  # pragma: no cover - learned rows always have training data (checked above)
            raise DatasetError("benchmark: no training data")
        return dataset

    try:
        if preset.num_threads:
            torch.set_num_threads(_threads(preset) or preset.num_threads)
        for seed_number, seed in enumerate(seeds):
            first_seed = seed_number == 0
            suffix = "" if first_seed else f"@{seed}"
            seeded_train = None
            if train_set is not None:
                seeded_train = copy.copy(train_set)
                seeded_train.seed = seed
            teachers: dict[str, nn.Module] = {}
            for key, folder_name in teacher_folders.items():
                seed_everything(seed)
                teacher = build_teacher(configs[teacher_keys[key]])
                base = _seed_folder(run_dir / folder_name, seed, seeds)
                if folder_name in init_sources:
                    report = _initialise(teacher, init_sources[folder_name], name=folder_name,
                                         report_path=run_dir / folder_name / "init.json", main=main)
                    init_reports.setdefault(folder_name, report)
                train_results[folder_name + suffix] = train(
                    teacher, loader_for(ReconstructionView(training_data(seeded_train)), seed),
                    options=_train_options(preset, options, preset.teacher_epochs, seed),
                    loss_terms=reconstruction_loss_terms(),
                    checkpoint_path=base / "checkpoints" / "last.pt",
                    checkpoint_meta={"model_name": "teacher", "teacher_of": [
                        name for name in learned if teacher_of.get(name) == key],
                        "model_config": configs[teacher_keys[key]].to_dict(),
                        "model_options": model_options.to_dict(), "seed": seed},
                    description=folder_name,
                )
                teachers[key] = teacher
            for name in names:
                spec = specs[name]
                if not spec.trainable and not first_seed:
                    continue  # baselines do not depend on the seed
                if spec.trainable:
                    seed_everything(seed)
                    model = build_model(name, model_options)
                    base = _seed_folder(run_dir / name, seed, seeds)
                    if name in init_sources:
                        report = _initialise(model, init_sources[name], name=name,
                                             report_path=run_dir / name / "init.json", main=main)
                        init_reports.setdefault(name, report)
                    terms = _loss_terms(configs[name], preset)
                    loss_notes[name] = _loss_note(configs[name], terms)
                    train_results[name + suffix] = train(
                        model, loader_for(training_data(seeded_train), seed),
                        options=_train_options(preset, options, preset.epochs, seed),
                        loss_terms=terms,
                        teacher=teachers.get(teacher_of.get(name, "")),
                        checkpoint_path=base / "checkpoints" / "last.pt",
                        checkpoint_meta={
                            "model_name": name,
                            "model_options": model_options.to_dict(),
                            "model_config": configs[name].to_dict(),
                            "inference_size": inference_size,
                            "preset": preset.to_dict(),
                            "seed": seed,
                            "init_from": str(init_sources[name]) if name in init_sources else None,
                        },
                        description=name if len(seeds) == 1 else f"{name} seed {seed}",
                    )
                else:
                    model = build_model(name)
                if not main:
                    continue  # rank 0 evaluates
                save = options.save_predictions and first_seed
                prediction_dir = run_dir / "predictions" / name
                if save:
                    prediction_dir.mkdir(parents=True, exist_ok=True)
                if first_seed:
                    grid_predictions[name] = {}

                def on_prediction(image_name: str, prediction: NDArrayUInt8, model_name: str = name,
                                  folder: Path = prediction_dir, keep: bool = first_seed,
                                  write: bool = save) -> None:
                    if write:
                        write_png(folder / f"{image_name}.png", prediction)
                    if keep and index_of[image_name] in grid_indices:
                        grid_predictions[model_name][index_of[image_name]] = prediction

                rows = evaluate(
                    model, test_set, device=str(device), batch_size=preset.eval_batch_size,
                    inference_size=inference_size if spec.trainable else None, protocol=protocol,
                    on_prediction=on_prediction, samples=samples,
                    seed=seed if spec.trainable and len(seeds) > 1 else None,
                )
                per_image.setdefault(name, []).extend(rows)
                LOGGER.info("%s%s: test fMSE %.2f", name, suffix, float(np.nanmean([r["fMSE"] for r in rows])))
                del model
    finally:
        torch.set_num_threads(threads)

    if not main:
        shared = distributed.broadcast_object(None)
        return BenchmarkResult(run_dir=run_dir, per_image=shared["per_image"], summary=shared["summary"],
                               train_results=train_results, seconds=time.perf_counter() - started,
                               paths=shared["paths"], init_reports=init_reports)
    if not per_image:
        raise DatasetError(f"{test_root}: nothing was evaluated")
    by_index = {index: samples[index] for index in grid_indices.tolist()}
    grid = picture_grid(
        [[by_index[index].composite, *(grid_predictions[name][index] for name in names), by_index[index].real]
         for index in grid_indices.tolist()],
        ["composite (input)", *names, "real"],
    )
    seconds = time.perf_counter() - started
    meta = _meta(preset, options, names, configs, loss_notes, train_results, init_reports, init_sources,
                 train_set=train_set, test_set=test_set, train_name=train_name, test_name=test_name,
                 device=device, world=world, seconds=seconds, run_dir=run_dir, seeds=seeds,
                 inference_size=inference_size, model_options=model_options, workers=workers)
    identity = fingerprint_test_set({sample.name: sample.sha256 for sample in samples})
    rows_info = {name: {"source": "trained" if specs[name].trainable else "baseline",
                        "description": specs[name].description,
                        **({"init_from": str(init_sources[name])} if name in init_sources else {})}
                 for name in names}
    if options.resume is not None:
        _keep_scored_rows(run_dir, per_image, rows_info, identity, protocol)
    statistics = BootstrapOptions(resamples=options.bootstrap)
    paths = write_report(run_dir, per_image, meta=meta, protocol=protocol, grid=grid, rows_info=rows_info,
                         test_set=identity, statistics=statistics)
    subsets = _subset_reports(run_dir, per_image, test_set, samples, meta=meta, protocol=protocol,
                              rows_info=rows_info, statistics=statistics)
    summary = summarise(per_image, statistics=statistics)
    distributed.broadcast_object({"per_image": per_image, "summary": summary, "paths": paths})
    return BenchmarkResult(
        run_dir=run_dir,
        per_image=per_image,
        summary=summary,
        train_results=train_results,
        seconds=seconds,
        paths=paths,
        init_reports=init_reports,
        subsets=subsets,
    )


def _keep_scored_rows(run_dir: Path, per_image: dict[str, list[dict]], rows_info: dict, identity: dict,
                      protocol: EvaluationProtocol) -> None:
    """Keep the rows ``benchmark score --run`` added to a resumed run (same protocol and test set), in place."""
    from ccharmony.harmonization.report import read_report

    if not (run_dir / "report.json").is_file():
        return
    try:
        old = read_report(run_dir)
    except DatasetError as error:
        LOGGER.warning("%s: earlier report not read, its scored rows are not kept (%s)", run_dir, error)
        return
    same = old.document.get("test_set") == identity and old.conventions == protocol.conventions()
    for model, info in (old.document.get("rows") or {}).items():
        if isinstance(info, dict) and info.get("source") == "scored" and model not in per_image:
            if not same:
                LOGGER.warning("%s: scored row %r dropped: the run is now evaluated under other conventions or "
                               "test files; score it again", run_dir, model)
                continue
            per_image[model] = old.per_image.get(model, [])
            rows_info[model] = dict(info)


def _subset_reports(run_dir: Path, per_image: dict[str, list[dict]], test_set: HarmonizationDataset,
                    samples: Sequence[EvaluationSample], *, meta: dict, protocol: EvaluationProtocol,
                    rows_info: dict, statistics: BootstrapOptions) -> dict[str, dict[str, Path]]:
    """One report per subset of the test data (iHarmony4), under ``subsets/<subset>/``."""
    subset_of = dict(zip(test_set.names, test_set.subsets))
    present = sorted(set(subset_of.values()))
    if len(present) < 2:
        return {}
    written: dict[str, dict[str, Path]] = {}
    for subset in present:
        rows = {model: [row for row in model_rows if subset_of.get(str(row["name"])) == subset]
                for model, model_rows in per_image.items()}
        identity = fingerprint_test_set({s.name: s.sha256 for s in samples if subset_of[s.name] == subset})
        folder = run_dir / "subsets" / subset
        folder.mkdir(parents=True, exist_ok=True)
        written[subset] = write_report(folder, rows, meta={**meta, "subset": subset}, protocol=protocol,
                                       rows_info=rows_info, test_set=identity, statistics=statistics)
    return written


def _meta(preset: Preset, options: BenchmarkOptions, names: list[str], configs: dict[str, ModelConfig],
          loss_notes: dict[str, str], train_results: dict[str, TrainResult], init_reports: dict[str, InitReport],
          init_sources: dict[str, Path], *, train_set: HarmonizationDataset | None,
          test_set: HarmonizationDataset, train_name: str | None, test_name: str, device: torch.device,
          world: int, seconds: float, run_dir: Path, seeds: Sequence[int], inference_size: int,
          model_options: ModelOptions, workers: int) -> dict:
    notes = [
        f"trained at {preset.train_size}x{preset.train_size}, width {preset.width}, {preset.epochs} epochs "
        f"(teacher {preset.teacher_epochs}), batch {preset.batch_size}, Adam lr {preset.learning_rate:g} "
        f"x{preset.lr_gamma:g} after {', '.join(f'{m:.2f}' for m in preset.lr_milestones)} of the epochs"
        + (f", seeds {', '.join(str(s) for s in seeds)} (mean ± std over seeds)" if len(seeds) > 1 else
           f", seed {seeds[0]}"),
        "augmentation: random resized crop (scale 0.5-1) and horizontal flip"
        + (f", plus illuminant jitter (same per-channel gains exp(U(-{preset.illuminant_jitter:g}, "
           f"{preset.illuminant_jitter:g})) on composite and real)" if preset.illuminant_jitter > 0 else ""),
        f"data: trained on the train split of {train_name}, tested on the test split of {test_name}"
        if train_name is not None and train_name != test_name
        else f"data: train and test splits of {test_name}",
        f"training samples from the on-disk cache (shorter side >= {preset.cache_min_side_factor:g} x "
        f"{preset.train_size} px), {workers} loader worker(s)",
        f"evaluated at {preset.eval_size}x{preset.eval_size}; learned models run at "
        f"{inference_size}x{inference_size}" + (
            " with their colour change up-sampled bilinearly" if inference_size < preset.eval_size else ""),
        *[f"loss of {name}: {note}" for name, note in loss_notes.items()],
        *[f"{name} initialised from {init_sources[name]}: {report.summary()}" for name, report in init_reports.items()],
        f"total wall-clock {seconds:.0f} s on {device}"
        + (f" x {world} processes (DistributedDataParallel, batch {preset.batch_size // world} each)"
           if world > 1 else ""),
    ]
    return {
        "dataset": test_name,
        "train_dataset": train_name,
        "test_dataset": test_name,
        "preset": preset.name,
        "device": str(device),
        "processes": world,
        "seed": seeds[0],
        "seeds": list(seeds),
        "train_count": len(train_set) if train_set is not None else 0,
        "test_count": len(test_set),
        "ccharmony_version": __version__,
        "torch_version": torch.__version__,
        "descriptions": {name: MODELS[name].description for name in names},
        "model_configs": {name: configs[name].to_dict() for name in names},
        "model_options": model_options.to_dict(),
        "train_seconds": {name: result.seconds for name, result in train_results.items()},
        "train_samples_per_second": {name: result.samples_per_second for name, result in train_results.items()},
        "train_history": {name: result.history for name, result in train_results.items()},
        "train_first_step_loss": {name: result.first_step_loss for name, result in train_results.items()},
        "init_reports": {name: report.to_dict() for name, report in init_reports.items()},
        "total_seconds": seconds,
        "run_dir": str(run_dir),
        "notes": notes,
    }
