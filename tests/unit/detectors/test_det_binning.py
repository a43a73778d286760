"""Quantile edges and bin counts against numpy twins."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from detectors import DetectorInputError, DetectorTypeError, bin_counts, quantile_edges

finite = st.floats(-1e9, 1e9, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 300), elements=finite), st.integers(1, 40))
def test_quantile_edges_match_twin(naive: ModuleType, ref: np.ndarray, n_bins: int) -> None:
    edges = quantile_edges(ref, n_bins)
    np.testing.assert_array_equal(edges, naive.quantile_edges(ref, n_bins))
    assert edges.size <= n_bins - 1
    assert np.all(np.diff(edges) > 0)
    assert np.all(np.isin(edges, ref))
    assert np.all(edges > ref.min())
    assert np.all(bin_counts(ref, edges) > 0)


def test_quantile_edges_discrete_and_constant() -> None:
    # Ten quantiles of 70% zeros collapse; the edge at the minimum is dropped.
    ref = np.array([0.0] * 70 + [1.0] * 20 + [2.0] * 10)
    np.testing.assert_array_equal(quantile_edges(ref, 10), [1.0, 2.0])
    assert np.all(bin_counts(ref, quantile_edges(ref, 10)) == [70, 20, 10])
    assert quantile_edges(np.full(10, 3.0), 5).size == 0


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.integers(0, 500),
        elements=st.floats(allow_nan=False, allow_infinity=True, width=64),
    ),
    hnp.arrays(np.float64, st.integers(0, 40), elements=finite, unique=True),
)
def test_bin_counts_match_twin(naive: ModuleType, values: np.ndarray, edges: np.ndarray) -> None:
    edges = np.sort(edges)
    counts = bin_counts(values, edges)
    np.testing.assert_array_equal(counts, naive.bin_counts(values, edges))
    assert counts.dtype == np.int64


@pytest.mark.parametrize("n_edges", [0, 1, 14, 15, 16, 31, 32, 200])
def test_bin_counts_small_and_large_kernels(naive: ModuleType, n_edges: int) -> None:
    gen = np.random.default_rng(n_edges)
    values = np.concatenate([gen.normal(size=5_000), [-np.inf, np.inf, 0.0]])
    edges = np.sort(gen.normal(size=n_edges))
    values = np.concatenate([values, edges])  # values exactly on an edge go to the upper bin
    np.testing.assert_array_equal(bin_counts(values, edges), naive.bin_counts(values, edges))


@pytest.mark.parametrize(
    ("values", "edges", "error", "match"),
    [
        ([1.0, np.nan], [0.0], DetectorInputError, "values contains NaN"),
        ([1.0], [1.0, 0.0], DetectorInputError, "edges must be strictly increasing"),
        ([1.0], [0.0, 0.0], DetectorInputError, "edges must be strictly increasing"),
        ([1.0], [0.0, np.inf], DetectorInputError, "edges must be finite"),
        ([[1.0]], [0.0], DetectorInputError, "values must be 1-D"),
        (["x"], [0.0], DetectorTypeError, "values must hold real numbers"),
    ],
)
def test_bin_counts_rejects_bad_input(
    values: object, edges: object, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        bin_counts(values, edges)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reference", "n_bins", "match"),
    [
        ([], 10, "reference must not be empty"),
        ([1.0, np.inf], 10, "reference must be finite"),
        ([1.0, np.nan], 10, "reference must be finite"),
        ([1.0, 2.0], 0, "n_bins must be at least 1"),
    ],
)
def test_quantile_edges_rejects_bad_input(reference: list[float], n_bins: int, match: str) -> None:
    with pytest.raises(DetectorInputError, match=match):
        quantile_edges(reference, n_bins)


def test_quantile_edges_rejects_non_int_bins() -> None:
    with pytest.raises(DetectorTypeError, match="n_bins must be an int"):
        quantile_edges([1.0, 2.0], 2.5)  # type: ignore[arg-type]
