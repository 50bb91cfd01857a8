"""
U-Net backbone
==============

Define the encoder-decoder U-Net :cite:`Ronneberger2015` that image
harmonization standardised on (iSSAM style, :cite:`Sofiiuk2021`):

-   :class:`UNetOptions`: widths, depth, normalisation and output options.
-   :class:`UNetEncoder`: convolution stages with max-pooling between them.
-   :class:`UNetDecoder`: up-sampling stages with skip connections; each stage
    can call a hook (GIFT, :mod:`ccharmony.harmonization.models.giftnet`).
-   :class:`UNet`: the harmonization network,
    ``out = alpha * input + (1 - alpha) * rgb(features)`` with a learned
    ``alpha`` map (image fusion).

This is our earlier backbone (registered as ``unet``, ``unet-gift``,
``unet-rd``, ``unet-gift-rd``), kept for comparison and for old checkpoints.
It is not iSSAM's: ELU instead of ReLU, BatchNorm only in stages from
``batchnorm_from`` in the encoder *and* decoder, no SSAM, a residual colour
head, PyTorch's default initialisation; iSSAM itself is
:mod:`~ccharmony.harmonization.models.issam`. :func:`relation_map` is
re-exported from :mod:`~ccharmony.harmonization.models.relation`.

Inputs are RGB in [0, 1] plus the foreground mask (4 channels); the network
normalises the RGB with the ImageNet mean and standard deviation inside.

References
----------
-   :cite:`Ronneberger2015` : Ronneberger, O., Fischer, P., & Brox, T. (2015).
    U-Net: Convolutional Networks for Biomedical Image Segmentation. MICCAI
    2015, LNCS 9351, 234-241. doi:10.1007/978-3-319-24574-4_28
-   :cite:`Sofiiuk2021` : Sofiiuk, K., Popenova, P., & Konushin, A. (2021).
    Foreground-aware Semantic Representations for Image Harmonization. WACV
    2021, 1620-1629. doi:10.1109/WACV48630.2021.00166
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ccharmony.errors import ConfigError
from ccharmony.harmonization.models.relation import relation_map, resize_mask

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["UNetOptions", "UNetEncoder", "UNetDecoder", "UNet", "relation_map", "StageHook"]

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class UNetOptions:
    """
    Shape a U-Net.

    Parameters
    ----------
    width
        Channels of the first encoder stage; stage ``i`` (1-based) has
        ``min(width * 2**(i-1), max_channels)`` (32, 64, 128, 256 by default).
    depth
        Number of encoder stages (max-pooling between consecutive stages).
    max_channels
        Channel cap.
    batchnorm_from
        First stage (1-based) with BatchNorm; earlier stages have none (3: from
        the third stage, as iSSAM).
    fusion
        Image-fusion output with a learned ``alpha`` map; False outputs
        ``rgb(features)`` directly (the reconstruction teacher).
    rgb_residual
        The colour head predicts a correction of the input,
        ``rgb = input + std * conv1x1(features)``, instead of the colours
        themselves, ``rgb = mean + std * conv1x1(features)``. Our choice (the
        paper does not fix the head): the fused output then starts near the
        identity, and training avoids the local minimum where ``alpha``
        saturates at 1 everywhere (the output collapses to the composite)
        before the colour branch has learnt anything. The teacher uses False
        (it must reconstruct through its features).
    relation_stages
        Encoder stages (1-based) whose relation maps the network returns under
        ``"relation_maps"`` (relation distillation); empty for none.
    """

    width: int = 32
    depth: int = 4
    max_channels: int = 256
    batchnorm_from: int = 3
    fusion: bool = True
    relation_stages: tuple[int, ...] = ()
    rgb_residual: bool = True

    def __post_init__(self) -> None:
        if self.width < 1 or self.depth < 2 or self.max_channels < self.width:
            raise ConfigError(
                f"UNetOptions: need width >= 1, depth >= 2, max_channels >= width, got "
                f"width={self.width}, depth={self.depth}, max_channels={self.max_channels}"
            )
        bad = [stage for stage in self.relation_stages if not 1 <= stage <= self.depth]
        if bad:
            raise ConfigError(
                f"UNetOptions: relation_stages must lie in 1..{self.depth}, got {bad}"
            )
        object.__setattr__(self, "relation_stages", tuple(int(s) for s in self.relation_stages))

    @property
    def channels(self) -> tuple[int, ...]:
        """Return the channels of each encoder stage."""
        return tuple(min(self.width * 2**i, self.max_channels) for i in range(self.depth))

    def to_dict(self) -> dict:
        """Return the options as a JSON-ready dict."""
        data = asdict(self)
        data["relation_stages"] = list(self.relation_stages)
        return data


def _conv_block(in_channels: int, out_channels: int, norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for index in range(2):
        layers.append(
            nn.Conv2d(in_channels if index == 0 else out_channels, out_channels, 3, padding=1,
                      bias=not norm)
        )
        if norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ELU(inplace=True))
    return nn.Sequential(*layers)


class UNetEncoder(nn.Module):
    """
    Encode RGB + mask into one feature map per stage.

    Parameters
    ----------
    options
        :class:`UNetOptions`.
    in_channels
        Input channels (4: RGB and mask).
    """

    def __init__(self, options: UNetOptions, in_channels: int = 4) -> None:
        super().__init__()
        channels = options.channels
        self.stages = nn.ModuleList()
        previous = in_channels
        for index, out in enumerate(channels):
            self.stages.append(_conv_block(previous, out, index + 1 >= options.batchnorm_from))
            previous = out

    def forward(self, x: torch.Tensor, *, last_stage: int | None = None) -> list[torch.Tensor]:
        """Return the features of stages ``1..last_stage`` (all by default)."""
        features = []
        count = len(self.stages) if last_stage is None else last_stage
        for index in range(count):
            if index:
                x = F.max_pool2d(x, 2, ceil_mode=True)
            x = self.stages[index](x)
            features.append(x)
        return features


StageHook = Callable[[int, torch.Tensor, torch.Tensor], torch.Tensor]


class UNetDecoder(nn.Module):
    """
    Decode encoder features with skip connections.

    Parameters
    ----------
    options
        :class:`UNetOptions`.

    Notes
    -----
    Stage ``j`` (0 = deepest) up-samples by 2 (bilinear), applies a 3x3
    convolution, concatenates the encoder skip and applies a convolution block.
    ``hook(j, features, mask)`` may transform each stage's output.
    """

    def __init__(self, options: UNetOptions) -> None:
        super().__init__()
        channels = options.channels
        self.up_convs = nn.ModuleList()
        self.blocks = nn.ModuleList()
        self.stage_channels: list[int] = []
        for level in range(len(channels) - 1, 0, -1):
            deep, skip = channels[level], channels[level - 1]
            self.up_convs.append(nn.Sequential(nn.Conv2d(deep, skip, 3, padding=1), nn.ELU(inplace=True)))
            self.blocks.append(_conv_block(2 * skip, skip, level >= options.batchnorm_from))
            self.stage_channels.append(skip)

    def forward(
        self,
        features: list[torch.Tensor],
        mask: torch.Tensor,
        hook: StageHook | None = None,
    ) -> torch.Tensor:
        """Return the last decoder stage's features (full resolution)."""
        x = features[-1]
        for stage, (up_conv, block) in enumerate(zip(self.up_convs, self.blocks)):
            skip = features[-2 - stage]
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([up_conv(x), skip], dim=1))
            if hook is not None:
                x = hook(stage, x, mask)
        return x


class UNet(nn.Module):
    """
    Harmonize a composite with a U-Net and an image-fusion output.

    Parameters
    ----------
    options
        :class:`UNetOptions`.
    relation_prefix
        Prefix of the relation-map keys (the registry passes the backbone key,
        :func:`~ccharmony.harmonization.models.config.backbone_key`, shared by
        student and teacher).

    Notes
    -----
    ``forward(images, masks)`` takes ``(B, 3, H, W)`` RGB in [0, 1] and a
    ``(B, 1, H, W)`` mask, and returns ``{"images": (B, 3, H, W)}`` in the
    same scale (plus ``"relation_maps"`` and ``"relation_masks"``, dicts keyed
    by :meth:`relation_key`, when ``options.relation_stages`` is set). With fusion,
    ``out = alpha * images + (1 - alpha) * rgb(features)``,
    ``alpha = sigmoid(3 conv1x1(features))`` as in iSSAM :cite:`Sofiiuk2021`;
    ``rgb`` is ``images + std * conv1x1(features)`` with
    ``options.rgb_residual`` (default) and ``mean + std * conv1x1(features)``
    otherwise.

    References
    ----------
    :cite:`Ronneberger2015`, :cite:`Sofiiuk2021`
    """

    name = "unet"
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, options: UNetOptions | None = None, *, relation_prefix: str = "unet") -> None:
        super().__init__()
        self.options = options or UNetOptions()
        self.relation_prefix = relation_prefix
        self.encoder = UNetEncoder(self.options)
        self.decoder = UNetDecoder(self.options)
        width = self.options.channels[0]
        self.to_rgb = nn.Conv2d(width, 3, 1)
        self.to_alpha = nn.Conv2d(width, 1, 1) if self.options.fusion else None
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def _input(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        return torch.cat([(images - self.mean) / self.std, masks * 2.0 - 1.0], dim=1)

    def encode(
        self, images: torch.Tensor, masks: torch.Tensor, *, last_stage: int | None = None
    ) -> list[torch.Tensor]:
        """Return the encoder features of each stage."""
        return self.encoder(self._input(images, masks), last_stage=last_stage)

    def relation_key(self, stage: int) -> str:
        """Return the key of the relation map of encoder ``stage`` (1-based): ``<prefix>/encoder<level>``."""
        return f"{self.relation_prefix}/encoder{stage - 1}"

    def _relations(self, features: list[torch.Tensor], masks: torch.Tensor
                   ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        maps, resized = {}, {}
        for stage in self.options.relation_stages:
            mask = resize_mask(masks, features[stage - 1].shape[-2:]).to(features[stage - 1].dtype)
            maps[self.relation_key(stage)] = relation_map(features[stage - 1], mask)
            resized[self.relation_key(stage)] = mask
        return maps, resized

    def relation_maps(self, images: torch.Tensor, masks: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return the relation maps at ``options.relation_stages`` by key (encoder run only as deep as needed)."""
        stages = self.options.relation_stages
        if not stages:
            return {}
        features = self.encode(images, masks, last_stage=max(stages))
        return self._relations(features, masks)[0]

    def decoder_hook(self, features: list[torch.Tensor]) -> StageHook | None:
        """Return the decoder stage hook given the encoder features (none for the plain U-Net)."""
        return None

    def forward(self, images: torch.Tensor, masks: torch.Tensor) -> dict[str, object]:
        """Return ``{"images": harmonized, ["relation_maps": {...}, "relation_masks": {...}]}``."""
        features = self.encode(images, masks)
        decoded = self.decoder(features, masks, self.decoder_hook(features))
        if self.options.rgb_residual:
            rgb = images + self.to_rgb(decoded) * self.std
        else:
            rgb = self.to_rgb(decoded) * self.std + self.mean
        if self.to_alpha is not None:
            alpha = torch.sigmoid(3.0 * self.to_alpha(decoded))
            output = alpha * images + (1.0 - alpha) * rgb
        else:
            output = rgb
        result: dict[str, object] = {"images": output}
        if self.options.relation_stages:
            result["relation_maps"], result["relation_masks"] = self._relations(features, masks)
        return result
