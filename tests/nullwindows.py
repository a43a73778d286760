"""False alarms of calibrated histogram limits on null windows: the measurement that
tests/unit/monitoring/test_calibration.py asserts and bench/calibration.py reports."""

from __future__ import annotations

import numpy as np

from detectors import _null_kernels as k
from driftd.monitoring.nulls import SimulatedNull

KINDS = {"psi": (k.PSI, 1.0), "linf": (k.LINF, 2.0), "js": (k.JS, 2.0)}


def observed_false_alarms(
    truth: np.ndarray,
    statistic: str,
    alpha: float,
    n: int,
    *,
    references: int,
    windows: int,
    seed: int = 7,
) -> int:
    """Windows over the limit, of ``references`` x ``windows`` drawn from ``truth``.

    Each reference (5,000 events from ``truth``) gets its limit from its own histogram, as a
    profile's would; the rate conditional on one reference varies with its sampling error,
    hence many references. The statistic is the live kernel.
    """
    kind, power = KINDS[statistic]
    rng = np.random.default_rng([seed, n, round(1 / alpha)])
    alarms = 0
    for _ in range(references):
        reference = rng.multinomial(5000, truth).astype(np.float64)
        null = SimulatedNull(reference, statistic, power=power, seed=int(rng.integers(1 << 30)))
        limit = null.quantile(n, alpha)
        for window in rng.multinomial(n, truth, size=windows).astype(np.float64):
            alarms += k.statistic(kind, reference, window, 0.5) > limit
    return alarms


def adaptive_false_alarms(
    truth: np.ndarray,
    statistic: str,
    alpha: float,
    n: int,
    *,
    references: int,
    windows: int,
    floor: bool,
    seed: int = 7,
) -> int:
    """As ``observed_false_alarms``, with each reference's windows judged in order by an
    adaptive limit over its calibrated one (learning as the daemon's would)."""
    from driftd.monitoring.thresholds import AdaptiveLimit, CalibratedLimit

    kind, power = KINDS[statistic]
    rng = np.random.default_rng([seed, n, round(1 / alpha), 1])
    alarms = 0
    for _ in range(references):
        reference = rng.multinomial(5000, truth).astype(np.float64)
        null = SimulatedNull(reference, statistic, power=power, seed=int(rng.integers(1 << 30)))
        policy = AdaptiveLimit(CalibratedLimit(null, 1.0 / alpha, "none"), floor=floor)
        for window in rng.multinomial(n, truth, size=windows).astype(np.float64):
            value = k.statistic(kind, reference, window, 0.5)
            drifted = value > policy.limit(n)
            policy.observe(value, drifted)
            alarms += drifted
    return alarms
