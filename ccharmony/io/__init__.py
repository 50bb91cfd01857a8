"""
Input / output
==============

Read photographs into linear camera RGB and write files atomically:

-   :func:`read_image`: any supported photograph -> :class:`LinearImage`.
-   :class:`IngestOptions`: how to read it (CFA, levels, camera, half size, kind).
-   :class:`LinearImage`, :class:`ImageMetadata`: the records returned.
-   :func:`read_srgb8`: an upright 8-bit RGB array (masks, real images, composites).

Submodules: :mod:`.ingest` (dispatcher), :mod:`.raw` (rawpy), :mod:`.mosaic`
(black subtraction per CFA site, demosaicing, binning), :mod:`.linear` (linear
PNG / TIFF and the camera level table), :mod:`.rendered` (sRGB images),
:mod:`.sniff` (magic bytes), :mod:`.exif` (orientation), :mod:`.atomic` (atomic
writers), :mod:`.encode` (8-bit PNG / JPEG encode / decode).
"""

from __future__ import annotations

from ccharmony.io.image import ImageMetadata, LinearImage, SourceKind
from ccharmony.io.ingest import INGEST_KINDS, IngestOptions, read_image
from ccharmony.io.rendered import read_srgb8

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "read_image",
    "IngestOptions",
    "INGEST_KINDS",
    "LinearImage",
    "ImageMetadata",
    "SourceKind",
    "read_srgb8",
]
