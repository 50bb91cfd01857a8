"""Models, GIFT, relation maps, baselines and losses: known properties and hand cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.color import rgb2lab

from ccharmony.errors import ConfigError
from ccharmony.harmonization.losses import (
    ImageMSE,
    LossTerm,
    MaskWeightedMSE,
    RelationDistillation,
    RelationDistillationL1,
    compute_loss,
)
from ccharmony.harmonization.models import (
    GIFT,
    MODELS,
    GIFTOptions,
    ModelOptions,
    ModulatedConv2d,
    TeacherSet,
    UNetOptions,
    build_model,
    build_teacher,
    relation_map,
    transfer_statistics_CIELab,
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
    @pytest.mark.parametrize("name", ["unet", "unet-gift", "unet-rd", "unet-gift-rd", "issam", "issam-gift",
                                      "issam-rd", "giftnet"])
    def test_shapes_and_relation_maps(self, name):
        options = ModelOptions(unet=UNetOptions(width=4))
        model = build_model(name, options).eval()
        images = torch.rand(2, 3, 32, 32)
        masks = torch.zeros(2, 1, 32, 32)
        masks[:, :, 8:20, 8:24] = 1
        out = model(images, masks)
        assert out["images"].shape == (2, 3, 32, 32)
        if not MODELS[name].distillation:
            assert "relation_maps" not in out
            return
        maps = out["relation_maps"]
        shapes = [tuple(maps[key].shape) for key in sorted(maps)]
        if name.startswith("unet"):  # legacy: raw encoder stages 3 and 4
            assert [key.split("/")[1] for key in sorted(maps)] == ["encoder2", "encoder3"]
            assert shapes == [(2, 1, 8, 8), (2, 1, 4, 4)]
        else:  # iSSAM: every skip level
            assert [key.split("/")[1] for key in sorted(maps)] == ["encoder0", "encoder1", "encoder2"]
            assert shapes == [(2, 1, 32, 32), (2, 1, 16, 16), (2, 1, 8, 8)]
        assert sorted(out["relation_masks"]) == sorted(maps)

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
        teacher = build_teacher("unet-rd", ModelOptions(unet=UNetOptions(width=4), relation_stages=(2,)))
        assert teacher.to_alpha is None
        assert not teacher.options.rgb_residual
        maps = teacher.relation_maps(torch.rand(1, 3, 16, 16), torch.ones(1, 1, 16, 16))
        assert [(key.split("/")[1], tuple(m.shape)) for key, m in maps.items()] == [("encoder1", (1, 1, 8, 8))]

    def test_teacher_set_serves_students_of_both_backbones(self):
        options = ModelOptions(unet=UNetOptions(width=4))
        teachers = build_teacher(options)
        assert isinstance(teachers, TeacherSet) and len(teachers.teachers) == 2
        images, masks = torch.rand(2, 3, 32, 32), torch.zeros(2, 1, 32, 32)
        masks[:, :, 4:20, 4:12] = 1
        assert [tuple(x.shape) for x in teachers(images, masks)["images"]] == [(2, 3, 32, 32)] * 2
        reference = teachers.relation_maps(images, masks)
        for name in ("unet-rd", "giftnet"):
            student = build_model(name, options)(images, masks)
            assert set(student["relation_maps"]) <= set(reference)
            assert float(RelationDistillationL1()(student["relation_maps"], reference).detach()) > 0

    def test_unknown_model(self):
        with pytest.raises(ConfigError, match="accepted: composite, reinhard-lab, reinhard-lalphabeta"):
            build_model("dovenet")

    def test_composite_is_identity(self):
        images = torch.rand(2, 3, 8, 8)
        assert torch.equal(build_model("composite")(images, torch.ones(2, 1, 8, 8))["images"], images)


def _reinhard2001_by_hand(image, mask):
    """Reinhard et al. 2001 written out per pixel from the paper's equations (independent of the library)."""
    def decode(v):
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    def encode(v):
        return 12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055

    rgb_to_lms = [[0.3811, 0.5783, 0.0402], [0.1967, 0.7244, 0.0782], [0.0241, 0.1288, 0.8444]]
    lms_to_rgb = np.linalg.inv(np.array(rgb_to_lms))
    s3, s6, s2 = np.sqrt(3), np.sqrt(6), np.sqrt(2)
    rows, cols = mask.shape
    lab = np.zeros((rows, cols, 3))
    for y in range(rows):
        for x in range(cols):
            R, G, B = (decode(float(c)) for c in image[y, x])
            L, M, S = (np.log10(max(r[0] * R + r[1] * G + r[2] * B, 1e-4)) for r in rgb_to_lms)
            lab[y, x] = ((L + M + S) / s3, (L + M - 2 * S) / s6, (L - M) / s2)
    fg, bg = lab[mask], lab[~mask]
    out = image.astype(np.float64).copy()
    for y, x in zip(*np.nonzero(mask)):
        l, a, b = (lab[y, x] - fg.mean(0)) * bg.std(0) / fg.std(0) + bg.mean(0)
        L, M, S = l / s3 + a / s6 + b / s2, l / s3 + a / s6 - b / s2, l / s3 - 2 * a / s6
        linear = lms_to_rgb @ np.array([10**L, 10**M, 10**S])
        out[y, x] = [encode(min(max(v, 0.0), 1.0)) for v in linear]
    return out


class TestReinhard:
    def _scene(self):
        rng = np.random.RandomState(1)
        image = rng.uniform(0.3, 0.6, (16, 16, 3)).astype(np.float32)
        mask = np.zeros((16, 16), bool)
        mask[4:12, 4:12] = True
        image[mask] = image[mask] * np.array([1.3, 0.9, 0.6], np.float32)
        return image, mask

    def test_cielab_foreground_statistics_match_background(self):
        image, mask = self._scene()
        out = transfer_statistics_CIELab(image, mask)
        Lab = rgb2lab(out.astype(np.float64))
        background = rgb2lab(image.astype(np.float64))[~mask]
        np.testing.assert_allclose(Lab[mask].mean(axis=0), background.mean(axis=0), atol=0.05)
        np.testing.assert_allclose(Lab[mask].std(axis=0), background.std(axis=0), rtol=0.02)
        np.testing.assert_array_equal(out[~mask], image[~mask])
        assert out.dtype == np.float32

    def test_lalphabeta_matches_the_papers_equations_written_by_hand(self):
        image, mask = self._scene()
        out = transfer_statistics_Reinhard2001(image, mask)
        np.testing.assert_allclose(out, _reinhard2001_by_hand(image, mask), atol=2e-6)
        np.testing.assert_array_equal(out[~mask], image[~mask])
        assert out.dtype == np.float32
        # A different method from the CIELAB one.
        assert np.abs(out - transfer_statistics_CIELab(image, mask))[mask].max() > 1e-3

    def test_lalphabeta_of_linear_white_and_equal_statistics(self):
        # LMS of linear white is the row sums of the paper's matrix.
        LMS = np.array([0.3811 + 0.5783 + 0.0402, 0.1967 + 0.7244 + 0.0782, 0.0241 + 0.1288 + 0.8444])
        np.testing.assert_allclose(LMS, [0.9996, 0.9993, 0.9973], atol=1e-12)
        image = np.random.RandomState(2).uniform(0.1, 0.9, (8, 8, 3)).astype(np.float32)
        mask = np.zeros((8, 8), bool)
        mask[:, :4] = True
        image[:, 4:] = image[:, :4][:, ::-1]  # background = mirrored foreground: same statistics
        np.testing.assert_allclose(transfer_statistics_Reinhard2001(image, mask), image, atol=1e-5)
        published = transfer_statistics_Reinhard2001(image, mask, inverse="published")
        assert 1e-4 < np.abs(published - image).max() < 0.02  # the printed inverse is not exact

    @pytest.mark.parametrize("function", [transfer_statistics_CIELab, transfer_statistics_Reinhard2001])
    def test_empty_mask_unchanged(self, function):
        image = np.full((4, 4, 3), 0.25, np.float32)
        np.testing.assert_array_equal(function(image, np.zeros((4, 4))), image)

    def test_models(self):
        image, mask = self._scene()
        images = torch.from_numpy(image.transpose(2, 0, 1))[None]
        masks = torch.from_numpy(mask.astype(np.float32))[None, None]
        lab = build_model("reinhard-lab")(images, masks)["images"][0].numpy().transpose(1, 2, 0)
        lalphabeta = build_model("reinhard-lalphabeta")(images, masks)["images"][0].numpy().transpose(1, 2, 0)
        np.testing.assert_array_equal(lab, transfer_statistics_CIELab(image, mask))
        np.testing.assert_array_equal(lalphabeta, transfer_statistics_Reinhard2001(image, mask))
        with pytest.raises(ConfigError, match="inverse must be 'exact' or 'published', got 'paper'"):
            transfer_statistics_Reinhard2001(image, mask, inverse="paper")


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

    def test_relation_distillation_background_and_all_pixels(self):
        student = {"a": torch.zeros(2, 1, 2, 2), "b": torch.zeros(2, 1, 1, 1)}
        teacher = {"a": torch.tensor([0.2, 0.4, 0.6, 0.8]).view(1, 1, 2, 2).repeat(2, 1, 1, 1),
                   "b": torch.full((2, 1, 1, 1), -1.0), "unused": torch.ones(1)}
        masks = {"a": torch.tensor([1.0, 0.0, 0.5, 0.0]).view(1, 1, 2, 2).repeat(2, 1, 1, 1),
                 "b": torch.zeros(2, 1, 1, 1)}
        # Background weights 1 - m = (0, 1, 0.5, 1): (0.4 + 0.3 + 0.8) / 2.5 = 0.6; level b: 1.
        background = RelationDistillation("cosine-background", "l1")(student, masks, teacher)
        assert float(background) == pytest.approx((0.6 + 1.0) / 2)
        every = RelationDistillation("cosine-all", "l2")(student, masks, teacher)
        assert float(every) == pytest.approx(((0.04 + 0.16 + 0.36 + 0.64) / 4 + 1.0) / 2)
        with pytest.raises(ConfigError, match=r"the teacher has no relation map 'b'"):
            RelationDistillation()(student, masks, {"a": teacher["a"]})
        with pytest.raises(ConfigError, match="distance must be l1 or l2, got 'huber'"):
            RelationDistillation(distance="huber")

    def test_image_mse_sums_a_list_of_predictions(self):
        real = torch.zeros(1, 3, 2, 2)
        assert float(ImageMSE()([torch.full((1, 3, 2, 2), 0.5), torch.ones(1, 3, 2, 2)], real)) == 1.25

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
