"""Shared shape of the detectors that compare histograms: reference counts on fixed bins.

A subclass sets ``name`` and implements ``_score_counts(counts) -> Score``; this module handles
construction from a reference sample or from reference counts, window binning and summaries.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validate import as_counts, as_float_array, as_int_array, positive_int, read_only
from .base import CATEGORICAL, NUMERIC, Kind, Score
from .binning import bin_counts, check_edges, count_padded, pad_edges, quantile_edges
from .categories import Category, count_codes
from .errors import DetectorInputError, IncompatibleSummaryError
from .histogram import CategoryHistogram, Histogram


class BinnedDetector(ABC):
    """A numeric detector scored on the reference's quantile bins."""

    name: ClassVar[str]
    kind: ClassVar[Kind] = NUMERIC
    __slots__ = ("_edges", "_padded", "_reference_counts")

    def _fit(self, reference: ArrayLike, n_bins: int) -> None:
        edges = quantile_edges(reference, n_bins)
        self._set_bins(edges, bin_counts(reference, edges))

    def _set_bins(self, edges: ArrayLike, reference_counts: ArrayLike) -> None:
        checked = check_edges(edges)
        counts = as_counts(reference_counts, "reference_counts")
        if counts.size != checked.size + 1:
            raise DetectorInputError(
                f"reference_counts must have len(edges) + 1 = {checked.size + 1} entries, "
                f"got {counts.size}"
            )
        self._edges = read_only(checked.copy())
        self._padded = pad_edges(checked)
        self._reference_counts = read_only(counts.copy())

    @property
    def edges(self) -> NDArray[np.float64]:
        """Interior bin edges (read-only)."""
        return self._edges

    @property
    def reference_counts(self) -> NDArray[np.int64]:
        """Reference count per bin (read-only)."""
        return self._reference_counts

    def summary(self) -> Histogram:
        """An empty :class:`Histogram` on this detector's bins, to fill and merge."""
        return Histogram(self._edges)

    def score(self, window: np.ndarray) -> Score:
        """Statistic of ``window`` (1-D, non-empty, no NaN) against the reference."""
        values = as_float_array(window, "window")
        counts = count_padded(values, self._padded, self._edges.size + 1)
        return self._score_counts(counts)

    def score_summary(self, summary: Histogram) -> Score:
        """Statistic of a window summarised by a :class:`Histogram` on the same edges."""
        if not isinstance(summary, Histogram) or not np.array_equal(summary.edges, self._edges):
            raise IncompatibleSummaryError("summary must be a Histogram on the detector's edges")
        counts = summary.counts
        if counts.sum() == 0:
            raise DetectorInputError("summary must not be empty")
        return self._score_counts(counts)

    @abstractmethod
    def _score_counts(self, counts: NDArray[np.int64]) -> Score:
        """Statistic of window counts on this detector's bins."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_bins={self._edges.size + 1})"


class CategoricalDetector(ABC):
    """A categorical detector: reference counts per code, other bin last."""

    name: ClassVar[str]
    kind: ClassVar[Kind] = CATEGORICAL
    __slots__ = ("_labels", "_reference_counts")

    def _fit(
        self,
        reference_codes: ArrayLike,
        n_categories: int,
        labels: Sequence[Category] | None,
    ) -> None:
        codes = as_int_array(reference_codes, "reference_codes")
        counts = count_codes(codes, positive_int(n_categories, "n_categories"))
        self._set_counts(counts, labels)

    def _set_counts(self, reference_counts: ArrayLike, labels: Sequence[Category] | None) -> None:
        counts = as_counts(reference_counts, "reference_counts")
        if labels is not None and len(labels) != counts.size:
            raise DetectorInputError(
                f"labels must have one entry per category ({counts.size}), got {len(labels)}"
            )
        self._reference_counts = read_only(counts.copy())
        self._labels: tuple[Category, ...] | None = None if labels is None else tuple(labels)

    @property
    def n_categories(self) -> int:
        """Number of codes, the other bin included."""
        return self._reference_counts.size

    @property
    def reference_counts(self) -> NDArray[np.int64]:
        """Reference count per code (read-only)."""
        return self._reference_counts

    @property
    def labels(self) -> tuple[Category, ...] | None:
        """Category label per code, when given."""
        return self._labels

    def summary(self) -> CategoryHistogram:
        """An empty :class:`CategoryHistogram` with this detector's codes, to fill and merge."""
        return CategoryHistogram(self.n_categories)

    def score(self, window: np.ndarray) -> Score:
        """Statistic of a window of codes (1-D, non-empty, in range) against the reference."""
        codes = as_int_array(window, "window")
        return self._score_counts(count_codes(codes, self.n_categories))

    def score_summary(self, summary: CategoryHistogram) -> Score:
        """Statistic of a window summarised by a :class:`CategoryHistogram`."""
        if not isinstance(summary, CategoryHistogram) or summary.n_categories != self.n_categories:
            raise IncompatibleSummaryError(
                f"summary must be a CategoryHistogram of {self.n_categories} codes"
            )
        counts = summary.counts
        if counts.sum() == 0:
            raise DetectorInputError("summary must not be empty")
        return self._score_counts(counts)

    def _label(self, code: int) -> Category | None:
        return None if self._labels is None else self._labels[code]

    @abstractmethod
    def _score_counts(self, counts: NDArray[np.int64]) -> Score:
        """Statistic of window counts per code."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_categories={self.n_categories})"
