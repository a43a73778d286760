"""False alarms of calibrated histogram limits on null windows: the measurement that
tests/unit/monitoring/test_calibration.py asserts and bench/calibration.py reports."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from detectors import _null_kernels as k
from driftd.monitoring.nulls import SimulatedNull
from driftd.monitoring.thresholds import AdaptiveLimit, CalibratedLimit, Threshold

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
    rng = np.random.default_rng([seed, n, round(1 / alpha)])
    return _alarms(
        truth, statistic, n, references, windows, rng, lambda null: _Fixed(null, n, alpha)
    )


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
    rng = np.random.default_rng([seed, n, round(1 / alpha), 1])
    return _alarms(
        truth, statistic, n, references, windows, rng,
        lambda null: AdaptiveLimit(CalibratedLimit(null, 1.0 / alpha, "none"), floor=floor),
    )  # fmt: skip


class _Fixed:
    # The null's alpha quantile as it is, learning nothing.
    def __init__(self, null: SimulatedNull, n: int, alpha: float) -> None:
        self.value = null.quantile(n, alpha)

    def limit(self, n: int) -> float:
        return self.value

    def observe(self, value: float, drifted: bool) -> None:
        pass


def _alarms(
    truth: np.ndarray,
    statistic: str,
    n: int,
    references: int,
    windows: int,
    rng: np.random.Generator,
    threshold_for: Callable[[SimulatedNull], Threshold],
) -> int:
    kind, power = KINDS[statistic]
    alarms = 0
    for _ in range(references):
        reference = rng.multinomial(5000, truth).astype(np.float64)
        null = SimulatedNull(reference, statistic, power=power, seed=int(rng.integers(1 << 30)))
        policy = threshold_for(null)
        for window in rng.multinomial(n, truth, size=windows).astype(np.float64):
            value = k.statistic(kind, reference, window, 0.5)
            drifted = bool(value > policy.limit(n))
            policy.observe(value, drifted)
            alarms += drifted
    return alarms


def _correlated(rng: np.random.Generator, n: int, skewed: bool) -> np.ndarray:
    """Six features: two correlated pairs and two independent ones; lognormal when skewed."""
    z = rng.standard_normal((n, 6))
    z[:, 1] = 0.8 * z[:, 0] + 0.6 * z[:, 1]
    z[:, 3] = -0.5 * z[:, 2] + math.sqrt(0.75) * z[:, 3]
    return np.exp(z) if skewed else z


def multivariate_false_alarms(
    statistic: str,
    alpha: float,
    n: int,
    *,
    references: int,
    windows: int,
    skewed: bool = False,
    adaptive: bool = False,
    seed: int = 7,
) -> int:
    """Windows over the limit of a multivariate statistic (``pca`` or ``classifier``), of
    ``references`` x ``windows`` null windows of ``n`` rows.

    Each reference is 40,000 training rows made into a profile's joint sample exactly as
    ``reference build`` does (10,000 rows kept, the basis fitted on the others), so the
    rate includes the reference's sampling error.
    """
    from driftd.monitoring.multivariate import build_multivariate
    from driftd.reference.joint import build_joint

    rng = np.random.default_rng([seed, n, round(1 / alpha), int(skewed), int(adaptive)])
    names = [f"x{j}" for j in range(6)]
    alarms = 0
    for _ in range(references):
        train = _correlated(rng, 40_000, skewed)
        joint = build_joint(names, list(train.T), 10_000, 0.65, rng)
        assert joint is not None
        stat = build_multivariate(joint, statistic)
        values = (stat.score(_correlated(rng, n, skewed)).statistic for _ in range(windows))
        alarms += _judged(stat.null, alpha, n, values, adaptive=adaptive)
    return alarms


def _judged(null: Any, alpha: float, n: int, values: Iterable[float], *, adaptive: bool) -> int:
    """How many of ``values`` (windows of ``n``, in order) a calibrated limit on ``null`` at
    ``alpha`` (adaptive over it, learning as it goes, when asked) calls drift."""
    policy: Threshold = CalibratedLimit(null, 1.0 / alpha, "none")
    if adaptive:
        policy = AdaptiveLimit(policy)
    alarms = 0
    for value in values:
        drifted = bool(value > policy.limit(n))
        policy.observe(value, drifted)
        alarms += drifted
    return alarms


def wasserstein_false_alarms(
    alpha: float,
    n: int,
    *,
    references: int,
    windows: int,
    skewed: bool = False,
    adaptive: bool = False,
    seed: int = 7,
) -> int:
    """Windows over the normalised Wasserstein limit, of ``references`` x ``windows`` null
    windows of ``n``; each reference a sample of 5,000 (a profile's KS/Wasserstein sample)."""
    import detectors
    from driftd.monitoring.nulls import WassersteinNull

    rng = np.random.default_rng([seed, n, round(1 / alpha), int(skewed), int(adaptive), 2])

    def draw(size: int) -> np.ndarray:
        return rng.lognormal(size=size) if skewed else rng.normal(size=size)

    alarms = 0
    for _ in range(references):
        sample = draw(5000)
        w1 = detectors.Wasserstein(sample)
        null = WassersteinNull(sample, w1.scale, seed=int(rng.integers(1 << 30)))
        lo, hi = float(sample.min()), float(sample.max())
        # Clipped to the sample's range, as the monitor scores it.
        values = (w1.score(np.clip(draw(n), lo, hi)).statistic for _ in range(windows))
        alarms += _judged(null, alpha, n, values, adaptive=adaptive)
    return alarms


def ks_false_alarms(
    alpha: float,
    n: int,
    *,
    references: int,
    windows: int,
    tied: bool = False,
    adaptive: bool = False,
    seed: int = 7,
) -> int:
    """Windows over the KS limit, of ``references`` x ``windows`` null windows of ``n``; each
    reference a sample of 5,000 (a profile's KS sample), continuous or (``tied``) a count
    feature with many ties, where the distribution-free limit is conservative."""
    import detectors
    from driftd.monitoring.nulls import KSNull

    rng = np.random.default_rng([seed, n, round(1 / alpha), int(tied), int(adaptive), 3])

    def draw(size: int) -> np.ndarray:
        return rng.poisson(4.0, size=size).astype(np.float64) if tied else rng.normal(size=size)

    alarms = 0
    null = KSNull(5000)
    for _ in range(references):
        ks = detectors.KSReference(draw(5000))
        values = (ks.score(draw(n)).statistic for _ in range(windows))
        alarms += _judged(null, alpha, n, values, adaptive=adaptive)
    return alarms


def comparison_false_alarms(
    statistic: str, alpha: float, *, windows: int, candidate: int = 200, baseline: int = 800,
    seed: int = 7,
) -> int:  # fmt: skip
    """Canary windows over their limit when the canary is its baseline: ``ks`` on scores
    (beta(2, 5)), or ``shares`` on three classes (0.5 / 0.3 / 0.2); two live windows each,
    judged by the functions the comparison monitor judges with."""
    from detectors.ks import ks_2samp
    from driftd.monitoring.comparison import ks_limit, share_limit

    rng = np.random.default_rng([seed, round(1 / alpha), len(statistic), 4])
    if statistic == "ks":
        limit = ks_limit(candidate, baseline, alpha)
        return sum(
            ks_2samp(rng.beta(2, 5, candidate), rng.beta(2, 5, baseline)).statistic > limit
            for _ in range(windows)
        )
    p = np.array([0.5, 0.3, 0.2])
    limit = share_limit(candidate, baseline, p.size, alpha)
    a = rng.multinomial(candidate, p, size=windows) / candidate
    b = rng.multinomial(baseline, p, size=windows) / baseline
    return int(np.sum(np.max(np.abs(a - b), axis=1) > limit))
