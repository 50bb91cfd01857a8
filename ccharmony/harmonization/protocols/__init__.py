"""
Evaluation protocols
====================

Name the conventions under which harmonization metrics are computed, one
module per peer codebase, and dispatch by name:

-   :data:`PROTOCOLS`: name -> protocol class.
-   :data:`PROTOCOL_NAMES`, :data:`DEFAULT_PROTOCOL`.
-   :func:`get_protocol`: a protocol by name (at an evaluation size, with a
    PSNR peak where the protocol allows one).
-   :func:`read_samples`: every test composite of a dataset, prepared by a
    protocol.
-   :class:`EvaluationProtocol`, :class:`EvaluationSample`: the interface
    (:mod:`.base`).

The protocols:

=========  ===========================================================  =========
name       whose evaluation                                             mask
=========  ===========================================================  =========
``bcmi``   the bcmi lab: DucoNet at 256x256 + CDTNet's fPSNR/SSIM/fSSIM  soft
``issam``  iSSAM's ``scripts/evaluate_model.py`` (MSE, fMSE, PSNR)        soft
``iih``    zhenglab's IIH/IHT ``evaluation/ih_evaluation.py``             hard
``ours``   ccharmony's first benchmark (threshold 127, uint8 predictions) hard
=========  ===========================================================  =========

``bcmi`` is the default: the ccHarmony table (GiftNet: MSE 24.55, fMSE 235.20,
PSNR 37.59, fSSIM 0.9322) comes from the bcmi lab, whose ccHarmony README says
its code cannot be released and points to DucoNet as the improved version;
DucoNet evaluates at 256x256 with iSSAM's metrics, and the lab's only
published fSSIM is CDTNet's (:mod:`.bcmi`).

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ccharmony._types import PathType
from ccharmony.errors import ConfigError
from ccharmony.harmonization.data import SamplePaths
from ccharmony.harmonization.protocols.base import EvaluationProtocol, EvaluationSample
from ccharmony.harmonization.protocols.bcmi import BcmiProtocol
from ccharmony.harmonization.protocols.iih import IihProtocol
from ccharmony.harmonization.protocols.issam import IssamProtocol
from ccharmony.harmonization.protocols.ours import OursProtocol

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "PROTOCOLS",
    "PROTOCOL_NAMES",
    "DEFAULT_PROTOCOL",
    "get_protocol",
    "read_samples",
    "EvaluationProtocol",
    "EvaluationSample",
]

PROTOCOLS: dict[str, type[EvaluationProtocol]] = {
    "bcmi": BcmiProtocol,
    "issam": IssamProtocol,
    "iih": IihProtocol,
    "ours": OursProtocol,
}
"""Evaluation protocols by name (see the module docstring)."""

PROTOCOL_NAMES: tuple[str, ...] = tuple(PROTOCOLS)
"""Accepted ``--protocol`` values."""

DEFAULT_PROTOCOL = "bcmi"
"""The protocol of the ccHarmony table (the bcmi lab's evaluation)."""


def get_protocol(
    protocol: str | EvaluationProtocol = DEFAULT_PROTOCOL,
    *,
    size: int | None = None,
    psnr_peak: str | None = None,
) -> EvaluationProtocol:
    """
    Return an evaluation protocol by name.

    Parameters
    ----------
    protocol
        A name of :data:`PROTOCOLS`, or a protocol (returned, at ``size`` when
        given).
    size
        Evaluation side in pixels (default 256, the peers' size).
    psnr_peak
        ``"255"`` or ``"max-real"`` for ``ours``; the other protocols fix
        their peak and refuse another one.

    Returns
    -------
    EvaluationProtocol

    Raises
    ------
    ConfigError
        For an unknown name, a bad size, or a peak the protocol does not allow.

    Examples
    --------
    >>> get_protocol().name, get_protocol("ours", psnr_peak="max-real").psnr_peak
    ('bcmi', 'max-real')
    >>> get_protocol("dovenet")
    Traceback (most recent call last):
    ...
    ccharmony.errors.ConfigError: unknown protocol 'dovenet'; choose one of bcmi, issam, iih, ours
    """
    if isinstance(protocol, EvaluationProtocol):
        if psnr_peak is not None and psnr_peak != protocol.psnr_peak:
            return type(protocol)(size=size or protocol.size, psnr_peak=psnr_peak)
        return protocol if size is None or size == protocol.size else protocol.with_size(size)
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOL_NAMES)}")
    return PROTOCOLS[protocol](size=256 if size is None else size, psnr_peak=psnr_peak)


def read_samples(
    folder: PathType,
    paths: Sequence[SamplePaths],
    protocol: str | EvaluationProtocol = DEFAULT_PROTOCOL,
    *,
    progress: Callable[[int], None] | None = None,
) -> list[EvaluationSample]:
    """
    Read and prepare test composites with a protocol.

    Parameters
    ----------
    folder
        The dataset folder (photo names are relative to it).
    paths
        The samples' files (e.g. ``HarmonizationDataset.paths``).
    protocol
        Name or protocol.
    progress
        Called with the number of samples read so far.

    Returns
    -------
    list of EvaluationSample
        In the order of ``paths``.

    Raises
    ------
    UnreadableImageError, DatasetError
        As :meth:`EvaluationProtocol.read_sample`.
    """
    chosen = get_protocol(protocol)
    samples = []
    for index, sample_paths in enumerate(paths):
        samples.append(chosen.read_sample(sample_paths, folder=Path(folder)))
        if progress is not None:
            progress(index + 1)
    return samples
