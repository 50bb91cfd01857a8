"""
Model definitions
=================

Define every harmonization model of the benchmark as data:

-   :class:`BackboneConfig`: the encoder-decoder (``issam`` or the legacy
    ``unet``), its widths, depth, normalisation, attention and initialisation.
-   :class:`GIFTConfig`: where the globally guided feature transformation sits
    (``skip``, ``decoder-output`` or ``encoder``) and at which levels.
-   :class:`DistillationConfig`: relation distillation: the features it
    supervises, the relation, the distance and lambda.
-   :class:`ModelConfig`: one model (a baseline or a network), validated,
    JSON-ready (:meth:`ModelConfig.to_dict`) and loadable from a dict or a
    YAML file (:meth:`ModelConfig.from_dict`, :func:`read_model_configs`).
-   :func:`teacher_config`, :func:`relation_taps`, :func:`backbone_key`: what
    the relation-distillation teacher of a model is, and the keys that pair its
    relation maps with the student's.

Levels
------
One index names a resolution level everywhere: level ``l`` is the output of
encoder block ``l`` (0 = full resolution, ``depth - 1`` = the bottleneck). The
skip connection of level ``l`` carries encoder block ``l``'s output into the
decoder block that works at that resolution (iSSAM's ``up_blocks[depth-2-l]``),
and "decoder-output level ``l``" is that decoder block's output. GIFT and the
skip connections exist at levels ``0 .. depth-2``; relation distillation on
raw encoder features may also use the bottleneck (the legacy ``unet-rd``).

Backbone-internal options keep iSSAM's own names and semantics
(``batchnorm_from``: first 0-based encoder block with BatchNorm;
``attend_from``: first 0-based decoder block with SSAM, from
SamsungLabs/image_harmonization ``iharm/model/modeling/unet.py``), so that
iSSAM's ``mconfigs`` entries map one to one.

An unknown key, a wrong type or a value outside its range raises
:class:`~ccharmony.errors.ConfigError` with one line naming the key, the value
and what is accepted.

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
-   :cite:`Sofiiuk2021` : Sofiiuk, K., Popenova, P., & Konushin, A. (2021).
    Foreground-aware Semantic Representations for Image Harmonization. WACV
    2021, 1620-1629. doi:10.1109/WACV48630.2021.00166
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from ccharmony._types import PathType
from ccharmony.errors import ConfigError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "BACKBONES",
    "PLACEMENTS",
    "RELATIONS",
    "DISTANCES",
    "KINDS",
    "BackboneConfig",
    "GIFTConfig",
    "DistillationConfig",
    "ModelConfig",
    "RelationTap",
    "read_model_configs",
    "teacher_config",
    "relation_taps",
    "backbone_key",
]

BackboneName = Literal["issam", "unet"]
Placement = Literal["skip", "decoder-output", "encoder"]
DistillationSite = Literal["gift", "skip", "encoder", "decoder-output"]
Relation = Literal["cosine-background", "cosine-all"]
Distance = Literal["l1", "l2"]
Kind = Literal["composite", "reinhard-lab", "reinhard-lalphabeta", "network"]
Init = Literal["xavier-gluon", "pytorch"]
Blur = Literal["xavier-gluon", "gaussian"]

BACKBONES: tuple[str, ...] = typing.get_args(BackboneName)
"""Backbone names."""
PLACEMENTS: tuple[str, ...] = typing.get_args(Placement)
"""GIFT placements."""
RELATIONS: tuple[str, ...] = typing.get_args(Relation)
"""Relation kinds of the distillation."""
DISTANCES: tuple[str, ...] = typing.get_args(Distance)
"""Distances between student and teacher relations."""
KINDS: tuple[str, ...] = typing.get_args(Kind)
"""Model kinds: the baselines and ``network``."""


@dataclass(frozen=True)
class BackboneConfig:
    """
    Define the encoder-decoder.

    Parameters
    ----------
    name
        ``"issam"``: iSSAM's U-Net with SSAM and image fusion
        (:mod:`~ccharmony.harmonization.models.issam`, :cite:`Sofiiuk2021`).
        ``"unet"``: our earlier U-Net (ELU, residual colour head,
        :mod:`~ccharmony.harmonization.models.unet`), kept for comparison.
    width
        Channels of encoder block 0 (iSSAM's ``ch``; 32 in
        ``improved_ssam256``). Block ``l`` has ``min(width 2^l, max_channels)``.
    depth
        Encoder blocks (4 in ``improved_ssam256``).
    max_channels
        Channel cap; ``None``: 512 for ``issam`` (iSSAM's default), 256 for
        ``unet``.
    batchnorm_from
        First encoder block (0-based) with BatchNorm; iSSAM's
        ``batchnorm_from`` (2: from the third block). iSSAM's decoder blocks
        always have BatchNorm; the legacy U-Net's follow its own rule.
    fusion
        Image fusion, ``out = a * input + (1 - a) * rgb(features)``; False for
        the reconstruction teacher.
    init
        ``"xavier-gluon"``: iSSAM's ``XavierGluon(rnd_type='gaussian',
        magnitude=1.0)`` applied to every module
        (``models/fixed256/improved_ssam.py``); ``"pytorch"``: PyTorch's
        defaults. ``None``: ``xavier-gluon`` for ``issam``, ``pytorch`` for
        ``unet``.
    attend_from
        ``issam`` only: first decoder block (0-based) with SSAM; ``None``: 2
        (the last of the three decoder blocks at depth 4), -1 for none.
    attention_mid_k
        ``issam`` only: SSAM's ``mid_k``; ``None``: 0.5.
    ssam_blur
        ``issam`` only: the 7x7 kernel SSAM blurs the mask with.
        ``"xavier-gluon"`` (``None``): as iSSAM's code leaves it, i.e. the
        Gaussian buffer overwritten by the initialiser (XavierGluon re-draws
        every module ``weight``, and the buffer is named ``weight``);
        ``"gaussian"``: the Gaussian (sigma 1) the code meant. Ignored when
        weights are loaded (the buffer is in the state dict).
    rgb_residual
        ``unet`` only: the colour head predicts a correction of the input
        (``None``: True).
    """

    name: BackboneName = "issam"
    width: int = 32
    depth: int = 4
    max_channels: int | None = None
    batchnorm_from: int = 2
    fusion: bool = True
    init: Init | None = None
    attend_from: int | None = None
    attention_mid_k: float | None = None
    ssam_blur: Blur | None = None
    rgb_residual: bool | None = None

    def __post_init__(self) -> None:
        _check_types(self, "backbone")
        if self.width < 1 or self.depth < 2:
            raise ConfigError(f"model config backbone: need width >= 1 and depth >= 2, got "
                              f"width={self.width}, depth={self.depth}")
        issam_only = {"attend_from": self.attend_from, "attention_mid_k": self.attention_mid_k,
                      "ssam_blur": self.ssam_blur}
        if self.name == "issam":
            if self.rgb_residual is not None:
                raise ConfigError("model config backbone.rgb_residual: only the unet backbone has it; "
                                  f"got {self.rgb_residual!r} for issam (remove the key)")
            defaults: dict[str, Any] = {"max_channels": 512, "init": "xavier-gluon", "attend_from": 2,
                                        "attention_mid_k": 0.5, "ssam_blur": "xavier-gluon"}
        else:
            given = [key for key, value in issam_only.items() if value is not None]
            if given:
                raise ConfigError(f"model config backbone.{given[0]}: only the issam backbone has it; "
                                  f"got {issam_only[given[0]]!r} for {self.name} (remove the key)")
            defaults = {"max_channels": 256, "init": "pytorch", "rgb_residual": True}
        for key, value in defaults.items():
            if getattr(self, key) is None:
                object.__setattr__(self, key, value)
        if int(self.max_channels or 0) < self.width:
            raise ConfigError(f"model config backbone.max_channels: must be >= width {self.width}, "
                              f"got {self.max_channels}")
        if not 0 <= self.batchnorm_from <= self.depth:
            raise ConfigError(f"model config backbone.batchnorm_from: must lie in 0..{self.depth} "
                              f"(depth = none), got {self.batchnorm_from}")
        if self.name == "issam" and (self.attention_mid_k or 0) <= 0:
            raise ConfigError(f"model config backbone.attention_mid_k: must be > 0, got {self.attention_mid_k}")

    def channels(self, level: int) -> int:
        """Return the channels of encoder block ``level`` (0-based)."""
        return min(self.width * 2**level, int(self.max_channels or 0))


@dataclass(frozen=True)
class GIFTConfig:
    """
    Place and shape the globally guided feature transformation.

    Parameters
    ----------
    placement
        ``"skip"`` (default): GIFT transforms the encoder features each skip
        connection carries into its decoder block, guided by the spatial mean
        of the bottleneck, inside the resized foreground mask (our reading of
        :cite:`Niu2023`, see :mod:`~ccharmony.harmonization.models`).
        ``"decoder-output"``: after each decoder block (our earlier design).
        ``"encoder"``: after each encoder block (its output feeds both the
        skip and the next block); the bottleneck is not computed yet there,
        so the guide is the spatial mean of the features being transformed.
    levels
        Levels (0 = full resolution, up to ``depth - 2``) that get GIFT;
        ``None``: all of them ("in every decoder block").
    hidden
        Hidden units of the MLP mapping the guide to the per-channel scales
        (DucoNet's mapping network has 256, ``iharm/model/base/Control_encoder.py``).
    demodulate
        StyleGAN2 demodulation of the modulated kernel :cite:`Karras2020`.
    init_noise
        Noise added to the identity kernel at initialisation, relative to
        ``1 / sqrt(fan_in)`` (GIFT starts close to the identity).
    """

    placement: Placement = "skip"
    levels: tuple[int, ...] | None = None
    hidden: int = 256
    demodulate: bool = True
    init_noise: float = 0.5

    def __post_init__(self) -> None:
        _check_types(self, "gift")
        if self.hidden < 1:
            raise ConfigError(f"model config gift.hidden: must be >= 1, got {self.hidden}")
        if self.init_noise < 0:
            raise ConfigError(f"model config gift.init_noise: must be >= 0, got {self.init_noise}")


@dataclass(frozen=True)
class DistillationConfig:
    """
    Configure relation distillation :cite:`Niu2023`.

    Parameters
    ----------
    site
        Whose features the student's relation is computed from: ``"gift"``
        (default) the GIFT-transformed features at GIFT's placement (the
        untransformed skip features when the model has no GIFT), or
        explicitly ``"skip"``, ``"encoder"`` or ``"decoder-output"``.
    levels
        Levels distilled; ``None``: GIFT's levels when the site is GIFT's
        placement, otherwise every skip level (``0 .. depth-2``).
    relation
        ``"cosine-background"`` (default): the distance is averaged over the
        background only, so the relation supervised is the one between the
        mask-averaged foreground feature and each background feature;
        ``"cosine-all"``: over every pixel (the foreground's self-similarity
        included; our earlier loss).
    distance
        ``"l1"`` (default) or ``"l2"`` (squared) between student and teacher
        cosine maps.
    weight
        lambda, the multiplier of the distillation term (the colour loss is on
        [0, 1] RGB).
    """

    site: DistillationSite = "gift"
    levels: tuple[int, ...] | None = None
    relation: Relation = "cosine-background"
    distance: Distance = "l1"
    weight: float = 1e-3

    def __post_init__(self) -> None:
        _check_types(self, "distillation")
        if self.weight < 0:
            raise ConfigError(f"model config distillation.weight: must be >= 0, got {self.weight}")


@dataclass(frozen=True)
class RelationTap:
    """
    Name one relation map: where the student takes it and where the teacher does.

    Parameters
    ----------
    site
        Student site: ``"skip"``, ``"encoder"`` or ``"decoder-output"``.
    level
        Resolution level.
    key
        Pairs the student's map with the teacher's:
        ``"<backbone key>/<encoder|decoder><level>"``; the teacher (no GIFT)
        has the same tensor at a skip and at the encoder output.
    """

    site: str
    level: int
    key: str

    @property
    def teacher_site(self) -> str:
        """Return the teacher's site: ``"decoder"`` for decoder outputs, else ``"encoder"``."""
        return "decoder" if self.site == "decoder-output" else "encoder"


@dataclass(frozen=True)
class ModelConfig:
    """
    Define one model of the benchmark.

    Parameters
    ----------
    name
        Row name in reports.
    kind
        ``"composite"`` (identity), ``"reinhard-lab"`` (statistics transfer in
        CIELAB), ``"reinhard-lalphabeta"`` (Reinhard et al.'s own l-alpha-beta
        space) or ``"network"`` (trained).
    description
        One line for reports.
    backbone
        :class:`BackboneConfig` (networks only).
    gift
        :class:`GIFTConfig`, or ``None`` for no GIFT.
    distillation
        :class:`DistillationConfig`, or ``None`` for no relation distillation.
    min_area
        ``A_min`` of the foreground-normalised MSE in pixels at 256x256 (100,
        DucoNet's ``MaskWeightedMSE(min_area=100)`` in
        ``models/DucoNet_256.py``; iSSAM trains with its default 1000,
        ``iharm/model/losses.py``); scaled by ``(train_size / 256)^2`` at other
        sizes (:meth:`min_area_at`).

    Examples
    --------
    >>> config = ModelConfig.from_dict({"name": "mine", "kind": "network",
    ...     "backbone": {"name": "issam", "width": 16}, "gift": {"levels": [0, 1]}})
    >>> config.gift.placement, config.backbone.channels(3)
    ('skip', 128)
    >>> ModelConfig.from_dict(config.to_dict()) == config
    True
    """

    name: str
    kind: Kind = "network"
    description: str = ""
    backbone: BackboneConfig | None = None
    gift: GIFTConfig | None = None
    distillation: DistillationConfig | None = None
    min_area: float = 100.0

    def __post_init__(self) -> None:
        _check_types(self, self.name if isinstance(self.name, str) else "model")
        where = f"model config {self.name}"
        if not self.name:
            raise ConfigError("model config name: must be a non-empty string, got ''")
        if self.min_area < 0:
            raise ConfigError(f"{where}.min_area: must be >= 0, got {self.min_area}")
        if self.kind != "network":
            extra = [key for key in ("backbone", "gift", "distillation") if getattr(self, key) is not None]
            if extra:
                raise ConfigError(f"{where}.{extra[0]}: a {self.kind} model has no {extra[0]}; remove the key")
            return
        backbone = self.backbone or BackboneConfig()
        object.__setattr__(self, "backbone", backbone)
        skip_levels = tuple(range(backbone.depth - 1))
        if self.gift is not None:
            _check_levels(self.gift.levels, skip_levels, f"{where}.gift.levels")
            if backbone.name == "unet" and self.gift.placement != "decoder-output":
                raise ConfigError(f"{where}.gift.placement: the legacy unet backbone supports "
                                  f"'decoder-output' only, got {self.gift.placement!r}; use backbone issam")
        if self.distillation is not None:
            site = self.distillation_site
            allowed = tuple(range(backbone.depth)) if site == "encoder" else skip_levels
            _check_levels(self.distillation.levels, allowed, f"{where}.distillation.levels")
            if backbone.name == "unet" and site != "encoder":
                raise ConfigError(f"{where}.distillation.site: the legacy unet backbone distils raw "
                                  f"encoder features only ('encoder'), got {site!r}; use backbone issam")

    @property
    def trainable(self) -> bool:
        """Return whether the model is trained (a network)."""
        return self.kind == "network"

    @property
    def gift_levels(self) -> tuple[int, ...]:
        """Return the levels with GIFT (empty without GIFT)."""
        if self.gift is None or self.backbone is None:
            return ()
        if self.gift.levels is None:
            return tuple(range(self.backbone.depth - 1))
        return tuple(sorted(set(self.gift.levels)))

    @property
    def distillation_site(self) -> str:
        """Return the student site of the distillation (``"gift"`` resolved)."""
        if self.distillation is None:
            return ""
        if self.distillation.site != "gift":
            return self.distillation.site
        return self.gift.placement if self.gift is not None else "skip"

    @property
    def distillation_levels(self) -> tuple[int, ...]:
        """Return the distilled levels (``None`` resolved; empty without distillation)."""
        if self.distillation is None or self.backbone is None:
            return ()
        if self.distillation.levels is not None:
            return tuple(sorted(set(self.distillation.levels)))
        if self.gift is not None and self.gift.placement == self.distillation_site:
            return self.gift_levels
        return tuple(range(self.backbone.depth - 1))

    def min_area_at(self, train_size: int) -> float:
        """Return ``A_min`` in pixels at ``train_size`` (scaled with the area from 256x256)."""
        return self.min_area * (train_size / 256.0) ** 2

    def with_backbone(self, **changes: Any) -> ModelConfig:
        """Return a copy with backbone fields changed (networks only; baselines unchanged)."""
        if self.backbone is None:
            return self
        return replace(self, backbone=replace(self.backbone, **changes))

    def to_dict(self) -> dict:
        """Return the config as a JSON-ready dict (tuples as lists)."""
        return _to_json(self)

    def to_json(self) -> str:
        """Return :meth:`to_dict` as JSON text with sorted keys."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> ModelConfig:
        """
        Build a config from a dict (as written by :meth:`to_dict` or YAML).

        Raises
        ------
        ConfigError
            On an unknown key, a wrong type or an invalid value.
        """
        return _from_dict(cls, data, "model config")


def read_model_configs(path: PathType) -> list[ModelConfig]:
    """
    Read model definitions from a YAML (or JSON) file.

    Parameters
    ----------
    path
        A file holding one model mapping, or ``{"models": [mapping, ...]}``.

    Returns
    -------
    list of ModelConfig

    Raises
    ------
    ConfigError
        When the file is unreadable, not a mapping, or a definition is invalid.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "models.yaml"
    >>> _ = path.write_text("models:\\n  - {name: a, kind: composite}\\n  - {name: b}\\n")
    >>> [(c.name, c.kind, c.backbone.name if c.backbone else None) for c in read_model_configs(path)]
    [('a', 'composite', None), ('b', 'network', 'issam')]
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read model definitions ({error}); give a YAML file") from None
    if isinstance(data, dict) and set(data) == {"models"}:
        entries = data["models"]
        if not isinstance(entries, list):
            raise ConfigError(f"{path}: 'models' must be a list of model mappings, got {type(entries).__name__}")
    elif isinstance(data, dict):
        entries = [data]
    else:
        raise ConfigError(f"{path}: expected a model mapping or {{models: [...]}}, got {type(data).__name__}")
    configs = [ModelConfig.from_dict(entry) for entry in entries]
    names = [config.name for config in configs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigError(f"{path}: model name {duplicates[0]!r} defined twice; names must be unique")
    return configs


def backbone_key(backbone: BackboneConfig) -> str:
    """
    Return a short key of a backbone's architecture (fusion and colour head excluded).

    The teacher has the student's backbone without image fusion (and, for the
    legacy U-Net, with an absolute colour head); both get the same key, which
    pairs their relation maps.

    Examples
    --------
    >>> a = BackboneConfig(); b = BackboneConfig(fusion=False)
    >>> backbone_key(a) == backbone_key(b), backbone_key(a).startswith("issam-")
    (True, True)
    """
    data = _to_json(backbone)
    for key in ("fusion", "rgb_residual"):
        data.pop(key, None)
    digest = hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()[:8]
    return f"{backbone.name}-{digest}"


def relation_taps(config: ModelConfig) -> tuple[RelationTap, ...]:
    """
    Return the relation maps a model is distilled on (empty without distillation).

    Examples
    --------
    >>> config = ModelConfig("g", gift=GIFTConfig(), distillation=DistillationConfig())
    >>> [(tap.site, tap.level, tap.teacher_site) for tap in relation_taps(config)]
    [('skip', 0, 'encoder'), ('skip', 1, 'encoder'), ('skip', 2, 'encoder')]
    """
    if config.distillation is None or config.backbone is None:
        return ()
    prefix = backbone_key(config.backbone)
    site = config.distillation_site
    taps = []
    for level in config.distillation_levels:
        teacher_site = "decoder" if site == "decoder-output" else "encoder"
        taps.append(RelationTap(site, level, f"{prefix}/{teacher_site}{level}"))
    return tuple(taps)


def teacher_config(config: ModelConfig) -> ModelConfig:
    """
    Return the reconstruction teacher of a distilled model.

    The teacher has the student's backbone without image fusion (it must
    reconstruct the real image through its features, not copy its input), no
    GIFT, and for the legacy U-Net an absolute colour head; it is trained on
    (real image, mask) -> real image first and then frozen :cite:`Niu2023`.

    Raises
    ------
    ConfigError
        When the model has no distillation.

    Examples
    --------
    >>> teacher = teacher_config(ModelConfig("g", distillation=DistillationConfig()))
    >>> teacher.name, teacher.backbone.fusion, teacher.gift
    ('g-teacher', False, None)
    """
    if config.distillation is None or config.backbone is None:
        raise ConfigError(f"model config {config.name}: no distillation, so no teacher")
    changes: dict[str, Any] = {"fusion": False}
    if config.backbone.name == "unet":
        changes["rgb_residual"] = False
    return ModelConfig(
        name=f"{config.name}-teacher",
        kind="network",
        description=f"reconstruction teacher of {config.name}",
        backbone=replace(config.backbone, **changes),
        min_area=config.min_area,
    )


# -- typed parsing -----------------------------------------------------------------------------

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(arg) for arg in typing.get_args(hint))
    if origin in (Union, types.UnionType):
        return " or ".join("null" if arg is type(None) else _describe(arg) for arg in typing.get_args(hint))
    if origin is tuple:
        return f"a list of {_describe(typing.get_args(hint)[0])}"
    if dataclasses.is_dataclass(hint):
        return "a mapping"
    return getattr(hint, "__name__", str(hint))


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is type(None):
        return value is None
    if origin is Literal:
        return any(value == arg and type(value) is type(arg) for arg in typing.get_args(hint))
    if origin in (Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if origin is tuple:
        return isinstance(value, tuple) and all(_matches(item, typing.get_args(hint)[0]) for item in value)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # pragma: no cover - every field type is handled above


def _check_types(instance: Any, where: str) -> None:
    for item in fields(instance):
        hint = _hints(type(instance))[item.name]
        value = getattr(instance, item.name)
        if isinstance(value, list):
            value = tuple(value)
            object.__setattr__(instance, item.name, value)
        if isinstance(value, int) and not isinstance(value, bool) and hint in (float, float | None):
            object.__setattr__(instance, item.name, float(value))
            continue
        if not _matches(value, hint):
            raise ConfigError(f"model config {where}.{item.name}: expected {_describe(hint)}, got {value!r}")


def _check_levels(levels: tuple[int, ...] | None, allowed: tuple[int, ...], where: str) -> None:
    if levels is None:
        return
    if not levels:
        raise ConfigError(f"{where}: give at least one level (or null for all), got []")
    bad = [level for level in levels if level not in allowed]
    if bad:
        raise ConfigError(f"{where}: levels must lie in {allowed[0]}..{allowed[-1]}, got {bad[0]}")


def _from_dict(cls: type, data: Any, where: str) -> Any:
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {data!r}")
    hints = _hints(cls)
    names = [item.name for item in fields(cls)]
    label = where if cls is not ModelConfig else f"model config {data.get('name', '?')}"
    unknown = [key for key in data if key not in names]
    if unknown:
        raise ConfigError(f"{label}: unknown key {unknown[0]!r}; accepted: {', '.join(names)}")
    values: dict[str, Any] = {}
    for key, value in data.items():
        hint = hints[key]
        nested = [arg for arg in typing.get_args(hint) if isinstance(arg, type) and dataclasses.is_dataclass(arg)]
        if nested and value is not None:
            values[key] = _from_dict(nested[0], value, f"{label}.{key}")
        elif isinstance(value, list):
            values[key] = tuple(value)
        else:
            values[key] = value
    required = [item.name for item in fields(cls)
                if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING]
    missing = [name for name in required if name not in values]
    if missing:
        raise ConfigError(f"{label}: missing key {missing[0]!r}")
    try:
        return cls(**values)
    except ConfigError as error:
        # A nested section names itself ("model config gift.levels"); say whose it is.
        prefix = f"model config {_SECTIONS.get(cls, '')}"
        text = str(error)
        if cls in _SECTIONS and text.startswith(prefix):
            raise ConfigError(where + text[len(prefix):]) from None
        raise


_SECTIONS: dict[type, str] = {BackboneConfig: "backbone", GIFTConfig: "gift", DistillationConfig: "distillation"}


def _to_json(instance: Any) -> dict:
    data: dict[str, Any] = {}
    for item in fields(instance):
        value = getattr(instance, item.name)
        if dataclasses.is_dataclass(value):
            data[item.name] = _to_json(value)
        elif isinstance(value, tuple):
            data[item.name] = list(value)
        else:
            data[item.name] = value
    return data

