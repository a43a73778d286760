"""Two-sample Kolmogorov-Smirnov test, equal to ``scipy.stats.ks_2samp`` with its defaults."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._kolmogorov import kolmogorov_sf
from ._ks_kernels import ecdf_extremes, exact_sf_equal, exact_sf_unequal, merge_block
from ._validate import as_float_array, read_only
from .base import NUMERIC, Kind, Score
from .errors import DetectorInputError

__all__ = ["KSReference", "KSResult", "ks_2samp"]

# scipy's method="auto" tries the exact distribution when both samples have at most this many
# values, and the asymptotic one otherwise.
EXACT_MAX_N = 10_000
# Drift scores report p-values down to this; below it only "p < 1e-9" is known (and enough).
PVALUE_FLOOR = 1e-9


@dataclass(frozen=True, slots=True)
class KSResult:
    """Outcome of a two-sample KS test.

    Parameters
    ----------
    statistic : float
        ``D = sup_t |F_x(t) - F_y(t)|``.
    pvalue : float
        Two-sided p-value under "both samples come from the same continuous distribution".
    method : {"exact", "asymp"}
        Which null distribution produced the p-value.
    """

    statistic: float
    pvalue: float
    method: Literal["exact", "asymp"]


def ks_2samp(x: ArrayLike, y: ArrayLike) -> KSResult:
    """Two-sided two-sample Kolmogorov-Smirnov test.

    Matches ``scipy.stats.ks_2samp(x, y)`` with default arguments (two-sided, ``method="auto"``):
    the statistic to 1e-12 and the p-value to 1e-9 relative, ties and unequal sizes included.

    Parameters
    ----------
    x, y : array_like
        1-D samples of real numbers; non-empty, without NaN (``inf`` is allowed).

    Returns
    -------
    KSResult

    Raises
    ------
    DetectorInputError
        If a sample is empty, not 1-D or contains NaN.
    DetectorTypeError
        If a sample does not hold real numbers.

    See Also
    --------
    KSReference : the same test against a reference sorted once.

    Notes
    -----
    ``D`` is found by one pass over both sorted samples (see ``ecdf_extremes``). The p-value
    follows scipy's ``auto`` rule: when ``max(n, m) <= 10000`` the exact null distribution is
    computed by lattice-path counting, and ``D`` is snapped to the lattice ``h / lcm(n, m)``; if
    that result is not a probability (float round-off for tiny h), or when the samples are
    larger, ``P(D_en > D)`` of the one-sample Kolmogorov distribution is used with
    ``en = round(n m / (n + m))``.

    Examples
    --------
    >>> res = ks_2samp([0.1, 0.4, 0.7], [0.2, 0.5, 0.8, 3.0])
    >>> round(res.statistic, 4), round(res.pvalue, 4), res.method
    (0.5, 0.6571, 'exact')
    """
    xs = _sorted_sample(x, "x")
    ys = _sorted_sample(y, "y")
    return _test_sorted(xs, ys)


class KSReference:
    """KS detector: the reference is sorted once, each window is sorted and merged with it.

    Parameters
    ----------
    reference : array_like
        1-D reference sample; non-empty, without NaN.

    Notes
    -----
    ``test(window)`` returns exactly ``ks_2samp(reference, window)``. Scoring a window of size m
    against a reference of size n costs one sort of the window plus ``O(m)`` block compares when
    n and m are similar, or ``O(m log(n/m))`` when the reference is much larger.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ks = KSReference(rng.normal(size=1000))
    >>> ks.test(rng.normal(size=500)).pvalue > 0.01
    True
    >>> ks.score(rng.normal(1.0, size=500)).statistic > 0.3
    True
    """

    name: ClassVar[str] = "ks"
    kind: ClassVar[Kind] = NUMERIC
    __slots__ = ("_reference",)

    def __init__(self, reference: ArrayLike) -> None:
        self._reference = read_only(_sorted_sample(reference, "reference"))

    @property
    def reference(self) -> NDArray[np.float64]:
        """The sorted reference sample (read-only)."""
        return self._reference

    def test(self, window: ArrayLike) -> KSResult:
        """Test ``window`` against the reference; equals ``ks_2samp(reference, window)``."""
        return _test_sorted(self._reference, _sorted_sample(window, "window"))

    def score(self, window: np.ndarray) -> Score:
        """``Score`` with the KS statistic and its p-value; a p-value certainly below
        ``PVALUE_FLOOR`` is reported as the floor (see :func:`_test_sorted`)."""
        res = _test_sorted(self._reference, _sorted_sample(window, "window"), PVALUE_FLOOR)
        return Score(res.statistic, res.pvalue)

    def __repr__(self) -> str:
        return f"KSReference(n={self._reference.size})"


def _sorted_sample(values: ArrayLike, name: str) -> NDArray[np.float64]:
    """Sorted float64 copy; NaN is checked after sorting, where it can only be the last value."""
    out = np.sort(as_float_array(values, name))
    if np.isnan(out[-1]):
        raise DetectorInputError(f"{name} contains NaN")
    return out


def _test_sorted(x: NDArray[np.float64], y: NDArray[np.float64], floor: float = 0.0) -> KSResult:
    """KS test on two sorted samples; ``x`` plays the role of scipy's ``data1``.

    With ``floor``, an asymptotic p-value that Massart's form of the Dvoretzky-Kiefer-Wolfowitz
    inequality puts below it (``P(D_n > x) <= 2 exp(-2 n x^2)``, for every n) is not computed:
    the result is ``floor`` and method ``"bound"``. In that tail scipy's Smirnov series takes
    milliseconds per call, and a drifted window's exact digits far below any alerting level
    tell no one anything; the drift decision uses the statistic, never the p-value.
    """
    n, m = x.size, y.size
    up, down, up_f, down_f = ecdf_extremes(x, y, merge_block(n, m))
    # scipy takes max(cdf1 - cdf2) (here "down") and max(cdf2 - cdf1) clipped to [0, 1] ("up"),
    # and keeps "up" only when it is strictly larger.
    min_s = min(max(up_f, 0.0), 1.0)
    d = min_s if min_s > down_f else down_f
    if max(n, m) <= EXACT_MAX_N:
        g = math.gcd(n, m)
        lcm = (n // g) * m
        h = int(max(up, down)) // g  # the gap n*m*D is a multiple of g, so this is exact
        d = h / lcm
        if h == 0:
            return KSResult(d, 1.0, "exact")
        p = exact_sf_equal(n, h) if n == m else exact_sf_unequal(n, m, g, h)
        if 0.0 <= p <= 1.0:
            return KSResult(d, float(p), "exact")
    big, small = max(float(n), float(m)), min(float(n), float(m))
    en = round(big * small / (big + small))
    if floor > 0.0 and 2.0 * math.exp(-2.0 * en * d * d) < floor:
        return KSResult(float(d), floor, "bound")
    return KSResult(float(d), kolmogorov_sf(en, d), "asymp")
