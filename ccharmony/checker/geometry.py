"""
Chart geometry
==============

Define the geometry of the ColorChecker Classic (and Classic Mini, which has
the same layout) and the maps between chart and image coordinates:

-   :data:`CHART_PATCH_QUADS`: the 24 patch squares in normalised chart
    coordinates (the outer frame is the unit square).
-   :func:`chart_homography`: the homography from chart to image coordinates
    given the four outer corners.
-   :func:`patch_quads_from_corners`: the 24 patch quadrilaterals in image pixels.
-   :func:`corners_from_patch_centres`: the outer corners fitted to the 24 patch
    centres (least squares homography).
-   :func:`order_corners_clockwise`: sort four points clockwise (image
    coordinates, ``y`` down) starting from a given point.
-   :func:`check_quadrilateral`: refuse four corners that cannot be a chart
    (coincident, in a line, crossing, concave, tiny or a sliver).

Chart coordinates: ``(u, v)`` in [0, 1], ``u`` along the chart's long side
from the corner next to dark skin towards the corner next to bluish green,
``v`` from the top row (dark skin) towards the neutral row. The margins and
pitch were measured from the 592 hand annotations of Gehler et al. (median
over every 20th file, spread below 0.01 chart widths).

References
----------
:cite:`Gehler2008` : Gehler, P. V., Rother, C., Blake, A., Minka, T., & Sharp,
    T. (2008). Bayesian color constancy revisited. CVPR 2008.
    doi:10.1109/CVPR.2008.4587765
:cite:`McCamy1976` : McCamy, C. S., Marcus, H., & Davidson, J. G. (1976). A
    color-rendition chart. Journal of Applied Photographic Engineering, 2(3),
    95-99.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "CHART_MARGIN",
    "CHART_PITCH",
    "CHART_PATCH_SIZE",
    "CHART_PATCH_QUADS",
    "CHART_PATCH_CENTRES",
    "CHART_CORNERS",
    "chart_homography",
    "apply_homography",
    "patch_quads_from_corners",
    "corners_from_patch_centres",
    "order_corners_clockwise",
    "check_quadrilateral",
    "MIN_CHART_AREA",
    "MIN_SIDE_RATIO",
]

CHART_MARGIN = (0.0610, 0.0886)
"""Distance ``(u, v)`` from the outer frame to the first patch's edge."""
CHART_PITCH = (0.15648, 0.22097)
"""Patch-to-patch distance ``(u, v)``."""
CHART_PATCH_SIZE = (0.0955, 0.1338)
"""Patch side ``(u, v)``."""
CHART_CORNERS = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]], np.float64)
"""Outer corners in chart coordinates, §4 order (dark skin, bluish green, black, white)."""


def _chart_patch_quads() -> NDArray[np.float64]:
    quads = np.empty((24, 4, 2), np.float64)
    for index in range(24):
        row, column = divmod(index, 6)
        u0 = CHART_MARGIN[0] + column * CHART_PITCH[0]
        v0 = CHART_MARGIN[1] + row * CHART_PITCH[1]
        u1, v1 = u0 + CHART_PATCH_SIZE[0], v0 + CHART_PATCH_SIZE[1]
        quads[index] = [[u0, v0], [u1, v0], [u1, v1], [u0, v1]]
    return quads


CHART_PATCH_QUADS = _chart_patch_quads()
"""``(24, 4, 2)`` patch squares in chart coordinates, code order, clockwise from top-left."""
CHART_PATCH_CENTRES = CHART_PATCH_QUADS.mean(axis=1)
"""``(24, 2)`` patch centres in chart coordinates, code order."""


def chart_homography(corners: ArrayLike) -> NDArray[np.float64]:
    """
    Return the homography from chart coordinates to image pixels.

    Parameters
    ----------
    corners
        ``(4, 2)`` outer corners ``(x, y)`` in image pixels, §4 order.

    Returns
    -------
    NDArray
        ``(3, 3)`` float64 matrix ``H`` with ``[x, y, 1] ~ H [u, v, 1]``.

    Notes
    -----
    Domain: ``corners`` image pixels. Range: projective matrix, ``H[2, 2] = 1``.

    Examples
    --------
    >>> H = chart_homography([[0, 0], [140, 0], [140, 100], [0, 100]])
    >>> apply_homography(H, [[0.5, 0.5]]).tolist()
    [[70.0, 50.0]]
    """
    source = CHART_CORNERS.astype(np.float32)
    target = np.asarray(corners, np.float32).reshape(4, 2)
    return cv2.getPerspectiveTransform(source, target).astype(np.float64)


def apply_homography(H: ArrayLike, points: ArrayLike) -> NDArray[np.float64]:
    """
    Map points ``(..., 2)`` through the homography ``H``.

    Parameters
    ----------
    H
        ``(3, 3)`` projective matrix.
    points
        ``(..., 2)`` points ``(x, y)``.

    Returns
    -------
    NDArray
        ``(..., 2)`` float64 mapped points.

    Notes
    -----
    Domain/Range: any consistent coordinates.

    Examples
    --------
    >>> apply_homography(np.eye(3), [[1.0, 2.0]]).tolist()
    [[1.0, 2.0]]
    """
    H = np.asarray(H, np.float64)
    points = np.asarray(points, np.float64)
    flat = points.reshape(-1, 2)
    projected = flat @ H[:, :2].T + H[:, 2]
    mapped = projected[:, :2] / projected[:, 2:3]
    return mapped.reshape(points.shape)


def patch_quads_from_corners(corners: ArrayLike) -> NDArray[np.float64]:
    """
    Return the 24 patch quadrilaterals of the chart with these outer corners.

    Parameters
    ----------
    corners
        ``(4, 2)`` outer corners ``(x, y)`` in image pixels, §4 order.

    Returns
    -------
    NDArray
        ``(24, 4, 2)`` float64 patch corners in image pixels, code order, each
        clockwise from the chart's top-left.

    Notes
    -----
    Domain/Range: image pixels.

    Examples
    --------
    >>> quads = patch_quads_from_corners([[0, 0], [140, 0], [140, 100], [0, 100]])
    >>> quads.shape, quads[0, 0].round(2).tolist()
    ((24, 4, 2), [8.54, 8.86])
    """
    return apply_homography(chart_homography(corners), CHART_PATCH_QUADS)


def corners_from_patch_centres(centres: ArrayLike) -> NDArray[np.float64]:
    """
    Fit the outer corners to 24 patch centres given in code order.

    Parameters
    ----------
    centres
        ``(24, 2)`` patch centres ``(x, y)`` in image pixels, code order.

    Returns
    -------
    NDArray
        ``(4, 2)`` float64 outer corners in image pixels, §4 order.

    Notes
    -----
    Domain/Range: image pixels. Least-squares homography over all 24 centres.

    Examples
    --------
    >>> from ccharmony.checker.geometry import CHART_PATCH_CENTRES
    >>> corners = corners_from_patch_centres(CHART_PATCH_CENTRES * [140, 100])
    >>> bool(np.allclose(corners, [[0, 0], [140, 0], [140, 100], [0, 100]], atol=1e-3))
    True
    """
    centres = np.asarray(centres, np.float64).reshape(24, 2)
    H, _ = cv2.findHomography(CHART_PATCH_CENTRES, centres, 0)
    if H is None or not np.all(np.isfinite(H)):
        raise ValueError("the 24 patch centres do not span a chart (they coincide or lie on a line)")
    return apply_homography(H, CHART_CORNERS)


def order_corners_clockwise(points: ArrayLike) -> NDArray[np.float64]:
    """
    Sort four points clockwise on screen (image ``y`` pointing down).

    Parameters
    ----------
    points
        ``(4, 2)`` points ``(x, y)``.

    Returns
    -------
    NDArray
        ``(4, 2)`` float64, the same points clockwise, starting with the first
        given point.

    Notes
    -----
    Domain/Range: image pixels. A chart seen from its front (never mirrored)
    has its §4 corners clockwise on screen.

    Examples
    --------
    >>> order_corners_clockwise([[0, 0], [0, 1], [1, 1], [1, 0]]).tolist()
    [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
    """
    points = np.asarray(points, np.float64).reshape(4, 2)
    centre = points.mean(axis=0)
    angles = np.arctan2(points[:, 1] - centre[1], points[:, 0] - centre[0])
    order = np.argsort(angles)
    start = int(np.flatnonzero(order == 0)[0])
    return points[np.roll(order, -start)]


MIN_CHART_AREA = 400.0
"""Smallest chart area accepted from an annotation, in square pixels: 24 patches
of about 3 x 3 pixels each once the chart's margins and gaps are taken away."""

MIN_SIDE_RATIO = 0.1
"""Shortest side of an annotated chart over its longest: below this the four
corners are a sliver, not a chart seen in perspective."""


def check_quadrilateral(corners: ArrayLike) -> None:
    """
    Raise unless four corners can outline a ColorChecker.

    Parameters
    ----------
    corners
        ``(4, 2)`` outer corners ``(x, y)`` in going-round order (§4: next to
        dark skin, bluish green, black, white), either orientation (a chart
        seen from the back is mirrored).

    Raises
    ------
    ValueError
        One sentence saying what is wrong: not 4 finite points, two corners
        at the same place, three in a line or sides that cross (not a convex
        quadrilateral in going-round order), an area under
        :data:`MIN_CHART_AREA`, or a side under :data:`MIN_SIDE_RATIO` of the
        longest.

    Notes
    -----
    Domain: pixels. A chart photographed in perspective is still a convex
    quadrilateral; four identical corners would give 24 identical patches
    whose "colours" are one pixel.

    Examples
    --------
    >>> check_quadrilateral([[0, 0], [140, 0], [140, 100], [0, 100]])
    >>> check_quadrilateral([[5, 5]] * 4)
    Traceback (most recent call last):
    ...
    ValueError: corners [[5.0, 5.0], [5.0, 5.0], [5.0, 5.0], [5.0, 5.0]] are not a chart: two corners are at the same place
    >>> check_quadrilateral([[0, 0], [140, 100], [140, 0], [0, 100]])
    Traceback (most recent call last):
    ...
    ValueError: corners [[0.0, 0.0], [140.0, 100.0], [140.0, 0.0], [0.0, 100.0]] are not a chart: not a convex quadrilateral (sides cross, or corners are not in going-round order)
    """
    points = np.asarray(corners, np.float64)
    if points.shape != (4, 2) or not np.all(np.isfinite(points)):
        raise ValueError(f"corners must be 4 finite (x, y) points, got {np.asarray(corners).tolist()}")
    label = f"corners {np.round(points, 1).tolist()} are not a chart"
    edges = np.roll(points, -1, axis=0) - points
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    if lengths.min() < 1.0 or np.hypot(*(points[2] - points[0])) < 1.0 or np.hypot(*(points[3] - points[1])) < 1.0:
        raise ValueError(f"{label}: two corners are at the same place")
    cross = edges[:, 0] * np.roll(edges[:, 1], -1) - edges[:, 1] * np.roll(edges[:, 0], -1)
    tolerance = 1e-9 * float(lengths.max()) ** 2
    if not (np.all(cross > tolerance) or np.all(cross < -tolerance)):
        raise ValueError(f"{label}: not a convex quadrilateral (sides cross, or corners are not in going-round order)")
    area = 0.5 * abs(float(np.sum(points[:, 0] * np.roll(points[:, 1], -1) - np.roll(points[:, 0], -1) * points[:, 1])))
    if area < MIN_CHART_AREA:
        raise ValueError(f"{label}: it encloses {area:.0f} square pixels, under the {MIN_CHART_AREA:.0f} that "
                         "24 patches need")
    if lengths.min() < MIN_SIDE_RATIO * lengths.max():
        raise ValueError(f"{label}: a sliver (shortest side {lengths.min():.1f} px, longest {lengths.max():.1f} px)")
