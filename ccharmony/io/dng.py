"""
DNG writer
==========

Define a minimal, uncompressed *Digital Negative* (DNG) writer for single-plane
CFA (Bayer) mosaics that LibRaw (and so :mod:`rawpy`) reads back bit-exactly:

-   :func:`write_dng`: write a ``uint16`` CFA mosaic with its black and white
    levels, CFA pattern, XYZ-to-camera colour matrix, as-shot neutral and
    camera make / model.
-   :data:`CFA_PATTERNS`: the supported 2x2 CFA patterns.

The file is a little-endian TIFF with ``PhotometricInterpretation`` = 32803
(CFA), no compression and ``NewSubFileType`` = 0, written by :mod:`tifffile`
with the DNG tags given in :cite:`Adobe2012`.

References
----------
-   :cite:`Adobe2012` : Adobe Systems Incorporated. (2012). Digital Negative
    (DNG) Specification, version 1.4.0.0.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Final

import numpy as np

from ccharmony._types import ArrayLike, PathType
from ccharmony.errors import ConfigError, DatasetError
from ccharmony.io.atomic import atomic_output

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["CFA_PATTERNS", "CALIBRATION_ILLUMINANTS", "write_dng"]

CFA_PATTERNS: Final[dict[str, tuple[int, int, int, int]]] = {
    "RGGB": (0, 1, 1, 2),
    "BGGR": (2, 1, 1, 0),
    "GRBG": (1, 0, 2, 1),
    "GBRG": (1, 2, 0, 1),
}
"""2x2 CFA patterns, row-major, as DNG ``CFAPattern`` colour codes (0 R, 1 G, 2 B)."""

CALIBRATION_ILLUMINANTS: Final[dict[str, int]] = {
    "A": 17,
    "D50": 23,
    "D55": 20,
    "D65": 21,
    "D75": 22,
}
"""EXIF ``LightSource`` codes usable as DNG ``CalibrationIlluminant1``."""

_RATIONAL_DENOMINATOR: Final[int] = 10000


def _rationals(values: ArrayLike, *, signed: bool) -> list[int]:
    """Return ``[numerator, denominator, ...]`` with a fixed denominator (exact, deterministic)."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    limit = 2**31 - 1 if signed else 2**32 - 1
    out: list[int] = []
    for value in flat:
        numerator = int(round(float(value) * _RATIONAL_DENOMINATOR))
        if not (-limit if signed else 0) <= numerator <= limit:
            raise ConfigError(f"DNG rational value out of range: {value!r}")
        fraction = Fraction(numerator, _RATIONAL_DENOMINATOR)
        out.extend([fraction.numerator, fraction.denominator])
    return out


def write_dng(
    path: PathType,
    cfa: ArrayLike,
    *,
    cfa_pattern: str = "RGGB",
    black_level: float = 0,
    white_level: int = 65535,
    colour_matrix: ArrayLike | None = None,
    as_shot_neutral: ArrayLike | None = None,
    make: str = "",
    model: str = "",
    unique_camera_model: str | None = None,
    calibration_illuminant: str = "D65",
) -> Path:
    """
    Write a ``uint16`` CFA mosaic as an uncompressed DNG file, atomically.

    Parameters
    ----------
    path
        Output file (``.dng``); written to a temporary file beside it, then
        renamed over it.
    cfa
        ``(H, W)`` raw digital numbers, black level included, integer values in
        ``[0, white_level]``; ``H`` and ``W`` even.
    cfa_pattern
        2x2 pattern of the mosaic's top-left corner, one of :data:`CFA_PATTERNS`.
    black_level
        Black level in raw digital numbers (the same for every CFA position).
    white_level
        Saturation level in raw digital numbers.
    colour_matrix
        ``(3, 3)`` matrix from CIE XYZ to camera RGB (DNG ``ColorMatrix1``),
        normalised so that the calibration illuminant's white (Y = 1) maps to a
        camera RGB whose largest component is 1. ``None`` writes no matrix.
    as_shot_neutral
        ``(3,)`` camera response to the scene illuminant (DNG
        ``AsShotNeutral``), any positive scale; written normalised to G = 1.
        ``None`` writes no tag.
    make, model
        Camera make and model (TIFF ``Make``, ``Model``).
    unique_camera_model
        DNG ``UniqueCameraModel``; defaults to ``"<make> <model>"``.
    calibration_illuminant
        Illuminant of ``colour_matrix``, a key of :data:`CALIBRATION_ILLUMINANTS`.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    ConfigError
        For a bad mosaic shape or type, an unknown CFA pattern or illuminant,
        or out-of-range levels.
    DatasetError
        When the file cannot be written.

    Notes
    -----
    Domain: ``cfa`` raw digital numbers ``[0, white_level]``; ``colour_matrix``
    XYZ (Y = 1 for the white) to camera RGB; ``as_shot_neutral`` camera RGB.
    Rationals are written with the denominator 10000 (4 decimals).
    The file follows :cite:`Adobe2012` section "CFA"; LibRaw reads back
    ``raw_image_visible`` bit-exactly and the levels, pattern and matrix as
    written.

    References
    ----------
    :cite:`Adobe2012`

    Examples
    --------
    >>> import tempfile, os, rawpy
    >>> mosaic = (np.arange(64 * 64, dtype=np.uint16) % 4096 + 512).reshape(64, 64)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     file = write_dng(os.path.join(folder, "x.dng"), mosaic,
    ...                      black_level=512, white_level=16383)
    ...     with rawpy.imread(str(file)) as raw:
    ...         bool((raw.raw_image_visible == mosaic).all())
    True
    """
    import tifffile

    data = np.asarray(cfa)
    if data.ndim != 2 or data.shape[0] % 2 or data.shape[1] % 2 or data.size == 0:
        raise ConfigError(f"DNG mosaic must be (H, W) with H and W even, got shape {data.shape}")
    if data.dtype != np.uint16:
        if not np.issubdtype(data.dtype, np.integer):
            raise ConfigError(f"DNG mosaic must hold integers, got dtype {data.dtype}")
        if data.min() < 0 or data.max() > 65535:
            raise ConfigError("DNG mosaic values must lie in [0, 65535]")
        data = data.astype(np.uint16)
    if cfa_pattern not in CFA_PATTERNS:
        raise ConfigError(
            f"unknown CFA pattern {cfa_pattern!r}; use one of {', '.join(CFA_PATTERNS)}"
        )
    if calibration_illuminant not in CALIBRATION_ILLUMINANTS:
        raise ConfigError(
            f"unknown calibration illuminant {calibration_illuminant!r}; "
            f"use one of {', '.join(CALIBRATION_ILLUMINANTS)}"
        )
    white = int(white_level)
    if not 0 <= black_level < white <= 65535:
        raise ConfigError(
            f"DNG levels must satisfy 0 <= black < white <= 65535, got black {black_level}, "
            f"white {white_level}"
        )
    unique = unique_camera_model or f"{make} {model}".strip() or "ccharmony"

    tags: list[tuple[int, int | str, int, object, bool]] = [
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, CFA_PATTERNS[cfa_pattern], True),  # CFAPattern
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, unique, True),  # UniqueCameraModel
        (50714, 5, 1, _rationals([black_level], signed=False), True),  # BlackLevel
        (50717, "I", 1, (white,), True),  # WhiteLevel
    ]
    if make:
        tags.append((271, "s", 0, make, True))
    if model:
        tags.append((272, "s", 0, model, True))
    if colour_matrix is not None:
        matrix = np.asarray(colour_matrix, dtype=np.float64)
        if matrix.shape != (3, 3) or not np.isfinite(matrix).all():
            raise ConfigError(f"colour_matrix must be a finite (3, 3) array, got shape {matrix.shape}")
        tags.append((50721, 10, 9, _rationals(matrix, signed=True), True))  # ColorMatrix1
        tags.append(
            (50778, "H", 1, (CALIBRATION_ILLUMINANTS[calibration_illuminant],), True)
        )  # CalibrationIlluminant1
    if as_shot_neutral is not None:
        neutral = np.asarray(as_shot_neutral, dtype=np.float64)
        if neutral.shape != (3,) or not (np.isfinite(neutral).all() and (neutral > 0).all()):
            raise ConfigError(f"as_shot_neutral must be 3 positive numbers, got {neutral!r}")
        tags.append((50728, 5, 3, _rationals(neutral / neutral[1], signed=False), True))

    target = Path(path)
    try:
        with atomic_output(target) as temporary:
            tifffile.imwrite(
                temporary,
                data,
                photometric=32803,
                compression=None,
                subfiletype=0,
                software="ccharmony",
                metadata=None,
                extratags=tags,
            )
    except OSError as error:
        raise DatasetError(f"{target}: cannot write DNG ({error.strerror or error})") from error
    return target
