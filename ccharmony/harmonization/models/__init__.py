"""
Harmonization models
====================

Register the models of the benchmark by name:

-   :data:`MODELS`: name -> :class:`ModelSpec`.
-   :func:`build_model`: the dispatcher, ``build_model(name, ...)``.
-   :class:`ModelOptions`: the options shared by the learned models.

=============  ==========================================================
name           model
=============  ==========================================================
``composite``  the composite itself (identity)
``reinhard``   Lab statistics transfer from background to foreground
``unet``       plain U-Net with image fusion
``unet-gift``  U-Net + GIFT
``unet-rd``    U-Net + relation distillation (training with a teacher)
``giftnet``    U-Net + GIFT + relation distillation (full GiftNet)
=============  ==========================================================

GiftNet :cite:`Niu2023` is re-implemented from the paper's description; the
official code and weights were never released.

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from ccharmony.errors import ConfigError
from ccharmony.harmonization.models.baselines import (
    CompositeModel,
    ReinhardModel,
    transfer_statistics_Reinhard2001,
)
from ccharmony.harmonization.models.giftnet import GIFT, GIFTOptions, GiftNet, ModulatedConv2d
from ccharmony.harmonization.models.unet import UNet, UNetOptions, relation_map

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "ModelSpec",
    "ModelOptions",
    "MODELS",
    "build_model",
    "build_teacher",
    "validate_model_names",
    "UNet",
    "UNetOptions",
    "GiftNet",
    "GIFT",
    "GIFTOptions",
    "ModulatedConv2d",
    "CompositeModel",
    "ReinhardModel",
    "relation_map",
    "transfer_statistics_Reinhard2001",
]


@dataclass(frozen=True)
class ModelSpec:
    """
    Describe a registered model.

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
        Whether it trains with relation distillation (needs the teacher).
    """

    name: str
    description: str
    trainable: bool
    gift: bool = False
    distillation: bool = False


@dataclass(frozen=True)
class ModelOptions:
    """
    Shape the learned models.

    Parameters
    ----------
    unet
        Backbone options; ``relation_stages`` is filled in for the
        distillation models from ``relation_stages`` below.
    gift
        GIFT options.
    relation_stages
        Encoder stages (1-based) whose relation maps are distilled (our
        default: 3 and 4, the two deepest; the paper does not fix them).
    """

    unet: UNetOptions = field(default_factory=UNetOptions)
    gift: GIFTOptions = field(default_factory=GIFTOptions)
    relation_stages: tuple[int, ...] = (3, 4)

    def __post_init__(self) -> None:
        object.__setattr__(self, "relation_stages", tuple(int(s) for s in self.relation_stages))
        bad = [s for s in self.relation_stages if not 1 <= s <= self.unet.depth]
        if bad:
            raise ConfigError(f"ModelOptions: relation_stages must lie in 1..{self.unet.depth}, got {bad}")

    def to_dict(self) -> dict:
        """Return the options as a JSON-ready dict."""
        return {
            "unet": self.unet.to_dict(),
            "gift": self.gift.to_dict(),
            "relation_stages": list(self.relation_stages),
        }

    @classmethod
    def from_dict(cls, data: dict) -> ModelOptions:
        """Rebuild options written by :meth:`to_dict`."""
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
        )


MODELS: dict[str, ModelSpec] = {
    "composite": ModelSpec("composite", "composite (no harmonization)", trainable=False),
    "reinhard": ModelSpec("reinhard", "Reinhard statistics transfer in Lab, background to foreground",
                          trainable=False),
    "unet": ModelSpec("unet", "U-Net with image fusion", trainable=True),
    "unet-gift": ModelSpec("unet-gift", "U-Net + GIFT", trainable=True, gift=True),
    "unet-rd": ModelSpec("unet-rd", "U-Net + relation distillation", trainable=True, distillation=True),
    "giftnet": ModelSpec("giftnet", "GiftNet: U-Net + GIFT + relation distillation (re-implementation)",
                         trainable=True, gift=True, distillation=True),
}
"""Registered models, in report order."""


def validate_model_names(names: list[str] | tuple[str, ...]) -> list[str]:
    """
    Check model names against :data:`MODELS` and return them in registry order.

    Raises
    ------
    ConfigError
        When a name is unknown (the message lists the accepted names).

    Examples
    --------
    >>> validate_model_names(["giftnet", "composite"])
    ['composite', 'giftnet']
    """
    unknown = [name for name in names if name not in MODELS]
    if unknown:
        raise ConfigError(f"unknown model {unknown[0]!r}; accepted: {', '.join(MODELS)}")
    return [name for name in MODELS if name in names]


def build_model(name: str, options: ModelOptions | None = None) -> nn.Module:
    """
    Build a registered model.

    Parameters
    ----------
    name
        A key of :data:`MODELS`.
    options
        :class:`ModelOptions` for the learned models.

    Returns
    -------
    torch.nn.Module
        ``forward(images, masks) -> {"images": ..., ["relation_maps": ...]}``.

    Raises
    ------
    ConfigError
        When ``name`` is unknown.

    References
    ----------
    :cite:`Niu2023`

    Examples
    --------
    >>> type(build_model("giftnet")).__name__
    'GiftNet'
    """
    validate_model_names([name])
    options = options or ModelOptions()
    spec = MODELS[name]
    if name == "composite":
        return CompositeModel()
    if name == "reinhard":
        return ReinhardModel()
    unet = options.unet
    stages = options.relation_stages if spec.distillation else ()
    unet = UNetOptions(**{**unet.to_dict(), "relation_stages": tuple(stages)})
    model: nn.Module = GiftNet(unet, options.gift) if spec.gift else UNet(unet)
    model.name = name  # type: ignore[assignment]
    return model


def build_teacher(options: ModelOptions | None = None) -> UNet:
    """
    Build the relation-distillation teacher: the reconstruction U-Net.

    Parameters
    ----------
    options
        :class:`ModelOptions`; the teacher has the same encoder as the
        students, no image fusion (it must reconstruct the real image through
        its features, not copy its input) and returns the relation maps of
        ``options.relation_stages``.

    Returns
    -------
    UNet
        Trained on (real + mask -> real) before the students, then frozen
        :cite:`Niu2023`.

    Examples
    --------
    >>> build_teacher().options.relation_stages
    (3, 4)
    """
    options = options or ModelOptions()
    unet = UNetOptions(
        **{**options.unet.to_dict(), "fusion": False, "rgb_residual": False,
           "relation_stages": options.relation_stages}
    )
    teacher = UNet(unet)
    teacher.name = "teacher"  # type: ignore[assignment]
    return teacher
