"""
Training engine
===============

Train harmonization models:

-   :class:`TrainOptions`: optimiser, schedule, device and run options.
-   :class:`TrainResult`: the per-epoch loss history and the throughput.
-   :func:`resolve_device`: ``"auto" | "cpu" | "cuda"`` to a device.
-   :func:`seed_everything`: seed Python, NumPy and PyTorch.
-   :func:`default_loss_terms`: the loss of each registered model.
-   :func:`train`: the training loop (one function taking a model, a loader and
    an optional distributed sampler, so that DDP can wrap it later).
-   :func:`save_checkpoint`: atomic checkpoint writing (read back, validated,
    by :func:`ccharmony.harmonization.checkpoint.read_checkpoint`).

Adam :cite:`Kingma2015` with a step decay (``MultiStepLR``); automatic mixed
precision (``torch.autocast`` + ``GradScaler``) on CUDA, float32 on the CPU;
deterministic algorithms on the CPU. A checkpoint is written after every
epoch and training resumes from it: shuffling and augmentation are drawn from
``(seed, epoch, index)``, so a resumed run reproduces an uninterrupted one.
Losses stay on the device between steps and are read back (a device
synchronisation) only when logged: every ``log_every`` steps for the progress
bar, and once per epoch for the history.

References
----------
-   :cite:`Kingma2015` : Kingma, D. P., & Ba, J. (2015). Adam: A Method for
    Stochastic Optimization. ICLR 2015. arXiv:1412.6980
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm  # type: ignore[import-untyped]

from ccharmony._types import PathType
from ccharmony.errors import ConfigError
from ccharmony.harmonization import distributed
from ccharmony.harmonization.checkpoint import CHECKPOINT_FORMAT, match_weights, read_checkpoint
from ccharmony.harmonization.losses import (
    ImageMSE,
    LossTerm,
    MaskWeightedMSE,
    RelationDistillationL1,
    compute_loss,
)

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "CHECKPOINT_FORMAT",
    "TrainOptions",
    "TrainResult",
    "resolve_device",
    "seed_everything",
    "default_loss_terms",
    "reconstruction_loss_terms",
    "train",
    "save_checkpoint",
]

LOGGER = logging.getLogger(__name__)



@dataclass(frozen=True)
class TrainOptions:
    """
    Configure a training run.

    Parameters
    ----------
    epochs
        Number of epochs.
    batch_size
        Samples per batch (used by callers that build loaders).
    learning_rate
        Adam's initial learning rate (1e-3, as the issue asks).
    lr_milestones
        Fractions of ``epochs`` after which the learning rate is multiplied by
        ``lr_gamma`` (step decay).
    lr_gamma
        Decay factor.
    weight_decay
        Adam's L2 penalty.
    seed
        Seed of the initialisation, shuffling and augmentation.
    device
        ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
    amp
        Automatic mixed precision on CUDA (ignored on the CPU).
    num_threads
        ``torch.set_num_threads`` during training; ``None`` keeps the current value.
    deterministic
        ``torch.use_deterministic_algorithms(True)`` on the CPU; cuDNN
        deterministic mode on CUDA.
    progress
        Show a progress bar with the loss and the ETA.
    grad_clip
        Clip the gradient norm to this value; ``None`` for no clipping.
    log_every
        Steps between read-backs of the loss for the progress bar (each one
        waits for the device); the epoch's history is read once at its end.
    """

    epochs: int = 10
    batch_size: int = 8
    learning_rate: float = 1e-3
    lr_milestones: tuple[float, ...] = (0.8,)
    lr_gamma: float = 0.1
    weight_decay: float = 0.0
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] | str = "auto"
    amp: bool = True
    num_threads: int | None = None
    deterministic: bool = True
    progress: bool = True
    grad_clip: float | None = None
    log_every: int = 25

    def __post_init__(self) -> None:
        if self.epochs < 0 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ConfigError(
                f"TrainOptions: need epochs >= 0, batch_size >= 1, learning_rate > 0, got "
                f"{self.epochs}, {self.batch_size}, {self.learning_rate}"
            )
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise ConfigError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a whole number >= 0, got {self.seed!r}")
        if self.log_every < 1:
            raise ConfigError(f"log_every must be >= 1, got {self.log_every}")
        if any(not 0 < m <= 1 for m in self.lr_milestones):
            raise ConfigError(f"lr_milestones are fractions in (0, 1], got {self.lr_milestones}")
        object.__setattr__(self, "lr_milestones", tuple(float(m) for m in self.lr_milestones))

    def to_dict(self) -> dict:
        """Return the options as a JSON-ready dict."""
        data = asdict(self)
        data["lr_milestones"] = list(self.lr_milestones)
        return data


@dataclass(frozen=True)
class TrainResult:
    """
    Summarise a training run.

    Parameters
    ----------
    history
        One dict per epoch: the mean of each loss term and ``"loss"`` (total).
    seconds
        Wall-clock seconds spent in this call (excluding resumed epochs).
    samples_per_second
        Training throughput of this call (0 when nothing was trained).
    epochs_run
        Epochs trained by this call.
    device
        Device used.
    first_step_loss
        Total loss of the first batch this call trained on, before its update
        (what the initial weights give; ``None`` when nothing was trained).
    """

    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    samples_per_second: float = 0.0
    epochs_run: int = 0
    device: str = "cpu"
    first_step_loss: float | None = None


def resolve_device(device: str = "auto") -> torch.device:
    """
    Return the torch device for ``"auto"``, ``"cpu"`` or ``"cuda"``.

    Raises
    ------
    ConfigError
        When CUDA is asked for but unavailable.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for but CUDA is not available; use --device cpu")
    if device not in ("cpu",) and not str(device).startswith("cuda"):
        raise ConfigError(f"device must be auto, cpu or cuda, got {device!r}")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's global and PyTorch's generators (changes global state)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def default_loss_terms(
    *, distillation: bool, min_area: float = 100.0, relation_weight: float = 1e-3
) -> list[LossTerm]:
    """
    Return the training loss of a harmonization model.

    Parameters
    ----------
    distillation
        Add the relation-distillation term.
    min_area
        ``A_min`` of :class:`~ccharmony.harmonization.losses.MaskWeightedMSE`.
    relation_weight
        lambda of the distillation term (our default 1e-3 on the [0, 1] RGB
        scale; the paper does not fix it for this scale).

    Returns
    -------
    list of LossTerm

    References
    ----------
    :cite:`Niu2023`
    """
    terms = [LossTerm("fn_mse", MaskWeightedMSE(min_area), 1.0)]
    if distillation:
        terms.append(LossTerm("relation", RelationDistillationL1(), relation_weight))
    return terms


def reconstruction_loss_terms() -> list[LossTerm]:
    """Return the teacher's loss: the MSE of the reconstructed real image."""
    return [LossTerm("mse", ImageMSE(), 1.0)]


def save_checkpoint(path: PathType, state: dict) -> None:
    """
    Write a checkpoint atomically (temporary file, then ``os.replace``).

    Parameters
    ----------
    path
        Destination ``.pt`` file; its folder is created.
    state
        Checkpoint dict (tensors, numbers, strings, lists and dicts only).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            torch.save(state, stream)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def _run_settings(options: TrainOptions, device: torch.device) -> Iterator[None]:
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    try:
        if options.num_threads:
            torch.set_num_threads(int(options.num_threads))
        if options.deterministic:
            if device.type == "cpu":
                torch.use_deterministic_algorithms(True)
            else:
                # Bilinear up-sampling has no deterministic CUDA backward; keep
                # cuDNN deterministic and leave the global switch alone.
                torch.backends.cudnn.deterministic = True
                torch.backends.cudnn.benchmark = False
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn


def _milestones(options: TrainOptions) -> list[int]:
    return sorted({max(1, int(round(m * options.epochs))) for m in options.lr_milestones})


def _to_device(batch: dict, device: torch.device) -> dict:
    return {
        key: value.to(device, non_blocking=True) if torch.is_tensor(value) else value
        for key, value in batch.items()
    }


def train(
    model: nn.Module,
    train_loader: DataLoader,
    *,
    options: TrainOptions,
    loss_terms: Sequence[LossTerm],
    teacher: nn.Module | None = None,
    sampler: object | None = None,
    checkpoint_path: PathType | None = None,
    resume: bool = True,
    checkpoint_meta: dict | None = None,
    description: str = "train",
) -> TrainResult:
    """
    Train a model in place on a loader and return the loss history.

    Parameters
    ----------
    model
        ``forward(images, masks) -> {"images": ..., ...}``; trained in place
        and left on the training device.
    train_loader
        Yields batch dicts with ``images``, ``masks`` and ``target_images``.
    options
        :class:`TrainOptions`.
    loss_terms
        :class:`~ccharmony.harmonization.losses.LossTerm` sequence, e.g.
        :func:`default_loss_terms`.
    teacher
        Frozen relation-distillation teacher with ``relation_maps(images,
        masks)``; its maps of the real images are added to the batch under
        ``teacher_relation_maps``.
    sampler
        A distributed sampler (``set_epoch``) when the loader has one; the
        loader's own sampler and dataset get ``set_epoch`` too.
    checkpoint_path
        Checkpoint written after every epoch; resumed from when it exists and
        ``resume`` is True.
    resume
        Resume from ``checkpoint_path`` when present.
    checkpoint_meta
        Extra entries stored in the checkpoint (model name and options).
    description
        Progress-bar label.

    Returns
    -------
    TrainResult

    Raises
    ------
    ConfigError
        When the device is unavailable or a loss key is missing.

    Notes
    -----
    Under ``torchrun`` (:mod:`ccharmony.harmonization.distributed`) the model
    is wrapped in ``DistributedDataParallel`` for the loop (``model`` itself
    keeps the weights), the history is the mean over processes, the
    throughput counts every process's samples, and only rank 0 writes the
    checkpoint (every rank resumes from it). The loader then gives each
    process its share of the global batch
    (:func:`~ccharmony.harmonization.data.make_loader` with ``rank`` and
    ``world_size``). In one process nothing changes.

    References
    ----------
    :cite:`Kingma2015`, :cite:`Niu2023`
    """
    device = distributed.local_device(resolve_device(str(options.device)))
    use_amp = bool(options.amp and device.type == "cuda")
    model.to(device)
    if teacher is not None:
        teacher.to(device).eval()
        for parameter in teacher.parameters():
            parameter.requires_grad_(False)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, _milestones(options), options.lr_gamma)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    history: list[dict[str, float]] = []
    start_epoch = 0
    if checkpoint_path is not None and resume and Path(checkpoint_path).exists():
        start_epoch, history = _resume(Path(checkpoint_path), model, optimizer, scheduler,
                                       scaler if use_amp else None, device=device, options=options)
        LOGGER.info("%s: resumed from %s at epoch %d", description, checkpoint_path, start_epoch)

    net = distributed.wrap_model(model, device)
    samples = 0
    first_step_loss: float | None = None
    started = time.perf_counter()
    with _run_settings(options, device):
        for epoch in range(start_epoch, options.epochs):
            for holder in (sampler, getattr(train_loader, "sampler", None), train_loader.dataset):
                if holder is not None and hasattr(holder, "set_epoch"):
                    getattr(holder, "set_epoch")(epoch)
            net.train()
            sums: dict[str, torch.Tensor | float] = {}
            batches = 0
            bar = tqdm(
                train_loader,
                desc=f"{description} {epoch + 1}/{options.epochs}",
                disable=not options.progress,
                leave=False,
                dynamic_ncols=True,
            )
            for batch in bar:
                batch = _to_device(batch, device)
                with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                    outputs = net(batch["images"], batch["masks"])
                    if teacher is not None:
                        with torch.no_grad():
                            relation_maps = getattr(teacher, "relation_maps")
                            batch["teacher_relation_maps"] = relation_maps(batch["target_images"], batch["masks"])
                    loss, values = compute_loss(loss_terms, outputs, batch)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if options.grad_clip is not None:
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_(model.parameters(), options.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                # Sums stay on the device (compute_loss's values may be numbers or tensors).
                totals: dict[str, torch.Tensor | float] = {**values, "loss": loss.detach().float()}
                for key, value in totals.items():
                    sums[key] = sums.get(key, 0.0) + (value.detach() if isinstance(value, torch.Tensor) else value)
                if first_step_loss is None:
                    first_step_loss = float(totals["loss"])
                batches += 1
                samples += int(batch["images"].shape[0])
                if options.progress and batches % options.log_every == 0:
                    bar.set_postfix(loss=f"{float(sums['loss']) / batches:.5f}")
            bar.close()
            scheduler.step()
            record = {key: float(value) / max(batches, 1) for key, value in sums.items()}
            record = distributed.all_reduce_mean(record, device=device)
            record["epoch"] = float(epoch + 1)
            record["learning_rate"] = float(optimizer.param_groups[0]["lr"])
            history.append(record)
            LOGGER.info("%s epoch %d/%d: %s", description, epoch + 1, options.epochs, record)
            if checkpoint_path is not None and distributed.is_main():
                save_checkpoint(
                    checkpoint_path,
                    {
                        "format": CHECKPOINT_FORMAT,
                        **(checkpoint_meta or {}),
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "scaler": scaler.state_dict() if use_amp else {},
                        "epoch": epoch + 1,
                        "train_options": options.to_dict(),
                        "history": history,
                    },
                )
    samples = int(distributed.all_reduce_sum({"samples": float(samples)}, device=device)["samples"])
    distributed.barrier()
    seconds = time.perf_counter() - started
    return TrainResult(
        history=history,
        seconds=seconds,
        samples_per_second=samples / seconds if samples and seconds > 0 else 0.0,
        epochs_run=max(0, options.epochs - start_epoch),
        device=str(device),
        first_step_loss=first_step_loss,
    )


def _resume(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: object,
            scaler: torch.amp.GradScaler | None, *, device: torch.device,
            options: TrainOptions) -> tuple[int, list[dict[str, float]]]:
    """Load a checkpoint of this run into the model, optimiser and scheduler; return (epoch, history)."""
    checkpoint = read_checkpoint(path, device=device)
    report = match_weights(model, checkpoint.weights, source=str(path))
    if report.missing or report.unexpected or report.mismatched:
        raise ConfigError(f"{path}: checkpoint does not match the model being trained ({report.summary()}); "
                          "resume only the run that wrote it, or delete the checkpoint")
    state = checkpoint.state
    for key in ("optimizer", "scheduler"):
        if not isinstance(state.get(key), dict):
            raise ConfigError(f"{path}: checkpoint has no {key} state, so training cannot resume from it")
    epoch = int(state.get("epoch", 0))
    if epoch > options.epochs:
        raise ConfigError(f"{path}: checkpoint is at epoch {epoch}, past the {options.epochs} epochs asked for")
    try:
        model.load_state_dict(checkpoint.weights)
        optimizer.load_state_dict(state["optimizer"])
        getattr(scheduler, "load_state_dict")(state["scheduler"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
    except (RuntimeError, KeyError, ValueError, TypeError) as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"{path}: cannot resume from this checkpoint ({detail[:200]})") from None
    return epoch, list(state.get("history", []))
