"""
Transfer method table (private)
===============================

Define what each transfer method needs, shared by the record and the fits:

-   ``TransferDomain`` and :attr:`NEUTRAL_PATCHES`.
-   the term expansions (``poly11``, ``root-poly2``, linear), the private
    method table and the finite-row selection used by every fit.

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
-   :cite:`Finlayson2015` : Finlayson, G. D., Mackiewicz, M., & Hurlbert, A.
    (2015). Color Correction Using Root-Polynomial Regression. IEEE
    Transactions on Image Processing, 24(5), 1460-1470.
    doi:10.1109/TIP.2015.2405336
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ccharmony._types import ArrayLike
from ccharmony.errors import AnnotationError, ConfigError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["TransferDomain", "NEUTRAL_PATCHES"]

TransferDomain = Literal["srgb8", "linear"]

NEUTRAL_PATCHES: tuple[int, ...] = (18, 19, 20, 21, 22, 23)
"""Code indices of the neutral row: white, four greys, black."""


# --- expansions -------------------------------------------------------------


def _expand_poly11(RGB: np.ndarray) -> np.ndarray:
    """Return ``(n, 11)`` float64 terms ``[r, g, b, rg, rb, gb, r², g², b², rgb, 1]``.

    The same terms in the same order as ccHarmony's ``polynomial_matching.py``
    and colour-science's ``matrix_augmented_Cheung2004(RGB, terms=11)``
    (tests/test_transfer.py checks both); written out here because it is
    about 3x faster on large images.
    """
    RGB = np.asarray(RGB, dtype=np.float64).reshape(-1, 3)
    r, g, b = RGB[:, 0], RGB[:, 1], RGB[:, 2]
    out = np.empty((RGB.shape[0], 11), dtype=np.float64)
    out[:, 0:3] = RGB
    np.multiply(r, g, out=out[:, 3])
    np.multiply(r, b, out=out[:, 4])
    np.multiply(g, b, out=out[:, 5])
    np.multiply(RGB, RGB, out=out[:, 6:9])
    np.multiply(out[:, 3], b, out=out[:, 9])
    out[:, 10] = 1.0
    return out


def _expand_root_poly2(RGB: np.ndarray) -> np.ndarray:
    """Return ``(n, 6)`` float64 terms ``[r, g, b, √(rg), √(gb), √(rb)]`` (sign-preserving roots).

    Equal to colour-science's ``polynomial_expansion_Finlayson2015(RGB, degree=2)``
    (checked in tests/test_transfer.py).
    """
    RGB = np.asarray(RGB, dtype=np.float64).reshape(-1, 3)
    r, g, b = RGB[:, 0], RGB[:, 1], RGB[:, 2]
    out = np.empty((RGB.shape[0], 6), dtype=np.float64)
    out[:, 0:3] = RGB
    np.multiply(r, g, out=out[:, 3])
    np.multiply(g, b, out=out[:, 4])
    np.multiply(r, b, out=out[:, 5])
    cross = out[:, 3:6]
    np.copysign(np.sqrt(np.abs(cross)), cross, out=cross)
    return out


def _expand_identity(RGB: np.ndarray) -> np.ndarray:
    return np.asarray(RGB, dtype=np.float64).reshape(-1, 3)


@dataclass(frozen=True)
class _MethodSpec:
    domain: TransferDomain
    terms: int
    minimum_patches: int
    expand: Callable[[np.ndarray], np.ndarray]


_SPECS: dict[str, _MethodSpec] = {
    "poly11": _MethodSpec("srgb8", 11, 11, _expand_poly11),
    "root-poly2": _MethodSpec("linear", 6, 6, _expand_root_poly2),
    "linear3x3": _MethodSpec("linear", 3, 3, _expand_identity),
    "diagonal": _MethodSpec("linear", 3, 1, _expand_identity),
}


def _check_method(method: str) -> _MethodSpec:
    if method not in _SPECS:
        close = difflib.get_close_matches(str(method), list(_SPECS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"method: unknown transfer method {method!r}{hint}; accepted: {', '.join(_SPECS)}"
        )
    return _SPECS[method]


def _fit_rows(
    method: str, source: ArrayLike, target: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Return the finite matching rows of ``source`` and ``target`` as float64."""
    spec = _SPECS[method]
    S = np.asarray(source, dtype=np.float64)
    T = np.asarray(target, dtype=np.float64)
    if S.ndim != 2 or S.shape[1] != 3 or S.shape != T.shape:
        raise ValueError(
            f"source and target must both have shape (n, 3), got {S.shape} and {T.shape}"
        )
    keep = np.all(np.isfinite(S), axis=1) & np.all(np.isfinite(T), axis=1)
    if int(keep.sum()) < spec.minimum_patches:
        raise AnnotationError(
            f"patch colours: {method!r} needs at least {spec.minimum_patches} finite patch pairs, "
            f"got {int(keep.sum())} of {S.shape[0]}"
        )
    return S[keep], T[keep]
