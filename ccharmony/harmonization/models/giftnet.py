"""
GIFT
====

Define the globally guided feature transformation of GiftNet :cite:`Niu2023`
(re-implemented from the paper's description; the official code and weights
were never released) and our earlier U-Net network that carries it:

-   :class:`ModulatedConv2d`: a convolution whose kernel is modulated by
    per-sample, per-input-channel scales and demodulated, as in StyleGAN2
    :cite:`Karras2020`.
-   :class:`GIFTOptions`: the options of one GIFT module.
-   :class:`GIFT`: an MLP maps the global feature vector to scales, the
    modulated convolution transforms the features, and the result replaces
    them inside the (resized) foreground mask only.
-   :class:`UNetGIFT` (formerly named ``GiftNet``): the legacy U-Net of
    :mod:`~ccharmony.harmonization.models.unet` with GIFT after every decoder
    stage (placement ``decoder-output``), registered as ``unet-gift`` and
    ``unet-gift-rd``. GiftNet itself (GIFT on the skip features of iSSAM) is
    :class:`~ccharmony.harmonization.models.issam.GiftNet` with the
    ``giftnet`` config (:mod:`ccharmony.harmonization.models`).

Choices the paper does not fix, with our defaults: the global vector is the
spatial mean of the bottleneck features (DucoNet's mapping network
average-pools the deepest map of its control encoders,
bcmi/DucoNet-Image-Harmonization ``iharm/model/base/Control_encoder.py``); the MLP has one hidden layer of 256
units (LeakyReLU 0.2) and its last layer starts at zero, so the scales start
at 1 (DucoNet's style layers start their bias at 1,
``iharm/model/modeling/styleganv2.py``); the kernel starts as the identity plus
small noise, so GIFT starts close to the identity; there is no activation
after the modulated convolution (DucoNet's ``StyleBlock`` has a LeakyReLU);
the result replaces the features inside the mask only,
``m T(x) + (1 - m) x``, as DucoNet's ``Control_Module``.

References
----------
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
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ccharmony.errors import ConfigError
from ccharmony.harmonization.models.unet import StageHook, UNet, UNetOptions

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["ModulatedConv2d", "GIFTOptions", "GIFT", "UNetGIFT"]


class ModulatedConv2d(nn.Module):
    """
    Convolve with a kernel modulated per sample and (optionally) demodulated.

    Parameters
    ----------
    in_channels, out_channels
        Channels.
    kernel_size
        Odd kernel side (3 in GiftNet); padding keeps the size.
    demodulate
        Divide each output channel's modulated kernel by its L2 norm.
    eps
        Guard of the demodulation.

    Notes
    -----
    With scales ``s`` of shape ``(B, C_in)``, the per-sample kernel is
    ``w'[o, i] = w[o, i] s[i]`` and, demodulated,
    ``w''[o, i] = w'[o, i] / sqrt(sum_{i,k} w'[o, i, k]^2 + eps)``
    :cite:`Karras2020`. It is computed without grouped convolutions: the input
    is scaled by ``s``, convolved with ``w`` and the output scaled by the
    demodulation coefficients, which is the same linear map.

    References
    ----------
    :cite:`Karras2020`, :cite:`Niu2023`
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        demodulate: bool = True,
        eps: float = 1e-8,
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ConfigError(f"ModulatedConv2d: kernel_size must be odd, got {kernel_size}")
        self.weight = nn.Parameter(
            torch.randn(out_channels, in_channels, kernel_size, kernel_size)
            / math.sqrt(in_channels * kernel_size**2)
        )
        self.demodulate = demodulate
        self.eps = eps
        self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
        """Return the modulated convolution of ``x`` ``(B, C_in, H, W)`` with ``scales`` ``(B, C_in)``."""
        y = self._convolve(x, scales)
        if self.demodulate:
            y = y * self._demodulation(scales).to(y.dtype)[:, :, None, None]
        return y

    def _convolve(self, x: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x * scales.to(x.dtype)[:, :, None, None], self.weight.to(x.dtype), padding=self.padding)

    def _demodulation(self, scales: torch.Tensor) -> torch.Tensor:
        energy = (scales.float() ** 2) @ (self.weight.float() ** 2).sum(dim=(2, 3)).t()
        return torch.rsqrt(energy + self.eps)


@dataclass(frozen=True)
class GIFTOptions:
    """
    Configure the globally guided feature transformation.

    Parameters
    ----------
    hidden
        Hidden units of the MLP that maps the global vector to scales.
    demodulate
        Demodulate the modulated kernels (StyleGAN2).
    stages
        Decoder stages (0 = deepest) that get GIFT; ``None`` for all.
    init_noise
        Standard deviation of the noise added to the identity kernel at
        initialisation, relative to ``1 / sqrt(fan_in)``.
    """

    hidden: int = 256
    demodulate: bool = True
    stages: tuple[int, ...] | None = None
    init_noise: float = 0.5

    def __post_init__(self) -> None:
        if self.hidden < 1:
            raise ConfigError(f"GIFTOptions: hidden must be >= 1, got {self.hidden}")
        if self.stages is not None:
            object.__setattr__(self, "stages", tuple(int(s) for s in self.stages))

    def to_dict(self) -> dict:
        """Return the options as a JSON-ready dict."""
        data = asdict(self)
        data["stages"] = None if self.stages is None else list(self.stages)
        return data


class GIFT(nn.Module):
    """
    Transform foreground features under the guidance of a global vector.

    Parameters
    ----------
    global_channels
        Length of the global feature vector.
    channels
        Channels of the features transformed.
    options
        :class:`GIFTOptions`.

    Notes
    -----
    ``forward(x, g, mask)`` returns ``m * T(x) + (1 - m) * x`` with
    ``T(x) = modconv(x, 1 + MLP(g)) + b`` and ``m`` the mask resized to ``x``
    :cite:`Niu2023`.

    References
    ----------
    :cite:`Niu2023`
    """

    def __init__(self, global_channels: int, channels: int, options: GIFTOptions) -> None:
        super().__init__()
        last = nn.Linear(options.hidden, channels)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.mlp = nn.Sequential(nn.Linear(global_channels, options.hidden), nn.LeakyReLU(0.2, inplace=True), last)
        self.conv = ModulatedConv2d(channels, channels, 3, demodulate=options.demodulate)
        with torch.no_grad():
            self.conv.weight.mul_(options.init_noise)
            self.conv.weight[:, :, 1, 1] += torch.eye(channels)
        self.bias = nn.Parameter(torch.zeros(channels))

    def scales(self, global_vector: torch.Tensor) -> torch.Tensor:
        """Return the per-channel scales ``1 + MLP(g)``, ``(B, C)``."""
        return 1.0 + self.mlp(global_vector)

    def forward(self, x: torch.Tensor, global_vector: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return the features with the foreground replaced by their transformation."""
        scales = self.scales(global_vector)
        y = self.conv._convolve(x, scales)
        bias = self.bias[None, :, None, None].to(x.dtype)
        if self.conv.demodulate:
            transformed = torch.addcmul(bias, y, self.conv._demodulation(scales).to(y.dtype)[:, :, None, None])
        else:
            transformed = y + bias
        if mask.shape[-2:] != x.shape[-2:]:
            mask = F.interpolate(mask, size=x.shape[-2:], mode="bilinear", align_corners=False)
        # m * T(x) + (1 - m) * x in one pass.
        return torch.lerp(x, transformed, mask.to(x.dtype))


class UNetGIFT(UNet):
    """
    Harmonize with the legacy U-Net whose decoder stages carry GIFT :cite:`Niu2023`.

    Our earlier design (GIFT on decoder outputs); GiftNet as the issue reads
    the paper transforms the skip features
    (:class:`~ccharmony.harmonization.models.issam.ISSAMNet`).

    Parameters
    ----------
    options
        :class:`~ccharmony.harmonization.models.unet.UNetOptions`; set
        ``relation_stages`` to return relation maps for distillation.
    gift
        :class:`GIFTOptions`.
    relation_prefix
        Prefix of the relation-map keys (see :class:`UNet`).

    Notes
    -----
    Inputs and outputs as :class:`~ccharmony.harmonization.models.unet.UNet`:
    RGB in [0, 1] and a mask in, ``{"images": ...}`` out.

    References
    ----------
    :cite:`Niu2023`, :cite:`Karras2020`
    """

    name = "unet-gift"

    def __init__(self, options: UNetOptions | None = None, gift: GIFTOptions | None = None, *,
                 relation_prefix: str = "unet") -> None:
        super().__init__(options, relation_prefix=relation_prefix)
        self.gift_options = gift or GIFTOptions()
        global_channels = self.options.channels[-1]
        stages = self.gift_options.stages
        if stages is None:
            stages = tuple(range(len(self.decoder.stage_channels)))
        bad = [s for s in stages if not 0 <= s < len(self.decoder.stage_channels)]
        if bad:
            raise ConfigError(
                f"GIFTOptions: stages must lie in 0..{len(self.decoder.stage_channels) - 1}, got {bad}"
            )
        self.gift_stages = tuple(stages)
        self.gifts = nn.ModuleDict(
            {
                str(stage): GIFT(global_channels, self.decoder.stage_channels[stage], self.gift_options)
                for stage in self.gift_stages
            }
        )

    def decoder_hook(self, features: list[torch.Tensor]) -> StageHook | None:
        """Return the GIFT hook, guided by the mean of the bottleneck features."""
        global_vector = features[-1].mean(dim=(2, 3))

        def hook(stage: int, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            key = str(stage)
            if key not in self.gifts:
                return x
            return self.gifts[key](x, global_vector, mask)

        return hook

