"""Multivariate kernels against their slow twins, and their null models against simulation."""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from detectors.classifier import ClassifierTwoSample, _auc, auc_quantile
from detectors.errors import DetectorInputError
from detectors.pca import PCAReconstruction, reconstruction_errors
from detectors.saddlepoint import mean_difference_quantile, mean_difference_sf

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    rows=arrays(np.float64, st.tuples(st.integers(1, 40), st.just(4)), elements=finite),
    seed=st.integers(0, 2**31),
)
def test_reconstruction_errors_match_matrix_algebra(
    naive: ModuleType, rows: np.ndarray, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    components = np.ascontiguousarray(q[:, :2].T)
    mean, scale = rng.normal(size=4), rng.uniform(0.5, 2.0, size=4)
    ours = reconstruction_errors(rows, mean, scale, components)
    np.testing.assert_allclose(
        ours, naive.reconstruction_errors(rows, mean, scale, components), rtol=1e-9, atol=1e-9
    )


@pytest.mark.parametrize("seed", range(4))
def test_fit_spans_the_top_eigenvectors(naive: ModuleType, seed: int) -> None:
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(6, 6))
    rows = rng.normal(size=(3000, 6)) @ mixing + rng.normal(size=6) * 10
    pca = PCAReconstruction.fit(rows, variance=0.65)
    k = pca.components.shape[0]
    ours = pca.components.T @ pca.components
    np.testing.assert_allclose(ours, naive.principal_projector(rows, k), atol=1e-8)
    np.testing.assert_allclose(pca.components @ pca.components.T, np.eye(k), atol=1e-10)
    z = (rows - rows.mean(axis=0)) / rows.std(axis=0)
    eigen = np.sort(np.linalg.eigvalsh(np.cov(z, rowvar=False)))[::-1]
    share = np.cumsum(eigen) / eigen.sum()
    assert share[k - 1] >= 0.65 - 1e-9
    assert k == 1 or share[k - 2] < 0.65


def test_fit_keeps_constant_features_and_refuses_too_few_rows() -> None:
    rows = np.column_stack([np.arange(100.0), np.ones(100), np.arange(100.0) ** 0.5])
    pca = PCAReconstruction.fit(rows)
    assert np.all(np.isfinite(pca.errors(rows)))
    with pytest.raises(DetectorInputError, match="more rows than features"):
        PCAReconstruction.fit(rows[:3])
    with pytest.raises(DetectorInputError, match="two features"):
        PCAReconstruction.fit(rows[:, :1])


@pytest.mark.parametrize(
    ("shape", "n", "m"), [(3.0, 50, 20_000), (1.0, 500, 5_000), (3.0, 5000, 5000)]
)
def test_saddlepoint_matches_the_exact_gamma_tail(shape: float, n: int, m: int) -> None:
    # Values from a gamma law: a mean of n of them is gamma(n * shape) / n, so the difference
    # of two means can be drawn exactly, two million times, without drawing windows.
    rng = np.random.default_rng(7)
    values = rng.gamma(shape, size=20_000)
    draws = 2_000_000
    diff = rng.gamma(n * shape, size=draws) / n - rng.gamma(m * shape, size=draws) / m
    for alpha in (1e-1, 1e-2, 1e-3, 1e-4):
        simulated = float(np.quantile(diff, 1.0 - alpha))
        ours = mean_difference_quantile(values, n, m, alpha)
        # The simulation's own error at 1e-4 is about 1.5 % (200 draws beyond the quantile).
        assert ours == pytest.approx(simulated, rel=0.03), alpha
        assert mean_difference_sf(values, n, m, ours) == pytest.approx(alpha, rel=1e-6)


def test_saddlepoint_beats_the_normal_on_skewed_values() -> None:
    rng = np.random.default_rng(1)
    values = rng.exponential(size=100_000)
    n, m, alpha = 40, 100_000, 1e-4
    diff = rng.gamma(n, size=4_000_000) / n - rng.gamma(m, size=4_000_000) / m
    ours = mean_difference_quantile(values, n, m, alpha)
    normal = stats.norm.isf(alpha) * values.std() * math.sqrt(1 / n + 1 / m)
    rate_ours = float(np.mean(diff > ours))
    rate_normal = float(np.mean(diff > normal))
    assert rate_ours == pytest.approx(alpha, rel=0.25)
    assert rate_normal > 3 * alpha


@settings(max_examples=50, deadline=None)
@given(
    first=arrays(np.float64, st.integers(1, 30), elements=st.integers(-5, 5).map(float)),
    second=arrays(np.float64, st.integers(1, 30), elements=st.integers(-5, 5).map(float)),
)
def test_auc_is_the_mann_whitney_statistic(
    naive: ModuleType, first: np.ndarray, second: np.ndarray
) -> None:
    ours = _auc(np.concatenate([first, second]), first.size)
    assert ours == pytest.approx(naive.auc(first, second), abs=1e-12)


@pytest.mark.parametrize(("n1", "n0"), [(20, 30), (40, 40), (60, 25)])
@pytest.mark.parametrize("alpha", [0.05, 1e-2, 1e-3])
def test_auc_limit_is_conservative_against_the_exact_null(
    naive: ModuleType, n1: int, n0: int, alpha: float
) -> None:
    limit = auc_quantile(n1, n0, alpha)
    # The verdict is "drift" when AUC > limit: the smallest such U.
    u = math.floor(limit * n1 * n0 + 1e-9) + 1
    assert naive.mann_whitney_sf(u, n1, n0) <= alpha


def _null_rate(
    test: ClassifierTwoSample, cov: np.ndarray, n: int, windows: int, alpha: float
) -> float:
    rng = np.random.default_rng(11)
    limit = auc_quantile(n - n // 2, test.held_out, alpha)
    hits = 0
    for _ in range(windows):
        window = rng.multivariate_normal(np.zeros(cov.shape[0]), cov, size=n)
        hits += test.score(window).statistic > limit
    return hits / windows


def test_classifier_keeps_its_false_alarm_rate_and_sees_a_correlation_change() -> None:
    rng = np.random.default_rng(5)
    cov = np.eye(4)
    cov[0, 1] = cov[1, 0] = 0.7
    test = ClassifierTwoSample(rng.multivariate_normal(np.zeros(4), cov, size=6000))
    windows, alpha = 600, 0.05
    rate = _null_rate(test, cov, 400, windows, alpha)
    # The 95 % binomial interval of 600 windows at 5 %, or below it.
    assert rate <= stats.binom.ppf(0.975, windows, alpha) / windows
    changed = cov.copy()
    changed[0, 1] = changed[1, 0] = 0.3
    score = test.score(rng.multivariate_normal(np.zeros(4), changed, size=2000))
    assert score.statistic > auc_quantile(1000, test.held_out, 1e-6)


def test_classifier_score_does_not_depend_on_how_the_window_was_assembled() -> None:
    rng = np.random.default_rng(2)
    test = ClassifierTwoSample(rng.normal(size=(1000, 3)))
    window = rng.normal(size=(300, 3))
    assert test.score(window) == test.score(window.copy())
