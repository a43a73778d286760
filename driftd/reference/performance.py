"""The model's performance on the reference data, for comparison with live performance."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

Task = Literal["classification", "regression"]


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def reference_performance(
    labels: list[Any], predictions: list[Any], positive: str = "1"
) -> tuple[Task, dict[str, float]]:
    """Task type and metrics from label and prediction columns (rows with either missing dropped).

    Classification when labels take at most 20 distinct values, or are not numbers; binary
    classification adds precision, recall and F1 for the ``positive`` label, and AUC when the
    predictions are scores in [0, 1] (the class is then ``score >= 0.5``). Regression gives
    MAE and RMSE.
    """
    pairs = [
        (y, p) for y, p in zip(labels, predictions, strict=True) if y is not None and p is not None
    ]
    if not pairs:
        raise ValueError("no row has both a label and a prediction")
    ys = [y for y, _ in pairs]
    ps = [p for _, p in pairs]
    distinct = {str(y) for y in ys}
    if all(_is_number(y) for y in ys) and len(distinct) > 20:
        y = np.asarray(ys, dtype=np.float64)
        p = np.asarray(ps, dtype=np.float64)
        err = p - y
        return "regression", {
            "mae": float(np.abs(err).mean()),
            "rmse": float(np.sqrt((err**2).mean())),
        }
    scores = None
    if all(_is_number(p) for p in ps) and len(distinct) <= 2:
        raw = np.asarray(ps, dtype=np.float64)
        # Scores in [0, 1], however few distinct values: a perfect model's 0.1 / 0.9 are
        # scores too (read as class names they matched no label and gave accuracy 0), and
        # hard 0 / 1 predictions give the same classes either way.
        if raw.min() >= 0.0 and raw.max() <= 1.0:
            scores = raw
    y_text = np.asarray([_label_text(v) for v in ys])
    if scores is not None:
        p_text = np.where(scores >= 0.5, positive, _negative(distinct, positive))
    else:
        p_text = np.asarray([_label_text(v) for v in ps])
    metrics = {"accuracy": float((y_text == p_text).mean())}
    if len(distinct) <= 2:
        tp = float(((p_text == positive) & (y_text == positive)).sum())
        fp = float(((p_text == positive) & (y_text != positive)).sum())
        fn = float(((p_text != positive) & (y_text == positive)).sum())
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        metrics |= {"precision": precision, "recall": recall, "f1": f1}
        if scores is not None:
            metrics["auc"] = _auc(scores, y_text == positive)
    return "classification", metrics


def _label_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _negative(distinct: set[str], positive: str) -> str:
    others = sorted(d for d in distinct if d != positive)
    return others[0] if others else "0"


def _auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve by ranks (Mann-Whitney U), ties given half credit."""
    n_pos = int(positive.sum())
    n_neg = int(positive.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size, dtype=np.float64)
    sorted_scores = scores[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))
