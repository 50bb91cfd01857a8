"""Models, GIFT, relation maps, baselines and losses: known properties and hand cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.color import rgb2lab

from ccharmony.errors import ConfigError
from ccharmony.harmonization.losses import (
    LossTerm,
    MaskWeightedMSE,
    RelationDistillationL1,
    compute_loss,
)
from ccharmony.harmonization.models import (
    GIFT,
    MODELS,
    GIFTOptions,
    ModelOptions,
    ModulatedConv2d,
    UNetOptions,
    build_model,
    build_teacher,
    relation_map,
    transfer_statistics_Reinhard2001,
)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


class TestModulatedConv:
    def test_unit_scales_without_demodulation_is_plain_conv(self):
        conv = ModulatedConv2d(5, 4, 3, demodulate=False)
        x = torch.randn(2, 5, 7, 6)
        y = conv(x, torch.ones(2, 5))
        assert torch.allclose(y, F.conv2d(x, conv.weight, padding=1), atol=1e-6)

    def test_demodulation_normalises_each_output_kernel(self):
        conv = ModulatedConv2d(5, 4, 3, demodulate=True, eps=0.0)
        x = torch.randn(2, 5, 7, 6)
        scales = torch.rand(2, 5) + 0.5
        y = conv(x, scales)
        for b in range(2):
            w = conv.weight * scales[b][None, :, None, None]
            w = w / w.pow(2).sum(dim=(1, 2, 3), keepdim=True).sqrt()
            assert torch.allclose(y[b:b + 1], F.conv2d(x[b:b + 1], w, padding=1), atol=1e-5)

    def test_demodulated_output_ignores_a_global_scale_of_the_style(self):
        conv = ModulatedConv2d(3, 3, 3, demodulate=True, eps=0.0)
        x = torch.randn(1, 3, 5, 5)
        scales = torch.rand(1, 3) + 0.1
        assert torch.allclose(conv(x, scales), conv(x, 7.0 * scales), atol=1e-5)

    def test_even_kernel_rejected(self):
        with pytest.raises(ConfigError, match="odd"):
            ModulatedConv2d(3, 3, 2)


class TestGIFT:
    def test_zero_style_starts_at_unit_scales(self):
        gift = GIFT(8, 4, GIFTOptions(hidden=6))
        scales = gift.scales(torch.randn(3, 8))
        assert torch.equal(scales, torch.ones(3, 4))

    def test_replaces_features_inside_mask_only(self):
        gift = GIFT(8, 4, GIFTOptions(hidden=6))
        with torch.no_grad():
            gift.bias.fill_(5.0)
        x = torch.randn(2, 4, 8, 8)
        mask = torch.zeros(2, 1, 8, 8)
        mask[:, :, 2:6, 3:7] = 1.0
        out = gift(x, torch.randn(2, 8), mask)
        outside = mask.expand_as(x) == 0
        assert torch.equal(out[outside], x[outside])
        expected = gift.conv(x, torch.ones(2, 4)) + 5.0
        inside = ~outside
        assert torch.allclose(out[inside], expected[inside], atol=1e-6)

    def test_global_vector_changes_foreground(self):
        gift = GIFT(8, 4, GIFTOptions(hidden=6))
        torch.nn.init.normal_(gift.mlp[2].weight)
        x = torch.randn(1, 4, 6, 6)
        mask = torch.ones(1, 1, 6, 6)
        assert not torch.allclose(gift(x, torch.zeros(1, 8), mask), gift(x, torch.ones(1, 8), mask))


class TestRelationMap:
    def test_constant_feature_gives_one(self):
        features = torch.full((2, 6, 5, 4), 0.3)
        mask = torch.zeros(2, 1, 10, 8)
        mask[:, :, :4] = 1
        assert torch.allclose(relation_map(features, mask), torch.ones(2, 1, 5, 4))

    def test_orthogonal_background_gives_zero(self):
        features = torch.zeros(1, 2, 2, 2)
        features[0, 0, 0, :] = 1.0  # foreground row: (1, 0)
        features[0, 1, 1, :] = 2.0  # background row: (0, 2)
        mask = torch.zeros(1, 1, 2, 2)
        mask[0, 0, 0, :] = 1
        assert relation_map(features, mask)[0, 0].tolist() == [[1.0, 1.0], [0.0, 0.0]]


class TestNetworks:
    @pytest.mark.parametrize("name", ["unet", "unet-gift", "unet-rd", "giftnet"])
    def test_shapes_and_relation_maps(self, name):
        options = ModelOptions(unet=UNetOptions(width=4))
        model = build_model(name, options).eval()
        images = torch.rand(2, 3, 32, 32)
        masks = torch.zeros(2, 1, 32, 32)
        masks[:, :, 8:20, 8:24] = 1
        out = model(images, masks)
        assert out["images"].shape == (2, 3, 32, 32)
        if MODELS[name].distillation:
            assert [m.shape for m in out["relation_maps"]] == [(2, 1, 8, 8), (2, 1, 4, 4)]
        else:
            assert "relation_maps" not in out

    def test_fusion_with_alpha_one_returns_input(self):
        model = build_model("unet", ModelOptions(unet=UNetOptions(width=4))).eval()
        with torch.no_grad():
            model.to_alpha.weight.zero_()
            model.to_alpha.bias.fill_(100.0)
        images = torch.rand(1, 3, 16, 16)
        out = model(images, torch.ones(1, 1, 16, 16))["images"]
        assert torch.allclose(out, images, atol=1e-6)

    def test_residual_colour_head_starts_from_the_input(self):
        model = build_model("unet", ModelOptions(unet=UNetOptions(width=4))).eval()
        assert model.options.rgb_residual
        with torch.no_grad():
            model.to_rgb.weight.zero_()
            model.to_rgb.bias.zero_()
        images = torch.rand(2, 3, 16, 16)
        # rgb == input, so any alpha gives the input back.
        assert torch.allclose(model(images, torch.ones(2, 1, 16, 16))["images"], images, atol=1e-6)

    def test_options_round_trip_and_old_checkpoints_keep_absolute_colours(self):
        options = ModelOptions(unet=UNetOptions(width=4))
        assert ModelOptions.from_dict(options.to_dict()) == options
        assert ModelOptions.from_dict({"unet": {"width": 4}}).unet.rgb_residual is False

    def test_absolute_colour_head_with_zero_weights_outputs_the_mean(self):
        options = UNetOptions(width=4, fusion=False, rgb_residual=False)
        model = build_model("unet", ModelOptions(unet=options)).eval()
        with torch.no_grad():
            model.to_rgb.weight.zero_()
            model.to_rgb.bias.zero_()
        out = model(torch.rand(1, 3, 8, 8), torch.ones(1, 1, 8, 8))["images"]
        assert torch.allclose(out[0, :, 3, 3], torch.tensor([0.485, 0.456, 0.406]), atol=1e-6)

    def test_teacher_reconstructs_without_fusion_and_stops_at_deepest_stage(self):
        teacher = build_teacher(ModelOptions(unet=UNetOptions(width=4), relation_stages=(2,)))
        assert teacher.to_alpha is None
        assert not teacher.options.rgb_residual
        maps = teacher.relation_maps(torch.rand(1, 3, 16, 16), torch.ones(1, 1, 16, 16))
        assert [m.shape for m in maps] == [(1, 1, 8, 8)]

    def test_unknown_model(self):
        with pytest.raises(ConfigError, match="accepted: composite, reinhard"):
            build_model("dovenet")

    def test_composite_is_identity(self):
        images = torch.rand(2, 3, 8, 8)
        assert torch.equal(build_model("composite")(images, torch.ones(2, 1, 8, 8))["images"], images)


class TestReinhard:
    def test_foreground_statistics_match_background_in_lab(self):
        rng = np.random.RandomState(1)
        image = rng.uniform(0.3, 0.6, (16, 16, 3)).astype(np.float32)
        mask = np.zeros((16, 16), bool)
        mask[4:12, 4:12] = True
        image[mask] = image[mask] * np.array([1.3, 0.9, 0.6], np.float32)
        out = transfer_statistics_Reinhard2001(image, mask)
        Lab = rgb2lab(out.astype(np.float64))
        background = rgb2lab(image.astype(np.float64))[~mask]
        np.testing.assert_allclose(Lab[mask].mean(axis=0), background.mean(axis=0), atol=0.05)
        np.testing.assert_allclose(Lab[mask].std(axis=0), background.std(axis=0), rtol=0.02)
        np.testing.assert_array_equal(out[~mask], image[~mask])
        assert out.dtype == np.float32

    def test_empty_mask_unchanged(self):
        image = np.full((4, 4, 3), 0.25, np.float32)
        np.testing.assert_array_equal(transfer_statistics_Reinhard2001(image, np.zeros((4, 4))), image)


class TestLosses:
    def test_mask_weighted_mse_hand_case(self):
        pred = torch.zeros(2, 3, 4, 4)
        real = torch.zeros(2, 3, 4, 4)
        pred[0, 0, 0, 0] = 0.6          # image 0: error 0.36 over a 4-pixel mask
        pred[1, :, 0, 0] = 0.2          # image 1: error 3 * 0.04 over a 1-pixel mask, A_min = 2
        mask = torch.zeros(2, 1, 4, 4)
        mask[0, 0, 0, :] = 1
        mask[1, 0, 0, 0] = 1
        loss = MaskWeightedMSE(min_area=2.0)(pred, real, mask)
        expected = (0.36 / (3 * 4) + 0.12 / (3 * 2)) / 2
        assert float(loss) == pytest.approx(expected, rel=1e-6)

    def test_relation_l1_mean_over_stages(self):
        student = [torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 1, 1)]
        teacher = [torch.full((1, 1, 2, 2), 0.5), torch.full((1, 1, 1, 1), -1.0)]
        assert float(RelationDistillationL1()(student, teacher)) == pytest.approx((0.5 + 2.0) / 2)

    def test_compute_loss_weights_and_missing_keys(self):
        terms = [LossTerm("fn_mse", MaskWeightedMSE(0.0), 1.0),
                 LossTerm("relation", RelationDistillationL1(), 0.5)]
        outputs = {"images": torch.ones(1, 3, 2, 2), "relation_maps": [torch.zeros(1, 1, 2, 2)]}
        batch = {"target_images": torch.zeros(1, 3, 2, 2), "masks": torch.ones(1, 1, 2, 2),
                 "teacher_relation_maps": [torch.ones(1, 1, 2, 2)]}
        total, values = compute_loss(terms, outputs, batch)
        assert values == {"fn_mse": 1.0, "relation": 1.0}
        assert float(total) == pytest.approx(1.5)
        with pytest.raises(ConfigError, match="teacher_relation_maps"):
            compute_loss(terms, outputs, {k: v for k, v in batch.items() if k != "teacher_relation_maps"})
