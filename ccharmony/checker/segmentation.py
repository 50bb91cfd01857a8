"""
Segmentation backend
====================

Define a threshold-and-contour backend written for *ccharmony* (it shares no
code with colour-checker-detection):

-   :func:`find_square_patches`: square-ish bright blobs of a local threshold.
-   :func:`find_patch_centres_segmentation`: group the blobs into a lattice and
    propose the 24 patch centres of each plausible 6 x 4 chart.

The lattice is found from neighbour vectors (so any in-plane rotation and
mild perspective work), integer lattice coordinates are propagated from blob
to blob, and a RANSAC homography maps lattice coordinates to pixels. Where the
black patch or a dark row was not segmented, every 6 x 4 window covering the
found blobs is proposed; the verifier in :mod:`ccharmony.checker.detect`
chooses.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

from ccharmony._types import NDArrayUInt8

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["find_square_patches", "find_patch_centres_segmentation"]


def find_square_patches(view: NDArrayUInt8) -> tuple[np.ndarray, np.ndarray]:
    """
    Return centres and sides of square-ish bright blobs in an 8-bit view.

    Parameters
    ----------
    view
        ``(H, W, 3)`` uint8 BGR image.

    Returns
    -------
    tuple
        ``(centres (n, 2) float64, sides (n,) float64)`` in ``view`` pixels.

    Notes
    -----
    Domain: 8-bit BGR. Range: ``view`` pixels. Local mean thresholds at three
    block sizes; a blob is kept when its polygon has four convex corners, its
    area fills its minimum-area rectangle and its sides differ by at most 2.5x.

    Examples
    --------
    >>> view = np.zeros((100, 100, 3), np.uint8)
    >>> view[20:50, 30:60] = 200
    >>> centres, sides = find_square_patches(view)
    >>> centres[0].round().tolist()
    [44.0, 34.0]
    """
    grey = cv2.cvtColor(view, cv2.COLOR_BGR2GRAY)
    height, width = grey.shape
    min_area = max(16.0, 2e-5 * height * width)
    max_area = 0.05 * height * width
    found: list[tuple[float, float, float]] = []
    for block in (15, 41, 101):
        if block >= min(height, width):
            continue
        binary = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C,
                                       cv2.THRESH_BINARY, block, -2)
        binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        contours, _ = cv2.findContours(binary, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            area = cv2.contourArea(contour)
            if not min_area <= area <= max_area:
                continue
            (cx, cy), (w, h), _ = cv2.minAreaRect(contour)
            if min(w, h) < 3 or max(w, h) > 2.5 * min(w, h) or area < 0.75 * w * h:
                continue
            hull_area = cv2.contourArea(cv2.convexHull(contour))
            if area < 0.9 * hull_area:
                continue
            found.append((cx, cy, float(np.sqrt(area))))
    if not found:
        return np.zeros((0, 2)), np.zeros(0)
    table = np.array(found)
    # Merge duplicates across block sizes: a block smaller than the patch
    # keeps only part of it, so keep the larger blob (but a blob more than
    # twice the size, such as the whole chart, is distinct).
    table = table[np.argsort(-table[:, 2], kind="stable")]
    keep = np.zeros(len(table), bool)
    for index in range(len(table)):
        kept = table[keep]
        distance = np.hypot(kept[:, 0] - table[index, 0], kept[:, 1] - table[index, 1])
        keep[index] = bool(np.all((distance > 0.4 * table[index, 2]) | (kept[:, 2] > 2.0 * table[index, 2])))
    table = table[keep]
    return table[:, :2], table[:, 2]


def _clusters(centres: np.ndarray, sides: np.ndarray, minimum: int) -> list[np.ndarray]:
    count = len(centres)
    distance = np.linalg.norm(centres[:, None] - centres[None], axis=2)
    ratio = sides[:, None] / sides[None]
    adjacent = (distance < 2.0 * np.maximum(sides[:, None], sides[None])) & (ratio < 1.8) & (ratio > 1 / 1.8)
    np.fill_diagonal(adjacent, False)
    label = -np.ones(count, int)
    groups: list[np.ndarray] = []
    for start in range(count):
        if label[start] >= 0:
            continue
        label[start] = len(groups)
        members, queue = [start], deque([start])
        while queue:
            i = queue.popleft()
            for j in np.flatnonzero(adjacent[i] & (label < 0)):
                label[j] = label[start]
                members.append(int(j))
                queue.append(int(j))
        groups.append(np.array(members))
    return [g for g in groups if len(g) >= minimum]


def _lattice(centres: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Return ``(integer coords (n, 2), index of members)`` or None."""
    distance = np.linalg.norm(centres[:, None] - centres[None], axis=2)
    np.fill_diagonal(distance, np.inf)
    nearest = distance.argmin(axis=1)
    vectors = centres[nearest] - centres
    angles = np.mod(np.arctan2(vectors[:, 1], vectors[:, 0]), np.pi)
    # Dominant direction (circular mean of doubled angles, robustly).
    doubled = np.exp(2j * angles)
    first = np.angle(np.median(doubled.real) + 1j * np.median(doubled.imag)) / 2
    difference = np.abs(np.angle(np.exp(2j * (angles - first)))) / 2
    along_first = difference < np.pi / 8
    if np.count_nonzero(along_first) < 2:
        return None
    pitch = float(np.median(np.linalg.norm(vectors[along_first], axis=1)))
    axis_a = pitch * np.array([np.cos(first), np.sin(first)])
    # Second axis: neighbour vectors roughly perpendicular to the first.
    all_vectors = (centres[None] - centres[:, None]).reshape(-1, 2)
    lengths = np.linalg.norm(all_vectors, axis=1)
    cosines = np.abs(all_vectors @ axis_a) / np.maximum(lengths * pitch, 1e-9)
    perpendicular = (cosines < np.sin(np.pi / 8)) & (lengths > 0.5 * pitch) & (lengths < 1.6 * pitch)
    if np.count_nonzero(perpendicular) >= 2:
        chosen = all_vectors[perpendicular]
        chosen = chosen * np.sign(chosen @ np.array([-axis_a[1], axis_a[0]]))[:, None]
        axis_b = np.median(chosen, axis=0)
    else:
        axis_b = np.array([-axis_a[1], axis_a[0]])
    basis = np.stack([axis_a, axis_b], axis=1)
    if abs(np.linalg.det(basis)) < 1e-6:
        return None
    count = len(centres)
    coords = np.full((count, 2), np.iinfo(np.int64).min, np.int64)
    seed = int(np.argmin(np.linalg.norm(centres - centres.mean(axis=0), axis=1)))
    coords[seed] = 0
    local = {seed: basis}
    queue = deque([seed])
    while queue:
        i = queue.popleft()
        inverse = np.linalg.inv(local[i])
        for j in np.argsort(distance[i])[:8]:
            if coords[j, 0] != np.iinfo(np.int64).min or not np.isfinite(distance[i, j]):
                continue
            step = inverse @ (centres[j] - centres[i])
            rounded = np.round(step)
            if np.abs(step - rounded).max() > 0.3 or np.abs(rounded).max() > 2 or not rounded.any():
                continue
            coords[j] = coords[i] + rounded.astype(np.int64)
            local[j] = local[i]
            queue.append(int(j))
    members = np.flatnonzero(coords[:, 0] != np.iinfo(np.int64).min)
    return coords[members] - coords[members].min(axis=0), members


def find_patch_centres_segmentation(view: NDArrayUInt8, *, minimum: int = 10) -> list[np.ndarray]:
    """
    Propose the 24 patch centres of each chart-like lattice in ``view``.

    Parameters
    ----------
    view
        ``(H, W, 3)`` uint8 BGR image.
    minimum
        Fewest square blobs that make a chart candidate.

    Returns
    -------
    list
        ``(24, 2)`` float64 arrays of patch centres in ``view`` pixels, in
        lattice order (not oriented); possibly several per lattice.

    Notes
    -----
    Domain: 8-bit BGR. Range: ``view`` pixels.

    Examples
    --------
    >>> find_patch_centres_segmentation(np.zeros((64, 64, 3), np.uint8))
    []
    """
    centres, sides = find_square_patches(view)
    proposals: list[np.ndarray] = []
    if len(centres) < minimum:
        return proposals
    for group in sorted(_clusters(centres, sides, minimum), key=len, reverse=True)[:4]:
        lattice = _lattice(centres[group])
        if lattice is None:
            continue
        coords, members = lattice
        points = centres[group][members]
        if len(points) < minimum:
            continue
        H, inliers = cv2.findHomography(coords.astype(np.float64), points, cv2.RANSAC,
                                        0.3 * float(np.median(sides[group])))
        if H is None:
            continue
        good = inliers.ravel().astype(bool)
        inlier_coords = coords[good]
        low, high = inlier_coords.min(axis=0), inlier_coords.max(axis=0)
        windows = []
        for columns, rows in ((6, 4), (4, 6)):
            # Every columns x rows window that holds the most found blobs (a
            # missing dark row narrows the extent, a stray blob beside the
            # chart widens it); the verifier picks among them.
            x_starts = sorted((int(low[0]), int(high[0]) - columns + 1))
            y_starts = sorted((int(low[1]), int(high[1]) - rows + 1))
            for x0 in range(x_starts[0], x_starts[1] + 1):
                for y0 in range(y_starts[0], y_starts[1] + 1):
                    inside = ((inlier_coords[:, 0] >= x0) & (inlier_coords[:, 0] < x0 + columns)
                              & (inlier_coords[:, 1] >= y0) & (inlier_coords[:, 1] < y0 + rows))
                    windows.append((int(np.count_nonzero(inside)), x0, y0, columns, rows))
        most = max((window[0] for window in windows), default=0)
        for count, x0, y0, columns, rows in windows:
            if count < max(minimum, most - 1):
                continue
            grid = np.array([[x0 + c, y0 + r] for r in range(rows) for c in range(columns)],
                            np.float64)
            proposals.append(cv2.perspectiveTransform(grid[:, None], H)[:, 0])
    return proposals
