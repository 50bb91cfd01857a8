"""
Spectral data of the synthetic captures
=======================================

Define the spectral ingredients of :mod:`ccharmony.synth`, all aligned to
:data:`SPECTRAL_SHAPE` (400-700 nm, 10 nm):

-   :data:`CAMERAS`: the simulated cameras and their measured sensitivities.
-   :data:`ILLUMINANT_SETS`: the illuminant families and their members.
-   :func:`camera_sensitivities`, :func:`illuminant_spd`,
    :func:`chart_reflectances`, :func:`training_reflectances`: the aligned data.
-   :func:`spectral_response`: camera x illuminant x exposure gain, ``(31, 3)``.
-   :func:`matrix_XYZ_to_camera`: the camera's DNG ``ColorMatrix1`` (D65).

Camera RGB of a reflectance ``R`` is ``R @ spectral_response(...)``, that is
``gain * sum over wavelengths of R(l) E(l) S_c(l)``.

References
----------
-   :cite:`Ohta1997` : Ohta, N. (1997). The basis of color reproduction
    engineering. Corona-sha (spectral ColorChecker data shipped by colour as
    "ColorChecker N Ohta").
-   :cite:`Darrodi2015` : Darrodi, M. M., Finlayson, G., Goodman, T., &
    Mackiewicz, M. (2015). Reference data set for camera spectral sensitivity
    estimation. Journal of the Optical Society of America A, 32(3), 381-391.
    doi:10.1364/JOSAA.32.000381
-   :cite:`Dyer2017` : Dyer, S., Forsythe, A., Irons, J., Mansencal, T., &
    Zhu, M. (2017). RAW to ACES (rawtoaces), version 1. Academy of Motion
    Picture Arts and Sciences (Canon EOS 5D Mark II sensitivities and the 190
    training reflectances).
-   :cite:`CIE2004` : CIE. (2004). CIE 15:2004 Colorimetry, 3rd edition
    (D series, blackbody, fluorescent illuminants, 1931 observer).
-   :cite:`CIE2018` : CIE. (2018). CIE 015:2018 Colorimetry, 4th edition
    (LED illuminants). doi:10.25039/TR.015.2018
-   :cite:`Adobe2012` : Adobe Systems Incorporated. (2012). Digital Negative
    (DNG) Specification, version 1.4.0.0.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from typing import Final

import numpy as np

from ccharmony._types import NDArray
from ccharmony.errors import ConfigError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "SPECTRAL_SHAPE",
    "CameraSpec",
    "CAMERAS",
    "ILLUMINANT_SETS",
    "camera_spec",
    "camera_sensitivities",
    "illuminant_spd",
    "illuminant_family",
    "chart_reflectances",
    "training_reflectances",
    "spectral_response",
    "matrix_XYZ_to_camera",
]

SPECTRAL_SHAPE: Final[tuple[int, int, int]] = (400, 700, 10)
"""``(start, end, interval)`` in nm of every spectrum used by the simulation (31 samples)."""


@dataclass(frozen=True)
class CameraSpec:
    """
    Describe a simulated camera.

    Parameters
    ----------
    name
        Full name, a key of :data:`CAMERAS`.
    short
        Short name used in image names (``"D5100"`` gives ``SynthD5100-0001``);
        no ``_`` or ``-``.
    make, model
        What the DNG ``Make`` and ``Model`` tags say. The make is
        ``"ccharmony"`` so that LibRaw does not substitute its own tables for
        a real camera of that name.
    source
        Where the sensitivities come from.
    """

    name: str
    short: str
    make: str
    model: str
    source: str


CAMERAS: Final[dict[str, CameraSpec]] = {
    "Nikon D5100": CameraSpec(
        "Nikon D5100", "D5100", "ccharmony", "Synthetic Nikon D5100",
        "colour MSDS_CAMERA_SENSITIVITIES['Nikon 5100 (NPL)'] (Darrodi2015)",
    ),
    "Sigma SD Merrill": CameraSpec(
        "Sigma SD Merrill", "SDMerrill", "ccharmony", "Synthetic Sigma SD Merrill",
        "colour MSDS_CAMERA_SENSITIVITIES['Sigma SDMerill (NPL)'] (Darrodi2015)",
    ),
    "Canon EOS 5D Mark II": CameraSpec(
        "Canon EOS 5D Mark II", "5DMarkII", "ccharmony", "Synthetic Canon EOS 5D Mark II",
        "colour rawtoaces CANON_EOS_5DMark_II_RGB_Sensitivities.csv (Dyer2017)",
    ),
}
"""The simulated cameras, by full name."""

ILLUMINANT_SETS: Final[dict[str, tuple[str, ...]]] = {
    "daylight": tuple(f"D{cct}" for cct in range(4000, 10001, 500)),
    "blackbody": tuple(f"BB{cct}" for cct in range(2500, 4001, 250)),
    "fluorescent": tuple(f"FL{i}" for i in range(1, 13)),
    "led": ("LED-B1", "LED-B2", "LED-B3", "LED-B4", "LED-B5", "LED-BH1", "LED-RGB1",
            "LED-V1", "LED-V2"),
}
"""Illuminant families and their members: ``D<CCT>`` CIE D series (4000-10000 K),
``BB<CCT>`` blackbody (2500-4000 K), CIE ``FL1``-``FL12`` and CIE LED sources."""

_SIGMA_KEY = "Sigma SDMerill (NPL)"
_NIKON_KEY = "Nikon 5100 (NPL)"


def _shape():  # noqa: ANN202 - colour type
    import colour

    return colour.SpectralShape(*SPECTRAL_SHAPE)


def _read_only(array: NDArray) -> NDArray:
    array = np.ascontiguousarray(array, dtype=np.float64)
    array.setflags(write=False)
    return array


def camera_spec(camera: str) -> CameraSpec:
    """
    Return the :class:`CameraSpec` of ``camera``.

    Raises
    ------
    ConfigError
        For an unknown camera name.

    Examples
    --------
    >>> camera_spec("Nikon D5100").short
    'D5100'
    """
    try:
        return CAMERAS[camera]
    except KeyError:
        raise ConfigError(
            f"unknown camera {camera!r}; use one of {', '.join(CAMERAS)}"
        ) from None


@functools.lru_cache(maxsize=None)
def camera_sensitivities(camera: str) -> NDArray[np.float64]:
    """
    Return the spectral sensitivities of ``camera``.

    Parameters
    ----------
    camera
        A key of :data:`CAMERAS`.

    Returns
    -------
    numpy.ndarray
        ``(31, 3)`` float64, read-only, R, G, B sensitivities at
        :data:`SPECTRAL_SHAPE`, each normalised to a peak of 1.

    Raises
    ------
    ConfigError
        For an unknown camera name.

    Notes
    -----
    Range: [0, 1], relative. The Sigma curves stop at 680 nm and are taken as
    0 beyond.

    References
    ----------
    :cite:`Darrodi2015`, :cite:`Dyer2017`

    Examples
    --------
    >>> S = camera_sensitivities("Canon EOS 5D Mark II")
    >>> S.shape, float(S.max())
    ((31, 3), 1.0)
    """
    import colour
    from colour.characterisation import MSDS_CAMERA_SENSITIVITIES

    camera_spec(camera)
    zero = {"method": "Constant", "left": 0, "right": 0}
    if camera == "Nikon D5100":
        values = MSDS_CAMERA_SENSITIVITIES[_NIKON_KEY].copy().align(
            _shape(), extrapolator_kwargs=zero).values
    elif camera == "Sigma SD Merrill":
        values = MSDS_CAMERA_SENSITIVITIES[_SIGMA_KEY].copy().align(
            _shape(), extrapolator_kwargs=zero).values
    else:
        import colour.characterisation

        path = os.path.join(os.path.dirname(colour.characterisation.__file__), "datasets",
                            "rawtoaces", "CANON_EOS_5DMark_II_RGB_Sensitivities.csv")
        sds = colour.io.read_sds_from_csv_file(path)
        values = np.stack([sds[key].copy().align(_shape(), extrapolator_kwargs=zero).values
                           for key in ("R", "G", "B")], axis=-1)
    values = np.clip(np.asarray(values, dtype=np.float64), 0, None)
    return _read_only(values / values.max(axis=0))


_ILLUMINANT_NAME = re.compile(r"^(D|BB)(\d{4,5})$")


def illuminant_family(name: str) -> str:
    """
    Return the :data:`ILLUMINANT_SETS` family of illuminant ``name``.

    Raises
    ------
    ConfigError
        For a name in no family.

    Examples
    --------
    >>> illuminant_family("FL11"), illuminant_family("D6500")
    ('fluorescent', 'daylight')
    """
    for family, members in ILLUMINANT_SETS.items():
        if name in members:
            return family
    raise ConfigError(
        f"unknown illuminant {name!r}; use a member of ILLUMINANT_SETS "
        "(D4000-D10000, BB2500-BB4000, FL1-FL12, LED-...)"
    )


@functools.lru_cache(maxsize=None)
def illuminant_spd(name: str) -> NDArray[np.float64]:
    """
    Return the relative spectral power distribution of illuminant ``name``.

    Parameters
    ----------
    name
        ``D<CCT>`` (CIE D series at that correlated colour temperature in K,
        4000-25000), ``BB<CCT>`` (blackbody, 1000-25000 K), or a key of
        ``colour.SDS_ILLUMINANTS`` (``FL1``-``FL12``, ``LED-B1`` ...).

    Returns
    -------
    numpy.ndarray
        ``(31,)`` float64, read-only, at :data:`SPECTRAL_SHAPE`, normalised to a
        mean of 1.

    Raises
    ------
    ConfigError
        For an unknown name or an out-of-range temperature.

    Notes
    -----
    Range: relative power, mean 1. ``D<CCT>`` takes the nominal temperature
    (``D6500`` is about D65: the CCT is scaled by 1.4388 / 1.4380 as for the
    CIE standard illuminants).

    References
    ----------
    :cite:`CIE2004`, :cite:`CIE2018`

    Examples
    --------
    >>> E = illuminant_spd("BB3000")
    >>> E.shape, bool(E[-1] > E[0])
    ((31,), True)
    """
    import colour

    match = _ILLUMINANT_NAME.match(name)
    if match:
        kind, cct = match.group(1), float(match.group(2))
        if kind == "D":
            if not 4000 <= cct <= 25000:
                raise ConfigError(f"illuminant {name!r}: D series needs 4000-25000 K")
            xy = colour.temperature.CCT_to_xy_CIE_D(cct * 1.4388 / 1.4380)
            sd = colour.sd_CIE_illuminant_D_series(xy, shape=_shape())
        else:
            if not 1000 <= cct <= 25000:
                raise ConfigError(f"illuminant {name!r}: blackbody needs 1000-25000 K")
            sd = colour.sd_blackbody(cct, _shape())
        values = np.asarray(sd.values, dtype=np.float64)
    elif name in colour.SDS_ILLUMINANTS:
        values = np.asarray(colour.SDS_ILLUMINANTS[name].copy().align(_shape()).values,
                            dtype=np.float64)
    else:
        raise ConfigError(
            f"unknown illuminant {name!r}; use D<CCT>, BB<CCT> or a colour.SDS_ILLUMINANTS key"
        )
    values = np.clip(values, 0, None)
    return _read_only(values / values.mean())


@functools.lru_cache(maxsize=None)
def chart_reflectances() -> NDArray[np.float64]:
    """
    Return the 24 spectral reflectances of the ColorChecker Classic.

    Returns
    -------
    numpy.ndarray
        ``(24, 31)`` float64, read-only, code order (0 dark skin ... 18 white
        ... 23 black), at :data:`SPECTRAL_SHAPE`.

    Notes
    -----
    Range: reflectance factor [0, 1].

    References
    ----------
    :cite:`Ohta1997`

    Examples
    --------
    >>> R = chart_reflectances()
    >>> R.shape, round(float(R[18, 15]), 2)
    ((24, 31), 0.89)
    """
    import colour

    sds = colour.SDS_COLOURCHECKERS["ColorChecker N Ohta"]
    return _read_only(np.stack([sd.copy().align(_shape()).values for sd in sds.values()]))


@functools.lru_cache(maxsize=None)
def training_reflectances() -> NDArray[np.float64]:
    """
    Return the 190 training reflectances of rawtoaces.

    Returns
    -------
    numpy.ndarray
        ``(190, 31)`` float64, read-only, at :data:`SPECTRAL_SHAPE`.

    Notes
    -----
    Range: reflectance factor, clipped to [0, 1].

    References
    ----------
    :cite:`Dyer2017`

    Examples
    --------
    >>> training_reflectances().shape
    (190, 31)
    """
    from colour.characterisation import read_training_data_rawtoaces_v1

    values = read_training_data_rawtoaces_v1().copy().align(_shape()).values
    return _read_only(np.clip(np.asarray(values, dtype=np.float64).T, 0, 1))


def spectral_response(camera: str, illuminant: str, *, gain: float = 1.0) -> NDArray[np.float64]:
    """
    Return the per-wavelength camera response to reflectance under an illuminant.

    Parameters
    ----------
    camera
        A key of :data:`CAMERAS`.
    illuminant
        An illuminant name (see :func:`illuminant_spd`).
    gain
        Exposure gain applied to every channel.

    Returns
    -------
    numpy.ndarray
        ``(31, 3)`` float64 ``K`` with ``K[l, c] = gain * E(l) * S_c(l)``, so that
        the camera RGB of reflectances ``R`` (``(n, 31)``) is ``R @ K``.

    Notes
    -----
    Range: linear camera RGB per unit reflectance; with the exposure gain of a
    capture, [0, 1] of the white level.

    Examples
    --------
    >>> K = spectral_response("Nikon D5100", "D6500")
    >>> white = np.ones(31) @ K
    >>> white.shape, bool(white[1] > white[2])
    ((3,), True)
    """
    return gain * illuminant_spd(illuminant)[:, None] * camera_sensitivities(camera)


@functools.lru_cache(maxsize=None)
def matrix_XYZ_to_camera(camera: str) -> NDArray[np.float64]:
    """
    Fit the camera's XYZ-to-camera-RGB matrix under D65, normalised the DNG way.

    Parameters
    ----------
    camera
        A key of :data:`CAMERAS`.

    Returns
    -------
    numpy.ndarray
        ``(3, 3)`` float64 ``M`` (DNG ``ColorMatrix1``, calibration illuminant
        D65): camera RGB = ``M @ XYZ``, scaled so that the largest component of
        ``M @ XYZ_D65`` (Y = 1) is 1.

    Notes
    -----
    Least squares over the 190 training reflectances under CIE D65, XYZ from
    the CIE 1931 2 degree observer (Y of the perfect white = 1).

    References
    ----------
    :cite:`Adobe2012`, :cite:`CIE2004`, :cite:`Dyer2017`

    Examples
    --------
    >>> M = matrix_XYZ_to_camera("Nikon D5100")
    >>> import colour
    >>> XYZ_w = colour.xy_to_XYZ(colour.CCS_ILLUMINANTS[
    ...     "CIE 1931 2 Degree Standard Observer"]["D65"])
    >>> round(float((M @ XYZ_w).max()), 6)
    1.0
    """
    import colour

    E = np.asarray(colour.SDS_ILLUMINANTS["D65"].copy().align(_shape()).values, dtype=np.float64)
    cmfs = np.asarray(colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"].copy().align(
        _shape()).values, dtype=np.float64)
    R = training_reflectances()
    k = 1.0 / float(E @ cmfs[:, 1])
    XYZ = k * (R * E) @ cmfs
    RGB = R @ (E[:, None] * camera_sensitivities(camera))
    M = np.linalg.lstsq(XYZ, RGB, rcond=None)[0].T
    XYZ_w = k * E @ cmfs
    return _read_only(M / float((M @ XYZ_w).max()))
