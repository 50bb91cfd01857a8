"""
Synthetic scenes
================

Define the illuminant-independent part of a synthetic capture: which material
is where, and how strongly each pixel is lit.

-   :class:`Scene`: material-index map, shading, material reflectances, chart
    corners, foreground masks and the crop that removes the chart.
-   :func:`generate_scene`: draw a scene from a seed.
-   :func:`render_scene`: linear camera RGB of a scene for a spectral response.
-   :data:`CHART_SIZE_MM`, :func:`chart_template_corners`: the chart geometry.

A scene is a ColorChecker Classic (24 patches on a black body), one or two
foreground objects (mixtures of up to three measured reflectances with smooth
Lambertian shading) and a textured background (mixtures of measured
reflectances under a smooth illumination fall-off). Rendering is a lookup:
``RGB[pixel] = shading[pixel] * (reflectances @ K)[material[pixel]]``, so a
scene renders under any camera, illuminant and exposure in one gather.

Pixel coordinates ``(x, y)`` have pixel centres at integers (the OpenCV
convention), full frame. Sizes are ``(width, height)`` as on the command line;
arrays are ``(height, width)``.

References
----------
-   :cite:`McCamy1976` : McCamy, C. S., Marcus, H., & Davidson, J. G. (1976). A
    color-rendition chart. Journal of Applied Photographic Engineering, 2(3),
    95-99.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from ccharmony._types import NDArray, NDArrayBool, NDArrayFloat
from ccharmony.errors import ConfigError
from ccharmony.synth.spectra import chart_reflectances, training_reflectances

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "CHART_SIZE_MM",
    "CHART_PATCH_MM",
    "CHART_GAP_MM",
    "MATERIAL_SURROUND",
    "MATERIAL_PERFECT_WHITE",
    "MIXTURE_LEVELS",
    "Scene",
    "chart_template_corners",
    "generate_scene",
    "material_table",
    "render_scene",
]

CHART_SIZE_MM: Final[tuple[float, float]] = (279.4, 215.9)
"""Outer size ``(width, height)`` of the ColorChecker Classic body in mm."""
CHART_PATCH_MM: Final[float] = 40.0
"""Side of a patch in mm."""
CHART_GAP_MM: Final[float] = 5.0
"""Black gap between neighbouring patches in mm."""

MATERIAL_SURROUND: Final[int] = 24
"""Material index of the chart's black body (surround and gaps)."""
MATERIAL_PERFECT_WHITE: Final[int] = 25
"""Material index of a perfect white reflector (never placed; used for the truth)."""
MIXTURE_LEVELS: Final[int] = 32
"""Quantisation levels of the mixing weight of two reflectances."""

_SURROUND_FACTOR: Final[float] = 0.6  # black body = 0.6 x the black patch (~2 %)


@dataclass(frozen=True)
class Scene:
    """
    Hold an illuminant-independent synthetic scene.

    Parameters
    ----------
    material
        ``(H, W)`` uint16 index into ``reflectances``.
    shading
        ``(H, W)`` float32 irradiance factor, (0, 1].
    reflectances
        ``(n, 31)`` float64 reflectance of each material; rows 0-23 the chart
        patches (code order), 24 the chart body, 25 a perfect white.
    corners
        ``(4, 2)`` float64 chart body corners ``(x, y)``: next to dark skin, next
        to bluish green, next to black, next to white.
    homography
        ``(3, 3)`` float64 from chart millimetres (origin at the corner next to
        dark skin, x along the row of dark skin) to full-frame pixels.
    chart_gain
        The shading of the whole chart (uniform).
    masks
        Foreground id (``"a"``, ``"b"``) to ``(H, W)`` bool full-frame mask.
    crop
        ``(x, y, width, height)`` full-frame pixels: the part of the frame
        without the chart, holding the foreground objects.
    description
        JSON-ready facts about the draw (chart size and rotation, reflectance
        indices of objects and background).
    """

    material: NDArray[np.uint16]
    shading: NDArrayFloat
    reflectances: NDArray[np.float64]
    corners: NDArray[np.float64]
    homography: NDArray[np.float64]
    chart_gain: float
    masks: dict[str, NDArrayBool]
    crop: tuple[int, int, int, int]
    description: dict[str, object] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        """Return ``(width, height)`` in pixels."""
        return (int(self.material.shape[1]), int(self.material.shape[0]))


def chart_template_corners() -> NDArray[np.float64]:
    """
    Return the chart body corners in chart millimetres, in the corner order.

    Returns
    -------
    numpy.ndarray
        ``(4, 2)``: next to dark skin ``(0, 0)``, next to bluish green, next to
        black, next to white.

    Examples
    --------
    >>> chart_template_corners().tolist()
    [[0.0, 0.0], [279.4, 0.0], [279.4, 215.9], [0.0, 215.9]]
    """
    width, height = CHART_SIZE_MM
    return np.array([[0.0, 0.0], [width, 0.0], [width, height], [0.0, height]])


def _chart_margins() -> tuple[float, float]:
    width, height = CHART_SIZE_MM
    margin_x = (width - 6 * CHART_PATCH_MM - 5 * CHART_GAP_MM) / 2
    margin_y = (height - 4 * CHART_PATCH_MM - 3 * CHART_GAP_MM) / 2
    return margin_x, margin_y


def _smooth_field(rng: np.random.Generator, cells: tuple[int, int],
                  size: tuple[int, int]) -> NDArrayFloat:
    """Return a smooth zero-mean random field ``(H, W)`` float32 from a coarse grid of ``cells``.

    Bicubic up to at most 1/4 of the size (and at most 64 samples per cell),
    then bilinear up to the size: smooth, and cheap at 24 megapixels.
    """
    import cv2

    coarse = rng.standard_normal((cells[1] + 3, cells[0] + 3)).astype(np.float32)
    width, height = size
    pad_w = width + (3 * width) // cells[0]
    pad_h = height + (3 * height) // cells[1]
    step = max(1, min(4, width // (64 * cells[0]) or 1))
    middle = cv2.resize(coarse, (max(1, pad_w // step), max(1, pad_h // step)),
                        interpolation=cv2.INTER_CUBIC)
    big = middle if step == 1 else cv2.resize(middle, (pad_w, pad_h),
                                               interpolation=cv2.INTER_LINEAR)
    x0 = (big.shape[1] - width) // 2
    y0 = (big.shape[0] - height) // 2
    return np.ascontiguousarray(big[y0:y0 + height, x0:x0 + width])


def _quantised(alpha: NDArrayFloat) -> NDArray[np.uint16]:
    q = np.rint(np.clip(alpha, 0, 1) * (MIXTURE_LEVELS - 1))
    return q.astype(np.uint16)


def _mixtures(R_a: NDArray[np.float64], R_b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return the ``MIXTURE_LEVELS`` mixtures ``w * R_a + (1 - w) * R_b``, ``w`` from 0 to 1."""
    w = np.linspace(0.0, 1.0, MIXTURE_LEVELS)[:, None]
    return w * R_a[None] + (1 - w) * R_b[None]


def _random_chart_quad(rng: np.random.Generator, size: tuple[int, int]
                       ) -> tuple[NDArray[np.float64], float, float, str]:
    """Draw the chart quadrilateral; return corners, width fraction, rotation, side."""
    width, height = size
    landscape = width >= height
    side = str(rng.choice(["left", "right"] if landscape else ["top", "bottom"]))
    fraction = float(rng.uniform(0.10, 0.45))
    rotation = float(rng.uniform(0.0, 360.0))
    chart_w = fraction * width
    chart_h = chart_w * CHART_SIZE_MM[1] / CHART_SIZE_MM[0]
    template = np.array([[-chart_w / 2, -chart_h / 2], [chart_w / 2, -chart_h / 2],
                         [chart_w / 2, chart_h / 2], [-chart_w / 2, chart_h / 2]])
    theta = math.radians(rotation)
    rotate = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    for _ in range(100):
        jitter = np.clip(rng.normal(0.0, 0.03 * chart_w, (4, 2)), -0.07 * chart_w, 0.07 * chart_w)
        quad = template @ rotate.T + jitter
        edges = np.roll(quad, -1, axis=0) - quad
        cross = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(
            edges, -1, axis=0)[:, 0]
        if (cross > 0).all():
            break
    else:  # pragma: no cover - practically unreachable
        quad = template @ rotate.T
    # keep the chart on one side: at most 58 % of the long axis, 94 % of the short one
    extent = quad.max(axis=0) - quad.min(axis=0)
    along, across = (0, 1) if landscape else (1, 0)
    limit = min(0.58 * size[along] / extent[along], 0.94 * size[across] / extent[across], 1.0)
    quad = quad * limit
    fraction *= limit
    extent = quad.max(axis=0) - quad.min(axis=0)
    low = quad.min(axis=0)
    offset = np.empty(2)
    edge = float(rng.uniform(0.01, 0.04)) * size[along]
    offset[along] = edge if side in ("left", "top") else size[along] - 1 - edge - extent[along]
    free = size[across] - 1 - extent[across]
    offset[across] = float(rng.uniform(0.02 * free, 0.98 * free)) if free > 0 else 0.0
    quad = quad - low + offset
    return quad, fraction, rotation, side


def _chart_materials(homography_inverse: NDArray[np.float64], x0: int, y0: int, x1: int,
                     y1: int) -> tuple[NDArray[np.int32], NDArrayBool]:
    """Return chart material (or -1) and body mask over the pixel box ``[x0, x1) x [y0, y1)``."""
    ys, xs = np.mgrid[y0:y1, x0:x1]
    xs = xs.astype(np.float64)
    ys = ys.astype(np.float64)
    H = homography_inverse
    w = H[2, 0] * xs + H[2, 1] * ys + H[2, 2]
    u = (H[0, 0] * xs + H[0, 1] * ys + H[0, 2]) / w
    v = (H[1, 0] * xs + H[1, 1] * ys + H[1, 2]) / w
    width, height = CHART_SIZE_MM
    body = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    margin_x, margin_y = _chart_margins()
    pitch = CHART_PATCH_MM + CHART_GAP_MM
    cu = (u - margin_x) / pitch
    cv = (v - margin_y) / pitch
    col = np.floor(cu)
    row = np.floor(cv)
    in_patch = ((cu - col) * pitch < CHART_PATCH_MM) & ((cv - row) * pitch < CHART_PATCH_MM)
    in_patch &= (col >= 0) & (col < 6) & (row >= 0) & (row < 4)
    material = np.where(in_patch, row * 6 + col, MATERIAL_SURROUND)
    material = np.where(body, material, -1).astype(np.int32)
    return material, body


def _blob(rng: np.random.Generator, area: float, region: tuple[float, float, float, float]
          ) -> tuple[NDArray[np.float64], tuple[float, float], float]:
    """Draw a smooth star-shaped outline of ``area`` px inside ``region`` (x, y, w, h)."""
    phi = np.linspace(0.0, 2 * math.pi, 720, endpoint=False)
    radius = np.ones_like(phi)
    for k in (2, 3, 4, 5):
        radius += rng.uniform(0.0, 0.22 / k * 2) * np.cos(k * phi + rng.uniform(0, 2 * math.pi))
    radius = np.clip(radius, 0.35, None)
    elongation = float(rng.uniform(0.75, 1.35))
    angle = float(rng.uniform(0, math.pi))
    unit_area = 0.5 * float(np.sum(radius**2)) * (2 * math.pi / phi.size)
    scale = math.sqrt(area / unit_area)
    points = np.stack([radius * np.cos(phi) * elongation, radius * np.sin(phi) / elongation], -1)
    rotate = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    points = points @ rotate.T * scale
    rx, ry, rw, rh = region
    extent = points.max(axis=0) - points.min(axis=0)
    shrink = min(1.0, 0.92 * rw / extent[0], 0.92 * rh / extent[1])
    points *= shrink
    extent = points.max(axis=0) - points.min(axis=0)
    low = points.min(axis=0)
    free_x = rw - extent[0]
    free_y = rh - extent[1]
    origin = np.array([rx + float(rng.uniform(0.1, 0.9)) * free_x,
                       ry + float(rng.uniform(0.1, 0.9)) * free_y])
    points = points - low + origin
    centre = (float(points[:, 0].mean()), float(points[:, 1].mean()))
    reach = float(np.max(np.hypot(points[:, 0] - centre[0], points[:, 1] - centre[1])))
    return points, centre, reach


def generate_scene(size: tuple[int, int], seed: int | Sequence[int]) -> Scene:
    """
    Draw a synthetic scene: chart, one or two foreground objects, background.

    Parameters
    ----------
    size
        ``(width, height)`` in pixels, both even and at least 64.
    seed
        Seed of :func:`numpy.random.default_rng`; the same seed and size give
        the same scene on every call.

    Returns
    -------
    Scene
        The drawn scene.

    Raises
    ------
    ConfigError
        For a bad size.

    Notes
    -----
    The chart body covers 10-45 % of the long axis (less when a steep rotation
    would not fit), any rotation, mild perspective, on one side of the long
    axis; the crop keeps the full short axis and the part of the long axis
    away from the chart. Each object covers about 5-40 % of the crop. Object
    shading is Lambertian on a dome (0.6-1.0), times the scene's smooth
    illumination fall-off (0.75-1.0), which also lights the background; the
    chart is lit uniformly (``chart_gain`` 0.85-1.0).

    References
    ----------
    :cite:`McCamy1976`

    Examples
    --------
    >>> scene = generate_scene((240, 160), 7)
    >>> scene.size, scene.material.dtype.name, sorted(scene.masks)[0]
    ((240, 160), 'uint16', 'a')
    """
    import cv2

    width, height = (int(size[0]), int(size[1]))
    if width < 64 or height < 64 or width % 2 or height % 2:
        raise ConfigError(f"scene size must be even and at least 64x64, got {width}x{height}")
    rng = np.random.default_rng(seed)
    frame = (width, height)
    landscape = width >= height

    # --- chart -------------------------------------------------------------
    quad, fraction, rotation, side = _random_chart_quad(rng, frame)
    homography = cv2.getPerspectiveTransform(chart_template_corners().astype(np.float32),
                                             quad.astype(np.float32)).astype(np.float64)
    chart_gain = float(rng.uniform(0.85, 1.0))

    # --- crop --------------------------------------------------------------
    low = np.floor(quad.min(axis=0)).astype(int)
    high = np.ceil(quad.max(axis=0)).astype(int)
    gap = max(2, int(round(0.02 * (width if landscape else height))))
    if landscape:
        if side == "left":
            x = min(width - 32, ((high[0] + gap + 1) // 2) * 2)
            crop = (x, 0, width - x, height)
        else:
            right = max(32, ((low[0] - gap) // 2) * 2)
            crop = (0, 0, right, height)
    else:
        if side == "top":
            y = min(height - 32, ((high[1] + gap + 1) // 2) * 2)
            crop = (0, y, width, height - y)
        else:
            bottom = max(32, ((low[1] - gap) // 2) * 2)
            crop = (0, 0, width, bottom)
    cx, cy, cw, ch = crop

    # --- materials ---------------------------------------------------------
    library = training_reflectances()
    chart = chart_reflectances()
    base = np.concatenate([chart, _SURROUND_FACTOR * chart[23:24], np.ones((1, chart.shape[1]))])
    blocks = [base]
    next_index = base.shape[0]

    def add_pair(i: int, j: int) -> int:
        nonlocal next_index
        blocks.append(_mixtures(library[i], library[j]))
        start = next_index
        next_index += MIXTURE_LEVELS
        return start

    # --- background ---------------------------------------------------------
    n_regions = 3
    chosen = rng.choice(library.shape[0], size=2 * n_regions, replace=False)
    starts = [add_pair(int(chosen[2 * k]), int(chosen[2 * k + 1])) for k in range(n_regions)]
    coarse = (max(2, round(4 * width / max(width, height))), max(2, round(4 * height / max(
        width, height))))
    fine = (coarse[0] * 6, coarse[1] * 6)
    # region map at <= 1/8 of the size (boundaries stay smooth), then nearest up to full size
    step = max(1, min(8, min(width, height) // 400))
    small = (max(8, width // step), max(8, height // step))
    region_fields = np.stack([_smooth_field(rng, coarse, small) for _ in range(n_regions)])
    region = cv2.resize(np.argmax(region_fields, axis=0).astype(np.uint8), frame,
                        interpolation=cv2.INTER_NEAREST)
    alpha = 0.5 + 0.35 * _smooth_field(rng, fine, frame)
    material = (np.asarray(starts, dtype=np.uint16)[region] + _quantised(alpha)).astype(np.uint16)
    del region_fields, region, alpha

    # illumination fall-off: linear ramp in a random direction times mild vignetting
    direction = float(rng.uniform(0, 2 * math.pi))
    ramp_low = float(rng.uniform(0.75, 0.95))
    xs = (np.arange(width, dtype=np.float32) - width / 2) / max(width, height)
    ys = (np.arange(height, dtype=np.float32) - height / 2) / max(width, height)
    projection = (math.cos(direction) * xs[None, :] + math.sin(direction) * ys[:, None])
    shading = ramp_low + (1 - ramp_low) * (projection - projection.min()) / max(
        float(np.ptp(projection)), 1e-6)
    shading *= 1 - 0.12 * (xs[None, :] ** 2 + ys[:, None] ** 2) / 0.5
    shading = shading.astype(np.float32)

    # --- foreground objects --------------------------------------------------
    n_objects = int(rng.integers(1, 3))
    if n_objects == 1:
        regions = [(float(cx), float(cy), float(cw), float(ch))]
        fractions = [float(rng.uniform(0.08, 0.35))]
    elif cw >= ch:
        regions = [(float(cx), float(cy), cw / 2, float(ch)),
                   (cx + cw / 2, float(cy), cw / 2, float(ch))]
        fractions = [float(rng.uniform(0.06, 0.2)) for _ in range(2)]
    else:
        regions = [(float(cx), float(cy), float(cw), ch / 2),
                   (float(cx), cy + ch / 2, float(cw), ch / 2)]
        fractions = [float(rng.uniform(0.06, 0.2)) for _ in range(2)]
    masks: dict[str, NDArrayBool] = {}
    objects: dict[str, dict[str, object]] = {}
    for index, (box, share) in enumerate(zip(regions, fractions)):
        fg_id = "ab"[index]
        outline, centre, reach = _blob(rng, share * cw * ch, box)
        canvas = np.zeros((height, width), dtype=np.uint8)
        cv2.fillPoly(canvas, [np.round(outline * 16).astype(np.int32)], 255,
                     lineType=cv2.LINE_8, shift=4)
        mask = canvas > 0
        n_reflectances = int(rng.integers(1, 4))
        picks = [int(p) for p in rng.choice(library.shape[0], size=3, replace=False)]
        # work on the object's bounding box only
        bx0 = max(0, int(np.floor(outline[:, 0].min())) - 1)
        by0 = max(0, int(np.floor(outline[:, 1].min())) - 1)
        bx1 = min(width, int(np.ceil(outline[:, 0].max())) + 2)
        by1 = min(height, int(np.ceil(outline[:, 1].max())) + 2)
        field_alpha = _smooth_field(rng, (4, 4), (bx1 - bx0, by1 - by0))
        field_third = _smooth_field(rng, (3, 3), (bx1 - bx0, by1 - by0))
        first = add_pair(picks[0], picks[1])
        second = add_pair(picks[0], picks[2])
        box_mask = mask[by0:by1, bx0:bx1]
        if n_reflectances == 1:
            object_material = np.full(box_mask.shape, first + MIXTURE_LEVELS - 1, np.uint16)
        else:
            q = _quantised(0.5 + 0.45 * field_alpha)
            object_material = (first + q).astype(np.uint16)
            if n_reflectances == 3:
                object_material = np.where(field_third > 0.5, second + q, object_material)
        box = material[by0:by1, bx0:bx1]
        material[by0:by1, bx0:bx1] = np.where(box_mask, object_material, box)
        # Lambertian dome: normal from the distance to the centre, light from above-ish
        elevation = math.radians(float(rng.uniform(35, 70)))
        azimuth = float(rng.uniform(0, 2 * math.pi))
        light = np.array([math.cos(elevation) * math.cos(azimuth),
                          math.cos(elevation) * math.sin(azimuth), math.sin(elevation)])
        nx = ((np.arange(bx0, bx1, dtype=np.float32) - centre[0]) / (reach + 1.0))[None, :]
        ny = ((np.arange(by0, by1, dtype=np.float32) - centre[1]) / (reach + 1.0))[:, None]
        nz = np.sqrt(np.clip(1 - nx**2 - ny**2, 0, 1))
        lambert = np.clip(light[0] * nx + light[1] * ny + light[2] * nz, 0, 1)
        box = shading[by0:by1, bx0:bx1]
        shading[by0:by1, bx0:bx1] = np.where(box_mask, box * (0.6 + 0.4 * lambert), box)
        masks[fg_id] = mask
        objects[fg_id] = {
            "reflectances": picks[:n_reflectances],
            "area_fraction_of_crop": round(float(mask[cy:cy + ch, cx:cx + cw].mean()), 6),
        }

    # --- chart last (it is in front of the background, never of an object) ---
    x0, y0 = max(0, int(low[0])), max(0, int(low[1]))
    x1, y1 = min(width, int(high[0]) + 1), min(height, int(high[1]) + 1)
    inverse = np.asarray(np.linalg.inv(homography), dtype=np.float64)
    chart_material, body = _chart_materials(inverse, x0, y0, x1, y1)
    window = material[y0:y1, x0:x1]
    material[y0:y1, x0:x1] = np.where(body, chart_material, window).astype(np.uint16)
    shading[y0:y1, x0:x1] = np.where(body, np.float32(chart_gain), shading[y0:y1, x0:x1])

    for mask in masks.values():
        mask.setflags(write=False)
    return Scene(
        material=material,
        shading=shading,
        reflectances=np.concatenate(blocks, axis=0),
        corners=quad.astype(np.float64),
        homography=homography,
        chart_gain=chart_gain,
        masks=masks,
        crop=crop,
        description={
            "chart_width_fraction": round(fraction, 6),
            "chart_rotation_deg": round(rotation, 6),
            "chart_side": side,
            "background_reflectances": [int(c) for c in chosen],
            "objects": objects,
        },
    )


def material_table(reflectances: NDArray[np.float64], K: NDArray[np.float64]) -> NDArrayFloat:
    """
    Return the camera RGB of every material.

    Parameters
    ----------
    reflectances
        ``(n, 31)`` material reflectances.
    K
        ``(31, 3)`` spectral response.

    Returns
    -------
    numpy.ndarray
        ``(n, 3)`` float32 ``reflectances @ K``; every renderer goes through
        this one function so that their numbers agree to the bit.

    Notes
    -----
    Range: linear camera RGB per unit shading.

    Examples
    --------
    >>> material_table(np.ones((2, 31)), np.full((31, 3), 0.5)).tolist()
    [[15.5, 15.5, 15.5], [15.5, 15.5, 15.5]]
    """
    return (np.asarray(reflectances, dtype=np.float64) @ np.asarray(K, dtype=np.float64)
            ).astype(np.float32)


def render_scene(scene: Scene, K: NDArray[np.float64], *, crop: bool = False) -> NDArrayFloat:
    """
    Render a scene to noise-free linear camera RGB.

    Parameters
    ----------
    scene
        The scene.
    K
        ``(31, 3)`` spectral response (see
        :func:`ccharmony.synth.spectra.spectral_response`).
    crop
        Return only the scene's crop.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` float32 linear camera RGB.

    Notes
    -----
    Range: [0, 1] of the white level for a capture's own exposure gain;
    values above 1 are kept (no clipping, no noise, no black level).

    Examples
    --------
    >>> from ccharmony.synth.spectra import spectral_response
    >>> scene = generate_scene((96, 64), 1)
    >>> render_scene(scene, spectral_response("Nikon D5100", "D6500")).shape
    (64, 96, 3)
    """
    table = material_table(scene.reflectances, K)
    material, shading = scene.material, scene.shading
    if crop:
        x, y, w, h = scene.crop
        material = material[y:y + h, x:x + w]
        shading = shading[y:y + h, x:x + w]
    return table[material] * shading[..., None]
