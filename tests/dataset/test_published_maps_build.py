"""
The paper-faithful pipeline uses the published fitted maps where they exist (issue 15, C).

A tiny annotation set (five synthetic captures) gets published maps for two of its images,
made from the least-squares refit (computed here with numpy, independently of ccharmony's fit)
with each output channel scaled, so that a build that ignored them would give other composites.
With ``maps: published`` every composite's recorded transfer is, step by step, the published
matrix of the file (bit for bit) where the image has one and the independent refit elsewhere,
``forward_map``/``reverse_map`` say which, and the composite's pixels are that chain applied to
the real image (independent 11-term polynomial); with ``maps: refit`` every map is the refit.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from ccharmony.dataset.builder import BuildOptions, build_dataset
from ccharmony.dataset.config import Pipeline, load_pipeline
from ccharmony.errors import ConfigError
from ccharmony.io.patch_colors import read_standard_srgb

SCALES = {"forward": np.array([1.12, 1.0, 0.88]), "reverse": np.array([0.9, 1.05, 1.1])}


def _terms(RGB: np.ndarray) -> np.ndarray:
    """The 11 poly11 terms of 8-bit values: r, g, b, rg, rb, gb, r², g², b², rgb, 1 (Niu 2023)."""
    r, g, b = (RGB[..., i].astype(np.float64) for i in range(3))
    return np.stack([r, g, b, r * g, r * b, g * b, r * r, g * g, b * b, r * g * b, np.ones_like(r)], axis=-1)


def _lstsq(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(3, 11) least-squares map of source colours onto target colours."""
    solution, *_ = np.linalg.lstsq(_terms(source), target, rcond=None)
    return solution.T


def _apply(M: np.ndarray, RGB: np.ndarray) -> np.ndarray:
    return _terms(RGB) @ M.T


def _build(scenes: Path, annotations: Path, out: Path, maps: str) -> Path:
    # Lossless composites and a near-lossless real image: the pixel check below is tight.
    pipeline = Pipeline(k=3, name="tiny", maps=maps, image_format="png", jpeg_quality=100)
    build_dataset(BuildOptions(out=out, raw_dir=scenes / "raw", annotations=annotations, pipeline=pipeline,
                               seed=1, progress=False))
    return out


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    from ccharmony.synth import synthesize

    scenes = tmp_path_factory.mktemp("scenes")
    synthesize(scenes, count=5, seed=3, size=(240, 160), relit=False)
    work = tmp_path_factory.mktemp("maps")
    refit = _build(scenes, scenes / "annotations", work / "refit", "refit")
    images = {record["image"]: np.asarray(record["patches_srgb8"], dtype=np.float64)
              for record in json.loads((refit / "build.json").read_text())["images"].values()}
    standard = read_standard_srgb(dtype=np.float64)
    fitted = {image: {"forward": _lstsq(patches, standard), "reverse": _lstsq(standard, patches)}
              for image, patches in images.items()}
    names = sorted(images)
    with_maps, half = names[:2], names[2]
    annotations = work / "annotations"
    shutil.copytree(scenes / "annotations", annotations)
    folder = annotations / "polynomial_matching_coefficients"
    folder.mkdir()
    published = {}
    for image in with_maps:
        published[image] = {kind: fitted[image][kind] * SCALES[kind][:, None] for kind in SCALES}
        np.save(folder / f"{image}.npy", published[image]["forward"])
        np.save(folder / f"{image}_reverse.npy", published[image]["reverse"])
    np.save(folder / f"{half}.npy", fitted[half]["forward"])  # its reverse map is missing: none is used
    used = _build(scenes, annotations, work / "published", "published")
    return {"refit": refit, "published": used, "fitted": fitted, "maps": published, "half": half,
            "folder": folder}


def _steps(row: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    record = json.loads(row["transfer"])["transfer"]
    return np.asarray(record["params"]), np.asarray(record["then"][0]["params"])


def test_published_maps_are_used_where_they_exist(builds: dict) -> None:
    frame = pd.read_parquet(builds["published"] / "metadata.parquet")
    maps, fitted = builds["maps"], builds["fitted"]
    kinds = set()
    for _, row in frame.iterrows():
        forward, reverse = _steps(row)
        source, target = row["source_image"], row["target_image"]
        assert row["forward_map"] == ("published" if source in maps else "refit")
        assert row["reverse_map"] == ("published" if target in maps else "refit")
        if source in maps:  # the file's matrix itself, bit for bit
            assert np.array_equal(forward, np.load(builds["folder"] / f"{source}.npy"))
        else:
            np.testing.assert_allclose(forward, fitted[source]["forward"], rtol=1e-6, atol=1e-9)
        if target in maps:
            assert np.array_equal(reverse, np.load(builds["folder"] / f"{target}_reverse.npy"))
        else:
            np.testing.assert_allclose(reverse, fitted[target]["reverse"], rtol=1e-6, atol=1e-9)
        kinds.add((row["forward_map"], row["reverse_map"]))
    # The set covers both published, one of each, and both refit.
    assert ("published", "published") in kinds and ("refit", "refit") in kinds
    assert ("published", "refit") in kinds or ("refit", "published") in kinds
    # A half pair is reported and not used.
    build = json.loads((builds["published"] / "build.json").read_text())
    assert any(item["reason"].endswith(f"{builds['half']}_reverse.npy: missing, so {builds['half']} uses no "
                                       "published map (its maps are fitted on the patch colours)")
               for item in build["skipped"])
    assert f"annotations/polynomial_matching_coefficients/{sorted(maps)[0]}.npy" in build["input_files"]
    assert build["config"]["maps"] == "published"


def test_composites_are_the_published_chain_applied_to_the_real_image(builds: dict) -> None:
    root = builds["published"]
    frame = pd.read_parquet(root / "metadata.parquet")
    checked = 0
    for _, row in frame.iterrows():
        if row["forward_map"] != "published" or row["reverse_map"] != "published":
            continue
        real = cv2.imread(str(root / row["real_file_name"]), cv2.IMREAD_COLOR)[..., ::-1]
        mask = cv2.imread(str(root / row["mask_file_name"]), cv2.IMREAD_UNCHANGED) > 0
        composite = cv2.imread(str(root / row["composite_file_name"]), cv2.IMREAD_COLOR)[..., ::-1]
        source, target = row["source_image"], row["target_image"]
        published = builds["maps"]
        expected = np.clip(np.rint(_apply(published[target]["reverse"], _apply(published[source]["forward"],
                                                                                 real[mask]))), 0, 255)
        refit = builds["fitted"]
        refitted = np.clip(np.rint(_apply(refit[target]["reverse"], _apply(refit[source]["forward"], real[mask]))),
                           0, 255)
        inside = composite[mask].astype(np.float64)
        # The stored real image is a JPEG (quality 100) of the pixels the build mapped: a codec error remains.
        error = np.abs(inside - expected).mean()
        assert error < 1.0
        assert np.abs(inside - refitted).mean() > 4 * error + 3
        # Outside the mask: the same real pixels as the refit build's composite.
        other = cv2.imread(str(builds["refit"] / row["composite_file_name"]), cv2.IMREAD_COLOR)[..., ::-1]
        assert np.array_equal(composite[~mask], other[~mask])
        checked += 1
    assert checked


def test_refit_fits_every_map_and_untouched_composites_are_identical(builds: dict) -> None:
    refit = pd.read_parquet(builds["refit"] / "metadata.parquet")
    used = pd.read_parquet(builds["published"] / "metadata.parquet").set_index("composite_file_name")
    assert set(refit["forward_map"]) == set(refit["reverse_map"]) == {"refit"}
    for _, row in refit.iterrows():
        forward, reverse = _steps(row)
        np.testing.assert_allclose(forward, builds["fitted"][row["source_image"]]["forward"], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(reverse, builds["fitted"][row["target_image"]]["reverse"], rtol=1e-6, atol=1e-9)
        other = used.loc[row["composite_file_name"]]
        same_maps = other["forward_map"] == other["reverse_map"] == "refit"
        same_bytes = (builds["refit"] / row["composite_file_name"]).read_bytes() == \
            (builds["published"] / row["composite_file_name"]).read_bytes()
        assert same_bytes == same_maps, row["composite_file_name"]
    card = (builds["refit"] / "DATASET_CARD.md").read_text()
    assert "- Maps: `maps: refit`, every map fitted on the patch colours" in card
    card = (builds["published"] / "DATASET_CARD.md").read_text()
    counts = used.groupby(["forward_map", "reverse_map"]).size().to_dict()
    mixed = counts.get(("published", "refit"), 0) + counts.get(("refit", "published"), 0)
    assert (f"published fitted maps where an image has them (2 images): {counts[('published', 'published')]} composites "
            f"published -> published, {mixed} with one published and one fitted map, "
            f"{counts[('refit', 'refit')]} with both maps fitted") in card.replace("\n", " ")


def test_maps_key(tmp_path: Path) -> None:
    assert Pipeline().maps == "published"
    assert load_pipeline(Path(__file__).resolve().parents[2] / "pipelines" / "ccharmony.yaml").maps == "published"
    assert load_pipeline(Path(__file__).resolve().parents[2] / "pipelines" / "linear.yaml").maps == "refit"
    with pytest.raises(ConfigError, match=r"^maps must be one of published, refit, got 'fitted' \(a string\)$"):
        Pipeline(maps="fitted")
    with pytest.raises(ConfigError, match=r"^maps: published needs method poly11 .* got method 'diagonal'; "
                                          r"set maps: refit$"):
        Pipeline(method="diagonal")
    assert Pipeline(method="diagonal", maps="refit").domain == "linear"
