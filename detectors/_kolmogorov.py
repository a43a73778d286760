"""Survival function of the two-sided one-sample Kolmogorov statistic ``D_n``.

``kolmogorov_sf(n, x)`` equals ``scipy.stats.kstwo.sf(x, n)``: it follows the same choice of
method per region of (n, x) as Simard & L'Ecuyer (2011), which scipy implements, so the two agree
to rounding. The exact one-sided Smirnov tail in the far tail and for ``x >= 1/2`` is taken from
``scipy.special.smirnov`` (a compiled ufunc); every other region runs in the Numba kernels below.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy.special import smirnov

_SCALE = 2.0**128  # rescaling step that keeps long products away from overflow and underflow
_SCALE_EXP = 128
_LOG_2PI = math.log(2.0 * math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_MIN_LOG = -708.0  # exp() of anything smaller is zero in float64
# Stirling series of log(n!): B_2k / (2k (2k-1)) for k = 8, ..., 1 (highest power first).
_STIRLING = (
    -3617.0 / 122400.0,
    1.0 / 156.0,
    -691.0 / 360360.0,
    1.0 / 1188.0,
    -1.0 / 1680.0,
    1.0 / 1260.0,
    -1.0 / 360.0,
    1.0 / 12.0,
)
_USE_SMIRNOV = -1.0  # kernel result meaning "the answer is 2 * smirnov(n, x)"


@njit(cache=True, nogil=True)
def _log_factorial_over_power(n):
    """``log(n! / n**n)`` from Stirling's series, with ``n log n`` cancelled analytically."""
    rn = 1.0 / n
    z = rn / n
    acc = 0.0
    for c in _STIRLING:
        acc = acc * z + c
    return math.log(n) / 2 - n + _LOG_2PI / 2 + rn * acc


@njit(cache=True, nogil=True)
def _durbin_cdf(n, d):
    """``P(D_n <= d)`` by Durbin's matrix method (Marsaglia, Tsang & Wang 2003).

    With ``k = ceil(n d)`` and ``h = k - n d``, ``P = n!/n^n (H^n)[k-1, k-1]`` for the
    ``(2k-1) x (2k-1)`` matrix ``H[i, j] = 1/(i-j+1)!`` (zero above the first superdiagonal) whose
    first column and last row are corrected by powers of h. Cost ``O(k^3 log n)``: small k only.
    """
    if d >= 1.0:
        return 1.0
    nd = n * d
    if nd <= 0.5:
        return 0.0
    k = math.ceil(nd)
    h = k - nd
    m = 2 * k - 1
    inv_fact = np.empty(m + 1)  # 1/i!, built by division so it underflows instead of overflowing
    inv_fact[0] = 1.0
    for i in range(1, m + 1):
        inv_fact[i] = inv_fact[i - 1] / i
    H = np.zeros((m, m))
    for i in range(m):
        for j in range(min(i + 2, m)):
            H[i, j] = inv_fact[i - j + 1]
    for i in range(m):
        H[i, 0] = (1.0 - h ** float(i + 1)) * inv_fact[i + 1]
        H[m - 1, i] = (1.0 - h ** float(m - i)) * inv_fact[m - i]
    H[m - 1, 0] = (1.0 + (max(2.0 * h - 1.0, 0.0) ** float(m) - 2.0 * h ** float(m))) * inv_fact[m]
    # H^n by repeated squaring; exponents of two are tracked apart from the mantissas.
    P = np.eye(m)
    p_exp = 0
    h_exp = 0
    e = n
    while e > 0:
        if e % 2:
            P = np.dot(P, H)
            p_exp += h_exp
        H = np.dot(H, H)
        h_exp *= 2
        if abs(H[k - 1, k - 1]) > _SCALE:
            H /= _SCALE
            h_exp += _SCALE_EXP
        e //= 2
    p = P[k - 1, k - 1]
    for i in range(1, n + 1):
        p = i * p / n
        if abs(p) < 1.0 / _SCALE:
            p *= _SCALE
            p_exp -= _SCALE_EXP
    return min(max(math.ldexp(p, p_exp), 0.0), 1.0)


@njit(cache=True, nogil=True)
def _pomeranz_bounds(i, n, ll, ceil_f, round_f):
    """Column range ``[lo, hi]`` that can be non-zero in row i of Pomeranz's recursion."""
    if i == 0:
        lo, hi = -ll - ceil_f + 1, ll + ceil_f - 1
    else:
        half = (i + 1) // 2
        if (i + 1) % 2 == 0:  # odd i: the point A_i sits at half - 1 + g
            if half == n + 1:
                lo, hi = n - ll - ceil_f + 1, n + ll + ceil_f - 1
            else:
                lo, hi = half - ll - round_f, half + ll + ceil_f - 2
        else:
            lo, hi = half - ll, half + ll + round_f - 1
    return max(lo, 0), min(hi, n)


@njit(cache=True, nogil=True)
def _pomeranz_cdf(n, x):
    """``P(D_n <= x)`` by Pomeranz's recursion (1974), as organised by Simard & L'Ecuyer (2011).

    With ``t = n x``, ``f`` its fractional part and ``g = min(f, 1-f)``, the break points
    ``A_i`` step by ``g``, ``2g`` and ``1-2g`` (divided by n). Row i of the recursion is row i-1
    convolved with the Poisson-like weights ``(step/n)^k / k!`` and cut to the columns allowed by
    ``t``; the answer is ``n!`` times the last entry of row ``2n+1``.
    """
    t = n * x
    ll = math.floor(t)
    f = t - ll
    g = min(f, 1.0 - f)
    ceil_f = 1 if f > 0 else 0
    round_f = 1 if f > 0.5 else 0
    width = 2 * (ll + 1)
    w_g = np.empty(width)
    w_2g = np.empty(width)
    w_12g = np.empty(width)
    w_g[0] = w_2g[0] = w_12g[0] = 1.0
    for k in range(1, width):
        w_g[k] = w_g[k - 1] * (g / n) / k
        w_2g[k] = w_2g[k - 1] * (2 * g / n) / k
        w_12g[k] = w_12g[k - 1] * ((1 - 2 * g) / n) / k
    row = np.zeros(width)
    nxt = np.zeros(width)
    row[0] = 1.0
    lo, hi = _pomeranz_bounds(0, n, ll, ceil_f, round_f)
    base = lo  # column held in row[0]
    expo = 0
    for i in range(1, 2 * n + 2):
        prev_lo = lo
        lo, hi = _pomeranz_bounds(i, n, ll, ceil_f, round_f)
        if i == 1 or i == 2 * n + 1:
            w = w_g
        elif i % 2:
            w = w_2g
        else:
            w = w_12g
        nxt[:] = 0.0
        if hi >= prev_lo:
            biggest = 0.0
            for q in range(lo, hi + 1):
                acc = 0.0
                for r in range(prev_lo, q + 1):
                    acc += row[r - base] * w[q - r]
                nxt[q - lo] = acc
                biggest = max(biggest, acc)
            if 0.0 < biggest < 1.0 / _SCALE:
                nxt *= _SCALE
                expo -= _SCALE_EXP
            base = lo
        row, nxt = nxt, row
    ans = row[n - base]
    for k in range(1, n + 1):
        if abs(ans) > _SCALE:
            ans /= _SCALE
            expo += _SCALE_EXP
        ans *= k
    return min(max(math.ldexp(ans, expo), 0.0), 1.0)


@njit(cache=True, nogil=True)
def _pelz_good_cdf(n, x):
    """Pelz-Good (1976) expansion ``P(D_n <= x) ~ K0 + K1/sqrt(n) + K2/n + K3/n^1.5``.

    Each ``K_i(z)``, ``z = x sqrt(n)``, is written as a theta-function series in
    ``q = exp(-pi^2 / (8 z^2))`` that converges fast for the moderate z where it is used. Powers
    go through ``pow`` (not repeated products) so the rounding matches scipy's evaluation.
    """
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    z = math.sqrt(n) * x
    z2, z3, z4, z6 = z**2.0, z**3.0, z**4.0, z**6.0
    pi2, pi4, pi6 = math.pi**2.0, math.pi**4.0, math.pi**6.0
    qlog = -pi2 / 8 / z2
    if qlog < _MIN_LOG:
        return 0.0
    q = math.exp(qlog)
    a1, b1 = -z2, pi2 / 4
    a2 = 6 * z6 + 2 * z4
    b2 = (2 * z4 - 5 * z2) * pi2 / 4
    c2 = pi4 * (1 - 2 * z2) / 16
    a3 = -30 * z6 - 90 * z**8.0
    b3 = pi2 * (135 * z4 - 96 * z6) / 4
    c3 = pi4 * (-60 * z2 + 212 * z4) / 16
    d3 = pi6 * (5 - 30 * z2) / 64
    # Horner in q^8 over the odd integers o = 2k-1: sum_k c(o) q^(o^2).
    s0 = s1 = s2 = s3 = 0.0
    kmax = math.ceil(16 * z / math.pi)
    for k in range(kmax, 0, -1):
        o = 2 * k - 1
        o2, o4, o6 = float(o**2), float(o**4), float(o**6)
        qp = q ** float(8 * k)
        s0 = s0 * qp + 1.0
        s1 = s1 * qp + (a1 + b1 * o2)
        s2 = s2 * qp + (a2 + b2 * o2 + c2 * o4)
        s3 = s3 * qp + (a3 + b3 * o2 + c3 * o4 + d3 * o6)
    k0 = s0 * q * _SQRT_2PI / z
    k1 = s1 * q * _SQRT_2PI / (6 * z4)
    k2 = s2 * q * _SQRT_2PI / (72 * z**7.0)
    k3 = s3 * q * _SQRT_2PI / (6480 * z**10.0)
    # The second theta series (over all integers k) only feeds K2 and K3.
    qq = math.exp(-pi2 / 2 / z2)
    r3z = math.sqrt(3.0) * z
    e2 = 0.0
    e3 = 0.0
    for k in range(kmax, 0, -1):
        ksq = float(k * k)
        qk = qq**ksq
        kpi = math.pi * k
        e2 += ksq * qk
        e3 += (r3z + kpi) * (r3z - kpi) * ksq * qk
    k2 += e2 * (pi2 * _SQRT_2PI / (-36 * z3))
    k3 += e3 * (pi2 * _SQRT_2PI / (216 * z6))
    rn = float(n)
    return k0 + k1 / rn**0.5 + k2 / rn + k3 / rn**1.5


@njit(cache=True, nogil=True)
def kolmogorov_sf_kernel(n, x):
    """Region dispatch of ``P(D_n > x)``; returns ``_USE_SMIRNOV`` where the Smirnov tail applies.

    The regions and cut-offs are those of Simard & L'Ecuyer (2011) as adopted by scipy.
    """
    if x <= 0.5 / n:
        return 1.0
    if x >= 1.0:
        return 0.0
    t = n * x
    if t <= 1.0:  # Ruben-Gambino: P(D_n <= x) = n!/n^n (2t - 1)^n for 1/2 <= t <= 1
        if n <= 140:
            cdf = 1.0
            for i in range(1, n + 1):
                cdf *= i * (1.0 / n) * (2 * t - 1)
        else:
            cdf = math.exp(_log_factorial_over_power(n) + n * math.log(2 * t - 1))
        return min(max(1.0 - cdf, 0.0), 1.0)
    if t >= n - 1:  # Ruben-Gambino upper end: P(D_n > x) = 2 (1 - x)^n
        return min(max(2 * (1.0 - x) ** float(n), 0.0), 1.0)
    if x >= 0.5:
        return _USE_SMIRNOV
    nx2 = t * x
    if n <= 140:
        if nx2 <= 0.754693:
            return min(max(1.0 - _durbin_cdf(n, x), 0.0), 1.0)
        if nx2 <= 4.0:
            return min(max(1.0 - _pomeranz_cdf(n, x), 0.0), 1.0)
        return _USE_SMIRNOV
    if nx2 >= 370.0:
        return 0.0
    if nx2 >= 2.2:
        return _USE_SMIRNOV
    small_k = n <= 100000 and n * x**1.5 <= 1.4  # Durbin's matrix stays small enough
    cdf = _durbin_cdf(n, x) if small_k else _pelz_good_cdf(n, x)
    return min(max(1.0 - cdf, 0.0), 1.0)


def kolmogorov_sf(n: int, x: float) -> float:
    """``P(D_n > x)`` for the two-sided one-sample Kolmogorov statistic, as ``kstwo.sf(x, n)``."""
    p = kolmogorov_sf_kernel(n, x)
    if p == _USE_SMIRNOV:
        # For x >= 1/2, or in the tail, P(D_n > x) = 2 P(D_n^+ > x) exactly or to double precision.
        p = min(max(2.0 * float(smirnov(n, x)), 0.0), 1.0)
    return float(p)
