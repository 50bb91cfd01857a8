"""
Illuminant-invariant orientation
================================

Decide which way up a found chart is, and whether it is a ColorChecker at all,
from properties that do not change with the illuminant or the camera:

-   :func:`orientation_score`: score 24 patch colours read in a candidate
    orientation.
-   :func:`best_orientation`: pick the best of several candidates, or none.

A diagonal gain estimated from the candidate's own neutral row removes the
illuminant (von Kries); then the neutral row must have near-equal channels and
luminance falling monotonically from white to black, the other 18 patches must
be clearly chromatic, and their log-chromaticities must be arranged like those
of the reference chart (a correlation, hence insensitive to the camera's
saturation). Nothing is compared with absolute sRGB colours, so a strong
colour cast cannot flip the chart.

References
----------
:cite:`McCamy1976` : McCamy, C. S., Marcus, H., & Davidson, J. G. (1976). A
    color-rendition chart. Journal of Applied Photographic Engineering, 2(3),
    95-99.
:cite:`vonKries1902` : von Kries, J. (1902). Chromatic adaptation. Festschrift
    der Albrecht-Ludwigs-Universitat, 145-158.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import colour
import numpy as np
from numpy.typing import ArrayLike

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["OrientationScore", "orientation_score", "best_orientation", "ACCEPT"]

NEUTRAL = slice(18, 24)
CHROMATIC = slice(0, 18)

ACCEPT = {"monotone": 0.79, "neutral_ratio": 0.45, "arrangement": 0.5, "contrast": 2.5}
"""Verification thresholds: fraction of decreasing neighbours in the neutral
row, neutral/chromatic chroma ratio, log-chromaticity correlation with the
reference arrangement, white/black luminance ratio."""


def _reference_log_chromaticities() -> np.ndarray:
    xyY = colour.CCS_COLOURCHECKERS["ColorChecker24 - After November 2014"]
    XYZ = colour.xyY_to_XYZ(np.array(list(xyY.data.values())))
    RGB = colour.XYZ_to_RGB(XYZ, "sRGB", apply_cctf_encoding=False)
    return _balanced_log_chromaticities(np.clip(RGB, 1e-3, None))


def _balanced_log_chromaticities(RGB: np.ndarray) -> np.ndarray:
    gain = 1.0 / np.maximum(RGB[NEUTRAL].sum(axis=0), 1e-12)
    balanced = np.maximum(RGB * gain, 1e-6)
    return np.stack([np.log(balanced[:, 0] / balanced[:, 1]),
                     np.log(balanced[:, 2] / balanced[:, 1])], axis=-1)


class OrientationScore(NamedTuple):
    """Components of :func:`orientation_score` (higher ``score`` is better)."""

    score: float
    monotone: float
    neutral_ratio: float
    arrangement: float
    contrast: float
    accepted: bool


_REFERENCE = None


def _reference() -> np.ndarray:
    global _REFERENCE  # noqa: PLW0603 - an immutable cache of a constant
    if _REFERENCE is None:
        _REFERENCE = _reference_log_chromaticities()
    return _REFERENCE


def orientation_score(RGB: ArrayLike) -> OrientationScore:
    """
    Score how well 24 patch colours, read in code order, fit an upright chart.

    Parameters
    ----------
    RGB
        ``(24, 3)`` patch means in the candidate's code order.

    Returns
    -------
    OrientationScore
        ``score`` (higher is better) and its components; ``accepted`` tells
        whether every component passes :data:`ACCEPT`.

    Notes
    -----
    Domain: ``RGB`` any linear (or monotonically encoded) camera RGB, not
    white balanced; only ratios are used, so the scale does not matter.
    Range: ``score`` about [-3, 3].

    References
    ----------
    :cite:`McCamy1976`, :cite:`vonKries1902`

    Examples
    --------
    >>> from ccharmony.checker._synthetic import chart_camera_RGB
    >>> patches, _ = chart_camera_RGB(2500)
    >>> orientation_score(patches).accepted
    True
    >>> orientation_score(patches[::-1]).accepted
    False
    """
    RGB = np.asarray(RGB, np.float64).reshape(24, 3)
    if not np.all(np.isfinite(RGB)):
        return OrientationScore(-np.inf, 0.0, np.inf, -1.0, 0.0, False)
    RGB = np.maximum(RGB, 1e-6)
    gain = 1.0 / RGB[NEUTRAL].sum(axis=0)
    balanced = RGB * gain
    luminance = balanced.sum(axis=1)
    chromaticity = balanced / luminance[:, None]
    chroma = np.abs(chromaticity - 1.0 / 3.0).max(axis=1)
    neutral_luminance = luminance[NEUTRAL]
    weights = neutral_luminance / neutral_luminance.sum()
    neutral_chroma = float(np.sum(weights * chroma[NEUTRAL]))
    chromatic_chroma = float(np.median(chroma[CHROMATIC]))
    neutral_ratio = neutral_chroma / max(chromatic_chroma, 1e-6)
    monotone = float(np.mean(np.diff(neutral_luminance) < 0))
    contrast = float(neutral_luminance[0] / neutral_luminance[-1])
    measured = _balanced_log_chromaticities(RGB)[CHROMATIC].ravel()
    reference = _reference()[CHROMATIC].ravel()
    arrangement = float(np.corrcoef(measured, reference)[0, 1]) if measured.std() > 0 else -1.0
    score = monotone + arrangement - neutral_ratio + 0.25 * min(np.log10(max(contrast, 1e-6)), 1.0)
    accepted = (monotone >= ACCEPT["monotone"] and neutral_ratio <= ACCEPT["neutral_ratio"]
                and arrangement >= ACCEPT["arrangement"] and contrast >= ACCEPT["contrast"])
    return OrientationScore(float(score), monotone, neutral_ratio, arrangement, contrast, bool(accepted))


def best_orientation(candidates: Sequence[ArrayLike]) -> tuple[int, OrientationScore] | None:
    """
    Return ``(index, score)`` of the best accepted candidate, or ``None``.

    Parameters
    ----------
    candidates
        A sequence of ``(24, 3)`` patch colours, one per candidate orientation.

    Returns
    -------
    tuple or None
        The index into ``candidates`` of the highest-scoring accepted one.

    Notes
    -----
    Domain: as :func:`orientation_score`.

    Examples
    --------
    >>> from ccharmony.checker._synthetic import chart_camera_RGB
    >>> patches, _ = chart_camera_RGB(9000, 0.4)
    >>> best_orientation([patches[::-1], patches])[0]
    1
    """
    scores = [orientation_score(candidate) for candidate in candidates]
    accepted = [(s.score, i) for i, s in enumerate(scores) if s.accepted]
    if not accepted:
        return None
    _, index = max(accepted)
    return index, scores[index]
