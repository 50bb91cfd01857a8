"""
Published ccHarmony maps
========================

Read the fitted maps that ccHarmony :cite:`Niu2023` publishes
(``polynomial_matching_coefficients/``) as :class:`~ccharmony.transfer.Transfer`
objects, and compare them with a refit from the published patch colours:

-   :func:`read_published_map`: one ``.npy`` file -> a ``poly11`` transfer.
-   :class:`PublishedMaps` and :func:`read_published_maps`: the forward
    (image -> standard, ``<image>.npy``) and reverse (standard -> image,
    ``<image>_reverse.npy``) map of every image of a folder.
-   :func:`published_transfer`: source image -> standard -> target image, the
    published construction of a composite.
-   :class:`RefitComparison` and :func:`compare_with_refit`: how far the
    published maps are from ordinary least squares on the published patch
    colours.
-   :attr:`REFIT_MISMATCHES`: the images whose published forward map is not
    that least-squares fit.

Each file holds a ``(3, 11)`` float64 matrix, row ``c`` the coefficients of
output channel ``c`` (R, G, B) on the terms ``[r, g, b, rg, rb, gb, r², g², b²,
rgb, 1]`` of 8-bit sRGB values in [0, 255]: the layout of scikit-learn's
``LinearRegression(fit_intercept=False).coef_`` and of :class:`Transfer`'s
``params``, so the matrix is used as it is. Refitting by least squares
reproduces 340 of the 350 forward maps and all 350 reverse maps (to 1e-4 in
8-bit units); the other ten forward maps (:attr:`REFIT_MISMATCHES`) fit the
published patch colours worse than least squares does, so they were fitted on
other measurements and only the files reproduce the published composites.

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
-   :cite:`Cheung2004` : Cheung, V., Westland, S., Connah, D., & Ripamonti, C.
    (2004). A comparative study of the characterisation of colour cameras by
    means of neural networks and polynomial transforms. Coloration
    Technology, 120(1), 19-25. doi:10.1111/j.1478-4408.2004.tb00201.x
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from ccharmony._types import ArrayLike, PathType
from ccharmony.errors import AnnotationError
from ccharmony.transfer.niu2023 import fit_polynomial_Niu2023
from ccharmony.transfer.record import Transfer

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "PUBLISHED_MAPS_DIR",
    "REVERSE_SUFFIX",
    "REFIT_MISMATCHES",
    "read_published_map",
    "PublishedMaps",
    "read_published_maps",
    "published_transfer",
    "RefitComparison",
    "compare_with_refit",
]

PUBLISHED_MAPS_DIR = "polynomial_matching_coefficients"
"""Folder of the published maps inside an annotation set (the published name)."""

REVERSE_SUFFIX = "_reverse"
"""File stem suffix of a reverse (standard -> image) map."""

REFIT_MISMATCHES: frozenset[str] = frozenset({
    "8D5U5599", "IMG_0290", "IMG_0305", "IMG_0456", "IMG_0549", "IMG_0553",
    "OlympusEPL6_0035", "OlympusEPL6_0123", "PanasonicGX1_0049", "SamsungNX2000_0184",
})
"""Images whose published forward map is not the least-squares fit of their published patch
colours (the published annotations' README; ``tests/test_transfer_published.py`` re-derives the
set): a refit cannot reproduce their published composites."""

_SHAPE = (3, 11)


def read_published_map(path: PathType) -> Transfer:
    """
    Read one published map as a ``poly11`` transfer.

    Parameters
    ----------
    path
        A ``<image>.npy`` or ``<image>_reverse.npy`` file.

    Returns
    -------
    Transfer
        ``Transfer("poly11", M, "srgb8")`` with the file's matrix unchanged.

    Raises
    ------
    AnnotationError
        When the file is missing or unreadable, holds pickled objects, is not
        a ``(3, 11)`` real matrix, or holds a non-finite value.

    Notes
    -----
    Domain/Range: 8-bit sRGB values as floats, [0, 255]; the output is
    clipped to [0, 255] by :meth:`Transfer.apply` after the last step.

    References
    ----------
    :cite:`Niu2023`, :cite:`Cheung2004`

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "IMG_0001.npy"
    >>> np.save(path, np.hstack([np.eye(3), np.zeros((3, 8))]))
    >>> read_published_map(path).apply(np.array([10.0, 20.0, 30.0]))
    array([10., 20., 30.], dtype=float32)
    """
    name = str(path)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise AnnotationError(
            f"{name}: cannot read a published map ({type(error).__name__}: {error}); "
            "expected a (3, 11) float64 .npy file"
        ) from None
    if array.shape != _SHAPE or not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise AnnotationError(f"{name}: published map of shape {array.shape} and dtype {array.dtype}, "
                              f"expected a {_SHAPE} real matrix (rows R, G, B on the 11 poly11 terms)")
    matrix = array.astype(np.float64)
    if not np.all(np.isfinite(matrix)):
        raise AnnotationError(f"{name}: non-finite coefficient in the published map, expected finite floats")
    return Transfer("poly11", matrix, "srgb8")


class PublishedMaps(NamedTuple):
    """
    The two published maps of one image.

    Parameters
    ----------
    image
        The image name as published (``"Canon1DsMkIII_0010"``).
    forward
        Image colours -> standard colours (``<image>.npy``).
    reverse
        Standard colours -> image colours (``<image>_reverse.npy``).
    """

    image: str
    forward: Transfer
    reverse: Transfer


def read_published_maps(folder: PathType) -> dict[str, PublishedMaps]:
    """
    Read every image's published maps from a folder.

    Parameters
    ----------
    folder
        ``polynomial_matching_coefficients/``: ``<image>.npy`` and
        ``<image>_reverse.npy`` for each image (hidden files are ignored).

    Returns
    -------
    dict
        Image name -> :class:`PublishedMaps`, sorted by name.

    Raises
    ------
    AnnotationError
        When the folder is missing, an image has only one of its two files,
        or a file is malformed (see :func:`read_published_map`).

    References
    ----------
    :cite:`Niu2023`
    """
    root = Path(folder)
    if not root.is_dir():
        raise AnnotationError(f"{root}: folder of published maps not found (expected {PUBLISHED_MAPS_DIR}/)")
    files = {path.stem: path for path in sorted(root.glob("*.npy")) if not path.name.startswith(".")}
    images = sorted({stem.removesuffix(REVERSE_SUFFIX) for stem in files})
    maps: dict[str, PublishedMaps] = {}
    for image in images:
        forward, reverse = files.get(image), files.get(image + REVERSE_SUFFIX)
        if forward is None or reverse is None:
            missing = f"{image}.npy" if forward is None else f"{image}{REVERSE_SUFFIX}.npy"
            raise AnnotationError(f"{root}: {missing} is missing; each image needs both of its published maps")
        maps[image] = PublishedMaps(image, read_published_map(forward), read_published_map(reverse))
    return maps


def published_transfer(source: PublishedMaps, target: PublishedMaps) -> Transfer:
    """
    Return the published construction source -> standard -> target.

    Parameters
    ----------
    source
        Maps of the image whose foreground is recoloured.
    target
        Maps of the image whose illumination the foreground takes.

    Returns
    -------
    Transfer
        ``source.forward.then(target.reverse)``: the intermediate standard
        colours are not clipped, the output is (as in the published recipe:
        apply both maps to the foreground's 8-bit pixels, clip to 0-255).

    References
    ----------
    :cite:`Niu2023`
    """
    return source.forward.then(target.reverse)


class RefitComparison(NamedTuple):
    """
    How far an image's published maps are from a refit on its published patch colours.

    Parameters
    ----------
    image
        The image name.
    forward_difference, reverse_difference
        Largest absolute difference between the published map and the
        least-squares refit, over the patch colours (forward) or the standard
        colours (reverse) and the comparison colours, in 8-bit units, before
        clipping.
    forward_rms, forward_rms_refit
        RMS residual on the 24 patches, in 8-bit units, of the published
        forward map and of the refit (image -> standard).
    reverse_rms, reverse_rms_refit
        The same for standard -> image.
    """

    image: str
    forward_difference: float
    reverse_difference: float
    forward_rms: float
    forward_rms_refit: float
    reverse_rms: float
    reverse_rms_refit: float

    def reproduced(self, tolerance: float = 1e-4) -> tuple[bool, bool]:
        """Return whether the refit reproduces the (forward, reverse) maps within ``tolerance``."""
        return self.forward_difference <= tolerance, self.reverse_difference <= tolerance


def _grid() -> np.ndarray:
    axis = np.linspace(0.0, 255.0, 9)
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)


def _rms(transfer: Transfer, source: np.ndarray, target: np.ndarray) -> float:
    return float(np.sqrt(np.mean((transfer._evaluate64(source) - target) ** 2)))


def compare_with_refit(
    maps: PublishedMaps,
    patches: ArrayLike,
    *,
    standard: ArrayLike | None = None,
    colours: ArrayLike | None = None,
) -> RefitComparison:
    """
    Compare an image's published maps with a least-squares refit.

    Parameters
    ----------
    maps
        The image's published maps.
    patches
        ``(24, 3)`` published patch colours of the image, code order, 8-bit
        sRGB values (:func:`ccharmony.io.patch_colors.read_patch_colors_csv`
        with ``dtype=np.float64``).
    standard
        ``(24, 3)`` standard colours; default ccHarmony's ColorChecker 2005
        table (:func:`ccharmony.io.patch_colors.read_standard_srgb`).
    colours
        ``(n, 3)`` further colours on which the maps are compared; default a
        9x9x9 grid over [0, 255].

    Returns
    -------
    RefitComparison

    Notes
    -----
    Domain: 8-bit sRGB values as floats, [0, 255]. The refit is
    :func:`~ccharmony.transfer.fit_polynomial_Niu2023` (ordinary least
    squares in float64); both maps are evaluated without clipping.

    References
    ----------
    :cite:`Niu2023`
    """
    S = np.asarray(patches, dtype=np.float64)
    if standard is None:
        from ccharmony.io.patch_colors import read_standard_srgb

        standard = read_standard_srgb(dtype=np.float64)
    T = np.asarray(standard, dtype=np.float64)
    extra = _grid() if colours is None else np.asarray(colours, dtype=np.float64).reshape(-1, 3)
    forward_refit = fit_polynomial_Niu2023(S, T)
    reverse_refit = fit_polynomial_Niu2023(T, S)

    def difference(published: Transfer, refit: Transfer, own: np.ndarray) -> float:
        points = np.vstack([own, extra])
        return float(np.max(np.abs(published._evaluate64(points) - refit._evaluate64(points))))

    return RefitComparison(
        image=maps.image,
        forward_difference=difference(maps.forward, forward_refit, S),
        reverse_difference=difference(maps.reverse, reverse_refit, T),
        forward_rms=_rms(maps.forward, S, T),
        forward_rms_refit=_rms(forward_refit, S, T),
        reverse_rms=_rms(maps.reverse, T, S),
        reverse_rms_refit=_rms(reverse_refit, T, S),
    )
