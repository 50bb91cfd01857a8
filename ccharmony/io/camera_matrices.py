"""
Camera matrices
===============

Define the XYZ (D65) -> camera RGB matrices of the cameras of the Gehler-Shi
and NUS colour constancy datasets, whose linear PNG files carry no colour
matrix of their own:

-   :class:`CameraMatrix`: one camera's matrix with its source row.
-   :data:`CAMERA_MATRICES`: dataset camera key -> :class:`CameraMatrix`.
-   :func:`find_camera_matrix`: look a matrix up by dataset key or by exact
    camera name.

The numbers are the Adobe DNG Converter ``ColorMatrix2`` values (calibration
illuminant D65, DNG convention: CIE XYZ -> camera RGB) as collected by
dcraw / LibRaw in their ``adobe_coeff`` table, stored there as integers x 10000;
we keep those integers and divide by 10000. ``ccharmony.render`` uses them as
``camera_matrix`` (fixed D65 gains ``w_G / (M @ XYZ_D65)``, then camera -> sRGB).

Source: LibRaw/LibRaw ``src/tables/colordata.cpp``, function
``LibRaw::adobe_coeff`` (commit 158e635e5e80a95dfa402b0a79a7167922c1d4ec,
"All matrices are from Adobe DNG Converter unless otherwise noted"; none of the
rows below carries a ``DJC`` / ``LibRaw`` note). Rows there have the form
``{ LIBRAW_CAMERAMAKER_<Make>, "<model prefix>", black, maximum, { 9 ints } }``;
dcraw.c (:cite:`Coffin2018`) has the same numbers as
``{ "<Make> <model>", black, maximum, { 9 ints } }``. The Sony SLT-A57 row was
cross-checked against a dcraw-format table that lists ``"Sony SLT-A57"``
explicitly (same nine numbers).

LibRaw matches model names by *prefix* in table order, so the exact row
matters:

=============  =======================  =========================================
key            LibRaw row (make, name)  trap avoided
=============  =======================  =========================================
Canon5D        Canon "EOS 5D"           not "EOS 5D Mark II/III/IV", "EOS 5DS"
Canon1D        Canon "EOS-1D"           not "EOS-1Ds", "EOS-1Ds Mark III",
                                        "EOS-1D Mark II/III/IV", "EOS-1D X"
Canon1DsMkIII  Canon "EOS-1Ds Mark III" not "EOS-1Ds" or "EOS-1Ds Mark II"
Canon600D      Canon "EOS 600D"
FujifilmXM1    Fujifilm "X-M1"
NikonD40       Nikon "D40"              not "D40X"
NikonD5200     Nikon "D5200"
OlympusEPL6    Olympus "E-PL6"
PanasonicGX1   Panasonic "DMC-GX1"
SamsungNX2000  Samsung "NX2000"         not "NX2" (NX20/NX200/NX210)
SonyA57        Sony "SLT-A5"            LibRaw's shared row "same CMs: SLT-A57,
                                        SLT-A58"; not "SLT-A55"
=============  =======================  =========================================

The Gehler-Shi files were re-processed by Shi and Funt from the raw files
without colour conversion, and the NUS files are likewise in the camera's raw
RGB, so the raw-file matrix applies to both. The Nikon D40 files were released
with the NUS set but are left out of the usual 8-camera "NUS-8" benchmark.

References
----------
:cite:`Adobe2012` : Adobe Systems (2012). Digital Negative (DNG)
    Specification, version 1.4.0.0, chapter 6 "Mapping Camera Color Space to
    CIE XYZ Space" (ColorMatrix2, CalibrationIlluminant2 = D65).
:cite:`LibRaw` : LibRaw LLC, LibRaw raw image decoder library,
    ``src/tables/colordata.cpp`` (``adobe_coeff``), github.com/LibRaw/LibRaw.
:cite:`Coffin2018` : D. Coffin, dcraw.c, ``adobe_coeff`` table.
:cite:`Shi2010`, :cite:`Cheng2014` : the datasets (see :mod:`ccharmony.io.linear`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "CAMERA_MATRIX_SOURCE",
    "CameraMatrix",
    "CAMERA_MATRICES",
    "find_camera_matrix",
]

CAMERA_MATRIX_SOURCE = (
    "Adobe DNG Converter ColorMatrix2 (D65) as collected by dcraw/LibRaw adobe_coeff: "
    "LibRaw/LibRaw src/tables/colordata.cpp @ 158e635e5e80a95dfa402b0a79a7167922c1d4ec"
)
"""Where the numbers of :data:`CAMERA_MATRICES` come from."""


@dataclass(frozen=True)
class CameraMatrix:
    """
    Hold the XYZ (D65) -> camera RGB matrix of one dataset camera.

    Parameters
    ----------
    camera
        Dataset camera key, as in :data:`ccharmony.io.linear.LINEAR_CAMERA_LEVELS`.
    make, model
        Camera make and model (``"Canon"``, ``"EOS 5D"``).
    table_row
        The LibRaw ``adobe_coeff`` row the numbers were read from (make and
        model string as written there).
    coefficients
        The nine integers of that row, row-major, x 10000.

    Notes
    -----
    :attr:`matrix` maps CIE XYZ (Y = 1 for the D65 white) to linear camera
    RGB at an arbitrary overall scale (DNG ColorMatrix convention).
    """

    camera: str
    make: str
    model: str
    table_row: str
    coefficients: tuple[int, int, int, int, int, int, int, int, int]

    @property
    def matrix(self) -> np.ndarray:
        """Return the ``(3, 3)`` float64 XYZ -> camera matrix (coefficients / 10000)."""
        return np.asarray(self.coefficients, dtype=np.float64).reshape(3, 3) / 10000.0

    @property
    def as_tuple(self) -> tuple[tuple[float, float, float], ...]:
        """Return :attr:`matrix` as nested tuples, the form of ``ImageMetadata.camera_matrix``."""
        return tuple((float(r[0]), float(r[1]), float(r[2])) for r in self.matrix)

    @property
    def name(self) -> str:
        """Return ``"<make> <model>"``."""
        return f"{self.make} {self.model}"


def _row(camera: str, make: str, model: str, table_row: str, *values: int) -> tuple[str, CameraMatrix]:
    if len(values) != 9:
        raise ValueError(f"{camera}: expected 9 coefficients, got {len(values)}")
    return camera, CameraMatrix(camera, make, model, table_row, values)  # type: ignore[arg-type]


CAMERA_MATRICES: dict[str, CameraMatrix] = dict(
    [
        # Gehler-Shi
        _row("Canon5D", "Canon", "EOS 5D", 'Canon "EOS 5D"',
             6347, -479, -972, -8297, 15954, 2480, -1968, 2131, 7649),
        _row("Canon1D", "Canon", "EOS-1D", 'Canon "EOS-1D"',
             6806, -179, -1020, -8097, 16415, 1687, -3267, 4236, 7690),
        # NUS
        _row("Canon1DsMkIII", "Canon", "EOS-1Ds Mark III", 'Canon "EOS-1Ds Mark III"',
             5859, -211, -930, -8255, 16017, 2353, -1732, 1887, 7448),
        _row("Canon600D", "Canon", "EOS 600D", 'Canon "EOS 600D"',
             6461, -907, -882, -4300, 12184, 2378, -819, 1944, 5931),
        _row("FujifilmXM1", "Fujifilm", "X-M1", 'Fujifilm "X-M1"',
             10413, -3996, -993, -3721, 11640, 2361, -733, 1540, 6011),
        _row("NikonD40", "Nikon", "D40", 'Nikon "D40"',
             6992, -1668, -806, -8138, 15748, 2543, -874, 850, 7897),
        _row("NikonD5200", "Nikon", "D5200", 'Nikon "D5200"',
             8322, -3112, -1047, -6367, 14342, 2179, -988, 1638, 6394),
        _row("OlympusEPL6", "Olympus", "E-PL6", 'Olympus "E-PL6"',
             8380, -2630, -639, -2887, 10725, 2496, -627, 1427, 5438),
        _row("PanasonicGX1", "Panasonic", "DMC-GX1", 'Panasonic "DMC-GX1"',
             6763, -1919, -863, -3868, 11515, 2684, -1216, 2387, 5879),
        _row("SamsungNX2000", "Samsung", "NX2000", 'Samsung "NX2000"',
             7557, -2522, -739, -4679, 12949, 1894, -840, 1777, 5311),
        _row("SonyA57", "Sony", "SLT-A57", 'Sony "SLT-A5" (same CMs: SLT-A57, SLT-A58)',
             5991, -1456, -455, -4764, 12135, 2980, -707, 1425, 6701),
    ]
)
"""Dataset camera key -> :class:`CameraMatrix` (see the module docstring for the source)."""


def _normalise(name: str) -> str:
    return " ".join(str(name).replace("_", " ").split()).lower()


def find_camera_matrix(name: str) -> CameraMatrix | None:
    """
    Look up a camera matrix by dataset key or by exact camera name.

    Parameters
    ----------
    name
        A key of :data:`CAMERA_MATRICES` (``"Canon5D"``, any case), or the
        full camera name ``"<make> <model>"`` (``"Canon EOS 5D"``), compared
        whole (case and repeated spaces ignored), never as a prefix: ``"Canon
        EOS 5D Mark II"`` is not the Canon EOS 5D.

    Returns
    -------
    CameraMatrix or None
        ``None`` when the camera is not in the table.

    Notes
    -----
    Whole-name matching differs on purpose from LibRaw's prefix matching,
    which relies on table order to tell ``"EOS-1D"`` from ``"EOS-1Ds Mark
    III"``.

    References
    ----------
    :cite:`LibRaw`, :cite:`Adobe2012`

    Examples
    --------
    >>> find_camera_matrix("canon5d").model, find_camera_matrix("Canon EOS-1D").camera
    ('EOS 5D', 'Canon1D')
    >>> find_camera_matrix("Canon EOS 5D Mark II") is None
    True
    """
    key = _normalise(name)
    for entry in CAMERA_MATRICES.values():
        if key in (entry.camera.lower(), _normalise(entry.name)):
            return entry
    return None
