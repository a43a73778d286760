"""Evaluating one closed window: a verdict per (feature, statistic), and per feature's schema."""

from __future__ import annotations

import math

import numpy as np

from driftd.monitoring.columns import SchemaCounts
from driftd.monitoring.segment import Segment, SegmentState
from driftd.monitoring.spec import MonitorSpec
from driftd.monitoring.windows import ClosedWindow
from driftd.records import State, Verdict
from driftd.reference.profile import FeatureProfile


def evaluate(
    spec: MonitorSpec, key: Segment, state: SegmentState, window: ClosedWindow
) -> list[Verdict]:
    """Score ``window`` of segment ``key``; thresholds learn from it (adaptive ones)."""
    verdicts: list[Verdict] = []
    base = {
        "monitor": spec.name,
        "segment": key,
        "window_index": window.index,
        "window_epoch": state.epoch,
        "window_size": window.size,
        "window_start": window.start,
        "window_end": window.end,
    }
    profiles = {f.name: f for f in spec.order}
    histograms: dict[str, tuple[int, ...]] = {}
    for test in state.tests:
        s = test.spec
        if s.columns is not None:
            values = complete_rows(window.numeric, s.columns)
        elif s.numeric_col is not None:
            values = window.numeric[:, s.numeric_col]
            values = values[~np.isnan(values)]
        else:
            assert s.categorical_col is not None
            values = window.categorical[:, s.categorical_col]
            values = values[values >= 0]
        n = int(values.shape[0])  # rows: a multivariate window is rows x features
        stat = s.stat
        if n < spec.min_samples:
            verdicts.append(
                Verdict(
                    feature=stat.feature,
                    statistic=stat.statistic,
                    value=math.nan,
                    limit=math.nan,
                    state=State.INSUFFICIENT,
                    kind=s.kind,
                    **base,
                )
            )
            continue
        score = stat.score(values)
        if stat.feature not in histograms:
            feat = profiles.get(stat.feature)
            # Multivariate statistics and vectors have no bins: no histogram.
            binned = feat is not None and feat.type != "vector"
            histograms[stat.feature] = live_histogram(feat, values) if binned else ()
        limit = test.threshold.limit(n)
        drifted = score.statistic > limit
        test.threshold.observe(score.statistic, drifted)
        verdicts.append(
            Verdict(
                feature=stat.feature,
                statistic=stat.statistic,
                value=score.statistic,
                limit=limit,
                state=State.DRIFT if drifted else State.OK,
                kind=s.kind,
                pvalue=score.pvalue,
                detail=stat.describe(score),
                histogram=histograms[stat.feature],
                **base,
            )
        )
    if spec.cfg.schema_checks and window.size:
        for feat, counts, policy in zip(
            spec.order, window.schema, state.schema_limits, strict=True
        ):
            rate = schema_rate(counts, window.size, feat)
            limit = policy.limit(window.size)
            drifted = rate > limit
            policy.observe(rate, drifted)
            verdicts.append(
                Verdict(
                    feature=feat.name,
                    statistic="schema",
                    value=rate,
                    limit=limit,
                    state=State.DRIFT if drifted else State.OK,
                    kind="schema",
                    detail=", ".join(f"{k}={v}" for k, v in counts.as_dict().items() if v),
                    **base,
                )
            )
    return verdicts


def complete_rows(numeric: np.ndarray, columns: tuple[int, ...]) -> np.ndarray:
    """The rows of a window's numeric columns where ``columns`` are all finite (multivariate
    statistics read only those)."""
    rows = numeric[:, list(columns)]
    return rows[np.isfinite(rows).all(axis=1)]


def live_histogram(feat: FeatureProfile, values: np.ndarray) -> tuple[int, ...]:
    """Counts of a window's values (no missing ones) on ``feat``'s reference bins: numeric
    values by the interior edges (``len(edges) + 1`` bins), categorical codes by category with
    "other" last."""
    if feat.numeric is not None:
        bins = np.searchsorted(feat.numeric.edges, values, side="right")
        counts = np.bincount(bins, minlength=feat.numeric.edges.size + 1)
    else:
        assert feat.categorical is not None
        counts = np.bincount(values.astype(np.int64), minlength=feat.categorical.n_categories)
    return tuple(int(c) for c in counts)


def schema_rate(counts: SchemaCounts, size: int, feat: FeatureProfile) -> float:
    """The share of a window's events with a schema anomaly in ``feat`` (at most 1)."""
    # Missing values are only an anomaly beyond the rate the reference already had.
    excess_missing = max(0.0, counts.missing / size - feat.missing_rate)
    hard = counts.wrong_type + counts.not_finite + counts.unseen_category + counts.out_of_range
    # Each event carries at most one anomaly per feature, so the rate is at most 1.
    return min(1.0, hard / size + excess_missing)
