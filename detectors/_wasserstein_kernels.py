"""Numba kernels for the Wasserstein-1 distance between two sorted samples, and its null."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True)
def w1_sorted(u, v):
    """``integral |F_u(t) - F_v(t)| dt`` for sorted finite samples u (n) and v (m).

    Notes
    -----
    Both empirical CDFs are constant between consecutive merged values, so the integral is
    ``sum_k |i_k/n - j_k/m| (a_{k+1} - a_k)`` over the merged values ``a_k``, with ``i_k, j_k``
    the counts up to and including ``a_k``. The gap is kept as the exact integer
    ``|i_k m - j_k n|`` and divided by ``n m`` once at the end. Within a run of ties the
    counts are partial, but the step ``a_{k+1} - a_k`` is zero there.
    """
    n = u.size
    m = v.size
    i = 0
    j = 0
    total = 0.0
    while i < n or j < m:
        if j >= m or (i < n and u[i] <= v[j]):
            cur = u[i]
            i += 1
        else:
            cur = v[j]
            j += 1
        if i < n and j < m:
            nxt = min(u[i], v[j])
        elif i < n:
            nxt = u[i]
        elif j < m:
            nxt = v[j]
        else:
            break
        total += abs(i * m - j * n) * (nxt - cur)
    return total / (n * m)


@njit(cache=True, nogil=True)
def _w1_counts(x, a, a_total, b, b_total):
    """W1 between two samples given as counts ``a``, ``b`` over the sorted atoms ``x``:
    ``sum_k |A_k/a_total - B_k/b_total| (x_{k+1} - x_k)`` with A, B the cumulative counts."""
    ca = 0
    cb = 0
    total = 0.0
    for k in range(x.size - 1):
        ca += a[k]
        cb += b[k]
        total += abs(ca * b_total - cb * a_total) * (x[k + 1] - x[k])
    return total / (a_total * b_total)


REUSE = 16  # window draws per reference draw (the null is the mixture over references)
CHUNK = 1024


@njit(cache=True, parallel=True)
def w1_null_draws(x, n, draws, seed):
    """``draws`` values of W1 between a bootstrap reference (``x.size`` draws from the sorted
    sample ``x``) and a bootstrap window of ``n``: the statistic under "same distribution",
    with the reference's own sampling error in it. Seeded per chunk: the same values for any
    number of threads."""
    m = x.size
    out = np.empty(draws)
    chunks = (draws + CHUNK - 1) // CHUNK
    for c in prange(chunks):
        np.random.seed((seed + c * 1_000_003) % 4_294_967_296)
        reference = np.zeros(m, dtype=np.int64)
        window = np.zeros(m, dtype=np.int64)
        first = c * CHUNK
        for d in range(first, min(draws, first + CHUNK)):
            if (d - first) % REUSE == 0:
                reference[:] = 0
                for _ in range(m):
                    reference[np.random.randint(m)] += 1
            window[:] = 0
            for _ in range(n):
                window[np.random.randint(m)] += 1
            out[d] = _w1_counts(x, reference, m, window, n)
    return out
