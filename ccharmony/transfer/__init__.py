"""
Colour transfer
===============

Define the colour transfer models that map one image's chart colours onto
another's, and how they are fitted, applied, chained and recorded:

-   :class:`Transfer`: a fitted mapping (method, parameters, domain) with
    :meth:`Transfer.apply`, :meth:`Transfer.apply_uint8`, :meth:`Transfer.then`,
    :meth:`Transfer.to_dict` and :meth:`Transfer.from_dict`.
-   :func:`fit_polynomial_Niu2023`: ccHarmony's 11-term polynomial in 8-bit
    sRGB (``poly11``).
-   :func:`fit_root_polynomial_Finlayson2015`: degree-2 root-polynomial in
    linear camera RGB (``root-poly2``).
-   :func:`fit_linear`: 3x3 least-squares matrix in linear camera RGB
    (``linear3x3``).
-   :func:`fit_diagonal_VonKries`: per-channel gains from the neutral patches
    in linear camera RGB (``diagonal``).
-   :attr:`TRANSFER_METHODS` and the dispatcher :func:`fit`.
-   :func:`fit_transitive`: source -> standard -> target, as ccHarmony does.
-   :func:`loo_residual`: leave-one-out ΔE00 of each patch.
-   :func:`delta_E_patches`, :func:`srgb8_to_Lab`, :func:`camera_RGB_to_Lab`.

One file per method (:mod:`~ccharmony.transfer.niu2023`,
:mod:`~ccharmony.transfer.finlayson2015`, :mod:`~ccharmony.transfer.linear`),
the record in :mod:`~ccharmony.transfer.record`, colour differences in
:mod:`~ccharmony.transfer.difference`; the dispatch lives here.

Domains: ``"srgb8"`` is 8-bit sRGB as floats in [0, 255] (the output of the
last step is clipped to [0, 255]); ``"linear"`` is linear camera RGB, [0, 1]
of the white level, never clipped.

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
-   :cite:`Finlayson2015` : Finlayson, G. D., Mackiewicz, M., & Hurlbert, A.
    (2015). Color Correction Using Root-Polynomial Regression. IEEE
    Transactions on Image Processing, 24(5), 1460-1470.
    doi:10.1109/TIP.2015.2405336
-   :cite:`vonKries1902` : von Kries, J. (1902). Chromatic adaptation.
    Festschrift der Albrecht-Ludwig-Universität, 145-158.
-   :cite:`Sharma2005` : Sharma, G., Wu, W., & Dalal, E. N. (2005). The
    CIEDE2000 color-difference formula: Implementation notes, supplementary
    test data, and mathematical observations. Color Research & Application,
    30(1), 21-30. doi:10.1002/col.20070
-   :cite:`IEC61966-2-1` : IEC (1999). IEC 61966-2-1: Multimedia systems and
    equipment - Colour measurement and management - Part 2-1: Colour
    management - Default RGB colour space - sRGB.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

from ccharmony._types import ArrayLike, NDArrayFloat
from ccharmony.transfer._methods import NEUTRAL_PATCHES, TransferDomain, _check_method
from ccharmony.transfer.difference import camera_RGB_to_Lab, delta_E_patches, srgb8_to_Lab
from ccharmony.transfer.finlayson2015 import fit_root_polynomial_Finlayson2015
from ccharmony.transfer.linear import fit_diagonal_VonKries, fit_linear
from ccharmony.transfer.niu2023 import fit_polynomial_Niu2023
from ccharmony.transfer.record import Transfer

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "TransferDomain",
    "NEUTRAL_PATCHES",
    "Transfer",
    "fit_polynomial_Niu2023",
    "fit_root_polynomial_Finlayson2015",
    "fit_linear",
    "fit_diagonal_VonKries",
    "TRANSFER_METHODS",
    "fit",
    "fit_transitive",
    "srgb8_to_Lab",
    "camera_RGB_to_Lab",
    "delta_E_patches",
    "loo_residual",
]


TRANSFER_METHODS: dict[str, Callable[[ArrayLike, ArrayLike], Transfer]] = {
    "poly11": fit_polynomial_Niu2023,
    "root-poly2": fit_root_polynomial_Finlayson2015,
    "linear3x3": fit_linear,
    "diagonal": fit_diagonal_VonKries,
}
"""
Supported colour transfer fitting methods.

-   ``poly11``: :func:`fit_polynomial_Niu2023`, 8-bit sRGB (published ccHarmony).
-   ``root-poly2``: :func:`fit_root_polynomial_Finlayson2015`, linear camera RGB.
-   ``linear3x3``: :func:`fit_linear`, linear camera RGB.
-   ``diagonal``: :func:`fit_diagonal_VonKries`, linear camera RGB.
"""


def fit(
    method: Literal["poly11", "root-poly2", "linear3x3", "diagonal"] | str,
    source: ArrayLike,
    target: ArrayLike,
) -> Transfer:
    """
    Fit a colour transfer from ``source`` patch colours to ``target`` ones.

    Parameters
    ----------
    method
        A key of :attr:`TRANSFER_METHODS`.
    source
        ``(24, 3)`` patch colours (code order) in the method's domain.
    target
        ``(24, 3)`` matching patch colours.

    Returns
    -------
    Transfer

    Raises
    ------
    ConfigError
        Unknown method (the message offers the closest key).
    AnnotationError
        Too few finite patch pairs for the method.

    Notes
    -----
    Domain/Range: ``poly11`` 8-bit sRGB values, [0, 255]; the others linear
    camera RGB, [0, 1] of white level.

    References
    ----------
    :cite:`Niu2023`, :cite:`Finlayson2015`, :cite:`Cheung2004`,
    :cite:`vonKries1902`

    Examples
    --------
    >>> S = np.random.default_rng(4).uniform(0.05, 1, (24, 3))
    >>> fit("diagonal", S, 2 * S).apply(np.ones(3))
    array([2., 2., 2.], dtype=float32)
    """
    _check_method(method)
    return TRANSFER_METHODS[method](source, target)


def fit_transitive(
    method: str,
    source: ArrayLike,
    target: ArrayLike,
    *,
    standard: ArrayLike | None = None,
) -> Transfer:
    """
    Fit the transitive mapping source -> standard -> target.

    Parameters
    ----------
    method
        A key of :attr:`TRANSFER_METHODS`.
    source, target
        ``(24, 3)`` patch colours (code order) of the source and target images.
    standard
        ``(24, 3)`` colours of the chart under the standard illumination.
        ``None``: for ``poly11`` the ColorChecker 2005 sRGB table
        (:func:`ccharmony.io.patch_colors.read_standard_srgb`), as published;
        for the linear methods no intermediate step (a direct source -> target
        fit, since there is no camera-independent linear standard).

    Returns
    -------
    Transfer
        ``fit(method, source, standard).then(fit(method, standard, target))``
        or ``fit(method, source, target)``.

    Notes
    -----
    Domain/Range: as :func:`fit`.

    References
    ----------
    :cite:`Niu2023`
    """
    spec = _check_method(method)
    if standard is None and spec.domain == "srgb8":
        from ccharmony.io.patch_colors import read_standard_srgb

        standard = read_standard_srgb(dtype=np.float64)
    if standard is None:
        return fit(method, source, target)
    return fit(method, source, standard).then(fit(method, standard, target))


def loo_residual(
    method: str,
    source: ArrayLike,
    target: ArrayLike,
    *,
    camera_matrix: ArrayLike | None = None,
) -> NDArrayFloat:
    """
    Return each patch's ΔE00 when predicted by a fit on the other patches.

    Parameters
    ----------
    method
        A key of :attr:`TRANSFER_METHODS`.
    source, target
        ``(24, 3)`` patch colours, code order, in the method's domain.
    camera_matrix
        For linear methods: XYZ -> camera matrix used for L*a*b*; ``None``
        treats camera RGB as linear sRGB.

    Returns
    -------
    :class:`numpy.ndarray`
        ``(24,)`` float32 ΔE00 between ``T_{-i}(source[i])`` and
        ``target[i]``, where ``T_{-i}`` is fitted without patch ``i``; NaN
        where patch ``i`` is not finite. For ``diagonal`` only the neutral
        patches enter the fit, so the other patches' residuals are plain
        prediction errors.

    Notes
    -----
    Domain: as :func:`fit`. Range: ΔE00 >= 0. For linear methods L* = 100 is
    the largest luminance among the target's patches.

    References
    ----------
    :cite:`Sharma2005`

    Examples
    --------
    >>> S = np.random.default_rng(5).uniform(20, 230, (24, 3))
    >>> float(np.max(loo_residual("poly11", S, S))) < 1e-3
    True
    """
    spec = _check_method(method)
    S = np.asarray(source, dtype=np.float64)
    T = np.asarray(target, dtype=np.float64)
    if S.shape != (24, 3) or T.shape != (24, 3):
        raise ValueError(f"source and target must have shape (24, 3), got {S.shape} and {T.shape}")
    predicted = np.full((24, 3), np.nan)
    for index in range(24):
        if not (np.all(np.isfinite(S[index])) and np.all(np.isfinite(T[index]))):
            continue
        S_i, T_i = S.copy(), T.copy()
        S_i[index] = np.nan  # left out of the fit
        predicted[index] = fit(method, S_i, T_i).apply(S[index])
    if spec.domain == "srgb8":
        return delta_E_patches(predicted, T, domain="srgb8")
    return delta_E_patches(predicted, T, domain="linear", camera_matrix=camera_matrix)
