"""Numba kernels for the two-sample Kolmogorov-Smirnov statistic and its exact null distribution.

Arrays and integers in, integers and floats out; :mod:`detectors.ks` validates and dispatches.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Above this size ratio, walking the merged order would mostly step over reference values;
# galloping from one window value to the next is cheaper (it probes the reference at random,
# which costs cache misses, so the walk wins up to surprisingly large ratios).
_GALLOP_RATIO = 64
# Exact evaluations made before the walk, so that its running maxima start close to the final
# ones and few blocks need a value-by-value look.
_SEEDS = 64


def merge_block(n: int, m: int) -> int:
    """Block length for ``ecdf_extremes``: longer blocks pay off on long samples only."""
    return 64 if n + m >= 20_000 else 32


@njit(cache=True, nogil=True, inline="always")
def _first_above(x, lo, v):
    """First index ``i >= lo`` with ``x[i] > v`` in sorted ``x`` (``x.size`` if none).

    Gallops from ``lo`` so the cost is logarithmic in the distance travelled, not in ``x.size``.
    """
    n = x.size
    hi = lo
    step = 1
    while hi < n and x[hi] <= v:
        lo = hi + 1
        hi += step
        step *= 2
    hi = min(hi, n)
    while lo < hi:
        mid = (lo + hi) >> 1
        if x[mid] <= v:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True, inline="always")
def _first_not_below(x, lo, v):
    """First index ``i >= lo`` with ``x[i] >= v`` in sorted ``x`` (``x.size`` if none)."""
    n = x.size
    hi = lo
    step = 1
    while hi < n and x[hi] < v:
        lo = hi + 1
        hi += step
        step *= 2
    hi = min(hi, n)
    while lo < hi:
        mid = (lo + hi) >> 1
        if x[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True, inline="always")
def _first_not_below_from(x, i0, v):
    """``#x < v`` for sorted x, given that every ``x[:i0]`` is ``<= v``."""
    if i0 == 0 or x[i0 - 1] < v:
        return _first_not_below(x, i0, v)
    # x[i0-1] == v: the run of values equal to v may start anywhere before i0.
    lo = 0
    hi = i0
    while lo < hi:
        mid = (lo + hi) >> 1
        if x[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True)
def ecdf_extremes(x, y, block):
    """Largest gaps between the empirical CDFs of two sorted samples.

    Parameters
    ----------
    x : float64[n], sorted, no NaN
    y : float64[m], sorted, no NaN
    block : int
        Merged values per step of the walk (see ``merge_block``). It is an argument, not a
        constant, because LLVM fully unrolls a constant-length compare loop into scalar code
        but vectorises a loop whose length it does not know.

    Returns
    -------
    up : int
        ``n*m*max(F_y - F_x)`` over the data points, as an exact integer.
    down : int
        ``n*m*max(F_x - F_y)`` in the same way.
    up_f, down_f : float
        The same maxima as ``fl(fl(j/m) - fl(i/n))`` (resp. the reverse) at the counts that attain
        them, which is how ``scipy.stats.ks_2samp`` rounds them.

    Notes
    -----
    For the j-th value of y (0-based) let ``R = #x <= y[j]`` and ``L = #x < y[j]``. Between two
    values of y only ``F_x`` moves, so ``max(F_y - F_x)`` is attained at a value of y and
    ``max(F_x - F_y)`` just below one: it suffices to evaluate ``(j+1)*n - R*m`` and ``L*m - j*n``
    for every j. Inside a run of tied values the formulas undercount, so only the last (resp.
    first) value of a run can attain the maximum.

    The walk visits the merged order (x first on ties) ``block`` values at a time ("merge
    path"): the number s of x values among the next ``block`` is the number of t with
    ``x[i+t] <= y[j+block-1-t]``, one vectorised compare. A plain merge advances one value per
    step and is bound by the latency of its own index updates. Inside a block that starts at
    counts (i, j), every y has ``R >= i`` and ``L <= i + s``, which bounds both gaps; only blocks
    whose bound reaches the running maximum are evaluated value by value.
    """
    n = x.size
    m = y.size
    up = np.int64(-1)
    down = np.int64(-1)
    up_f = -np.inf
    down_f = -np.inf
    step = max(m // _SEEDS, 1)
    for j in range(step // 2, m, step):
        up, up_f, down, down_f, _ = _visit(x, y, 0, j, up, up_f, down, down_f)
    i = 0
    j = 0
    if n <= _GALLOP_RATIO * m:
        while i + block <= n and j + block <= m:
            s = 0
            # Unsigned offsets spare LLVM the negative-index wraparound that blocks vectorising.
            bx = np.uint64(i)
            by = np.uint64(j + block - 1)
            for t in range(block):
                s += x[bx + np.uint64(t)] <= y[by - np.uint64(t)]
            j_end = j + block - s
            if j_end * n - i * m >= up or (i + s) * m - j * n >= down:
                for jj in range(j, j_end):
                    up, up_f, down, down_f, _ = _visit(x, y, i, jj, up, up_f, down, down_f)
            i += s
            j = j_end
    while j < m:
        up, up_f, down, down_f, i = _visit(x, y, i, j, up, up_f, down, down_f)
        j += 1
    return up, down, up_f, down_f


@njit(cache=True, nogil=True, inline="always")
def _visit(x, y, i, j, up, up_f, down, down_f):  # noqa: PLR0917 (Numba: no keyword-only)
    """Evaluate both gaps at ``y[j]``, given that ``x[:i]`` all precede it in merged order.

    Returns the updated maxima and ``#x <= y[j]``.
    """
    n = x.size
    m = y.size
    v = y[j]
    lo = _first_not_below_from(x, i, v)
    hi = _first_above(x, max(lo, i), v)
    up, up_f = _keep_max(up, up_f, (j + 1) * n - hi * m, j + 1, m, hi, n)
    down, down_f = _keep_max(down, down_f, lo * m - j * n, lo, n, j, m)
    return up, up_f, down, down_f, hi


@njit(cache=True, nogil=True, inline="always")
def _keep_max(best, best_f, cand, a, na, b, nb):  # noqa: PLR0917 (Numba: no keyword-only)
    """Running maximum of an integer gap and of its float value ``fl(a/na) - fl(b/nb)``.

    Equal integer gaps can round to floats one ulp apart; keeping the largest float reproduces
    the argmax scipy takes over its float differences.
    """
    if cand < best:
        return best, best_f
    f = a / na - b / nb
    if cand > best or f > best_f:
        return cand, f
    return best, best_f


@njit(cache=True, nogil=True)
def exact_sf_equal(n, h):
    """``P(D >= h/n)`` for two samples of equal size n under the null (two-sided).

    Notes
    -----
    By the reflection principle ``P = 2 sum_{k>=1} (-1)^(k-1) C(2n, n-kh) / C(2n, n)``. Writing
    ``a_k = C(2n, n-kh) / C(2n, n-(k-1)h)`` gives ``P = 2 a_1 (1 - a_2 (1 - a_3 (1 - ...)))``,
    evaluated from the innermost term outwards so no term needs a large binomial. Each ``a_k`` is
    a product of h ratios below one.
    """
    total = 0.0
    k = n // h
    while k >= 0:
        ratio = 1.0
        for j in range(h):
            ratio = (n - k * h - j) * ratio / (n + k * h + j + 1)
        total = ratio * (1.0 - total)
        k -= 1
    return 2.0 * total


@njit(cache=True, nogil=True)
def exact_sf_unequal(n1, n2, g, h):
    """``P(D >= h / lcm(n1, n2))`` for samples of sizes n1, n2 under the null (two-sided).

    Parameters
    ----------
    n1, n2 : int
        Sample sizes.
    g : int
        ``gcd(n1, n2)``.
    h : int
        The statistic in units of ``1 / lcm``; ``h >= 1``.

    Notes
    -----
    Under the null, the merged order is a uniformly random lattice path from (0, 0) to (m, n)
    (one step right per value of the larger sample, one step up per value of the smaller). The
    path leaves the band ``|i/m - j/n| < h/lcm`` exactly when ``D >= h/lcm``. Let ``P(i, j)`` be the
    fraction of paths from the origin to (i, j) that have left the band: it is 1 outside the band
    and ``P(i, j) = (i P(i-1, j) + j P(i, j-1)) / (i + j)`` inside, because a fraction
    ``i / (i+j)`` of those paths arrives from the left. Working with fractions instead of path
    counts keeps every value in [0, 1] (Viehmann 2021, after Hodges 1958). One column is kept and
    updated in place, and only the cells inside the band are visited.
    """
    m = max(n1, n2)
    n = min(n1, n2)
    mg = m // g
    ng = n // g
    # In units of 1/lcm, cell (i, j) lies inside the band when |i*ng - j*mg| < h.
    col = np.ones(n + 1)
    col[: min((h - 1) // mg, n) + 1] = 0.0
    for i in range(1, m + 1):
        lo = max((i * ng - h) // mg + 1, 0)
        hi = min((i * ng + h - 1) // mg, n)
        if lo > hi:
            return 1.0
        below = 0.0
        if lo > 0:
            # The cell under the band is outside, so every path through it has left already.
            col[lo - 1] = 1.0
            below = 1.0
        for j in range(lo, hi + 1):
            below = (col[j] * i + below * j) / (i + j)
            col[j] = below
    return col[n]
