"""Cluster bootstrap, paired tests and seed aggregation against independent computations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from ccharmony.errors import ConfigError
from ccharmony.harmonization.metrics import METRIC_NAMES
from ccharmony.harmonization.report import render_markdown, summarise
from ccharmony.harmonization.statistics import (
    BootstrapOptions,
    aggregate_seeds,
    average_over_seeds,
    bootstrap_cluster_means,
    bootstrap_interval,
    paired_bootstrap_test,
)


def _hand_bootstrap(values, clusters, *, resamples, seed, confidence=0.95):
    """The cluster bootstrap written as a plain loop: draw photos, keep all their composites."""
    labels = sorted(set(clusters))
    members = {label: [v for v, c in zip(values, clusters) if c == label] for label in labels}
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(labels), size=(resamples, len(labels)))
    means = []
    for row in draws:
        pooled = []
        for index in row:
            pooled.extend(members[labels[index]])
        means.append(sum(pooled) / len(pooled))
    tail = (1 - confidence) / 2
    return np.array(means), np.quantile(means, [tail, 1 - tail])


def test_interval_matches_a_hand_written_loop():
    rng = np.random.default_rng(3)
    clusters = [f"photo{int(i)}" for i in rng.integers(0, 9, 60)]
    values = rng.gamma(2.0, 50.0, 60).tolist()
    options = BootstrapOptions(resamples=500, seed=7)
    means, (low, high) = _hand_bootstrap(values, clusters, resamples=500, seed=7)
    np.testing.assert_allclose(bootstrap_cluster_means(values, clusters, options=options), means, rtol=1e-12)
    interval = bootstrap_interval(values, clusters, options=options)
    assert interval.estimate == pytest.approx(np.mean(values), rel=1e-12)
    assert (interval.low, interval.high) == pytest.approx((low, high), rel=1e-12)


def test_equal_clusters_give_a_zero_width_interval():
    # Every photo has mean 4 (sizes differ): every resample has mean 4.
    values = [3.0, 5.0, 4.0, 4.0, 2.0, 6.0, 4.0]
    clusters = ["a", "a", "b", "b", "c", "c", "d"]
    interval = bootstrap_interval(values, clusters)
    assert interval == pytest.approx((4.0, 4.0, 4.0), abs=1e-12)


def test_two_clusters_analytic():
    # Photo a: two composites of value 1, photo b: one of value 5. Resamples: aa -> 1 (p 1/4),
    # ab or ba -> 7/3 (p 1/2), bb -> 5 (p 1/4).
    options = BootstrapOptions(resamples=20000, seed=1)
    means = bootstrap_cluster_means([1.0, 1.0, 5.0], ["a", "a", "b"], options=options)
    values, counts = np.unique(np.round(means, 9), return_counts=True)
    assert values.tolist() == pytest.approx([1.0, 7 / 3, 5.0])
    # Binomial standard error of a frequency at n = 20000 is at most 0.0036: 4 sigma.
    np.testing.assert_allclose(counts / options.resamples, [0.25, 0.5, 0.25], atol=0.015)
    interval = bootstrap_interval([1.0, 1.0, 5.0], ["a", "a", "b"], options=options)
    assert (interval.low, interval.high) == (1.0, 5.0)
    assert interval.estimate == pytest.approx(7 / 3)


def test_composites_of_a_photo_are_never_split():
    # Photos of 1, 2 and 3 composites with distinct values: a resample mean is sum(k S) / sum(k n) for a
    # multiset k of whole photos; a resample that split a photo would give another value.
    values = [1.0, 10.0, 20.0, 100.0, 300.0, 700.0]
    clusters = ["p", "q", "q", "r", "r", "r"]
    sums = {"p": 1.0, "q": 30.0, "r": 1100.0}
    sizes = {"p": 1, "q": 2, "r": 3}
    allowed = set()
    for combination in itertools.combinations_with_replacement("pqr", 3):
        allowed.add(round(sum(sums[c] for c in combination) / sum(sizes[c] for c in combination), 9))
    means = bootstrap_cluster_means(values, clusters, options=BootstrapOptions(resamples=3000, seed=5))
    assert set(np.round(means, 9).tolist()) <= allowed
    assert len(set(np.round(means, 9).tolist())) == len(allowed)  # every multiset is drawn
    # Control: resampling composites (the wrong bootstrap) leaves that set, so the check can fail.
    rng = np.random.default_rng(5)
    naive = [np.mean(rng.choice(values, 6)) for _ in range(200)]
    assert not set(np.round(naive, 9).tolist()) <= allowed


def test_paired_test_cases():
    names = [f"x{i}_1_{k}" for i in range(6) for k in range(3)]
    photos = {name: name.split("_")[0] for name in names}
    rng = np.random.default_rng(2)
    a = {name: float(v) for name, v in zip(names, rng.normal(100, 20, len(names)))}
    options = BootstrapOptions(resamples=999, seed=0)
    itself = paired_bootstrap_test(a, a, photos, options=options)
    assert (itself.difference, itself.low, itself.high, itself.p_value, itself.excludes_zero) == (0, 0, 0, 1.0, False)
    shifted = {name: value - 3.0 for name, value in a.items()}
    test = paired_bootstrap_test(a, shifted, photos, options=options)
    assert test.difference == pytest.approx(3.0) and test.low == pytest.approx(3.0) and test.high == pytest.approx(3.0)
    assert test.excludes_zero and test.p_value == pytest.approx(2 / 1000)
    # Pairing is by name: the order of the dicts does not matter, and unshared names are left out.
    reordered = dict(reversed(list(shifted.items())))
    reordered["extra_1_1"] = 0.0
    again = paired_bootstrap_test(a, reordered, {**photos, "extra_1_1": "extra"}, options=options)
    assert again == test and again.composites == len(names)
    assert paired_bootstrap_test(a, {"other": 1.0}, {**photos, "other": "o"}) is None


def test_paired_p_value_matches_a_hand_count():
    names = [f"p{i % 7}_1_{i}" for i in range(35)]
    photos = {name: name.split("_")[0] for name in names}
    rng = np.random.default_rng(9)
    a = {name: float(rng.normal(1.0, 3.0)) for name in names}
    b = {name: 0.0 for name in names}
    options = BootstrapOptions(resamples=400, seed=3)
    test = paired_bootstrap_test(a, b, photos, options=options)
    ordered = sorted(names)
    means, (low, high) = _hand_bootstrap([a[n] for n in ordered], [photos[n] for n in ordered], resamples=400, seed=3)
    expected = min(1.0, 2 * (min((means <= 0).sum(), (means >= 0).sum()) + 1) / 401)
    assert test.p_value == pytest.approx(expected) and (test.low, test.high) == pytest.approx((low, high))
    assert test.excludes_zero == (low > 0 or high < 0)


def test_non_finite_values_give_nan():
    interval = bootstrap_interval([1.0, math.nan], ["a", "b"])
    assert all(math.isnan(v) for v in interval)
    assert paired_bootstrap_test({"a": math.inf}, {"a": 1.0}, {"a": "a"}) is None


def test_seed_aggregation():
    aggregate = aggregate_seeds({2: 3.0, 0: 1.0, 1: 2.0})
    assert aggregate.mean == 2.0 and aggregate.std == pytest.approx(1.0)
    assert list(aggregate.per_seed) == [0, 1, 2]
    assert math.isnan(aggregate_seeds({0: 5.0}).std)
    rows = [{"name": "a", "seed": s, "MSE": float(s), "foreground_ratio": 0.1} for s in range(3)]
    assert average_over_seeds(rows, ["MSE"]) == [{"name": "a", "MSE": 1.0, "foreground_ratio": 0.1}]
    with pytest.raises(ConfigError, match="no seed given"):
        aggregate_seeds({})


def test_options_validation():
    with pytest.raises(ConfigError, match=r"bootstrap resamples must be a whole number >= 100, got 5"):
        BootstrapOptions(resamples=5)
    with pytest.raises(ConfigError, match=r"bootstrap confidence must lie in \(0, 1\), got 1.5"):
        BootstrapOptions(confidence=1.5)
    with pytest.raises(ConfigError, match=r"need one cluster per value, got 2 values and 1 clusters"):
        bootstrap_cluster_means([1.0, 2.0], ["a"])


def _rows(offset: float, *, seed: int | None = None, photos: int = 6, per_photo: int = 4) -> list[dict]:
    rng = np.random.default_rng(100 + (seed or 0))
    rows = []
    for p in range(photos):
        base = 50.0 + 20.0 * p
        for k in range(per_photo):
            value = base + rng.normal(0, 2) - offset
            row = {"name": f"ph{p}_1_{k}", "photo": f"real_images/ph{p}", "foreground_ratio": 0.1,
                   **{metric: value for metric in METRIC_NAMES}}
            if seed is not None:
                row["seed"] = seed
            rows.append(row)
    return rows


def test_summary_with_seeds_intervals_and_marks():
    options = BootstrapOptions(resamples=300, seed=0)
    per_image = {
        "composite": _rows(0.0),
        "better": _rows(10.0, seed=0) + _rows(12.0, seed=1) + _rows(14.0, seed=2),
        "same": [{**row, **{m: row[m] + noise for m in METRIC_NAMES}}
                 for row, noise in zip(_rows(0.0), np.random.default_rng(4).normal(0, 1.0, 24))],
    }
    summary = summarise(per_image, statistics=options)
    better = summary["better"]
    assert better["seeds"] == [0, 1, 2] and better["count"] == 24
    per_seed = better["per_seed"]["MSE"]
    assert list(per_seed) == ["0", "1", "2"]
    assert better["metrics"]["MSE"] == pytest.approx(np.mean(list(per_seed.values())))
    assert better["std"]["MSE"] == pytest.approx(np.std(list(per_seed.values()), ddof=1))
    # MSE is lower-better: "better" is best; its difference to the composite excludes 0.
    assert "MSE" in better["best"] and better["tests"]["MSE"]["vs_best"] is None
    assert better["tests"]["MSE"]["vs_composite"]["excludes_zero"]
    assert better["tests"]["MSE"]["vs_composite"]["difference"] == pytest.approx(-12.0, abs=1.5)
    # PSNR (higher-better) has the same values here: the composite is best there.
    assert "PSNR" in summary["composite"]["best"]
    # Zero-mean noise around the composite: the interval of the difference includes 0 (no "*").
    assert not summary["same"]["tests"]["MSE"]["vs_composite"]["excludes_zero"]
    assert summary["composite"]["tests"]["MSE"]["vs_composite"] is None
    low, high = summary["composite"]["interval"]["MSE"]
    assert low < summary["composite"]["metrics"]["MSE"] < high
    text = render_markdown(summary, meta={"dataset": "d"}, protocol="bcmi", statistics=options)
    line = next(line for line in text.splitlines() if line.startswith("| better |"))
    assert "±" in line and "*" in line and "**" in line
    assert "## Paired tests" in text and "## Protocol `bcmi`" in text
