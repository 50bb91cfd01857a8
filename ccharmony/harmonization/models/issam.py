"""
iSSAM backbone
==============

Re-write iSSAM :cite:`Sofiiuk2021`, the U-Net with spatial-separated attention
and image fusion that the bcmi lab's public harmonization code builds on, and
make it carry GIFT and relation taps :cite:`Niu2023`:

-   :class:`ConvNormReLU`, :class:`DoubleConv`, :class:`EncoderStage`,
    :class:`DecoderStage`: the U-Net's building blocks.
-   :class:`ChannelGate`, :class:`MaskBlur`, :class:`SSAM`: spatial-separated
    attention.
-   :class:`ISSAMEncoder`, :class:`ISSAMDecoder`: the encoder and decoder, with
    hooks on encoder outputs, skip features and decoder outputs.
-   :func:`init_xavier_gluon`: iSSAM's ``XavierGluon`` initialisation.
-   :class:`ISSAMNet`: the harmonization network from a
    :class:`~ccharmony.harmonization.models.config.ModelConfig`: iSSAM, plus
    GIFT where the config places it, plus the relation maps it is distilled on.
-   :class:`GiftNet`: the same class, named for the models that have GIFT or
    relation distillation (the ``giftnet`` row is the full GiftNet).

The code is ours, written from the paper and from what iSSAM's code does
(SamsungLabs/image_harmonization, commit 4d16b12): the architecture rules
from ``iharm/model/modeling/unet.py``, ``iharm/model/modeling/basic_blocks.py``,
``iharm/model/base/ssam_model.py`` and ``iharm/model/ops.py``; the
initialisation from ``iharm/model/initializer.py`` and
``models/fixed256/improved_ssam.py``; the configuration of the released
``issam256.pth`` is ``improved_ssam256`` in ``iharm/mconfigs/base.py`` (depth 4,
``ch`` 32, ``image_fusion`` True, ``attention_mid_k`` 0.5,
``batchnorm_from`` 2, ``attend_from`` 2). Only the *attribute names* and their
registration order are iSSAM's (``encoder.block0``, ``blocks_connected``,
``up_blocks``, ``learning_block``, ``mask_blurring``, ...), so that the state
dict has their parameter names and shapes and ``--init-from issam256.pth``
loads by name; ``tests/fixtures/issam256_state_dict.json`` lists those names
and shapes and ``tests/harmonization/test_issam_layout.py`` checks ours
against it. GIFT modules are extra keys (``gifts.<level>.*``).

Architecture of ``improved_ssam256``: four encoder blocks of two 3x3
convolutions + ReLU (32, 64, 128, 256 channels), BatchNorm in blocks 2 and 3
(from the third) and in every decoder block, max-pooling between blocks;
three decoder blocks (bilinear x2 up-sampling with ``align_corners=True``, a
3x3 convolution + ReLU, concatenation *skip first*, then two 3x3 convolutions
+ BatchNorm + ReLU); SSAM on the concatenation of the last decoder block; a
1x1 ``conv_attention`` and ``to_rgb`` give
``out = a * input + (1 - a) * to_rgb(features)``, ``a = sigmoid(3 conv)``, in
the ImageNet-normalised space.

Our wrapper takes RGB in [0, 1] and returns RGB in [0, 1] (normalisation and
its inverse inside, as iSSAM's data pipeline and ``Predictor`` do); the mask
enters in [0, 1] (iSSAM's convention). A size not divisible by
``2^(depth-1)`` is zero-padded, centred as iSSAM's ``PadToDivisor``
(``iharm/inference/transforms.py``), and the output cropped back. iSSAM's
``Predictor`` pads to a multiple of ``2^(depth+1)`` (32 at depth 4); we pad to
the least multiple the network needs (8), so outputs at sizes that are not
multiples of 32 can differ near the borders (256x256, the field's size, is
not padded by either).

References
----------
-   :cite:`Sofiiuk2021` : Sofiiuk, K., Popenova, P., & Konushin, A. (2021).
    Foreground-aware Semantic Representations for Image Harmonization. WACV
    2021, 1620-1629. doi:10.1109/WACV48630.2021.00166
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
-   :cite:`Karras2020` : Karras, T., Laine, S., Aittala, M., Hellsten, J.,
    Lehtinen, J., & Aila, T. (2020). Analyzing and Improving the Image
    Quality of StyleGAN. CVPR 2020, 8110-8119.
    doi:10.1109/CVPR42600.2020.00813
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ccharmony.errors import ConfigError
from ccharmony.harmonization.models.config import BackboneConfig, ModelConfig, RelationTap, relation_taps
from ccharmony.harmonization.models.giftnet import GIFT, GIFTOptions
from ccharmony.harmonization.models.relation import relation_map, resize_mask

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "ConvNormReLU",
    "DoubleConv",
    "EncoderStage",
    "DecoderStage",
    "ChannelGate",
    "MaskBlur",
    "SSAM",
    "ISSAMEncoder",
    "ISSAMDecoder",
    "init_xavier_gluon",
    "ISSAMNet",
    "GiftNet",
]

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)

FeatureHook = Callable[[int, torch.Tensor], torch.Tensor]
"""``hook(level, features) -> features``."""


class ConvNormReLU(nn.Module):
    """
    Apply a 3x3 convolution (stride 1, padding 1), optional BatchNorm, then ReLU.

    Parameters
    ----------
    in_channels, out_channels
        Of the convolution.
    norm
        BatchNorm after the convolution; without it the middle slot holds an
        ``Identity``, which has no parameters, so the BatchNorm's parameters
        are ``block.1.*`` exactly when it exists (iSSAM's ``ConvBlock``
        layout, ``basic_blocks.py``).
    bias
        Bias of the convolution. iSSAM keeps it even before BatchNorm; only
        SSAM's learning block drops it.

    Notes
    -----
    Every convolution of ``improved_ssam256`` but the two 1x1 heads is of
    this form.
    """

    def __init__(self, in_channels: int, out_channels: int, *, norm: bool = False, bias: bool = True) -> None:
        super().__init__()
        normalise: nn.Module = nn.BatchNorm2d(out_channels) if norm else nn.Identity()
        self.block = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=bias),
            normalise,
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``relu(norm(conv(x)))``."""
        return self.block(x)


class DoubleConv(nn.Module):
    """Chain two :class:`ConvNormReLU` (``in -> out -> out`` channels), held as ``block.0`` and ``block.1``."""

    def __init__(self, in_channels: int, out_channels: int, *, norm: bool) -> None:
        super().__init__()
        first = ConvNormReLU(in_channels, out_channels, norm=norm)
        second = ConvNormReLU(out_channels, out_channels, norm=norm)
        self.block = nn.Sequential(first, second)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return both convolutions applied to ``x``."""
        return self.block(x)


class EncoderStage(nn.Module):
    """
    Hold one encoder level: :class:`DoubleConv` as ``convs`` and its down-sampling as ``pooling``.

    Parameters
    ----------
    in_channels, out_channels
        Of the level.
    norm
        BatchNorm in both convolutions.
    pool
        2x2 max-pooling towards the next level; the deepest level has none
        (an ``Identity``).
    """

    def __init__(self, in_channels: int, out_channels: int, *, norm: bool, pool: bool) -> None:
        super().__init__()
        self.convs = DoubleConv(in_channels, out_channels, norm=norm)
        self.pooling: nn.Module = nn.MaxPool2d(kernel_size=2, stride=2) if pool else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the level's features (full resolution, before pooling)."""
        return self.convs(x)


class ChannelGate(nn.Module):
    """
    Scale each channel by a learnt function of its global average and global maximum.

    Parameters
    ----------
    in_channels
        Channels ``C``; the hidden layer has ``max(C // 16, 8)`` units.

    Notes
    -----
    ``g = sigmoid(W2 relu(W1 [avg(x); max(x)] + b1) + b2)``, ``out_c = g_c
    x_c`` (iSSAM's ``ChannelAttention``, ``ops.py``). The MLP is the
    ``attention_transform`` sequence (``0`` and ``2`` are the linear layers)
    for iSSAM's parameter names.
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        hidden = max(in_channels // 16, 8)
        self.attention_transform = nn.Sequential(
            nn.Linear(2 * in_channels, hidden),
            nn.ReLU(),
            nn.Linear(hidden, in_channels),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` with each channel multiplied by its gate in (0, 1)."""
        statistics = torch.cat([F.adaptive_avg_pool2d(x, 1), F.adaptive_max_pool2d(x, 1)], dim=1)
        gates = self.attention_transform(statistics.flatten(start_dim=1))
        return gates[:, :, None, None] * x


class MaskBlur(nn.Module):
    """
    Blur a one-channel map with a normalised 2-D Gaussian held in a buffer named ``weight``.

    Parameters
    ----------
    kernel_size
        Side of the kernel (7 in SSAM).
    sigma
        Standard deviation in pixels (1 in SSAM).
    padding
        Zero padding (3 in SSAM: same size).

    Notes
    -----
    The kernel is the outer product of the 1-D profile
    ``exp(-(x - (k - 1) / 2)^2 / (2 sigma^2))`` with itself, divided by its
    sum. The buffer is persistent, with iSSAM's name and shape
    ``(1, 1, k, k)`` (``GaussianSmoothing`` in ``basic_blocks.py``): it is in
    ``issam256.pth``, and being called ``weight`` it is re-drawn by
    ``XavierGluon`` (:func:`init_xavier_gluon`).
    """

    weight: torch.Tensor

    def __init__(self, kernel_size: int = 7, sigma: float = 1.0, padding: int = 3) -> None:
        super().__init__()
        offsets = torch.arange(kernel_size, dtype=torch.float32) - (kernel_size - 1) / 2.0
        profile = torch.exp(-0.5 * (offsets / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
        kernel = torch.outer(profile, profile)
        self.register_buffer("weight", (kernel / kernel.sum())[None, None])
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the blurred ``(B, 1, H, W)`` map."""
        return F.conv2d(x, self.weight.to(x.dtype), padding=self.padding)


class SSAM(nn.Module):
    """
    Attend to foreground and background separately (spatial-separated attention :cite:`Sofiiuk2021`).

    Parameters
    ----------
    in_channels
        Channels of the decoder block's concatenation.
    mid_k
        Width factor of the foreground learning block (``int(mid_k C)``
        channels).

    Notes
    -----
    With ``m`` the mask resized to the features (bilinear,
    ``align_corners=True``) and blurred (:class:`MaskBlur`),
    ``out = m (L(G_fg(x)) + G_mix(x)) + (1 - m) G_bg(x)``: ``G_*`` are
    :class:`ChannelGate` and ``L`` two :class:`ConvNormReLU` with BatchNorm and
    no bias (``in -> mid -> in`` channels), as iSSAM's
    ``SpatialSeparatedAttention`` (``ssam_model.py``).
    """

    def __init__(self, in_channels: int, *, mid_k: float) -> None:
        super().__init__()
        self.background_gate = ChannelGate(in_channels)
        self.foreground_gate = ChannelGate(in_channels)
        self.mix_gate = ChannelGate(in_channels)
        hidden = int(mid_k * in_channels)
        self.learning_block = nn.Sequential(
            ConvNormReLU(in_channels, hidden, norm=True, bias=False),
            ConvNormReLU(hidden, in_channels, norm=True, bias=False),
        )
        self.mask_blurring = MaskBlur(7, 1.0, padding=3)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return the attended features (the shape of ``x``)."""
        resized = F.interpolate(mask, size=x.shape[-2:], mode="bilinear", align_corners=True)
        weight = self.mask_blurring(resized)
        inside = self.learning_block(self.foreground_gate(x)) + self.mix_gate(x)
        return weight * inside + (1 - weight) * self.background_gate(x)


class DecoderStage(nn.Module):
    """
    Decode one level: up-sample, join the skip features, attend (optionally), convolve.

    Parameters
    ----------
    in_channels_decoder
        Channels coming from the deeper level.
    in_channels_encoder
        Channels of the skip features.
    out_channels
        Channels out.
    attention_mid_k
        SSAM on the concatenation when not ``None``.

    Notes
    -----
    ``upconv``: bilinear x2 (``align_corners=True``) and a
    :class:`ConvNormReLU` without BatchNorm; the skip features come *first*
    in the concatenation; ``convs``: :class:`DoubleConv` with BatchNorm;
    ``attention``: :class:`SSAM` or ``None`` (iSSAM's ``UNetUpBlock``,
    ``unet.py``).
    """

    def __init__(self, in_channels_decoder: int, in_channels_encoder: int, out_channels: int, *,
                 attention_mid_k: float | None) -> None:
        super().__init__()
        joined = in_channels_encoder + out_channels
        self.upconv = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
            ConvNormReLU(in_channels_decoder, out_channels, norm=False),
        )
        self.convs = DoubleConv(joined, out_channels, norm=True)
        self.attention: SSAM | None = None if attention_mid_k is None else SSAM(joined, mid_k=attention_mid_k)

    def forward(self, x: torch.Tensor, encoder_out: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return the decoded features at ``encoder_out``'s resolution."""
        features = torch.cat([encoder_out, self.upconv(x)], dim=1)
        if self.attention is not None:
            features = self.attention(features, mask)
        return self.convs(features)


class ISSAMEncoder(nn.Module):
    """
    Encode image + mask into one feature map per level.

    Parameters
    ----------
    backbone
        :class:`~ccharmony.harmonization.models.config.BackboneConfig`.

    Notes
    -----
    Levels are :class:`EncoderStage` attributes ``block0``, ``block1`` and
    ``blocks_connected.block<i>`` (iSSAM's names, ``UNetEncoder`` in
    ``unet.py``); level ``i`` has BatchNorm when ``0 <= batchnorm_from <= i``. The
    empty ``connectors`` dict stands where iSSAM keeps its backbone
    connectors (none here; it holds no parameters).
    """

    def __init__(self, backbone: BackboneConfig, in_channels: int = 4) -> None:
        super().__init__()
        depth = backbone.depth
        self.depth = depth
        self.block_channels = [backbone.channels(level) for level in range(depth)]
        inputs = [in_channels, *self.block_channels[:-1]]

        def stage(level: int) -> EncoderStage:
            return EncoderStage(inputs[level], self.block_channels[level],
                                norm=0 <= backbone.batchnorm_from <= level, pool=level < depth - 1)

        self.block0 = stage(0)
        self.block1 = stage(1)
        self.blocks_connected = nn.ModuleDict()
        self.connectors = nn.ModuleDict()
        for level in range(2, depth):
            self.blocks_connected[f"block{level}"] = stage(level)

    def blocks(self) -> list[EncoderStage]:
        """Return the levels in order, full resolution first."""
        deeper = [self.blocks_connected[f"block{level}"] for level in range(2, self.depth)]
        return [stage for stage in (self.block0, self.block1, *deeper) if isinstance(stage, EncoderStage)]

    def forward(self, x: torch.Tensor, *, hook: FeatureHook | None = None,
                last_level: int | None = None) -> list[torch.Tensor]:
        """
        Return the features of levels ``0 .. last_level`` (all by default), full resolution first.

        ``hook(level, features)`` may replace a level's output before it is
        pooled into the next block and stored for its skip connection.
        """
        stages = self.blocks()
        if last_level is not None:
            stages = stages[:last_level + 1]
        levels: list[torch.Tensor] = []
        for level, stage in enumerate(stages):
            features = stage(x)
            if hook is not None:
                features = hook(level, features)
            levels.append(features)
            x = stage.pooling(features)
        return levels


class ISSAMDecoder(nn.Module):
    """
    Decode with skip connections and SSAM, and hold the image-fusion head.

    Parameters
    ----------
    backbone
        :class:`~ccharmony.harmonization.models.config.BackboneConfig`.

    Notes
    -----
    ``up_blocks[j]`` (a :class:`DecoderStage`) works at level
    ``depth - 2 - j``; it has SSAM when ``0 <= attend_from <= j``.
    ``conv_attention`` (with fusion) and ``to_rgb`` are 1x1 convolutions of
    the last block's features (iSSAM's ``UNetDecoder``, ``unet.py``).
    """

    def __init__(self, backbone: BackboneConfig) -> None:
        super().__init__()
        depth = backbone.depth
        self.depth = depth
        attend_from = -1 if backbone.attend_from is None else int(backbone.attend_from)
        self.up_blocks = nn.ModuleList()
        for index in range(depth - 1):
            level = depth - 2 - index
            attends = 0 <= attend_from <= index
            self.up_blocks.append(DecoderStage(
                backbone.channels(level + 1), backbone.channels(level), backbone.channels(level),
                attention_mid_k=backbone.attention_mid_k if attends else None,
            ))
        width = backbone.channels(0)
        self.image_fusion = backbone.fusion
        if backbone.fusion:
            self.conv_attention = nn.Conv2d(width, 1, kernel_size=1)
        self.to_rgb = nn.Conv2d(width, 3, kernel_size=1)

    def forward(self, features: Sequence[torch.Tensor], mask: torch.Tensor, *,
                skip_hook: FeatureHook | None = None, output_hook: FeatureHook | None = None) -> torch.Tensor:
        """Return the last decoder block's features; hooks may replace skips and block outputs."""
        x = features[-1]
        for index, stage in enumerate(self.up_blocks):
            level = self.depth - 2 - index
            skip = features[level] if skip_hook is None else skip_hook(level, features[level])
            x = stage(x, skip, mask)
            if output_hook is not None:
                x = output_hook(level, x)
        return x

    def head(self, features: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """
        Return the output in the normalised space.

        With fusion, ``a image + (1 - a) to_rgb(features)`` where ``a =
        sigmoid(3 conv_attention(features))``, a per-pixel blend weight in
        (0, 1); without, ``to_rgb(features)``.
        """
        rgb = self.to_rgb(features)
        if not self.image_fusion:
            return rgb
        keep = torch.sigmoid(3.0 * self.conv_attention(features))
        return keep * image + (1.0 - keep) * rgb


Distribution = Literal["gaussian", "uniform"]


def init_xavier_gluon(module: nn.Module, *, magnitude: float = 1.0, distribution: Distribution = "gaussian",
                      keep_gaussian_blur: bool = False) -> None:
    """
    Initialise a module in place with iSSAM's ``XavierGluon`` rule.

    Parameters
    ----------
    module
        Its sub-modules are visited children first (``nn.Module.apply``
        order), as iSSAM's ``model.apply(initializer.XavierGluon(...))``.
    magnitude
        1.0 in ``models/fixed256/improved_ssam.py``, whose call is
        ``XavierGluon(rnd_type='gaussian', magnitude=1.0)``; the class default
        is 3.
    distribution
        ``"gaussian"`` (the call above) or ``"uniform"`` (the class default).
    keep_gaussian_blur
        Skip :class:`MaskBlur` (keep the Gaussian). False reproduces iSSAM,
        whose initialiser re-draws the buffer because it is named ``weight``.

    Notes
    -----
    With ``s = sqrt(magnitude / ((fan_in + fan_out) / 2))`` (``factor_type
    'avg'``; fans as :func:`torch.nn.init._calculate_fan_in_and_fan_out`),
    every non-normalisation module with a ``weight`` gets ``N(0, s^2)``
    (gaussian) or ``U(-s, s)`` (uniform, variance ``s^2 / 3``) and a zero
    bias; BatchNorm, InstanceNorm and GroupNorm get weight 1, bias 0
    (``iharm/model/initializer.py``: ``Initializer.__call__`` and
    ``XavierGluon._init_weight``).

    Examples
    --------
    >>> conv = nn.Conv2d(4, 8, 3)
    >>> _ = torch.manual_seed(0); init_xavier_gluon(conv)
    >>> float(conv.bias.detach().abs().max()), round(float(conv.weight.detach().std()), 1)
    (0.0, 0.1)
    >>> init_xavier_gluon(conv, magnitude=3.0, distribution="uniform")
    >>> bool(conv.weight.detach().abs().max() <= (3.0 / ((36 + 72) / 2)) ** 0.5)
    True
    """
    if distribution not in ("gaussian", "uniform"):
        raise ConfigError(f"init_xavier_gluon: distribution must be 'gaussian' or 'uniform', got {distribution!r}")
    normalisations = (nn.modules.batchnorm._NormBase, nn.GroupNorm)

    def visit(child: nn.Module) -> None:
        if keep_gaussian_blur and isinstance(child, MaskBlur):
            return
        weight = getattr(child, "weight", None)
        bias = getattr(child, "bias", None)
        if isinstance(child, normalisations) or "BatchNorm" in type(child).__name__:
            # Scale 1 and shift 0: the normalisation starts as the identity.
            if isinstance(weight, torch.Tensor):
                weight.data.fill_(1.0)
            if isinstance(bias, torch.Tensor):
                bias.data.zero_()
            return
        if isinstance(weight, torch.Tensor):
            fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(weight)
            scale = math.sqrt(magnitude / ((fan_in + fan_out) / 2.0))
            if distribution == "gaussian":
                nn.init.normal_(weight.data, 0.0, scale)
            else:
                nn.init.uniform_(weight.data, -scale, scale)
        if isinstance(bias, torch.Tensor):
            bias.data.zero_()

    with torch.no_grad():
        module.apply(visit)


class ISSAMNet(nn.Module):
    """
    Harmonize with iSSAM, optionally with GIFT and relation taps :cite:`Sofiiuk2021` :cite:`Niu2023`.

    Parameters
    ----------
    config
        :class:`~ccharmony.harmonization.models.config.ModelConfig` with an
        ``issam`` backbone.
    taps
        Relation maps to return (``None``: those the config is distilled on,
        :func:`~ccharmony.harmonization.models.config.relation_taps`; a teacher
        gets its students' taps at its own sites).

    Notes
    -----
    ``forward(images, masks)`` takes ``(B, 3, H, W)`` RGB in [0, 1] and a
    ``(B, 1, H, W)`` mask in [0, 1] and returns ``{"images": ...}`` in [0, 1]
    (not clipped), plus, with relation taps, ``"relation_maps"`` and
    ``"relation_masks"``: dicts keyed by
    :attr:`~ccharmony.harmonization.models.config.RelationTap.key` holding the
    ``(B, 1, h, w)`` cosine maps (:func:`relation_map`) and the resized masks
    they were computed with.

    GIFT (``config.gift``) at level ``l``:

    -   ``skip``: the skip features entering decoder block ``depth-2-l`` become
        ``m GIFT(s, g) + (1 - m) s``, ``g`` the spatial mean of the
        bottleneck, ``m`` the mask resized bilinearly (``align_corners=True``,
        as SSAM and DucoNet's control module);
    -   ``decoder-output``: the same on that decoder block's output;
    -   ``encoder``: on encoder block ``l``'s output (which then feeds both its
        skip and the next block), guided by the spatial mean of the features
        being transformed (the bottleneck does not exist yet).

    The student's relation at a tap is taken from the features *after* GIFT
    at that site, so distillation supervises the transformed features.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, config: ModelConfig, *, taps: Sequence[RelationTap] | None = None) -> None:
        super().__init__()
        backbone = config.backbone
        if backbone is None or backbone.name != "issam":
            raise ConfigError(f"model config {config.name}: ISSAMNet needs an issam backbone, "
                              f"got {backbone.name if backbone else None!r}")
        self.config = config
        self.backbone = backbone
        self.depth = backbone.depth
        self.name = config.name
        self.encoder = ISSAMEncoder(backbone)
        self.decoder = ISSAMDecoder(backbone)
        if backbone.init == "xavier-gluon":
            # Before GIFT exists, so that GIFT keeps its identity start and a plain
            # iSSAM draws the same numbers as iSSAM's own init_model.
            init_xavier_gluon(self, keep_gaussian_blur=backbone.ssam_blur == "gaussian")
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        self.placement = config.gift.placement if config.gift is not None else None
        self.gifts = nn.ModuleDict()
        if config.gift is not None:
            options = GIFTOptions(hidden=config.gift.hidden, demodulate=config.gift.demodulate,
                                  init_noise=config.gift.init_noise)
            for level in config.gift_levels:
                guide = backbone.channels(level) if self.placement == "encoder" else backbone.channels(self.depth - 1)
                self.gifts[str(level)] = GIFT(guide, backbone.channels(level), options)
        self.taps: tuple[RelationTap, ...] = tuple(taps if taps is not None else relation_taps(config))

    # -- helpers ---------------------------------------------------------------------------------

    def _pad(self, images: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple[int, ...]]:
        divisor = 2 ** (self.depth - 1)
        height, width = images.shape[-2:]
        pad_h, pad_w = (-height) % divisor, (-width) % divisor
        if not pad_h and not pad_w:
            return images, masks, ()
        pads = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
        return F.pad(images, pads), F.pad(masks, pads), pads

    @staticmethod
    def _crop(x: torch.Tensor, pads: tuple[int, ...]) -> torch.Tensor:
        if not pads:
            return x
        left, right, top, bottom = pads
        return x[..., top:x.shape[-2] - bottom, left:x.shape[-1] - right]

    def _gift(self, level: int, x: torch.Tensor, guide: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        key = str(level)
        if key not in self.gifts:
            return x
        return self.gifts[key](x, guide, resize_mask(mask, x.shape[-2:], align_corners=True))

    # -- forward ---------------------------------------------------------------------------------

    def _run(self, images: torch.Tensor, masks: torch.Tensor, *, decode: bool
             ) -> tuple[torch.Tensor | None, dict[tuple[str, int], torch.Tensor]]:
        """Run the network; return the normalised output (when decoding) and the features at the taps."""
        x = (images - self.mean) / self.std
        tapped: dict[tuple[str, int], torch.Tensor] = {}
        wanted = {(tap.site, tap.level) for tap in self.taps}

        def encoder_hook(level: int, features: torch.Tensor) -> torch.Tensor:
            if self.placement == "encoder":
                features = self._gift(level, features, features.mean(dim=(2, 3)), masks)
            if ("encoder", level) in wanted:
                tapped[("encoder", level)] = features
            return features

        deepest = max((tap.level for tap in self.taps), default=0)
        features = self.encoder(torch.cat([x, masks], dim=1), hook=encoder_hook,
                                last_level=None if decode else deepest)
        # Skip taps of a model without GIFT on its skips are the encoder features themselves.
        for site, level in wanted:
            if site == "skip" and self.placement != "skip" and level < len(features):
                tapped[("skip", level)] = features[level]
        if not decode:
            return None, tapped
        guide = features[-1].mean(dim=(2, 3))

        def skip_hook(level: int, skip: torch.Tensor) -> torch.Tensor:
            if self.placement == "skip":
                skip = self._gift(level, skip, guide, masks)
                if ("skip", level) in wanted:
                    tapped[("skip", level)] = skip
            return skip

        def output_hook(level: int, output: torch.Tensor) -> torch.Tensor:
            if self.placement == "decoder-output":
                output = self._gift(level, output, guide, masks)
            if ("decoder-output", level) in wanted:
                tapped[("decoder-output", level)] = output
            return output

        decoded = self.decoder(features, masks, skip_hook=skip_hook, output_hook=output_hook)
        return self.decoder.head(decoded, x), tapped

    def _relations(self, tapped: dict[tuple[str, int], torch.Tensor], masks: torch.Tensor
                   ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        maps, resized = {}, {}
        for tap in self.taps:
            features = tapped[(tap.site, tap.level)]
            mask = resize_mask(masks, features.shape[-2:], align_corners=True).to(features.dtype)
            maps[tap.key] = relation_map(features, mask)
            resized[tap.key] = mask
        return maps, resized

    def forward(self, images: torch.Tensor, masks: torch.Tensor) -> dict[str, object]:
        """Return ``{"images": harmonized, ["relation_maps": {...}, "relation_masks": {...}]}``."""
        images_in, masks_in, pads = self._pad(images, masks)
        output, tapped = self._run(images_in, masks_in, decode=True)
        assert output is not None  # decode=True always returns the output
        result: dict[str, object] = {"images": self._crop(output * self.std + self.mean, pads)}
        if self.taps:
            maps, resized = self._relations(tapped, masks_in)
            result["relation_maps"] = maps
            result["relation_masks"] = resized
        return result

    def relation_maps(self, images: torch.Tensor, masks: torch.Tensor) -> dict[str, torch.Tensor]:
        """
        Return the relation maps at the taps, keyed by tap key (the teacher's call).

        Only the encoder is run when every tap is an encoder or skip tap and the
        model has no GIFT after the encoder.
        """
        if not self.taps:
            return {}
        images, masks, _ = self._pad(images, masks)
        encoder_only = self.placement in (None, "encoder") and all(
            tap.site in ("encoder", "skip") for tap in self.taps)
        _, tapped = self._run(images, masks, decode=not encoder_only)
        return self._relations(tapped, masks)[0]


class GiftNet(ISSAMNet):
    """
    Harmonize with GiftNet :cite:`Niu2023` on the iSSAM backbone: :class:`ISSAMNet` with GIFT and/or distillation.

    Re-implementation from the paper's description (the official code and
    weights were never released); the registry builds it for every iSSAM
    model that has GIFT or relation distillation, :class:`ISSAMNet` for the
    plain backbone. See :class:`ISSAMNet` for inputs, outputs and placements.

    References
    ----------
    :cite:`Niu2023`, :cite:`Sofiiuk2021`, :cite:`Karras2020`
    """
