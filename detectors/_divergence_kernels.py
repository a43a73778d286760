"""Numba kernels for distances between two histograms given as count (or weight) vectors.

Each takes two equally long non-negative vectors with positive totals and returns floats and
indices; validation lives in the public wrappers.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def psi_counts(ref, cur, alpha):
    """Population stability index of ``cur`` against ``ref`` with pseudo-count ``alpha``.

    Returns
    -------
    psi : float
        ``sum_i (q_i - p_i) ln(q_i / p_i)`` with ``p_i = (ref_i + alpha) / (R + K alpha)`` and
        ``q_i = (cur_i + alpha) / (C + K alpha)``.
    worst : int
        The bin with the largest term (the first one on ties).
    """
    k = ref.size
    r_total = 0.0
    c_total = 0.0
    for i in range(k):
        r_total += ref[i]
        c_total += cur[i]
    r_norm = r_total + k * alpha
    c_norm = c_total + k * alpha
    total = 0.0
    worst = 0
    worst_term = -np.inf
    for i in range(k):
        p = (ref[i] + alpha) / r_norm
        q = (cur[i] + alpha) / c_norm
        term = (q - p) * math.log(q / p)
        total += term
        if term > worst_term:
            worst_term = term
            worst = i
    return total, worst


@njit(cache=True, nogil=True)
def linf_counts(a, b):
    """``max_i |a_i / A - b_i / B|`` for totals A, B, and the first index attaining it."""
    a_total = 0.0
    b_total = 0.0
    for i in range(a.size):
        a_total += a[i]
        b_total += b[i]
    best = -1.0
    where = 0
    for i in range(a.size):
        d = abs(a[i] / a_total - b[i] / b_total)
        if d > best:
            best = d
            where = i
    return best, where


@njit(cache=True, nogil=True)
def js_counts(a, b):
    """Jensen-Shannon distance in bits between the normalised ``a`` and ``b``.

    Returns ``sqrt((KL(p || m) + KL(q || m)) / (2 ln 2))`` with ``m = (p + q) / 2``, in [0, 1].
    Terms with ``p_i = 0`` contribute zero, as in ``scipy.special.rel_entr``; a sum that rounds
    below zero (nearly equal histograms) is clipped to zero.
    """
    a_total = 0.0
    b_total = 0.0
    for i in range(a.size):
        a_total += a[i]
        b_total += b[i]
    left = 0.0
    right = 0.0
    for i in range(a.size):
        p = a[i] / a_total
        q = b[i] / b_total
        mid = (p + q) / 2.0
        if p > 0.0:
            left += p * math.log(p / mid)
        if q > 0.0:
            right += q * math.log(q / mid)
    js = (left + right) / math.log(2.0)
    return math.sqrt(max(js / 2.0, 0.0))
