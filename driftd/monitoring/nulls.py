"""Null distributions of the drift statistics, for calibrated limits.

``calibrated`` limits answer: how large does this statistic get on a window of ``n`` events
drawn from the reference distribution itself? The limit is the statistic's upper ``alpha``
quantile under that null.

- KS is distribution-free for continuous data: its two-sample null depends only on the sizes,
  so the limit comes straight from the Kolmogorov distribution at the effective size
  ``n·R/(n+R)`` (as ``scipy.stats.ks_2samp``'s asymptotic p-value does). With ties (discrete
  features) the test is conservative: fewer false alarms than targeted.
- Binned statistics (PSI, L-infinity, Jensen-Shannon) are bootstrapped: ``B`` pairs of a
  reference of size ``R`` and a window of size ``n``, both drawn from the reference histogram,
  so the reference's own sampling error is part of the null. The targeted ``alpha`` is far
  smaller than ``1/B``, so the tail is read from a scaled chi-square fitted to the bootstrap by
  moments (Satterthwaite) — divergences such as PSI are asymptotically scaled chi-square, and
  distances (JS, L-infinity, Wasserstein) behave like the square root of one, so their squares
  are fitted. The limit is never below the bootstrap's own quantile where ``alpha >= 1/B``.
- Wasserstein is bootstrapped from the reference sample the same way.

Limits are cached per window size, rounded to two significant digits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import numpy as np
from scipy import stats


class NullModel(Protocol):
    """The upper ``alpha`` quantile of a statistic on reference-distributed windows of size n."""

    def quantile(self, n: int, alpha: float) -> float: ...


def size_bucket(n: int) -> int:
    """``n`` rounded to two significant digits (the calibration cache key)."""
    if n < 100:
        return max(n, 1)
    digits = math.floor(math.log10(n)) - 1
    return round(n, -digits)


class KSNull:
    """The Kolmogorov distribution at the effective sample size (distribution-free)."""

    def __init__(self, reference_size: int) -> None:
        self.reference_size = reference_size
        self._cache: dict[tuple[int, float], float] = {}

    def quantile(self, n: int, alpha: float) -> float:
        """Limit on the KS statistic D for a window of ``n`` events (cached)."""
        key = (n, alpha)
        if key not in self._cache:
            m = self.reference_size
            effective = max(1, round(n * m / (n + m)))
            self._cache[key] = float(stats.kstwo.isf(alpha, effective))
        return self._cache[key]


Draw = Callable[[np.random.Generator, int], float]


class BootstrapNull:
    """Bootstrapped null with a Satterthwaite scaled chi-square tail."""

    def __init__(self, draw: Draw, samples: int, seed: int, power: float) -> None:
        self._draw = draw
        self._samples = samples
        self._seed = seed
        self._power = power
        self._cache: dict[tuple[int, float], float] = {}
        self._fits: dict[int, tuple[float, float, np.ndarray]] = {}

    def quantile(self, n: int, alpha: float) -> float:
        """Limit for a window of ``n`` events (cached by size bucket)."""
        bucket = size_bucket(n)
        key = (bucket, alpha)
        if key not in self._cache:
            scale, df, values = self._fit(bucket)
            # The bootstrap itself is trusted down to 1/B; the fitted tail only extends it.
            empirical = float(np.quantile(values, 1.0 - max(alpha, 1.0 / values.size)))
            if df == 0.0:
                limit = empirical
            else:
                fitted = scale * float(stats.chi2.isf(alpha, df))
                limit = max(fitted ** (1.0 / self._power), empirical)
            self._cache[key] = limit
        return self._cache[key]

    def _fit(self, n: int) -> tuple[float, float, np.ndarray]:
        if n not in self._fits:
            rng = np.random.default_rng([self._seed, n])
            values = np.array([self._draw(rng, n) for _ in range(self._samples)])
            y = values**self._power
            mean, var = float(y.mean()), float(y.var(ddof=1))
            if var <= 0.0 or mean <= 0.0:
                self._fits[n] = (0.0, 0.0, values)
            else:
                self._fits[n] = (var / (2.0 * mean), 2.0 * mean * mean / var, values)
        return self._fits[n]


def family_alpha(windows_between_false_alarms: float, tests: int, correction: str) -> float:
    """Per-test tail probability for a family-wise false-alarm target.

    One false alarm per ``windows_between_false_alarms`` windows across ``tests`` statistics
    (features × statistics × segments) evaluated on each window.

    Examples
    --------
    >>> round(family_alpha(1000, 10, "bonferroni"), 8)
    0.0001
    >>> round(family_alpha(1000, 10, "sidak"), 8)
    0.00010005
    """
    family = 1.0 / windows_between_false_alarms
    tests = max(tests, 1)
    if correction == "bonferroni":
        return family / tests
    if correction == "sidak":
        return -math.expm1(math.log1p(-family) / tests)
    return family
