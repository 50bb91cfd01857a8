"""
Perceptual hash
===============

Define the perceptual hash that :mod:`ccharmony.dataset.verify` uses to find
near-duplicate source images across the splits of a dataset:

-   :func:`phash`: the 64-bit DCT perceptual hash of an image.
-   :func:`hamming_distance`: the number of differing bits of two hashes.
-   :func:`near_duplicate_pairs`: the pairs of two hash sets closer than a
    threshold.

The hash follows Zauner (2010) as implemented in pHash and in OpenCV's
``img_hash.PHash``: the image is reduced to luma, resized to 32 x 32 pixels,
transformed with a 2-D DCT, and each of the 8 x 8 lowest-frequency
coefficients gives one bit, set when the coefficient is above the median of
the 64. The hash ignores colour (so a colour cast, which is what a
harmonization dataset changes, does not change it) and is stable under
resizing and JPEG re-encoding; unrelated images differ in about 32 bits.

References
----------
-   :cite:`Zauner2010` : Zauner, C. (2010). Implementation and Benchmarking of
    Perceptual Image Hash Functions. Master's thesis, Upper Austria University
    of Applied Sciences, Hagenberg Campus.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from ccharmony._types import ArrayLike
from ccharmony.errors import DatasetError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["PHASH_BITS", "NEAR_DUPLICATE_DISTANCE", "phash", "hamming_distance", "near_duplicate_pairs"]

PHASH_BITS = 64
"""Number of bits of :func:`phash`."""

NEAR_DUPLICATE_DISTANCE = 10
"""Default largest Hamming distance (of 64 bits) at which two images are near duplicates."""


def phash(image: ArrayLike) -> int:
    """
    Compute the 64-bit DCT perceptual hash of an image.

    Parameters
    ----------
    image
        ``(H, W, 3)`` (any channel order) or ``(H, W)`` array, 8-bit or float.

    Returns
    -------
    int
        The hash, an integer in ``[0, 2**64)``; bit ``8 * row + column`` is
        set when DCT coefficient ``(row, column)`` is above the median of the
        8 x 8 lowest-frequency coefficients.

    Raises
    ------
    DatasetError
        When ``image`` is not 2-D or 3-D or is smaller than 8 x 8 pixels.

    Notes
    -----
    Domain: ``image`` any scale; only the ordering of luma values matters.
    Range: ``[0, 2**64)``. The luma is the mean of the channels.

    References
    ----------
    :cite:`Zauner2010`

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> scene = cv2.GaussianBlur(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8), (0, 0), 4)
    >>> tinted = (scene * np.array([0.7, 1.0, 1.3])).clip(0, 255).astype(np.uint8)
    >>> hamming_distance(phash(scene), phash(cv2.resize(tinted, (64, 48)))) <= 8
    True
    >>> other = cv2.GaussianBlur(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8), (0, 0), 4)
    >>> hamming_distance(phash(scene), phash(other)) > 20
    True
    """
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.ndim == 3:
        pixels = pixels.mean(axis=2)
    if pixels.ndim != 2 or min(pixels.shape) < 8:
        raise DatasetError(f"phash needs an (H, W) or (H, W, 3) image of at least 8 x 8 pixels, got shape {np.shape(image)}")
    small = cv2.resize(pixels, (32, 32), interpolation=cv2.INTER_AREA)
    low = cv2.dct(small)[:8, :8].ravel()
    bits = low > np.median(low)
    return int(np.packbits(bits, bitorder="little").view("<u8")[0])


def hamming_distance(hash_a: int, hash_b: int) -> int:
    """
    Count the bits in which two hashes differ.

    >>> hamming_distance(0b1011, 0b0001)
    2
    """
    return int(hash_a ^ hash_b).bit_count()


def near_duplicate_pairs(
    hashes_a: Mapping[str, int],
    hashes_b: Mapping[str, int],
    *,
    max_distance: int = NEAR_DUPLICATE_DISTANCE,
) -> list[tuple[str, str, int]]:
    """
    Find the pairs of two hash sets whose Hamming distance is at most ``max_distance``.

    Parameters
    ----------
    hashes_a, hashes_b
        Name -> :func:`phash` value, e.g. the source images of the train and
        test splits.
    max_distance
        Largest distance, in bits of 64, counted as a near duplicate.

    Returns
    -------
    list of (str, str, int)
        ``(name_a, name_b, distance)`` sorted by distance then names; a name
        present in both sets is compared with itself too.

    Examples
    --------
    >>> near_duplicate_pairs({"x": 0b1111}, {"y": 0b0111, "z": 2**40 - 1}, max_distance=3)
    [('x', 'y', 1)]
    """
    if max_distance < 0 or max_distance > PHASH_BITS:
        raise DatasetError(f"max_distance must be in [0, {PHASH_BITS}], got {max_distance}")
    if not hashes_a or not hashes_b:
        return []
    names_a, names_b = list(hashes_a), list(hashes_b)
    values_a = np.array([hashes_a[n] for n in names_a], dtype=np.uint64)
    values_b = np.array([hashes_b[n] for n in names_b], dtype=np.uint64)
    distances = np.bitwise_count(values_a[:, None] ^ values_b[None, :])
    rows, columns = np.nonzero(distances <= max_distance)
    pairs = [(names_a[i], names_b[j], int(distances[i, j])) for i, j in zip(rows, columns)]
    return sorted(pairs, key=lambda pair: (pair[2], pair[0], pair[1]))
