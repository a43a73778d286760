"""Threshold policies and null models."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from driftd.monitoring.nulls import KSNull, WassersteinNull, family_alpha, size_bucket
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


def test_wasserstein_null_matches_a_direct_bootstrap() -> None:
    # The counts-over-atoms simulation against resampling with scipy's own distance.
    rng = np.random.default_rng(4)
    sample = rng.gamma(2.0, size=3000)
    scale = float(np.subtract(*np.quantile(sample, [0.75, 0.25])))
    null = WassersteinNull(sample, scale, seed=1)
    direct = [
        stats.wasserstein_distance(rng.choice(sample, sample.size), rng.choice(sample, 400)) / scale
        for _ in range(4000)
    ]
    for alpha in (0.1, 0.01):
        assert null.quantile(400, alpha) == pytest.approx(
            float(np.quantile(direct, 1 - alpha)), rel=0.08
        )
    assert null.quantile(400, 0.01) == null.quantile(400, 0.01)  # cached


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


def test_adaptive_over_static_absorbs_variability_within_its_guard() -> None:
    policy = AdaptiveLimit(StaticLimit(0.1), warmup=5, max_inflation=3.0, max_change=0.5)
    assert policy.limit(100) == 0.1
    rng = np.random.default_rng(0)
    for _ in range(80):
        policy.limit(100)
        policy.observe(0.1 + 0.02 * rng.normal(), drifted=False)
    adapted = policy.limit(100)
    # Centre 0.1, spread 0.02: the tail at alpha = 1e-3 is about 0.1 + 3.1 * 0.02.
    assert adapted == pytest.approx(0.1 + stats.norm.isf(1e-3) * 0.02, rel=0.15)
    policy.limit(100)
    policy.observe(50.0, drifted=True)
    assert policy.limit(100) == adapted  # never learns from drift
    clone = AdaptiveLimit(StaticLimit(0.1), warmup=5, max_inflation=3.0)
    clone.restore(policy.state())
    assert clone.limit(100) == adapted


def test_adaptive_is_floored_at_the_base_and_capped_by_max_inflation_and_max_limit() -> None:
    calm = AdaptiveLimit(StaticLimit(1.0), warmup=2)
    wild = AdaptiveLimit(StaticLimit(1.0), warmup=2, max_inflation=2.0, max_change=10.0)
    capped = AdaptiveLimit(StaticLimit(1.0), warmup=2, max_limit=1.5, max_change=10.0)
    free = AdaptiveLimit(StaticLimit(1.0), warmup=2, floor=False, max_change=10.0)
    for i in range(30):
        # Values within the guard (learned) whose tail reaches past the caps.
        wide, near = 1.0 + 0.45 * (i % 3), 1.0 + 0.2 * (i % 3)
        for policy, value in ((calm, 0.01), (wild, wide), (capped, near), (wild, 50.0)):
            policy.limit(100)
            policy.observe(value, drifted=False)
        free.limit(100)
        free.observe(0.01, drifted=False)
    assert calm.limit(100) == 1.0  # the floor: never below the base
    assert wild.limit(100) == 2.0  # the creep guard
    assert capped.limit(100) == 1.5
    assert free.limit(100) == 0.5  # without the floor, down to base / max_inflation


def test_adaptive_moves_at_most_max_change_per_window() -> None:
    policy = AdaptiveLimit(StaticLimit(1.0), warmup=2, max_change=0.1, max_inflation=5.0)
    for _ in range(3):
        policy.limit(100)
        policy.observe(4.0 + np.random.default_rng(1).normal(), drifted=False)
    assert policy.limit(100) == pytest.approx(1.1 * 1.1)  # two steps of at most 10 %


def test_adaptive_restarts_warm_up_on_a_state_of_the_old_method() -> None:
    policy = AdaptiveLimit(StaticLimit(1.0), warmup=2)
    policy.restore({"mean": 0.1, "var": 0.0, "seen": 50, "history": [0.1], "current": 0.2})
    assert policy.seen == 0 and policy.limit(100) == 1.0


def test_limits_remembered_per_null_are_bounded() -> None:
    from driftd.monitoring import nulls

    null = KSNull(reference_size=10_000)
    first = null.quantile(1000, 0.01)
    for n in range(1000, 1000 + 2 * nulls.MEMO_LIMIT):
        null.quantile(n, 0.01)
    assert len(null._cache) <= nulls.MEMO_LIMIT
    assert null.quantile(1000, 0.01) == first
