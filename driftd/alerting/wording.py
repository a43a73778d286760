"""A verdict in words, for alert summaries and log lines: what crossed which limit, in the
direction that matters, without empty names or a limit of NaN."""

from __future__ import annotations

import math

from driftd.concept.config import CLASSIFICATION_METRICS, LOWER_IS_BETTER, REGRESSION_METRICS
from driftd.records import Verdict


def _num(value: float) -> str:
    return f"{value:.4g}"


def describe(verdict: Verdict) -> str:
    """One sentence on ``verdict`` (drifting or calm)."""
    if verdict.kind == "concept":
        return _concept(verdict)
    if verdict.kind == "schema":
        return _schema(verdict)
    subject = f"{verdict.statistic} of {verdict.feature or 'the prediction'}"
    if math.isnan(verdict.limit):
        return f"{subject} is {_num(verdict.value)}"
    side = "above" if verdict.drifted else "within"
    return f"{subject} is {_num(verdict.value)}, {side} its limit {_num(verdict.limit)}"


def _schema(verdict: Verdict) -> str:
    share = f"{verdict.value:.2%}" if math.isfinite(verdict.value) else "n/a"
    what = f" ({verdict.detail})" if verdict.detail else ""
    where = f"schema anomalies in {verdict.feature}: {share} of the window's events{what}"
    if math.isnan(verdict.limit):
        return where
    side = "above" if verdict.drifted else "within"
    return f"{where}, {side} the allowed {verdict.limit:.2%}"


def _concept(verdict: Verdict) -> str:
    stat, value, limit = verdict.statistic, verdict.value, verdict.limit
    if stat not in CLASSIFICATION_METRICS and stat not in REGRESSION_METRICS:
        # A river detector: value is the recent error, limit the error before the change.
        if verdict.drifted and not math.isnan(limit):
            return (
                f"{stat} detected a change in the model's error: {_num(value)} over the "
                f"latest labelled predictions, {_num(limit)} before"
            )
        return f"{stat}: no change in the model's error (mean {_num(value)} this window)"
    if math.isnan(limit):
        return f"{stat} of the model is {_num(value)}"
    lower_better = stat in LOWER_IS_BETTER
    if verdict.drifted:
        moved = "rose to" if lower_better else "fell to"
        side = "above" if lower_better else "below"
        return f"{stat} of the model {moved} {_num(value)}, {side} its limit {_num(limit)}"
    side = "at most" if lower_better else "at least"
    return f"{stat} of the model is {_num(value)}, within its limit ({side} {_num(limit)})"
