"""
Image records
=============

Define the records that the readers of :mod:`ccharmony.io` return:

-   :class:`ImageMetadata`: where a linear image came from and how to interpret it.
-   :class:`LinearImage`: linear camera RGB, a clipped-pixel mask and metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ccharmony._types import NDArrayBool, NDArrayFloat

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["SourceKind", "ImageMetadata", "LinearImage"]

SourceKind = Literal["camera-raw", "linear", "bayer", "rendered"]
"""How the pixels were stored: a camera RAW file read by LibRaw, a linear
16/12-bit PNG/TIFF, a single-channel Bayer mosaic, or an 8/16-bit rendered sRGB
image decoded with the sRGB transfer function."""


@dataclass(frozen=True)
class ImageMetadata:
    """
    Describe where a :class:`LinearImage` came from.

    Parameters
    ----------
    path
        The file as given.
    source_kind
        One of ``camera-raw``, ``linear``, ``bayer``, ``rendered``.
    make, model
        Camera make and model, ``""`` when unknown.
    black_level
        Per-channel black level in raw digital numbers (R, G, B), subtracted.
    white_level
        Saturation level in raw digital numbers.
    cfa
        CFA pattern as four letters (``"RGGB"``), ``""`` when not a mosaic.
    as_shot_white_balance
        Camera multipliers (R, G, B) normalised to G = 1, ``None`` when unknown.
    camera_matrix
        3x3 matrix from CIE XYZ (D65) to camera RGB (as in DNG ColorMatrix /
        LibRaw ``rgb_xyz_matrix``), ``None`` when unknown.
    orientation
        EXIF orientation tag (1-8) that was applied to the pixels.
    binned
        Whether the image was 2x2 binned (half size) instead of demosaiced.
    original_size
        ``(height, width)`` of the full frame before binning, in pixels.
    """

    path: str
    source_kind: SourceKind
    make: str = ""
    model: str = ""
    black_level: tuple[float, float, float] = (0.0, 0.0, 0.0)
    white_level: float = 1.0
    cfa: str = ""
    as_shot_white_balance: tuple[float, float, float] | None = None
    camera_matrix: tuple[tuple[float, float, float], ...] | None = None
    orientation: int = 1
    binned: bool = False
    original_size: tuple[int, int] = (0, 0)
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def camera(self) -> str:
        """Return ``"<make> <model>"`` stripped, or ``"unknown"``."""
        name = f"{self.make} {self.model}".strip()
        return name or "unknown"


@dataclass(frozen=True)
class LinearImage:
    """
    Hold linear camera RGB with its clipped-pixel mask and metadata.

    Parameters
    ----------
    RGB
        ``(H, W, 3)`` float32, linear camera RGB, black subtracted, divided by
        (white level - black), not white balanced.
    clipped
        ``(H, W)`` bool, True where any channel reached the white level in the
        source data (before demosaicing spread it).
    metadata
        :class:`ImageMetadata`.

    Notes
    -----
    Domain/Range: ``RGB`` [0, 1] of the white level; values slightly below 0
    (noise around the black level) are kept.
    """

    RGB: NDArrayFloat
    clipped: NDArrayBool
    metadata: ImageMetadata

    def __post_init__(self) -> None:
        if self.RGB.ndim != 3 or self.RGB.shape[2] != 3:
            raise ValueError(f"RGB must have shape (H, W, 3), got {self.RGB.shape}")
        if self.clipped.shape != self.RGB.shape[:2]:
            raise ValueError(
                f"clipped must have shape {self.RGB.shape[:2]}, got {self.clipped.shape}"
            )
        if self.RGB.dtype != np.float32:
            raise ValueError(f"RGB must be float32, got {self.RGB.dtype}")

    @property
    def shape(self) -> tuple[int, int]:
        """Return ``(height, width)`` in pixels."""
        return (int(self.RGB.shape[0]), int(self.RGB.shape[1]))
