"""Mergeable window summaries: counts on bins fixed by the reference.

Two summaries built on the same bins add up to the summary of the concatenated windows, so
consumers that each see part of a stream can ship their histograms to one place and merge them.
"""

from __future__ import annotations

from typing import Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validate import as_float_array, as_int_array, positive_int
from .binning import check_edges, count_padded, pad_edges
from .categories import count_codes
from .errors import DetectorInputError, IncompatibleSummaryError

__all__ = ["CategoryHistogram", "Histogram"]


class _Counts:
    """Shared bookkeeping: an int64 count vector that only grows."""

    __slots__ = ("_counts",)

    def __init__(self, counts: NDArray[np.int64]) -> None:
        self._counts = counts

    @property
    def counts(self) -> NDArray[np.int64]:
        """Count per bin (a copy)."""
        return self._counts.copy()

    @property
    def n(self) -> int:
        """Number of values summarised."""
        return int(self._counts.sum())

    def proportions(self) -> NDArray[np.float64]:
        """Counts divided by their total (all NaN when the histogram is empty)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._counts / self._counts.sum()

    def _check_counts(self, counts: ArrayLike | None, size: int) -> NDArray[np.int64]:
        if counts is None:
            return np.zeros(size, dtype=np.int64)
        out = as_int_array(counts, "counts").copy()
        if out.size != size:
            raise DetectorInputError(f"counts must have {size} entries, got {out.size}")
        if (out < 0).any():
            raise DetectorInputError("counts must not be negative")
        return out


class Histogram(_Counts):
    """Counts of numeric values on fixed interior edges (see :func:`detectors.bin_counts`).

    Parameters
    ----------
    edges : array_like
        Strictly increasing finite interior edges; ``len(edges) + 1`` bins.
    counts : array_like of int, optional
        Initial counts (zeros by default).

    Examples
    --------
    >>> h = Histogram([0.0, 1.0]).update([-1.0, 0.5, 0.7])
    >>> g = Histogram([0.0, 1.0]).update([2.0])
    >>> (h + g).counts, (h + g).n
    (array([1, 2, 1]), 4)
    """

    __slots__ = ("_edges", "_padded")

    def __init__(self, edges: ArrayLike, counts: ArrayLike | None = None) -> None:
        checked = check_edges(edges)
        checked.flags.writeable = False
        self._edges = checked
        self._padded = pad_edges(checked)
        super().__init__(self._check_counts(counts, checked.size + 1))

    @property
    def edges(self) -> NDArray[np.float64]:
        """The interior edges (read-only)."""
        return self._edges

    @property
    def n_bins(self) -> int:
        """Number of bins, ``len(edges) + 1``."""
        return self._edges.size + 1

    def update(self, values: ArrayLike) -> Self:
        """Add ``values`` (1-D, no NaN) to the counts in place; returns ``self``."""
        vals = as_float_array(values, "values", allow_empty=True)
        self._counts += count_padded(vals, self._padded, self.n_bins)
        return self

    def merge(self, other: Histogram) -> Histogram:
        """New histogram holding the counts of both; the edges must be identical."""
        if not isinstance(other, Histogram):
            raise IncompatibleSummaryError(f"cannot merge Histogram with {type(other).__name__}")
        if not np.array_equal(self._edges, other._edges):
            raise IncompatibleSummaryError("cannot merge histograms with different edges")
        return Histogram(self._edges, self._counts + other._counts)

    __add__ = merge

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Histogram):
            return NotImplemented
        return np.array_equal(self._edges, other._edges) and np.array_equal(
            self._counts, other._counts
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Histogram(n_bins={self.n_bins}, n={self.n})"


class CategoryHistogram(_Counts):
    """Counts of category codes ``0..n_categories-1`` (see :class:`detectors.CategoricalEncoder`).

    Parameters
    ----------
    n_categories : int
        Number of codes, the other bin included.
    counts : array_like of int, optional
        Initial counts (zeros by default).

    Examples
    --------
    >>> h = CategoryHistogram(3).update([0, 2, 2])
    >>> (h + CategoryHistogram(3).update([1])).counts
    array([1, 1, 2])
    """

    __slots__ = ()

    def __init__(self, n_categories: int, counts: ArrayLike | None = None) -> None:
        size = positive_int(n_categories, "n_categories")
        super().__init__(self._check_counts(counts, size))

    @property
    def n_categories(self) -> int:
        """Number of codes, the other bin included."""
        return self._counts.size

    def update(self, codes: ArrayLike) -> Self:
        """Add ``codes`` (1-D ints in range) to the counts in place; returns ``self``."""
        arr = as_int_array(codes, "codes", allow_empty=True)
        self._counts += count_codes(arr, self.n_categories)
        return self

    def merge(self, other: CategoryHistogram) -> CategoryHistogram:
        """New histogram holding the counts of both; the category count must match."""
        if not isinstance(other, CategoryHistogram):
            raise IncompatibleSummaryError(
                f"cannot merge CategoryHistogram with {type(other).__name__}"
            )
        if other.n_categories != self.n_categories:
            raise IncompatibleSummaryError(
                f"cannot merge histograms of {self.n_categories} and {other.n_categories} codes"
            )
        return CategoryHistogram(self.n_categories, self._counts + other._counts)

    __add__ = merge

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CategoryHistogram):
            return NotImplemented
        return np.array_equal(self._counts, other._counts)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"CategoryHistogram(n_categories={self.n_categories}, n={self.n})"
