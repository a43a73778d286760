"""The null-simulation kernels against slow numpy twins: statistic parity, multinomial law,
the simulated null's distribution, and determinism whatever the thread count."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import detectors
from detectors import _null_kernels as k


@numba.njit
def _seed(seed: int) -> None:
    np.random.seed(seed)


P = np.array([0.4, 0.25, 0.15, 0.1, 0.05, 0.03, 0.015, 0.005])


@given(
    st.lists(st.integers(0, 500), min_size=2, max_size=30).flatmap(
        lambda a: st.tuples(
            st.just(a), st.lists(st.integers(0, 500), min_size=len(a), max_size=len(a))
        )
    )
)
@settings(max_examples=200)
def test_the_kernel_statistics_are_the_live_statistics(pair: tuple[list[int], list[int]]) -> None:
    ref, win = (np.asarray(x, dtype=np.float64) for x in pair)
    if ref.sum() == 0 or win.sum() == 0:
        return
    assert k.statistic(k.PSI, ref, win, 0.5) == pytest.approx(detectors.psi(ref, win), rel=1e-12)
    assert k.statistic(k.LINF, ref, win, 0.5) == pytest.approx(
        detectors.linf_distance(ref, win).distance, rel=1e-12
    )
    assert k.statistic(k.JS, ref, win, 0.5) == pytest.approx(
        detectors.js_distance(ref, win), rel=1e-9, abs=1e-12
    )


def test_multinomial_draws_follow_the_multinomial_law() -> None:
    n, draws = 1000, 20_000
    out = np.empty(P.size)
    got = np.empty((draws, P.size))
    _seed(5)  # Numba's own generator, which the kernel draws from
    for i in range(draws):
        k.multinomial_into(n, P, out)
        got[i] = out
    assert (got.sum(axis=1) == n).all() and (got >= 0).all()
    # Means n·p and covariances n(diag(p) - p pᵀ), within sampling error.
    error = np.abs(got.mean(axis=0) - n * P)
    assert (error <= 4 * np.sqrt(n * P * (1 - P) / draws)).all(), error
    cov = np.cov(got.T)
    expect = n * (np.diag(P) - np.outer(P, P))
    np.testing.assert_allclose(cov, expect, atol=0.06 * n * P.max())


@pytest.mark.parametrize(("kind", "name"), [(k.PSI, "psi"), (k.LINF, "linf"), (k.JS, "js")])
def test_the_simulated_null_has_the_law_of_a_slow_numpy_simulation(kind: int, name: str) -> None:
    rng = np.random.default_rng(11)
    reference_total, n, draws = 3000, 800, 20_000
    slow_stat = {
        "psi": detectors.psi,
        "linf": lambda r, w: detectors.linf_distance(r, w).distance,
        "js": detectors.js_distance,
    }[name]
    refs = rng.multinomial(reference_total, P, size=draws)
    wins = rng.multinomial(n, P, size=draws)
    slow = np.array([slow_stat(r, w) for r, w in zip(refs, wins, strict=True)])
    fast = k.null_draws(P, reference_total, n, draws, kind, 0.5, 7)
    # Same distribution: a two-sample KS test does not tell them apart (seeded: no flake).
    assert stats.ks_2samp(fast, slow).pvalue > 1e-3
    for q in (0.5, 0.9, 0.99):
        assert np.quantile(fast, q) == pytest.approx(np.quantile(slow, q), rel=0.05)


def test_draws_are_the_same_whatever_the_number_of_threads() -> None:
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = k.null_draws(P, 5000, 2000, 50_000, k.PSI, 0.5, 42)
        numba.set_num_threads(max(2, before))
        many = k.null_draws(P, 5000, 2000, 50_000, k.PSI, 0.5, 42)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, many)
    assert not np.array_equal(one, k.null_draws(P, 5000, 2000, 50_000, k.PSI, 0.5, 43))
