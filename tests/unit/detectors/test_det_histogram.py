"""Mergeable histograms: merge equals the histogram of the concatenation."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from detectors import (
    CategoryHistogram,
    DetectorInputError,
    Histogram,
    IncompatibleSummaryError,
    bin_counts,
)

values = hnp.arrays(np.float64, st.integers(0, 300), elements=st.floats(-100, 100))
EDGES = np.array([-10.0, -1.0, 0.0, 0.5, 3.0, 50.0])


@settings(max_examples=60, deadline=None)
@given(values, values, values)
def test_merge_equals_histogram_of_concatenation(
    a: np.ndarray, b: np.ndarray, c: np.ndarray
) -> None:
    merged = Histogram(EDGES).update(a) + Histogram(EDGES).update(b) + Histogram(EDGES).update(c)
    whole = Histogram(EDGES).update(np.concatenate([a, b, c]))
    assert merged == whole
    assert merged.n == a.size + b.size + c.size
    np.testing.assert_array_equal(merged.counts, bin_counts(np.concatenate([a, b, c]), EDGES))


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.int64, st.integers(0, 200), elements=st.integers(0, 6)),
    hnp.arrays(np.int64, st.integers(0, 200), elements=st.integers(0, 6)),
)
def test_category_merge_equals_concatenation(a: np.ndarray, b: np.ndarray) -> None:
    merged = CategoryHistogram(7).update(a).merge(CategoryHistogram(7).update(b))
    assert merged == CategoryHistogram(7).update(np.concatenate([a, b]))


def test_update_is_in_place_and_counts_is_a_copy() -> None:
    h = Histogram([0.0])
    assert h.update([-1.0, 1.0, 2.0]) is h
    counts = h.counts
    counts[:] = 0
    np.testing.assert_array_equal(h.counts, [1, 2])
    np.testing.assert_allclose(h.proportions(), [1 / 3, 2 / 3])


def test_failed_update_leaves_counts_unchanged() -> None:
    h = Histogram([0.0]).update([1.0])
    with pytest.raises(DetectorInputError, match="NaN"):
        h.update([2.0, np.nan])
    c = CategoryHistogram(2).update([0])
    with pytest.raises(DetectorInputError, match="codes must lie"):
        c.update([1, 5])
    assert h.n == 1
    assert c.n == 1


def test_incompatible_merges_are_rejected() -> None:
    with pytest.raises(IncompatibleSummaryError, match="different edges"):
        Histogram([0.0]) + Histogram([1.0])
    with pytest.raises(IncompatibleSummaryError, match="3 and 4 codes"):
        CategoryHistogram(3) + CategoryHistogram(4)
    with pytest.raises(IncompatibleSummaryError, match="cannot merge"):
        Histogram([0.0]).merge(CategoryHistogram(2))  # type: ignore[arg-type]


def test_initial_counts_are_checked() -> None:
    with pytest.raises(DetectorInputError, match="counts must have 3 entries"):
        Histogram([0.0, 1.0], counts=[1, 2])
    with pytest.raises(DetectorInputError, match="must not be negative"):
        CategoryHistogram(2, counts=[1, -1])


def test_pickle_round_trip() -> None:
    h = Histogram(EDGES).update(np.linspace(-20, 60, 99))
    c = CategoryHistogram(4).update([0, 3, 3])
    assert pickle.loads(pickle.dumps(h)) == h
    assert pickle.loads(pickle.dumps(c)) == c
