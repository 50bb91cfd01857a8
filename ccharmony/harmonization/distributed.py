"""
Distributed training
====================

Data-parallel training across the processes that ``torchrun`` starts:

-   :func:`setup` / :func:`teardown` / :func:`session`: the process group from
    the ``torchrun`` environment variables (``RANK``, ``WORLD_SIZE``,
    ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``); backend ``gloo`` on the
    CPU, ``nccl`` on CUDA.
-   :func:`is_distributed`, :func:`get_rank`, :func:`get_world_size`,
    :func:`local_world_size`, :func:`is_main`: who this process is.
-   :func:`barrier`, :func:`all_reduce_mean`, :func:`all_reduce_sum`,
    :func:`broadcast_object`: collectives that are no-ops in one process.
-   :func:`local_device`: ``cuda`` -> ``cuda:LOCAL_RANK``.
-   :func:`wrap_model`: ``DistributedDataParallel`` (with ``SyncBatchNorm`` on
    CUDA).

Without ``WORLD_SIZE > 1`` in the environment nothing is initialised and
every helper behaves as in one process, so a plain run is unchanged.

References
----------
-   :cite:`Li2020` : Li, S., Zhao, Y., Varma, R., Salpekar, O., Noordhuis, P.,
    Li, T., Paszke, A., Smith, J., Vaughan, B., Damania, P., & Chintala, S.
    (2020). PyTorch Distributed: Experiences on Accelerating Data Parallel
    Training. Proc. VLDB Endow. 13(12), 3005-3018. doi:10.14778/3415478.3415530
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import os
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn

from ccharmony.errors import ConfigError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "TIMEOUT",
    "backend_for",
    "setup",
    "teardown",
    "session",
    "is_distributed",
    "get_rank",
    "get_world_size",
    "local_world_size",
    "is_main",
    "barrier",
    "all_reduce_sum",
    "all_reduce_mean",
    "broadcast_object",
    "local_device",
    "wrap_model",
]

TIMEOUT = datetime.timedelta(hours=2)
"""Collective timeout: rank 0 evaluates alone while the others wait."""


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as error:
        raise ConfigError(f"environment variable {name}={value!r} is not an integer") from error


def is_distributed() -> bool:
    """Return True when a process group with more than one process is initialised."""
    dist = torch.distributed
    return bool(dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1)


def get_rank() -> int:
    """Return this process's global rank (0 in one process)."""
    return int(torch.distributed.get_rank()) if is_distributed() else 0


def get_world_size() -> int:
    """Return the number of processes (1 in one process)."""
    return int(torch.distributed.get_world_size()) if is_distributed() else 1


def local_world_size() -> int:
    """Return the processes on this machine (``LOCAL_WORLD_SIZE``; 1 in one process)."""
    return max(1, _env_int("LOCAL_WORLD_SIZE", 1)) if is_distributed() else 1


def is_main() -> bool:
    """Return True on rank 0, the process that writes files."""
    return get_rank() == 0


def backend_for(device: torch.device | str) -> str:
    """
    Return the process-group backend of a device type.

    Examples
    --------
    >>> backend_for("cpu"), backend_for("cuda")
    ('gloo', 'nccl')
    """
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def local_device(device: torch.device | str) -> torch.device:
    """
    Return ``cuda:LOCAL_RANK`` for a bare CUDA device in a distributed run.

    Examples
    --------
    >>> local_device("cpu")
    device(type='cpu')
    """
    device = torch.device(device)
    if device.type == "cuda" and device.index is None and is_distributed():
        return torch.device("cuda", _env_int("LOCAL_RANK", 0))
    return device


def setup(device: torch.device | str = "cpu") -> bool:
    """
    Initialise the process group from the ``torchrun`` environment.

    Parameters
    ----------
    device
        Training device: ``gloo`` on the CPU, ``nccl`` on CUDA (whose
        ``LOCAL_RANK`` GPU becomes the current one).

    Returns
    -------
    bool
        True when this call initialised the group (call :func:`teardown`);
        False when ``WORLD_SIZE`` is unset or 1, or a group already exists.

    Raises
    ------
    ConfigError
        When the environment asks for several processes but
        :mod:`torch.distributed` is unavailable or a variable is missing.
    """
    world = _env_int("WORLD_SIZE", 1)
    dist = torch.distributed
    if world <= 1:
        return False
    if not dist.is_available():
        raise ConfigError(f"WORLD_SIZE={world} but this PyTorch build has no torch.distributed")
    if dist.is_initialized():
        return False
    missing = [name for name in ("RANK", "MASTER_ADDR", "MASTER_PORT") if not os.environ.get(name)]
    if missing:
        raise ConfigError(f"WORLD_SIZE={world} but {', '.join(missing)} unset; launch with torchrun")
    backend = backend_for(device)
    if backend == "nccl":
        torch.cuda.set_device(_env_int("LOCAL_RANK", 0))
    dist.init_process_group(backend=backend, init_method="env://", timeout=TIMEOUT)
    return True


def teardown() -> None:
    """Destroy the process group when one is initialised (no-op otherwise)."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        # Free DistributedDataParallel wrappers (reference cycles) that hold
        # the group, and let every rank finish its collectives: a gloo group
        # destroyed while a peer sends, or finalised at interpreter exit,
        # aborts the process.
        gc.collect()
        if dist.get_world_size() > 1:
            dist.barrier()
        dist.destroy_process_group()


@contextlib.contextmanager
def session(device: torch.device | str = "cpu") -> Iterator[None]:
    """Run a block inside :func:`setup` / :func:`teardown` (only tears down what it set up)."""
    created = setup(device)
    try:
        yield
    finally:
        if created:
            teardown()


def barrier() -> None:
    """Wait for every process (no-op in one process)."""
    if is_distributed():
        torch.distributed.barrier()


def _reduce(values: Mapping[str, float], device: torch.device | str) -> dict[str, float]:
    keys = sorted(values)
    tensor = torch.tensor([float(values[key]) for key in keys], dtype=torch.float64,
                          device=torch.device(device))
    torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.SUM)
    reduced = dict(zip(keys, tensor.cpu().tolist()))
    return {key: reduced[key] for key in values}


def all_reduce_sum(values: Mapping[str, float], *, device: torch.device | str = "cpu") -> dict[str, float]:
    """
    Return the sum over processes of each value (same keys on every process).

    Parameters
    ----------
    values
        Name -> number; every process passes the same names.
    device
        Device of the reduction tensor (the training device: NCCL needs CUDA).

    Examples
    --------
    >>> all_reduce_sum({"loss": 0.5})
    {'loss': 0.5}
    """
    if not is_distributed():
        return {key: float(value) for key, value in values.items()}
    return _reduce(values, device)


def all_reduce_mean(values: Mapping[str, float], *, device: torch.device | str = "cpu") -> dict[str, float]:
    """
    Return the mean over processes of each value (same keys on every process).

    Examples
    --------
    >>> all_reduce_mean({"loss": 0.5, "fn_mse": 0.25})
    {'loss': 0.5, 'fn_mse': 0.25}
    """
    world = get_world_size()
    return {key: value / world for key, value in all_reduce_sum(values, device=device).items()}


def broadcast_object(value: Any, *, source: int = 0) -> Any:
    """Return rank ``source``'s (picklable) ``value`` on every process."""
    if not is_distributed():
        return value
    holder = [value]
    torch.distributed.broadcast_object_list(holder, src=source)
    return holder[0]


def wrap_model(model: nn.Module, device: torch.device) -> nn.Module:
    """
    Return ``model`` wrapped in ``DistributedDataParallel`` (itself in one process).

    Parameters
    ----------
    model
        Model already on ``device``. On CUDA its BatchNorm layers become
        ``SyncBatchNorm`` in place (same parameters, same state-dict keys).
    device
        Training device.

    Returns
    -------
    torch.nn.Module
        Call it for the forward pass; ``model`` keeps the trained weights.

    Notes
    -----
    ``SyncBatchNorm`` needs CUDA, so on the CPU (``gloo``) each process
    normalises with the statistics of its own per-process batch and the
    running statistics are those of rank 0 (DDP broadcasts buffers): a run
    with BatchNorm layers is then close to, not equal to, one process with
    the global batch.

    References
    ----------
    :cite:`Li2020`
    """
    if not is_distributed():
        return model
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[device.index or 0], output_device=device.index or 0)
    return DistributedDataParallel(model)
