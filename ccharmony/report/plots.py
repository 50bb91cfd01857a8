"""
Report plots
============

Draw the report's plots as self-contained SVG text (no plotting library, no
fonts or scripts fetched from anywhere):

-   :func:`rb_chromaticity`: camera-RGB illuminants to ``(r, b)`` chromaticity.
-   :func:`svg_illuminant_chromaticities`: one point per image, one line per
    (source image, target image) pair of the composites.
-   :func:`svg_histogram`: a histogram, stacked by group (e.g. split).

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape

import numpy as np

from ccharmony._types import ArrayLike, NDArray

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["PALETTE", "rb_chromaticity", "svg_illuminant_chromaticities", "svg_histogram", "nice_ticks"]

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac")
"""Categorical colours (Tableau 10), one per camera or split, cycled."""

_WIDTH, _HEIGHT = 560, 380
_MARGIN = {"left": 58, "right": 16, "top": 34, "bottom": 46}


def rb_chromaticity(RGB: ArrayLike) -> NDArray[np.float64]:
    """
    Return the ``(r, b)`` chromaticity of camera-RGB triplets.

    Parameters
    ----------
    RGB
        Camera RGB, shape ``(..., 3)``.

    Returns
    -------
    ndarray
        ``(..., 2)``: ``r = R / (R + G + B)`` and ``b = B / (R + G + B)``.

    Notes
    -----
    Domain: ``RGB`` linear camera RGB at any scale (unit vectors in the
    dataset); the chromaticity does not depend on the scale.
    Range: [0, 1] for non-negative input; NaN where ``R + G + B <= 0`` or the
    input is not finite. Red-blue chromaticity spreads illuminants along the
    daylight locus, the direction in which they differ most; cameras have
    different RGB spaces, so points of two cameras are not comparable.

    References
    ----------
    :cite:`Niu2023`

    Examples
    --------
    >>> rb_chromaticity([0.5, 0.7, 0.5])
    array([0.294..., 0.294...])
    >>> rb_chromaticity([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    array([[0.333..., 0.333...],
           [  nan,   nan]])
    """
    RGB = np.asarray(RGB, dtype=np.float64)
    total = RGB.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        chromaticity = RGB[..., [0, 2]] / total
    invalid = ~(np.isfinite(chromaticity).all(axis=-1, keepdims=True)) | (total <= 0)
    return np.where(invalid, np.nan, chromaticity)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """
    Return round tick values covering ``[low, high]``.

    Examples
    --------
    >>> nice_ticks(0.0, 1.0)
    [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
    >>> nice_ticks(3.0, 3.0)
    [2.0, 2.5, 3.0, 3.5, 4.0]
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        low, high = low - 1.0, high + 1.0
    raw = (high - low) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((s * magnitude for s in (1, 2, 2.5, 5, 10) if s * magnitude >= raw), default=10 * magnitude)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return [i * step for i in range(first, last + 1)]


def _format(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


class _Frame:
    """Map data coordinates to the SVG plot area."""

    def __init__(self, x_ticks: Sequence[float], y_ticks: Sequence[float]) -> None:
        self.x0, self.x1 = x_ticks[0], x_ticks[-1]
        self.y0, self.y1 = y_ticks[0], y_ticks[-1]
        self.left = _MARGIN["left"]
        self.right = _WIDTH - _MARGIN["right"]
        self.top = _MARGIN["top"]
        self.bottom = _HEIGHT - _MARGIN["bottom"]

    def x(self, value: float) -> float:
        return self.left + (value - self.x0) / ((self.x1 - self.x0) or 1) * (self.right - self.left)

    def y(self, value: float) -> float:
        return self.bottom - (value - self.y0) / ((self.y1 - self.y0) or 1) * (self.bottom - self.top)


def _axes(frame: _Frame, x_ticks: Sequence[float], y_ticks: Sequence[float], *, title: str, x_label: str,
          y_label: str) -> list[str]:
    parts = [f'<rect x="{frame.left}" y="{frame.top}" width="{frame.right - frame.left}" '
             f'height="{frame.bottom - frame.top}" fill="#fff" stroke="#999"/>']
    for tick in x_ticks:
        x = frame.x(tick)
        parts.append(f'<line x1="{x:.1f}" y1="{frame.top}" x2="{x:.1f}" y2="{frame.bottom}" stroke="#eee"/>'
                     f'<text x="{x:.1f}" y="{frame.bottom + 16}" text-anchor="middle">{_format(tick)}</text>')
    for tick in y_ticks:
        y = frame.y(tick)
        parts.append(f'<line x1="{frame.left}" y1="{y:.1f}" x2="{frame.right}" y2="{y:.1f}" stroke="#eee"/>'
                     f'<text x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end">{_format(tick)}</text>')
    parts.append(f'<text x="{(frame.left + frame.right) / 2}" y="{_HEIGHT - 10}" '
                 f'text-anchor="middle">{escape(x_label)}</text>')
    parts.append(f'<text transform="translate(14 {(frame.top + frame.bottom) / 2}) rotate(-90)" '
                 f'text-anchor="middle">{escape(y_label)}</text>')
    parts.append(f'<text x="{frame.left}" y="20" font-weight="bold">{escape(title)}</text>')
    return parts


def _svg(parts: Iterable[str], label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {_HEIGHT}" width="{_WIDTH}" '
            f'height="{_HEIGHT}" role="img" aria-label="{escape(label)}" font-family="sans-serif" '
            f'font-size="11">' + "".join(parts) + "</svg>\n")


def _empty(title: str, message: str) -> str:
    return _svg([f'<text x="20" y="24" font-weight="bold">{escape(title)}</text>',
                 f'<text x="20" y="60">{escape(message)}</text>'], title)


def svg_illuminant_chromaticities(
    illuminants: Mapping[str, ArrayLike],
    pairs: Iterable[tuple[str, str]],
    *,
    cameras: Mapping[str, str] | None = None,
    title: str = "Illuminant chromaticities",
) -> str:
    """
    Plot one point per image and one line per composite's image pair.

    Parameters
    ----------
    illuminants
        Image id to its illuminant (camera RGB, 3 values).
    pairs
        ``(source image, target image)`` of each composite; repeated pairs
        are drawn once.
    cameras
        Image id to camera name; points are coloured by camera. Images used
        as a source are filled, images used only as a target are hollow.
    title
        Plot title.

    Returns
    -------
    str
        An SVG document.

    Notes
    -----
    Domain: illuminants in linear camera RGB (unit vectors), see
    :func:`rb_chromaticity`. Images whose illuminant is not finite are
    left out. Axes are ``r`` (x) and ``b`` (y) chromaticity.

    References
    ----------
    :cite:`Niu2023`

    Examples
    --------
    >>> svg = svg_illuminant_chromaticities({"a": [0.6, 0.7, 0.4], "b": [0.4, 0.7, 0.6]}, [("a", "b")])
    >>> svg.count('class="point"'), svg.count('class="pair"')
    (2, 1)
    """
    cameras = dict(cameras or {})
    points = {image: rb_chromaticity(RGB) for image, RGB in illuminants.items()}
    points = {image: point for image, point in points.items() if np.isfinite(point).all()}
    if not points:
        return _empty(title, "No illuminant metadata in this dataset.")
    unique_pairs = sorted({(s, t) for s, t in pairs if s in points and t in points and s != t})
    sources = {s for s, _ in unique_pairs}
    xy = np.array(list(points.values()))
    pad = max(0.01, 0.05 * float(np.ptp(xy[:, 0]) + np.ptp(xy[:, 1])))
    x_ticks = nice_ticks(float(xy[:, 0].min()) - pad, float(xy[:, 0].max()) + pad)
    y_ticks = nice_ticks(float(xy[:, 1].min()) - pad, float(xy[:, 1].max()) + pad)
    frame = _Frame(x_ticks, y_ticks)
    parts = _axes(frame, x_ticks, y_ticks, title=title, x_label="r = R / (R + G + B)",
                  y_label="b = B / (R + G + B)")
    parts.append('<g stroke="#555" stroke-opacity="0.25" stroke-width="0.8">')
    for source, target in unique_pairs:
        (x1, y1), (x2, y2) = points[source], points[target]
        parts.append(f'<line class="pair" x1="{frame.x(x1):.1f}" y1="{frame.y(y1):.1f}" '
                     f'x2="{frame.x(x2):.1f}" y2="{frame.y(y2):.1f}"/>')
    parts.append("</g>")
    camera_names = sorted({cameras.get(image, "unknown") for image in points})
    colour = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(camera_names)}
    for image, (x, y) in sorted(points.items()):
        camera = cameras.get(image, "unknown")
        fill = colour[camera] if image in sources or not unique_pairs else "#fff"
        parts.append(f'<circle class="point" cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="3.2" fill="{fill}" '
                     f'stroke="{colour[camera]}" stroke-width="1.3"><title>{escape(image)} '
                     f'({escape(camera)}): r={x:.4f} b={y:.4f}</title></circle>')
    # Legend in the lower-left corner: illuminants spread from upper left to lower right.
    for i, name in enumerate(camera_names):
        y = frame.bottom - 10 - 15 * (len(camera_names) - 1 - i)
        label = name if len(name) <= 44 else name[:43] + "…"
        parts.append(f'<circle cx="{frame.left + 12}" cy="{y - 4}" r="4" fill="{colour[name]}"/>'
                     f'<text x="{frame.left + 22}" y="{y}">{escape(label)}</text>')
    label = f"{title}: {len(points)} images, {len(unique_pairs)} image pairs"
    parts.append(f'<text x="{frame.right}" y="20" text-anchor="end" fill="#555">{len(points)} images, '
                 f'{len(unique_pairs)} pairs</text>')
    return _svg(parts, label)


def svg_histogram(
    values: ArrayLike,
    *,
    groups: Sequence[str] | None = None,
    bins: int = 20,
    value_range: tuple[float, float] | None = None,
    title: str = "Histogram",
    x_label: str = "",
) -> str:
    """
    Plot a histogram of ``values``, stacked by ``groups``.

    Parameters
    ----------
    values
        Values, shape ``(n,)``; NaN and infinities are left out.
    groups
        Group label of each value (e.g. the split); one colour per group.
    bins
        Number of equal-width bins.
    value_range
        ``(low, high)`` of the bins; default: the finite values' range.
    title, x_label
        Plot title and x-axis label (give the unit).

    Returns
    -------
    str
        An SVG document.

    Notes
    -----
    Domain: any real values (degrees for angles, [0, 1] for ratios).
    Range: counts per bin (the y axis).

    Examples
    --------
    >>> svg = svg_histogram([1.0, 2.0, 2.5, float("nan")], bins=2, value_range=(0.0, 4.0))
    >>> svg.count('class="bar"')
    2
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    labels = np.asarray(list(groups) if groups is not None else ["all"] * values.size, dtype=object)
    finite = np.isfinite(values)
    values, labels = values[finite], labels[finite]
    if values.size == 0:
        return _empty(title, "No values to plot.")
    low, high = value_range if value_range is not None else (float(values.min()), float(values.max()))
    if high <= low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    names = sorted(set(labels.tolist()), key=lambda n: ({"train": 0, "test": 1}.get(str(n), 2), str(n)))
    counts = np.stack([np.histogram(values[labels == name], bins=edges)[0] for name in names])
    x_ticks = nice_ticks(low, high)
    y_ticks = nice_ticks(0.0, float(max(1, counts.sum(axis=0).max())))
    y_ticks = [tick for tick in y_ticks if tick >= 0]
    frame = _Frame(x_ticks, y_ticks)
    parts = _axes(frame, x_ticks, y_ticks, title=title, x_label=x_label, y_label="count")
    base = np.zeros(bins)
    for index, name in enumerate(names):
        colour = PALETTE[index % len(PALETTE)]
        for b in range(bins):
            if counts[index, b] == 0:
                continue
            x_left, x_right = frame.x(edges[b]), frame.x(edges[b + 1])
            y_top, y_bottom = frame.y(base[b] + counts[index, b]), frame.y(base[b])
            parts.append(f'<rect class="bar" x="{x_left:.1f}" y="{y_top:.1f}" width="{max(0.5, x_right - x_left - 1):.1f}" '
                         f'height="{y_bottom - y_top:.1f}" fill="{colour}"><title>{escape(str(name))}: '
                         f'{counts[index, b]} in [{edges[b]:.3g}, {edges[b + 1]:.3g})</title></rect>')
        base += counts[index]
        if len(names) > 1:
            y = _MARGIN["top"] + 12 + 15 * index
            parts.append(f'<rect x="{frame.right - 90}" y="{y - 9}" width="10" height="10" fill="{colour}"/>'
                         f'<text x="{frame.right - 76}" y="{y}">{escape(str(name))}</text>')
    parts.append(f'<text x="{frame.right}" y="20" text-anchor="end" fill="#555">n = {values.size}</text>')
    return _svg(parts, f"{title}: {values.size} values")
