"""
Ingestion
=========

Read any supported photograph into linear camera RGB with one call:

-   :class:`IngestOptions`: how to read a file (CFA, levels, camera, half size, kind).
-   :func:`read_image`: file -> :class:`~ccharmony.io.image.LinearImage`.
-   :data:`INGEST_KINDS`: the kinds :func:`read_image` can be told to use.

The kind is decided from the file's content (magic bytes), not only its name:

==========================================  ===================================
content                                     kind
==========================================  ===================================
camera RAW (RAW extension or RAW signature)  ``camera-raw`` (:mod:`.raw`)
PNG / TIFF, one channel                     ``bayer`` (needs ``cfa``)
PNG / TIFF, three channels, 16-bit / float  ``linear`` (:mod:`.linear`)
PNG / TIFF, three channels, 8-bit           ``rendered`` unless the camera is
                                            known (``camera`` or an NUS-8 file
                                            name), then ``linear``
JPEG                                        ``rendered`` (:mod:`.rendered`)
==========================================  ===================================

``IngestOptions.kind`` overrides the decision. A file whose content contradicts
its extension in a way that matters (a JPEG named ``.CR2``, a PNG named ``.NEF``)
is refused with a one-line :class:`~ccharmony.errors.UnreadableImageError`
unless the kind is given explicitly. EXIF orientation is honoured for every kind.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ccharmony._types import PathType
from ccharmony.errors import ConfigError, UnreadableImageError, UnsupportedFormatError
from ccharmony.io.image import LinearImage
from ccharmony.io.limits import DEFAULT_MAX_PIXELS, validate_max_pixels
from ccharmony.io.mosaic import CFA_PATTERNS
from ccharmony.io.sniff import SNIFF_BYTES, describe_container, extension_class, sniff_container

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["IngestKind", "INGEST_KINDS", "IngestOptions", "read_image", "decide_kind"]

_LOGGER = logging.getLogger(__name__)

IngestKind = Literal["auto", "camera-raw", "linear", "bayer", "rendered"]
INGEST_KINDS: tuple[str, ...] = ("auto", "camera-raw", "linear", "bayer", "rendered")


@dataclass(frozen=True)
class IngestOptions:
    """
    Say how :func:`read_image` reads a photograph.

    Parameters
    ----------
    cfa
        Bayer pattern of single-channel PNG / TIFF mosaics: ``RGGB``, ``BGGR``,
        ``GRBG`` or ``GBRG`` (case-insensitive, stored upper case).
    black_level
        Black level in digital numbers; overrides the camera table (linear
        files) and LibRaw (RAW files).
    white_level
        White (saturation) level in digital numbers; overrides likewise.
    camera
        Camera name for the linear-file level table (default: from the file name).
    half_size
        2x2 binning instead of full-resolution demosaicing (RAW and Bayer input).
    kind
        ``auto`` (decide from the content) or one of ``camera-raw``, ``linear``,
        ``bayer``, ``rendered``.
    max_pixels
        Largest image read (width x height, pixels), checked on the file's
        header before decoding (:data:`ccharmony.io.limits.DEFAULT_MAX_PIXELS`,
        200 megapixels, by default).

    Raises
    ------
    ConfigError
        For an unknown ``cfa`` or ``kind``, a negative or non-finite level,
        ``white_level <= black_level``, or ``max_pixels`` < 1.

    Examples
    --------
    >>> IngestOptions(cfa="rggb", black_level=64, white_level=1023).cfa
    'RGGB'
    >>> IngestOptions(kind="jpeg")
    Traceback (most recent call last):
    ...
    ccharmony.errors.ConfigError: kind must be one of auto, camera-raw, linear, bayer, rendered, got 'jpeg'
    """

    cfa: str | None = None
    black_level: float | None = None
    white_level: float | None = None
    camera: str | None = None
    half_size: bool = False
    kind: IngestKind = "auto"
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        if self.cfa is not None:
            pattern = str(self.cfa).upper()
            if pattern not in CFA_PATTERNS:
                raise ConfigError(f"cfa must be one of {', '.join(CFA_PATTERNS)}, got {self.cfa!r}")
            object.__setattr__(self, "cfa", pattern)
        for name in ("black_level", "white_level"):
            value = getattr(self, name)
            if value is None:
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{name} must be a number, got {value!r}") from None
            if not np.isfinite(number) or number < 0:
                raise ConfigError(f"{name} must be finite and >= 0, got {value!r}")
            object.__setattr__(self, name, number)
        if (self.black_level is not None and self.white_level is not None
                and self.white_level <= self.black_level):
            raise ConfigError(
                f"white_level must be above black_level, got white {self.white_level:g} <= black {self.black_level:g}"
            )
        if self.camera is not None and not str(self.camera).strip():
            raise ConfigError("camera must be a non-empty name, got ''")
        if self.kind not in INGEST_KINDS:
            raise ConfigError(f"kind must be one of {', '.join(INGEST_KINDS)}, got {self.kind!r}")
        object.__setattr__(self, "half_size", bool(self.half_size))
        validate_max_pixels(self.max_pixels)


def _open_head(path: Path) -> tuple[bytes, int]:
    from ccharmony.io.files import open_regular

    with open_regular(path, what="an image file") as handle:
        try:
            size = os.fstat(handle.fileno()).st_size
            head = handle.read(SNIFF_BYTES)
        except OSError as error:
            raise UnreadableImageError(f"{path}: cannot read it ({error.strerror or error})") from None
    if size == 0 or not head:
        raise UnreadableImageError(f"{path}: file is empty (0 bytes)")
    return head, size


def _is_dng(path: Path) -> bool:
    """Tell a DNG stored under a ``.tif`` name from a TIFF image (DNGVersion tag)."""
    import tifffile

    try:
        with tifffile.TiffFile(str(path)) as tiff:
            return 50706 in tiff.pages.first.tags
    except Exception:
        return False


def decide_kind(path: PathType, head: bytes, options: IngestOptions) -> str:
    """
    Decide how to read a file from its first bytes, its name and the options.

    Parameters
    ----------
    path
        The file (its extension is compared with the content).
    head
        The file's first bytes (:data:`~ccharmony.io.sniff.SNIFF_BYTES`).
    options
        :class:`IngestOptions`; an explicit ``kind`` wins.

    Returns
    -------
    str
        ``"camera-raw"``, or ``"image"`` (a JPEG / PNG / TIFF whose kind is decided
        after decoding: bayer, linear or rendered), or the explicit kind.

    Raises
    ------
    UnreadableImageError
        Content that contradicts a RAW / image extension, or unrecognised
        content under an image extension.
    UnsupportedFormatError
        Unrecognised content under an unknown extension.

    Examples
    --------
    >>> decide_kind("photo.CR2", b"\\xff\\xd8\\xff\\xe0", IngestOptions())
    Traceback (most recent call last):
    ...
    ccharmony.errors.UnreadableImageError: photo.CR2: file content is JPEG but the extension says camera RAW; rename it or pass --kind rendered
    """
    target = Path(path)
    container = sniff_container(head)
    claimed = extension_class(target)
    explicit = options.kind != "auto"
    if claimed == "raw" and container in ("jpeg", "png") and not explicit:
        suggestion = "rendered" if container == "jpeg" else "linear"
        raise UnreadableImageError(
            f"{target}: file content is {describe_container(container)} but the extension says camera RAW; "
            f"rename it or pass --kind {suggestion}"
        )
    if claimed in ("jpeg", "png", "tiff") and container == "raw" and not explicit:
        raise UnreadableImageError(
            f"{target}: file content is camera RAW but the extension says {describe_container(claimed)}; "
            "rename it or pass --kind camera-raw"
        )
    if claimed in ("jpeg", "png", "tiff") and container == "unknown":
        raise UnreadableImageError(
            f"{target}: file content is not a {describe_container(claimed)} image "
            f"(first bytes {head[:8].hex(' ')}); the file is corrupt or not an image"
        )
    if explicit:
        if options.kind == "camera-raw" or container == "raw":
            return "camera-raw"
        return options.kind
    if container == "raw" or claimed == "raw":
        return "camera-raw"
    if container in ("jpeg", "png"):
        return "image"
    if container == "tiff":
        return "camera-raw" if _is_dng(target) else "image"
    raise UnsupportedFormatError(
        f"{target}: file content is not a recognised image format (first bytes {head[:8].hex(' ')}); "
        "ccharmony reads camera RAW, PNG, TIFF and JPEG files"
    )


def read_image(path: PathType, options: IngestOptions | None = None) -> LinearImage:
    """
    Read a photograph into linear camera RGB, a clipped-pixel mask and metadata.

    Parameters
    ----------
    path
        A camera RAW file, a linear 16/12-bit PNG / TIFF, a single-channel Bayer
        PNG / TIFF, or an 8/16-bit sRGB JPEG / PNG / TIFF.
    options
        :class:`IngestOptions` (default: everything automatic).

    Returns
    -------
    LinearImage
        ``RGB`` float32 ``(H, W, 3)``, black subtracted, divided by (white -
        black), not white balanced, upright (EXIF orientation / LibRaw flip
        applied); ``clipped`` bool ``(H, W)``; ``metadata.source_kind`` says which
        reader was used (``rendered`` images are linear sRGB, not camera RGB).

    Raises
    ------
    UnreadableImageError
        Missing, empty, truncated, corrupt or mislabelled file, or not a
        regular file (a FIFO, a device: refused without blocking); one line naming it.
    ImageTooLargeError
        An image whose header is above ``options.max_pixels``; nothing is decoded.
    UnsupportedFormatError
        A format or sensor layout that is not supported.
    ConfigError
        Options that do not fit the file (a mosaic without ``cfa``, unknown camera,
        NUS-8 file without levels).

    Notes
    -----
    Range: ``RGB`` [0, 1] of the white level; values slightly below 0 (noise
    around the black level) and above 1 are kept.

    References
    ----------
    :cite:`LibRaw`, :cite:`IEC61966-2-1`, :cite:`Barron2017`

    Examples
    --------
    >>> import tempfile
    >>> from ccharmony.io.encode import encode_image
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "grey.png").write_bytes(encode_image(np.full((2, 2, 3), 128, np.uint8), ".png"))
    >>> image = read_image(folder / "grey.png")
    >>> image.metadata.source_kind, image.RGB.dtype, round(float(image.RGB[0, 0, 0]), 4)
    ('rendered', dtype('float32'), 0.2159)
    """
    options = options or IngestOptions()
    target = Path(path)
    head, _ = _open_head(target)
    kind = decide_kind(target, head, options)
    _LOGGER.debug("%s: reading as %s", target, kind)
    if kind == "camera-raw":
        from ccharmony.io.raw import read_camera_raw

        return read_camera_raw(target, half_size=options.half_size, black_level=options.black_level,
                               white_level=options.white_level, max_pixels=options.max_pixels)
    return _read_decoded(target, options, kind)


def _read_decoded(target: Path, options: IngestOptions, kind: str) -> LinearImage:
    from ccharmony.io.encode import decode_pixels, read_file_bytes
    from ccharmony.io.exif import apply_orientation, read_exif
    from ccharmony.io.linear import bayer_from_pixels, camera_from_filename, linear_from_pixels
    from ccharmony.io.rendered import rendered_from_pixels

    data = read_file_bytes(target)
    container = sniff_container(data[:SNIFF_BYTES])
    pixels = decode_pixels(data, name=str(target), container=container, max_pixels=options.max_pixels)
    exif = read_exif(data, container)
    single = pixels.ndim == 2
    if kind == "image":
        if single:
            kind = "bayer"
        elif pixels.dtype != np.uint8 and container != "jpeg":
            kind = "linear"
        elif container != "jpeg" and (options.camera or camera_from_filename(target, bit_depth=8)):
            kind = "linear"
        else:
            kind = "rendered"
    if kind == "bayer":
        if not single:
            raise UnsupportedFormatError(
                f"{target}: a Bayer mosaic must have one channel, the file has {pixels.shape[2]}"
            )
        return bayer_from_pixels(pixels, path=target, cfa=options.cfa, black_level=options.black_level,
                                 white_level=options.white_level, half_size=options.half_size,
                                 orientation=exif.orientation, make=exif.make, model=exif.model)
    upright = apply_orientation(pixels, exif.orientation)
    if kind == "linear":
        if single:
            raise UnsupportedFormatError(
                f"{target}: linear RGB needs 3 channels, the file has one; pass --cfa if it is a Bayer mosaic"
            )
        return linear_from_pixels(upright, path=target, camera=options.camera, black_level=options.black_level,
                                  white_level=options.white_level, orientation=exif.orientation,
                                  make=exif.make, model=exif.model)
    return rendered_from_pixels(upright, path=target, orientation=exif.orientation,
                                make=exif.make, model=exif.model)
