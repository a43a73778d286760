"""Drift gauges carry the verdict's kind and never a NaN limit."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry

from driftd.monitoring.sinks import MetricsSink
from driftd.records import State, Verdict


def test_kind_label_and_no_nan_limit() -> None:
    registry = CollectorRegistry()
    sink = MetricsSink(registry)
    adwin = {"monitor": "m", "segment": "all", "kind": "concept", "feature": "",
             "statistic": "adwin"}  # fmt: skip
    sink.publish(
        [
            Verdict("m", "amount", "ks", 0.3, 0.05, State.DRIFT, kind="data"),
            Verdict("m", "", "adwin", 0.29, 0.12, State.DRIFT, kind="concept"),
        ]
    )
    data = {"monitor": "m", "segment": "all", "kind": "data", "feature": "amount",
            "statistic": "ks"}  # fmt: skip
    assert registry.get_sample_value("driftd_drift_detected", data) == 1.0
    assert registry.get_sample_value("driftd_drift_limit", adwin) == 0.12
    # The detector's next calm window has no limit: the series goes rather than turning NaN.
    sink.publish([Verdict("m", "", "adwin", 0.1, math.nan, State.OK, kind="concept")])
    assert registry.get_sample_value("driftd_drift_limit", adwin) is None
    assert registry.get_sample_value("driftd_drift_detected", adwin) == 0.0
