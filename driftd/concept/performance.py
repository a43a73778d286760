"""Model performance on count windows of joined pairs, compared with the reference performance.

Classification: accuracy, and precision, recall, F1 and ROC AUC for one positive class (they
stay informative when classes are skewed, where accuracy does not). Regression: MAE and RMSE.
A metric that is undefined on a window (no predicted positives for precision, one class only for
AUC) is NaN and its verdict is ``insufficient_data``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from driftd.concept.config import LOWER_IS_BETTER, Drop
from driftd.records import State, Verdict


def accuracy(prediction: np.ndarray, label: np.ndarray) -> float:
    """Share of pairs where the prediction equals the label (NaN for no pairs)."""
    return float(np.mean(prediction == label)) if label.size else float("nan")


def precision_recall_f1(
    prediction: np.ndarray, label: np.ndarray, positive: float
) -> tuple[float, float, float]:
    """Precision, recall and F1 of the ``positive`` class; NaN where a denominator is 0."""
    pred_pos = prediction == positive
    true_pos = label == positive
    tp = int(np.count_nonzero(pred_pos & true_pos))
    fp = int(np.count_nonzero(pred_pos & ~true_pos))
    fn = int(np.count_nonzero(~pred_pos & true_pos))
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    return precision, recall, f1


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x``, tied values sharing the mean of their ranks."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], xs.size]
    group = np.repeat(np.arange(starts.size), ends - starts)
    ranks = np.empty(x.size, np.float64)
    ranks[order] = ((starts + 1 + ends) / 2.0)[group]
    return ranks


def roc_auc(score: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC of ``score`` for the boolean ``positive``; pairs without a score are left out.

    Notes
    -----
    The AUC equals the Mann-Whitney statistic :math:`U / (n_+ n_-)`, the probability that a
    random positive scores above a random negative (ties count one half), and
    :math:`U = R_+ - n_+ (n_+ + 1) / 2` where :math:`R_+` is the sum of the positives' ranks
    among all scores, ties given their average rank. One sort instead of :math:`n_+ n_-`
    comparisons. NaN when either class is absent.
    """
    scored = ~np.isnan(score)
    s = score[scored].astype(np.float64)
    y = positive[scored]
    n_pos = int(np.count_nonzero(y))
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r_pos = float(average_ranks(s)[y].sum())
    return (r_pos - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def regression_errors(prediction: np.ndarray, label: np.ndarray) -> tuple[float, float]:
    """Mean absolute error and root mean squared error (NaN for no pairs)."""
    if not label.size:
        return float("nan"), float("nan")
    diff = prediction.astype(np.float64) - label.astype(np.float64)
    return float(np.mean(np.abs(diff))), float(np.sqrt(np.mean(diff * diff)))


def compute(
    metrics: tuple[str, ...],
    prediction: np.ndarray,
    label: np.ndarray,
    score: np.ndarray,
    positive: float,
) -> dict[str, float]:
    """The named metrics of one window of pairs."""
    values: dict[str, float] = {}
    if "accuracy" in metrics:
        values["accuracy"] = accuracy(prediction, label)
    if {"precision", "recall", "f1"} & set(metrics):
        p, r, f = precision_recall_f1(prediction, label, positive)
        values.update(precision=p, recall=r, f1=f)
    if "auc" in metrics:
        values["auc"] = roc_auc(score, label == positive)
    if {"mae", "rmse"} & set(metrics):
        values["mae"], values["rmse"] = regression_errors(prediction, label)
    return {m: values[m] for m in metrics}


@dataclass(frozen=True, slots=True)
class WindowResult:
    """The metrics of one closed window; ``start``/``end`` bound its prediction event times."""

    index: int
    size: int
    start: float
    end: float
    values: dict[str, float]


def judge(
    monitor: str,
    result: WindowResult,
    reference: Mapping[str, float],
    max_drop: Mapping[str, Drop],
) -> list[Verdict]:
    """One verdict per metric with an allowed drop: in drift when it fell past the limit."""
    verdicts = []
    for metric, drop in max_drop.items():
        value = result.values[metric]
        ref = reference[metric]
        lower_better = metric in LOWER_IS_BETTER
        limit = drop.limit(ref, lower_better)
        if np.isnan(value):
            state = State.INSUFFICIENT
        elif (value > limit) if lower_better else (value < limit):
            state = State.DRIFT
        else:
            state = State.OK
        how = f"{drop.absolute} absolute" if drop.absolute is not None else f"{drop.relative:.0%}"
        verdicts.append(
            Verdict(
                monitor=monitor,
                feature="",
                statistic=metric,
                value=value,
                limit=limit,
                state=state,
                kind="concept",
                window_index=result.index,
                window_size=result.size,
                window_start=result.start,
                window_end=result.end,
                detail=f"{metric} {value:.4g} vs reference {ref:.4g} (allowed change {how})",
            )
        )
    return verdicts


class PerformanceWindow:
    """Collects joined pairs and closes a :class:`WindowResult` every ``size`` pairs."""

    def __init__(self, size: int, metrics: tuple[str, ...], positive: float = 0.0) -> None:
        self.size = size
        self.metrics = metrics
        self.positive = positive
        self.index = 0
        self.filled = 0
        self._prediction = np.empty(size, np.float32)
        self._label = np.empty(size, np.float32)
        self._score = np.empty(size, np.float32)
        self._time = np.empty(size, np.float64)

    def bounds(self) -> tuple[float, float]:
        """First and last prediction event time of the open window (NaN if none)."""
        t = self._time[: self.filled]
        t = t[~np.isnan(t)]
        return (float(t.min()), float(t.max())) if t.size else (float("nan"), float("nan"))

    def add(
        self, prediction: np.ndarray, label: np.ndarray, score: np.ndarray, time: np.ndarray
    ) -> list[WindowResult]:
        """Append pairs in order; return the windows they closed."""
        closed = []
        start = 0
        n = prediction.shape[0]
        while start < n:
            take = min(n - start, self.size - self.filled)
            dst = slice(self.filled, self.filled + take)
            src = slice(start, start + take)
            self._prediction[dst] = prediction[src]
            self._label[dst] = label[src]
            self._score[dst] = score[src]
            self._time[dst] = time[src]
            self.filled += take
            start += take
            if self.filled == self.size:
                closed.append(self._close())
        return closed

    @property
    def last_scores(self) -> np.ndarray:
        """The scores of the window closed last (valid until the next pair is added)."""
        return self._score[: self.size]

    def _close(self) -> WindowResult:
        values = compute(self.metrics, self._prediction, self._label, self._score, self.positive)
        lo, hi = self.bounds()
        result = WindowResult(self.index, self.size, lo, hi, values)
        self.index += 1
        self.filled = 0
        return result

    def state(self) -> tuple[dict[str, int], dict[str, np.ndarray]]:
        """JSON-able meta and the open window's arrays, for :meth:`load_state`."""
        n = self.filled
        arrays = {
            "w_prediction": self._prediction[:n].copy(),
            "w_label": self._label[:n].copy(),
            "w_score": self._score[:n].copy(),
            "w_time": self._time[:n].copy(),
        }
        return {"index": self.index, "filled": n}, arrays

    def load_state(self, meta: Mapping[str, int], arrays: Mapping[str, np.ndarray]) -> None:
        """Restore :meth:`state`; a window that no longer fits the size is closed unjudged."""
        index, n = int(meta["index"]), int(meta["filled"])
        names = ("w_prediction", "w_label", "w_score", "w_time")
        if any(arrays[k].shape != (n,) for k in names):
            raise ValueError(f"window arrays do not hold the {n} pairs the window says it has")
        if n >= self.size:
            # The window size was lowered below what was collected: drop it, keep the count.
            self.index, self.filled = index + 1, 0
            return
        self.index, self.filled = index, n
        buffers = (self._prediction, self._label, self._score, self._time)
        for k, dst in zip(names, buffers, strict=True):
            dst[:n] = arrays[k]
