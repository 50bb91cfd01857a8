"""
Linear PNG / TIFF
=================

Read linear camera RGB stored as 16/12-bit PNG or TIFF files (as distributed by
the Gehler-Shi and NUS-8 colour constancy datasets) and single-channel Bayer
mosaics stored as PNG / TIFF:

-   :data:`LINEAR_CAMERA_LEVELS`: the documented per-camera black and saturation
    levels, each with its source.
-   :func:`camera_from_filename`: recognise a dataset camera from a file name.
-   :func:`levels_from_nus_groundtruth`: black / saturation from an NUS-8
    ``<camera>_gt.mat`` file.
-   :func:`resolve_levels`: flags, then table, then ``_gt.mat``, then the
    container's full range.
-   :func:`linear_from_pixels`: 3-channel linear pixels -> :class:`LinearImage`
    (with the camera's XYZ -> camera matrix from
    :mod:`ccharmony.io.camera_matrices` when the camera is known).
-   :func:`bayer_from_pixels`: single-channel mosaic -> :class:`LinearImage`.

Level table and its sources
---------------------------
============  =============  =====  ==========  ==============================================
camera        dataset        black  saturation  source
============  =============  =====  ==========  ==============================================
Canon5D       Gehler-Shi     129    3692        google/ffcc ``internal/GehlerShiSensor.m``
                                                (commit 4537fc8): ``BLACK_LEVEL.Canon5D = 129``,
                                                ``SATURATION.Canon5D = 3692``; the black level
                                                agrees with yuanming-hu/fc4
                                                ``data/gehler/groundtruth_568/description.txt``
                                                (``real_rgb(87:end,:,:)-129``: images 87-568 are
                                                the Canon 5D ``IMG_*`` files).
Canon1D       Gehler-Shi     0      3692        google/ffcc ``internal/GehlerShiSensor.m``:
                                                ``BLACK_LEVEL.Canon1D = 0``,
                                                ``SATURATION.Canon1D = 3692``; fc4's
                                                ``description.txt`` subtracts nothing from
                                                images 1-86 (the Canon 1D ``8D5U*`` files).
============  =============  =====  ==========  ==============================================

FFCC notes that earlier papers used 3580 as the saturation value, which "does
not appear to be correct"; we follow FFCC. The values are in the digital
numbers of Shi's re-processed 12-bit PNGs (stored in 16-bit containers).

NUS-8 (Cheng et al. 2014) ships the levels of each camera in
``<camera>/<camera>_gt.mat`` (``darkness_level``, ``saturation_level``). We
could not find those numbers reproduced verbatim in a public repository we
could cite, so the table does not hard-code them: the reader looks for the
``_gt.mat`` beside the image (or one folder up), or takes ``--black`` /
``--white``, and otherwise stops with a message saying so.

Camera names from file names: ``IMG_dddd`` (16-bit) -> Canon5D and ``8D5Udddd``
-> Canon1D (Gehler-Shi; the ``folds.mat`` file list in fc4 orders 86 ``8D5U*``
Canon 1D files before 482 ``IMG_*`` Canon 5D files); ``<Camera>_dddd`` with one of
the eight NUS-8 camera names, or ``NikonD40`` (released with the NUS set but
left out of the 8-camera benchmark; dataset ``"NUS"`` in the table).

Colour matrix: linear PNG / TIFF files carry none, so for a recognised camera
(file name or ``camera=``) :func:`linear_from_pixels` sets
``ImageMetadata.camera_matrix`` from
:data:`ccharmony.io.camera_matrices.CAMERA_MATRICES` (Adobe DNG ColorMatrix2,
D65, as collected by dcraw/LibRaw) and records its source in
``extra["camera_matrix_source"]``; otherwise it stays ``None``.

References
----------
:cite:`Gehler2008` : P. V. Gehler, C. Rother, A. Blake, T. Minka, T. Sharp,
    "Bayesian color constancy revisited", CVPR 2008, doi:10.1109/CVPR.2008.4587765.
:cite:`Shi2010` : L. Shi, B. Funt, "Re-processed version of the Gehler color
    constancy dataset of 568 images", Simon Fraser University, 2010.
:cite:`Cheng2014` : D. Cheng, D. K. Prasad, M. S. Brown, "Illuminant estimation
    for color constancy: why spatial-domain methods work and the role of the
    color distribution", JOSA A 31(5):1049-1058, 2014, doi:10.1364/JOSAA.31.001049.
:cite:`Barron2017` : J. T. Barron, Y.-T. Tsai, "Fast Fourier Color Constancy",
    CVPR 2017, doi:10.1109/CVPR.2017.735 (code: github.com/google/ffcc).
:cite:`Hu2017` : Y. Hu, B. Wang, S. Lin, "FC4: Fully Convolutional Color
    Constancy with Confidence-weighted Pooling", CVPR 2017,
    doi:10.1109/CVPR.2017.43 (code: github.com/yuanming-hu/fc4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ccharmony._types import PathType
from ccharmony.errors import ConfigError, UnsupportedFormatError
from ccharmony.io.camera_matrices import CAMERA_MATRICES, CAMERA_MATRIX_SOURCE
from ccharmony.io.image import ImageMetadata, LinearImage
from ccharmony.io.mosaic import cfa_channel_indices, develop_mosaic, site_black_levels

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "CameraLevels",
    "LINEAR_CAMERA_LEVELS",
    "NUS8_CAMERAS",
    "Levels",
    "camera_from_filename",
    "find_camera",
    "levels_from_nus_groundtruth",
    "resolve_levels",
    "linear_from_pixels",
    "bayer_from_pixels",
    "channel_max",
]


@dataclass(frozen=True)
class CameraLevels:
    """
    Black and saturation levels of one dataset camera.

    Parameters
    ----------
    camera
        Short name used by the dataset (``"Canon5D"``).
    dataset
        The dataset the files come from.
    black_level, white_level
        In the digital numbers of the dataset's files; ``None`` when not in the table.
    make, model
        Camera make and model for :class:`ImageMetadata`.
    source
        Where the numbers come from (repository, file, commit).
    """

    camera: str
    dataset: str
    black_level: float | None
    white_level: float | None
    make: str
    model: str
    source: str


_FFCC = "google/ffcc internal/GehlerShiSensor.m @ 4537fc891553792843ab3e4936e4cc8cfeea50ef"
_NUS_NOTE = "NUS-8 <camera>_gt.mat darkness_level / saturation_level (not tabulated: pass --black/--white or keep the _gt.mat beside the images)"

LINEAR_CAMERA_LEVELS: dict[str, CameraLevels] = {
    "Canon5D": CameraLevels(
        "Canon5D", "Gehler-Shi", 129.0, 3692.0, "Canon", "EOS 5D",
        f"{_FFCC} (BLACK_LEVEL.Canon5D = 129, SATURATION.Canon5D = 3692); "
        "yuanming-hu/fc4 data/gehler/groundtruth_568/description.txt (-129 for images 87-568)",
    ),
    "Canon1D": CameraLevels(
        "Canon1D", "Gehler-Shi", 0.0, 3692.0, "Canon", "EOS-1D",
        f"{_FFCC} (BLACK_LEVEL.Canon1D = 0, SATURATION.Canon1D = 3692)",
    ),
    **{
        name: CameraLevels(name, "NUS-8", None, None, make, model, _NUS_NOTE)
        for name, make, model in (
            ("Canon1DsMkIII", "Canon", "EOS-1Ds Mark III"),
            ("Canon600D", "Canon", "EOS 600D"),
            ("FujifilmXM1", "Fujifilm", "X-M1"),
            ("NikonD5200", "Nikon", "D5200"),
            ("OlympusEPL6", "Olympus", "E-PL6"),
            ("PanasonicGX1", "Panasonic", "DMC-GX1"),
            ("SamsungNX2000", "Samsung", "NX2000"),
            ("SonyA57", "Sony", "SLT-A57"),
        )
    },
    "NikonD40": CameraLevels("NikonD40", "NUS", None, None, "Nikon", "D40", _NUS_NOTE),
}
"""Camera name -> :class:`CameraLevels` (see the module docstring for sources)."""

NUS8_CAMERAS: tuple[str, ...] = tuple(k for k, v in LINEAR_CAMERA_LEVELS.items() if v.dataset == "NUS-8")

_NUS_NAMES: tuple[str, ...] = tuple(k for k, v in LINEAR_CAMERA_LEVELS.items() if v.dataset.startswith("NUS"))
# longest first, so that no name is matched by a prefix of another
_NUS_NAME = re.compile(
    r"^(" + "|".join(sorted(_NUS_NAMES, key=len, reverse=True)) + r")_\d+$", re.IGNORECASE
)
_GEHLER_5D = re.compile(r"^IMG_\d{4}$")
_GEHLER_1D = re.compile(r"^8D5U\d{4}$")


def camera_from_filename(path: PathType, *, bit_depth: int = 16) -> str | None:
    """
    Recognise a dataset camera from a file name.

    Parameters
    ----------
    path
        File path or name.
    bit_depth
        Bits per sample of the file: the generic ``IMG_dddd`` name is taken for
        the Gehler-Shi Canon 5D only in a 16-bit file (an 8-bit ``IMG_1234.JPG``
        is an ordinary photo).

    Returns
    -------
    str or None
        A key of :data:`LINEAR_CAMERA_LEVELS`, or ``None``.

    Examples
    --------
    >>> camera_from_filename("Canon1DsMkIII_0001.PNG"), camera_from_filename("IMG_0285.png")
    ('Canon1DsMkIII', 'Canon5D')
    >>> camera_from_filename("8D5U5524.png"), camera_from_filename("IMG_0285.png", bit_depth=8)
    ('Canon1D', None)
    """
    stem = Path(path).stem
    match = _NUS_NAME.match(stem)
    if match:
        return find_camera(match.group(1))
    if _GEHLER_1D.match(stem):
        return "Canon1D"
    if bit_depth > 8 and _GEHLER_5D.match(stem):
        return "Canon5D"
    return None


def find_camera(name: str) -> str:
    """
    Return the table key for a camera name given on the command line.

    Raises
    ------
    ConfigError
        If the name is not in :data:`LINEAR_CAMERA_LEVELS`.

    Examples
    --------
    >>> find_camera("canon5d")
    'Canon5D'
    """
    for key in LINEAR_CAMERA_LEVELS:
        if key.lower() == str(name).strip().lower():
            return key
    raise ConfigError(
        f"camera {name!r} is not in the level table; known: {', '.join(LINEAR_CAMERA_LEVELS)} "
        "(or pass --black and --white)"
    )


def levels_from_nus_groundtruth(path: PathType) -> tuple[float, float]:
    """
    Read ``darkness_level`` and ``saturation_level`` from an NUS-8 ``_gt.mat`` file.

    Parameters
    ----------
    path
        ``<camera>_gt.mat`` as distributed with NUS-8.

    Returns
    -------
    tuple
        ``(black_level, white_level)`` in digital numbers.

    Raises
    ------
    ConfigError
        If the file cannot be read or lacks the two fields.

    References
    ----------
    :cite:`Cheng2014`
    """
    from scipy.io import loadmat  # type: ignore[import-untyped]

    from ccharmony.io.files import check_regular

    check_regular(path, what="a MATLAB file", error=ConfigError)  # a FIFO would block loadmat
    try:
        content = loadmat(str(path), variable_names=["darkness_level", "saturation_level"])
        black = float(np.asarray(content["darkness_level"]).reshape(-1)[0])
        white = float(np.asarray(content["saturation_level"]).reshape(-1)[0])
    except (OSError, ValueError, KeyError, IndexError, TypeError, NotImplementedError) as error:
        raise ConfigError(f"{path}: cannot read darkness_level / saturation_level ({error})") from None
    return black, white


@dataclass(frozen=True)
class Levels:
    """Resolved black / white levels, the camera key (if any) and where they came from."""

    black_level: float
    white_level: float
    camera: str | None
    source: str
    notes: dict[str, object] = field(default_factory=dict)


def _nus_groundtruth_file(path: Path, camera: str) -> Path | None:
    for folder in (path.parent, path.parent.parent):
        candidate = folder / f"{camera}_gt.mat"
        if candidate.is_file():
            return candidate
    return None


def resolve_levels(
    path: PathType,
    *,
    bit_depth: int,
    max_value: float,
    camera: str | None = None,
    black_level: float | None = None,
    white_level: float | None = None,
) -> Levels:
    """
    Decide the black and white levels of a linear PNG / TIFF.

    Order: explicit ``black_level`` / ``white_level`` (flags) override; then,
    for files of more than 8 bits, the camera's row of
    :data:`LINEAR_CAMERA_LEVELS` (camera from ``camera`` or the file name),
    then an NUS-8 ``<camera>_gt.mat`` beside the file or one folder up;
    otherwise black 0 and white = ``max_value`` (the container's full range).

    Parameters
    ----------
    path
        The image file (its name identifies the camera).
    bit_depth
        Bits per sample of the container (8 or 16; 32 for float).
    max_value
        Full-scale value of the container (255, 65535, or 1.0 for float).
    camera
        Camera name overriding the file name.
    black_level, white_level
        Flags; each overrides its own level only.

    Returns
    -------
    Levels

    Raises
    ------
    ConfigError
        For an unknown ``camera``, or an NUS-8 camera in a >8-bit file whose
        levels are neither given nor found in a ``_gt.mat``.
    """
    target = Path(path)
    key = find_camera(camera) if camera else camera_from_filename(target, bit_depth=bit_depth)
    black, white, source = black_level, white_level, "flags"
    if (black is None or white is None) and key is not None and bit_depth > 8:
        entry = LINEAR_CAMERA_LEVELS[key]
        if entry.black_level is not None and entry.white_level is not None:
            black = entry.black_level if black is None else black
            white = entry.white_level if white is None else white
            source = f"table {key}: {entry.source}"
        else:
            groundtruth = _nus_groundtruth_file(target, key)
            if groundtruth is None:
                raise ConfigError(
                    f"{target}: {entry.dataset} camera {key} has no tabulated black/saturation levels; "
                    f"pass --black and --white (darkness_level / saturation_level of {key}_gt.mat) "
                    "or keep that _gt.mat beside the image"
                )
            gt_black, gt_white = levels_from_nus_groundtruth(groundtruth)
            black = gt_black if black is None else black
            white = gt_white if white is None else white
            source = f"{groundtruth.name}: darkness_level / saturation_level"
    if black is None or white is None:
        default = "default (black 0, white = full range of the container)"
        source = default if black_level is None and white_level is None else f"flags + {default}"
        black = 0.0 if black is None else black
        white = float(max_value) if white is None else white
    if not np.isfinite(black) or not np.isfinite(white) or black < 0 or white <= black:
        raise ConfigError(f"{target}: need 0 <= black level < white level, got black {black} and white {white}")
    return Levels(float(black), float(white), key, source)


def channel_max(pixels: np.ndarray) -> np.ndarray:
    """
    Return the per-pixel maximum over the channels of an ``(H, W, 3)`` array.

    Same result as ``pixels.max(axis=2)``, computed with OpenCV (several times
    faster on large images).

    Examples
    --------
    >>> channel_max(np.array([[[1, 5, 2]]], np.uint8)).tolist()
    [[5]]
    """
    if pixels.dtype in (np.uint8, np.uint16, np.int16, np.float32, np.float64):
        red, green, blue = cv2.split(np.ascontiguousarray(pixels))
        return cv2.max(cv2.max(red, green), blue)
    return pixels.max(axis=2)


def _bit_depth(array: np.ndarray) -> tuple[int, float]:
    if array.dtype == np.uint8:
        return 8, 255.0
    if array.dtype == np.uint16:
        return 16, 65535.0
    if array.dtype.kind == "f":
        return 32, 1.0
    raise UnsupportedFormatError(f"{array.dtype} samples are not supported (expected uint8, uint16 or float)")


def linear_from_pixels(
    pixels: np.ndarray,
    *,
    path: PathType,
    camera: str | None = None,
    black_level: float | None = None,
    white_level: float | None = None,
    orientation: int = 1,
    make: str = "",
    model: str = "",
) -> LinearImage:
    """
    Turn decoded 3-channel linear pixels into a :class:`LinearImage`.

    Parameters
    ----------
    pixels
        ``(H, W, 3)`` uint8 / uint16 / float RGB as stored (already upright).
    path
        The source file (camera recognition, messages, metadata).
    camera, black_level, white_level
        See :func:`resolve_levels`.
    orientation
        EXIF orientation that was applied, for the metadata.
    make, model
        EXIF make / model, used when the camera is not in the table.

    Returns
    -------
    LinearImage
        ``RGB = (pixels - black) / (white - black)`` float32; ``clipped`` where
        any channel is at or above the white level. For a camera of the table
        (``camera`` or the file name), ``metadata.camera_matrix`` is its XYZ
        (D65) -> camera matrix from
        :data:`~ccharmony.io.camera_matrices.CAMERA_MATRICES` and make / model
        are the table's; otherwise ``camera_matrix`` is ``None`` and make /
        model are the given EXIF values.

    Notes
    -----
    Domain: ``pixels`` digital numbers of the container.
    Range: [0, 1] of the white level; values below 0 and above 1 are kept.

    References
    ----------
    :cite:`Shi2010`, :cite:`Cheng2014`, :cite:`Barron2017`, :cite:`LibRaw`
    """
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise UnsupportedFormatError(f"{path}: linear RGB needs 3 channels, got shape {pixels.shape}")
    bit_depth, max_value = _bit_depth(pixels)
    levels = resolve_levels(path, bit_depth=bit_depth, max_value=max_value, camera=camera,
                            black_level=black_level, white_level=white_level)
    scale = 1.0 / (levels.white_level - levels.black_level)
    if pixels.dtype in (np.uint8, np.uint16):
        # OpenCV takes a 4-tuple as a per-channel scalar (its stubs do not say so)
        RGB = cv2.subtract(np.ascontiguousarray(pixels), (levels.black_level,) * 3 + (0.0,),  # type: ignore[call-overload]
                           dtype=cv2.CV_32F)
        cv2.multiply(RGB, (scale,) * 3 + (0.0,), dst=RGB)  # type: ignore[call-overload]
    else:
        RGB = np.subtract(pixels, np.float32(levels.black_level), dtype=np.float32)
        RGB *= np.float32(scale)
    clipped = channel_max(pixels) >= levels.white_level
    entry = LINEAR_CAMERA_LEVELS.get(levels.camera or "")
    colour_matrix = CAMERA_MATRICES.get(levels.camera or "")
    extra: dict[str, object] = {"levels_source": levels.source, "camera_key": levels.camera or "",
                                "bit_depth": bit_depth}
    if colour_matrix is not None:
        extra["camera_matrix_source"] = f"{CAMERA_MATRIX_SOURCE}, row {colour_matrix.table_row}"
    metadata = ImageMetadata(
        path=str(path),
        source_kind="linear",
        make=entry.make if entry else make,
        model=entry.model if entry else model,
        black_level=(levels.black_level,) * 3,
        white_level=levels.white_level,
        camera_matrix=colour_matrix.as_tuple if colour_matrix is not None else None,
        orientation=orientation,
        original_size=(int(pixels.shape[0]), int(pixels.shape[1])),
        extra=extra,
    )
    return LinearImage(RGB=RGB, clipped=clipped, metadata=metadata)


def bayer_from_pixels(
    mosaic: np.ndarray,
    *,
    path: PathType,
    cfa: str | None,
    black_level: float | None = None,
    white_level: float | None = None,
    half_size: bool = False,
    orientation: int = 1,
    make: str = "",
    model: str = "",
) -> LinearImage:
    """
    Develop a single-channel Bayer mosaic read from a PNG / TIFF.

    Parameters
    ----------
    mosaic
        ``(H, W)`` uint8 / uint16 mosaic as stored (CFA origin at the top-left).
    path
        The source file (messages, metadata).
    cfa
        One of ``RGGB``, ``BGGR``, ``GRBG``, ``GBRG``; required.
    black_level, white_level
        In digital numbers; default 0 and the container's full range.
    half_size
        2x2 binning instead of demosaicing.
    orientation
        EXIF orientation of the file; applied to the developed image.
    make, model
        For the metadata.

    Returns
    -------
    LinearImage
        See :func:`ccharmony.io.mosaic.develop_mosaic`.

    Raises
    ------
    ConfigError
        If ``cfa`` is missing or invalid, or the levels are inconsistent.

    References
    ----------
    :cite:`Bayer1976`
    """
    from ccharmony.io.exif import apply_orientation

    if not cfa:
        raise ConfigError(
            f"{path}: single-channel image is a Bayer mosaic; pass --cfa RGGB|BGGR|GRBG|GBRG "
            "(and --black / --white if it has a black offset or fewer bits than its container)"
        )
    bit_depth, max_value = _bit_depth(mosaic)
    black = 0.0 if black_level is None else float(black_level)
    white = max_value if white_level is None else float(white_level)
    sites = site_black_levels(black, cfa)
    try:
        RGB, clipped = develop_mosaic(mosaic, cfa=cfa, black_level=sites, white_level=white, half_size=half_size)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    except UnsupportedFormatError as error:
        raise UnsupportedFormatError(f"{path}: {error}") from None
    height, width = (mosaic.shape[0] // 2 * 2, mosaic.shape[1] // 2 * 2)
    RGB = apply_orientation(RGB, orientation)
    clipped = apply_orientation(clipped, orientation)
    if orientation >= 5:
        height, width = width, height
    channels = cfa_channel_indices(cfa)
    black_rgb = tuple(float(sites[channels == c].mean()) for c in range(3))
    metadata = ImageMetadata(
        path=str(path),
        source_kind="bayer",
        make=make,
        model=model,
        black_level=black_rgb,  # type: ignore[arg-type]
        white_level=white,
        cfa=cfa.upper(),
        orientation=orientation,
        binned=half_size,
        original_size=(height, width),
        extra={"bit_depth": bit_depth,
               "levels_source": "flags" if black_level is not None or white_level is not None else "default"},
    )
    return LinearImage(RGB=RGB, clipped=clipped, metadata=metadata)
