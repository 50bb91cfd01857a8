"""
Root-polynomial colour correction
=================================

Define :func:`fit_root_polynomial_Finlayson2015`: degree-2 root-polynomial
mapping in linear camera RGB (exposure invariant).

References
----------
-   :cite:`Finlayson2015` : Finlayson, G. D., Mackiewicz, M., & Hurlbert, A.
    (2015). Color Correction Using Root-Polynomial Regression. IEEE
    Transactions on Image Processing, 24(5), 1460-1470.
    doi:10.1109/TIP.2015.2405336
"""

from __future__ import annotations

import numpy as np  # noqa: F401 - doctests
from colour.characterisation import matrix_colour_correction

from ccharmony._types import ArrayLike
from ccharmony.transfer._methods import _fit_rows
from ccharmony.transfer.record import Transfer

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["fit_root_polynomial_Finlayson2015"]


def fit_root_polynomial_Finlayson2015(source: ArrayLike, target: ArrayLike) -> Transfer:
    """
    Fit a degree-2 root-polynomial colour correction.

    Parameters
    ----------
    source
        ``(n, 3)`` linear camera RGB to map from (n >= 6).
    target
        ``(n, 3)`` matching linear camera RGB to map to.

    Returns
    -------
    Transfer
        ``method="root-poly2"``, ``params`` ``(3, 6)`` on the terms
        ``[r, g, b, √(rg), √(gb), √(rb)]``.

    Raises
    ------
    AnnotationError
        Fewer than 6 finite patch pairs.

    Notes
    -----
    Domain/Range: linear camera RGB, [0, 1] of white level, not clipped.
    Every term is of degree 1, so the mapping is exposure invariant:
    ``T(k·RGB) = k·T(RGB)``. Fitted with colour-science's
    ``matrix_colour_correction(method="Finlayson 2015", degree=2)``.

    References
    ----------
    :cite:`Finlayson2015`

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> S = rng.uniform(0.01, 1, (24, 3))
    >>> T = fit_root_polynomial_Finlayson2015(S, S[:, ::-1])
    >>> np.allclose(T.apply(2 * S), 2 * S[:, ::-1], atol=1e-5)
    True
    """
    S, T = _fit_rows("root-poly2", source, target)
    M = matrix_colour_correction(S, T, method="Finlayson 2015", degree=2)
    return Transfer("root-poly2", M, "linear")
