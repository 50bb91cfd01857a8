"""
Checker records
===============

Define the records of chart detection and sampling:

-   :class:`Checker`: the chart's outer corners and its 24 patch quadrilaterals.
-   :class:`Patches`: the 24 sampled patch colours, clipped flags and noise.

Patch order is colour-science's ColorChecker order (row-major from the
top-left with the chart upright: 0 dark skin ... 18 white ... 23 black).
Corners are full-frame pixel ``(x, y)`` in this order: next to dark skin,
next to bluish green, next to black, next to white.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from typing import Any

from numpy.typing import NDArray

from ccharmony._types import NDArrayBool, NDArrayFloat

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["Checker", "Patches"]


@dataclass(frozen=True)
class Checker:
    """
    Locate a ColorChecker Classic (or Classic Mini) in a frame.

    Parameters
    ----------
    corners
        ``(4, 2)`` float, outer chart corners ``(x, y)`` in full-frame pixels,
        in the order: next to dark skin, next to bluish green, next to black,
        next to white.
    patches
        ``(24, 4, 2)`` float, each patch's quadrilateral ``(x, y)`` in full-frame
        pixels, code order, corners clockwise from the chart's top-left.
    method
        The backend that found it: ``mcc``, ``segmentation``, ``annotation`` ...
    score
        Backend-specific confidence, higher is better; ``nan`` when unknown.
    """

    corners: NDArray[np.floating[Any]]
    patches: NDArray[np.floating[Any]]
    method: str
    score: float = float("nan")

    def __post_init__(self) -> None:
        if np.shape(self.corners) != (4, 2):
            raise ValueError(f"corners must have shape (4, 2), got {np.shape(self.corners)}")
        if np.shape(self.patches) != (24, 4, 2):
            raise ValueError(
                f"patches must have shape (24, 4, 2), got {np.shape(self.patches)}"
            )


@dataclass(frozen=True)
class Patches:
    """
    Hold the 24 sampled patch colours of one chart.

    Parameters
    ----------
    RGB
        ``(24, 3)`` float32, robust mean of each patch, code order, same scale
        as the sampled image (linear camera RGB, [0, 1] of white level).
    clipped
        ``(24,)`` bool, True where any channel of the patch is within 2 % of the
        white level or in the image's clip mask.
    noise
        ``(24, 3)`` float32, standard deviation inside each patch's sample area.
    """

    RGB: NDArrayFloat
    clipped: NDArrayBool
    noise: NDArrayFloat

    def __post_init__(self) -> None:
        if np.shape(self.RGB) != (24, 3):
            raise ValueError(f"RGB must have shape (24, 3), got {np.shape(self.RGB)}")
