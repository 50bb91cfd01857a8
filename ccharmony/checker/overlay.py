"""
Detection overlay
=================

Define a picture that lets a person check a detection at a glance:

-   :func:`render_overlay`: the chart's quadrilateral, its corner next to dark
    skin and the 24 patch numbers drawn on a viewable rendering.
-   :func:`write_overlay`: the same, written as a PNG (atomically).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from numpy.typing import ArrayLike

from ccharmony._types import NDArrayUInt8, PathType
from ccharmony.checker.detect import reduce_image, viewable_rendering
from ccharmony.checker.records import Checker
from ccharmony.errors import CCHarmonyError
from ccharmony.io.atomic import atomic_write_bytes

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["render_overlay", "write_overlay"]


def render_overlay(RGB: ArrayLike, checker: Checker | None, *, max_side: int = 1024) -> NDArrayUInt8:
    """
    Draw a detection on a viewable rendering of linear camera RGB.

    Parameters
    ----------
    RGB
        ``(H, W, 3)`` linear camera RGB.
    checker
        The detection in full-frame pixels, or ``None`` (writes "not found").
    max_side
        Longest side of the picture.

    Returns
    -------
    NDArray
        ``(h, w, 3)`` uint8 BGR picture: green outer quadrilateral, a red dot
        at the corner next to dark skin, patch outlines and numbers 0-23 in
        code order.

    Notes
    -----
    Domain: ``RGB`` [0, 1] of white level. Range: uint8 BGR.

    Examples
    --------
    >>> render_overlay(np.zeros((200, 300, 3), np.float32), None).shape
    (200, 300, 3)
    """
    reduced, scale = reduce_image(np.asarray(RGB), max_side)
    picture = viewable_rendering(reduced)
    if checker is None:
        cv2.putText(picture, "no chart found", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                    (0, 0, 255), 2, cv2.LINE_AA)
        return picture
    corners = (np.asarray(checker.corners) + 0.5) * scale - 0.5
    quads = (np.asarray(checker.patches) + 0.5) * scale - 0.5
    cv2.polylines(picture, [np.round(corners).astype(np.int32)], True, (0, 255, 0), 2, cv2.LINE_AA)
    cv2.circle(picture, tuple(int(v) for v in np.round(corners[0])), 6, (0, 0, 255), -1, cv2.LINE_AA)
    size = max(0.3, 0.5 * float(np.linalg.norm(quads[0, 1] - quads[0, 0])) / 25)
    for index, quad in enumerate(quads):
        cv2.polylines(picture, [np.round(quad).astype(np.int32)], True, (255, 255, 255), 1, cv2.LINE_AA)
        centre = quad.mean(axis=0)
        text = str(index)
        (width, height), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, size, 1)
        origin = (int(centre[0] - width / 2), int(centre[1] + height / 2))
        cv2.putText(picture, text, origin, cv2.FONT_HERSHEY_SIMPLEX, size, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(picture, text, origin, cv2.FONT_HERSHEY_SIMPLEX, size, (255, 255, 255), 1, cv2.LINE_AA)
    return picture


def write_overlay(path: PathType, RGB: ArrayLike, checker: Checker | None, *,
                  max_side: int = 1024) -> Path:
    """
    Write :func:`render_overlay` as a PNG, through a temporary file.

    Parameters
    ----------
    path
        Output ``.png`` path; its folder is created.
    RGB, checker, max_side
        As :func:`render_overlay`.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    CCHarmonyError
        If the file cannot be written (:class:`~ccharmony.errors.DatasetError`).

    Notes
    -----
    Domain: as :func:`render_overlay`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     written = write_overlay(pathlib.Path(folder) / "a.png", np.zeros((8, 8, 3), np.float32), None)
    ...     written.stat().st_size > 0
    True
    """
    path = Path(path)
    picture = render_overlay(RGB, checker, max_side=max_side)
    ok, encoded = cv2.imencode(".png", picture)
    if not ok:
        raise CCHarmonyError(f"{path}: could not encode the overlay PNG")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, encoded.tobytes())
    return path
