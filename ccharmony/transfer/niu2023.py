"""
ccHarmony polynomial
====================

Define :func:`fit_polynomial_Niu2023`: the published ccHarmony mapping, an
11-term polynomial per output channel in 8-bit sRGB values.

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
-   :cite:`Huang2022` : Huang, H., & Niu, L. (2022). ccHarmony: Color-checker
    based Image Harmonization Dataset. arXiv:2206.00800.
-   :cite:`Cheung2004` : Cheung, V., Westland, S., Connah, D., & Ripamonti, C.
    (2004). A comparative study of the characterisation of colour cameras by
    means of neural networks and polynomial transforms. Coloration
    Technology, 120(1), 19-25. doi:10.1111/j.1478-4408.2004.tb00201.x
"""

from __future__ import annotations

import numpy as np

from ccharmony._types import ArrayLike
from ccharmony.transfer._methods import _expand_poly11, _fit_rows
from ccharmony.transfer.record import Transfer

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["fit_polynomial_Niu2023"]


def fit_polynomial_Niu2023(source: ArrayLike, target: ArrayLike) -> Transfer:
    """
    Fit ccHarmony's 11-term polynomial mapping per output channel.

    Parameters
    ----------
    source
        ``(n, 3)`` patch colours to map from (n >= 11), 8-bit sRGB values.
    target
        ``(n, 3)`` matching patch colours to map to.

    Returns
    -------
    Transfer
        ``method="poly11"``, ``params`` ``(3, 11)`` on the terms
        ``[r, g, b, rg, rb, gb, r², g², b², rgb, 1]``.

    Raises
    ------
    AnnotationError
        Fewer than 11 rows where both colours are finite (rows with NaN are
        left out of the fit).

    Notes
    -----
    Domain: 8-bit sRGB values as floats, [0, 255], not normalised (the
    published fit works in these units). Range: [0, 255] after clipping at
    :meth:`Transfer.apply`. The fit is ordinary least squares
    (``np.linalg.lstsq``, LAPACK gelsd) in float64, as the published
    ``polynomial_matching.py`` (scikit-learn ``LinearRegression`` without
    intercept).

    References
    ----------
    :cite:`Niu2023`, :cite:`Huang2022`, :cite:`Cheung2004`

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> S = rng.uniform(0, 255, (24, 3))
    >>> T = fit_polynomial_Niu2023(S, S * 0.5 + 10)
    >>> np.round(T.params[0, [0, 10]], 6)
    array([  0.5,  10. ])
    """
    S, T = _fit_rows("poly11", source, target)
    M, *_ = np.linalg.lstsq(_expand_poly11(S), T, rcond=None)
    return Transfer("poly11", M.T, "srgb8")
