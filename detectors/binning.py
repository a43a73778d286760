"""Fixed bins for numeric features: edges from reference quantiles, and counts on those edges."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._binning_kernels import SMALL_BINS, SMALL_EDGES, bin_counts_large, bin_counts_small
from ._validate import as_finite_sample, as_float_array, positive_int
from .errors import DetectorInputError

__all__ = ["bin_counts", "quantile_edges"]


def quantile_edges(reference: ArrayLike, n_bins: int = 10) -> NDArray[np.float64]:
    """Interior bin edges at the reference quantiles ``1/n_bins, ..., (n_bins-1)/n_bins``.

    Parameters
    ----------
    reference : array_like
        1-D finite reference sample.
    n_bins : int, default 10
        Number of bins wanted; fewer come back when the data has ties (see Notes).

    Returns
    -------
    ndarray of float64
        Strictly increasing interior edges, at most ``n_bins - 1`` of them. Bin 0 is
        ``(-inf, edges[0])``, bin k is ``[edges[k-1], edges[k])`` and the last bin is
        ``[edges[-1], inf)``, so every real value has a bin.

    Raises
    ------
    DetectorInputError
        If ``reference`` is empty or not finite, or ``n_bins < 1``.

    Notes
    -----
    Each edge is a reference value: the sorted sample at position ``ceil((N-1) k / n_bins)``
    (numpy's ``higher`` quantile method, the data point at or above the linear quantile). With
    ties or discrete data several quantiles coincide; duplicates are merged, and an edge equal
    to the reference minimum is dropped. Every bin then starts at a reference value (or below
    the minimum), so no bin is empty in the reference, and discrete data gets one bin per
    frequent value. A constant reference gets a single bin.

    Examples
    --------
    >>> quantile_edges([1.0, 2.0, 3.0, 4.0, 5.0], n_bins=4)
    array([2., 3., 4.])
    >>> quantile_edges([0, 0, 0, 0, 1, 1, 2, 3], n_bins=4)
    array([1., 2.])
    """
    ref = as_finite_sample(reference, "reference")
    n_bins = positive_int(n_bins, "n_bins")
    qs = np.quantile(ref, np.arange(1, n_bins) / n_bins, method="higher")
    edges = np.unique(qs)
    return np.ascontiguousarray(edges[edges > ref.min()])


def check_edges(edges: ArrayLike) -> NDArray[np.float64]:
    """Validate interior edges: 1-D, finite, strictly increasing (an empty array is one bin)."""
    out = as_float_array(edges, "edges", allow_empty=True)
    if not np.isfinite(out).all():
        raise DetectorInputError("edges must be finite")
    if out.size > 1 and not (np.diff(out) > 0).all():
        raise DetectorInputError("edges must be strictly increasing")
    return out


def bin_counts(values: ArrayLike, edges: ArrayLike) -> NDArray[np.int64]:
    """Count values per bin of the given interior edges.

    Parameters
    ----------
    values : array_like
        1-D real values; ``-inf``/``inf`` land in the outer bins. May be empty.
    edges : array_like
        Strictly increasing finite interior edges, e.g. from :func:`quantile_edges`.

    Returns
    -------
    ndarray of int64, length ``len(edges) + 1``
        Bin 0 counts ``v < edges[0]``, bin k counts ``edges[k-1] <= v < edges[k]``, the last
        bin counts ``v >= edges[-1]``: values outside the reference range fall in the outer bins.
        This is ``np.bincount(np.searchsorted(edges, values, side="right"))``.

    Raises
    ------
    DetectorInputError
        If ``values`` contains NaN (NaN is rejected, not binned: a missing value is a data
        quality problem to count upstream, not evidence about the distribution).

    Examples
    --------
    >>> bin_counts([-5.0, 0.0, 0.5, 1.0, 7.0], edges=[0.0, 1.0])
    array([1, 2, 2])
    """
    vals = as_float_array(values, "values", allow_empty=True)
    checked = check_edges(edges)
    return count_padded(vals, pad_edges(checked), checked.size + 1)


def pad_edges(edges: NDArray[np.float64]) -> NDArray[np.float64]:
    """Edges padded with +inf to the length the binning kernel for this many bins expects."""
    n_bins = edges.size + 1
    width = SMALL_BINS if n_bins <= SMALL_BINS else 1 << int(np.ceil(np.log2(n_bins)))
    padded = np.full(width - 1, np.inf)
    padded[: edges.size] = edges
    return padded


def count_padded(
    values: NDArray[np.float64], padded: NDArray[np.float64], n_bins: int
) -> NDArray[np.int64]:
    """Counts of float64 ``values`` on edges prepared by :func:`pad_edges`; rejects NaN."""
    kernel = bin_counts_small if padded.size == SMALL_EDGES else bin_counts_large
    counts, n_nan = kernel(values, padded, n_bins)
    if n_nan:
        raise DetectorInputError(f"values contains NaN ({n_nan} of {values.size})")
    return counts
