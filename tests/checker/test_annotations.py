"""Tests of the annotation and ground-truth readers and their error messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ccharmony.checker import (
    read_corners_json,
    read_gehler_groundtruth,
    read_macbeth_txt,
    read_nus_groundtruth,
    read_nus_mask_txt,
    read_patch_boxes_csv,
    sample,
)
from ccharmony.checker.annotations import csv_to_code_index
from ccharmony.checker.geometry import patch_quads_from_corners
from ccharmony.checker.orientation import orientation_score
from ccharmony.checker.record import read_annotation
from ccharmony.errors import AnnotationError

CORNERS = np.array([[10.0, 20.0], [150.0, 25.0], [148.0, 120.0], [12.0, 118.0]])


class TestCsvOrder:
    def test_bijection_and_known_values(self) -> None:
        mapped = [csv_to_code_index(i) for i in range(24)]
        assert sorted(mapped) == list(range(24))
        assert mapped[:6] == [18, 19, 20, 21, 22, 23]
        assert mapped[18:] == [0, 1, 2, 3, 4, 5]


class TestCornersJson:
    def test_reads_corners(self, tmp_path: Path) -> None:
        path = tmp_path / "a.json"
        path.write_text(json.dumps({"corners": CORNERS.tolist()}))
        checker = read_corners_json(path, image_size=(200, 200))
        np.testing.assert_allclose(checker.corners, CORNERS)
        np.testing.assert_allclose(checker.patches, patch_quads_from_corners(CORNERS))
        assert checker.method == "annotation"

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("{not json", "not valid JSON"),
            ('{"corner": []}', 'expected an object with a "corners" key'),
            ('{"corners": [[1, 2], [3, 4]]}', "must be 4"),
            ('{"corners": [[1, 2], [3, 4], [5, 6], ["a", 8]]}', "must be 4"),
        ],
    )
    def test_bad_files(self, tmp_path: Path, text: str, message: str) -> None:
        path = tmp_path / "bad.json"
        path.write_text(text)
        with pytest.raises(AnnotationError, match=f"bad.json: .*{message}"):
            read_corners_json(path)

    def test_outside_image(self, tmp_path: Path) -> None:
        path = tmp_path / "far.json"
        path.write_text(json.dumps({"corners": (CORNERS * 10).tolist()}))
        with pytest.raises(AnnotationError, match="far.json: corners .* lie outside the 200x200 image"):
            read_corners_json(path, image_size=(200, 200))

    def test_missing(self, tmp_path: Path) -> None:
        with pytest.raises(AnnotationError, match="nope.json: no such annotation file"):
            read_corners_json(tmp_path / "nope.json")


def _macbeth_lines(corners: np.ndarray, reference: str = "280 240") -> list[str]:
    lines = [reference] + [f"{x} {y}" for x, y in corners[[0, 1, 3, 2]]]
    return lines + [f"{x} {y}" for x, y in patch_quads_from_corners(corners).reshape(-1, 2)]


class TestMacbethTxt:
    def test_scales_and_orders(self, tmp_path: Path) -> None:
        path = tmp_path / "x_macbeth.txt"
        path.write_text("\n".join(_macbeth_lines(CORNERS)))
        checker = read_macbeth_txt(path, image_size=(120, 140))
        np.testing.assert_allclose(checker.corners, CORNERS * 0.5, atol=1e-9)
        np.testing.assert_allclose(checker.patches, patch_quads_from_corners(CORNERS) * 0.5, atol=1e-9)

    def test_wrong_count(self, tmp_path: Path) -> None:
        path = tmp_path / "short_macbeth.txt"
        path.write_text("\n".join(_macbeth_lines(CORNERS)[:50]))
        with pytest.raises(AnnotationError, match="short_macbeth.txt: expected 101 lines .* got 50"):
            read_macbeth_txt(path, image_size=(120, 140))

    def test_not_numbers(self, tmp_path: Path) -> None:
        path = tmp_path / "text_macbeth.txt"
        lines = _macbeth_lines(CORNERS)
        lines[3] = "x y"
        path.write_text("\n".join(lines))
        with pytest.raises(AnnotationError, match="text_macbeth.txt: line 4 is not numbers"):
            read_macbeth_txt(path, image_size=(120, 140))

    def test_aspect_mismatch(self, tmp_path: Path) -> None:
        path = tmp_path / "rot_macbeth.txt"
        path.write_text("\n".join(_macbeth_lines(CORNERS)))
        with pytest.raises(AnnotationError, match="rot_macbeth.txt: reference frame 280x240 .* aspect"):
            read_macbeth_txt(path, image_size=(140, 120))

    def test_missing_size_line_unknown_camera(self, tmp_path: Path) -> None:
        path = tmp_path / "XYZ1_macbeth.txt"
        path.write_text("\n".join(_macbeth_lines(CORNERS)[1:]))
        with pytest.raises(AnnotationError, match="XYZ1_macbeth.txt: the reference size line is missing"):
            read_macbeth_txt(path, image_size=(120, 140))

    def test_bad_reference(self, tmp_path: Path) -> None:
        path = tmp_path / "zero_macbeth.txt"
        path.write_text("\n".join(_macbeth_lines(CORNERS, "0 240")))
        with pytest.raises(AnnotationError, match="zero_macbeth.txt: line 1 must be the positive"):
            read_macbeth_txt(path, image_size=(120, 140))

    def test_real_gehler_files(self, real_dir: Path) -> None:
        folder = real_dir / "gehler_shi__fc4_groundtruth" / "coordinates"
        files = sorted(folder.glob("*_macbeth.txt"))
        assert len(files) == 592
        for path in files:
            frame = (2704, 4064) if path.name.startswith("8D5U") else (2912, 4368)
            first = [float(v) for v in path.read_text().split("\n")[0].split()]
            if first[0] in (2704.0, 2912.0):
                frame = frame[::-1]  # portrait (height, width)
            checker = read_macbeth_txt(path, image_size=(frame[0] // 2, frame[1] // 2))
            centres = checker.patches.mean(axis=1)
            # Each §4 corner is nearest to its corner patch.
            for corner, patch in zip(checker.corners, (0, 5, 23, 18)):
                assert np.argmin(np.linalg.norm(centres - corner, axis=1)) == patch
        # IMG_0285: the chart's dark-skin corner at (3605.6, 1597.0) of 4368x2912, halved.
        checker = read_macbeth_txt(folder / "IMG_0285_macbeth.txt", image_size=(1456, 2184))
        np.testing.assert_allclose(checker.corners[0], [1802.78, 798.49], atol=0.01)


class TestNus:
    def test_mask_txt_matches_image(self, real_dir: Path) -> None:
        from ccharmony.io import read_image

        folder = real_dir / "nus8__WB_sRGB_RenderedWB_Set1"
        checker = read_nus_mask_txt(folder / "Canon1DsMkIII_0087_F_P_mask.txt")
        # white (code 18) is the bottom-left patch: bbox origin + first patch
        np.testing.assert_allclose(checker.patches[18, 0], [270.256 + 14.4, 873.96 + 132.4], atol=0.01)
        image = read_image(folder / "Canon1DsMkIII_0087_G_AS.png")
        assert orientation_score(sample(image, checker).RGB).accepted

    def test_mask_txt_bad(self, tmp_path: Path) -> None:
        path = tmp_path / "a_mask.txt"
        path.write_text("1,2,3,4\n1,2,3,4\n")
        with pytest.raises(AnnotationError, match="a_mask.txt: expected a box line and 48 lines"):
            read_nus_mask_txt(path)

    def test_ffcc_groundtruth(self, real_dir: Path) -> None:
        value = read_nus_groundtruth(real_dir / "nus8__ffcc_groundtruth_Canon1DsMkIII" / "000087.txt")
        np.testing.assert_allclose(value, [0.33974491815156010, 0.76558350358768446, 0.54631061643042955],
                                   rtol=1e-12)

    def test_ffcc_bad(self, tmp_path: Path) -> None:
        path = tmp_path / "000001.txt"
        path.write_text("0.1\n0.2\n")
        with pytest.raises(AnnotationError, match="000001.txt: expected 3 non-negative numbers"):
            read_nus_groundtruth(path)

    def test_patch_boxes_csv(self, real_dir: Path) -> None:
        from ccharmony.io import read_image

        folder = real_dir / "nus8__Zotkin_pytorch-retinanet"
        for name in ("Canon1DsMkIII_0001.PNG", "Canon1DsMkIII_0004.PNG", "Canon1DsMkIII_0010.PNG"):
            checker = read_patch_boxes_csv(folder / "annotations.csv", name)
            image = read_image(folder / name)
            RGB = np.clip(image.RGB - image.RGB.min(), 0, 1)  # black offset left in these files
            assert orientation_score(sample(RGB, checker).RGB).accepted, name
        checker = read_patch_boxes_csv(folder / "annotations.csv", "Canon1DsMkIII_0001.PNG")
        # class 0 (white) box is 140,402,161,434 -> code 18
        np.testing.assert_allclose(checker.patches[18, 0], [140, 402])

    def test_patch_boxes_missing_image(self, real_dir: Path) -> None:
        path = real_dir / "nus8__Zotkin_pytorch-retinanet" / "annotations.csv"
        with pytest.raises(AnnotationError, match="annotations.csv: nothing.png has boxes for classes"):
            read_patch_boxes_csv(path, "nothing.png")


class TestGehlerMat:
    def test_illuminants_and_patches(self, real_dir: Path) -> None:
        folder = real_dir / "gehler_shi__fc4_groundtruth"
        illuminants = read_gehler_groundtruth(folder / "real_illum_568..mat")
        patches = read_gehler_groundtruth(folder / "colourchecker_gamma1_bit12.mat")
        assert illuminants.shape == (568, 3)
        assert patches.shape == (568, 24, 3)
        # description.txt: GT = max over the neutral patches 19:24 (black 129 removed for rows 87+)
        neutral = patches[:, 18:24].copy()
        neutral[86:] -= 129
        complete = np.all(np.isfinite(neutral), axis=(1, 2))
        assert np.count_nonzero(complete) == 255  # the others hold NaN patches
        np.testing.assert_allclose(neutral[complete].max(axis=1), illuminants[complete], rtol=1e-6)

    def test_not_a_mat(self, tmp_path: Path) -> None:
        path = tmp_path / "x.mat"
        path.write_bytes(b"garbage")
        with pytest.raises(AnnotationError, match="x.mat: not a readable MATLAB file"):
            read_gehler_groundtruth(path)


def test_read_annotation_dispatch(tmp_path: Path) -> None:
    path = tmp_path / "img.json"
    path.write_text(json.dumps({"corners": CORNERS.tolist()}))
    assert read_annotation(path, image_size=(200, 200)).method == "annotation"
    with pytest.raises(AnnotationError, match="img.yaml: unknown annotation kind"):
        read_annotation(tmp_path / "img.yaml", image_size=(200, 200))


class TestChartGeometryIsValidated:
    """Garbage corners (identical, in a line, crossing, tiny, a sliver) never become 24 'patches'."""

    @pytest.mark.parametrize(("corners", "message"), [
        ([[5, 5]] * 4, "two corners are at the same place"),
        ([[10, 10], [60, 10], [110, 10], [60, 50]], "not a convex quadrilateral"),  # three in a line
        ([[10, 20], [148, 120], [150, 25], [12, 118]], "not a convex quadrilateral"),
        ([[10, 10], [100, 10], [60, 30], [100, 60]], "not a convex quadrilateral"),
        ([[0, 0], [10, 0], [10, 10], [0, 10]], "it encloses 100 square pixels, under the 400"),
        ([[0, 0], [800, 0], [800, 3], [0, 3]], "a sliver"),
    ])
    def test_refused(self, tmp_path: Path, corners: list, message: str) -> None:
        path = tmp_path / "c.json"
        path.write_text(json.dumps({"corners": corners}))
        with pytest.raises(AnnotationError, match=rf"c\.json: corners .* are not a chart: {message}"):
            read_corners_json(path, image_size=(1000, 1000))
        with pytest.raises(AnnotationError, match=message):
            read_annotation(path, image_size=(1000, 1000))

    def test_mirrored_chart_is_accepted(self, tmp_path: Path) -> None:
        path = tmp_path / "c.json"
        path.write_text(json.dumps({"corners": CORNERS[::-1].tolist()}))  # counter-clockwise: seen from behind
        assert read_corners_json(path, image_size=(200, 200)).corners.shape == (4, 2)

    def test_nested_json_and_fifo(self, tmp_path: Path) -> None:
        import os

        deep = tmp_path / "deep.json"
        deep.write_text("[" * 100000 + "]" * 100000)
        with pytest.raises(AnnotationError, match=r"deep\.json: JSON nested too deeply"):
            read_corners_json(deep)
        fifo = tmp_path / "fifo.json"
        os.mkfifo(fifo)
        with pytest.raises(AnnotationError, match=r"fifo\.json: is a FIFO \(named pipe\), not an annotation file"):
            read_corners_json(fifo)

    def test_degenerate_patch_boxes(self, tmp_path: Path) -> None:
        """24 identical patch boxes (a NUS-style file) give no chart to fit."""
        path = tmp_path / "boxes.csv"
        path.write_text("".join(f"img.png,10,10,10,10,{label}\n" for label in range(24)))
        with pytest.raises(AnnotationError, match=r"boxes\.csv: the 24 patch centres do not span a chart"):
            read_patch_boxes_csv(path, "img.png")
