"""KS test parity with scipy.stats.ks_2samp, the Kolmogorov tail, and input errors."""

from __future__ import annotations

import warnings
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from detectors import DetectorInputError, DetectorTypeError, KSReference, ks_2samp
from detectors._kolmogorov import kolmogorov_sf

STAT_ATOL = 1e-12
P_RTOL = 1e-9


def assert_matches_scipy(naive: ModuleType, x: np.ndarray, y: np.ndarray) -> None:
    with warnings.catch_warnings():
        # scipy warns when its exact computation falls back to the asymptotic one.
        warnings.simplefilter("ignore", RuntimeWarning)
        stat, pvalue = naive.ks_2samp(x, y)
    res = ks_2samp(x, y)
    assert res.statistic == pytest.approx(stat, abs=STAT_ATOL)
    assert res.pvalue == pytest.approx(pvalue, rel=P_RTOL, abs=1e-300)


rng = np.random.default_rng(20240607)

CASES = [
    # (name, x, y), one line per situation the kernel must get right
    ("n=m=1", np.array([0.0]), np.array([1.0])),
    ("n=1 equal values", np.array([3.0]), np.array([3.0])),
    ("n=2, m=1", np.array([0.0, 2.0]), np.array([1.0])),
    ("n=m=2 interleaved", np.array([0.0, 2.0]), np.array([1.0, 3.0])),
    ("identical samples", np.arange(50.0), np.arange(50.0)),
    ("identical, shuffled", rng.normal(size=300), None),
    ("all ties in both", np.zeros(20), np.zeros(35)),
    ("discrete, few values", rng.integers(0, 4, 200).astype(float), rng.integers(0, 5, 150) * 1.0),
    ("disjoint supports", np.arange(10.0), np.arange(10.0) + 100),
    ("unequal sizes, exact", rng.normal(size=37), rng.normal(0.3, size=91)),
    ("equal sizes, exact", rng.normal(size=500), rng.normal(0.1, size=500)),
    ("exact limit 10000", rng.normal(size=10_000), rng.normal(size=9_999)),
    ("just past exact limit", rng.normal(size=10_001), rng.normal(size=300)),
    ("asymptotic, tiny en", rng.normal(size=20_000), rng.normal(size=3)),
    ("asymptotic, en <= 140", rng.normal(size=20_000), rng.normal(0.2, size=100)),
    ("asymptotic, Pelz-Good", rng.normal(size=50_000), rng.normal(size=40_000)),
    ("asymptotic, Smirnov tail", rng.normal(size=30_000), rng.normal(0.05, size=30_000)),
    ("asymptotic, far tail", rng.normal(size=30_000), rng.normal(1.0, size=30_000)),
    (
        "large n, rounded ties",
        np.round(rng.normal(size=200_000), 2),
        np.round(rng.normal(size=150_000), 2),
    ),
    ("D = 1/n, exact falls back", np.arange(7.0), np.arange(7.0) + 0.5),
    ("infinite values", np.array([-np.inf, 0.0, 1.0, np.inf]), np.array([0.5, np.inf, np.inf])),
    ("much larger reference", rng.normal(size=300_000), rng.normal(size=2_000)),
    ("much larger window", rng.normal(size=500), rng.normal(size=60_000)),
]


@pytest.mark.parametrize(("name", "x", "y"), CASES, ids=[c[0] for c in CASES])
def test_ks_2samp_matches_scipy(
    naive: ModuleType, name: str, x: np.ndarray, y: np.ndarray | None
) -> None:
    if y is None:
        y = rng.permutation(x)
    assert_matches_scipy(naive, x, y)
    assert_matches_scipy(naive, y, x)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(1, 120), elements=st.integers(-6, 6).map(float)),
    hnp.arrays(np.float64, st.integers(1, 120), elements=st.integers(-6, 6).map(float)),
)
def test_ks_2samp_matches_scipy_with_ties(naive: ModuleType, x: np.ndarray, y: np.ndarray) -> None:
    assert_matches_scipy(naive, x, y)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(1, 400), elements=st.floats(-1e6, 1e6)),
    hnp.arrays(np.float64, st.integers(1, 400), elements=st.floats(-1e6, 1e6)),
)
def test_ks_2samp_matches_scipy_continuous(naive: ModuleType, x: np.ndarray, y: np.ndarray) -> None:
    assert_matches_scipy(naive, x, y)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.integers(10_001, 30_000))
def test_ks_2samp_matches_scipy_asymptotic(naive: ModuleType, seed: int, m: int, n: int) -> None:
    gen = np.random.default_rng(seed)
    x = gen.normal(size=n)
    y = gen.normal(gen.uniform(-0.5, 0.5), size=m * 50)
    assert_matches_scipy(naive, x, y)


def test_statistic_matches_brute_force(naive: ModuleType) -> None:
    gen = np.random.default_rng(3)
    for _ in range(50):
        x = np.round(gen.normal(size=int(gen.integers(1, 3000))), 1)
        y = np.round(gen.normal(0.1, size=int(gen.integers(1, 3000))), 1)
        assert ks_2samp(x, y).statistic == pytest.approx(naive.ks_statistic(x, y), abs=1e-12)


def test_reference_test_equals_function() -> None:
    gen = np.random.default_rng(4)
    reference = gen.normal(size=5_000)
    ks = KSReference(reference)
    for size in (1, 2, 50, 5_000, 20_000):
        window = gen.normal(0.05, size=size)
        assert ks.test(window) == ks_2samp(reference, window)
    assert np.array_equal(ks.reference, np.sort(reference))
    assert not ks.reference.flags.writeable


def test_method_follows_scipy_auto_rule() -> None:
    assert ks_2samp(np.arange(10_000.0), np.arange(5.0)).method == "exact"
    assert ks_2samp(np.arange(10_001.0), np.arange(5.0)).method == "asymp"


def test_integer_and_list_inputs() -> None:
    assert ks_2samp([1, 2, 3], [2, 3, 4]) == ks_2samp([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])


@pytest.mark.parametrize(
    ("x", "y", "error", "match"),
    [
        ([], [1.0], DetectorInputError, "x must not be empty"),
        ([1.0], [], DetectorInputError, "y must not be empty"),
        ([1.0, np.nan], [1.0], DetectorInputError, "x contains NaN"),
        ([1.0], [np.nan], DetectorInputError, "y contains NaN"),
        ([[1.0, 2.0]], [1.0], DetectorInputError, "x must be 1-D"),
        (["a", "b"], [1.0], DetectorTypeError, "x must hold real numbers"),
        ([1.0], [1 + 2j], DetectorTypeError, "y must hold real numbers"),
    ],
)
def test_ks_2samp_rejects_bad_input(x: object, y: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        ks_2samp(x, y)  # type: ignore[arg-type]


def test_reference_rejects_bad_input() -> None:
    with pytest.raises(DetectorInputError, match="reference must not be empty"):
        KSReference([])
    ks = KSReference([1.0, 2.0])
    with pytest.raises(DetectorInputError, match="window contains NaN"):
        ks.test([0.5, np.nan])
    with pytest.raises(ValueError, match="window must not be empty"):
        ks.score(np.array([]))


@pytest.mark.parametrize("n", [1, 2, 3, 7, 50, 139, 140, 141, 1_000, 99_999, 100_001, 10**6])
def test_kolmogorov_sf_matches_kstwo(naive: ModuleType, n: int) -> None:
    gen = np.random.default_rng(n)
    # Spread x over every region: below 1/(2n), the Ruben-Gambino ends, Durbin, Pomeranz,
    # Pelz-Good, the Smirnov tail, x >= 1/2 and beyond the support. scipy's Smirnov tail costs
    # O(n) per call, so large n get only a few points there.
    z_max = 4.0 if n <= 10_000 else 1.45
    xs = np.concatenate(
        [
            [0.0, 0.5 / n, 1.0 / n, 0.5, 0.99, 1.0, 1.5],
            [1.6 / np.sqrt(n), 3.0 / np.sqrt(n)] if n <= 100_001 else [],
            gen.uniform(0.0, min(1.0, z_max / np.sqrt(n)), 25),
            gen.uniform(0.0, 1.0, 10 if n <= 10_000 else 0),
        ]
    )
    for x in xs:
        assert kolmogorov_sf(n, float(x)) == pytest.approx(
            naive.kolmogorov_sf(n, float(x)), rel=P_RTOL, abs=1e-300
        )
