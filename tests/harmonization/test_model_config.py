"""The model-definition schema: errors, round trips, YAML, the registry and the earlier options."""

from __future__ import annotations

import json

import pytest

from ccharmony.errors import ConfigError
from ccharmony.harmonization.models import (
    ABLATION_MODELS,
    MODEL_CONFIGS,
    MODELS,
    BackboneConfig,
    DistillationConfig,
    GIFTConfig,
    ModelConfig,
    ModelOptions,
    UNetOptions,
    build_model,
    canonical_name,
    model_config,
    read_model_configs,
    relation_taps,
    teacher_key,
    validate_model_names,
)


class TestErrors:
    def test_unknown_key_names_it_and_the_accepted_keys(self):
        with pytest.raises(ConfigError) as error:
            ModelConfig.from_dict({"name": "mine", "lambda": 0.1})
        assert str(error.value) == (
            "model config mine: unknown key 'lambda'; accepted: name, kind, description, backbone, gift, "
            "distillation, min_area")

    def test_unknown_nested_key(self):
        with pytest.raises(ConfigError, match=r"^model config mine\.gift: unknown key 'stages'; accepted: "
                                              r"placement, levels, hidden, demodulate, init_noise$"):
            ModelConfig.from_dict({"name": "mine", "gift": {"stages": [0]}})

    @pytest.mark.parametrize("data, message", [
        ({"backbone": {"width": "32"}}, r"mine\.backbone\.width: expected int, got '32'"),
        ({"backbone": {"width": 32.0}}, r"mine\.backbone\.width: expected int, got 32\.0"),
        ({"backbone": {"fusion": 1}}, r"mine\.backbone\.fusion: expected bool, got 1"),
        ({"min_area": True}, r"mine\.min_area: expected float, got True"),
        ({"gift": {"placement": "middle"}},
         r"mine\.gift\.placement: expected one of 'skip', 'decoder-output', 'encoder', got 'middle'"),
        ({"gift": {"levels": [0, "1"]}}, r"mine\.gift\.levels: expected a list of int or null, got \(0, '1'\)"),
        ({"distillation": {"relation": "cosine"}}, r"mine\.distillation\.relation: expected one of"),
        ({"distillation": {"distance": "l3"}}, r"mine\.distillation\.distance: expected one of 'l1', 'l2'"),
        ({"kind": "dovenet"}, r"mine\.kind: expected one of 'composite', 'reinhard-lab'"),
        ({"gift": "yes"}, r"mine\.gift: expected a mapping, got 'yes'"),
    ])
    def test_type_errors(self, data, message):
        with pytest.raises(ConfigError, match=message):
            ModelConfig.from_dict({"name": "mine", **data})

    @pytest.mark.parametrize("data, message", [
        ({"gift": {"levels": [3]}}, r"mine\.gift\.levels: levels must lie in 0\.\.2, got 3"),
        ({"gift": {"levels": []}}, r"mine\.gift\.levels: give at least one level"),
        ({"distillation": {"site": "encoder", "levels": [4]}}, r"levels must lie in 0\.\.3, got 4"),
        ({"distillation": {"weight": -1}}, r"mine\.distillation\.weight: must be >= 0, got -1"),
        ({"backbone": {"depth": 1}}, r"mine\.backbone: need width >= 1 and depth >= 2"),
        ({"backbone": {"name": "unet", "attend_from": 2}}, r"backbone\.attend_from: only the issam backbone"),
        ({"backbone": {"name": "issam", "rgb_residual": True}}, r"backbone\.rgb_residual: only the unet"),
        ({"backbone": {"name": "unet"}, "gift": {}}, r"mine\.gift\.placement: the legacy unet backbone"),
        ({"kind": "composite", "gift": {}}, r"mine\.gift: a composite model has no gift"),
        ({"min_area": -5}, r"mine\.min_area: must be >= 0"),
    ])
    def test_value_errors(self, data, message):
        with pytest.raises(ConfigError, match=message):
            ModelConfig.from_dict({"name": "mine", **data})

    def test_missing_name(self):
        with pytest.raises(ConfigError, match=r"missing key 'name'"):
            ModelConfig.from_dict({"kind": "network"})

    def test_levels_of_a_deeper_backbone(self):
        config = ModelConfig.from_dict({"name": "deep", "backbone": {"depth": 6}, "gift": {"levels": [4]}})
        assert config.gift_levels == (4,)


class TestRoundTrip:
    @pytest.mark.parametrize("name", list(MODEL_CONFIGS))
    def test_every_registered_definition_round_trips_through_json(self, name):
        config = MODEL_CONFIGS[name]
        text = json.dumps(config.to_dict())
        assert ModelConfig.from_dict(json.loads(text)) == config
        assert config.to_json() == json.dumps(config.to_dict(), sort_keys=True)

    def test_defaults_are_filled_per_backbone(self):
        issam = BackboneConfig()
        assert (issam.max_channels, issam.init, issam.attend_from, issam.attention_mid_k, issam.ssam_blur,
                issam.rgb_residual) == (512, "xavier-gluon", 2, 0.5, "xavier-gluon", None)
        unet = BackboneConfig(name="unet")
        assert (unet.max_channels, unet.init, unet.attend_from, unet.rgb_residual) == (256, "pytorch", None, True)

    def test_yaml_file(self, tmp_path):
        path = tmp_path / "ablation.yaml"
        path.write_text(
            "models:\n"
            "  - name: backbone\n    backbone: {width: 16}\n"
            "  - name: gift-decoder\n    backbone: {width: 16}\n    gift: {placement: decoder-output, levels: [0]}\n"
            "  - name: full\n    backbone: {width: 16}\n    gift: {}\n"
            "    distillation: {relation: cosine-all, distance: l2, weight: 0.01}\n    min_area: 1000\n")
        backbone, gift, full = read_model_configs(path)
        assert backbone == ModelConfig("backbone", backbone=BackboneConfig(width=16))
        assert gift.gift == GIFTConfig(placement="decoder-output", levels=(0,))
        assert full.distillation == DistillationConfig(relation="cosine-all", distance="l2", weight=0.01)
        assert full.min_area_at(128) == pytest.approx(250.0)

    def test_yaml_errors(self, tmp_path):
        path = tmp_path / "bad.yaml"
        path.write_text("- 1\n- 2\n")
        with pytest.raises(ConfigError, match=r"bad\.yaml: expected a model mapping"):
            read_model_configs(path)
        path.write_text("models:\n  - {name: a}\n  - {name: a}\n")
        with pytest.raises(ConfigError, match=r"model name 'a' defined twice"):
            read_model_configs(path)
        with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read model definitions"):
            read_model_configs(tmp_path / "missing.yaml")


class TestResolution:
    def test_distillation_follows_gift(self):
        config = ModelConfig("g", gift=GIFTConfig(levels=(1, 2)), distillation=DistillationConfig())
        assert config.distillation_site == "skip" and config.distillation_levels == (1, 2)
        no_gift = ModelConfig("r", distillation=DistillationConfig())
        assert no_gift.distillation_site == "skip" and no_gift.distillation_levels == (0, 1, 2)
        decoder = ModelConfig("d", gift=GIFTConfig(placement="decoder-output"), distillation=DistillationConfig())
        assert [(t.site, t.teacher_site) for t in relation_taps(decoder)] == [("decoder-output", "decoder")] * 3

    def test_ablation_rows_differ_in_one_component_each(self):
        configs = {name: MODEL_CONFIGS[name] for name in ABLATION_MODELS}
        backbones = {json.dumps(c.to_dict()["backbone"]) for c in configs.values() if c.trainable}
        assert len(backbones) == 1
        assert [(n, c.gift is not None, c.distillation is not None) for n, c in configs.items() if c.trainable] == [
            ("issam", False, False), ("issam-gift", True, False), ("issam-rd", False, True), ("giftnet", True, True)]
        assert configs["issam-gift"].gift == configs["giftnet"].gift
        assert configs["issam-rd"].distillation == configs["giftnet"].distillation
        assert teacher_key("issam-rd") == teacher_key("giftnet")


class TestRegistry:
    def test_alias_resolves_and_keeps_its_name(self):
        assert "reinhard" in MODELS and "reinhard" not in list(MODELS)
        assert MODELS["reinhard"].description == MODELS["reinhard-lab"].description
        assert canonical_name("reinhard") == "reinhard-lab"
        assert validate_model_names(["giftnet", "reinhard", "composite"]) == ["composite", "reinhard", "giftnet"]
        assert build_model("reinhard").space == "cielab"
        with pytest.raises(ConfigError, match="'reinhard-lab' and 'reinhard' are the same model"):
            validate_model_names(["reinhard-lab", "reinhard"])

    def test_unknown_model_lists_the_names(self):
        with pytest.raises(ConfigError, match=r"unknown model 'dovenet'; accepted: composite, reinhard-lab, "
                                              r"reinhard-lalphabeta, unet, .*giftnet \(alias: reinhard = reinhard-lab\)"):
            build_model("dovenet")

    def test_specs_mirror_the_configs(self):
        for name, spec in MODELS.items():
            config = MODEL_CONFIGS[name]
            assert (spec.trainable, spec.gift, spec.distillation) == (
                config.kind == "network", config.gift is not None, config.distillation is not None)

    def test_model_options_width_applies_to_every_network(self):
        options = ModelOptions(unet=UNetOptions(width=16))
        assert model_config("giftnet", options).backbone.width == 16
        assert model_config("unet-rd", options).backbone.width == 16
        assert model_config("composite", options).backbone is None

    def test_legacy_options_shape_the_legacy_rows(self):
        options = ModelOptions(unet=UNetOptions(width=8, batchnorm_from=2), relation_stages=(2,))
        config = model_config("unet-gift-rd", options)
        assert config.backbone.batchnorm_from == 1 and config.distillation_levels == (1,)
        model = build_model("unet-gift-rd", options)
        assert model.options.batchnorm_from == 2 and model.options.relation_stages == (2,)

    def test_old_checkpoints_mean_the_legacy_giftnet(self):
        old = {"unet": {"width": 4}, "gift": {}, "relation_stages": [3, 4]}
        assert type(build_model("giftnet", ModelOptions.from_dict(old))).__name__ == "UNetGIFT"
        new = ModelOptions(unet=UNetOptions(width=4)).to_dict()
        assert new["registry"] == 2
        assert type(build_model("giftnet", ModelOptions.from_dict(new))).__name__ == "GiftNet"
