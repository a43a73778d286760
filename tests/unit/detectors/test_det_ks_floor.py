"""The drift score's p-value floor: never reported where the true p-value is above it."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from detectors.ks import PVALUE_FLOOR, KSReference, ks_2samp


@settings(max_examples=300, deadline=None)
@given(n=st.integers(50, 200_000), x=st.floats(0.001, 0.999))
def test_the_bound_is_above_scipys_exact_tail(n: int, x: float) -> None:
    bound = 2.0 * math.exp(-2.0 * n * x * x)
    if bound < PVALUE_FLOOR:
        assert stats.kstwo.sf(x, n) <= bound


def test_a_drifted_window_reports_the_floor_and_a_calm_one_the_exact_value() -> None:
    rng = np.random.default_rng(4)
    reference = rng.normal(size=20_000)
    ks = KSReference(reference)
    calm = rng.normal(size=5000)
    drifted = rng.normal(0.3, size=5000)
    assert ks.score(calm).pvalue == ks_2samp(reference, calm).pvalue > PVALUE_FLOOR
    assert ks.score(drifted).pvalue == PVALUE_FLOOR
    exact = ks_2samp(reference, drifted)
    assert exact.pvalue < PVALUE_FLOOR and exact.method == "asymp"
    assert ks.score(drifted).statistic == exact.statistic
