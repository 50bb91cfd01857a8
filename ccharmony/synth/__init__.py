"""
Synthetic captures
==================

Physically based synthetic captures for tests, demos and accuracy
measurements: a spectral ColorChecker and objects of measured reflectance on a
textured background, lit by CIE daylight, blackbody, fluorescent and LED
sources, seen through measured camera sensitivities, with shot and read noise,
black level and a CFA mosaic, written as uncompressed DNG files with their
ground truth.

-   :func:`synthesize`: write a capture set (see :mod:`ccharmony.synth.captures`).
-   :class:`SynthCapture`: one written capture.
-   :func:`read_truth`, :func:`read_relit`, :func:`render_relit`: the truth.
-   :data:`CAMERAS`, :data:`ILLUMINANT_SETS`: what can be simulated.

Modules: :mod:`~ccharmony.synth.spectra` (spectral data),
:mod:`~ccharmony.synth.scene` (scenes), :mod:`~ccharmony.synth.sensor` (noise,
mosaic), :mod:`~ccharmony.synth.captures` (writing sets),
:mod:`~ccharmony.synth.truth` (reading the truth).

References
----------
-   :cite:`Ohta1997` : Ohta, N. (1997). The basis of color reproduction
    engineering. Corona-sha.
-   :cite:`Darrodi2015` : Darrodi, M. M., Finlayson, G., Goodman, T., &
    Mackiewicz, M. (2015). Reference data set for camera spectral sensitivity
    estimation. JOSA A, 32(3), 381-391. doi:10.1364/JOSAA.32.000381
-   :cite:`Dyer2017` : Dyer, S., Forsythe, A., Irons, J., Mansencal, T., &
    Zhu, M. (2017). RAW to ACES (rawtoaces), version 1. AMPAS.
-   :cite:`Foi2008` : Foi, A., Trimeche, M., Katkovnik, V., & Egiazarian, K.
    (2008). Practical Poissonian-Gaussian noise modeling and fitting for
    single-image raw-data. IEEE TIP, 17(10), 1737-1754.
    doi:10.1109/TIP.2008.2001399
-   :cite:`Adobe2012` : Adobe Systems Incorporated. (2012). Digital Negative
    (DNG) Specification, version 1.4.0.0.
"""

from __future__ import annotations

from ccharmony.synth.captures import SynthCapture, synthesize
from ccharmony.synth.spectra import CAMERAS, ILLUMINANT_SETS
from ccharmony.synth.truth import RelitTruth, read_relit, read_truth, render_relit

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "CAMERAS",
    "ILLUMINANT_SETS",
    "RelitTruth",
    "SynthCapture",
    "read_relit",
    "read_truth",
    "render_relit",
    "synthesize",
]
