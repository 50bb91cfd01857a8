"""
Detection record
================

Define the JSON record that ``ccharmony detect`` writes for one photograph
(ARCHITECTURE.md section 4):

-   :func:`detect_record`: read, locate (annotation or detection), sample,
    estimate the illuminant, optionally draw an overlay; return the record.
-   :func:`read_annotation`: the manual geometry of one file, by its suffix.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ccharmony._types import PathType
from ccharmony.checker.annotations import read_corners_json, read_macbeth_txt, read_nus_mask_txt
from ccharmony.checker.detect import detect
from ccharmony.checker.records import Checker
from ccharmony.checker.sample import sample
from ccharmony.errors import AnnotationError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["read_annotation", "detect_record"]


def read_annotation(path: PathType, *, image_size: tuple[int, int]) -> Checker:
    """
    Read manual chart geometry, choosing the reader from the file name.

    Parameters
    ----------
    path
        ``*.json`` (corners), ``*_macbeth.txt`` (Gehler-Shi) or ``*_mask.txt``
        (NUS / WB_sRGB).
    image_size
        ``(height, width)`` of the image in pixels.

    Returns
    -------
    Checker
        In the image's pixels.

    Raises
    ------
    AnnotationError
        Unknown kind of file, or any reader's error.

    Notes
    -----
    Domain/Range: image pixels.

    Examples
    --------
    >>> read_annotation("corners.xml", image_size=(10, 10))
    Traceback (most recent call last):
    ...
    ccharmony.errors.AnnotationError: corners.xml: unknown annotation kind; use a .json corners file, a Gehler <name>_macbeth.txt or a NUS <name>_mask.txt
    """
    name = Path(path).name.lower()
    if name.endswith(".json"):
        return read_corners_json(path, image_size=image_size)
    if name.endswith("_macbeth.txt"):
        return read_macbeth_txt(path, image_size=image_size)
    if name.endswith("_mask.txt"):
        return read_nus_mask_txt(path)
    raise AnnotationError(
        f"{path}: unknown annotation kind; use a .json corners file, a Gehler <name>_macbeth.txt "
        "or a NUS <name>_mask.txt")


def _finite(values: np.ndarray, digits: int) -> list[Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, list):
            return [convert(v) for v in value]
        if isinstance(value, bool):
            return value
        value = float(value)
        return round(value, digits) if math.isfinite(value) else None

    return convert(np.asarray(values).tolist())


def detect_record(
    path: PathType,
    *,
    options: Any = None,
    ground_truth: ArrayLike | None = None,
    overlay_dir: PathType | None = None,
    annotation: PathType | Checker | None = None,
    methods: list[str] | None = None,
) -> dict[str, Any]:
    """
    Locate and sample the chart of one photograph and return its JSON record.

    Parameters
    ----------
    path
        The photograph (anything :func:`ccharmony.io.read_image` reads).
    options
        :class:`ccharmony.io.IngestOptions`; default options when ``None``.
    ground_truth
        ``(3,)`` camera-RGB illuminant; adds ``illuminant_error_deg``.
    overlay_dir
        When given, ``<overlay_dir>/<stem>.png`` shows the detection.
    annotation
        Manual geometry that overrides detection: a :class:`Checker` in
        full-frame pixels or a file for :func:`read_annotation`.
    methods
        Detection backends (default: :data:`ccharmony.checker.detect.DEFAULT_METHODS`).

    Returns
    -------
    dict
        ``file, found`` and, when found, ``method, corners`` (full-frame
        pixels, §4 order), ``patches`` (24 x linear camera RGB, code order),
        ``clipped``, ``illuminant`` (unit vector or ``None`` when no neutral
        patch is usable), ``illuminant_error_deg`` (with ``ground_truth``).

    Raises
    ------
    CCHarmonyError
        Unreadable or unsupported image, bad annotation.

    Notes
    -----
    Range: ``patches`` [0, 1] of white level; corners in pixels of the full
    frame (a half-size read is scaled back).

    Examples
    --------
    >>> detect_record("missing.png")["file"]
    Traceback (most recent call last):
    ...
    ccharmony.errors.UnreadableImageError: missing.png: no such file
    """
    from ccharmony.illuminant import angular_error, illuminant_from_patches
    from ccharmony.io import IngestOptions, read_image

    image = read_image(path, options if options is not None else IngestOptions())
    height, width = image.shape
    original = image.metadata.original_size
    scale = 1.0
    if image.metadata.binned and original[1] > 0:
        scale = width / original[1]  # image pixels per full-frame pixel
    if annotation is None:
        checker = detect(image, methods=methods)
    elif isinstance(annotation, Checker):
        checker = Checker(annotation.corners * scale, annotation.patches * scale,
                          annotation.method, annotation.score)
    else:
        full_size = (round(height / scale), round(width / scale))
        found = read_annotation(annotation, image_size=full_size)
        checker = Checker(found.corners * scale, found.patches * scale, found.method, found.score)
    if overlay_dir is not None:
        from ccharmony.checker.overlay import write_overlay

        write_overlay(Path(overlay_dir) / f"{Path(path).stem}.png", image.RGB, checker)
    record: dict[str, Any] = {"file": str(path), "found": checker is not None}
    if checker is None:
        return record
    patches = sample(image, checker)
    illuminant = illuminant_from_patches(patches)
    record.update({
        "method": checker.method,
        "corners": _finite(checker.corners / scale, 2),
        "patches": _finite(patches.RGB, 6),
        "clipped": [bool(v) for v in patches.clipped],
        "illuminant": _finite(illuminant, 6) if np.all(np.isfinite(illuminant)) else None,
    })
    if ground_truth is not None:
        error = float(angular_error(illuminant, np.asarray(ground_truth, np.float64)))
        record["illuminant_error_deg"] = round(error, 4) if math.isfinite(error) else None
    return record
