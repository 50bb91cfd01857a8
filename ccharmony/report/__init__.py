"""
Report
======

Write a dataset's report as a self-contained static site, ``ccharmony report``:

-   :func:`write_report`, :class:`ReportOptions`, :class:`ReportResult`
    (:mod:`ccharmony.report.site`): overview, plots, gallery and benchmark
    pages.
-   :func:`read_dataset`, :func:`read_benchmark`
    (:mod:`ccharmony.report.inputs`): dataset and benchmark folders as tables.
-   :func:`make_thumbnails` (:mod:`ccharmony.report.thumbnails`): cached,
    parallel thumbnails.
-   :mod:`ccharmony.report.plots`: SVG plots (illuminant chromaticities,
    histograms), usable by the dataset card too.

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
"""

from __future__ import annotations

from ccharmony.report.inputs import BenchmarkView, DatasetView, read_benchmark, read_dataset
from ccharmony.report.site import MARKER_FILE, ReportOptions, ReportResult, write_report
from ccharmony.report.thumbnails import ThumbnailJob, ThumbnailResult, make_thumbnails

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "MARKER_FILE",
    "ReportOptions",
    "ReportResult",
    "write_report",
    "DatasetView",
    "BenchmarkView",
    "read_dataset",
    "read_benchmark",
    "ThumbnailJob",
    "ThumbnailResult",
    "make_thumbnails",
]
