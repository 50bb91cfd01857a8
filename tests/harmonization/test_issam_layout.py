"""The iSSAM backbone against iSSAM's own code (a transcription in issam_reference.py).

The fixture tests/fixtures/issam256_state_dict.json lists the names and shapes of the state dict of
``SSAMImageHarmonization(**BMCONFIGS['improved_ssam256'])``, the configuration of the released
``issam256.pth``; it is written by ``python tests/harmonization/issam_reference.py <file>``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from ccharmony.harmonization.models import (
    BackboneConfig,
    GiftNet,
    ISSAMNet,
    ModelConfig,
    build_model,
    model_config,
)
from ccharmony.harmonization.models.issam import GaussianSmoothing, init_xavier_gluon
from issam_reference import IMPROVED_SSAM256, SSAMImageHarmonization, fixture_text, improved_ssam256

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "issam256_state_dict.json"
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def _layout(model: nn.Module) -> list[list]:
    return [[name, list(value.shape)] for name, value in model.state_dict().items()]


def _inputs(size=(64, 64), batch=2, seed=1):
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 3, *size, generator=generator)
    masks = torch.zeros(batch, 1, *size)
    masks[:, :, size[0] // 4:size[0] // 2 + 5, size[1] // 3:size[1] - 4] = 1.0
    return images, masks


def test_fixture_is_what_the_transcription_writes():
    assert FIXTURE.read_text(encoding="utf-8") == fixture_text()
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert data["source"]["mconfig"] == "improved_ssam256"
    assert data["source"]["params"] == IMPROVED_SSAM256
    assert len(data["state_dict"]) == 113


@pytest.mark.parametrize("name", ["issam", "issam-gift", "issam-rd", "giftnet"])
def test_state_dict_names_and_shapes_are_issam256s(name):
    expected = json.loads(FIXTURE.read_text(encoding="utf-8"))["state_dict"]
    ours = _layout(build_model(name))
    backbone = [entry for entry in ours if not entry[0].startswith("gifts.")]
    assert backbone == expected
    extra = [entry[0] for entry in ours if entry[0].startswith("gifts.")]
    assert bool(extra) == (name in ("issam-gift", "giftnet"))
    assert {key.split(".")[1] for key in extra} <= {"0", "1", "2"}


def test_issam256_weights_load_by_name():
    reference = SSAMImageHarmonization(**IMPROVED_SSAM256)
    state = reference.state_dict()
    plain = build_model("issam")
    assert plain.load_state_dict(state, strict=True)  # every key matched, nothing left over
    giftnet = build_model("giftnet")
    report = giftnet.load_state_dict(state, strict=False)
    assert report.unexpected_keys == []
    assert report.missing_keys and all(key.startswith("gifts.") for key in report.missing_keys)
    for key, value in state.items():
        assert torch.equal(giftnet.state_dict()[key], value), key


def test_initialisation_draws_the_same_numbers_as_issams_init_model():
    torch.manual_seed(0)
    reference = improved_ssam256().state_dict()
    torch.manual_seed(0)
    ours = build_model("issam").state_dict()
    assert list(ours) == list(reference)
    for key, value in reference.items():
        assert torch.equal(ours[key], value), key


def test_xavier_gluon_redraws_ssams_blur_kernel_as_issam_does():
    gaussian = GaussianSmoothing(7, 1.0, padding=3).weight[0, 0]
    # Independent: the normalised outer product of exp(-(x - 3)^2 / 2).
    profile = torch.tensor([math.exp(-((x - 3) ** 2) / 2) for x in range(7)])
    expected = profile[:, None] * profile[None, :]
    assert torch.allclose(gaussian, expected / expected.sum(), atol=1e-7)
    torch.manual_seed(0)
    theirs = improved_ssam256().decoder.up_blocks[2].attention.mask_blurring.weight[0, 0]
    assert not torch.allclose(theirs, gaussian, atol=1e-3)
    assert float(theirs.min()) < 0  # a random N(0, 1/7) kernel, not a blur
    kept = ISSAMNet(ModelConfig("x", backbone=BackboneConfig(ssam_blur="gaussian")))
    assert torch.equal(kept.decoder.up_blocks[2].attention.mask_blurring.weight[0, 0], gaussian)


def test_xavier_gluon_scale():
    torch.manual_seed(3)
    linear = nn.Linear(300, 100)
    init_xavier_gluon(linear)
    assert float(linear.weight.detach().std()) == pytest.approx(math.sqrt(1.0 / 200.0), rel=0.03)
    assert torch.equal(linear.bias, torch.zeros(100))


@pytest.mark.parametrize("fusion", [True, False])
@pytest.mark.parametrize("train_mode", [False, True])
def test_forward_equals_issams_on_the_same_weights(fusion, train_mode):
    torch.manual_seed(0)
    reference = SSAMImageHarmonization(**{**IMPROVED_SSAM256, "ch": 8, "image_fusion": fusion})
    ours = ISSAMNet(ModelConfig("x", backbone=BackboneConfig(width=8, fusion=fusion)))
    ours.load_state_dict(reference.state_dict(), strict=True)
    reference.train(train_mode)
    ours.train(train_mode)
    images, masks = _inputs()
    with torch.no_grad():
        expected = reference((images - MEAN) / STD, masks)["images"] * STD + MEAN
        got = ours(images, masks)["images"]
    assert torch.allclose(got, expected, atol=1e-5)


def test_architecture_facts_of_improved_ssam256():
    model = build_model("issam")
    blocks = model.encoder.blocks()
    channels = [block.convs.block[0].block[0].out_channels for block in blocks]
    assert channels == [32, 64, 128, 256]
    has_norm = [isinstance(block.convs.block[0].block[1], nn.BatchNorm2d) for block in blocks]
    assert has_norm == [False, False, True, True]
    assert all(isinstance(up.convs.block[0].block[1], nn.BatchNorm2d) for up in model.decoder.up_blocks)
    assert [up.attention is not None for up in model.decoder.up_blocks] == [False, False, True]
    assert {type(m) for m in model.modules() if isinstance(m, (nn.ReLU, nn.ELU, nn.LeakyReLU))} == {nn.ReLU}
    assert model.decoder.up_blocks[2].attention.learning_block[0].block[0].out_channels == 32  # mid_k 0.5


def test_sizes_not_divisible_by_eight_are_padded_and_cropped():
    model = build_model("issam", None).eval()
    images, masks = _inputs(size=(50, 70))
    assert model(images, masks)["images"].shape == (2, 3, 50, 70)


def test_registry_widths_follow_the_preset():
    config = model_config("giftnet")
    assert config.backbone.width == 32 and config.backbone.depth == 4
    assert isinstance(build_model("giftnet"), GiftNet)
    assert type(build_model("issam")) is ISSAMNet
