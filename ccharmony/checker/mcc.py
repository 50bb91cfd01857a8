"""
OpenCV mcc backend
==================

Define the backend that asks OpenCV's Macbeth ColorChecker detector
(``cv2.mcc``, opencv-contrib) where the 24 patches are:

-   :func:`find_patch_centres_mcc`: patch centres of each chart found in an
    8-bit BGR view.

Only the patch positions are used: the orientation ``cv2.mcc`` reports is
ignored and re-decided by :mod:`ccharmony.checker.orientation`.

References
----------
:cite:`Marrero2019` : Marrero Fernandez, P. D., Guerrero Pena, F. A., Ren, T.
    I., & Leandro, J. J. G. (2019). Fast and robust multiple ColorChecker
    detection using deep convolutional neural networks. Image and Vision
    Computing, 81, 15-24. doi:10.1016/j.imavis.2018.11.001
"""

from __future__ import annotations

import cv2
import numpy as np

from ccharmony._types import NDArrayUInt8

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["find_patch_centres_mcc"]


def find_patch_centres_mcc(view: NDArrayUInt8, *, max_charts: int = 2) -> list[np.ndarray]:
    """
    Return the patch centres of the charts ``cv2.mcc`` finds in ``view``.

    Parameters
    ----------
    view
        ``(H, W, 3)`` uint8 BGR image.
    max_charts
        Number of charts to ask the detector for.

    Returns
    -------
    list
        One ``(24, 2)`` float64 array of patch centres ``(x, y)`` (in ``view``
        pixels, ``cv2.mcc``'s own order) per chart found; empty when none.

    Notes
    -----
    Domain: 8-bit BGR. Range: ``view`` pixel coordinates. In OpenCV 5 the
    chart type must be set to ``MCC24`` or nothing is found.

    References
    ----------
    :cite:`Marrero2019`

    Examples
    --------
    >>> find_patch_centres_mcc(np.zeros((64, 64, 3), np.uint8))
    []
    """
    detector = cv2.mcc.CCheckerDetector.create()
    if hasattr(detector, "setColorChartType"):
        detector.setColorChartType(cv2.mcc.MCC24)
    try:
        found = detector.process(np.ascontiguousarray(view), max_charts)
    except cv2.error:
        return []
    if not found:
        return []
    charts = []
    for checker in detector.getListColorChecker():
        points = np.asarray(checker.getColorCharts(), np.float64).reshape(-1, 4, 2)
        if len(points) == 24:
            charts.append(points.mean(axis=1))
    return charts
