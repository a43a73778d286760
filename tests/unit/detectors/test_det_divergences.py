"""PSI, L-infinity, Jensen-Shannon and Wasserstein against numpy / scipy twins."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from detectors import (
    DetectorInputError,
    Wasserstein,
    js_distance,
    linf_distance,
    psi,
    reference_scale,
    wasserstein_distance,
)

counts = st.integers(1, 30).flatmap(
    lambda k: st.tuples(
        hnp.arrays(np.int64, k, elements=st.integers(0, 1000)).filter(lambda a: a.sum() > 0),
        hnp.arrays(np.int64, k, elements=st.integers(0, 1000)).filter(lambda a: a.sum() > 0),
    )
)


@settings(max_examples=60, deadline=None)
@given(counts, st.sampled_from([0.5, 1.0, 1e-3]))
def test_psi_matches_twin(
    naive: ModuleType, pair: tuple[np.ndarray, np.ndarray], alpha: float
) -> None:
    a, b = pair
    assert psi(a, b, alpha) == pytest.approx(naive.psi(a, b, alpha), rel=1e-9, abs=1e-12)
    assert psi(a, b, alpha) >= 0.0


def test_psi_smoothing_keeps_empty_bins_finite() -> None:
    value = psi([100, 0], [0, 100])
    assert np.isfinite(value)
    assert value == pytest.approx(2 * (100.5 / 101 - 0.5 / 101) * np.log(100.5 / 0.5))


@settings(max_examples=60, deadline=None)
@given(counts)
def test_linf_matches_twin(naive: ModuleType, pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    res = linf_distance(a, b)
    distance, _ = naive.linf(a, b)
    assert res.distance == pytest.approx(distance, abs=1e-15)
    # On exact ties any maximising index is fine; it must attain the maximum.
    assert abs(a[res.index] / a.sum() - b[res.index] / b.sum()) == pytest.approx(
        distance, abs=1e-15
    )
    assert res.label is None


def test_linf_reports_label_and_unseen_category() -> None:
    labels = ["a", "b", "<other>"]
    res = linf_distance([50, 50, 0], [30, 30, 40], labels=labels)
    assert (res.index, res.label) == (2, "<other>")
    assert res.distance == pytest.approx(0.4)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 30).flatmap(
        lambda k: st.tuples(
            hnp.arrays(np.float64, k, elements=st.floats(0, 1e3)).filter(lambda a: a.sum() > 0),
            hnp.arrays(np.float64, k, elements=st.floats(0, 1e3)).filter(lambda a: a.sum() > 0),
        )
    )
)
def test_js_matches_scipy(naive: ModuleType, pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    expected = naive.js(a, b)
    got = js_distance(a, b)
    assert 0.0 <= got <= 1.0
    if np.isnan(expected):  # scipy takes sqrt of a sum that rounded below zero
        assert got == pytest.approx(0.0, abs=1e-7)
    else:
        # Near-equal histograms lose digits to cancellation in both implementations.
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-7)


def test_js_extremes() -> None:
    assert js_distance([3, 0, 0], [0, 1, 2]) == 1.0
    assert js_distance([1, 2, 3], [2, 4, 6]) == 0.0


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(1, 200), elements=st.floats(-1e3, 1e3)),
    hnp.arrays(np.float64, st.integers(1, 200), elements=st.integers(-20, 20).map(float)),
)
def test_wasserstein_matches_scipy(naive: ModuleType, u: np.ndarray, v: np.ndarray) -> None:
    assert wasserstein_distance(u, v) == pytest.approx(
        naive.wasserstein(u, v), rel=1e-12, abs=1e-12
    )
    assert wasserstein_distance(v, u) == pytest.approx(
        naive.wasserstein(v, u), rel=1e-12, abs=1e-12
    )


def test_wasserstein_detector_reports_raw_and_normalised(naive: ModuleType) -> None:
    gen = np.random.default_rng(5)
    reference = gen.normal(size=4_000)
    window = gen.normal(0.5, size=1_000)
    det = Wasserstein(reference)
    res = det.test(window)
    assert res.distance == pytest.approx(naive.wasserstein(reference, window), rel=1e-12)
    assert res.scale == pytest.approx(np.subtract(*np.quantile(reference, [0.75, 0.25])))
    assert res.normalized == pytest.approx(res.distance / res.scale)
    assert Wasserstein(reference, scale=2.0).test(window).normalized == pytest.approx(
        res.distance / 2
    )


def test_reference_scale_falls_back_to_std_then_fails() -> None:
    mostly_zero = np.array([0.0] * 90 + [1.0] * 10)
    assert reference_scale(mostly_zero) == pytest.approx(mostly_zero.std())
    with pytest.raises(DetectorInputError, match="pass scale explicitly"):
        reference_scale(np.ones(5))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: psi([1, 2], [1, 2, 3]), "same length"),
        (lambda: psi([0, 0], [1, 2]), "reference_counts must have a positive total"),
        (lambda: psi([1, -2], [1, 2]), "reference_counts must be finite and non-negative"),
        (lambda: psi([1, 2], [1, 2], smoothing=0.0), "smoothing must be positive"),
        (lambda: linf_distance([1, 2], [1, 2], labels=["a"]), "labels must have one entry"),
        (lambda: js_distance([1.0, np.nan], [1.0, 2.0]), "p must be finite"),
        (lambda: wasserstein_distance([1.0, np.inf], [1.0]), "u must be finite"),
        (lambda: Wasserstein([1.0, 2.0], scale=-1.0), "scale must be positive"),
        (lambda: Wasserstein([1.0, 2.0]).test([]), "window must not be empty"),
    ],
)
def test_bad_input_is_rejected(call: object, match: str) -> None:
    with pytest.raises(DetectorInputError, match=match):
        call()  # type: ignore[operator]
