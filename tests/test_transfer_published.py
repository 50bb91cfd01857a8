"""The published ccHarmony maps (annotations/ccharmony/polynomial_matching_coefficients) do what their README says.

The README: ``<image>.npy`` maps that image's colours to the standard and ``<image>_reverse.npy`` the
standard to that image's illumination, both least-squares 11-term polynomials on the published patch
colours; refitting reproduces 340/350 forward and 350/350 reverse maps to 1e-4 on 500 random colours,
and the other 10 forward maps fit the published patch colours worse than least squares does
(IMG_0290: RMS 17.7 against 10.7). Least squares here is computed independently of the code under test:
colour-science's 11-term expansion and ``numpy.linalg.lstsq``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from colour.characterisation import matrix_augmented_Cheung2004

from ccharmony.errors import AnnotationError
from ccharmony.io.patch_colors import read_patch_colors_csv, read_standard_srgb
from ccharmony.transfer import Transfer, fit
from ccharmony.transfer.published import (
    REFIT_MISMATCHES,
    PublishedMaps,
    compare_with_refit,
    published_transfer,
    read_published_map,
    read_published_maps,
)

SET = Path(__file__).resolve().parents[1] / "annotations" / "ccharmony"
MAPS = SET / "polynomial_matching_coefficients"


@pytest.fixture(scope="module")
def published() -> dict[str, PublishedMaps]:
    return read_published_maps(MAPS)


@pytest.fixture(scope="module")
def patches() -> dict[str, np.ndarray]:
    return {path.stem: read_patch_colors_csv(path, dtype=np.float64) for path in sorted((SET / "patch_colors").glob("*.csv"))}


def _lstsq(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``(3, 11)`` least-squares coefficients, independent of ccharmony.transfer."""
    X = matrix_augmented_Cheung2004(source, terms=11)
    M, *_ = np.linalg.lstsq(X, target, rcond=None)
    return M.T


def _evaluate(M: np.ndarray, RGB: np.ndarray) -> np.ndarray:
    return matrix_augmented_Cheung2004(RGB, terms=11) @ M.T


def test_every_image_has_both_maps(published: dict[str, PublishedMaps], patches: dict[str, np.ndarray]) -> None:
    assert len(published) == 350 and sorted(published) == sorted(patches)
    first = published["IMG_0290"]
    assert first.forward.method == "poly11" and first.forward.domain == "srgb8"
    assert np.array_equal(first.forward.params, np.load(MAPS / "IMG_0290.npy"))
    assert np.array_equal(first.reverse.params, np.load(MAPS / "IMG_0290_reverse.npy"))


def test_maps_applied_to_the_patch_colours_give_the_least_squares_fit(
    published: dict[str, PublishedMaps], patches: dict[str, np.ndarray]
) -> None:
    standard = read_standard_srgb(dtype=np.float64)
    colours = np.random.default_rng(0).uniform(0, 255, (500, 3))
    forward_ok, reverse_ok = set(), set()
    for image, maps in published.items():
        S = patches[image]
        forward_points, reverse_points = np.vstack([S, colours]), np.vstack([standard, colours])
        # the maps under test, evaluated by Transfer before its final clip
        forward = maps.forward._evaluate64(forward_points)
        reverse = maps.reverse._evaluate64(reverse_points)
        if np.max(np.abs(forward - _evaluate(_lstsq(S, standard), forward_points))) <= 1e-4:
            forward_ok.add(image)
        if np.max(np.abs(reverse - _evaluate(_lstsq(standard, S), reverse_points))) <= 1e-4:
            reverse_ok.add(image)
    assert len(forward_ok) == 340 and len(reverse_ok) == 350
    assert set(published) - forward_ok == REFIT_MISMATCHES


def test_the_ten_other_forward_maps_fit_the_patches_worse_than_least_squares(
    published: dict[str, PublishedMaps], patches: dict[str, np.ndarray]
) -> None:
    standard = read_standard_srgb(dtype=np.float64)
    for image in REFIT_MISMATCHES:
        S = patches[image]
        rms_published = np.sqrt(np.mean((published[image].forward._evaluate64(S) - standard) ** 2))
        rms_lstsq = np.sqrt(np.mean((_evaluate(_lstsq(S, standard), S) - standard) ** 2))
        assert rms_published > rms_lstsq + 0.1, image
    S = patches["IMG_0290"]
    rms = np.sqrt(np.mean((published["IMG_0290"].forward._evaluate64(S) - standard) ** 2))
    assert round(float(rms), 1) == 17.7
    assert round(float(np.sqrt(np.mean((_evaluate(_lstsq(S, standard), S) - standard) ** 2))), 1) == 10.7


def test_compare_with_refit_agrees(published: dict[str, PublishedMaps], patches: dict[str, np.ndarray]) -> None:
    good = compare_with_refit(published["8D5U5531"], patches["8D5U5531"])
    assert good.reproduced() == (True, True) and good.forward_difference < 1e-6
    assert abs(good.forward_rms - good.forward_rms_refit) < 1e-9
    bad = compare_with_refit(published["IMG_0290"], patches["IMG_0290"])
    assert bad.reproduced() == (False, True)
    assert round(bad.forward_rms, 1) == 17.7 and round(bad.forward_rms_refit, 1) == 10.7
    assert bad.forward_difference > 100  # 8-bit units, over the patch colours and a 9x9x9 grid


def test_published_transfer_is_the_published_recipe(published: dict[str, PublishedMaps]) -> None:
    source, target = published["IMG_0290"], published["Canon1DsMkIII_0010"]
    pixels = np.random.default_rng(1).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    chained = published_transfer(source, target)
    # the README's recipe: first map, then the second, on the 8-bit pixels, clip to 0..255
    standard = _evaluate(np.load(MAPS / "IMG_0290.npy"), pixels.reshape(-1, 3).astype(np.float64))
    expected = np.clip(_evaluate(np.load(MAPS / "Canon1DsMkIII_0010_reverse.npy"), standard), 0, 255)
    np.testing.assert_allclose(chained.apply(pixels).reshape(-1, 3), expected, atol=1e-3)
    assert np.array_equal(chained.apply_uint8(pixels).reshape(-1, 3), np.rint(expected).astype(np.uint8))
    # where the refit reproduces the published map, our own fit gives its coefficients
    refit = fit("poly11", read_patch_colors_csv(SET / "patch_colors" / "8D5U5531.csv", dtype=np.float64),
                read_standard_srgb(dtype=np.float64))
    np.testing.assert_allclose(refit.params, published["8D5U5531"].forward.params, rtol=1e-6, atol=1e-9)


def test_malformed_files_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "A.npy", np.zeros((3, 10)))
    with pytest.raises(AnnotationError, match=r"A.npy: published map of shape \(3, 10\) .*expected a \(3, 11\)"):
        read_published_map(tmp_path / "A.npy")
    np.save(tmp_path / "B.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(AnnotationError, match=r"B.npy: cannot read a published map"):
        read_published_map(tmp_path / "B.npy")
    bad = np.zeros((3, 11))
    bad[1, 2] = np.nan
    np.save(tmp_path / "C.npy", bad)
    with pytest.raises(AnnotationError, match=r"C.npy: non-finite coefficient"):
        read_published_map(tmp_path / "C.npy")
    folder = tmp_path / "maps"
    folder.mkdir()
    np.save(folder / "IMG_1.npy", np.zeros((3, 11)))
    with pytest.raises(AnnotationError, match=r"IMG_1_reverse.npy is missing"):
        read_published_maps(folder)
    np.save(folder / "IMG_1_reverse.npy", np.zeros((3, 11)))
    assert isinstance(read_published_maps(folder)["IMG_1"].reverse, Transfer)
    with pytest.raises(AnnotationError, match=r"folder of published maps not found"):
        read_published_maps(tmp_path / "none")
