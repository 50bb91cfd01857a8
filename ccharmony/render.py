"""
Rendering
=========

Render linear camera RGB to 8-bit sRGB with one fixed pipeline that keeps
each photo's illumination cast:

-   :class:`RenderParameters`: the fixed per-camera pipeline (daylight gains,
    camera -> linear sRGB matrix, exposure), recordable with ``to_dict``.
-   :func:`rendering_parameters`: build them from a camera matrix.
-   :func:`render_srgb_float`: linear camera RGB -> sRGB values in [0, 255].
-   :func:`render_srgb`: the same, rounded to uint8.
-   :func:`linearise_srgb_float`: the inverse of :func:`render_srgb_float`
    for unclipped values (used to compare 8-bit transfers with physics).

The pipeline, the same for every image of a camera (no per-image white
balance, so a tungsten scene stays orange and a shade scene stays blue):

1.  multiply by ``exposure`` and by fixed daylight gains: the camera RGB of a
    D65 white, ``w = M_XYZ->cam @ XYZ_D65``, inverted and normalised to green,
    ``gains = w_G / w``;
2.  convert white-balanced camera RGB to linear sRGB with the matrix
    ``inv(N)`` where ``N = M_XYZ->cam @ M_sRGB->XYZ`` with each row divided by
    its sum (so the balanced D65 white ``(1, 1, 1)`` stays ``(1, 1, 1)``, as
    dcraw/LibRaw normalise ``rgb_cam``);
3.  clip to [0, 1], encode with the sRGB transfer function (IEC 61966-2-1),
    scale to [0, 255] and, for 8-bit output, round half to even (``np.rint``).

Without a camera matrix the camera RGB is taken as linear sRGB: identity
matrix and unit gains (``RenderParameters.camera_matrix_known`` is False, and
the dataset card should say so).

References
----------
-   :cite:`IEC61966-2-1` : IEC (1999). IEC 61966-2-1: Multimedia systems and
    equipment - Colour measurement and management - Part 2-1: Colour
    management - Default RGB colour space - sRGB.
-   :cite:`Adobe2012` : Adobe Systems (2012). Digital Negative (DNG)
    Specification, version 1.4.0.0, chapter 6 "Mapping Camera Color Space to
    CIE XYZ Space".
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import colour
import cv2
import numpy as np

from ccharmony._types import ArrayLike, NDArrayFloat, NDArrayUInt8
from ccharmony.errors import ConfigError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "PIPELINE_DESCRIPTION",
    "RenderParameters",
    "rendering_parameters",
    "render_srgb_float",
    "render_srgb",
    "linearise_srgb_float",
]

PIPELINE_DESCRIPTION = (
    "Real images are rendered from linear camera RGB with one fixed pipeline per camera: "
    "fixed daylight (D65) white-balance gains derived from the camera matrix (no per-image "
    "white balance, so each photo keeps its illumination cast), the camera -> linear sRGB "
    "matrix, clipping to [0, 1], the sRGB transfer function (IEC 61966-2-1) and rounding to "
    "8 bits. Cameras without a known matrix are rendered with an identity matrix and unit gains."
)
"""One paragraph for the dataset card."""

_BLOCK_PIXELS = 1 << 18
_SRGB = colour.RGB_COLOURSPACES["sRGB"]


@dataclass(frozen=True, eq=False)
class RenderParameters:
    """
    Hold the fixed rendering pipeline of one camera.

    Parameters
    ----------
    gains
        ``(3,)`` daylight white-balance gains (G = 1).
    matrix
        ``(3, 3)`` white-balanced camera RGB -> linear sRGB.
    exposure
        Linear scale applied before the gains.
    camera_matrix_known
        False when the identity fallback was used.

    Notes
    -----
    Domain: linear camera RGB, [0, 1] of white level. Range: sRGB values
    [0, 255].
    """

    gains: np.ndarray
    matrix: np.ndarray
    exposure: float = 1.0
    camera_matrix_known: bool = True

    def __post_init__(self) -> None:
        gains = np.array(self.gains, dtype=np.float64).reshape(-1)
        matrix = np.array(self.matrix, dtype=np.float64)
        if gains.shape != (3,) or not np.all(np.isfinite(gains)) or np.any(gains <= 0):
            raise ConfigError(f"gains: expected 3 positive finite values, got {self.gains!r}")
        if matrix.shape != (3, 3) or not np.all(np.isfinite(matrix)):
            raise ConfigError(f"matrix: expected a finite (3, 3) matrix, got shape {matrix.shape}")
        if not (np.isfinite(self.exposure) and self.exposure > 0):
            raise ConfigError(f"exposure: expected a positive finite number, got {self.exposure!r}")
        gains.setflags(write=False)
        matrix.setflags(write=False)
        object.__setattr__(self, "gains", gains)
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "exposure", float(self.exposure))

    @property
    def combined(self) -> np.ndarray:
        """Return the ``(3, 3)`` camera RGB -> linear sRGB matrix with gains and exposure."""
        return self.matrix @ np.diag(self.gains * self.exposure)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe record (repr-exact floats)."""
        return {
            "gains": self.gains.tolist(),
            "matrix": self.matrix.tolist(),
            "exposure": self.exposure,
            "camera_matrix_known": self.camera_matrix_known,
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> RenderParameters:
        """Rebuild from :meth:`to_dict` output; raise ConfigError on a bad record."""
        try:
            return cls(
                gains=np.asarray(record["gains"], dtype=np.float64),
                matrix=np.asarray(record["matrix"], dtype=np.float64),
                exposure=float(record.get("exposure", 1.0)),
                camera_matrix_known=bool(record.get("camera_matrix_known", True)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"render record: {error.__class__.__name__}: {error}") from None


def rendering_parameters(
    camera_matrix: ArrayLike | None = None,
    *,
    daylight_gains: ArrayLike | None = None,
    exposure: float = 1.0,
) -> RenderParameters:
    """
    Build the fixed rendering pipeline of a camera.

    Parameters
    ----------
    camera_matrix
        ``(3, 3)`` XYZ (D65) -> camera RGB matrix (DNG ColorMatrix for D65,
        LibRaw ``rgb_xyz_matrix``), any overall scale; ``None`` or all zeros
        (LibRaw's unknown camera) gives the identity fallback.
    daylight_gains
        ``(3,)`` gains to use instead of those derived from the matrix
        (normalised to G = 1).
    exposure
        Linear scale applied to camera RGB before everything else.

    Returns
    -------
    RenderParameters

    Raises
    ------
    ConfigError
        A singular or non-finite camera matrix, or non-positive gains.

    Notes
    -----
    ``gains = w_G / w`` with ``w = M_XYZ->cam @ XYZ_D65``; ``matrix =
    inv(rownorm(M_XYZ->cam @ M_sRGB->XYZ))``.

    References
    ----------
    :cite:`Adobe2012`, :cite:`IEC61966-2-1`

    Examples
    --------
    >>> M_XYZ_to_sRGB = np.linalg.inv(colour.RGB_COLOURSPACES["sRGB"].matrix_RGB_to_XYZ)
    >>> P = rendering_parameters(np.diag([0.5, 1.0, 2.0]) @ M_XYZ_to_sRGB)
    >>> np.round(P.gains, 6).tolist(), np.allclose(P.matrix, np.eye(3))
    ([2.0, 1.0, 0.5], True)
    """
    known = camera_matrix is not None and np.any(np.asarray(camera_matrix, dtype=np.float64) != 0)
    if known:
        M = np.asarray(camera_matrix, dtype=np.float64)
        if M.shape != (3, 3) or not np.all(np.isfinite(M)):
            raise ConfigError(f"camera_matrix: expected a finite (3, 3) matrix, got shape {M.shape}")
        N = M @ _SRGB.matrix_RGB_to_XYZ
        row_sums = N.sum(axis=1)
        if np.any(row_sums <= 0) or abs(np.linalg.det(N)) < 1e-12:
            raise ConfigError(
                "camera_matrix: singular or gives a non-positive camera response to D65 white; "
                "expected an XYZ -> camera matrix"
            )
        white = row_sums  # camera RGB of the sRGB (D65) white, M @ XYZ_D65
        gains = white[1] / white
        matrix = np.linalg.inv(N / row_sums[:, None])
    else:
        gains = np.ones(3)
        matrix = np.eye(3)
    if daylight_gains is not None:
        gains = np.asarray(daylight_gains, dtype=np.float64).reshape(-1)
        if gains.shape != (3,) or not np.all(gains > 0):
            raise ConfigError(f"daylight_gains: expected 3 positive values, got {daylight_gains!r}")
        gains = gains / gains[1]
    return RenderParameters(gains, matrix, exposure, camera_matrix_known=bool(known))


def _parameters(
    camera_matrix: ArrayLike | RenderParameters | None,
    daylight_gains: ArrayLike | None,
    exposure: float,
) -> RenderParameters:
    if isinstance(camera_matrix, RenderParameters):
        return camera_matrix
    return rendering_parameters(camera_matrix, daylight_gains=daylight_gains, exposure=exposure)


def render_srgb_float(
    RGB: ArrayLike,
    *,
    camera_matrix: ArrayLike | RenderParameters | None,
    daylight_gains: ArrayLike | None = None,
    exposure: float = 1.0,
    block_pixels: int = _BLOCK_PIXELS,
) -> NDArrayFloat:
    """
    Render linear camera RGB to sRGB values in [0, 255] (not rounded).

    Parameters
    ----------
    RGB
        ``(..., 3)`` linear camera RGB, not white balanced.
    camera_matrix
        XYZ -> camera matrix, a :class:`RenderParameters`, or ``None`` for the
        identity fallback.
    daylight_gains, exposure
        See :func:`rendering_parameters` (ignored when ``camera_matrix`` is a
        :class:`RenderParameters`).
    block_pixels
        Pixels processed at a time (bounded float64 work arrays).

    Returns
    -------
    :class:`numpy.ndarray`
        float32 array of the same shape, [0, 255]; NaN stays NaN.

    Notes
    -----
    Domain: linear camera RGB, [0, 1] of white level. Range: [0, 255].

    References
    ----------
    :cite:`IEC61966-2-1`

    Examples
    --------
    >>> np.round(render_srgb_float(np.array([0.0, 0.214041, 1.0]) , camera_matrix=None), 2)
    array([   0. ,  127.5,  255. ], dtype=float32)
    """
    P = _parameters(camera_matrix, daylight_gains, exposure)
    array = np.asarray(RGB)
    if array.ndim == 0 or array.shape[-1] != 3:
        raise ValueError(f"RGB must have shape (..., 3), got {array.shape}")
    flat = array.reshape(-1, 3)
    out = np.empty(flat.shape, dtype=np.float32)
    M = P.combined.T
    step = max(1, int(block_pixels))
    for start in range(0, flat.shape[0], step):
        block = np.einsum("nk,kc->nc", flat[start : start + step].astype(np.float64), M)
        np.clip(block, 0.0, 1.0, out=block)
        out[start : start + step] = colour.cctf_encoding(block, function="sRGB") * 255.0
    return out.reshape(array.shape)


def render_srgb(
    RGB: ArrayLike,
    *,
    camera_matrix: ArrayLike | RenderParameters | None,
    daylight_gains: ArrayLike | None = None,
    exposure: float = 1.0,
    block_pixels: int = _BLOCK_PIXELS,
) -> NDArrayUInt8:
    """
    Render linear camera RGB to 8-bit sRGB with the fixed pipeline.

    Parameters
    ----------
    RGB
        ``(H, W, 3)`` (or any ``(..., 3)``) linear camera RGB.
    camera_matrix, daylight_gains, exposure
        See :func:`render_srgb_float`.
    block_pixels
        Pixels processed at a time (bounded float64 work arrays; no full-image
        float temporary).

    Returns
    -------
    :class:`numpy.ndarray`
        uint8, same shape, ``rint`` of :func:`render_srgb_float`; NaN gives 0.

    Notes
    -----
    Domain: linear camera RGB, [0, 1] of white level. Range: [0, 255].

    The result is bit-identical to ``rint(render_srgb_float(RGB))``, computed
    faster: after the (unchanged, float64) matrix product, the clipped linear
    value is looked up in a table over :data:`_LUT_CELLS` equal cells of
    [0, 1] whose entries are the exact 8-bit outputs; the few values that fall
    in a cell containing an output step (about 2.5e-4 of uniformly spread
    values) are evaluated with the sRGB transfer function itself.

    References
    ----------
    :cite:`IEC61966-2-1`

    Examples
    --------
    >>> render_srgb(np.full((1, 1, 3), 0.5, np.float32), camera_matrix=None)
    array([[[188, 188, 188]]], dtype=uint8)
    """
    P = _parameters(camera_matrix, daylight_gains, exposure)
    array = np.asarray(RGB)
    if array.ndim == 0 or array.shape[-1] != 3:
        raise ValueError(f"RGB must have shape (..., 3), got {array.shape}")
    if array.size == 0:
        return np.zeros(array.shape, dtype=np.uint8)
    # Row bands of an (H, W, 3) image: a cropped view is never copied whole.
    bands = array.reshape(-1, array.shape[-2], 3) if array.ndim >= 3 else array.reshape(-1, 1, 3)
    out = np.empty(bands.shape, dtype=np.uint8)
    table = _srgb8_table()
    cells = float(_LUT_CELLS)
    # Scaling the matrix by a power of two scales every product and sum exactly,
    # so ``block`` is exactly ``cells`` times the linear sRGB of render_srgb_float.
    M = P.combined.T * cells
    step = max(1, int(block_pixels) // bands.shape[1])
    for start in range(0, bands.shape[0], step):
        pixels = bands[start : start + step]
        block64 = pixels.astype(np.float64).reshape(-1, 3)
        if np.abs(pixels).max(initial=0.0) <= _FAST_LIMIT:  # finite, moderate: no NaN / inf
            # OpenCV's product may differ from einsum's in the last bits: well below
            # one table cell, and values in the cells next to an output step are
            # recomputed below from the exact product.
            block = cv2.transform(block64.reshape(-1, 1, 3), M.T).reshape(-1, 3)
            np.minimum(block, cells, out=block)
            exact = False
        else:
            block = np.einsum("nk,kc->nc", block64, M)
            # fmax / fmin map NaN to 0 (render_srgb_float's NaN also ends as 0).
            np.fmax(block, 0.0, out=block)
            np.fmin(block, cells, out=block)
            exact = True
        codes = np.take(table, block.astype(np.intp), mode="clip")  # index < 0 -> cell 0
        steps = np.flatnonzero(codes > 255)
        if steps.size:
            rows, channels = np.divmod(steps, 3)
            if exact:
                values = block[rows, channels]
            else:
                product = np.einsum("nk,kc->nc", block64[rows], M)  # the exact product
                values = np.fmin(np.fmax(product[np.arange(rows.size), channels], 0.0), cells)
            codes.reshape(-1)[steps] = _srgb8_exact(values / cells)
        out[start : start + step] = codes.reshape(pixels.shape)
    return out.reshape(array.shape)


_LUT_CELLS = 1 << 20
"""Cells of [0, 1] in :func:`render_srgb`'s look-up table (a power of two)."""

_FAST_LIMIT = 1e3
"""Largest absolute input value of :func:`render_srgb`'s OpenCV path (product error << one cell)."""


def _srgb8_exact(values: np.ndarray) -> np.ndarray:
    """Return ``render_srgb``'s 8-bit output of clipped linear sRGB ``values`` (float64)."""
    encoded = (colour.cctf_encoding(values, function="sRGB") * 255.0).astype(np.float32)
    np.rint(encoded, out=encoded)
    np.nan_to_num(encoded, copy=False, nan=0.0)
    return encoded.astype(np.uint8)


@functools.lru_cache(maxsize=1)
def _srgb8_table() -> np.ndarray:
    """
    Return the ``(cells + 1,)`` uint16 table of :func:`render_srgb`.

    Entry ``j`` is the exact 8-bit output for every value in
    ``[j / cells, (j + 1) / cells)`` when it is the same at both ends of the cell
    and no output step lies within 1e-12 of the cell; otherwise 256 (evaluate
    exactly). The steps are found by bisection over the float64 numbers of
    [0, 1], using the very function :func:`render_srgb_float` evaluates.
    """
    cells = _LUT_CELLS
    starts = np.arange(cells + 1, dtype=np.float64) / cells
    table = _srgb8_exact(starts).astype(np.uint16)
    ends = _srgb8_exact(np.nextafter(starts[1:], 0.0))
    table[:-1][ends != table[:-1]] = 256
    # The smallest float64 reaching each level 1..255 (positive doubles sort as their bits).
    low = np.zeros(255, dtype=np.int64)
    high = np.full(255, np.float64(1.0).view(np.int64), dtype=np.int64)
    levels = np.arange(1, 256)
    while np.any(high - low > 1):
        middle = low + (high - low) // 2
        reached = _srgb8_exact(middle.view(np.float64)) >= levels
        high = np.where(reached, middle, high)
        low = np.where(reached, low, middle)
    for threshold in high.view(np.float64):
        first = max(int(np.floor((threshold - 1e-12) * cells)) - 1, 0)
        last = min(int(np.floor((threshold + 1e-12) * cells)) + 1, cells - 1)
        table[first : last + 1] = 256
    table[cells] = _srgb8_exact(np.array([1.0]))[0]
    table.setflags(write=False)
    return table


def linearise_srgb_float(
    RGB: ArrayLike,
    *,
    camera_matrix: ArrayLike | RenderParameters | None,
    daylight_gains: ArrayLike | None = None,
    exposure: float = 1.0,
) -> NDArrayFloat:
    """
    Invert :func:`render_srgb_float` back to linear camera RGB.

    Parameters
    ----------
    RGB
        ``(..., 3)`` sRGB values, [0, 255].
    camera_matrix, daylight_gains, exposure
        The same pipeline as used for rendering.

    Returns
    -------
    :class:`numpy.ndarray`
        float32 linear camera RGB. Exact for colours that were not clipped.

    Notes
    -----
    Domain: [0, 255]. Range: linear camera RGB, [0, 1] of white level.

    Examples
    --------
    >>> x = np.array([0.1, 0.2, 0.3])
    >>> np.allclose(linearise_srgb_float(render_srgb_float(x, camera_matrix=None), camera_matrix=None), x)
    True
    """
    P = _parameters(camera_matrix, daylight_gains, exposure)
    values = np.asarray(RGB, dtype=np.float64)
    linear = colour.cctf_decoding(values / 255.0, function="sRGB")
    return (linear @ np.linalg.inv(P.combined).T).astype(np.float32)
