"""Adaptive limits keep the false-alarm promise, absorb excess variability and still report a
slow creep: measured on simulated window streams, KS (exact null) and PSI (simulated null)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from detectors import _null_kernels as k
from driftd.monitoring.nulls import KSNull, SimulatedNull
from driftd.monitoring.thresholds import AdaptiveLimit, CalibratedLimit
from tests.nullwindows import adaptive_false_alarms

REFERENCE = 20_000
N = 2000
ALPHA = 0.02  # 10 expected false alarms in 500 windows: enough to see a 2x miss
WINDOWS = 500
UPPER = int(stats.binom.ppf(0.975, WINDOWS, ALPHA))  # 17


def _ks_run(
    policy: AdaptiveLimit | CalibratedLimit, shifts: np.ndarray, seed: int
) -> tuple[list[bool], list[float]]:
    """Windows of N ~ Normal(shift, 1) against one reference, judged in order."""
    rng = np.random.default_rng(seed)
    reference = rng.normal(size=REFERENCE)
    verdicts, limits = [], []
    for shift in shifts:
        value = stats.ks_2samp(rng.normal(loc=shift, size=N), reference).statistic
        limit = policy.limit(N)
        verdicts.append(bool(value > limit))
        limits.append(limit)
        policy.observe(value, value > limit)
    return verdicts, limits


def _ks_adaptive(**kwargs: object) -> AdaptiveLimit:
    return AdaptiveLimit(CalibratedLimit(KSNull(REFERENCE), 1 / ALPHA, "none"), **kwargs)


def test_ks_adaptive_keeps_the_target_on_null_windows() -> None:
    warm = 50
    verdicts, _ = _ks_run(_ks_adaptive(), np.zeros(warm + WINDOWS), seed=1)
    assert sum(verdicts[warm:]) <= UPPER


def test_ks_adaptive_without_the_floor_costs_at_most_half_the_target_again() -> None:
    # floor: false lets the limit drop below the calibrated one when the windows are calmer
    # than the null; the estimate's noise then costs false alarms (measured ~1.35x): the
    # README's figure, held over 2,500 windows.
    alarms = 0
    for seed in range(1, 6):
        verdicts, _ = _ks_run(_ks_adaptive(floor=False), np.zeros(50 + WINDOWS), seed=seed)
        alarms += sum(verdicts[50:])
    assert alarms <= 1.5 * ALPHA * 5 * WINDOWS


@pytest.mark.parametrize("floor", [True, False])
def test_psi_adaptive_keeps_the_target_on_null_windows(floor: bool) -> None:
    truth = np.array([0.4, 0.25, 0.15, 0.1, 0.05, 0.03, 0.015, 0.005])
    alarms = adaptive_false_alarms(
        truth, "psi", ALPHA, N, references=10, windows=100, floor=floor, seed=3
    )
    assert alarms <= int(stats.binom.ppf(0.975, 1000, ALPHA))


def test_adaptive_absorbs_windows_more_variable_than_the_null() -> None:
    # Each window's mean is off by N(0, 0.04 sigma) (seasonality the reference lacks): the
    # calibrated limit alarms several times its target, the adaptive one learns the spread.
    rng = np.random.default_rng(9)
    shifts = rng.normal(scale=0.04, size=50 + WINDOWS)
    calibrated, _ = _ks_run(CalibratedLimit(KSNull(REFERENCE), 1 / ALPHA, "none"), shifts, 4)
    adaptive, limits = _ks_run(_ks_adaptive(max_inflation=3.0), shifts, 4)
    assert sum(calibrated[50:]) > 4 * ALPHA * WINDOWS
    assert sum(adaptive[50:]) <= UPPER
    assert max(limits) > limits[0] * 1.2


def test_a_slow_creep_is_still_reported_after_200_windows() -> None:
    # 100 calm windows, then the mean creeps 0.005 sigma per window for 200 windows (1 sigma).
    shifts = np.concatenate([np.zeros(100), 0.005 * np.arange(1, 201)])
    verdicts, limits = _ks_run(_ks_adaptive(), shifts, seed=2)
    base = CalibratedLimit(KSNull(REFERENCE), 1 / ALPHA, "none").limit(N)
    assert all(verdicts[-100:])  # every window of the second half of the creep
    assert max(limits) <= 2.0 * base + 1e-12  # the creep guard held


def test_psi_creep_is_reported_and_the_guard_holds() -> None:
    # The same creep on a numeric feature binned into the reference's deciles.
    rng = np.random.default_rng(5)
    sample = rng.normal(size=REFERENCE)
    edges = np.concatenate([[-np.inf], np.quantile(sample, np.linspace(0.1, 0.9, 9)), [np.inf]])
    reference = np.histogram(sample, edges)[0].astype(np.float64)
    null = SimulatedNull(reference, "psi", power=1.0, seed=5)
    base = CalibratedLimit(null, 1 / ALPHA, "none").limit(N)
    policy = AdaptiveLimit(CalibratedLimit(null, 1 / ALPHA, "none"))
    reported = []
    for i in range(300):
        window = rng.normal(loc=0.005 * max(0, i - 100), size=N)
        value = k.statistic(k.PSI, reference, np.histogram(window, edges)[0].astype(float), 0.5)
        limit = policy.limit(N)
        assert limit <= 2.0 * base + 1e-12
        reported.append(value > limit)
        policy.observe(value, value > limit)
    assert all(reported[-100:])
