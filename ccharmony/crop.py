"""
Chart-free crops
================

Remove the colour checker from a real image by cropping:

-   :class:`CropBox`: a crop rectangle in full-frame pixels, recordable
    (``to_dict``/``from_dict``, the ``crops/<image>.json`` form) and
    applicable to arrays.
-   :func:`crop_excluding_chart`: the largest crop that keeps the full extent
    on one axis and lies on the side away from the chart.
-   :func:`infer_crop`: where a published ccHarmony mask of known size sits in
    the frame (the box itself was not published).

Rows are ``y``, columns are ``x``; sizes are ``(height, width)``.

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ccharmony._types import ArrayLike
from ccharmony.errors import AnnotationError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["CropBox", "crop_excluding_chart", "infer_crop"]


@dataclass(frozen=True)
class CropBox:
    """
    Describe a crop rectangle in full-frame pixels.

    Parameters
    ----------
    x, y
        Column and row of the top-left pixel.
    width, height
        Size in pixels (> 0).

    Examples
    --------
    >>> box = CropBox(x=2, y=0, width=3, height=2)
    >>> box.apply(np.arange(12).reshape(2, 6)).tolist()
    [[2, 3, 4], [8, 9, 10]]
    >>> CropBox.from_dict(box.to_dict()) == box
    True
    """

    x: int
    y: int
    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ("x", "y", "width", "height"):
            value = getattr(self, name)
            whole = (
                isinstance(value, (int, float, np.integer, np.floating))
                and not isinstance(value, (bool, np.bool_))
                and bool(np.isfinite(value))
                and float(value).is_integer()
            )
            if not whole:
                raise AnnotationError(f"crop box: {name} must be an integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.x < 0 or self.y < 0 or self.width <= 0 or self.height <= 0:
            raise AnnotationError(
                f"crop box: needs x, y >= 0 and width, height > 0, got {self.to_dict()}"
            )

    @property
    def size(self) -> tuple[int, int]:
        """Return ``(height, width)``."""
        return (self.height, self.width)

    def to_dict(self) -> dict[str, int]:
        """Return ``{"x", "y", "width", "height"}`` (the ``crops/<image>.json`` form)."""
        return {"x": self.x, "y": self.y, "width": self.width, "height": self.height}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any], *, name: str = "crop box") -> CropBox:
        """
        Build a box from ``{"x", "y", "width", "height"}``.

        Raises
        ------
        AnnotationError
            A key is missing or a value is not a non-negative integer; the
            message starts with ``name`` (pass the file name).
        """
        try:
            return cls(*(record[key] for key in ("x", "y", "width", "height")))
        except KeyError as error:
            raise AnnotationError(f"{name}: missing key {error}, expected x, y, width, height") from None
        except (TypeError, ValueError) as error:
            raise AnnotationError(f"{name}: {error}") from None
        except AnnotationError as error:
            # The box's own message starts with "crop box: "; say it once, with the file's name.
            message = str(error).removeprefix("crop box: ")
            raise AnnotationError(f"{name}: {message}") from None

    def fits(self, frame_size: tuple[int, int]) -> bool:
        """Return whether the box lies inside a ``(height, width)`` frame."""
        return self.y + self.height <= frame_size[0] and self.x + self.width <= frame_size[1]

    def apply(self, image: np.ndarray) -> np.ndarray:
        """
        Return the crop of an ``(H, W, ...)`` array (a view, rows then columns).

        Raises
        ------
        AnnotationError
            The box does not fit in the array.
        """
        if not self.fits(image.shape[:2]):
            raise AnnotationError(
                f"crop box {self.to_dict()} does not fit in an image of size {image.shape[:2]}"
            )
        return image[self.y : self.y + self.height, self.x : self.x + self.width]


def _chart_bounds(chart_corners: ArrayLike, name: str) -> np.ndarray:
    corners = np.asarray(chart_corners, dtype=np.float64)
    if corners.ndim != 2 or corners.shape[1] != 2 or corners.shape[0] < 1 or not np.all(np.isfinite(corners)):
        raise AnnotationError(f"{name}: chart corners must be finite (x, y) pairs, got shape {corners.shape}")
    return np.array([corners[:, 0].min(), corners[:, 1].min(), corners[:, 0].max(), corners[:, 1].max()])


def _check_size(size: tuple[int, int], what: str) -> tuple[int, int]:
    if len(size) != 2 or min(int(size[0]), int(size[1])) <= 0:
        raise AnnotationError(f"{what} must be a positive (height, width), got {size!r}")
    return int(size[0]), int(size[1])


def crop_excluding_chart(
    frame_size: tuple[int, int],
    chart_corners: ArrayLike,
    *,
    margin: float = 0.01,
) -> CropBox:
    """
    Return the largest crop that excludes the chart and keeps one full axis.

    Parameters
    ----------
    frame_size
        ``(height, width)`` of the full frame in pixels.
    chart_corners
        ``(4, 2)`` chart corners ``(x, y)`` in full-frame pixels (any order).
    margin
        Gap kept between the crop and the chart's bounding box: a fraction of
        the frame's longer side when < 1, else pixels.

    Returns
    -------
    CropBox
        Of the four candidates (full height left or right of the chart, full
        width above or below it), the one with the largest area; ties go to
        the first of left, right, top, bottom.

    Raises
    ------
    AnnotationError
        The chart leaves no room on any side.

    Notes
    -----
    Domain: pixels. The chart's bounding box is grown by ``margin`` and
    clamped to the frame before the candidates are measured.

    References
    ----------
    :cite:`Niu2023`

    Examples
    --------
    >>> crop_excluding_chart((100, 200), [[150, 60], [190, 60], [190, 90], [150, 90]], margin=0)
    CropBox(x=0, y=0, width=150, height=100)
    """
    height, width = _check_size(frame_size, "frame_size")
    x0, y0, x1, y1 = _chart_bounds(chart_corners, "chart_corners")
    pad = margin * max(height, width) if margin < 1 else float(margin)
    left = int(np.floor(max(0.0, x0 - pad)))
    top = int(np.floor(max(0.0, y0 - pad)))
    right = int(np.ceil(min(float(width), x1 + pad)))
    bottom = int(np.ceil(min(float(height), y1 + pad)))
    candidates = [
        (left * height, (0, 0, left, height)),
        ((width - right) * height, (right, 0, width - right, height)),
        (top * width, (0, 0, width, top)),
        ((height - bottom) * width, (0, bottom, width, height - bottom)),
    ]
    area, box = max(candidates, key=lambda item: item[0])
    if area <= 0:
        raise AnnotationError(
            f"chart_corners: the chart (x {x0:.0f}..{x1:.0f}, y {y0:.0f}..{y1:.0f}) leaves no room "
            f"for a crop in a {height}x{width} frame"
        )
    return CropBox(*box)


def _overlap(box: tuple[int, int, int, int], bounds: np.ndarray) -> float:
    x, y, w, h = box
    dx = max(0.0, min(x + w, bounds[2]) - max(x, bounds[0]))
    dy = max(0.0, min(y + h, bounds[3]) - max(y, bounds[1]))
    return dx * dy


def infer_crop(
    frame_size: tuple[int, int],
    mask_size: tuple[int, int],
    chart_corners: ArrayLike,
    *,
    mask_name: str = "mask",
) -> CropBox:
    """
    Infer where a cropped real image (of a published mask's size) lies in the frame.

    Parameters
    ----------
    frame_size
        ``(height, width)`` of the full frame, in the same pixels as the mask.
    mask_size
        ``(height, width)`` of the published mask (= cropped real image).
    chart_corners
        ``(4, 2)`` chart corners ``(x, y)`` in full-frame pixels.
    mask_name
        Named in error messages (pass the mask file).

    Returns
    -------
    CropBox
        ``width, height`` = the mask's. On an axis where the mask spans the
        frame the offset is 0; on a shorter axis the box is pushed to the
        frame edge on the side away from the chart. Among the (up to four)
        edge-aligned placements the one overlapping the chart's bounding box
        least is chosen, ties going to the one whose centre is farthest from
        the chart's centre.

    Raises
    ------
    AnnotationError
        The mask is larger than the frame on either axis.

    Notes
    -----
    Domain: pixels. The published crops keep one full axis (a few masks are
    a pixel short of it, which this handles as a 1-pixel crop at the edge away
    from the chart); the rule above also covers masks cropped on both axes.

    References
    ----------
    :cite:`Niu2023`

    Examples
    --------
    >>> infer_crop((100, 200), (100, 120), [[10, 60], [50, 60], [50, 90], [10, 90]])
    CropBox(x=80, y=0, width=120, height=100)
    """
    height, width = _check_size(frame_size, "frame_size")
    mask_height, mask_width = _check_size(mask_size, f"{mask_name}: mask size")
    if mask_height > height or mask_width > width:
        raise AnnotationError(
            f"{mask_name}: mask is {mask_width}x{mask_height} pixels (width x height), larger than the "
            f"{width}x{height} frame on one axis; the mask must be at the cropped real image's resolution"
        )
    bounds = _chart_bounds(chart_corners, f"{mask_name}: chart_corners")
    centre = np.array([(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2])
    placements = [
        (x, y, mask_width, mask_height)
        for x in sorted({0, width - mask_width})
        for y in sorted({0, height - mask_height})
    ]

    def key(box: tuple[int, int, int, int]) -> tuple[float, float]:
        x, y, w, h = box
        distance = float(np.hypot(x + w / 2 - centre[0], y + h / 2 - centre[1]))
        return (_overlap(box, bounds), -distance)

    return CropBox(*min(placements, key=key))
