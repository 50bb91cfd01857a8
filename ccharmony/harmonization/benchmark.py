"""
GiftNet benchmark
=================

Train and compare harmonization models on a dataset folder:

-   :class:`BenchmarkOptions`: models, preset, device, outputs.
-   :class:`BenchmarkResult`: run folder, per-image rows, summary, timings.
-   :func:`next_run_dir`: the next numbered run folder (``000_benchmark``).
-   :func:`run_benchmark`: pre-train the relation-distillation teacher when a
    model needs it, train each learned model, evaluate every model at 256x256
    and write the report (:mod:`ccharmony.harmonization.report`).

GiftNet :cite:`Niu2023` is a re-implementation from the paper's description;
the official code and weights were never released.

Run folder::

    <out>/NNN_benchmark/
        config.json                   resolved preset, options, versions
        teacher/checkpoints/last.pt   reconstruction teacher (distillation)
        <model>/checkpoints/last.pt   each learned model (``ccharmony harmonize``)
        predictions/<model>/<name>.png  with save_predictions
        report.md, report.json, per_image.csv, grid.png

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
"""

from __future__ import annotations

import json
import logging
import platform
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ccharmony import __version__
from ccharmony._types import NDArrayUInt8, PathType
from ccharmony.errors import ConfigError, DatasetError
from ccharmony.harmonization import distributed
from ccharmony.harmonization.data import HarmonizationDataset, ReconstructionView, make_loader
from ccharmony.harmonization.engine import (
    TrainOptions,
    TrainResult,
    default_loss_terms,
    reconstruction_loss_terms,
    resolve_device,
    seed_everything,
    train,
)
from ccharmony.harmonization.metrics import PSNR_PEAKS
from ccharmony.harmonization.models import (
    MODELS,
    ModelOptions,
    UNetOptions,
    build_model,
    build_teacher,
    validate_model_names,
)
from ccharmony.harmonization.predict import evaluate
from ccharmony.harmonization.presets import Preset, get_preset
from ccharmony.harmonization.report import picture_grid, summarise, write_png, write_report
from ccharmony.io.atomic import atomic_write_text

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["BenchmarkOptions", "BenchmarkResult", "next_run_dir", "run_benchmark"]

LOGGER = logging.getLogger(__name__)


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
        ``"cpu-smoke"`` or ``"paper"`` (:data:`~ccharmony.harmonization.presets.PRESETS`),
        or a :class:`~ccharmony.harmonization.presets.Preset`.
    epochs, teacher_epochs, batch_size
        Override the preset's values when not ``None``.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    save_predictions
        Write every prediction as PNG at the evaluation size.
    psnr_peak
        ``"255"`` (default) or ``"max-real"``.
    seed
        Seed of initialisation, shuffling and augmentation.
    grid_images
        Test images in the picture grid.
    progress
        Show progress bars.
    resume
        An existing run folder to continue (its checkpoints are resumed);
        ``None`` starts a new numbered folder.
    """

    models: tuple[str, ...] = tuple(MODELS)
    preset: str | Preset = "cpu-smoke"
    epochs: int | None = None
    teacher_epochs: int | None = None
    batch_size: int | None = None
    device: str = "auto"
    save_predictions: bool = False
    psnr_peak: str = "255"
    seed: int = 0
    grid_images: int = 4
    progress: bool = True
    resume: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(validate_model_names(list(self.models))))
        if not self.models:
            raise ConfigError("benchmark: no model selected")
        if self.psnr_peak not in PSNR_PEAKS:
            raise ConfigError(f"psnr_peak must be one of {PSNR_PEAKS}, got {self.psnr_peak!r}")


@dataclass(frozen=True)
class BenchmarkResult:
    """
    Hold the outcome of :func:`run_benchmark`.

    Parameters
    ----------
    run_dir
        The run folder.
    per_image
        Model -> per-image metric rows.
    summary
        :func:`~ccharmony.harmonization.report.summarise` output.
    train_results
        Model (and ``"teacher"``) -> :class:`~ccharmony.harmonization.engine.TrainResult`.
    seconds
        Wall-clock seconds of the whole run.
    paths
        Report file kind -> path.
    """

    run_dir: Path
    per_image: dict[str, list[dict]]
    summary: dict[str, dict]
    train_results: dict[str, TrainResult] = field(default_factory=dict)
    seconds: float = 0.0
    paths: dict[str, Path] = field(default_factory=dict)


def next_run_dir(root: PathType, name: str) -> Path:
    """
    Create and return the next numbered run folder ``<root>/NNN_<name>``.

    Examples
    --------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> next_run_dir(root, "benchmark").name, next_run_dir(root, "benchmark").name
    ('000_benchmark', '001_benchmark')
    """
    root = Path(root)
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


def _train_options(preset: Preset, options: BenchmarkOptions, epochs: int) -> TrainOptions:
    return TrainOptions(
        epochs=epochs,
        batch_size=preset.batch_size,
        learning_rate=preset.learning_rate,
        lr_milestones=preset.lr_milestones,
        lr_gamma=preset.lr_gamma,
        seed=options.seed,
        device=options.device,
        num_threads=_threads(preset),
        progress=options.progress and distributed.is_main(),
    )


def run_benchmark(
    data_dir: PathType,
    *,
    out_dir: PathType = "runs",
    options: BenchmarkOptions | None = None,
) -> BenchmarkResult:
    """
    Train, evaluate and report the selected models on a dataset folder.

    Parameters
    ----------
    data_dir
        Dataset folder in the iHarmony4 layout with train and test lists.
    out_dir
        Folder of numbered run folders.
    options
        :class:`BenchmarkOptions`.

    Returns
    -------
    BenchmarkResult

    Raises
    ------
    DatasetError
        When the dataset cannot be read.
    ConfigError
        When an option is invalid or CUDA is asked for but absent.

    Notes
    -----
    Evaluation: 256x256, 0..255 values of the 8-bit predictions
    (:mod:`ccharmony.harmonization.metrics`). The teacher is trained once and
    shared by the distillation models; its training time counts in the run.

    Distributed: launched with ``torchrun --nproc_per_node N -m ccharmony
    benchmark ...`` every process trains with DistributedDataParallel on
    ``batch_size / N`` samples per step (the global batch stays the preset's,
    which must divide by N); rank 0 alone writes the run folder, checkpoints
    and report and evaluates, and every process returns rank 0's result
    (:mod:`ccharmony.harmonization.distributed`).

    References
    ----------
    :cite:`Niu2023`, :cite:`Li2020`
    """
    options = options or BenchmarkOptions()
    with distributed.session(resolve_device(options.device)):
        return _run_benchmark(data_dir, out_dir=out_dir, options=options)


def _run_benchmark(data_dir: PathType, *, out_dir: PathType, options: BenchmarkOptions) -> BenchmarkResult:
    started = time.perf_counter()
    overrides: dict[str, Any] = {"epochs": options.epochs, "teacher_epochs": options.teacher_epochs,
                 "batch_size": options.batch_size}
    if isinstance(options.preset, Preset):
        preset = replace(options.preset, **{k: v for k, v in overrides.items() if v is not None})
    else:
        preset = get_preset(options.preset, **overrides)
    device = distributed.local_device(resolve_device(options.device))
    world, main = distributed.get_world_size(), distributed.is_main()
    if preset.batch_size % world:
        raise ConfigError(f"batch size {preset.batch_size} does not divide among {world} processes")
    data_dir = Path(data_dir)
    test_set = HarmonizationDataset(data_dir, "test", size=preset.eval_size, train=False)
    names = list(options.models)
    specs = [MODELS[name] for name in names]
    train_set = None
    if any(spec.trainable for spec in specs):
        train_set = HarmonizationDataset(data_dir, "train", size=preset.train_size, train=True, seed=options.seed,
                                         illuminant_jitter=preset.illuminant_jitter)
    if options.resume is not None:
        run_dir = Path(options.resume)
        if not run_dir.is_dir():
            raise ConfigError(f"{run_dir}: run folder to resume not found")
    else:
        run_dir = distributed.broadcast_object(next_run_dir(out_dir, "benchmark") if main else None)
    model_options = ModelOptions(unet=UNetOptions(width=preset.width), relation_stages=preset.relation_stages)
    config = {
        "dataset": str(data_dir.resolve()),
        "preset": preset.to_dict(),
        "options": {**asdict(options), "models": names, "preset": preset.name},
        "model_options": model_options.to_dict(),
        "device": str(device),
        "processes": world,
        "versions": {
            "ccharmony": __version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "note": "GiftNet: re-implementation from the paper's description; official code and weights unreleased.",
    }
    if main:
        atomic_write_text(run_dir / "config.json", json.dumps(config, indent=2, default=str) + "\n")

    train_results: dict[str, TrainResult] = {}
    teacher = None
    inference_size = preset.inference_size if preset.inference_size is not None else preset.eval_size
    if train_set is not None and any(spec.distillation for spec in specs):
        seed_everything(options.seed)
        teacher = build_teacher(model_options)
        loader = make_loader(ReconstructionView(train_set), batch_size=preset.batch_size // world, shuffle=True,
                             seed=options.seed, drop_last=len(train_set) > preset.batch_size,
                             rank=distributed.get_rank(), world_size=world)
        train_results["teacher"] = train(
            teacher, loader,
            options=_train_options(preset, options, preset.teacher_epochs),
            loss_terms=reconstruction_loss_terms(),
            checkpoint_path=run_dir / "teacher" / "checkpoints" / "last.pt",
            checkpoint_meta={"model_name": "teacher", "model_options": model_options.to_dict()},
            description="teacher",
        )

    grid_indices = np.unique(np.linspace(0, len(test_set) - 1, max(1, options.grid_images)).round().astype(int))
    grid_predictions: dict[str, dict[int, NDArrayUInt8]] = {}
    index_of = {name: index for index, name in enumerate(test_set.names)}
    per_image: dict[str, list[dict]] = {}
    threads = torch.get_num_threads()
    try:
        if preset.num_threads:
            torch.set_num_threads(_threads(preset) or preset.num_threads)
        for name, spec in zip(names, specs):
            if spec.trainable:
                seed_everything(options.seed)
                model = build_model(name, model_options)
                if train_set is None:  # pragma: no cover - built above for trainable models
                    raise DatasetError(f"{data_dir}: no training set")
                loader = make_loader(train_set, batch_size=preset.batch_size // world, shuffle=True,
                                     seed=options.seed, drop_last=len(train_set) > preset.batch_size,
                                     rank=distributed.get_rank(), world_size=world)
                train_results[name] = train(
                    model, loader,
                    options=_train_options(preset, options, preset.epochs),
                    loss_terms=default_loss_terms(distillation=spec.distillation, min_area=preset.min_area,
                                                  relation_weight=preset.relation_weight),
                    teacher=teacher if spec.distillation else None,
                    checkpoint_path=run_dir / name / "checkpoints" / "last.pt",
                    checkpoint_meta={
                        "model_name": name,
                        "model_options": model_options.to_dict(),
                        "inference_size": inference_size,
                        "preset": preset.to_dict(),
                    },
                    description=name,
                )
            else:
                model = build_model(name)
            if not main:
                continue  # rank 0 evaluates
            prediction_dir = run_dir / "predictions" / name
            if options.save_predictions:
                prediction_dir.mkdir(parents=True, exist_ok=True)
            grid_predictions[name] = {}

            def on_prediction(image_name: str, prediction: NDArrayUInt8, model_name: str = name,
                              folder: Path = prediction_dir) -> None:
                if options.save_predictions:
                    write_png(folder / f"{image_name}.png", prediction)
                if index_of[image_name] in grid_indices:
                    grid_predictions[model_name][index_of[image_name]] = prediction

            per_image[name] = evaluate(
                model, test_set, device=str(device), batch_size=preset.eval_batch_size,
                inference_size=inference_size if spec.trainable else None,
                psnr_peak=options.psnr_peak, on_prediction=on_prediction,
            )
            LOGGER.info("%s: test fMSE %.2f", name, float(np.mean([r["fMSE"] for r in per_image[name]])))
    finally:
        torch.set_num_threads(threads)

    if not main:
        shared = distributed.broadcast_object(None)
        return BenchmarkResult(run_dir=run_dir, per_image=shared["per_image"], summary=shared["summary"],
                               train_results=train_results, seconds=time.perf_counter() - started,
                               paths=shared["paths"])
    rows = []
    for index in grid_indices.tolist():
        composite, real, _ = test_set.read(index)
        rows.append([composite, *(grid_predictions[name][index] for name in names), real])
    grid = picture_grid(rows, ["composite (input)", *names, "real"])
    seconds = time.perf_counter() - started
    notes = [
        f"trained at {preset.train_size}x{preset.train_size}, width {preset.width}, {preset.epochs} epochs "
        f"(teacher {preset.teacher_epochs}), batch {preset.batch_size}, Adam lr {preset.learning_rate} "
        f"x{preset.lr_gamma} after {', '.join(f'{m:.2f}' for m in preset.lr_milestones)} of the epochs",
        "augmentation: random resized crop (scale 0.5-1) and horizontal flip"
        + (f", plus illuminant jitter (same per-channel gains exp(U(-{preset.illuminant_jitter:g}, "
           f"{preset.illuminant_jitter:g})) on composite and real)" if preset.illuminant_jitter > 0 else ""),
        "colour head: " + ("input + correction (rgb_residual)" if model_options.unet.rgb_residual
                           else "absolute colours"),
        f"evaluated at {preset.eval_size}x{preset.eval_size}; learned models run at "
        f"{inference_size}x{inference_size}" + (
            " with their colour change up-sampled bilinearly" if inference_size < preset.eval_size else ""),
        f"loss: foreground-normalised MSE (A_min {preset.min_area:g} px) + {preset.relation_weight:g} x "
        f"relation-distillation L1 at encoder stages {list(preset.relation_stages)} (distillation models)",
        f"total wall-clock {seconds:.0f} s on {device}"
        + (f" x {world} processes (DistributedDataParallel, batch {preset.batch_size // world} each)"
           if world > 1 else ""),
    ]
    meta = {
        "dataset": str(data_dir),
        "preset": preset.name,
        "device": str(device),
        "processes": world,
        "seed": options.seed,
        "train_count": len(train_set) if train_set is not None else 0,
        "test_count": len(test_set),
        "ccharmony_version": __version__,
        "torch_version": torch.__version__,
        "descriptions": {name: MODELS[name].description for name in names},
        "train_seconds": {name: result.seconds for name, result in train_results.items()},
        "train_samples_per_second": {name: result.samples_per_second for name, result in train_results.items()},
        "train_history": {name: result.history for name, result in train_results.items()},
        "total_seconds": seconds,
        "run_dir": str(run_dir),
        "notes": notes,
    }
    paths = write_report(run_dir, per_image, meta=meta, psnr_peak=options.psnr_peak, grid=grid)
    if not per_image:
        raise DatasetError(f"{data_dir}: nothing was evaluated")
    summary = summarise(per_image)
    distributed.broadcast_object({"per_image": per_image, "summary": summary, "paths": paths})
    return BenchmarkResult(
        run_dir=run_dir,
        per_image=per_image,
        summary=summary,
        train_results=train_results,
        seconds=seconds,
        paths=paths,
    )
