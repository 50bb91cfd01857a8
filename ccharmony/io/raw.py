"""
Camera RAW
==========

Read camera RAW files (CR2, CR3, CRW, NEF, ARW, RAF, ORF, RW2, PEF, DNG, ...)
with LibRaw through :mod:`rawpy`, doing the black subtraction ourselves:

-   :func:`read_camera_raw`: RAW file -> :class:`LinearImage` (linear camera RGB,
    black subtracted per CFA site, divided by white - black, not white balanced,
    upright), demosaiced at full resolution or 2x2 binned.
-   :func:`cfa_pattern_from_colors`: the CFA pattern string from LibRaw's colour
    indices and colour description.

Only the raw Bayer data and metadata are taken from LibRaw
(``raw_image_visible``, ``raw_colors_visible``, ``black_level_per_channel``,
``white_level``, ``color_desc``, ``camera_whitebalance``, ``rgb_xyz_matrix``,
``sizes.flip``); LibRaw's own processing (``postprocess``) is not used. Colour
index 3 is the second green of an ``RGBG`` description and is mapped to G.
Non-Bayer sensors (Fujifilm X-Trans, Foveon, linear DNG) are refused with an
:class:`~ccharmony.errors.UnsupportedFormatError`.

References
----------
:cite:`LibRaw` : LibRaw LLC, *LibRaw: raw image decoder library*, version 0.22,
    https://www.libraw.org (data structures ``imgdata.rawdata``, ``imgdata.color``).
:cite:`rawpy` : M. Riechert, *rawpy: RAW image processing for Python, a
    wrapper for libraw*, https://github.com/letmaik/rawpy.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ccharmony._types import PathType
from ccharmony.errors import ConfigError, UnreadableImageError, UnsupportedFormatError
from ccharmony.io.exif import apply_orientation, orientation_from_libraw_flip
from ccharmony.io.image import ImageMetadata, LinearImage
from ccharmony.io.limits import DEFAULT_MAX_PIXELS
from ccharmony.io.mosaic import CFA_PATTERNS, crop_even, develop_mosaic

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["read_camera_raw", "cfa_pattern_from_colors", "tiff_raw_metadata", "libraw_error_types"]

_LOGGER = logging.getLogger(__name__)


def cfa_pattern_from_colors(colors: np.ndarray, color_desc: str) -> str:
    """
    Return the Bayer pattern of LibRaw colour indices.

    Parameters
    ----------
    colors
        ``raw_colors_visible`` (or its top-left 2x2 block): LibRaw colour index per site.
    color_desc
        LibRaw's colour description, e.g. ``"RGBG"`` (index 3 = second green).

    Returns
    -------
    str
        One of ``RGGB``, ``BGGR``, ``GRBG``, ``GBRG``.

    Raises
    ------
    UnsupportedFormatError
        If the 2x2 block is not a Bayer pattern (X-Trans, CMYG, ...).

    Examples
    --------
    >>> cfa_pattern_from_colors(np.array([[0, 1], [3, 2]]), "RGBG")
    'RGGB'
    >>> cfa_pattern_from_colors(np.array([[2, 3], [1, 0]]), "RGBG")
    'BGGR'
    """
    block = np.asarray(colors)[:2, :2]
    try:
        letters = "".join(color_desc[int(index)] for index in block.ravel())
    except IndexError:
        letters = ""
    if letters not in CFA_PATTERNS:
        raise UnsupportedFormatError(
            f"the sensor's colour filter array {letters or block.tolist()} is not a 2x2 Bayer pattern"
        )
    return letters


def _rational_matrix(value: object) -> np.ndarray | None:
    numbers = np.asarray(value, dtype=np.float64).reshape(-1)
    if numbers.size == 18:
        numerators, denominators = numbers[0::2], numbers[1::2]
        if np.any(denominators == 0):
            return None
        numbers = numerators / denominators
    if numbers.size != 9 or not np.all(np.isfinite(numbers)) or not np.any(numbers):
        return None
    return numbers.reshape(3, 3)


def tiff_raw_metadata(path: PathType) -> dict[str, object]:
    """
    Read make, model and the DNG colour matrix from a TIFF-based RAW file's IFD0.

    rawpy exposes neither LibRaw's make / model nor a DNG's own ``ColorMatrix``
    (its ``rgb_xyz_matrix`` holds LibRaw's built-in table, zeros for unknown
    cameras). TIFF-based RAW files (NEF, CR2, ARW, PEF, DNG, ...) carry Make /
    Model in tags 271 / 272 (DNG: UniqueCameraModel 50708), and DNG files the
    XYZ-to-camera ``ColorMatrix1`` / ``ColorMatrix2`` (50721 / 50722) with their
    ``CalibrationIlluminant1`` / ``2`` (50778 / 50779).

    Returns
    -------
    dict
        ``make`` and ``model`` (``""`` when absent), and ``colour_matrix`` (a
        3x3 array: the matrix calibrated for D65 (EXIF light source 21) when
        there is one, else ``ColorMatrix2``, else ``ColorMatrix1``) or ``None``.
    """
    import tifffile

    found: dict[str, object] = {"make": "", "model": "", "colour_matrix": None}
    try:
        with tifffile.TiffFile(str(path)) as tiff:
            tags = tiff.pages.first.tags
            values = {}
            for code in (271, 272, 50708, 50721, 50722, 50778, 50779):
                tag = tags.get(code)
                if tag is not None:
                    values[code] = tag.value
    except Exception:  # not TIFF-based, or unreadable: these fields are optional
        return found
    found["make"] = str(values.get(271, "")).strip()
    found["model"] = str(values.get(272, "") or values.get(50708, "")).strip()
    matrices = [(_rational_matrix(values[code]), values.get(light)) for code, light in ((50722, 50779), (50721, 50778))
                if code in values]
    matrices = [(matrix, light) for matrix, light in matrices if matrix is not None]
    if matrices:
        d65 = [matrix for matrix, light in matrices if light == 21]
        found["colour_matrix"] = d65[0] if d65 else matrices[0][0]
    return found


def _white_balance(values: np.ndarray, color_desc: str) -> tuple[float, float, float] | None:
    try:
        red, green, blue = (float(values[color_desc.index(c)]) for c in "RGB")
    except (ValueError, IndexError):
        return None
    if not all(np.isfinite(v) and v > 0 for v in (red, green, blue)):
        return None
    return (red / green, 1.0, blue / green)


def libraw_error_types() -> tuple[type[BaseException], ...]:
    """Return rawpy's LibRaw exception classes (the base class where the others are absent)."""
    import rawpy

    types: list[type[BaseException]] = []
    for name in ("LibRawError", "LibRawFatalError", "LibRawNonFatalError"):
        candidate = getattr(rawpy, name, None)
        if isinstance(candidate, type):
            types.append(candidate)
    return tuple(types) or (Exception,)


def read_camera_raw(
    path: PathType,
    *,
    half_size: bool = False,
    black_level: float | None = None,
    white_level: float | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> LinearImage:
    """
    Read a camera RAW file into linear camera RGB.

    Parameters
    ----------
    path
        The RAW file.
    half_size
        2x2 binning (half width and height) instead of full-resolution
        bilinear demosaicing.
    black_level, white_level
        Override LibRaw's per-channel black level / white level (digital numbers).
    max_pixels
        Largest raw frame (width x height) decoded; checked on LibRaw's header
        parse, before any pixel is unpacked (:mod:`ccharmony.io.limits`).

    Returns
    -------
    LinearImage
        ``RGB`` float32 ``(H, W, 3)`` upright, ``(raw - black_site) /
        (white - black)``, not white balanced; ``clipped`` from the sites at or
        above the white level; metadata with make / model (TIFF-based files),
        per-channel black, white level, CFA, as-shot white balance (G = 1),
        XYZ-to-camera matrix (LibRaw's, else a DNG's own ``ColorMatrix``,
        else ``None``) and the EXIF
        orientation applied.

    Raises
    ------
    UnreadableImageError
        If LibRaw cannot open or decode the file (corrupt, truncated, not a RAW).
    ImageTooLargeError
        For a raw frame above ``max_pixels``.
    UnsupportedFormatError
        For non-Bayer sensors.

    Notes
    -----
    Domain: raw digital numbers.
    Range: ``RGB`` [0, 1] of the white level; values slightly below 0 kept.
    The visible area is cropped to an even size (last odd row / column dropped).

    References
    ----------
    :cite:`LibRaw`, :cite:`rawpy`
    """
    import rawpy

    from ccharmony.io.files import open_regular
    from ccharmony.io.limits import check_pixel_count

    target = Path(path)
    errors = libraw_error_types()
    try:
        # LibRaw is given the bytes, not the name: rawpy encodes a name as UTF-8, which
        # fails for a file name that is not (os.fsdecode keeps its bytes as surrogates).
        with open_regular(target) as handle, rawpy.imread(handle) as raw:
            sizes = raw.sizes
            # Refuse before unpacking: LibRaw allocates what the header says.
            check_pixel_count(int(sizes.raw_width), int(sizes.raw_height), name=str(target), max_pixels=max_pixels,
                              decoded_bytes=2 * int(sizes.raw_width) * int(sizes.raw_height))
            visible = crop_even(raw.raw_image_visible)
            colors = raw.raw_colors_visible
            color_desc = raw.color_desc.decode("ascii", "replace")
            if raw.num_colors != 3 or visible.ndim != 2:
                raise UnsupportedFormatError(
                    f"{target}: {raw.num_colors}-colour / {visible.ndim}-D raw data is not a Bayer mosaic "
                    "(only RGB Bayer sensors are supported)"
                )
            try:
                pattern = cfa_pattern_from_colors(colors, color_desc)
            except UnsupportedFormatError as error:
                raise UnsupportedFormatError(f"{target}: {error}") from None
            tile = colors[:2, :2]
            check = colors[: min(64, colors.shape[0]) // 2 * 2, : min(64, colors.shape[1]) // 2 * 2]
            if not np.array_equal(check, np.tile(tile, (check.shape[0] // 2, check.shape[1] // 2))):
                raise UnsupportedFormatError(f"{target}: the colour filter array does not repeat every 2x2 pixels")
            per_channel = np.asarray(raw.black_level_per_channel, dtype=np.float64)
            sites = per_channel[tile]
            if black_level is not None:
                sites = np.full((2, 2), float(black_level))
            white = float(raw.white_level) if white_level is None else float(white_level)
            camera_white = raw.camera_white_level_per_channel
            RGB, clipped = develop_mosaic(visible, cfa=pattern, black_level=sites, white_level=white,
                                          half_size=half_size)
            height, width = visible.shape
            flip = int(raw.sizes.flip)
            as_shot = _white_balance(np.asarray(raw.camera_whitebalance, dtype=np.float64), color_desc)
            matrix = np.asarray(raw.rgb_xyz_matrix, dtype=np.float64)[:3]
            camera_matrix = None if not np.any(matrix) else tuple(tuple(float(v) for v in row) for row in matrix)
            channel_black = tuple(
                float(np.mean([sites.ravel()[i] for i, c in enumerate(pattern) if c == letter])) for letter in "RGB"
            )
    except (UnsupportedFormatError, UnreadableImageError):
        raise
    except ConfigError as error:
        raise ConfigError(f"{target}: {error}") from None
    except errors as error:
        detail = error.args[0] if error.args else ""
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        message = str(detail).strip() or type(error).__name__
        raise UnreadableImageError(f"{target}: LibRaw cannot decode it ({message})") from None
    except (OSError, ValueError, MemoryError) as error:
        raise UnreadableImageError(f"{target}: cannot read the RAW data ({error})") from None

    orientation = orientation_from_libraw_flip(flip)
    RGB = apply_orientation(RGB, orientation)
    clipped = apply_orientation(clipped, orientation)
    if orientation >= 5:
        height, width = width, height
    tiff_fields = tiff_raw_metadata(target)
    make, model = str(tiff_fields["make"]), str(tiff_fields["model"])
    extra: dict[str, object] = {"libraw_flip": flip, "color_desc": color_desc,
                                "black_level_per_site": sites.ravel().tolist(),
                                "camera_matrix_source": "LibRaw rgb_xyz_matrix" if camera_matrix else ""}
    dng_matrix = tiff_fields["colour_matrix"]
    if camera_matrix is None and isinstance(dng_matrix, np.ndarray):
        camera_matrix = tuple(tuple(float(v) for v in row) for row in dng_matrix)
        extra["camera_matrix_source"] = "DNG ColorMatrix"
    if camera_white is not None:
        extra["camera_white_level_per_channel"] = [float(v) for v in camera_white]
    _LOGGER.debug("%s: %s %dx%d black %s white %s", target, pattern, width, height, channel_black, white)
    metadata = ImageMetadata(
        path=str(path),
        source_kind="camera-raw",
        make=make,
        model=model,
        black_level=channel_black,  # type: ignore[arg-type]
        white_level=white,
        cfa=pattern,
        as_shot_white_balance=as_shot,
        camera_matrix=camera_matrix,  # type: ignore[arg-type]
        orientation=orientation,
        binned=half_size,
        original_size=(height, width),
        extra=extra,
    )
    return LinearImage(RGB=RGB, clipped=clipped, metadata=metadata)
