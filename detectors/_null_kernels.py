"""Numba kernels simulating a histogram statistic under its null: reference and window both
drawn from the reference distribution, as many times as a small tail probability needs.

Draws run in parallel chunks, each seeded from its own index, so the result is the same
whatever the number of threads. Each reference draw serves ``REUSE`` window draws: the null is
the mixture over references either way, and the binomials of the reference (half the cost)
need not be paid for every window.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._divergence_kernels import js_counts, linf_counts, psi_counts

PSI, LINF, JS = 0, 1, 2
CHUNK = 4096
REUSE = 16


@njit(cache=True, nogil=True)
def multinomial_into(n, p, out):
    """One multinomial(n, p) draw into ``out`` by conditional binomials (O(bins), any n)."""
    remaining = n
    mass = 1.0
    last = p.size - 1
    for i in range(last):
        x = 0
        if remaining > 0 and p[i] > 0.0:
            q = p[i] / mass if mass > 0.0 else 1.0
            x = remaining if q >= 1.0 else np.random.binomial(remaining, q)
        out[i] = x
        remaining -= x
        mass -= p[i]
    out[last] = remaining


@njit(cache=True, nogil=True)
def statistic(kind, reference, window, smoothing):
    """The statistic ``kind`` of ``window`` against ``reference`` (the same kernels the live
    scores use)."""
    if kind == PSI:
        return psi_counts(reference, window, smoothing)[0]
    if kind == LINF:
        return linf_counts(reference, window)[0]
    return js_counts(reference, window)


@njit(cache=True, parallel=True)
def null_draws(p, reference_total, n, draws, kind, smoothing, seed):  # noqa: PLR0917 (Numba: no keyword-only)
    """``draws`` values of the statistic with reference ~ multinomial(reference_total, p) and
    window ~ multinomial(n, p)."""
    out = np.empty(draws)
    chunks = (draws + CHUNK - 1) // CHUNK
    for c in prange(chunks):
        np.random.seed((seed + c * 1_000_003) % 4_294_967_296)
        reference = np.empty(p.size)
        window = np.empty(p.size)
        first = c * CHUNK
        for d in range(first, min(draws, first + CHUNK)):
            if (d - first) % REUSE == 0:
                multinomial_into(reference_total, p, reference)
            multinomial_into(n, p, window)
            out[d] = statistic(kind, reference, window, smoothing)
    return out
