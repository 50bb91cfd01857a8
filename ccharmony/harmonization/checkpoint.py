"""
Checkpoints
===========

Read, validate and apply training checkpoints:

-   :data:`CHECKPOINT_FORMAT`: the ``format`` field of every checkpoint
    :func:`~ccharmony.harmonization.engine.train` writes.
-   :class:`Checkpoint`: a validated checkpoint (model name, options, weights,
    metadata, and the whole state for resuming).
-   :func:`read_checkpoint`: read a ``.pt`` file with ``weights_only=True``
    and check every field a reader uses, so that a file in the right container
    with bad content (an unknown option key, an option of the wrong type,
    options or weights given as a string, no ``model`` key) is one clear
    error, not a traceback later.
-   :func:`build_from_checkpoint`: the model a checkpoint describes, with its
    weights.
-   :class:`InitReport`, :func:`match_weights`, :func:`apply_weights`:
    initialise a model from another checkpoint's weights by parameter name
    (``--init-from``), with the matched, missing, unexpected and
    shape-mismatched keys reported.

Initialisation by name follows iSSAM's ``load_weights``
(SamsungLabs/image_harmonization, ``iharm/utils/misc.py``: the model's
state dict updated with the file's entries), plus a report, and two refusals
that keep a run from silently training from scratch: no key in common, or a
key whose shape differs (a checkpoint of another width).

A *foreign* checkpoint (``foreign=True``, for ``--init-from`` only) may also be
a plain state dict (what iSSAM and DucoNet save: ``torch.save(net.state_dict())``)
or a dict with its weights under ``"state_dict"`` or ``"model"``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ccharmony._types import PathType
from ccharmony.errors import ConfigError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "CHECKPOINT_FORMAT",
    "Checkpoint",
    "read_checkpoint",
    "build_from_checkpoint",
    "InitReport",
    "match_weights",
    "apply_weights",
]

CHECKPOINT_FORMAT = "ccharmony-harmonization-checkpoint-1"
"""The ``format`` field of every checkpoint ccharmony writes."""

_WEIGHT_KEYS = ("model", "optimizer", "scheduler", "scaler")


@dataclass(frozen=True)
class Checkpoint:
    """
    Hold a validated checkpoint.

    Parameters
    ----------
    path
        The file read.
    weights
        Parameter and buffer name -> tensor (the model's state dict).
    model_name
        Registered model name, ``"teacher"`` for a relation-distillation
        teacher, ``None`` for a foreign checkpoint (or one written by
        :func:`~ccharmony.harmonization.engine.train` without a name).
    model_options
        The :class:`~ccharmony.harmonization.models.ModelOptions` dict
        (checked against the known keys and types; ``{}`` when absent).
    meta
        Every other entry except the optimiser, scheduler and scaler states
        (``epoch``, ``history``, ``inference_size``, ``preset``, ...).
    state
        The whole checkpoint dict, for resuming.
    foreign
        True when the file is not a ccharmony checkpoint (plain state dict).
    """

    path: Path
    weights: dict[str, torch.Tensor]
    model_name: str | None = None
    model_options: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    state: dict = field(default_factory=dict)
    foreign: bool = False


def _kind(value: object) -> str:
    return "a string" if isinstance(value, str) else f"a {type(value).__name__}"


def _check_option(value: Any, default: Any, where: str, path: Path) -> None:
    """Check one option value against the type of its default (recursively for dicts)."""
    def refuse(expected: str) -> ConfigError:
        return ConfigError(f"{path}: checkpoint option {where} must be {expected}, got {value!r}")

    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise refuse("a mapping")
        for key, item in value.items():
            if key not in default:
                raise ConfigError(
                    f"{path}: unknown checkpoint option {where}.{key}; accepted: {', '.join(sorted(default))}"
                )
            _check_option(item, default[key], f"{where}.{key}", path)
    elif isinstance(default, bool):
        if not isinstance(value, bool):
            raise refuse("true or false")
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise refuse("a whole number")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise refuse("a finite number")
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise refuse("a string")
    elif isinstance(default, (list, tuple)) or default is None:
        # Lists of stage numbers; None marks "all" (e.g. gift.stages).
        if value is None and default is None:
            return
        if not isinstance(value, (list, tuple)) or any(
                isinstance(item, bool) or not isinstance(item, int) for item in value):
            raise refuse("a list of whole numbers" + (" or null" if default is None else ""))


def _check_model_options(options: object, path: Path) -> dict:
    from ccharmony.harmonization.models import ModelOptions

    if not isinstance(options, dict):
        raise ConfigError(f"{path}: checkpoint model_options must be a mapping, got {_kind(options)}")
    _check_option(options, ModelOptions().to_dict(), "model_options", path)
    try:
        ModelOptions.from_dict(options)
    except (ConfigError, TypeError, ValueError) as error:
        raise ConfigError(f"{path}: checkpoint model_options are not valid ({error})") from None
    return options


def _check_weights(weights: object, path: Path, key: str) -> dict[str, torch.Tensor]:
    if not isinstance(weights, Mapping):
        raise ConfigError(f"{path}: checkpoint weights ({key!r}) must be a mapping of tensors, got {_kind(weights)}")
    for name, value in weights.items():
        if not isinstance(name, str) or not torch.is_tensor(value):
            raise ConfigError(
                f"{path}: checkpoint weights ({key!r}) must map parameter names to tensors; "
                f"entry {name!r} is {_kind(value)}"
            )
    if not weights:
        raise ConfigError(f"{path}: checkpoint weights ({key!r}) are empty")
    return dict(weights)


def _check_meta(state: dict, path: Path) -> None:
    epoch = state.get("epoch", 0)
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ConfigError(f"{path}: checkpoint epoch must be a whole number >= 0, got {epoch!r}")
    history = state.get("history", [])
    if not isinstance(history, list) or any(not isinstance(record, dict) for record in history):
        raise ConfigError(f"{path}: checkpoint history must be a list of per-epoch records")
    size = state.get("inference_size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ConfigError(f"{path}: checkpoint inference_size must be a whole number >= 1 or null, got {size!r}")
    for key in ("optimizer", "scheduler", "scaler", "train_options", "preset"):
        if key in state and not isinstance(state[key], dict):
            raise ConfigError(f"{path}: checkpoint {key} must be a mapping, got {_kind(state[key])}")


def _load(path: Path, device: torch.device | str) -> object:
    from ccharmony.io.files import open_regular

    with open_regular(path, what="a checkpoint file", error=ConfigError) as handle:
        try:
            return torch.load(handle, map_location=device, weights_only=True)
        except Exception as error:  # noqa: BLE001 - any unpickling failure is a bad file
            detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
            hint = f": {detail[:160]}" if detail else ""
            raise ConfigError(f"{path}: not a readable checkpoint ({type(error).__name__}{hint})") from None


def read_checkpoint(
    path: PathType,
    *,
    device: torch.device | str = "cpu",
    foreign: bool = False,
) -> Checkpoint:
    """
    Read and validate a checkpoint file.

    Parameters
    ----------
    path
        ``.pt`` file; only a regular file is opened (a FIFO or a device is
        refused without blocking), and it is unpickled with
        ``torch.load(weights_only=True)``, so no code in the file runs.
    device
        ``map_location`` of the tensors.
    foreign
        Also accept a checkpoint that ccharmony did not write (a plain state
        dict, or one under ``"state_dict"`` / ``"model"``); for
        initialisation only (``--init-from``).

    Returns
    -------
    Checkpoint

    Raises
    ------
    ConfigError
        One line naming the file: missing, not a regular file, not
        unpicklable as weights, not a dict, another ``format``, no ``model``
        key, weights that are not a mapping of tensors, an unknown model name,
        ``model_options`` that are not a mapping or have an unknown key or a
        value of the wrong type, a bad ``epoch``/``history``/``inference_size``.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "bad.pt"
    >>> torch.save({"format": CHECKPOINT_FORMAT, "model_name": "unet", "model": "weights"}, target)
    >>> read_checkpoint(target)
    Traceback (most recent call last):
    ...
    ccharmony.errors.ConfigError: ...bad.pt: checkpoint weights ('model') must be a mapping of tensors, got a string
    """
    from ccharmony.harmonization.models import MODELS

    path = Path(path)
    state = _load(path, device)
    if not isinstance(state, dict):
        raise ConfigError(f"{path}: not a ccharmony harmonization checkpoint (a {type(state).__name__}, not a dict)")
    if state.get("format") != CHECKPOINT_FORMAT:
        if not foreign:
            raise ConfigError(
                f"{path}: not a ccharmony harmonization checkpoint (format {state.get('format')!r}, "
                f"expected {CHECKPOINT_FORMAT!r})"
            )
        for key in ("state_dict", "model"):
            if key in state and isinstance(state[key], Mapping):
                return Checkpoint(path=path, weights=_check_weights(state[key], path, key), state=state,
                                  foreign=True)
        return Checkpoint(path=path, weights=_check_weights(state, path, "state dict"), state=state, foreign=True)
    if "model" not in state:
        raise ConfigError(f"{path}: checkpoint has no 'model' entry (the weights); it cannot be used")
    weights = _check_weights(state["model"], path, "model")
    name = state.get("model_name")
    if name is not None and (not isinstance(name, str) or (name not in MODELS and name != "teacher")):
        raise ConfigError(
            f"{path}: checkpoint model_name must be a registered model ({', '.join(MODELS)}) or 'teacher', "
            f"got {name!r}"
        )
    options = _check_model_options(state.get("model_options", {}), path)
    _check_meta(state, path)
    meta = {key: value for key, value in state.items() if key not in _WEIGHT_KEYS}
    return Checkpoint(path=path, weights=weights, model_name=name, model_options=options, meta=meta, state=state)


def build_from_checkpoint(checkpoint: Checkpoint) -> nn.Module:
    """
    Build the model a ccharmony checkpoint describes and load its weights (strictly).

    Returns
    -------
    torch.nn.Module
        On the CPU unless the weights were mapped elsewhere, in train mode.

    Raises
    ------
    ConfigError
        For a foreign checkpoint, or weights that do not fit the model.
    """
    from ccharmony.harmonization.models import ModelOptions, build_model

    if checkpoint.model_name is None:
        raise ConfigError(f"{checkpoint.path}: the checkpoint names no model (no model_name), so none can be built")
    if checkpoint.model_name == "teacher":
        raise ConfigError(f"{checkpoint.path}: a relation-distillation teacher (trained to reconstruct real "
                          "images), not a harmonization model; use a model's checkpoint")
    model = build_model(checkpoint.model_name, ModelOptions.from_dict(checkpoint.model_options))
    report = match_weights(model, checkpoint.weights)
    if report.missing or report.unexpected or report.mismatched:
        raise ConfigError(f"{checkpoint.path}: weights do not match model {checkpoint.model_name!r}: "
                          f"{report.summary()}")
    model.load_state_dict(checkpoint.weights)
    return model


@dataclass(frozen=True)
class InitReport:
    """
    Say which weights of a checkpoint initialised a model.

    Parameters
    ----------
    source
        The checkpoint file.
    model
        The model initialised.
    matched
        Keys present in both with the same shape (loaded).
    missing
        Model keys absent from the checkpoint (left at their initial values).
    unexpected
        Checkpoint keys the model does not have (ignored).
    mismatched
        ``(key, checkpoint shape, model shape)`` for keys in both whose
        shapes differ.
    """

    source: str
    model: str
    matched: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    mismatched: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = ()

    def summary(self) -> str:
        """Return one line with the four counts (and the first mismatch)."""
        line = (f"{len(self.matched)} matched, {len(self.missing)} missing, {len(self.unexpected)} unexpected, "
                f"{len(self.mismatched)} shape mismatches")
        if self.mismatched:
            key, theirs, ours = self.mismatched[0]
            line += f" (first: {key} is {list(theirs)} in the checkpoint, {list(ours)} in the model)"
        return line

    def to_dict(self) -> dict:
        """Return the report as a JSON-ready dict."""
        return {
            "source": self.source,
            "model": self.model,
            "matched": list(self.matched),
            "missing": list(self.missing),
            "unexpected": list(self.unexpected),
            "mismatched": [{"key": key, "checkpoint": list(theirs), "model": list(ours)}
                           for key, theirs, ours in self.mismatched],
            "summary": self.summary(),
        }

    def to_json(self) -> str:
        """Return :meth:`to_dict` as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2) + "\n"


def match_weights(model: nn.Module, weights: Mapping[str, torch.Tensor], *, source: str = "",
                  name: str = "") -> InitReport:
    """
    Compare a model's state dict with checkpoint weights, key by key.

    Examples
    --------
    >>> layer = nn.Linear(2, 3)
    >>> report = match_weights(layer, {"weight": torch.zeros(3, 2), "bias": torch.zeros(4), "extra": torch.zeros(1)})
    >>> report.summary()
    '1 matched, 0 missing, 1 unexpected, 1 shape mismatches (first: bias is [4] in the checkpoint, [3] in the model)'
    """
    own = model.state_dict()
    matched, mismatched = [], []
    for key, value in own.items():
        if key in weights:
            theirs = tuple(weights[key].shape)
            if theirs == tuple(value.shape):
                matched.append(key)
            else:
                mismatched.append((key, theirs, tuple(value.shape)))
    return InitReport(
        source=source,
        model=name or str(getattr(model, "name", type(model).__name__)),
        matched=tuple(matched),
        missing=tuple(key for key in own if key not in weights),
        unexpected=tuple(key for key in weights if key not in own),
        mismatched=tuple(mismatched),
    )


def apply_weights(model: nn.Module, weights: Mapping[str, torch.Tensor], report: InitReport) -> None:
    """
    Load the matched weights of a report into a model (in place).

    Raises
    ------
    ConfigError
        When no key matched, or some shapes differ: the run would otherwise
        train (part of) the model from scratch without a word.
    """
    if report.mismatched:
        raise ConfigError(
            f"{report.source}: --init-from weights do not fit model {report.model!r}: {report.summary()}; "
            "use the preset (width) the checkpoint was trained with"
        )
    if not report.matched:
        raise ConfigError(
            f"{report.source}: --init-from shares no parameter name with model {report.model!r} "
            f"({len(report.unexpected)} keys in the checkpoint, e.g. "
            f"{', '.join(report.unexpected[:2]) or 'none'}); is it a checkpoint of this model?"
        )
    state = model.state_dict()
    with torch.no_grad():
        for key in report.matched:
            state[key].copy_(weights[key].to(state[key].device, state[key].dtype))
