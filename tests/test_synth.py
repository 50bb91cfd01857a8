"""Tests of :mod:`ccharmony.synth`: physics, geometry, files, determinism, CLI."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import rawpy

from ccharmony.errors import AnnotationError, ConfigError, DatasetError
from ccharmony.synth import (
    CAMERAS,
    ILLUMINANT_SETS,
    read_relit,
    read_truth,
    render_relit,
    synthesize,
)
from ccharmony.synth.captures import _draw_parameters
from ccharmony.synth.scene import generate_scene, render_scene
from ccharmony.synth.sensor import SensorSettings, cfa_channels, expose, mosaic
from ccharmony.synth.spectra import (
    camera_sensitivities,
    chart_reflectances,
    illuminant_spd,
    matrix_XYZ_to_camera,
    spectral_response,
)

SIZE = (240, 160)


def _angle(u: np.ndarray, v: np.ndarray) -> float:
    u = np.asarray(u, float) / np.linalg.norm(u)
    v = np.asarray(v, float) / np.linalg.norm(v)
    return float(np.degrees(np.arccos(np.clip(u @ v, -1, 1))))


def _tree_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def synth_set(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("synth")
    captures = synthesize(out, count=5, seed=11, size=SIZE)
    return out, captures


# --- spectra ---------------------------------------------------------------------------------


def test_spectral_data_known_values() -> None:
    import colour

    for camera in CAMERAS:
        S = camera_sensitivities(camera)
        assert S.shape == (31, 3)
        np.testing.assert_allclose(S.max(axis=0), 1.0)
        assert not S.flags.writeable
    # D6500 is CIE D65 (to the CCT rounding), both normalised to mean 1
    D65 = colour.SDS_ILLUMINANTS["D65"].copy().align(colour.SpectralShape(400, 700, 10)).values
    np.testing.assert_allclose(illuminant_spd("D6500"), D65 / D65.mean(), rtol=0.01)
    # blackbody: Planck ratio between 700 nm and 400 nm at 3000 K
    E = illuminant_spd("BB3000")
    c2 = 0.014388
    planck = lambda lam: lam**-5 / (np.exp(c2 / (lam * 3000)) - 1)  # noqa: E731
    assert E[-1] / E[0] == pytest.approx(planck(700e-9) / planck(400e-9), rel=1e-4)
    # the chart's white patch is about 0.89 flat from 440 nm on
    assert chart_reflectances()[18, 5:].mean() == pytest.approx(0.888, abs=0.005)


def test_colour_matrix_is_normalised_and_maps_white_to_neutral_direction() -> None:
    import colour

    shape = colour.SpectralShape(400, 700, 10)
    E = colour.SDS_ILLUMINANTS["D65"].copy().align(shape).values
    cmfs = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"].copy().align(shape).values
    XYZ_w = E @ cmfs / (E @ cmfs[:, 1])
    for camera in CAMERAS:
        M = matrix_XYZ_to_camera(camera)
        assert float((M @ XYZ_w).max()) == pytest.approx(1.0, abs=1e-12)
        # the fitted matrix predicts the camera's D65 white within 1 degree
        assert _angle(M @ XYZ_w, E @ camera_sensitivities(camera)) < 1.0


def test_unknown_names_raise() -> None:
    with pytest.raises(ConfigError, match="unknown camera 'Nikon D1'"):
        camera_sensitivities("Nikon D1")
    with pytest.raises(ConfigError, match="unknown illuminant"):
        illuminant_spd("FL99")
    with pytest.raises(ConfigError, match="4000-25000"):
        illuminant_spd("D3000")


# --- sensor ----------------------------------------------------------------------------------


def test_noise_model_statistics() -> None:
    settings = SensorSettings(black_level=1024, white_level=16383, conversion_gain=2.0,
                              read_noise=4.0)
    raw = expose(np.full((400, 400), 0.25, np.float32), settings, np.random.default_rng(0))
    signal_dn = 0.25 * (16383 - 1024)
    assert raw.dtype == np.uint16
    assert raw.mean() == pytest.approx(1024 + signal_dn, abs=0.5)
    assert raw.std() == pytest.approx(np.sqrt(2.0 * signal_dn + 16.0), rel=0.02)
    clipped = expose(np.full((4, 4), 1.5, np.float32), settings, np.random.default_rng(0))
    assert (clipped == 16383).all()


def test_mosaic_matches_cfa_channels() -> None:
    RGB = np.random.default_rng(1).random((6, 8, 3)).astype(np.float32)
    for pattern in ("RGGB", "BGGR", "GRBG", "GBRG"):
        channels = cfa_channels((6, 8), pattern)
        sampled = mosaic(RGB, pattern)
        rows, cols = np.indices((6, 8))
        np.testing.assert_array_equal(sampled, RGB[rows, cols, channels])
        assert "RGB"[channels[0, 0]] + "RGB"[channels[0, 1]] == pattern[:2]


# --- scenes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(240, 160), (160, 240)])
def test_scene_geometry(size: tuple[int, int]) -> None:
    for seed in range(6):
        scene = generate_scene(size, seed)
        x, y, w, h = scene.crop
        chart = scene.material < 25
        assert chart.any()
        assert not chart[y:y + h, x:x + w].any(), "the crop must remove the chart"
        assert (w == size[0]) or (h == size[1]), "the crop keeps one full axis"
        total = np.zeros(scene.material.shape, int)
        for mask in scene.masks.values():
            assert not mask[:y].any() and not mask[y + h:].any()
            assert not mask[:, :x].any() and not mask[:, x + w:].any()
            assert 0.03 <= mask[y:y + h, x:x + w].mean() <= 0.45
            total += mask
        assert total.max() == 1, "objects do not overlap"
        width_fraction = np.ptp(scene.corners[:, 0]) / size[0]
        assert 0.05 < width_fraction < 0.75
        assert (scene.shading > 0.3).all() and (scene.shading <= 1.0).all()


def test_scene_is_deterministic() -> None:
    a = generate_scene((128, 96), [3, 1, 1])
    b = generate_scene((128, 96), [3, 1, 1])
    c = generate_scene((128, 96), [3, 2, 1])
    np.testing.assert_array_equal(a.material, b.material)
    np.testing.assert_array_equal(a.shading, b.shading)
    assert not np.array_equal(a.material, c.material)


# --- capture sets ----------------------------------------------------------------------------


def test_layout_and_annotations(synth_set) -> None:
    out, captures = synth_set
    names = [c.name for c in captures]
    assert all("_" not in name and name.startswith("Synth") for name in names)
    assert [name[-4:] for name in names] == ["0001", "0002", "0003", "0004", "0005"]
    fg_ids = []
    for capture in captures:
        truth = read_truth(capture.truth_path)
        crop = json.loads((out / "annotations" / "crops" / f"{capture.name}.json").read_text())
        assert crop == truth["crop"]
        checker = json.loads((out / "annotations" / "checkers" / f"{capture.name}.json").read_text())
        np.testing.assert_allclose(checker["corners"], capture.corners, atol=1e-6)
        for fg in capture.foreground_ids:
            image = cv2.imread(str(out / "annotations" / "masks" / f"{capture.name}_{fg}.png"),
                               cv2.IMREAD_UNCHANGED)
            assert image.shape == (crop["height"], crop["width"], 3)
            assert set(np.unique(image).tolist()) == {0, 255}
            assert (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all()
            fg_ids.append(f"{capture.name}_{fg}")
    train = (out / "annotations" / "train_list.txt").read_text().split()
    test = (out / "annotations" / "test_list.txt").read_text().split()
    assert sorted(train + test) == sorted(fg_ids)
    assert not {t.split("_")[0] for t in train} & {t.split("_")[0] for t in test}
    assert len({t.split("_")[0] for t in train}) == 4  # round(0.7 * 5)
    manifest = json.loads((out / "synth.json").read_text())
    assert [c["name"] for c in manifest["captures"]] == names


def test_dng_decodes_to_the_noise_free_rendering(synth_set) -> None:
    out, captures = synth_set
    for capture in captures:
        truth = read_truth(capture.truth_path)
        sensor = truth["sensor"]
        with rawpy.imread(str(capture.dng_path)) as raw:
            data = raw.raw_image_visible.astype(np.float64)
            assert raw.black_level_per_channel == [sensor["black_level"]] * 4
            assert raw.white_level == sensor["white_level"]
            letters = raw.color_desc.decode()
            assert "".join(letters[i] for i in raw.raw_pattern.ravel()) == sensor["cfa_pattern"]
            np.testing.assert_allclose(raw.camera_whitebalance[:3],
                                       1 / np.array(truth["as_shot_neutral"]), rtol=1e-3)
        assert data.shape == (SIZE[1], SIZE[0])
        linear = (data - sensor["black_level"]) / (sensor["white_level"] - sensor["black_level"])
        expected = mosaic(render_relit(capture.truth_path, capture.truth_path, crop=False),
                          sensor["cfa_pattern"])
        unclipped = expected < 0.95
        residual = (linear - expected)[unclipped]
        assert abs(residual.mean()) < 2e-3
        scale = sensor["white_level"] - sensor["black_level"]
        model_std = np.sqrt(sensor["conversion_gain"] * expected[unclipped] * scale
                            + sensor["read_noise"] ** 2).mean() / scale
        assert residual.std() == pytest.approx(model_std, rel=0.25)


def test_ground_truth_illuminant_and_patches(synth_set) -> None:
    out, captures = synth_set
    for capture in captures:
        truth = read_truth(capture.truth_path)
        # independent computation: perfect white reflector, sum of E * S over wavelengths
        white = illuminant_spd(truth["illuminant_name"]) @ camera_sensitivities(truth["camera"])
        assert _angle(truth["illuminant"], white) < 1e-5
        np.testing.assert_allclose(capture.illuminant, truth["illuminant"], atol=1e-8)
        assert np.linalg.norm(truth["illuminant"]) == pytest.approx(1.0, abs=1e-8)
        # patches as rendered in the noise-free frame, sampled at each patch's pixels
        scene = generate_scene(tuple(truth["size"]), truth["scene_seed"])
        frame = render_relit(capture.truth_path, capture.truth_path, crop=False)
        for index in (0, 5, 18, 23):
            pixels = frame[scene.material == index]
            assert pixels.shape[0] > 0
            np.testing.assert_allclose(pixels.mean(axis=0), truth["patches"][index], rtol=1e-5)
        white_patch = frame[scene.material == 18].mean(axis=0)
        assert _angle(white_patch, truth["illuminant_white_patch"]) < 0.05
        # the chart's white is not spectrally flat (0.41 at 400 nm): it differs from a perfect
        # white by up to about 0.3 degrees for these cameras and illuminants
        assert _angle(white_patch, truth["illuminant"]) < 0.6
        # exposure: the white patch peaks at level x chart lighting
        level = truth["exposure"]["level"] * truth["chart_gain"]
        assert max(truth["patches"][18]) == pytest.approx(level, rel=1e-6)


def test_corner_order(synth_set) -> None:
    out, captures = synth_set
    for capture in captures:
        truth = read_truth(capture.truth_path)
        scene = generate_scene(tuple(truth["size"]), truth["scene_seed"])
        corners = np.asarray(truth["corners"])
        for corner, patch in enumerate((0, 5, 23, 18)):  # dark skin, bluish green, black, white
            rows, cols = np.nonzero(scene.material == patch)
            centre = np.array([cols.mean(), rows.mean()])
            distances = np.hypot(*(corners - centre).T)
            assert int(np.argmin(distances)) == corner, (capture.name, patch)
        # corners enclose the chart body
        body = (scene.material < 25).astype(np.uint8)
        hull = cv2.convexHull(corners.astype(np.float32))
        rows, cols = np.nonzero(body)
        inside = [cv2.pointPolygonTest(hull, (float(c), float(r)), True) for r, c in
                  zip(rows[::7], cols[::7])]
        assert min(inside) > -1.5


def test_relit_truth(synth_set) -> None:
    out, captures = synth_set
    a, b = captures[0], captures[1]
    relit = read_relit(out / "truth" / f"{a.name}_relit.npz")
    assert sorted(relit.values) == sorted(c.name for c in captures)
    assert relit.foreground_ids == a.foreground_ids
    own = render_relit(a.truth_path, a.truth_path)
    other = render_relit(a.truth_path, b.name)
    assert own.shape[:2] == relit.crop_shape
    np.testing.assert_array_equal(relit.values[a.name], own[relit.rows, relit.cols])
    np.testing.assert_array_equal(relit.values[b.name], other[relit.rows, relit.cols])
    # the foreground map agrees with the masks
    for index, fg in enumerate(a.foreground_ids):
        mask = cv2.imread(str(out / "annotations" / "masks" / f"{a.name}_{fg}.png"),
                          cv2.IMREAD_GRAYSCALE) > 0
        pick = relit.foreground == index
        assert mask.sum() == pick.sum()
        assert mask[relit.rows[pick], relit.cols[pick]].all()
    # physics: the relit values are the other camera's response to the same reflectances
    truth_b = read_truth(b.truth_path)
    K_b = spectral_response(truth_b["camera"], truth_b["illuminant_name"],
                            gain=truth_b["exposure"]["gain"])
    scene = generate_scene(tuple(read_truth(a.truth_path)["size"]), read_truth(a.truth_path)["scene_seed"])
    x, y = scene.crop[:2]
    r, c = relit.rows[0], relit.cols[0]
    expected = scene.shading[y + r, x + c] * (scene.reflectances[scene.material[y + r, x + c]] @ K_b)
    np.testing.assert_allclose(relit.values[b.name][0], expected, rtol=1e-5)
    np.testing.assert_allclose(render_scene(scene, K_b, crop=True), other)


def test_same_seed_same_bytes_and_different_seed_differs(tmp_path: Path) -> None:
    first = synthesize(tmp_path / "a", count=2, seed=5, size=(96, 64))
    synthesize(tmp_path / "b", count=2, seed=5, size=(96, 64), workers=2)
    synthesize(tmp_path / "c", count=2, seed=6, size=(96, 64))
    digest_a = _tree_digest(tmp_path / "a")
    digest_b = _tree_digest(tmp_path / "b")
    digest_c = _tree_digest(tmp_path / "c")
    assert digest_a == digest_b
    assert len(digest_a) >= 14
    dng = first[0].dng_path.relative_to(tmp_path / "a").as_posix()
    assert dng in digest_a and digest_a[dng] not in digest_c.values()
    # the truth JSON is sorted and has fixed float formatting
    text = first[0].truth_path.read_text()
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=1) + "\n"


def test_draws_cover_cameras_illuminants_and_exposures() -> None:
    draws = [_draw_parameters(1, i, (480, 320), list(CAMERAS)) for i in range(240)]
    assert {d.camera for d in draws} == set(CAMERAS)
    families = {family for family, members in ILLUMINANT_SETS.items()
                for d in draws if d.illuminant in members}
    assert families == set(ILLUMINANT_SETS)
    levels = np.array([d.exposure_level for d in draws])
    assert levels.min() >= 0.05 and levels.max() <= 0.99
    assert (levels > 0.9).any() and (levels < 0.1).any()
    assert {d.sensor.cfa_pattern for d in draws} == {"RGGB", "BGGR", "GRBG", "GBRG"}
    assert {d.sensor.black_level for d in draws} == {512, 1024, 2048}
    only = _draw_parameters(1, 0, (480, 320), ["Canon EOS 5D Mark II"])
    assert only.name == "Synth5DMarkII-0001"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"count": 0}, "count must be a positive integer"),
        ({"count": 1, "size": (100000, 100000)}, r"at most 16384 pixels a side and 100 megapixels .* got 100000x100000"),
        ({"count": 1, "size": (16384, 16384)}, r"at most 16384 pixels a side and 100 megapixels"),
        ({"count": 1, "size": (97, 64)}, "even and at least 64x64"),
        ({"count": 1, "cameras": ["Nikon D1"]}, "unknown camera"),
        ({"count": 1, "workers": 0}, "workers"),
    ],
)
def test_synthesize_rejects_bad_options(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        synthesize(tmp_path, seed=0, **kwargs)


@pytest.mark.parametrize("seed", [-1, 2**63, True, 1.5])
def test_synthesize_rejects_bad_seeds(tmp_path: Path, seed: object) -> None:
    with pytest.raises(ConfigError, match=r"seed must be an integer from 0 to 2\*\*63-1"):
        synthesize(tmp_path, count=1, seed=seed)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_a_set_with_other_settings_is_refused_then_replaced(tmp_path: Path) -> None:
    out = tmp_path / "set"
    synthesize(out, count=2, seed=5, size=(96, 64), relit=False)
    before = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    # The same settings again: the same bytes, in place.
    synthesize(out, count=2, seed=5, size=(96, 64), relit=False)
    assert {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before
    with pytest.raises(DatasetError, match=r"set: holds a synth set written with seed 5, count 2, size 96x64, .*"
                                           r"not seed 6, .* --overwrite to replace it"):
        synthesize(out, count=2, seed=6, size=(96, 64), relit=False)
    assert {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before
    captures = synthesize(out, count=1, seed=6, size=(96, 64), relit=False, overwrite=True)
    fresh = tmp_path / "fresh"
    synthesize(fresh, count=1, seed=6, size=(96, 64), relit=False)
    assert {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == {
        p.relative_to(fresh): p.read_bytes() for p in sorted(fresh.rglob("*")) if p.is_file()}
    assert captures[0].dng_path.parent == out / "raw" and captures[0].dng_path.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "set"]  # no temporary folder left
    # A folder that is not a synth set is never replaced.
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    with pytest.raises(DatasetError, match="is not a synth set"):
        synthesize(other, count=1, seed=1, size=(96, 64), overwrite=True)
    assert [p.name for p in other.iterdir()] == ["notes.txt"]


def test_read_truth_errors(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match="missing.json"):
        read_truth(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{\"name\": 1}")
    with pytest.raises(AnnotationError, match="not a ccharmony synth truth"):
        read_truth(bad)
    with pytest.raises(AnnotationError, match="cannot read relit"):
        read_relit(tmp_path / "nothing.npz")


def test_cli_synth(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    result = subprocess.run(
        [sys.executable, "-m", "ccharmony", "synth", "--out", str(out), "--count", "3",
         "--seed", "1", "--size", "240x160"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    for line in lines:
        name, camera, dng, truth = line.split("\t")
        assert camera in CAMERAS and Path(dng).is_file() and Path(truth).is_file()
        assert read_truth(truth)["name"] == name
    bad = subprocess.run(
        [sys.executable, "-m", "ccharmony", "synth", "--out", str(out), "--size", "99x64"],
        capture_output=True, text=True, timeout=120,
    )
    assert bad.returncode == 2  # a usage error, refused by the parser
    assert bad.stderr.strip().splitlines()[-1] == (
        "ccharmony synth: error: argument --size: size must be even and at least 64x64, got '99x64'")
