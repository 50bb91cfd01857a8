"""Tests of :mod:`ccharmony.crop`."""

from __future__ import annotations

import numpy as np
import pytest

from ccharmony.crop import CropBox, crop_excluding_chart, infer_crop
from ccharmony.errors import AnnotationError


def _square(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


class TestCropExcludingChart:
    def test_chart_on_right(self) -> None:
        box = crop_excluding_chart((400, 600), _square(500, 250, 580, 350), margin=10)
        assert box == CropBox(0, 0, 490, 400)

    def test_chart_at_bottom_of_portrait(self) -> None:
        box = crop_excluding_chart((600, 400), _square(50, 520, 350, 590), margin=0.0)
        assert box == CropBox(0, 0, 400, 520)

    def test_chart_on_left(self) -> None:
        box = crop_excluding_chart((400, 600), _square(20, 100, 100, 200), margin=0)
        assert box == CropBox(100, 0, 500, 400)

    def test_no_room(self) -> None:
        with pytest.raises(AnnotationError, match=r"leaves no room for a crop in a 100x100 frame"):
            crop_excluding_chart((100, 100), _square(0, 0, 100, 100), margin=0)

    def test_excludes_chart_pixels(self) -> None:
        frame = np.zeros((300, 500), np.uint8)
        frame[200:260, 40:140] = 1
        box = crop_excluding_chart(frame.shape, _square(40, 200, 140, 260), margin=0.01)
        assert box.apply(frame).sum() == 0 and box == CropBox(145, 0, 355, 300)


class TestInferCrop:
    def test_full_height_chart_left(self) -> None:
        box = infer_crop((3744, 5616), (3744, 4262), _square(300, 2000, 1200, 2600))
        assert box == CropBox(5616 - 4262, 0, 4262, 3744)

    def test_full_height_chart_right(self) -> None:
        box = infer_crop((3744, 5616), (3744, 4262), _square(4800, 2000, 5500, 2600))
        assert box == CropBox(0, 0, 4262, 3744)

    def test_full_width_chart_top(self) -> None:
        box = infer_crop((5616, 3744), (2828, 3744), _square(100, 200, 900, 800))
        assert box == CropBox(0, 5616 - 2828, 3744, 2828)

    def test_one_pixel_short_and_both_axes(self) -> None:
        # a published mask is one row short of the frame: crop away from the chart
        box = infer_crop((5616, 3744), (5615, 1760), _square(3000, 100, 3600, 700))
        assert box == CropBox(0, 5616 - 5615, 1760, 5615)

    def test_same_size(self) -> None:
        assert infer_crop((10, 20), (10, 20), _square(0, 0, 5, 5)) == CropBox(0, 0, 20, 10)

    def test_mask_bigger(self) -> None:
        # width x height, as image tools print sizes: the mask is 50 wide and 120 high
        with pytest.raises(AnnotationError, match=r"^a_b\.png: mask is 50x120 pixels \(width x height\), "
                                                  r"larger than the 200x100 frame"):
            infer_crop((100, 200), (120, 50), _square(0, 0, 5, 5), mask_name="a_b.png")


class TestCropBox:
    @pytest.mark.parametrize(("record", "message"), [
        ({"x": -1, "y": 0, "width": 3, "height": 4}, r"^c\.json: needs x, y >= 0 and width, height > 0"),
        ({"x": "a", "y": 0, "width": 3, "height": 4}, r"^c\.json: x must be an integer, got 'a'$"),
        ({"x": 1.5, "y": 0, "width": 3, "height": 4}, r"^c\.json: x must be an integer, got 1\.5$"),
        ({"x": float("nan"), "y": 0, "width": 3, "height": 4}, r"^c\.json: x must be an integer, got nan$"),
        ({"x": 0, "y": 0, "width": 3}, r"^c\.json: missing key 'height'"),
    ])
    def test_from_dict_names_the_file_once(self, record: dict, message: str) -> None:
        with pytest.raises(AnnotationError, match=message) as info:
            CropBox.from_dict(record, name="c.json")
        assert "crop box: crop box" not in str(info.value) and str(info.value).count("c.json") == 1

    def test_round_trip_and_apply(self) -> None:
        box = CropBox(1, 2, 3, 4)
        assert CropBox.from_dict(box.to_dict()) == box
        image = np.arange(8 * 6 * 3).reshape(8, 6, 3)
        assert np.array_equal(box.apply(image), image[2:6, 1:4])
        assert box.size == (4, 3)

    def test_errors(self) -> None:
        with pytest.raises(AnnotationError, match=r"c\.json: missing key 'height'"):
            CropBox.from_dict({"x": 0, "y": 0, "width": 3}, name="c.json")
        with pytest.raises(AnnotationError, match=r"width, height > 0"):
            CropBox(0, 0, 0, 5)
        with pytest.raises(AnnotationError, match=r"must be an integer, got 1.5"):
            CropBox(1.5, 0, 1, 1)  # type: ignore[arg-type]
        with pytest.raises(AnnotationError, match=r"does not fit in an image of size \(4, 4\)"):
            CropBox(2, 2, 3, 3).apply(np.zeros((4, 4)))
