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
        ("method: poly12\n", "method must be one of"),
        ("k: 0\n", "k must be a positive integer"),
        ("policy: nearest\n", "policy must be one of"),
        ("name: a_b\n", "contain no '_'"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("method: [\n", "not a readable YAML file"),
    ],
)
def test_bad_values_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_pipeline(path)
    assert "bad.yaml" in str(info.value)


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
