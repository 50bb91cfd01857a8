"""
Patch sampling
==============

Define the sampling of a located chart on a linear image:

-   :func:`sample`: robust mean, clipped flag and noise of each of the 24 patches.
-   :func:`checker_mask`: a boolean mask of the chart's area (to exclude it from
    image-based illuminant estimates).

Sampling reads only integer bounding boxes of the inner patch quadrilaterals at
full resolution; the image is never warped.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import ArrayLike

from ccharmony._types import NDArrayBool, NDArrayFloat
from ccharmony.checker.records import Checker, Patches
from ccharmony.io.image import LinearImage

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["CLIP_MARGIN", "sample", "checker_mask", "inner_quads"]

CLIP_MARGIN = 0.02
"""A patch is clipped when any channel of any sampled pixel is within this
fraction of the white level."""

_MAD_TO_STD = 1.4826


def _as_arrays(image: LinearImage | ArrayLike) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(image, LinearImage):
        return image.RGB, image.clipped
    RGB = np.asarray(image)
    if RGB.ndim != 3 or RGB.shape[2] != 3:
        raise ValueError(f"image must have shape (H, W, 3), got {RGB.shape}")
    return RGB, None


def inner_quads(quads: ArrayLike, inner: float) -> NDArrayFloat:
    """
    Shrink each quadrilateral towards its centre by the linear factor ``inner``.

    Parameters
    ----------
    quads
        ``(..., 4, 2)`` quadrilaterals.
    inner
        Linear scale factor in (0, 1].

    Returns
    -------
    NDArray
        ``(..., 4, 2)`` float64 shrunk quadrilaterals.

    Notes
    -----
    Domain/Range: image pixels.

    Examples
    --------
    >>> inner_quads([[[0, 0], [4, 0], [4, 4], [0, 4]]], 0.5).tolist()
    [[[1.0, 1.0], [3.0, 1.0], [3.0, 3.0], [1.0, 3.0]]]
    """
    quads = np.asarray(quads, np.float64)
    centres = quads.mean(axis=-2, keepdims=True)
    return centres + (quads - centres) * inner


def _robust_mean(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    median = np.median(pixels, axis=0)
    spread = _MAD_TO_STD * np.median(np.abs(pixels - median), axis=0)
    tolerance = 3.0 * spread + 1e-6
    keep = np.all(np.abs(pixels - median) <= tolerance, axis=1)
    kept = pixels[keep] if np.count_nonzero(keep) >= 3 else pixels
    return kept.mean(axis=0), kept.std(axis=0)


def sample(
    image: LinearImage | ArrayLike,
    checker: Checker,
    *,
    inner: float = 0.5,
    white_level: float = 1.0,
) -> Patches:
    """
    Sample the 24 patches of a located chart.

    Parameters
    ----------
    image
        :class:`~ccharmony.io.image.LinearImage` (its clip mask is used) or an
        ``(H, W, 3)`` array.
    checker
        The located chart, in the image's pixel coordinates.
    inner
        Linear fraction of each patch side that is sampled, around its centre.
    white_level
        The image's white level (1.0 for :class:`LinearImage`).

    Returns
    -------
    Patches
        Robust means (per-channel median +/- 3 MAD, then mean), clipped flags
        and standard deviations. A patch outside the frame has NaN colour and
        is flagged clipped.

    Raises
    ------
    ValueError
        If ``inner`` is not in (0, 1].

    Notes
    -----
    Domain: ``image`` linear camera RGB, [0, 1] of white level.
    Range: ``Patches.RGB`` same scale as ``image``, float32.

    Examples
    --------
    >>> from ccharmony.checker import checker_from_corners
    >>> RGB = np.full((100, 140, 3), 0.25, np.float32)
    >>> checker = checker_from_corners([[0, 0], [140, 0], [140, 100], [0, 100]])
    >>> patches = sample(RGB, checker)
    >>> patches.RGB[0].tolist(), bool(patches.clipped.any())
    ([0.25, 0.25, 0.25], False)
    """
    if not 0.0 < inner <= 1.0:
        raise ValueError(f"inner must be in (0, 1], got {inner}")
    RGB, clip_mask = _as_arrays(image)
    height, width = RGB.shape[:2]
    quads = inner_quads(checker.patches, inner)
    means = np.full((24, 3), np.nan, np.float32)
    noise = np.full((24, 3), np.nan, np.float32)
    clipped = np.ones(24, bool)
    threshold = (1.0 - CLIP_MARGIN) * white_level
    for index, quad in enumerate(quads):
        x0, y0 = np.floor(quad.min(axis=0)).astype(int)
        x1, y1 = np.ceil(quad.max(axis=0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [np.round((quad - [x0, y0]) * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
        selected = mask.astype(bool)
        if not selected.any():
            continue
        pixels = np.asarray(RGB[y0:y1, x0:x1][selected], np.float64)
        mean, std = _robust_mean(pixels)
        means[index], noise[index] = mean, std
        clipped[index] = bool(np.any(pixels >= threshold)) or bool(
            clip_mask is not None and np.any(clip_mask[y0:y1, x0:x1][selected])
        )
    return Patches(RGB=means, clipped=clipped, noise=noise)


def checker_mask(shape: tuple[int, int], checker: Checker, *, dilate: float = 0.05) -> NDArrayBool:
    """
    Return a mask that is True on the chart (its outer quadrilateral, enlarged).

    Parameters
    ----------
    shape
        ``(height, width)`` of the image.
    checker
        The located chart.
    dilate
        Fraction by which the quadrilateral is enlarged around its centre.

    Returns
    -------
    NDArray
        ``(height, width)`` bool.

    Notes
    -----
    Domain/Range: image pixels.

    Examples
    --------
    >>> from ccharmony.checker import checker_from_corners
    >>> checker = checker_from_corners([[10, 10], [30, 10], [30, 20], [10, 20]])
    >>> mask = checker_mask((40, 40), checker, dilate=0.0)
    >>> bool(mask[15, 20]), bool(mask[5, 5])
    (True, False)
    """
    mask = np.zeros(shape, np.uint8)
    quad = inner_quads(checker.corners[None], 1.0 + dilate)[0]
    cv2.fillPoly(mask, [np.round(quad * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    return mask.astype(bool)
