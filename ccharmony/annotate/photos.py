"""
Photo views
===========

Define what ``ccharmony annotate`` shows of one photo, computed with the
dataset's own functions so that the annotator sees the pixels ``ccharmony
build`` will write:

-   :func:`chart_view`: the chart (annotated corners, else detection), its 24
    sampled patches as 8-bit swatches, an orientation check and the crop the
    build will cut.
-   :func:`render_full`: the whole frame rendered exactly as the dataset's
    real images (:func:`ccharmony.dataset.stages.render_parameters`, then
    :func:`ccharmony.render.render_srgb`; a crop of it is the real image).
-   :func:`render_overview`: the display copy, the same render applied to an
    area-averaged copy of the linear photo (at most :data:`OVERVIEW_SIDE`
    pixels on its longer side).
-   :func:`pyramid_level`, :func:`tile`: full-resolution tiles for zooming in.
-   :class:`ChartView`: the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ccharmony._types import NDArrayUInt8

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "OVERVIEW_SIDE",
    "THUMB_SIDE",
    "TILE_SIDE",
    "ChartView",
    "chart_view",
    "render_full",
    "render_overview",
    "encode_jpeg",
    "pyramid_level",
    "tile",
    "tile_levels",
    "default_corners",
]

OVERVIEW_SIDE = 2048
"""Longest side of the display copy sent first, in pixels."""

THUMB_SIDE = 256
"""Longest side of the list thumbnails."""

TILE_SIDE = 512
"""Side of a full-resolution tile, in pixels of its pyramid level."""


@dataclass(frozen=True)
class ChartView:
    """
    Describe the chart of one photo as the build will use it.

    Parameters
    ----------
    corners
        ``(4, 2)`` list, full-frame pixels, ARCHITECTURE.md section 4 order;
        ``None`` when no chart is known.
    patches
        ``(24, 4, 2)`` patch quadrilaterals (full-frame pixels) or ``None``.
    swatches
        ``(24, 3)`` 8-bit sRGB of the sampled patches (code order; clipped or
        outside the frame: ``None`` entries), rendered like the real image.
    clipped
        ``(24,)`` clipped flags.
    orientation
        ``"upright"``, ``"upside-down"`` (the chart read the other way round
        matches the ColorChecker better) or ``"unrecognised"`` (neither
        reading passes the checker's colour test).
    crop
        ``{"x", "y", "width", "height"}`` the build cuts (full-frame pixels),
        ``None`` when the chart leaves no room or is unknown.
    render
        :meth:`ccharmony.render.RenderParameters.to_dict` of the photo.
    problems
        One line each.
    """

    corners: list[list[float]] | None
    patches: list[list[list[float]]] | None
    swatches: list[list[int] | None] | None
    clipped: list[bool] | None
    orientation: str | None
    crop: dict[str, int] | None
    render: dict[str, Any]
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the JSON-ready record."""
        return {
            "corners": self.corners, "patches": self.patches, "swatches": self.swatches,
            "clipped": self.clipped, "orientation": self.orientation, "crop": self.crop,
            "render": self.render, "problems": list(self.problems),
        }


def default_corners(shape: tuple[int, int]) -> list[list[float]]:
    """
    Return a chart placed in the middle of the frame, a third of its width wide.

    Used as the starting point when no chart was found and the user places one.

    Examples
    --------
    >>> default_corners((300, 600))
    [[200.0, 83.33], [400.0, 83.33], [400.0, 216.67], [200.0, 216.67]]
    """
    height, width = shape
    chart_width = width / 3.0
    chart_height = min(chart_width / 1.5, height * 0.9)
    x0, y0 = (width - chart_width) / 2, (height - chart_height) / 2
    x1, y1 = x0 + chart_width, y0 + chart_height
    return [[round(x, 2), round(y, 2)] for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]


def chart_view(linear: Any, corners: Any, *, crop_margin: float) -> ChartView:
    """
    Sample and describe the chart at ``corners`` of a linear photo.

    Parameters
    ----------
    linear
        :class:`ccharmony.io.LinearImage`.
    corners
        ``(4, 2)`` corners (section 4 order) or ``None`` (no chart: the render
        exposure falls back to the photo's 99th percentile, as in the build).
    crop_margin
        The pipeline's ``crop_margin``
        (:func:`ccharmony.crop.crop_excluding_chart`).

    Returns
    -------
    ChartView

    Notes
    -----
    Domain: linear camera RGB; corners in full-frame pixels. The swatches are
    :func:`ccharmony.render.render_srgb` of the sampled means with the photo's
    render parameters, so a tungsten photo's chart looks orange, as its real
    image does.
    """
    from ccharmony.checker import checker_from_corners, sample
    from ccharmony.checker.orientation import orientation_score
    from ccharmony.crop import crop_excluding_chart
    from ccharmony.dataset.stages import render_parameters
    from ccharmony.errors import CCHarmonyError
    from ccharmony.render import render_srgb

    if corners is None:
        parameters = render_parameters(linear, None)
        return ChartView(None, None, None, None, None, None, parameters.to_dict(), ())
    checker = checker_from_corners(np.asarray(corners, np.float64))
    patches = sample(linear, checker)
    parameters = render_parameters(linear, patches)
    swatches: list[list[int] | None] = []
    for value in render_srgb(np.nan_to_num(patches.RGB, nan=0.0), camera_matrix=parameters).tolist():
        swatches.append([int(v) for v in value])
    for index in np.flatnonzero(~np.all(np.isfinite(patches.RGB), axis=1)):
        swatches[int(index)] = None
    problems: list[str] = []
    RGB = np.asarray(patches.RGB, np.float64)
    orientation = "unrecognised"
    if np.all(np.isfinite(RGB)):
        forward, backward = orientation_score(RGB), orientation_score(RGB[::-1])
        if forward.accepted and (not backward.accepted or forward.score >= backward.score):
            orientation = "upright"
        elif backward.accepted:
            orientation = "upside-down"
    if orientation == "upside-down":
        problems.append("the chart reads better the other way round: rotate its corners by two (key O twice)")
    elif orientation == "unrecognised":
        problems.append("the sampled colours do not look like a ColorChecker: check the corners")
    crop = None
    try:
        crop = crop_excluding_chart(linear.shape, checker.corners, margin=crop_margin).to_dict()
    except CCHarmonyError as error:
        problems.append(str(error))
    return ChartView(
        corners=np.round(checker.corners, 3).tolist(),
        patches=np.round(checker.patches, 2).tolist(),
        swatches=swatches,
        clipped=[bool(v) for v in patches.clipped],
        orientation=orientation,
        crop=crop,
        render=parameters.to_dict(),
        problems=tuple(problems),
    )


def _parameters(render: dict[str, Any]):  # noqa: ANN202
    from ccharmony.render import RenderParameters

    return RenderParameters.from_dict(render)


def render_full(linear: Any, render: dict[str, Any]) -> NDArrayUInt8:
    """
    Render the whole frame as the dataset renders its real images; return BGR.

    Parameters
    ----------
    linear
        :class:`ccharmony.io.LinearImage`.
    render
        The photo's render parameters (:attr:`ChartView.render`).

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` uint8, BGR (OpenCV order); the build's real image is the
        crop of its RGB reversal.
    """
    from ccharmony.render import render_srgb

    rgb = render_srgb(linear.RGB, camera_matrix=_parameters(render))
    return np.ascontiguousarray(rgb[..., ::-1])


def render_overview(linear: Any, render: dict[str, Any], *, max_side: int = OVERVIEW_SIDE) -> NDArrayUInt8:
    """
    Render an area-averaged copy of the photo for display; return BGR.

    The same render (:func:`ccharmony.render.render_srgb` with the photo's
    parameters) on :func:`ccharmony.checker.detect.reduce_image`'s copy: a
    24-megapixel photo is shown in about a tenth of the time its full render
    takes (``benchmarks/annotate_open.py``).
    """
    from ccharmony.checker.detect import reduce_image
    from ccharmony.render import render_srgb

    reduced, _ = reduce_image(linear.RGB, max_side)
    rgb = render_srgb(reduced, camera_matrix=_parameters(render))
    return np.ascontiguousarray(rgb[..., ::-1])


def encode_jpeg(bgr: np.ndarray, *, quality: int = 90) -> bytes:
    """Encode a BGR uint8 image as a baseline JPEG (display only, never a dataset file)."""
    ok, buffer = cv2.imencode(".jpg", np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV fails only on invalid arrays
        raise ValueError(f"cannot encode a {bgr.shape} image as JPEG")
    return buffer.tobytes()


def tile_levels(shape: tuple[int, int], *, overview_side: int = OVERVIEW_SIDE) -> int:
    """
    Return how many full-resolution pyramid levels a frame has (level ``l`` is ``2**-l`` scale).

    Levels are kept while they are larger than the overview; a frame no larger
    than the overview has one level (itself).

    Examples
    --------
    >>> tile_levels((4000, 6000)), tile_levels((320, 480))
    (2, 1)
    """
    longest = max(shape)
    count = 1
    while longest / 2 ** count > overview_side:
        count += 1
    return count


def pyramid_level(previous: np.ndarray) -> np.ndarray:
    """Return the next pyramid level: half size, area-averaged."""
    height, width = previous.shape[:2]
    return cv2.resize(previous, (max(1, (width + 1) // 2), max(1, (height + 1) // 2)), interpolation=cv2.INTER_AREA)


def tile(level: np.ndarray, column: int, row: int, *, side: int = TILE_SIDE) -> np.ndarray | None:
    """Return the ``(column, row)`` tile of a pyramid level, ``None`` outside it."""
    height, width = level.shape[:2]
    x0, y0 = column * side, row * side
    if column < 0 or row < 0 or x0 >= width or y0 >= height:
        return None
    return level[y0 : y0 + side, x0 : x0 + side]
