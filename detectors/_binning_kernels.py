"""Numba kernels that turn raw values into histogram counts.

Arrays in, ``(counts, n_rejected)`` out: the kernels never raise, the public wrappers in
:mod:`detectors.binning` and :mod:`detectors.categories` turn a non-zero rejection count into an
error, so a histogram is never half-updated.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Up to this many bins, the bin of a value is found by four unrolled compare-and-step rounds
# over edges padded to 15 with +inf: no branches and no loop, several times faster than a
# generic binary search.
SMALL_BINS = 16
SMALL_EDGES = SMALL_BINS - 1
# Values are binned in chunks so that the search over all values of a chunk (vectorisable,
# independent per value) runs before the scatter into the counts.
_CHUNK = 1024


@njit(cache=True, nogil=True)
def bin_counts_small(values, padded, n_bins):
    """Counts of ``values`` in ``n_bins <= 16`` bins.

    Parameters
    ----------
    values : float64[N]
    padded : float64[15]
        The ``n_bins - 1`` interior edges, increasing, followed by +inf.
    n_bins : int

    Returns
    -------
    counts : int64[n_bins]
        Bin b holds ``edges[b-1] <= v < edges[b]``; the outer bins are unbounded.
    n_nan : int

    Notes
    -----
    Four independent sub-histograms, summed at the end, keep consecutive values that fall in the
    same bin from waiting on each other's increment.
    """
    counts = np.zeros((4, SMALL_BINS), np.int64)
    n_nan = 0
    last = n_bins - 1
    for i in range(values.size):
        v = values[i]
        b = np.int64(padded[7] <= v) * 8
        b += np.int64(padded[b + 3] <= v) * 4
        b += np.int64(padded[b + 1] <= v) * 2
        b += np.int64(padded[b] <= v)
        # +inf passes the +inf padding too; it belongs in the last real bin.
        counts[i & 3, min(b, last)] += 1
        n_nan += np.isnan(v)
    return counts.sum(axis=0)[:n_bins], n_nan


@njit(cache=True, nogil=True)
def bin_counts_large(values, padded, n_bins):
    """Counts of ``values`` in any number of bins (see ``bin_counts_small``).

    ``padded`` holds the interior edges followed by +inf up to a length ``2**k - 1``.
    """
    counts = np.zeros((4, n_bins), np.int64)
    idx = np.empty(_CHUNK, np.int64)
    half = (padded.size + 1) >> 1
    last = n_bins - 1
    n_nan = 0
    for start in range(0, values.size, _CHUNK):
        size = min(_CHUNK, values.size - start)
        idx[:size] = 0
        step = half
        while step > 0:
            for t in range(size):
                b = idx[t]
                idx[t] = b + step * np.int64(padded[b + step - 1] <= values[start + t])
            step >>= 1
        for t in range(size):
            v = values[start + t]
            n_nan += np.isnan(v)
            counts[t & 3, min(idx[t], last)] += 1
    return counts.sum(axis=0), n_nan


@njit(cache=True, nogil=True)
def code_counts(codes, n_categories):
    """Counts of integer ``codes`` in ``[0, n_categories)``.

    Returns
    -------
    counts : int64[n_categories]
    n_invalid : int
        Codes outside the range (not counted).
    """
    counts = np.zeros((4, n_categories), np.int64)
    n_invalid = 0
    for i in range(codes.size):
        c = codes[i]
        if 0 <= c < n_categories:
            counts[i & 3, c] += 1
        else:
            n_invalid += 1
    return counts.sum(axis=0), n_invalid
