"""
Chart annotations
=================

Define the readers of hand-made chart geometry and ground-truth files:

-   :func:`read_corners_json`: ``checkers/<image>.json`` (``{"corners": ...}``).
-   :func:`read_macbeth_txt`: Gehler-Shi ``<name>_macbeth.txt``.
-   :func:`read_nus_mask_txt`: WB_sRGB / NUS ``<name>_mask.txt`` patch polygons.
-   :func:`read_patch_boxes_csv`: retinanet-style patch boxes
    (``path,x1,y1,x2,y2,class``).
-   :func:`read_gehler_groundtruth`: Gehler-Shi ``real_illum_568..mat`` or
    ``colourchecker_gamma1_bit12.mat``.
-   :func:`read_nus_groundtruth`: FFCC's NUS-8 illuminant text files.

Every reader returns full-frame pixels in the §4 corner order and code patch
order, and raises :class:`~ccharmony.errors.AnnotationError` with the file
name and the problem.

References
----------
:cite:`Gehler2008` : Gehler, P. V., Rother, C., Blake, A., Minka, T., & Sharp,
    T. (2008). Bayesian color constancy revisited. CVPR 2008.
    doi:10.1109/CVPR.2008.4587765
:cite:`Cheng2014` : Cheng, D., Prasad, D. K., & Brown, M. S. (2014).
    Illuminant estimation for color constancy: why spatial-domain methods work
    and the role of the color distribution. JOSA A, 31(5), 1049-1058.
    doi:10.1364/JOSAA.31.001049
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ccharmony._types import PathType
from ccharmony.checker.detect import checker_from_corners
from ccharmony.checker.geometry import check_quadrilateral, corners_from_patch_centres
from ccharmony.checker.records import Checker
from ccharmony.errors import AnnotationError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "csv_to_code_index",
    "read_corners_json",
    "read_macbeth_txt",
    "read_nus_mask_txt",
    "read_patch_boxes_csv",
    "read_gehler_groundtruth",
    "read_nus_groundtruth",
]

_CORNER_PATCHES = (0, 5, 23, 18)


def csv_to_code_index(index: int) -> int:
    """
    Map a bottom-up (ccHarmony CSV / NUS mask) patch index to the code index.

    Parameters
    ----------
    index
        0..23, rows listed bottom-up (0 = white ... 23 = bluish green).

    Returns
    -------
    int
        Code index (0 = dark skin ... 18 = white ... 23 = black).

    Notes
    -----
    Domain/Range: patch indices 0..23.

    Examples
    --------
    >>> [csv_to_code_index(i) for i in (0, 5, 18, 23)]
    [18, 23, 0, 5]
    """
    return (3 - index // 6) * 6 + index % 6


def _read_text(path: PathType) -> str:
    """Read an annotation file: a regular file only (a FIFO is refused, never waited on), UTF-8."""
    from ccharmony.io.files import read_regular_text

    if not os.path.lexists(path):
        raise AnnotationError(f"{path}: no such annotation file")
    return read_regular_text(path, what="an annotation file", error=AnnotationError)


def _check_geometry(path: PathType, corners: np.ndarray, patches: np.ndarray | None = None) -> None:
    """Refuse corners (and patch quads) that cannot outline a chart: one line naming the file."""
    try:
        check_quadrilateral(corners)
    except ValueError as error:
        raise AnnotationError(f"{path}: {error}") from None
    if patches is not None:
        x, y = patches[..., 0], patches[..., 1]
        areas = 0.5 * np.abs(np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1))
        if not np.all(np.isfinite(areas)) or areas.min() < 1.0:
            raise AnnotationError(f"{path}: patch {int(np.nanargmin(areas))} (code order) has no area; "
                                  "the patch corners are degenerate")


def _centres_to_corners(path: PathType, patches: np.ndarray) -> np.ndarray:
    try:
        return corners_from_patch_centres(patches.mean(axis=1))
    except ValueError as error:
        raise AnnotationError(f"{path}: {error}") from None


def _numbers(path: PathType, text: str, separator: str | None = None) -> list[list[float]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append([float(v) for v in line.replace(",", " ").split(separator)])
        except ValueError:
            raise AnnotationError(f"{path}: line {number} is not numbers: {line.strip()[:60]!r}") from None
    return rows


def _check_inside(path: PathType, points: np.ndarray, image_size: tuple[int, int] | None) -> None:
    if image_size is None:
        return
    height, width = image_size
    margin = 0.05 * max(height, width)
    if (points[..., 0].min() < -margin or points[..., 1].min() < -margin
            or points[..., 0].max() > width + margin or points[..., 1].max() > height + margin):
        raise AnnotationError(
            f"{path}: corners {np.round(points.reshape(-1, 2)[:4], 1).tolist()} lie outside the "
            f"{width}x{height} image; check the file belongs to this image")


def _orient_corners_to_patches(corners: np.ndarray, patches: np.ndarray) -> np.ndarray:
    """Assign each annotated corner to the nearest corner patch (§4 order)."""
    centres = patches.mean(axis=1)
    ordered = np.empty((4, 2))
    remaining = list(range(4))
    for slot, patch in enumerate(_CORNER_PATCHES):
        distances = [np.linalg.norm(corners[i] - centres[patch]) for i in remaining]
        ordered[slot] = corners[remaining.pop(int(np.argmin(distances)))]
    return ordered


def read_corners_json(path: PathType, *, image_size: tuple[int, int] | None = None) -> Checker:
    """
    Read ``checkers/<image>.json``: ``{"corners": [[x, y] x 4]}`` in §4 order.

    Parameters
    ----------
    path
        The JSON file.
    image_size
        ``(height, width)`` of the image, to check that the corners lie in it.

    Returns
    -------
    Checker
        ``method="annotation"``; patch quads from the chart model.

    Raises
    ------
    AnnotationError
        Missing file (or not a regular file), bad or too deeply nested JSON,
        no ``corners`` key, not 4 finite points, corners that cannot outline a
        chart (:func:`ccharmony.checker.geometry.check_quadrilateral`:
        coincident, crossing, concave, under 400 square pixels, a sliver), or
        corners outside the image.

    Notes
    -----
    Domain/Range: full-frame pixels.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "a.json"
    ...     _ = path.write_text('{"corners": [[0, 0], [140, 0], [140, 100], [0, 100]]}')
    ...     read_corners_json(path).corners[2].tolist()
    [140.0, 100.0]
    """
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise AnnotationError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None
    except RecursionError:
        raise AnnotationError(f'{path}: JSON nested too deeply; expected {{"corners": [[x, y] x 4]}}') from None
    if not isinstance(data, dict) or "corners" not in data:
        raise AnnotationError(f'{path}: expected an object with a "corners" key, got {str(data)[:60]}')
    try:
        corners = np.asarray(data["corners"], np.float64)
    except (TypeError, ValueError):
        corners = np.zeros(0)
    if corners.shape != (4, 2) or not np.all(np.isfinite(corners)):
        raise AnnotationError(
            f'{path}: "corners" must be 4 [x, y] pairs of numbers, got {str(data["corners"])[:80]}')
    _check_geometry(path, corners)
    _check_inside(path, corners, image_size)
    return checker_from_corners(corners, method="annotation")


_GEHLER_REFERENCE = {"8D5U": (4064.0, 2704.0), "IMG_": (4368.0, 2912.0)}
"""Full raw frame ``(width, height)`` of the Gehler-Shi cameras (Canon 1D, 5D),
for the few coordinate files that lack their first line."""


def read_macbeth_txt(path: PathType, *, image_size: tuple[int, int]) -> Checker:
    """
    Read a Gehler-Shi ``<name>_macbeth.txt`` and scale it to the image.

    Parameters
    ----------
    path
        The text file: line 1 = reference frame ``width height``, lines 2-5 =
        the chart corners ``x y``, then 24 x 4 patch corners ``x y`` (patches
        in code order, corners clockwise from top-left). 22 of the 592
        Gehler files lack line 1; for those the frame of the camera named by
        the file (``8D5U*`` Canon 1D, ``IMG_*`` Canon 5D) is used, turned to
        the image's orientation.
    image_size
        ``(height, width)`` of the image the checker is wanted for.

    Returns
    -------
    Checker
        ``method="annotation"``, the file's own patch quads scaled by
        ``width / reference width`` and ``height / reference height``; the
        corners sorted into §4 order by their nearest corner patch.

    Raises
    ------
    AnnotationError
        Missing file, non-numbers, wrong line count, bad reference size, or
        an aspect ratio that does not match the image.

    Notes
    -----
    Domain/Range: full-frame pixels of the given image.

    References
    ----------
    :cite:`Gehler2008`

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from ccharmony.checker.geometry import patch_quads_from_corners
    >>> corners = np.array([[0, 0], [140, 0], [140, 100], [0, 100]])
    >>> lines = ["280 200"] + [f"{x} {y}" for x, y in corners[[0, 1, 3, 2]]]
    >>> lines += [f"{x} {y}" for x, y in patch_quads_from_corners(corners).reshape(-1, 2)]
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "a_macbeth.txt"
    ...     _ = path.write_text("\\n".join(lines))
    ...     read_macbeth_txt(path, image_size=(100, 140)).corners.tolist()
    [[0.0, 0.0], [70.0, 0.0], [70.0, 50.0], [0.0, 50.0]]
    """
    rows = _numbers(path, _read_text(path))
    height, width = image_size
    if len(rows) == 100 and all(len(row) == 2 for row in rows):
        prefix = Path(path).name[:4]
        if prefix not in _GEHLER_REFERENCE:
            raise AnnotationError(
                f"{path}: the reference size line is missing and the camera is unknown "
                f"(known: {sorted(_GEHLER_REFERENCE)})")
        long_side, short_side = _GEHLER_REFERENCE[prefix]
        rows = [[long_side, short_side] if width >= height else [short_side, long_side], *rows]
    if len(rows) != 101 or any(len(row) != 2 for row in rows):
        raise AnnotationError(
            f"{path}: expected 101 lines of 'x y' (size, 4 corners, 96 patch corners), got "
            f"{len(rows)} lines")
    reference_width, reference_height = rows[0]
    if reference_width <= 0 or reference_height <= 0:
        raise AnnotationError(f"{path}: line 1 must be the positive reference size, got {rows[0]}")
    height, width = image_size
    if abs(width / reference_width - height / reference_height) > 0.02 * width / reference_width:
        raise AnnotationError(
            f"{path}: reference frame {reference_width:g}x{reference_height:g} does not have the "
            f"aspect ratio of the {width}x{height} image (rotated or cropped image?)")
    scale = np.array([width / reference_width, height / reference_height])
    points = np.asarray(rows[1:], np.float64) * scale
    patches = points[4:].reshape(24, 4, 2)
    corners = _orient_corners_to_patches(points[:4], patches)
    _check_geometry(path, corners, patches)
    return Checker(corners=corners, patches=patches, method="annotation")


def read_nus_mask_txt(path: PathType) -> Checker:
    """
    Read a NUS / WB_sRGB ``<name>_mask.txt`` chart annotation.

    Parameters
    ----------
    path
        Line 1 = chart box ``x, y, w, h``; then per patch a line of 4
        ``x`` and a line of 4 ``y`` relative to the box origin; patches from
        white (bottom-left), left to right, bottom row to top.

    Returns
    -------
    Checker
        ``method="annotation"``, patches in code order; corners fitted to
        the patch centres with the chart model.

    Raises
    ------
    AnnotationError
        Missing file, non-numbers or wrong layout.

    Notes
    -----
    Domain/Range: pixels of the annotated (rendered) image.

    References
    ----------
    :cite:`Cheng2014`

    Examples
    --------
    >>> csv_to_code_index(0)
    18
    """
    rows = _numbers(path, _read_text(path))
    if len(rows) != 49 or len(rows[0]) != 4 or any(len(row) != 4 for row in rows[1:]):
        raise AnnotationError(
            f"{path}: expected a box line and 48 lines of 4 numbers, got {len(rows)} lines")
    origin = np.array(rows[0][:2])
    patches = np.empty((24, 4, 2))
    for index in range(24):
        xs, ys = rows[1 + 2 * index], rows[2 + 2 * index]
        patches[csv_to_code_index(index)] = np.stack([xs, ys], axis=-1) + origin
    corners = _centres_to_corners(path, patches)
    _check_geometry(path, corners, patches)
    return Checker(corners=corners, patches=patches, method="annotation")


def read_patch_boxes_csv(path: PathType, image: str) -> Checker:
    """
    Read one image's 24 patch boxes from a retinanet-style CSV.

    Parameters
    ----------
    path
        Rows ``image_path,x1,y1,x2,y2,class`` with classes 0-23 in the
        bottom-up order of :func:`csv_to_code_index` (class 0 = white). This
        is the order of Zotkin's NUS-8 ``annotations.csv``: read in that order
        its neutral row passes the invariant check of
        :mod:`ccharmony.checker.orientation`, read in code order it fails.
    image
        File name of the image (matched against the end of ``image_path``).

    Returns
    -------
    Checker
        ``method="annotation"``, axis-aligned patch boxes, corners fitted to
        their centres with the chart model.

    Raises
    ------
    AnnotationError
        Missing file, bad rows, or the image does not have 24 boxes.

    Notes
    -----
    Domain/Range: pixels of the annotated image.

    Examples
    --------
    >>> csv_to_code_index(23)
    5
    """
    boxes: dict[int, list[float]] = {}
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        fields = line.strip().split(",")
        if len(fields) != 6:
            if line.strip():
                raise AnnotationError(f"{path}: line {number} must have 6 fields, got {len(fields)}")
            continue
        if Path(fields[0]).name != Path(image).name:
            continue
        try:
            x1, y1, x2, y2 = (float(v) for v in fields[1:5])
            label = int(fields[5])
        except ValueError:
            raise AnnotationError(f"{path}: line {number} is not path,x1,y1,x2,y2,class") from None
        boxes[label] = [x1, y1, x2, y2]
    if sorted(boxes) != list(range(24)):
        raise AnnotationError(f"{path}: {image} has boxes for classes {sorted(boxes)}, expected 0-23")
    patches = np.empty((24, 4, 2))
    for label, (x1, y1, x2, y2) in boxes.items():
        patches[csv_to_code_index(label)] = [[x1, y1], [x2, y1], [x2, y2], [x1, y2]]
    corners = _centres_to_corners(path, patches)
    _check_geometry(path, corners, patches)
    return Checker(corners=corners, patches=patches, method="annotation")


def read_gehler_groundtruth(path: PathType) -> NDArray[np.float64]:
    """
    Read Gehler-Shi ground truth from a ``.mat`` file (variable ``real_rgb``).

    Parameters
    ----------
    path
        ``real_illum_568..mat`` (568 x 3 illuminants) or
        ``colourchecker_gamma1_bit12.mat`` (568 x 24 x 3 patch values).

    Returns
    -------
    NDArray
        float64 array as stored: ``(568, 3)`` or ``(568, 24, 3)``, rows in
        ``folds.mat`` ``Xfiles`` order, 12-bit scale (not normalised).

    Raises
    ------
    AnnotationError
        Missing or unreadable file, or no ``real_rgb`` of a known shape.

    Notes
    -----
    Range: 12-bit camera values; the Canon 5D rows (87 onwards) still include
    its black level of 129.

    References
    ----------
    :cite:`Gehler2008`

    Examples
    --------
    >>> read_gehler_groundtruth("missing.mat")
    Traceback (most recent call last):
    ...
    ccharmony.errors.AnnotationError: missing.mat: no such ground-truth file
    """
    from scipy.io import loadmat  # type: ignore[import-untyped]  # scipy comes with scikit-image

    if not os.path.lexists(path):
        raise AnnotationError(f"{path}: no such ground-truth file")
    from ccharmony.io.files import check_regular

    check_regular(path, what="a ground-truth file", error=AnnotationError)
    try:
        data = loadmat(str(path))
    except Exception as error:  # noqa: BLE001 - scipy raises many kinds
        raise AnnotationError(f"{path}: not a readable MATLAB file ({error})") from None
    if "real_rgb" not in data:
        raise AnnotationError(f"{path}: no 'real_rgb' variable (has {sorted(k for k in data if not k.startswith('__'))})")
    values = np.asarray(data["real_rgb"], np.float64)
    if values.ndim not in (2, 3) or values.shape[-1] != 3:
        raise AnnotationError(f"{path}: 'real_rgb' has shape {values.shape}, expected (n, 3) or (n, 24, 3)")
    return values


def read_nus_groundtruth(path: PathType) -> NDArray[np.float64]:
    """
    Read an FFCC NUS-8 ground-truth illuminant (three numbers, one per line).

    Parameters
    ----------
    path
        The ``0000NN.txt`` file.

    Returns
    -------
    NDArray
        ``(3,)`` float64 camera-RGB unit vector.

    Raises
    ------
    AnnotationError
        Missing file, not three positive numbers.

    Notes
    -----
    Range: unit vector.

    References
    ----------
    :cite:`Cheng2014`

    Examples
    --------
    >>> read_nus_groundtruth("missing.txt")
    Traceback (most recent call last):
    ...
    ccharmony.errors.AnnotationError: missing.txt: no such annotation file
    """
    values = np.array([v for row in _numbers(path, _read_text(path)) for v in row], np.float64)
    if values.shape != (3,) or not np.all(np.isfinite(values)) or np.any(values < 0) or not values.any():
        raise AnnotationError(f"{path}: expected 3 non-negative numbers, got {values.tolist()[:6]}")
    return values / np.linalg.norm(values)
