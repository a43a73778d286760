"""Numba kernel for the Wasserstein-1 distance between two sorted samples."""

from __future__ import annotations

from numba import njit


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
