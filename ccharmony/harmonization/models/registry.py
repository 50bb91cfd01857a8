"""
Model registry
==============

Name the models of the benchmark and build them from their definitions:

-   :data:`MODEL_CONFIGS`: name -> :class:`~ccharmony.harmonization.models.config.ModelConfig`.
-   :data:`MODELS`: name -> :class:`ModelSpec` (what benchmark code reads:
    ``trainable``, ``distillation``, ``description``); aliases resolve
    (``reinhard`` -> ``reinhard-lab``) but are not listed.
-   :data:`DEFAULT_MODELS`, :data:`ABLATION_MODELS`: the rows of a default run.
-   :func:`model_config`, :func:`build_model`, :func:`build_network`: a name or
    a config to a config or a module.
-   :func:`build_teacher`, :func:`teacher_key`: the relation-distillation
    teacher of a model, and a key equal for models that can share one.
-   :class:`ModelOptions`: the earlier options object (width, legacy U-Net
    and GIFT options), still accepted everywhere.
-   :class:`TeacherSet`: the teachers of every registered distilled model in
    one module, for callers that build a single teacher
    (``build_teacher(ModelOptions)``).

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from ccharmony.errors import ConfigError
from ccharmony.harmonization.models.baselines import CompositeModel, ReinhardModel
from ccharmony.harmonization.models.config import (
    BackboneConfig,
    DistillationConfig,
    GIFTConfig,
    ModelConfig,
    RelationTap,
    backbone_key,
    relation_taps,
    teacher_config,
)
from ccharmony.harmonization.models.giftnet import GIFTOptions, UNetGIFT
from ccharmony.harmonization.models.issam import GiftNet, ISSAMNet, init_xavier_gluon
from ccharmony.harmonization.models.unet import UNet, UNetOptions

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "ModelSpec",
    "ModelOptions",
    "MODEL_CONFIGS",
    "MODELS",
    "ALIASES",
    "DEFAULT_MODELS",
    "ABLATION_MODELS",
    "canonical_name",
    "validate_model_names",
    "model_config",
    "build_model",
    "build_network",
    "build_teacher",
    "teacher_key",
    "teacher_taps",
    "TeacherSet",
]

_ISSAM = BackboneConfig(name="issam")
_UNET = BackboneConfig(name="unet", batchnorm_from=2)
_RD = DistillationConfig()
_UNET_RD = DistillationConfig(site="encoder", levels=(2, 3), relation="cosine-all", distance="l1")

MODEL_CONFIGS: dict[str, ModelConfig] = {
    config.name: config
    for config in (
        ModelConfig("composite", "composite", "composite (no harmonization)"),
        ModelConfig("reinhard-lab", "reinhard-lab",
                    "Reinhard statistics transfer in CIELAB, background to foreground"),
        ModelConfig("reinhard-lalphabeta", "reinhard-lalphabeta",
                    "Reinhard et al. 2001 statistics transfer in l-alpha-beta, background to foreground"),
        ModelConfig("unet", description="legacy U-Net (ELU) with image fusion", backbone=_UNET),
        ModelConfig("unet-gift", description="legacy U-Net + GIFT on decoder outputs", backbone=_UNET,
                    gift=GIFTConfig(placement="decoder-output")),
        ModelConfig("unet-rd", description="legacy U-Net + relation distillation of encoder stages 3-4",
                    backbone=_UNET, distillation=_UNET_RD),
        ModelConfig("unet-gift-rd", description="legacy GiftNet: U-Net + GIFT on decoder outputs + "
                    "distillation of encoder stages 3-4", backbone=_UNET,
                    gift=GIFTConfig(placement="decoder-output"), distillation=_UNET_RD),
        ModelConfig("issam", description="iSSAM backbone (U-Net + SSAM + image fusion)", backbone=_ISSAM),
        ModelConfig("issam-gift", description="iSSAM + GIFT on the skip features", backbone=_ISSAM,
                    gift=GIFTConfig()),
        ModelConfig("issam-rd", description="iSSAM + relation distillation on the skip features",
                    backbone=_ISSAM, distillation=_RD),
        ModelConfig("giftnet", description="GiftNet: iSSAM + GIFT on the skip features + relation "
                    "distillation of the transformed features (re-implementation)",
                    backbone=_ISSAM, gift=GIFTConfig(), distillation=_RD),
    )
}
"""Registered model definitions, in report order (legacy U-Net rows, then the iSSAM rows up to GiftNet)."""

ALIASES: dict[str, str] = {"reinhard": "reinhard-lab"}
"""Former names still accepted: ``reinhard`` always meant the CIELAB transfer."""

ABLATION_MODELS: tuple[str, ...] = (
    "composite", "reinhard-lab", "reinhard-lalphabeta", "issam", "issam-gift", "issam-rd", "giftnet")
"""The ablation rows: composite, both Reinhards, backbone, +GIFT, +RD, GiftNet."""

DEFAULT_MODELS: tuple[str, ...] = ABLATION_MODELS
"""The rows a benchmark runs by default."""


@dataclass(frozen=True)
class ModelSpec:
    """
    Describe a registered model (the view benchmark code reads).

    Parameters
    ----------
    name
        Registry key.
    description
        One line for reports.
    trainable
        Whether the benchmark trains it.
    gift
        Whether it has GIFT.
    distillation
        Whether it trains with relation distillation (needs a teacher).
    config
        Its :class:`~ccharmony.harmonization.models.config.ModelConfig`.
    """

    name: str
    description: str
    trainable: bool
    gift: bool = False
    distillation: bool = False
    config: ModelConfig | None = None

    @classmethod
    def from_config(cls, config: ModelConfig) -> ModelSpec:
        """Return the spec of a config."""
        return cls(config.name, config.description, config.trainable, config.gift is not None,
                   config.distillation is not None, config)


class _Registry(Mapping[str, ModelSpec]):
    """Registered specs by name; aliases resolve but are not iterated."""

    def __init__(self, configs: Mapping[str, ModelConfig], aliases: Mapping[str, str]) -> None:
        self._specs = {name: ModelSpec.from_config(config) for name, config in configs.items()}
        self._aliases = dict(aliases)

    def __getitem__(self, name: str) -> ModelSpec:
        return self._specs[self._aliases.get(name, name)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._aliases.get(name, name) in self._specs

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


MODELS: Mapping[str, ModelSpec] = _Registry(MODEL_CONFIGS, ALIASES)
"""Registered models, in report order (aliases resolve on lookup)."""


def canonical_name(name: str) -> str:
    """
    Return the registered name of a model name or alias.

    Raises
    ------
    ConfigError
        When the name is unknown (the message lists the accepted names).

    Examples
    --------
    >>> canonical_name("reinhard")
    'reinhard-lab'
    """
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; accepted: {', '.join(MODELS)} (alias: "
                          + ", ".join(f"{a} = {c}" for a, c in ALIASES.items()) + ")")
    return ALIASES.get(name, name)


def validate_model_names(names: Sequence[str]) -> list[str]:
    """
    Check model names against :data:`MODELS` and return them in registry order.

    Names are returned as given (an alias stays an alias, so a report made
    with ``reinhard`` keeps its row name); two names of one model are refused.

    Raises
    ------
    ConfigError
        When a name is unknown or two names denote the same model.

    Examples
    --------
    >>> validate_model_names(["giftnet", "composite", "reinhard"])
    ['composite', 'reinhard', 'giftnet']
    """
    canonical = {name: canonical_name(name) for name in names}
    seen: dict[str, str] = {}
    for name, target in canonical.items():
        if target in seen and seen[target] != name:
            raise ConfigError(f"models {seen[target]!r} and {name!r} are the same model; give one of them")
        seen[target] = name
    order = list(MODELS)
    return sorted(dict.fromkeys(names), key=lambda name: order.index(canonical[name]))


@dataclass(frozen=True)
class ModelOptions:
    """
    Shape the learned models (the earlier options object, still accepted).

    Parameters
    ----------
    unet
        Its ``width`` and ``depth`` apply to every network (the presets set
        ``width``); its other fields shape the legacy U-Net rows only.
    gift
        GIFT options of the legacy U-Net rows.
    relation_stages
        Encoder stages (1-based) distilled by the legacy U-Net rows (3 and 4:
        the two deepest). The iSSAM rows take theirs from their config.
    legacy_names
        The options come from a checkpoint written before the registry of
        model definitions (no ``"registry"`` entry): ``giftnet`` then means
        the legacy ``unet-gift-rd``.
    """

    unet: UNetOptions = field(default_factory=UNetOptions)
    gift: GIFTOptions = field(default_factory=GIFTOptions)
    relation_stages: tuple[int, ...] = (3, 4)
    legacy_names: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "relation_stages", tuple(int(s) for s in self.relation_stages))
        bad = [s for s in self.relation_stages if not 1 <= s <= self.unet.depth]
        if bad:
            raise ConfigError(f"ModelOptions: relation_stages must lie in 1..{self.unet.depth}, got {bad}")

    def to_dict(self) -> dict:
        """Return the options as a JSON-ready dict (with the registry version)."""
        return {
            "unet": self.unet.to_dict(),
            "gift": self.gift.to_dict(),
            "relation_stages": list(self.relation_stages),
            "registry": 2,
        }

    @classmethod
    def from_dict(cls, data: dict) -> ModelOptions:
        """Rebuild options written by :meth:`to_dict` (or by earlier versions)."""
        unet = dict(data.get("unet", {}))
        unet["relation_stages"] = tuple(unet.get("relation_stages", ()))
        # Checkpoints written before the residual colour head existed used absolute colours.
        unet.setdefault("rgb_residual", False)
        gift = dict(data.get("gift", {}))
        if gift.get("stages") is not None:
            gift["stages"] = tuple(gift["stages"])
        return cls(
            unet=UNetOptions(**unet),
            gift=GIFTOptions(**gift),
            relation_stages=tuple(data.get("relation_stages", (3, 4))),
            legacy_names="registry" not in data,
        )


def _legacy_backbone(options: ModelOptions) -> BackboneConfig:
    unet = options.unet
    return BackboneConfig(name="unet", width=unet.width, depth=unet.depth, max_channels=unet.max_channels,
                          batchnorm_from=unet.batchnorm_from - 1, fusion=unet.fusion,
                          rgb_residual=unet.rgb_residual)


def _apply_options(config: ModelConfig, options: ModelOptions) -> ModelConfig:
    if config.backbone is None:
        return config
    if config.backbone.name != "unet":
        return config.with_backbone(width=options.unet.width, depth=options.unet.depth)
    backbone = _legacy_backbone(options)
    gift = config.gift
    if gift is not None:
        stages = options.gift.stages
        depth = backbone.depth
        gift = replace(gift, hidden=options.gift.hidden, demodulate=options.gift.demodulate,
                       init_noise=options.gift.init_noise,
                       levels=None if stages is None else tuple(depth - 2 - s for s in stages))
    distillation = config.distillation
    if distillation is not None:
        distillation = replace(distillation, levels=tuple(s - 1 for s in options.relation_stages))
    return replace(config, backbone=backbone, gift=gift, distillation=distillation)


def model_config(model: str | ModelConfig, options: ModelOptions | None = None) -> ModelConfig:
    """
    Return the definition of a model, with the options' width and depth applied.

    Parameters
    ----------
    model
        A registered name or alias, or a config (returned with the options applied).
    options
        :class:`ModelOptions`; ``None`` leaves the definition as registered.

    Raises
    ------
    ConfigError
        When the name is unknown.

    Examples
    --------
    >>> model_config("giftnet", ModelOptions(unet=UNetOptions(width=16))).backbone.width
    16
    """
    if isinstance(model, ModelConfig):
        config = model
    else:
        name = canonical_name(model)
        if options is not None and options.legacy_names and name == "giftnet":
            name = "unet-gift-rd"
        config = replace(MODEL_CONFIGS[name], name=model)
    return config if options is None else _apply_options(config, options)


def _unet_options(config: ModelConfig, *, taps: Sequence[RelationTap] = ()) -> UNetOptions:
    backbone = config.backbone
    if backbone is None:  # pragma: no cover - callers pass networks
        raise ConfigError(f"model config {config.name}: no backbone")
    return UNetOptions(width=backbone.width, depth=backbone.depth, max_channels=int(backbone.max_channels or 0),
                       batchnorm_from=backbone.batchnorm_from + 1, fusion=backbone.fusion,
                       relation_stages=tuple(sorted({tap.level + 1 for tap in taps})),
                       rgb_residual=bool(backbone.rgb_residual))


def _legacy_network(config: ModelConfig, taps: Sequence[RelationTap]) -> nn.Module:
    backbone = config.backbone
    if backbone is None:  # pragma: no cover - callers pass networks
        raise ConfigError(f"model config {config.name}: no backbone")
    options = _unet_options(config, taps=taps)
    prefix = backbone_key(backbone)
    model: UNet
    if config.gift is not None:
        gift = GIFTOptions(hidden=config.gift.hidden, demodulate=config.gift.demodulate,
                           init_noise=config.gift.init_noise,
                           stages=tuple(sorted(backbone.depth - 2 - level for level in config.gift_levels)))
        model = UNetGIFT(options, gift, relation_prefix=prefix)
    else:
        model = UNet(options, relation_prefix=prefix)
    if backbone.init == "xavier-gluon":
        for part in (model.encoder, model.decoder, model.to_rgb, model.to_alpha):
            if part is not None:
                init_xavier_gluon(part)
    return model


def build_network(config: ModelConfig, *, taps: Sequence[RelationTap] | None = None) -> nn.Module:
    """
    Build the module of a model definition.

    Parameters
    ----------
    config
        :class:`~ccharmony.harmonization.models.config.ModelConfig`.
    taps
        Relation taps (``None``: the config's own,
        :func:`~ccharmony.harmonization.models.config.relation_taps`).

    Returns
    -------
    torch.nn.Module
        ``forward(images, masks) -> {"images": ..., ["relation_maps": {...},
        "relation_masks": {...}]}``; RGB in [0, 1].
    """
    if config.kind == "composite":
        model: nn.Module = CompositeModel()
    elif config.kind == "reinhard-lab":
        model = ReinhardModel("cielab")
    elif config.kind == "reinhard-lalphabeta":
        model = ReinhardModel("lalphabeta")
    elif config.backbone is not None and config.backbone.name == "issam":
        plain = config.gift is None and config.distillation is None
        model = (ISSAMNet if plain else GiftNet)(config, taps=taps)
    else:
        model = _legacy_network(config, relation_taps(config) if taps is None else taps)
    model.name = config.name  # type: ignore[assignment]
    return model


def build_model(model: str | ModelConfig, options: ModelOptions | None = None) -> nn.Module:
    """
    Build a registered model (or one from its definition).

    Parameters
    ----------
    model
        A key of :data:`MODELS` (or an alias), or a
        :class:`~ccharmony.harmonization.models.config.ModelConfig`.
    options
        :class:`ModelOptions` (width for every network, legacy options for the
        legacy U-Net rows).

    Returns
    -------
    torch.nn.Module
        ``forward(images, masks) -> {"images": ..., ["relation_maps": ...,
        "relation_masks": ...]}``.

    Raises
    ------
    ConfigError
        When the name is unknown.

    References
    ----------
    :cite:`Niu2023`

    Examples
    --------
    >>> type(build_model("giftnet")).__name__, build_model("giftnet").placement
    ('GiftNet', 'skip')
    """
    return build_network(model_config(model, options))


def teacher_taps(config: ModelConfig) -> tuple[RelationTap, ...]:
    """Return the teacher-side taps of a distilled model (its sites, the student's keys)."""
    return tuple(
        RelationTap("decoder-output" if tap.teacher_site == "decoder" else "encoder", tap.level, tap.key)
        for tap in relation_taps(config)
    )


def teacher_key(model: str | ModelConfig, options: ModelOptions | None = None) -> str:
    """
    Return a key that is equal for distilled models that can share a teacher.

    The key is JSON text of the teacher's backbone and relation taps; it is
    empty for a model without distillation.

    Examples
    --------
    >>> teacher_key("giftnet") == teacher_key("issam-rd") != teacher_key("unet-rd")
    True
    """
    config = model_config(model, options)
    if config.distillation is None:
        return ""
    teacher = teacher_config(config)
    return json.dumps({"backbone": teacher.to_dict()["backbone"],
                       "taps": sorted(tap.key for tap in teacher_taps(config))}, sort_keys=True)


def build_teacher(
    model: str | ModelConfig | ModelOptions | None = None, options: ModelOptions | None = None
) -> nn.Module:
    """
    Build the relation-distillation teacher: a reconstruction network of the student's backbone.

    Parameters
    ----------
    model
        A distilled model (name or config): its teacher, whose
        ``relation_maps(real, masks)`` returns a dict keyed like the
        student's ``"relation_maps"``. A :class:`ModelOptions` or ``None``
        (the earlier call): a :class:`TeacherSet` holding one teacher per
        backbone among the registered distilled models, so that any of them
        can be distilled from it.
    options
        :class:`ModelOptions` applied to the student's definition.

    Returns
    -------
    torch.nn.Module
        Trained on (real + mask -> real) before the students, then frozen
        :cite:`Niu2023`; ``forward`` returns ``{"images": ...}`` (a list of
        images for a :class:`TeacherSet`).

    Raises
    ------
    ConfigError
        When the model has no distillation.

    Examples
    --------
    >>> teacher = build_teacher("giftnet")
    >>> type(teacher).__name__, sorted(key.split("/")[1] for key in teacher.relation_maps(
    ...     torch.rand(1, 3, 32, 32), torch.ones(1, 1, 32, 32)))
    ('ISSAMNet', ['encoder0', 'encoder1', 'encoder2'])
    """
    if model is None or isinstance(model, ModelOptions):
        return TeacherSet(model)
    config = model_config(model, options)
    if config.distillation is None:
        raise ConfigError(f"model {config.name!r} has no relation distillation, so no teacher")
    teacher = build_network(teacher_config(config), taps=teacher_taps(config))
    teacher.name = "teacher"  # type: ignore[assignment]
    return teacher


class TeacherSet(nn.Module):
    """
    Hold the teachers of every registered distilled model, one per backbone.

    Parameters
    ----------
    options
        :class:`ModelOptions` applied to every registered definition.

    Notes
    -----
    For callers that train one teacher for all their students
    (``build_teacher(ModelOptions)``): ``forward(images, masks)`` returns
    ``{"images": [one output per teacher]}``, which
    :class:`~ccharmony.harmonization.losses.ImageMSE` sums, so the teachers
    train together and independently; ``relation_maps`` merges their maps, and
    each student picks its own by key. A caller that trains one teacher per
    :func:`teacher_key` (``build_teacher(name)``) trains only what it needs.
    """

    def __init__(self, options: ModelOptions | None = None) -> None:
        super().__init__()
        groups: dict[str, tuple[ModelConfig, dict[str, RelationTap]]] = {}
        for name in MODEL_CONFIGS:
            config = model_config(name, options)
            if config.distillation is None or config.backbone is None:
                continue
            key = backbone_key(config.backbone)
            student, taps = groups.setdefault(key, (config, {}))
            for tap in teacher_taps(config):
                taps.setdefault(tap.key, tap)
        self.teachers = nn.ModuleDict({
            key.replace(".", "_"): build_network(teacher_config(config), taps=tuple(taps.values()))
            for key, (config, taps) in groups.items()
        })
        self.name = "teacher"

    def forward(self, images: torch.Tensor, masks: torch.Tensor) -> dict[str, Any]:
        """Return ``{"images": [reconstruction of each teacher]}``."""
        return {"images": [teacher(images, masks)["images"] for teacher in self.teachers.values()]}

    def relation_maps(self, images: torch.Tensor, masks: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return every teacher's relation maps, keyed by tap key."""
        maps: dict[str, torch.Tensor] = {}
        for teacher in self.teachers.values():
            maps.update(getattr(teacher, "relation_maps")(images, masks))
        return maps
