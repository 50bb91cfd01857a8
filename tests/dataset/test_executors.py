"""Tests of :mod:`ccharmony.dataset.executors` and of the builder's fast paths.

The Ray tests start one local Ray instance (``num_cpus=2``) for the module and
skip, with the reason, where Ray is not installed (``pip install "ccharmony[ray]"``).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from build_helpers import build_json as _build_json
from build_helpers import tree as _tree

from ccharmony.dataset.builder import BuildOptions, build_dataset
from ccharmony.dataset.config import Pipeline, builtin_pipeline
from ccharmony.dataset.executors import map_local, pool_context, task_executor
from ccharmony.dataset.stages import stage_file
from ccharmony.errors import ConfigError

RAY_MISSING = importlib.util.find_spec("ray") is None
RAY_REASON = 'Ray is not installed (pip install "ccharmony[ray]")'



@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four small synthetic captures with annotations."""
    from ccharmony.synth import synthesize

    root = tmp_path_factory.mktemp("scenes")
    synthesize(root, count=4, seed=5, size=(240, 160), relit=False)
    return root


def _build(scenes: Path, out: Path, **changes: object) -> Path:
    options: dict = dict(out=out, raw_dir=scenes / "raw", annotations=scenes / "annotations",
                         pipeline=Pipeline(k=2, name="tiny"), seed=4, progress=False)
    options.update(changes)
    build_dataset(BuildOptions(**options))
    return out


@pytest.fixture(scope="module")
def local_build(scenes: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(scenes, tmp_path_factory.mktemp("local") / "ds")


def _imported(name: str) -> bool:
    import sys

    return name in sys.modules


class TestLocal:
    def test_pool_workers_start_with_the_libraries_imported(self) -> None:
        import sys

        if not sys.platform.startswith("linux"):
            pytest.skip("the fork server is what makes this true; checked on Linux")
        assert pool_context().get_start_method() == "forkserver"
        with task_executor(executor="local", workers=2) as run:
            loaded = dict(run(_imported, ["colour", "rawpy", "ccharmony.transfer", "torch"]))
        # From the server's preload, before any task imported them; torch is never needed.
        assert loaded == {0: True, 1: True, 2: True, 3: False}

    def test_stage_file_hands_back_bytes_or_a_staged_file(self, tmp_path: Path) -> None:
        assert stage_file(b"abc", "composite_images/x_1.jpg", None) == b"abc"
        staged = stage_file(b"abc", "composite_images/x_1.jpg", tmp_path)
        assert isinstance(staged, Path) and staged.parent == tmp_path and staged.suffix == ".jpg"
        assert staged.read_bytes() == b"abc"
        assert stage_file(b"abc", "masks/x_a.png", tmp_path) != staged  # a new name each time

    def test_map_local_in_process_keeps_order(self) -> None:
        assert list(map_local(abs, [-3, 1, -2])) == [(0, 3), (1, 1), (2, 2)]

    def test_pool_returns_every_index_once(self) -> None:
        with task_executor(executor="local", workers=2) as run:
            first = dict(run(abs, list(range(-6, 0))))
            second = dict(run(abs, [-7]))  # the same pool serves a second stage
        assert first == {i: 6 - i for i in range(6)}
        assert second == {0: 7}

    def test_task_error_reaches_the_caller(self) -> None:
        with task_executor(executor="local", workers=1) as run:
            with pytest.raises(ConfigError, match="unknown pipeline"):
                list(run(builtin_pipeline, ["no-such-pipeline"]))

    @pytest.mark.parametrize("changes, message", [
        ({"executor": "spark"}, "--executor must be one of"),
        ({"workers": 0}, "--workers must be >= 1"),
    ])
    def test_bad_options(self, changes: dict, message: str) -> None:
        with pytest.raises(ConfigError, match=message):
            with task_executor(**changes):
                pass


class TestFastPaths:
    """The builder's fast paths give the same bytes as the plain definitions."""

    def test_render_srgb_equals_rounded_float_render(self) -> None:
        from ccharmony.render import render_srgb, render_srgb_float, rendering_parameters

        rng = np.random.default_rng(11)
        camera = np.array([[0.4716, 0.0603, -0.0830], [-0.7798, 1.5474, 0.2480], [-0.1496, 0.1937, 0.6651]])
        P = rendering_parameters(camera, exposure=1.3)
        RGB = (rng.random((300, 401, 3), dtype=np.float32) * 1.2 - 0.05)
        RGB[::7, ::5, 1] = np.nan
        RGB[3, 3] = [np.inf, -np.inf, 5e4]  # the exact (non-OpenCV) path
        cropped = RGB[10:290, 3:399]  # a view, as the builder passes
        expected = np.nan_to_num(np.rint(render_srgb_float(cropped, camera_matrix=P)), nan=0.0).astype(np.uint8)
        np.testing.assert_array_equal(render_srgb(cropped, camera_matrix=P), expected)

    def test_render_srgb_at_every_output_step(self) -> None:
        import colour

        from ccharmony.render import render_srgb, render_srgb_float

        # The float32 values within a few ULPs of each of the 255 rounding steps.
        steps = colour.cctf_decoding((np.arange(1, 256) - 0.5) / 255.0, function="sRGB").astype(np.float32)
        values = [steps]
        for direction in (np.float32(2.0), np.float32(-1.0)):
            current = steps
            for _ in range(4):
                current = np.nextafter(current, direction)
                values.append(current)
        RGB = np.repeat(np.concatenate(values)[:, None], 3, axis=1)
        expected = np.rint(render_srgb_float(RGB, camera_matrix=None)).astype(np.uint8)
        out = render_srgb(RGB, camera_matrix=None)
        np.testing.assert_array_equal(out, expected)
        assert len(np.unique(out[:, 0])) == 256  # both sides of every step were exercised

    @pytest.mark.parametrize("shape", [(3,), (5, 3), (2, 4, 3), (0, 3)])
    def test_render_srgb_shapes(self, shape: tuple[int, ...]) -> None:
        from ccharmony.render import render_srgb

        out = render_srgb(np.full(shape, 0.5, np.float32), camera_matrix=None)
        assert out.shape == shape and out.dtype == np.uint8
        assert np.all(out == 188)

    def test_distinct_colours_round_trip(self) -> None:
        from ccharmony.dataset.stages import _distinct_colours

        rng = np.random.default_rng(2)
        pixels = rng.integers(0, 4, (5000, 3), dtype=np.uint8) * 60
        colours, inverse = _distinct_colours(pixels)
        np.testing.assert_array_equal(colours[inverse], pixels)
        assert len(colours) == len(np.unique(pixels, axis=0)) == 64
        assert inverse.dtype == np.int32

    def test_poly11_on_distinct_colours_equals_per_pixel(self) -> None:
        from ccharmony.dataset.reapply import apply_record_to_foreground
        from ccharmony.dataset.stages import _distinct_colours
        from ccharmony.transfer import Transfer

        rng = np.random.default_rng(3)
        params = np.hstack([np.eye(3) * 0.9 + rng.normal(0, 0.05, (3, 3)), rng.normal(0, 1e-3, (3, 7)),
                            rng.normal(0, 2, (3, 1))])
        record = {"domain": "srgb8", "transfer": Transfer("poly11", params, "srgb8").to_dict()}
        pixels = rng.integers(0, 256, (200_003, 3), dtype=np.uint8)
        pixels[:100_000] = pixels[50_000:150_000]
        colours, inverse = _distinct_colours(pixels)
        np.testing.assert_array_equal(apply_record_to_foreground(colours, record)[inverse],
                                      apply_record_to_foreground(pixels, record))


    def test_shared_first_step_gives_the_same_bytes(self) -> None:
        from ccharmony.dataset.reapply import apply_record_to_foreground
        from ccharmony.dataset.stages import _map_colours
        from ccharmony.transfer import fit_transitive

        rng = np.random.default_rng(4)
        source = rng.uniform(20, 235, (24, 3))
        colours = rng.integers(0, 256, (150_001, 3), dtype=np.uint8)
        cache: dict = {}
        for seed in (5, 6):
            target = np.clip(source * rng.uniform(0.7, 1.3, 3) + rng.normal(0, 3, (24, 3)), 0, 255)
            chain = fit_transitive("poly11", source, target)
            record = {"domain": "srgb8", "transfer": chain.to_dict()}
            np.testing.assert_array_equal(_map_colours(colours, chain, cache),
                                          apply_record_to_foreground(colours, record))
        assert len(cache) == 1  # both chains start with the same source -> standard step


class TestBuild:
    def test_workers_two_same_bytes(self, scenes: Path, local_build: Path, tmp_path: Path) -> None:
        parallel = _build(scenes, tmp_path / "w2", workers=2)
        assert _tree(parallel) == _tree(local_build)
        assert _build_json(parallel) == _build_json(local_build)
        # The workers staged their files; every one was moved into place.
        assert not list(parallel.rglob("*.tmp*")) and not (parallel / ".ccharmony-build").exists()
        timings = json.loads((parallel / "build.json").read_text())["timings"]
        # Reported by the workers themselves (a Python process with NumPy and OpenCV: > 50 MiB).
        assert 50 < timings["peak_rss_mb_per_worker"] < 4096

    def test_cli_workers_two_same_bytes_as_the_library(self, scenes: Path, tmp_path: Path) -> None:
        import subprocess
        import sys

        library = _build(scenes, tmp_path / "library", pipeline=builtin_pipeline("ccharmony").replace(k=2))
        out = tmp_path / "cli"
        command = [sys.executable, "-m", "ccharmony", "build", "--raw-dir", str(scenes / "raw"),
                   "--annotations", str(scenes / "annotations"), "--out", str(out), "--k", "2",
                   "--seed", "4", "--workers", "2", "--no-progress"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        assert _tree(out) == _tree(library)

    def test_stage_timings_recorded(self, local_build: Path) -> None:
        stages = json.loads((local_build / "build.json").read_text())["timings"]["stages_s"]
        for key in ("decode", "masks", "render", "encode", "cache", "transfer", "encode_composites", "write"):
            assert key in stages, key


@pytest.fixture(scope="module")
def ray_instance():  # noqa: ANN201
    if RAY_MISSING:
        pytest.skip(RAY_REASON)
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.skipif(RAY_MISSING, reason=RAY_REASON)
class TestRay:
    def test_ray_build_is_byte_identical(self, ray_instance, scenes: Path, local_build: Path,  # noqa: ANN001
                                         tmp_path: Path) -> None:
        out = _build(scenes, tmp_path / "ray", executor="ray", workers=2)
        assert _tree(out) == _tree(local_build)
        assert _build_json(out) == _build_json(local_build)
        assert json.loads((out / "build.json").read_text())["timings"]["executor"] == "ray"
        assert ray_instance.is_initialized()  # a session the caller opened stays open

    def test_map_ray_indices_and_errors(self, ray_instance) -> None:  # noqa: ANN001
        from ccharmony.dataset.executors import map_ray

        assert dict(map_ray(abs, [-4, 5, -6])) == {0: 4, 1: 5, 2: 6}
        with pytest.raises(ConfigError, match="unknown pipeline"):
            list(map_ray(builtin_pipeline, ["no-such-pipeline"]))


def test_ray_missing_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from ccharmony.dataset import executors

    real_import = builtins.__import__

    def no_ray(name: str, *args: object, **kwargs: object) -> object:
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ConfigError, match=r"pip install \"ccharmony\[ray\]\""):
        list(executors.map_ray(abs, [1]))
