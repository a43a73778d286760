"""Performance without labels: confidence-based performance estimation (CBPE).

A classifier whose scores are calibrated probabilities says how often it expects to be right:
an event scored ``p`` and predicted positive (``p >= threshold``) is correct with probability
``p``, one predicted negative with ``1 - p``. Summed over a window of predictions these give the
expected confusion matrix, hence estimated accuracy, precision, recall, F1 and ROC AUC, as soon
as the predictions are made and long before their labels arrive (NannyML's CBPE, in batch
there; here per window of a stream). The estimate is only as good as the calibration: it tracks
covariate shift with an unchanged concept, and cannot see a concept change (the labels' job).

The band is the spread of the *realized* accuracy of the window if the scores are calibrated:
each event is right with its own probability ``c_i``, so the count of right ones has variance
``sum c_i (1 - c_i)`` (a Poisson-binomial), and the band is ±1.96 standard deviations of it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from driftd.concept.performance import WindowResult

ESTIMABLE = ("accuracy", "precision", "recall", "f1", "auc")


def estimate(
    metrics: tuple[str, ...], score: np.ndarray, threshold: float
) -> tuple[dict[str, float], float]:
    """Estimated ``metrics`` of a window of scores, and the accuracy band's half width."""
    p = np.clip(score[~np.isnan(score)].astype(np.float64), 0.0, 1.0)
    n = p.size
    if not n:
        return {m: float("nan") for m in metrics if m in ESTIMABLE}, float("nan")
    predicted = p >= threshold
    correct = np.where(predicted, p, 1.0 - p)
    tp = float(p[predicted].sum())
    fp = float((1.0 - p[predicted]).sum())
    fn = float(p[~predicted].sum())
    values: dict[str, float] = {
        "accuracy": float(correct.mean()),
        "precision": tp / (tp + fp) if tp + fp > 0 else float("nan"),
        "recall": tp / (tp + fn) if tp + fn > 0 else float("nan"),
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else float("nan"),
    }
    if "auc" in metrics:
        values["auc"] = expected_auc(p)
    band = 1.96 * float(np.sqrt(np.sum(correct * (1.0 - correct)))) / n
    return {m: values[m] for m in metrics if m in ESTIMABLE}, band


def expected_auc(p: np.ndarray) -> float:
    """ROC AUC expected when each event is positive with probability ``p`` and scored ``p``:
    the weight of (positive, negative) pairs ordered right, over all such pairs (ties one
    half, an event never paired with itself). One sort."""
    order = np.argsort(p, kind="stable")
    ps = p[order]
    neg = 1.0 - ps
    starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
    ends = np.r_[starts[1:], ps.size]
    group_neg = np.add.reduceat(neg, starts)
    below = np.r_[0.0, np.cumsum(group_neg)[:-1]]  # negative weight strictly below each group
    group = np.repeat(np.arange(starts.size), ends - starts)
    # Ties: half of the group's negative weight, less the event's own.
    right = below[group] + 0.5 * (group_neg[group] - neg)
    numerator = float(np.sum(ps * right))
    denominator = float(np.sum(ps) * np.sum(neg) - np.sum(ps * neg))
    return numerator / denominator if denominator > 0 else float("nan")


def describe(metric: str, value: float, band: float, reference: Mapping[str, float]) -> str:
    """``estimated accuracy 0.83 ± 0.017 vs reference 0.867`` (the band for accuracy only)."""
    spread = f" ± {band:.2g}" if metric == "accuracy" and np.isfinite(band) else ""
    return f"estimated {metric} {value:.4g}{spread} vs reference {reference[metric]:.4g}"


class EstimateWindow:
    """Scores of predictions as they are made; every ``size`` of them, the estimated metrics."""

    def __init__(self, size: int, metrics: tuple[str, ...], threshold: float) -> None:
        self.size = size
        self.metrics = tuple(m for m in metrics if m in ESTIMABLE)
        self.threshold = threshold
        self.index = 0
        self.filled = 0
        self._score = np.empty(size, np.float64)
        self._time = np.empty(size, np.float64)

    def add(self, score: np.ndarray, time: np.ndarray) -> list[tuple[WindowResult, float]]:
        """Append scores in order; return each closed window's result and accuracy band."""
        closed = []
        start, n = 0, score.shape[0]
        while start < n:
            take = min(n - start, self.size - self.filled)
            self._score[self.filled : self.filled + take] = score[start : start + take]
            self._time[self.filled : self.filled + take] = time[start : start + take]
            self.filled += take
            start += take
            if self.filled == self.size:
                values, band = estimate(self.metrics, self._score, self.threshold)
                t = self._time[~np.isnan(self._time)]
                lo, hi = (float(t.min()), float(t.max())) if t.size else (np.nan, np.nan)
                closed.append((WindowResult(self.index, self.size, lo, hi, values), band))
                self.index += 1
                self.filled = 0
        return closed

    def state(self) -> tuple[dict[str, int], dict[str, np.ndarray]]:
        """JSON-able meta and the open window's arrays, for :meth:`load_state`."""
        n = self.filled
        arrays = {"e_score": self._score[:n].copy(), "e_time": self._time[:n].copy()}
        return {"index": self.index, "filled": n}, arrays

    def load_state(self, meta: Mapping[str, int], arrays: Mapping[str, np.ndarray]) -> None:
        """Restore :meth:`state` (a window larger than the size now is dropped, counted)."""
        index, n = int(meta["index"]), int(meta["filled"])
        if arrays["e_score"].shape != (n,) or arrays["e_time"].shape != (n,):
            raise ValueError(f"estimate arrays do not hold the {n} scores the window has")
        if n >= self.size:
            self.index, self.filled = index + 1, 0
            return
        self.index, self.filled = index, n
        self._score[:n] = arrays["e_score"]
        self._time[:n] = arrays["e_time"]
