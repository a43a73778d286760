"""Tail quantiles of a difference of two sample means, by the Lugannani-Rice saddlepoint.

A window statistic that is a mean of per-row values (a reconstruction error, a score) is judged
against the mean the reference had. Under "no drift" both means are of draws from one
distribution, known through a reference sample of it; the window's mean minus the reference's
has cumulant generating function ``n K(s/n) + m K(-s/m)``, with ``K`` the empirical one of the
sample. The saddlepoint approximation of its tail has a relative error of order ``1/n`` far
into the tail, where a normal approximation ignores the skew of the per-row values (errors are
right-skewed: a normal limit at 1e-5 would be exceeded several times as often). Simulating the
same tail would take about a million draws of a window per size.

Examples
--------
>>> import numpy as np
>>> values = np.random.default_rng(0).exponential(size=20_000)
>>> q = mean_difference_quantile(values, n=100, m=20_000, alpha=1e-3)
>>> normal = 3.0902 * values.std() * np.sqrt(1 / 100 + 1 / 20_000)
>>> bool(q > normal)  # the right skew of the exponential lifts the upper tail
True
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import log_ndtr, ndtri

from .errors import DetectorInputError

__all__ = ["mean_difference_quantile", "mean_difference_sf"]

# Above this tail probability the normal approximation is used: the saddlepoint formula has a
# removable singularity at the mean, and in the body the two agree.
_BODY = 0.3


class _Cumulants:
    """The empirical cumulant generating function of standardized values and its derivatives."""

    def __init__(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1 or values.size < 2 or not np.all(np.isfinite(values)):
            raise DetectorInputError("need at least two finite values")
        self.center = float(values.mean())
        self.spread = float(values.std())
        if self.spread <= 0.0:
            raise DetectorInputError("the values are all equal: their means cannot differ")
        self.y = (values - self.center) / self.spread

    def at(self, t: float) -> tuple[float, float, float]:
        """K(t), K'(t), K''(t) of the standardized values."""
        a = t * self.y
        top = float(a.max())
        w = np.exp(a - top)
        total = float(w.sum())
        k = top + math.log(total / self.y.size)
        w /= total
        k1 = float(w @ self.y)
        k2 = float(w @ (self.y * self.y)) - k1 * k1
        return k, k1, max(k2, 1e-300)


def _difference(c: _Cumulants, n: int, m: int, s: float) -> tuple[float, float, float]:
    """K_D, K_D', K_D'' of D = (mean of n) - (mean of m) at ``s``."""
    a0, a1, a2 = c.at(s / n)
    b0, b1, b2 = c.at(-s / m)
    return n * a0 + m * b0, a1 - b1, a2 / n + b2 / m


def _log_tail(c: _Cumulants, n: int, m: int, s: float) -> tuple[float, float]:
    """(x, log P(D >= x)) at the saddlepoint ``s > 0`` (Lugannani-Rice)."""
    k, x, k2 = _difference(c, n, m, s)
    w = math.sqrt(max(2.0 * (s * x - k), 1e-300))
    u = s * math.sqrt(k2)
    # P = Phi(-w) + phi(w) (1/u - 1/w), in logs: the tail goes far below 1e-300 for large s.
    log_phi = -0.5 * w * w - 0.5 * math.log(2.0 * math.pi)
    base = float(log_ndtr(-w))
    correction = math.exp(log_phi - base) * (1.0 / u - 1.0 / w)
    return x, base + math.log(max(1.0 + correction, 1e-300))


def mean_difference_sf(values: np.ndarray, n: int, m: int, x: float) -> float:
    """P(mean of n draws - mean of m draws >= x), draws from the empirical distribution of
    ``values`` (x in the values' units)."""
    c = _Cumulants(values)
    target = x / c.spread
    sd = math.sqrt(1.0 / n + 1.0 / m)
    if target <= 0.0:
        return float(0.5 * math.erfc(target / sd / math.sqrt(2.0)))
    lo, hi = 0.0, 1.0
    while _difference(c, n, m, hi)[1] < target and hi < 1e12:
        lo, hi = hi, hi * 2.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if _difference(c, n, m, mid)[1] < target:
            lo = mid
        else:
            hi = mid
    return float(math.exp(_log_tail(c, n, m, hi)[1]))


def mean_difference_quantile(values: np.ndarray, n: int, m: int, alpha: float) -> float:
    """The upper ``alpha`` quantile of (mean of n draws) - (mean of m draws), draws from the
    empirical distribution of ``values``, in the values' units."""
    if n < 1 or m < 1:
        raise DetectorInputError(f"sizes must be positive, got n={n}, m={m}")
    if not 0.0 < alpha < 1.0:
        raise DetectorInputError(f"alpha must lie in (0, 1), got {alpha}")
    c = _Cumulants(values)
    sd = math.sqrt(1.0 / n + 1.0 / m)
    if alpha >= _BODY:
        return float(ndtri(1.0 - alpha) * sd * c.spread)
    target = math.log(alpha)
    # The tail falls as s grows; bracket the saddlepoint whose tail is alpha, then bisect.
    lo, hi = 0.0, 1.0 / sd**2
    while _log_tail(c, n, m, hi)[1] > target:
        lo, hi = hi, hi * 2.0
        if hi > 1e12:  # alpha below what the sample's largest value allows
            break
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if _log_tail(c, n, m, mid)[1] > target:
            lo = mid
        else:
            hi = mid
    return float(_log_tail(c, n, m, hi)[0] * c.spread)
