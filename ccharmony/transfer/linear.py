"""
Linear colour transfers
=======================

Define the linear transfers in linear camera RGB:

-   :func:`fit_linear`: a 3x3 least-squares matrix.
-   :func:`fit_diagonal_VonKries`: per-channel gains from the neutral patches.

References
----------
-   :cite:`Cheung2004` : Cheung, V., Westland, S., Connah, D., & Ripamonti, C.
    (2004). A comparative study of the characterisation of colour cameras by
    means of neural networks and polynomial transforms. Coloration
    Technology, 120(1), 19-25. doi:10.1111/j.1478-4408.2004.tb00201.x
-   :cite:`vonKries1902` : von Kries, J. (1902). Chromatic adaptation.
    Festschrift der Albrecht-Ludwig-Universität, 145-158.
"""

from __future__ import annotations

import numpy as np
from colour.characterisation import matrix_colour_correction

from ccharmony._types import ArrayLike
from ccharmony.errors import AnnotationError
from ccharmony.transfer._methods import NEUTRAL_PATCHES, _fit_rows
from ccharmony.transfer.record import Transfer

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["fit_linear", "fit_diagonal_VonKries"]


def fit_linear(source: ArrayLike, target: ArrayLike) -> Transfer:
    """
    Fit a 3x3 least-squares colour matrix (no offset).

    Parameters
    ----------
    source
        ``(n, 3)`` linear camera RGB to map from (n >= 3).
    target
        ``(n, 3)`` matching linear camera RGB to map to.

    Returns
    -------
    Transfer
        ``method="linear3x3"``, ``params`` the ``(3, 3)`` matrix ``M`` with
        ``target ≈ M @ source``.

    Raises
    ------
    AnnotationError
        Fewer than 3 finite patch pairs.

    Notes
    -----
    Domain/Range: linear camera RGB, [0, 1] of white level, not clipped.
    Fitted with colour-science's ``matrix_colour_correction(method="Cheung
    2004", terms=3)``.

    References
    ----------
    :cite:`Cheung2004`

    Examples
    --------
    >>> S = np.random.default_rng(2).uniform(0, 1, (24, 3))
    >>> M = np.array([[0.9, 0.1, 0.0], [0.05, 1.1, -0.1], [0.0, 0.2, 0.7]])
    >>> np.allclose(fit_linear(S, S @ M.T).params, M)
    True
    """
    S, T = _fit_rows("linear3x3", source, target)
    M = matrix_colour_correction(S, T, method="Cheung 2004", terms=3)
    return Transfer("linear3x3", M, "linear")


def fit_diagonal_VonKries(source: ArrayLike, target: ArrayLike) -> Transfer:
    """
    Fit von Kries per-channel gains on the chart's neutral patches.

    Parameters
    ----------
    source
        ``(24, 3)`` linear camera RGB, code order (neutral patches 18-23).
    target
        ``(24, 3)`` matching linear camera RGB.

    Returns
    -------
    Transfer
        ``method="diagonal"``, ``params`` ``diag(g)`` with, per channel,
        ``g_c = Σ s_c t_c / Σ s_c²`` over the finite neutral patches.

    Raises
    ------
    AnnotationError
        No neutral patch pair is finite, or the arrays are not ``(24, 3)``.

    Notes
    -----
    Domain/Range: linear camera RGB, [0, 1] of white level, not clipped.
    Clipped patches should be passed as NaN so that they are left out.

    References
    ----------
    :cite:`vonKries1902`

    Examples
    --------
    >>> S = np.random.default_rng(3).uniform(0.05, 1, (24, 3))
    >>> fit_diagonal_VonKries(S, S * [1.5, 1.0, 0.5]).params.diagonal()
    array([1.5, 1. , 0.5])
    """
    S = np.asarray(source, dtype=np.float64)
    T = np.asarray(target, dtype=np.float64)
    if S.shape != (24, 3) or T.shape != (24, 3):
        raise AnnotationError(
            f"patch colours: 'diagonal' needs (24, 3) charts in code order, got {S.shape} and {T.shape}"
        )
    neutral = list(NEUTRAL_PATCHES)
    S_n, T_n = _fit_rows("diagonal", S[neutral], T[neutral])
    denominator = np.sum(S_n * S_n, axis=0)
    if np.any(denominator <= 0):
        raise AnnotationError("patch colours: 'diagonal' found all-zero neutral patches in the source")
    gains = np.sum(S_n * T_n, axis=0) / denominator
    return Transfer("diagonal", np.diag(gains), "linear")
