"""Threshold policies and null models."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from driftd.monitoring.nulls import BootstrapNull, KSNull, family_alpha, size_bucket
from driftd.monitoring.thresholds import AdaptiveLimit, CalibratedLimit, StaticLimit


def test_static_with_min_effect() -> None:
    assert StaticLimit(0.2).limit(100) == 0.2
    assert StaticLimit(0.05, min_effect=0.1).limit(100) == 0.1


def test_ks_null_matches_the_kolmogorov_distribution() -> None:
    null = KSNull(reference_size=20_000)
    d = null.quantile(5000, 0.001)
    en = round(5000 * 20_000 / 25_000)
    assert stats.kstwo.sf(d, en) == pytest.approx(0.001, rel=1e-6)


def test_ks_null_false_alarm_rate_on_simulated_windows() -> None:
    rng = np.random.default_rng(3)
    ref = rng.normal(size=2000)
    limit = KSNull(2000).quantile(500, 0.05)
    alarms = sum(stats.ks_2samp(rng.normal(size=500), ref).statistic > limit for _ in range(400))
    # Conditional on one fixed reference the rate varies; it must be near 5%, not 0 or 30%.
    assert 0.01 <= alarms / 400 <= 0.12


def test_bootstrap_null_tail_controls_false_alarms() -> None:
    # A chi-square-like statistic: sum of squared standard normals (k=5), scaled by 1/n.
    def draw(rng: np.random.Generator, n: int) -> float:
        return float((rng.normal(size=5) ** 2).sum() / n)

    null = BootstrapNull(draw, samples=400, seed=1, power=1.0)
    limit = null.quantile(1000, 0.01)
    exact = stats.chi2.isf(0.01, 5) / 1000
    assert limit == pytest.approx(exact, rel=0.2)
    assert null.quantile(1000, 0.01) == limit  # cached


def test_size_buckets_and_family_alpha() -> None:
    assert size_bucket(4873) == 4900 and size_bucket(5000) == 5000 and size_bucket(37) == 37
    assert family_alpha(100, 1, "none") == 0.01
    assert family_alpha(100, 4, "bonferroni") == 0.0025
    sidak = family_alpha(100, 4, "sidak")
    assert 1 - (1 - sidak) ** 4 == pytest.approx(0.01)


def test_calibrated_limit_tightens_with_family_size() -> None:
    limit = CalibratedLimit(KSNull(10_000), 1000, "sidak")
    one = limit.limit(1000)
    limit.family_size = 40
    assert limit.limit(1000) > one


def test_adaptive_follows_no_drift_windows_and_ignores_drift() -> None:
    policy = AdaptiveLimit(
        StaticLimit(1.0), method="ewma", alpha=0.2, k=3.0, warmup=5, max_change=0.5
    )
    assert policy.limit(100) == 1.0
    rng = np.random.default_rng(0)
    for _ in range(60):
        policy.limit(100)
        policy.observe(0.1 + 0.01 * rng.normal(), drifted=False)
    adapted = policy.limit(100)
    assert 0.1 < adapted < 0.3  # tightened towards mean + 3 sigma
    policy.observe(50.0, drifted=True)
    assert policy.limit(100) == adapted  # never learns from drift
    state = policy.state()
    clone = AdaptiveLimit(StaticLimit(1.0), warmup=5)
    clone.restore(state)
    assert clone.limit(100) == adapted


def test_adaptive_moves_at_most_max_change_per_window() -> None:
    policy = AdaptiveLimit(
        StaticLimit(1.0), method="quantile", quantile=0.9, warmup=2, max_change=0.1
    )
    for _ in range(3):
        policy.limit(100)
        policy.observe(0.01, drifted=False)
    assert policy.limit(100) == pytest.approx(0.9 * 0.9)  # two steps of at most 10%
