"""
Benchmark statistics
====================

Put intervals on benchmark means and test differences between rows, treating
the composites of one source photo as one unit:

-   :class:`BootstrapOptions`: resamples, seed, confidence.
-   :class:`Interval`, :class:`PairedTest`: the results.
-   :func:`cluster_indices`: cluster labels -> integer ids.
-   :func:`bootstrap_cluster_means`: the bootstrap distribution of a mean when
    whole clusters are resampled.
-   :func:`bootstrap_interval`: a mean with its percentile interval.
-   :func:`paired_bootstrap_test`: the paired difference of two rows, its
    interval and a two-sided p-value.
-   :func:`aggregate_seeds`: mean, standard deviation and per-seed values of
    a metric over training seeds.
-   :func:`average_over_seeds`: one row per composite from rows of several
    seeds.

Why clusters: a test split of ccHarmony has 1180 composites made from only 118
foregrounds of 100 photos; composites of one photo share its background, its
illuminant and its foreground, so their errors are strongly correlated. A
bootstrap that resamples composites treats them as independent and gives
intervals that are too narrow. The *cluster bootstrap* :cite:`Field2007`
resamples source photos with replacement and keeps all composites of each
drawn photo, so the composites of a photo are never split.

The procedure (all of it seeded, so a report is reproducible):

1.  Clusters are the distinct labels sorted (``numpy.unique``), ids
    ``0..C-1``; ``S_c`` is the sum and ``n_c`` the count of values in cluster
    ``c``.
2.  ``rng = numpy.random.default_rng(seed)``; ``draws = rng.integers(0, C,
    size=(B, C))``: resample ``b`` draws ``C`` clusters with replacement.
3.  ``K[b, c]`` counts how often cluster ``c`` was drawn in resample ``b``;
    the resampled mean is ``sum_c K[b, c] S_c / sum_c K[b, c] n_c`` (the mean
    over every composite of the drawn photos, a photo drawn twice counting
    twice).
4.  The interval is the percentile interval :cite:`Efron1993`:
    ``numpy.quantile`` (linear interpolation) of the ``B`` means at
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2``.
5.  A paired test of rows ``a`` and ``b`` takes the per-composite difference
    ``d = a - b`` over the composites both rows scored (paired by name) and
    bootstraps its mean the same way; the two rows are *different* when the
    interval of the difference excludes 0. The two-sided p-value is
    ``min(1, 2 min(#{d*_b <= 0} + 1, #{d*_b >= 0} + 1) / (B + 1))`` (the
    ``+ 1`` keeps it above 0 with finitely many resamples); ``p < 1 -
    confidence`` agrees with the interval rule up to the quantile
    interpolation.

Every call with the same seed and the same number of clusters draws the same
resamples, so the intervals of all rows and metrics use common random numbers.
The default, 2000 resamples, puts the Monte-Carlo error of a 2.5 % quantile
at about 0.35 percentage points of coverage.

Several training seeds: each composite's metric is first averaged over the
seeds (:func:`average_over_seeds`), then bootstrapped over photos (the
photo-to-photo spread); the spread between seeds is reported separately as
the standard deviation of the per-seed means (:func:`aggregate_seeds`).

References
----------
-   :cite:`Efron1993` : Efron, B., & Tibshirani, R. J. (1993). An Introduction
    to the Bootstrap. Chapman & Hall/CRC. doi:10.1201/9780429246593
-   :cite:`Field2007` : Field, C. A., & Welsh, A. H. (2007). Bootstrapping
    clustered data. Journal of the Royal Statistical Society: Series B, 69(3),
    369-390. doi:10.1111/j.1467-9868.2007.00593.x
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ccharmony._types import ArrayLike
from ccharmony.errors import ConfigError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "DEFAULT_RESAMPLES",
    "DEFAULT_CONFIDENCE",
    "BootstrapOptions",
    "Interval",
    "PairedTest",
    "cluster_indices",
    "bootstrap_cluster_means",
    "bootstrap_interval",
    "paired_bootstrap_test",
    "SeedAggregate",
    "aggregate_seeds",
    "average_over_seeds",
]

DEFAULT_RESAMPLES = 2000
"""Bootstrap resamples per interval and per test."""

DEFAULT_CONFIDENCE = 0.95
"""Confidence level of the intervals."""


@dataclass(frozen=True)
class BootstrapOptions:
    """
    Configure the cluster bootstrap.

    Parameters
    ----------
    resamples
        Number of bootstrap resamples ``B`` (at least 100).
    seed
        Seed of ``numpy.random.default_rng``.
    confidence
        Interval level, in (0, 1).

    Examples
    --------
    >>> BootstrapOptions().resamples
    2000
    >>> BootstrapOptions(resamples=10)
    Traceback (most recent call last):
    ...
    ccharmony.errors.ConfigError: bootstrap resamples must be a whole number >= 100, got 10
    """

    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0
    confidence: float = DEFAULT_CONFIDENCE

    def __post_init__(self) -> None:
        if isinstance(self.resamples, bool) or not isinstance(self.resamples, int) or self.resamples < 100:
            raise ConfigError(f"bootstrap resamples must be a whole number >= 100, got {self.resamples!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"bootstrap seed must be a whole number >= 0, got {self.seed!r}")
        if not 0.0 < float(self.confidence) < 1.0:
            raise ConfigError(f"bootstrap confidence must lie in (0, 1), got {self.confidence!r}")

    def to_dict(self) -> dict[str, object]:
        """Return the options and the method, for ``report.json``."""
        return {
            "method": "cluster (source-photo) bootstrap, percentile interval",
            "resamples": self.resamples,
            "seed": self.seed,
            "confidence": self.confidence,
            "generator": "numpy.random.default_rng(seed).integers(0, C, size=(resamples, C))",
            "quantiles": "numpy.quantile, linear interpolation",
            "p_value": "min(1, 2 min(#{d* <= 0} + 1, #{d* >= 0} + 1) / (resamples + 1))",
            "paired_by": "composite name; clusters: source photo",
        }


class Interval(NamedTuple):
    """A mean and its bootstrap interval (``estimate`` is the plain mean)."""

    estimate: float
    low: float
    high: float


class PairedTest(NamedTuple):
    """
    The paired bootstrap comparison of two rows.

    ``difference`` is ``mean(a - b)`` over ``composites`` paired composites,
    ``low``/``high`` its interval, ``excludes_zero`` the decision.
    """

    difference: float
    low: float
    high: float
    p_value: float
    excludes_zero: bool
    composites: int


_NAN_INTERVAL = Interval(math.nan, math.nan, math.nan)


def cluster_indices(labels: Sequence[str]) -> tuple[np.ndarray, int]:
    """
    Map cluster labels to ids ``0..C-1`` in sorted label order.

    Examples
    --------
    >>> ids, count = cluster_indices(["b", "a", "b"])
    >>> ids.tolist(), count
    ([1, 0, 1], 2)
    """
    unique, ids = np.unique(np.asarray(list(labels), dtype=object).astype(str), return_inverse=True)
    return ids.astype(np.int64).reshape(-1), int(unique.size)


def _draw_counts(clusters: int, options: BootstrapOptions) -> np.ndarray:
    rng = np.random.default_rng(options.seed)
    draws = rng.integers(0, clusters, size=(options.resamples, clusters))
    offsets = draws + clusters * np.arange(options.resamples)[:, None]
    return np.bincount(offsets.ravel(), minlength=options.resamples * clusters).reshape(
        options.resamples, clusters
    )


def bootstrap_cluster_means(
    values: ArrayLike,
    clusters: Sequence[str],
    *,
    options: BootstrapOptions | None = None,
) -> np.ndarray:
    """
    Return the bootstrap means of ``values`` when whole clusters are resampled.

    Parameters
    ----------
    values
        One value per composite.
    clusters
        The cluster (source photo) of each value.
    options
        :class:`BootstrapOptions`.

    Returns
    -------
    ndarray
        ``(resamples,)`` float64 means (see the module docstring, steps 1-3).

    Raises
    ------
    ConfigError
        When lengths differ or there is no value.

    Examples
    --------
    >>> means = bootstrap_cluster_means([1.0, 1.0, 5.0], ["a", "a", "b"], options=BootstrapOptions(resamples=100))
    >>> sorted(set(np.round(means, 6).tolist()))
    [1.0, 2.333333, 5.0]
    """
    options = options or BootstrapOptions()
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.size == 0 or array.size != len(clusters):
        raise ConfigError(f"bootstrap: need one cluster per value, got {array.size} values and {len(clusters)} clusters")
    ids, count = cluster_indices(clusters)
    sums = np.bincount(ids, weights=array, minlength=count)
    sizes = np.bincount(ids, minlength=count).astype(np.float64)
    counts = _draw_counts(count, options).astype(np.float64)
    return (counts @ sums) / (counts @ sizes)


def _quantiles(means: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def bootstrap_interval(
    values: ArrayLike,
    clusters: Sequence[str],
    *,
    options: BootstrapOptions | None = None,
) -> Interval:
    """
    Return the mean of ``values`` and its cluster-bootstrap percentile interval.

    Parameters
    ----------
    values
        One value per composite.
    clusters
        The source photo of each value.
    options
        :class:`BootstrapOptions`.

    Returns
    -------
    Interval
        ``(mean, low, high)``; all NaN when a value is not finite (a metric
        the protocol does not define, an infinite PSNR).

    Examples
    --------
    >>> bootstrap_interval([2.0, 2.0, 2.0, 2.0], ["a", "a", "b", "c"])
    Interval(estimate=2.0, low=2.0, high=2.0)
    """
    options = options or BootstrapOptions()
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.size == 0 or not np.all(np.isfinite(array)):
        return _NAN_INTERVAL
    low, high = _quantiles(bootstrap_cluster_means(array, clusters, options=options), options.confidence)
    return Interval(float(array.mean()), low, high)


def paired_bootstrap_test(
    values_a: Mapping[str, float],
    values_b: Mapping[str, float],
    clusters: Mapping[str, str],
    *,
    options: BootstrapOptions | None = None,
) -> PairedTest | None:
    """
    Compare two rows composite by composite, resampling source photos.

    Parameters
    ----------
    values_a, values_b
        Composite name -> metric value of each row.
    clusters
        Composite name -> source photo.
    options
        :class:`BootstrapOptions`.

    Returns
    -------
    PairedTest or None
        The mean difference ``a - b`` over the composites both rows scored,
        its interval, the p-value and whether the interval excludes 0;
        ``None`` when no composite is shared or a value is not finite.

    Notes
    -----
    See the module docstring, step 5.

    References
    ----------
    :cite:`Efron1993`, :cite:`Field2007`

    Examples
    --------
    >>> a = {"x_1_1": 3.0, "x_1_2": 3.0, "y_1_1": 5.0}
    >>> b = {"x_1_1": 1.0, "x_1_2": 1.0, "y_1_1": 1.0}
    >>> test = paired_bootstrap_test(a, b, {"x_1_1": "x", "x_1_2": "x", "y_1_1": "y"})
    >>> round(test.difference, 4), test.low, test.high, test.excludes_zero
    (2.6667, 2.0, 4.0, True)
    """
    options = options or BootstrapOptions()
    names = sorted(set(values_a) & set(values_b))
    if not names:
        return None
    difference = np.array([float(values_a[name]) - float(values_b[name]) for name in names])
    if not np.all(np.isfinite(difference)):
        return None
    means = bootstrap_cluster_means(difference, [clusters[name] for name in names], options=options)
    low, high = _quantiles(means, options.confidence)
    below = int(np.count_nonzero(means <= 0.0))
    above = int(np.count_nonzero(means >= 0.0))
    p_value = min(1.0, 2.0 * (min(below, above) + 1) / (options.resamples + 1))
    return PairedTest(
        difference=float(difference.mean()),
        low=low,
        high=high,
        p_value=p_value,
        excludes_zero=bool(low > 0.0 or high < 0.0),
        composites=len(names),
    )


class SeedAggregate(NamedTuple):
    """A metric over training seeds: ``mean`` and ``std`` of the per-seed means, and each seed's mean."""

    mean: float
    std: float
    per_seed: dict[int, float]


def aggregate_seeds(per_seed: Mapping[int, float]) -> SeedAggregate:
    """
    Return the mean, the sample standard deviation and the values of a metric over seeds.

    Parameters
    ----------
    per_seed
        Seed -> the row's mean of the metric for that seed.

    Returns
    -------
    SeedAggregate
        ``std`` uses ``ddof=1`` (NaN for a single seed).

    Raises
    ------
    ConfigError
        When no seed is given.

    Examples
    --------
    >>> aggregate_seeds({0: 1.0, 1: 2.0, 2: 3.0})
    SeedAggregate(mean=2.0, std=1.0, per_seed={0: 1.0, 1: 2.0, 2: 3.0})
    """
    if not per_seed:
        raise ConfigError("aggregate_seeds: no seed given")
    seeds = sorted(per_seed)
    values = np.array([float(per_seed[seed]) for seed in seeds])
    std = float(values.std(ddof=1)) if values.size > 1 else math.nan
    return SeedAggregate(float(values.mean()), std, {int(seed): float(per_seed[seed]) for seed in seeds})


def average_over_seeds(
    rows: Sequence[Mapping[str, object]],
    metric_names: Sequence[str],
) -> list[dict[str, object]]:
    """
    Average each composite's metrics over the seeds of its rows.

    Parameters
    ----------
    rows
        Per-image rows with ``name`` and the metrics, optionally ``seed``
        (several rows per name, one per seed).
    metric_names
        Metrics to average; ``foreground_ratio`` and the other keys are taken
        from the first row of each name.

    Returns
    -------
    list of dict
        One row per composite, in first-appearance order.

    Examples
    --------
    >>> rows = [{"name": "a", "seed": 0, "MSE": 1.0}, {"name": "a", "seed": 1, "MSE": 3.0}]
    >>> average_over_seeds(rows, ["MSE"])
    [{'name': 'a', 'MSE': 2.0}]
    """
    grouped: dict[str, list[Mapping[str, object]]] = {}
    for row in rows:
        grouped.setdefault(str(row["name"]), []).append(row)
    averaged = []
    for members in grouped.values():
        first = {key: value for key, value in members[0].items() if key != "seed"}
        for metric in metric_names:
            first[metric] = float(np.mean([float(member[metric]) for member in members]))  # type: ignore[arg-type]
        averaged.append(first)
    return averaged
