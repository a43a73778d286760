"""The exposition has one series per counter, without `_created` twins."""

from __future__ import annotations

from prometheus_client import generate_latest

from driftd.metrics import build_metrics
from driftd.monitoring.sinks import MetricsSink
from driftd.records import State, Verdict


def test_no_created_series() -> None:
    metrics = build_metrics()
    metrics.records_consumed.labels(stream="s").inc()
    metrics.batch_duration.observe(0.1)
    MetricsSink(metrics.registry).publish([Verdict("m", "a", "ks", 0.3, 0.1, State.DRIFT)])
    text = generate_latest(metrics.registry).decode()
    assert "driftd_records_consumed_total" in text and "driftd_windows_evaluated_total" in text
    assert "_created" not in text
