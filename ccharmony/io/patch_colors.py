"""
Patch-colour files
==================

Read the ColorChecker patch-colour tables of ccHarmony :cite:`Niu2023`:

-   :func:`read_patch_colors_csv`: one ``patch_colors/<image>.csv`` file
    (24 rows ``r,g,b``, ccHarmony row order) in code order.
-   :func:`read_standard_srgb`: the ColorChecker 2005 reference colours in
    8-bit sRGB that ccHarmony uses as its "standard illumination" target.
-   :func:`csv_to_code_order` / :func:`code_to_csv_order`: the row permutation.

ccHarmony lists the chart bottom-up (CSV rows 0-5 are white ... black, rows
18-23 dark skin ... bluish green); the code uses colour-science's order (0 dark
skin ... 18 white ... 23 black). CSV row ``i`` is code index
``(3 - i // 6) * 6 + i % 6``.

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from ccharmony._types import NDArray, PathType
from ccharmony.errors import AnnotationError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "CSV_TO_CODE",
    "csv_to_code_order",
    "code_to_csv_order",
    "read_patch_colors_csv",
    "read_standard_srgb",
]

CSV_TO_CODE: NDArray[np.intp] = np.array([(3 - i // 6) * 6 + i % 6 for i in range(24)], dtype=np.intp)
"""Code index of each ccHarmony CSV row: ``CSV_TO_CODE[i] = (3 - i // 6) * 6 + i % 6``."""

_STANDARD_FILE = "standard_colorchecker2005_srgb.csv"


def csv_to_code_order(RGB: np.ndarray) -> np.ndarray:
    """
    Reorder ``(24, ...)`` rows from ccHarmony CSV order to code order.

    Parameters
    ----------
    RGB
        ``(24, ...)`` array in ccHarmony CSV row order.

    Returns
    -------
    :class:`numpy.ndarray`
        A new array in code (colour-science) order.

    Examples
    --------
    >>> csv_to_code_order(np.arange(24))[[0, 18, 23]]
    array([18,  0,  5])
    """
    RGB = np.asarray(RGB)
    out = np.empty_like(RGB)
    out[CSV_TO_CODE] = RGB
    return out


def code_to_csv_order(RGB: np.ndarray) -> np.ndarray:
    """
    Reorder ``(24, ...)`` rows from code order to ccHarmony CSV order.

    Parameters
    ----------
    RGB
        ``(24, ...)`` array in code (colour-science) order.

    Returns
    -------
    :class:`numpy.ndarray`
        A new array in ccHarmony CSV row order.

    Examples
    --------
    >>> code_to_csv_order(csv_to_code_order(np.arange(24))).tolist() == list(range(24))
    True
    """
    return np.asarray(RGB)[CSV_TO_CODE].copy()


def _parse_rows(text: str, path: str) -> list[list[float]]:
    rows: list[list[float]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        fields = [field.strip() for field in line.split(",")]
        if number == 1 and [field.lower() for field in fields] == ["r", "g", "b"]:
            continue  # optional header
        if len(fields) != 3:
            raise AnnotationError(
                f"{path}: line {number} has {len(fields)} fields, expected 3 (r,g,b): {line[:60]!r}"
            )
        try:
            rows.append([float(field) for field in fields])
        except ValueError:
            raise AnnotationError(
                f"{path}: line {number} is not numeric, expected 'r,g,b' floats: {line[:60]!r}"
            ) from None
    if len(rows) != 24:
        raise AnnotationError(f"{path}: {len(rows)} patch rows, expected 24 (one per ColorChecker patch)")
    return rows


def read_patch_colors_csv(path: PathType, *, dtype: DTypeLike = np.float32) -> np.ndarray:
    """
    Read a ccHarmony patch-colour file into code order.

    Parameters
    ----------
    path
        A ``patch_colors/<image>.csv`` file: 24 rows ``r,g,b`` (an optional
        ``r,g,b`` header line is skipped), ccHarmony row order.
    dtype
        Floating type of the result; ``np.float64`` keeps the file's digits
        (needed to reproduce the published mappings bit for bit).

    Returns
    -------
    :class:`numpy.ndarray`
        ``(24, 3)`` patch colours in code order.

    Raises
    ------
    AnnotationError
        The file is missing, unreadable, has a row count other than 24, a row
        without three fields, or a non-numeric or non-finite value.

    Notes
    -----
    Domain/Range: 8-bit sRGB values as floats, [0, 255]; values are returned
    as read (not clipped).

    References
    ----------
    :cite:`Niu2023`

    Examples
    --------
    >>> import tempfile
    >>> rows = "\\n".join(f"{i},{i},{i}" for i in range(24))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "x.csv"
    ...     _ = path.write_text(rows)
    ...     RGB = read_patch_colors_csv(path)
    >>> RGB.shape, RGB.dtype, RGB[18].tolist(), RGB[0].tolist()
    ((24, 3), dtype('float32'), [0.0, 0.0, 0.0], [18.0, 18.0, 18.0])
    """
    from ccharmony.io.files import read_regular_text

    name = str(path)
    # A regular file only: a FIFO named like a CSV is refused, never waited on.
    text = read_regular_text(path, what="a patch-colours CSV", error=AnnotationError, encoding="utf-8-sig")
    RGB = np.asarray(_parse_rows(text, name), dtype=np.float64)
    if not np.all(np.isfinite(RGB)):
        raise AnnotationError(f"{name}: non-finite patch colour value, expected finite floats in [0, 255]")
    return csv_to_code_order(RGB).astype(dtype)


def read_standard_srgb(*, dtype: DTypeLike = np.float32) -> np.ndarray:
    """
    Return ccHarmony's standard ColorChecker 2005 colours in 8-bit sRGB, code order.

    Parameters
    ----------
    dtype
        Floating type of the result.

    Returns
    -------
    :class:`numpy.ndarray`
        ``(24, 3)`` reference colours in code order (0 dark skin ... 18 white).

    Notes
    -----
    Range: 8-bit sRGB integer values stored as floats, [0, 255]. The table
    ships as package data (MIT, (c) 2022 BCMI).

    References
    ----------
    :cite:`Niu2023`

    Examples
    --------
    >>> read_standard_srgb()[[0, 18]].tolist()
    [[116.0, 81.0, 67.0], [245.0, 245.0, 243.0]]
    """
    resource = resources.files("ccharmony") / "data" / _STANDARD_FILE
    text = resource.read_text(encoding="utf-8")
    RGB = np.asarray(_parse_rows(text, str(resource)), dtype=np.float64)
    return csv_to_code_order(RGB).astype(dtype)
