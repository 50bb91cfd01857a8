"""
Export
======

Lay out views of a dataset folder that each peer codebase loads unchanged,
without re-encoding a pixel (``ccharmony export``):

-   :func:`~ccharmony.export.dovenet.export_dovenet`: an iHarmony4 root for
    DoveNet :cite:`Cong2020` (``IHD_train.txt`` / ``IHD_test.txt``).
-   :func:`~ccharmony.export.iih.export_iih`: the zhenglab IIH / HT layout
    :cite:`Guo2021` (``<Name>_train.txt`` / ``<Name>_test.txt``).
-   :func:`~ccharmony.export.hf.export_hf`: a Hugging Face dataset
    :cite:`Lhoest2021` (Parquet shards with the images embedded and a card).
-   :func:`~ccharmony.export.webdataset.export_webdataset`: WebDataset tar
    shards :cite:`Aizman2019`, read back by
    :class:`~ccharmony.export.webdataset.WebDatasetSamples`.
-   :attr:`EXPORT_FORMATS` and the dispatcher :func:`export_dataset`.

A dataset folder keeps one list spelling per split (the iSSAM family asserts
exactly one ``*train.txt``), so the other spellings live in these views. The
file-based views hard-link the dataset's files (symlinks across file systems,
copies on request); the shard formats embed the files' bytes. Every view is
written to a hidden staging folder and renamed into place when complete.

References
----------
-   :cite:`Cong2020` : Cong, W., Zhang, J., Niu, L., Liu, L., Ling, Z., Li, W.,
    & Zhang, L. (2020). DoveNet: Deep Image Harmonization via Domain
    Verification. CVPR 2020, 8394-8403. doi:10.1109/CVPR42600.2020.00842
-   :cite:`Guo2021` : Guo, Z., Zheng, H., Jiang, Y., Gu, Z., & Zheng, B.
    (2021). Intrinsic Image Harmonization. CVPR 2021, 16367-16376.
-   :cite:`Lhoest2021` : Lhoest, Q., Villanova del Moral, A., Jernite, Y.,
    Thakur, A., von Platen, P., Patil, S., et al. (2021). Datasets: A
    Community Library for Natural Language Processing. EMNLP 2021: System
    Demonstrations, 175-184. doi:10.18653/v1/2021.emnlp-demo.21
-   :cite:`Aizman2019` : Aizman, A., Maltby, G., & Breuel, T. (2019). High
    Performance I/O For Large Scale Deep Learning. IEEE International
    Conference on Big Data 2019. arXiv:2001.01858
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from ccharmony._types import PathType
from ccharmony.errors import UsageError
from ccharmony.export._links import DEFAULT_SHARD_SIZE, ExportResult
from ccharmony.export.dovenet import export_dovenet
from ccharmony.export.hf import export_hf
from ccharmony.export.iih import export_iih

if TYPE_CHECKING:
    from ccharmony.export.webdataset import WebDatasetSamples, iter_webdataset

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "EXPORT_FORMATS",
    "ExportResult",
    "export_dataset",
    "export_dovenet",
    "export_iih",
    "export_hf",
    "export_webdataset",
    "iter_webdataset",
    "WebDatasetSamples",
]

_LAZY = ("WebDatasetSamples", "iter_webdataset")


def __getattr__(name: str) -> Any:
    # The WebDataset module imports torch (about 3 s): only when it is used.
    if name in _LAZY:
        from ccharmony.export import webdataset

        return getattr(webdataset, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def export_webdataset(
    folder: PathType,
    out: PathType,
    *,
    shard_size: int = DEFAULT_SHARD_SIZE,
    name: str | None = None,
) -> ExportResult:
    """Call :func:`ccharmony.export.webdataset.export_webdataset` (imported on first use)."""
    from ccharmony.export.webdataset import export_webdataset as export

    return export(folder, out, shard_size=shard_size, name=name)


EXPORT_FORMATS: dict[str, Callable[..., ExportResult]] = {
    "dovenet": export_dovenet,
    "iih": export_iih,
    "hf": export_hf,
    "webdataset": export_webdataset,
}
"""
Supported export formats.

-   ``dovenet``: :func:`export_dovenet`; options ``copy``, ``name``.
-   ``iih``: :func:`export_iih`; options ``copy``, ``name``.
-   ``hf``: :func:`export_hf`; options ``shard_size``, ``name``.
-   ``webdataset``: :func:`export_webdataset`; options ``shard_size``, ``name``.
"""


def _options(function: Callable[..., ExportResult]) -> set[str]:
    return {name for name, parameter in inspect.signature(function).parameters.items()
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY}


def export_dataset(
    folder: PathType,
    out: PathType,
    *,
    format: Literal["dovenet", "iih", "hf", "webdataset"] | str,
    **options: Any,
) -> ExportResult:
    """
    Export a dataset folder in one of :attr:`EXPORT_FORMATS`.

    Parameters
    ----------
    folder
        The dataset folder (``ccharmony build`` output).
    out
        The export folder: new or empty, outside ``folder``.
    format
        A key of :attr:`EXPORT_FORMATS`.

    Other Parameters
    ----------------
    copy
        {``dovenet``, ``iih``} copy the files instead of hard-linking them.
    shard_size
        {``hf``, ``webdataset``} composites per shard.
    name
        {all} the dataset's name in the export (default: from its lists).

    Returns
    -------
    ExportResult

    Raises
    ------
    UsageError
        Unknown format (the message offers the closest), or an option the
        format does not take.
    DatasetError, ConfigError
        As the format's function.

    Examples
    --------
    >>> export_dataset("d", "o", format="dovnet")
    Traceback (most recent call last):
    ...
    ccharmony.errors.UsageError: --format: unknown export format 'dovnet' (did you mean 'dovenet'?); ...
    """
    if format not in EXPORT_FORMATS:
        close = difflib.get_close_matches(str(format), list(EXPORT_FORMATS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"--format: unknown export format {format!r}{hint}; accepted: {', '.join(EXPORT_FORMATS)}")
    function = EXPORT_FORMATS[format]
    accepted = _options(function)
    refused = sorted(set(options) - accepted)
    if refused:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in refused)
        takers = sorted(key for key, other in EXPORT_FORMATS.items() if set(refused) <= _options(other))
        raise UsageError(
            f"{flags}: not an option of --format {format}"
            + (f" (it applies to {', '.join(takers)})" if takers else "")
        )
    return function(folder, out, **options)
