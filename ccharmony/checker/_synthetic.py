"""
Synthetic chart captures (private, for tests and benchmarks)
===========================================================

Render a ColorChecker Classic into a linear, non-white-balanced camera-RGB
frame: spectral reflectances (BabelColor average) times an illuminant
(Planckian or CIE daylight, optionally tinted) through the Nikon 5100 spectral
sensitivities, drawn with :func:`cv2.fillPoly` on a homography. The ground truth
illuminant is the camera response to a perfect white.
"""

from __future__ import annotations

from dataclasses import dataclass

import colour
import cv2
import numpy as np

from ccharmony.checker.geometry import CHART_CORNERS, CHART_PATCH_QUADS, apply_homography

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["SyntheticChart", "chart_camera_RGB", "render_chart"]

_SHAPE = colour.SpectralShape(400, 700, 10)


def _spectral_tables() -> tuple[np.ndarray, np.ndarray]:
    sds = colour.SDS_COLOURCHECKERS["BabelColor Average"]
    reflectances = np.array([sd.copy().align(_SHAPE).values for sd in sds.values()])
    sensitivities = colour.MSDS_CAMERA_SENSITIVITIES["Nikon 5100 (NPL)"].copy().align(_SHAPE).values
    return reflectances, sensitivities


_REFLECTANCES, _SENSITIVITIES = _spectral_tables()


def _illuminant_spd(cct: float, tint: float) -> np.ndarray:
    wavelengths = _SHAPE.wavelengths
    if cct < 4000:
        spd = colour.sd_blackbody(cct, _SHAPE).values
    else:
        xy = colour.temperature.CCT_to_xy_CIE_D(cct)
        spd = colour.sd_CIE_illuminant_D_series(xy).copy().align(_SHAPE).values
    # A smooth green-magenta tint: tint > 0 adds green, < 0 adds magenta.
    spd = spd * (1.0 + tint * np.exp(-0.5 * ((wavelengths - 540.0) / 40.0) ** 2))
    return spd / spd.max()


def chart_camera_RGB(cct: float, tint: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(patches (24, 3), illuminant (3,) unit vector)`` in camera RGB."""
    spd = _illuminant_spd(cct, tint)
    white = spd @ _SENSITIVITIES
    scale = white.max()
    patches = (_REFLECTANCES * spd) @ _SENSITIVITIES / scale
    return patches, white / np.linalg.norm(white)


@dataclass(frozen=True)
class SyntheticChart:
    """A rendered capture and its truth."""

    RGB: np.ndarray
    corners: np.ndarray
    illuminant: np.ndarray
    patches: np.ndarray


def render_chart(
    seed: int,
    *,
    size: tuple[int, int] = (768, 1024),
    cct: float | None = None,
    tint: float | None = None,
    chart_fraction: tuple[float, float] = (0.2, 0.45),
    noise: float = 0.004,
    exposure: float | None = None,
    tilt: float = 0.15,
) -> SyntheticChart:
    """Render a random chart capture of ``size = (height, width)`` (deterministic in ``seed``)."""
    rng = np.random.default_rng(seed)
    height, width = size
    cct = float(rng.uniform(2000, 12000)) if cct is None else cct
    tint = float(rng.uniform(-0.5, 0.5)) if tint is None else tint
    exposure = float(rng.uniform(0.45, 0.9)) if exposure is None else exposure
    patches, illuminant = chart_camera_RGB(cct, tint)
    white_RGB = illuminant / illuminant.max()

    # Background: smooth random reflectances under the same light.
    low = rng.uniform(0.05, 0.6, (6, 8, 3)) * rng.uniform(0.6, 1.0, 3)
    background = cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC)
    image = np.clip(background, 0.01, 1.0) * white_RGB

    # Chart pose: random rotation, scale, position, mild perspective.
    chart_width = rng.uniform(*chart_fraction) * min(width, height * 1.4)
    chart_height = chart_width / 1.4
    angle = rng.uniform(0, 2 * np.pi)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    local = (CHART_CORNERS - 0.5) * [chart_width, chart_height]
    local = local * (1 + rng.uniform(-tilt, tilt, (4, 1)))
    radius = 0.5 * np.hypot(chart_width, chart_height)
    centre = [rng.uniform(radius, width - radius), rng.uniform(radius, height - radius)]
    corners = local @ rotation.T + centre
    H = cv2.getPerspectiveTransform(CHART_CORNERS.astype(np.float32), corners.astype(np.float32))
    body = 0.035 * white_RGB
    cv2.fillPoly(image, [np.round(corners * 16).astype(np.int32)], body.tolist(), cv2.LINE_AA, 4)
    quads = apply_homography(H, CHART_PATCH_QUADS)
    for index in range(24):
        cv2.fillPoly(image, [np.round(quads[index] * 16).astype(np.int32)],
                     patches[index].tolist(), cv2.LINE_AA, 4)
    image = image * exposure
    image = image + rng.normal(0.0, noise, image.shape) * np.sqrt(np.maximum(image, 0) + 0.01)
    image = np.clip(image, 0.0, 1.0).astype(np.float32)
    return SyntheticChart(RGB=image, corners=corners, illuminant=illuminant,
                          patches=patches * exposure)
