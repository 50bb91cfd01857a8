"""Where GIFT acts and what relation distillation supervises, seen through hooks on the tensors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ccharmony.harmonization.data import HarmonizationDataset, make_loader
from ccharmony.harmonization.engine import seed_everything
from ccharmony.harmonization.losses import MaskWeightedMSE, RelationDistillation, compute_loss, model_loss_terms
from ccharmony.harmonization.models import (
    BackboneConfig,
    DistillationConfig,
    GIFTConfig,
    ModelConfig,
    build_model,
    build_teacher,
    model_config,
    resize_mask,
)

sys.path.insert(0, str(Path(__file__).parent))
from harmonization_toy import write_toy_dataset  # noqa: E402

SMALL = BackboneConfig(width=8)


def _config(gift=None, distillation=None, name="m"):
    return ModelConfig(name, backbone=SMALL, gift=gift, distillation=distillation)


def _inputs(size=32, batch=2):
    generator = torch.Generator().manual_seed(7)
    images = torch.rand(batch, 3, size, size, generator=generator)
    masks = torch.zeros(batch, 1, size, size)
    masks[:, :, 6:20, 9:27] = 1.0
    return images, masks


class Capture:
    """Record encoder outputs, the skips entering each decoder block and each block's output."""

    def __init__(self, model):
        self.encoder, self.skips, self.decoder_in, self.decoder_out = {}, {}, {}, {}
        self.handles = []
        for level, block in enumerate(model.encoder.blocks()):
            self.handles.append(block.convs.register_forward_hook(self._store(self.encoder, level, "out")))
        depth = model.depth
        for index, block in enumerate(model.decoder.up_blocks):
            level = depth - 2 - index
            self.handles.append(block.register_forward_pre_hook(self._store(self.skips, level, 1)))
            self.handles.append(block.register_forward_pre_hook(self._store(self.decoder_in, level + 1, 0)))
            self.handles.append(block.register_forward_hook(self._store(self.decoder_out, level, "out")))
        self.handles.append(model.decoder.to_rgb.register_forward_pre_hook(self._store(self.decoder_in, 0, 0)))

    @staticmethod
    def _store(target, level, which):
        def hook(module, args, output=None):
            target[level] = (output if which == "out" else args[which]).detach().clone()
        return hook


def _inside_outside(mask, size):
    resized = resize_mask(mask, size, align_corners=True)
    return resized > 0.5, resized == 0


@pytest.mark.parametrize("levels", [None, (1,)])
def test_skip_gift_changes_the_skip_tensors_inside_the_mask_only(levels):
    torch.manual_seed(0)
    model = build_model(_config(gift=GIFTConfig(levels=levels))).eval()
    capture = Capture(model)
    images, masks = _inputs()
    with torch.no_grad():
        model(images, masks)
    for level in range(3):
        raw, skip = capture.encoder[level], capture.skips[level]
        inside, outside = _inside_outside(masks, raw.shape[-2:])
        inside, outside = inside.expand_as(raw), outside.expand_as(raw)
        assert outside.any() and inside.any()
        assert torch.equal(skip[outside], raw[outside]), level  # background skip features untouched
        if levels is None or level in levels:
            assert (skip[inside] - raw[inside]).abs().mean() > 1e-3, level
        else:
            assert torch.equal(skip, raw), level


def test_without_gift_the_skips_are_the_encoder_outputs():
    model = build_model(_config()).eval()
    capture = Capture(model)
    with torch.no_grad():
        model(*_inputs())
    for level in range(3):
        assert torch.equal(capture.skips[level], capture.encoder[level])


def test_decoder_output_placement_leaves_skips_and_changes_block_outputs_inside():
    torch.manual_seed(0)
    model = build_model(_config(gift=GIFTConfig(placement="decoder-output"))).eval()
    capture = Capture(model)
    images, masks = _inputs()
    with torch.no_grad():
        model(images, masks)
    for level in range(3):
        assert torch.equal(capture.skips[level], capture.encoder[level])
        produced, consumed = capture.decoder_out[level], capture.decoder_in[level]
        inside, outside = _inside_outside(masks, produced.shape[-2:])
        assert torch.equal(consumed[outside.expand_as(produced)], produced[outside.expand_as(produced)])
        assert (consumed - produced)[inside.expand_as(produced)].abs().mean() > 1e-3


def test_encoder_placement_transforms_what_feeds_the_skip_and_the_next_block():
    torch.manual_seed(0)
    model = build_model(_config(gift=GIFTConfig(placement="encoder"))).eval()
    capture = Capture(model)
    pooled_inputs = {}
    for level, block in enumerate(model.encoder.blocks()):
        block.convs.register_forward_pre_hook(
            lambda module, args, level=level: pooled_inputs.__setitem__(level, args[0].detach().clone()))
    images, masks = _inputs()
    with torch.no_grad():
        model(images, masks)
    for level in range(3):
        raw, skip = capture.encoder[level], capture.skips[level]
        inside, outside = _inside_outside(masks, raw.shape[-2:])
        assert torch.equal(skip[outside.expand_as(raw)], raw[outside.expand_as(raw)])
        assert (skip - raw)[inside.expand_as(raw)].abs().mean() > 1e-3
        assert torch.equal(pooled_inputs[level + 1], F.max_pool2d(skip, 2, 2))


def _distillation_gradients(config):
    torch.manual_seed(0)
    model = build_model(config).train()
    teacher = build_teacher(config).eval()
    images, masks = _inputs()
    with torch.no_grad():
        reference = teacher.relation_maps(images.flip(1), masks)
    outputs = model(images, masks)
    loss = RelationDistillation("cosine-background")(outputs["relation_maps"], outputs["relation_masks"], reference)
    loss.backward()
    assert float(loss.detach()) > 0
    return model


def test_distillation_gradient_reaches_every_gift_module_and_not_the_decoder():
    model = _distillation_gradients(_config(gift=GIFTConfig(), distillation=DistillationConfig()))
    assert sorted(model.gifts) == ["0", "1", "2"]
    for level, gift in model.gifts.items():
        for name in ("conv.weight", "bias", "mlp.2.weight"):
            grad = dict(gift.named_parameters())[name].grad
            assert grad is not None and float(grad.abs().sum()) > 0, (level, name)
    # The transformed skips are read before any decoder block: no distillation gradient there.
    assert all(p.grad is None for p in model.decoder.parameters())
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in model.encoder.parameters())


def test_legacy_design_distils_tensors_upstream_of_gift():
    # The finding about the former giftnet: its distillation never reaches GIFT.
    config = model_config("unet-gift-rd").with_backbone(width=4)
    torch.manual_seed(0)
    model = build_model(config).train()
    teacher = build_teacher(config).eval()
    images, masks = _inputs()
    outputs = model(images, masks)
    with torch.no_grad():
        reference = teacher.relation_maps(images.flip(1), masks)
    RelationDistillation("cosine-all")(outputs["relation_maps"], outputs["relation_masks"], reference).backward()
    assert all(p.grad is None for p in model.gifts.parameters())


def test_relation_maps_are_keyed_by_level_and_the_teacher_has_them():
    config = _config(gift=GIFTConfig(levels=(0, 2)), distillation=DistillationConfig())
    model = build_model(config).eval()
    teacher = build_teacher(config).eval()
    images, masks = _inputs()
    with torch.no_grad():
        outputs = model(images, masks)
        called = []
        handle = teacher.decoder.register_forward_pre_hook(lambda *args: called.append(True))
        reference = teacher.relation_maps(images, masks)
        handle.remove()
    assert not called  # skip taps of the teacher are encoder features: the decoder is not run
    keys = sorted(outputs["relation_maps"])
    assert [key.split("/")[1] for key in keys] == ["encoder0", "encoder2"]
    assert sorted(reference) == keys
    assert [tuple(outputs["relation_maps"][k].shape) for k in keys] == [(2, 1, 32, 32), (2, 1, 8, 8)]
    assert teacher.backbone.fusion is False and len(teacher.gifts) == 0


@pytest.mark.slow
def test_giftnet_with_distillation_learns_past_the_composite_on_a_fixed_batch(tmp_path):
    toy = write_toy_dataset(tmp_path / "toy")
    batch = next(iter(make_loader(HarmonizationDataset(toy, "train", size=32, train=True, seed=0),
                                  batch_size=4, shuffle=True, seed=0, drop_last=True)))
    config = model_config("giftnet").with_backbone(width=16)
    seed_everything(0)
    model = build_model(config)
    teacher = build_teacher(config).eval()
    terms = model_loss_terms(config, train_size=32)
    composite = float(MaskWeightedMSE(config.min_area_at(32))(batch["images"], batch["target_images"],
                                                               batch["masks"]))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    with torch.no_grad():
        batch["teacher_relation_maps"] = teacher.relation_maps(batch["target_images"], batch["masks"])
    losses = []
    for _ in range(40):
        loss, values = compute_loss(terms, model(batch["images"], batch["masks"]), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(values)
    assert losses[-1]["fn_mse"] < 0.85 * composite
    assert all(torch.isfinite(torch.tensor(v["relation"])) for v in losses)


def test_distillation_alone_pulls_the_students_relations_to_the_teachers():
    config = _config(gift=GIFTConfig(), distillation=DistillationConfig(weight=1.0))
    torch.manual_seed(0)
    model = build_model(config).train()
    teacher = build_teacher(config).eval()
    images, masks = _inputs()
    with torch.no_grad():
        reference = teacher.relation_maps(images.flip(1), masks)
    loss_of = RelationDistillation("cosine-background")
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    values = []
    for _ in range(8):
        outputs = model(images, masks)
        loss = loss_of(outputs["relation_maps"], outputs["relation_masks"], reference)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        values.append(float(loss.detach()))
    assert values[-1] < 0.7 * values[0]
