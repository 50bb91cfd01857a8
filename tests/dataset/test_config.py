"""Tests of ccharmony.dataset.config: pipelines parse into typed, validated options."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccharmony.dataset.config import PIPELINES_DIR, Pipeline, builtin_pipeline, load_pipeline
from ccharmony.errors import ConfigError


def test_shipped_ccharmony_pipeline_is_the_paper_construction() -> None:
    pipeline = builtin_pipeline("ccharmony")
    assert (pipeline.method, pipeline.k, pipeline.policy, pipeline.domain) == ("poly11", 10, "random", "srgb8")
    assert pipeline == Pipeline()


def test_shipped_linear_pipeline() -> None:
    pipeline = builtin_pipeline("linear")
    assert (pipeline.method, pipeline.policy, pipeline.domain, pipeline.min_angle_deg) == (
        "root-poly2", "diverse", "linear", 3.0)


def test_every_pipeline_key_is_documented_in_the_shipped_yaml() -> None:
    text = (PIPELINES_DIR / "ccharmony.yaml").read_text()
    for key in Pipeline().to_dict():
        assert f"\n{key}:" in "\n" + text, key


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("method: poly11\nkk: 3\n")
    with pytest.raises(ConfigError, match=r"p\.yaml: unknown key\(s\) \['kk'\]"):
        load_pipeline(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("method: poly12\n", r"method must be one of diagonal, linear3x3, poly11, root-poly2, got 'poly12' \(a string\)$"),
        ("k: 0\n", r"k must be an integer from 1 to 1000, got 0 \(an integer\)$"),
        # Out of range is an error with the range, never clamped.
        ("k: 100000\n", r"k must be an integer from 1 to 1000, got 100000 \(an integer\)$"),
        # A YAML boolean is not an integer, a fraction is not a quality.
        ("k: true\n", r"k must be an integer from 1 to 1000, got true \(a boolean\)$"),
        ("jpeg_quality: 95.7\n", r"jpeg_quality must be an integer from 1 to 100, got 95\.7 \(a number\)$"),
        # Quoted strings are not booleans ("no" and "false" are truthy strings).
        ('same_camera: "no"\n', r"same_camera must be true or false \(a YAML boolean, unquoted\), got 'no' \(a string\)$"),
        ('half_size: "false"\n', r"half_size must be true or false .* got 'false' \(a string\)$"),
        ("crop_margin: -50\n", r"crop_margin must be a number from 0 to 10000, got -50 \(an integer\)$"),
        ('min_angle_deg: "x"\n', r"min_angle_deg must be a number from 0 to 180, got 'x' \(a string\)$"),
        ("test_fraction: .nan\n", r"test_fraction must be a number between 0 and 1 \(both excluded\), got nan"),
        ("detection_max_side: 100\n", r"detection_max_side must be an integer from 256 to 65536, got 100"),
        ("policy: nearest\n", "policy must be one of random, diverse"),
        ("name: a_b\n", r"name must be a dataset name .*no '_', '/' or '\.\.'\), got 'a_b'"),
        ("name: /some/where/victim\n", r"name must be a dataset name .* got '/some/where/victim'"),
        ("name: ../../../ESCAPED\n", r"name must be a dataset name .* got '\.\./\.\./\.\./ESCAPED'"),
        ("name: a/b\n", r"name must be a dataset name .* got 'a/b'"),
        ("name: a..b\n", r"name must be a dataset name .* got 'a\.\.b'"),
        # Hugging Face would read <name>train.txt as a split file.
        ("name: ds2\n", r"name must be a dataset name .*ending with a letter"),
        ("name: my-test-set\n", r"name must not hold the split word 'test' between separators"),
        ("name: [1]\n", r"name must be a dataset name .* got \[1\] \(list\)"),
        ("{1: 2}\n", r"keys must be option names, got 1"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("method: [\n", "not a readable YAML file"),
    ],
)
def test_bad_values_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_pipeline(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["ccHarmony", "ccHarmonyLinear", "tiny", "a", "x1.v2-b", "Contest", "trainset"])
def test_good_names(name: str) -> None:
    assert Pipeline(name=name).name == name


def test_yaml_booleans_and_integers_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("same_camera: no\nhalf_size: false\nmin_angle_deg: 3\ncrop_margin: 12\n")
    pipeline = load_pipeline(path)
    assert (pipeline.same_camera, pipeline.half_size) == (False, False)
    assert pipeline.min_angle_deg == 3.0 and isinstance(pipeline.min_angle_deg, float)
    assert pipeline.to_dict()["crop_margin"] == 12.0


def test_a_fifo_pipeline_is_refused_without_blocking(tmp_path: Path) -> None:
    import os

    path = tmp_path / "p.yaml"
    os.mkfifo(path)
    with pytest.raises(ConfigError, match=r"p\.yaml: is a FIFO \(named pipe\), not a pipeline YAML file"):
        load_pipeline(path)


def test_missing_file_and_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pipeline file not found"):
        load_pipeline(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="unknown pipeline 'nope'"):
        builtin_pipeline("nope")


def test_replace_overrides_named_fields_only() -> None:
    pipeline = Pipeline().replace(k=3, method=None)
    assert (pipeline.k, pipeline.method) == (3, "poly11")
    with pytest.raises(ConfigError, match="unknown pipeline option"):
        Pipeline().replace(colour="red")
