"""Private type aliases shared by the package (one place, as in ``colour.hints``)."""

from __future__ import annotations

from os import PathLike
from typing import Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["ArrayLike", "NDArray", "NDArrayFloat", "NDArrayBool", "NDArrayUInt8", "PathType"]

NDArrayFloat = NDArray[np.float32]
NDArrayBool = NDArray[np.bool_]
NDArrayUInt8 = NDArray[np.uint8]
PathType = Union[str, "PathLike[str]"]
