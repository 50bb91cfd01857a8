"""
Checker
=======

Find, read and sample an X-Rite ColorChecker Classic (or Classic Mini):

-   :func:`detect`: find the chart in linear camera RGB (backends in
    :data:`DETECTION_METHODS`, verified and oriented from
    illuminant-invariant properties).
-   :func:`checker_from_corners`: a :class:`Checker` from four corners.
-   :func:`read_corners_json`, :func:`read_macbeth_txt`: manual geometry.
-   :func:`sample`: robust patch means, clipped flags and noise.
-   :func:`detect_record`: the ``ccharmony detect`` JSON record of one file.
"""

from __future__ import annotations

from ccharmony.checker.annotations import (
    read_corners_json,
    read_gehler_groundtruth,
    read_macbeth_txt,
    read_nus_groundtruth,
    read_nus_mask_txt,
    read_patch_boxes_csv,
)
from ccharmony.checker.detect import DETECTION_METHODS, checker_from_corners, detect
from ccharmony.checker.record import detect_record
from ccharmony.checker.records import Checker, Patches
from ccharmony.checker.sample import checker_mask, sample

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "Checker",
    "Patches",
    "DETECTION_METHODS",
    "detect",
    "checker_from_corners",
    "read_corners_json",
    "read_macbeth_txt",
    "read_nus_mask_txt",
    "read_patch_boxes_csv",
    "read_gehler_groundtruth",
    "read_nus_groundtruth",
    "sample",
    "checker_mask",
    "detect_record",
]
