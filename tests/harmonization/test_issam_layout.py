"""The iSSAM backbone against the recorded layout of issam256.pth and against iSSAM's architecture rules.

tests/fixtures/issam256_state_dict.json is data: the parameter and buffer names
and shapes, in state-dict order, of the released ``issam256.pth``
(``improved_ssam256``, SamsungLabs/image_harmonization). These tests check our
models against it, re-derive the same list in the test from the written rules
of the architecture (channel doubling, BatchNorm from block 2, SSAM on the last
decoder block, ...), and check the forward rules of the paper
:cite:`Sofiiuk2021` (image fusion, spatial-separated attention, XavierGluon's
variance) with values computed here by hand. No peer code is reproduced.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ccharmony.harmonization.models import (
    BackboneConfig,
    GiftNet,
    ISSAMNet,
    ModelConfig,
    build_model,
    model_config,
)
from ccharmony.harmonization.models.issam import SSAM, ChannelGate, MaskBlur, init_xavier_gluon

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "issam256_state_dict.json"
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _fixture() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _layout(model: nn.Module) -> list[list]:
    return [[name, list(value.shape)] for name, value in model.state_dict().items()]


def _inputs(size=(64, 64), batch=2, seed=1):
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 3, *size, generator=generator)
    masks = torch.zeros(batch, 1, *size)
    masks[:, :, size[0] // 4:size[0] // 2 + 5, size[1] // 3:size[1] - 4] = 1.0
    return images, masks


# -- the layout, derived from the architecture rules --------------------------------------------


def _conv(prefix: str, cin: int, cout: int, *, norm: bool, bias: bool = True) -> list[list]:
    """A 3x3 conv (+ BatchNorm) unit: conv at ``block.0``, the norm at ``block.1``."""
    rows = [[f"{prefix}.block.0.weight", [cout, cin, 3, 3]]]
    if bias:
        rows.append([f"{prefix}.block.0.bias", [cout]])
    if norm:
        rows += [[f"{prefix}.block.1.{key}", [] if key == "num_batches_tracked" else [cout]] for key in BN_KEYS]
    return rows


def _layout_from_rules(depth: int, ch: int, batchnorm_from: int, attend_from: int, mid_k: float) -> list[list]:
    widths = [ch * 2**level for level in range(depth)]
    rows: list[list] = []
    for level in range(depth):
        prefix = f"encoder.block{level}" if level < 2 else f"encoder.blocks_connected.block{level}"
        cin = 4 if level == 0 else widths[level - 1]  # RGB + mask in
        norm = level >= batchnorm_from
        rows += _conv(f"{prefix}.convs.block.0", cin, widths[level], norm=norm)
        rows += _conv(f"{prefix}.convs.block.1", widths[level], widths[level], norm=norm)
    for index in range(depth - 1):
        level = depth - 2 - index
        up, out = f"decoder.up_blocks.{index}", widths[level]
        joined = 2 * out  # skip + up-sampled
        rows += _conv(f"{up}.upconv.1", widths[level + 1], out, norm=False)
        rows += _conv(f"{up}.convs.block.0", joined, out, norm=True)
        rows += _conv(f"{up}.convs.block.1", out, out, norm=True)
        if index >= attend_from:
            hidden = max(joined // 16, 8)
            for gate in ("background_gate", "foreground_gate", "mix_gate"):
                name = f"{up}.attention.{gate}.attention_transform"
                rows += [[f"{name}.0.weight", [hidden, 2 * joined]], [f"{name}.0.bias", [hidden]],
                         [f"{name}.2.weight", [joined, hidden]], [f"{name}.2.bias", [joined]]]
            mid = int(mid_k * joined)
            rows += _conv(f"{up}.attention.learning_block.0", joined, mid, norm=True, bias=False)
            rows += _conv(f"{up}.attention.learning_block.1", mid, joined, norm=True, bias=False)
            rows.append([f"{up}.attention.mask_blurring.weight", [1, 1, 7, 7]])
    rows += [["decoder.conv_attention.weight", [1, ch, 1, 1]], ["decoder.conv_attention.bias", [1]],
             ["decoder.to_rgb.weight", [3, ch, 1, 1]], ["decoder.to_rgb.bias", [3]]]
    return rows


def test_fixture_records_improved_ssam256():
    data = _fixture()
    assert data["source"]["repository"] == "SamsungLabs/image_harmonization"
    assert data["source"]["mconfig"] == "improved_ssam256"
    assert data["source"]["params"] == {"depth": 4, "ch": 32, "image_fusion": True, "attention_mid_k": 0.5,
                                        "batchnorm_from": 2, "attend_from": 2}
    names = [name for name, _ in data["state_dict"]]
    assert len(names) == 113 and len(set(names)) == 113
    assert "transcription" not in data["description"].lower()


def test_fixture_is_the_layout_the_architecture_rules_give():
    params = _fixture()["source"]["params"]
    derived = _layout_from_rules(params["depth"], params["ch"], params["batchnorm_from"], params["attend_from"],
                                 params["attention_mid_k"])
    assert derived == _fixture()["state_dict"]


@pytest.mark.parametrize("name", ["issam", "issam-gift", "issam-rd", "giftnet"])
def test_state_dict_names_shapes_and_order_are_issam256s(name):
    expected = _fixture()["state_dict"]
    ours = _layout(build_model(name))
    backbone = [entry for entry in ours if not entry[0].startswith("gifts.")]
    assert backbone == expected
    extra = [entry[0] for entry in ours if entry[0].startswith("gifts.")]
    assert bool(extra) == (name in ("issam-gift", "giftnet"))
    assert {key.split(".")[1] for key in extra} <= {"0", "1", "2"}


def test_a_state_dict_with_the_fixtures_names_loads_by_name():
    """A checkpoint built from the fixture alone (random values) loads strictly and lands where named."""
    generator = torch.Generator().manual_seed(5)
    state = {name: (torch.tensor(7) if name.endswith("num_batches_tracked")
                    else torch.randn(shape, generator=generator)) for name, shape in _fixture()["state_dict"]}
    plain = build_model("issam")
    assert not plain.load_state_dict(state, strict=True).missing_keys
    for key, value in state.items():
        assert torch.equal(plain.state_dict()[key], value), key
    giftnet = build_model("giftnet")
    report = giftnet.load_state_dict(state, strict=False)
    assert report.unexpected_keys == []
    assert report.missing_keys and all(key.startswith("gifts.") for key in report.missing_keys)
    for key, value in state.items():
        assert torch.equal(giftnet.state_dict()[key], value), key


# -- architecture facts ---------------------------------------------------------------------------


def test_architecture_facts_of_improved_ssam256():
    model = build_model("issam")
    blocks = model.encoder.blocks()
    assert [block.convs.block[0].block[0].out_channels for block in blocks] == [32, 64, 128, 256]
    assert [block.convs.block[0].block[0].in_channels for block in blocks] == [4, 32, 64, 128]
    for block in blocks:
        kinds = {type(unit.block[1]) for unit in block.convs.block}
        assert len(kinds) == 1  # both convolutions of a block alike
    has_norm = [isinstance(block.convs.block[0].block[1], nn.BatchNorm2d) for block in blocks]
    assert has_norm == [False, False, True, True]  # batchnorm_from = 2
    pools = [isinstance(block.pooling, nn.MaxPool2d) for block in blocks]
    assert pools == [True, True, True, False]
    ups = model.decoder.up_blocks
    assert [up.convs.block[0].block[0].out_channels for up in ups] == [128, 64, 32]
    assert all(isinstance(unit.block[1], nn.BatchNorm2d) for up in ups for unit in up.convs.block)
    assert all(not isinstance(up.upconv[1].block[1], nn.BatchNorm2d) for up in ups)
    assert [up.attention is not None for up in ups] == [False, False, True]  # attend_from = 2
    attention = ups[2].attention
    joined = 32 + 32
    assert attention.learning_block[0].block[0].out_channels == int(0.5 * joined) == 32  # attention_mid_k
    assert attention.learning_block[1].block[0].out_channels == joined
    assert all(unit.block[0].bias is None for unit in attention.learning_block)
    assert {type(m) for m in model.modules() if isinstance(m, (nn.ReLU, nn.ELU, nn.LeakyReLU))} == {nn.ReLU}


def test_mask_blur_kernel_is_a_normalised_symmetric_gaussian():
    kernel = MaskBlur(7, 1.0, padding=3).weight
    assert kernel.shape == (1, 1, 7, 7)
    k = kernel[0, 0].double()
    assert float(k.sum()) == pytest.approx(1.0, abs=1e-6)
    assert torch.allclose(k, k.T) and torch.allclose(k, k.flip(0)) and torch.allclose(k, k.flip(1))
    assert int(k.argmax()) == 3 * 7 + 3
    # By hand: exp(-(dx^2 + dy^2) / 2) / sum over the 7x7 grid.
    values = [[math.exp(-((x - 3) ** 2 + (y - 3) ** 2) / 2.0) for x in range(7)] for y in range(7)]
    total = sum(map(sum, values))
    assert torch.allclose(k, torch.tensor(values, dtype=torch.float64) / total, atol=1e-7)
    assert float(k[3, 3]) == pytest.approx(1.0 / total, rel=1e-6)
    # Zero padding keeps the size; a constant map is kept in the interior and attenuated at a corner.
    blurred = MaskBlur(7, 1.0, padding=3)(torch.ones(1, 1, 12, 12))
    assert blurred.shape == (1, 1, 12, 12)
    assert float(blurred[0, 0, 6, 6]) == pytest.approx(1.0, abs=1e-6)
    corner = sum(values[y][x] for y in range(3, 7) for x in range(3, 7)) / total
    assert float(blurred[0, 0, 0, 0]) == pytest.approx(corner, rel=1e-6)


# -- XavierGluon, from its written rule --------------------------------------------------------------


def test_xavier_gluon_variance_follows_the_average_fan():
    torch.manual_seed(3)
    conv = nn.Conv2d(64, 128, 3)
    init_xavier_gluon(conv)
    fan_in, fan_out = 64 * 9, 128 * 9  # receptive field 3x3
    expected = math.sqrt(1.0 / ((fan_in + fan_out) / 2.0))  # magnitude 1: 1/sqrt(864)
    assert float(conv.weight.detach().std()) == pytest.approx(expected, rel=0.02)
    assert float(conv.weight.detach().mean()) == pytest.approx(0.0, abs=3 * expected / math.sqrt(conv.weight.numel()))
    assert torch.equal(conv.bias, torch.zeros(128))
    linear = nn.Linear(300, 100)
    init_xavier_gluon(linear)
    assert float(linear.weight.detach().std()) == pytest.approx(math.sqrt(1.0 / 200.0), rel=0.03)
    assert torch.equal(linear.bias, torch.zeros(100))
    # The class default (uniform, magnitude 3): U(-s, s), s = sqrt(3 / 864), variance s^2 / 3.
    init_xavier_gluon(conv, magnitude=3.0, distribution="uniform")
    bound = math.sqrt(3.0 / 864.0)
    assert float(conv.weight.detach().abs().max()) <= bound
    assert float(conv.weight.detach().abs().max()) > 0.99 * bound
    assert float(conv.weight.detach().var()) == pytest.approx(bound**2 / 3.0, rel=0.03)


def test_xavier_gluon_on_the_built_model():
    torch.manual_seed(0)
    model = build_model("issam")
    for name, module in model.named_modules():
        if isinstance(module, nn.BatchNorm2d):
            assert torch.equal(module.weight, torch.ones_like(module.weight)), name
            assert torch.equal(module.bias, torch.zeros_like(module.bias)), name
        elif isinstance(module, (nn.Conv2d, nn.Linear)):
            if module.bias is not None:
                assert torch.equal(module.bias, torch.zeros_like(module.bias)), name
            weight = module.weight.detach()
            fan_in = weight.shape[1] * math.prod(weight.shape[2:])
            fan_out = weight.shape[0] * math.prod(weight.shape[2:])
            if weight.numel() >= 4096:
                assert float(weight.std()) == pytest.approx((2.0 / (fan_in + fan_out)) ** 0.5, rel=0.05), name
    # iSSAM's initialiser re-draws SSAM's blur buffer, being called "weight": N(0, 1/49) (fans 49 and 49).
    drawn = model.decoder.up_blocks[2].attention.mask_blurring.weight.detach()
    assert float(drawn.min()) < 0
    assert 0.5 / 7 < float(drawn.std()) < 1.6 / 7
    kept = ISSAMNet(ModelConfig("x", backbone=BackboneConfig(ssam_blur="gaussian")))
    assert torch.equal(kept.decoder.up_blocks[2].attention.mask_blurring.weight, MaskBlur(7, 1.0, 3).weight)


def test_xavier_gluon_draws_in_module_apply_order():
    """Same seed: constructing with PyTorch's init, then drawing N(0, s^2) children first, gives the same numbers."""
    torch.manual_seed(0)
    ours = build_model("issam").state_dict()
    torch.manual_seed(0)
    model = ISSAMNet(ModelConfig("x", backbone=BackboneConfig(init="pytorch")))
    with torch.no_grad():
        def draw(module: nn.Module) -> None:
            if isinstance(module, nn.BatchNorm2d):
                module.weight.fill_(1.0)
                module.bias.zero_()
                return
            weight = getattr(module, "weight", None)
            if isinstance(weight, torch.Tensor):
                receptive = math.prod(weight.shape[2:])
                average = (weight.shape[1] * receptive + weight.shape[0] * receptive) / 2.0
                weight.normal_(0.0, math.sqrt(1.0 / average))
            if isinstance(getattr(module, "bias", None), torch.Tensor):
                module.bias.zero_()
        model.apply(draw)
    by_hand = model.state_dict()
    assert list(by_hand) == list(ours)
    for key, value in by_hand.items():
        assert torch.equal(ours[key], value), key


# -- forward rules --------------------------------------------------------------------------------


def test_channel_gate_by_hand():
    torch.manual_seed(2)
    gate = ChannelGate(32)
    x = torch.randn(2, 32, 5, 6)
    first, second = gate.attention_transform[0], gate.attention_transform[2]
    stats = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)
    hidden = torch.clamp(stats @ first.weight.T + first.bias, min=0.0)
    g = 1.0 / (1.0 + torch.exp(-(hidden @ second.weight.T + second.bias)))
    assert first.out_features == 8  # max(32 // 16, 8)
    assert torch.allclose(gate(x), g[:, :, None, None] * x, atol=1e-6)


def test_ssam_separates_background_and_foreground():
    torch.manual_seed(4)
    ssam = SSAM(16, mid_k=0.5).eval()
    x = torch.randn(1, 16, 12, 12)
    with torch.no_grad():
        # Empty mask: only the background gate.
        assert torch.allclose(ssam(x, torch.zeros(1, 1, 6, 6)), ssam.background_gate(x), atol=1e-6)
        # Full mask: the learnt foreground path plus the mix gate, wherever the blur sees only ones
        # (3 pixels from the border: the 7x7 blur is zero-padded).
        full = ssam(x, torch.ones(1, 1, 6, 6))
        inside = ssam.learning_block(ssam.foreground_gate(x)) + ssam.mix_gate(x)
        assert torch.allclose(full[..., 3:-3, 3:-3], inside[..., 3:-3, 3:-3], atol=1e-5)
        assert not torch.allclose(full[..., :1, :1], inside[..., :1, :1], atol=1e-3)


@pytest.mark.parametrize("train_mode", [False, True])
def test_output_is_the_image_fusion_of_the_composite(train_mode):
    """out = a x + (1 - a) to_rgb(f), a = sigmoid(3 conv_attention(f)), in the normalised space."""
    torch.manual_seed(0)
    model = ISSAMNet(ModelConfig("x", backbone=BackboneConfig(width=8))).train(train_mode)
    seen: dict[str, torch.Tensor] = {}
    model.decoder.conv_attention.register_forward_hook(lambda m, i, o: seen.__setitem__("attention", o))
    model.decoder.to_rgb.register_forward_hook(lambda m, i, o: seen.__setitem__("rgb", o))
    images, masks = _inputs()
    with torch.no_grad():
        got = model(images, masks)["images"]
    keep = torch.sigmoid(3.0 * seen["attention"])
    normalised = (images - MEAN) / STD
    expected = (keep * normalised + (1 - keep) * seen["rgb"]) * STD + MEAN
    assert torch.allclose(got, expected, atol=1e-5)
    # a -> 1 everywhere: the composite itself comes out (inside and outside the mask).
    with torch.no_grad():
        model.decoder.conv_attention.weight.zero_()
        model.decoder.conv_attention.bias.fill_(40.0)
        assert torch.allclose(model(images, masks)["images"], images, atol=1e-5)
        model.decoder.conv_attention.bias.fill_(-40.0)
        model.decoder.to_rgb.weight.zero_()
        model.decoder.to_rgb.bias.copy_(torch.tensor([1.0, -1.0, 0.5]))
        constant = torch.tensor([1.0, -1.0, 0.5]).view(1, 3, 1, 1) * STD + MEAN
        assert torch.allclose(model(images, masks)["images"], constant.expand_as(images), atol=1e-5)


def test_without_fusion_the_output_is_to_rgb():
    torch.manual_seed(0)
    model = ISSAMNet(ModelConfig("x", backbone=BackboneConfig(width=8, fusion=False))).eval()
    assert not hasattr(model.decoder, "conv_attention")
    seen: dict[str, torch.Tensor] = {}
    model.decoder.to_rgb.register_forward_hook(lambda m, i, o: seen.__setitem__("rgb", o))
    images, masks = _inputs()
    with torch.no_grad():
        got = model(images, masks)["images"]
    assert torch.allclose(got, seen["rgb"] * STD + MEAN, atol=1e-6)


@pytest.mark.parametrize("size", [(50, 70), (57, 64), (64, 41)])
def test_sizes_not_divisible_by_eight_are_zero_padded_centred_and_cropped(size):
    torch.manual_seed(0)
    model = ISSAMNet(ModelConfig("x", backbone=BackboneConfig(width=8))).eval()
    images, masks = _inputs(size=size)
    height, width = size
    pad_h, pad_w = -height % 8, -width % 8  # 2^(depth - 1) = 8
    top, left = pad_h // 2, pad_w // 2
    pads = (left, pad_w - left, top, pad_h - top)
    with torch.no_grad():
        got = model(images, masks)["images"]
        # Padded by hand with black (zero RGB) and an empty mask, run at a multiple of 8, cropped.
        full = model(F.pad(images, pads), F.pad(masks, pads))["images"]
    assert got.shape == (2, 3, height, width)
    expected = full[..., top:top + height, left:left + width]
    assert torch.allclose(got, expected, atol=1e-5)


def test_registry_widths_follow_the_preset():
    config = model_config("giftnet")
    assert config.backbone.width == 32 and config.backbone.depth == 4
    assert isinstance(build_model("giftnet"), GiftNet)
    assert type(build_model("issam")) is ISSAMNet
