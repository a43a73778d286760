"""Window metrics against naive slow twins, and the verdicts they lead to."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftd.concept.config import Drop
from driftd.concept.performance import (
    PerformanceWindow,
    WindowResult,
    average_ranks,
    judge,
    precision_recall_f1,
    regression_errors,
    roc_auc,
)
from driftd.records import State


def naive_auc(scores: list[float], positive: list[bool]) -> float:
    """Mann-Whitney over every (positive, negative) pair; a tie counts one half."""
    pos = [s for s, p in zip(scores, positive, strict=True) if p and not math.isnan(s)]
    neg = [s for s, p in zip(scores, positive, strict=True) if not p and not math.isnan(s)]
    if not pos or not neg:
        return math.nan
    u = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg)
    return u / (len(pos) * len(neg))


def naive_prf(pred: list[int], label: list[int], positive: int) -> tuple[float, float, float]:
    tp = fp = fn = 0
    for p, y in zip(pred, label, strict=True):
        tp += p == positive and y == positive
        fp += p == positive and y != positive
        fn += p != positive and y == positive
    precision = tp / (tp + fp) if tp + fp else math.nan
    recall = tp / (tp + fn) if tp + fn else math.nan
    if tp + fp + fn == 0:
        f1 = math.nan
    elif tp == 0:
        f1 = 0.0
    else:
        f1 = 2 * precision * recall / (precision + recall)
    return precision, recall, f1


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-12)


score_st = st.one_of(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), st.just(math.nan))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(score_st, st.booleans()), max_size=60))
def test_auc_equals_naive_mann_whitney(rows) -> None:
    scores = [s for s, _ in rows]
    positive = [p for _, p in rows]
    got = roc_auc(np.array(scores, np.float32), np.array(positive, bool))
    assert same(got, naive_auc(scores, positive))


def test_auc_on_a_large_random_sample_and_known_values() -> None:
    rng = np.random.default_rng(5)
    y = rng.random(600) < 0.1  # skewed classes
    s = np.round(rng.random(600) + 0.5 * y, 2)
    assert roc_auc(s, y) == pytest.approx(naive_auc(s.tolist(), y.tolist()), abs=1e-12)
    assert roc_auc(np.array([0.1, 0.9]), np.array([False, True])) == 1.0
    assert roc_auc(np.array([0.9, 0.1]), np.array([False, True])) == 0.0
    assert roc_auc(np.array([0.5, 0.5]), np.array([False, True])) == 0.5


@given(st.lists(st.integers(-3, 3), max_size=40))
def test_average_ranks_equal_naive(xs: list[int]) -> None:
    naive = [sum(1 for y in xs if y < x) + (sum(1 for y in xs if y == x) + 1) / 2 for x in xs]
    np.testing.assert_array_equal(average_ranks(np.array(xs, float)), naive)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), max_size=50),
    st.integers(0, 2),
)
def test_precision_recall_f1_equal_naive(rows, positive: int) -> None:
    pred = [p for p, _ in rows]
    label = [y for _, y in rows]
    got = precision_recall_f1(np.array(pred, np.float32), np.array(label, np.float32), positive)
    want = naive_prf(pred, label, positive)
    assert all(same(g, w) for g, w in zip(got, want, strict=True)), (got, want)


@given(st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), min_size=1, max_size=50))
def test_mae_rmse_equal_naive(rows) -> None:
    pred = np.array([p for p, _ in rows])
    label = np.array([y for _, y in rows])
    mae, rmse = regression_errors(pred, label)
    n = len(rows)
    assert mae == pytest.approx(sum(abs(p - y) for p, y in rows) / n, rel=1e-9, abs=1e-9)
    assert rmse == pytest.approx(
        math.sqrt(sum((p - y) ** 2 for p, y in rows) / n), rel=1e-9, abs=1e-9
    )


def result(**values: float) -> WindowResult:
    return WindowResult(index=3, size=100, start=1.0, end=2.0, values=values)


@pytest.mark.parametrize(
    ("metric", "value", "drop", "limit", "state"),
    [
        ("accuracy", 0.90, Drop(absolute=0.05), 0.88, State.OK),  # within the allowed drop
        ("accuracy", 0.87, Drop(absolute=0.05), 0.88, State.DRIFT),  # fell past it
        ("f1", 0.60, Drop(relative=0.10), 0.63, State.DRIFT),  # 10% below 0.70
        ("f1", 0.64, Drop(relative=0.10), 0.63, State.OK),
        ("mae", 2.4, Drop(relative=0.25), 2.5, State.OK),  # errors: a rise is the drop
        ("rmse", 3.5, Drop(absolute=0.5), 3.5, State.OK),  # at the limit is not past it
        ("rmse", 3.6, Drop(absolute=0.5), 3.5, State.DRIFT),
        ("recall", math.nan, Drop(absolute=0.1), 0.6, State.INSUFFICIENT),  # no positives
    ],
)
def test_judge_against_the_reference(metric, value, drop, limit, state) -> None:
    reference = {"accuracy": 0.93, "f1": 0.70, "mae": 2.0, "rmse": 3.0, "recall": 0.7}
    [v] = judge("m", result(**{metric: value}), reference, {metric: drop})
    assert v.kind == "concept" and v.statistic == metric and v.monitor == "m"
    assert v.limit == pytest.approx(limit)
    assert v.state is state
    assert (v.window_index, v.window_size, v.window_start, v.window_end) == (3, 100, 1.0, 2.0)
    assert same(v.value, value)


def test_window_closes_across_batches_and_restores() -> None:
    window = PerformanceWindow(10, ("accuracy", "auc"), positive=1.0)
    pred = np.array([1, 0] * 8, np.float32)
    label = np.ones(16, np.float32)
    score = np.linspace(0, 1, 16, dtype=np.float32)
    t = np.arange(16.0)
    assert window.add(pred[:7], label[:7], score[:7], t[:7]) == []
    [closed] = window.add(pred[7:], label[7:], score[7:], t[7:])
    assert closed.index == 0 and closed.size == 10
    assert (closed.start, closed.end) == (0.0, 9.0)
    assert closed.values["accuracy"] == 0.5
    assert math.isnan(closed.values["auc"])  # one class only
    meta, arrays = window.state()
    again = PerformanceWindow(10, ("accuracy", "auc"), positive=1.0)
    again.load_state(meta, arrays)
    assert (again.index, again.filled, again.bounds()) == (1, 6, (10.0, 15.0))
    smaller = PerformanceWindow(5, ("accuracy",))
    smaller.load_state(meta, arrays)  # 6 collected, windows of 5 now: dropped, count kept
    assert (smaller.index, smaller.filled) == (2, 0)
