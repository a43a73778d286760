"""Drift verdicts end to end from a real broker: none on reference data, the right ones on shift."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from kafka import KafkaConsumer, KafkaProducer

from driftd.app import make_source
from driftd.config import parse_config
from driftd.daemon import Daemon
from driftd.health import Health
from driftd.metrics import build_metrics
from driftd.monitoring.pipeline import MonitoringProcessor, load_profiles
from driftd.monitoring.sinks import KafkaVerdictSink, MetricsSink
from driftd.producing import AckedProducer
from driftd.records import State, Verdict
from driftd.synthetic import events
from tests.integration.helpers import Background, produce, wait_until

pytestmark = pytest.mark.integration

PROFILE = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"
WINDOW = 2000
CLEAN_WINDOWS = 15
SHIFTED_WINDOWS = 5


class Collect:
    def __init__(self) -> None:
        self.verdicts: list[Verdict] = []

    def publish(self, verdicts: list[Verdict]) -> None:
        self.verdicts.extend(verdicts)


def _config(bootstrap: str, topic: str, events_topic: str):  # type: ignore[no-untyped-def]
    return parse_config(
        f"""
kafka:
  bootstrap_servers: ["{bootstrap}"]
  group_id: g-{topic}
  session_timeout: 6s
  heartbeat_interval: 1s
  poll_timeout: 200ms
events: {{topic: {events_topic}, only_drift: true}}
streams:
  - name: predictions
    topic: {topic}
    fields:
      id: request_id
      timestamp: ts
      model: model
      features:
        amount: features.amount
        age: features.age
        tenure_days: features.tenure_days
        country: features.country
        device: features.device
        merchant: features.merchant
      prediction: score
monitors:
  - name: fraud
    streams: [predictions]
    model: fraud-v3
    reference: {PROFILE}
    window: {{type: count, size: {WINDOW}}}
    thresholds:
      default: {{type: calibrated, windows_between_false_alarms: 1000}}
""",
        env={},
    )


def test_drift_only_on_shifted_features_within_two_windows(
    kafka_bootstrap: str, make_topic: Callable[..., str]
) -> None:
    topic = make_topic("preds", partitions=1)
    events_topic = make_topic("drift-events")
    cfg = _config(kafka_bootstrap, topic, events_topic)
    clean = CLEAN_WINDOWS * WINDOW
    shifted = SHIFTED_WINDOWS * WINDOW
    produce(kafka_bootstrap, topic, events(clean, seed=11))
    produce(kafka_bootstrap, topic, events(shifted, seed=12, shift=1.0, first_id=clean))

    collect = Collect()
    metrics = build_metrics()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    events_sink = KafkaVerdictSink(AckedProducer(producer), events_topic, only_drift=True)
    processor = MonitoringProcessor(
        cfg, load_profiles(cfg), [MetricsSink(metrics.registry), collect, events_sink]
    )
    processor.warm_up()
    daemon = Daemon(
        cfg,
        lambda cb: make_source(cfg.kafka, [topic], cb),
        processor,
        metrics,
        Health(),
        producers=[events_sink.flush],
    )
    run = Background(daemon.run)
    total_windows = CLEAN_WINDOWS + SHIFTED_WINDOWS
    wait_until(
        lambda: processor.monitors[0].windows_closed >= total_windows,
        120,
        f"{total_windows} windows",
    )
    daemon.stop()
    run.join()
    producer.close()

    data = [v for v in collect.verdicts if v.kind == "data"]
    assert {v.window_index for v in data} == set(range(total_windows))
    assert all(v.state is not State.INSUFFICIENT for v in data)
    before = [v for v in data if v.window_index < CLEAN_WINDOWS and v.drifted]
    assert before == [], f"false alarms before the shift: {before}"
    after = [v for v in data if v.window_index >= CLEAN_WINDOWS and v.drifted]
    assert {v.feature for v in after} == {"amount", "country"}
    for feature in ("amount", "country"):
        first = min(v.window_index for v in after if v.feature == feature)
        assert first <= CLEAN_WINDOWS + 1, f"{feature} detected only at window {first}"
    # The score is a function of amount, so the prediction drifts too, and only after the shift.
    prediction = [v for v in collect.verdicts if v.kind == "prediction" and v.drifted]
    assert prediction and min(v.window_index for v in prediction) >= CLEAN_WINDOWS

    reg = metrics.registry
    labels = {
        "monitor": "fraud", "segment": "all", "kind": "data", "feature": "amount",
        "statistic": "ks",
    }  # fmt: skip
    assert reg.get_sample_value("driftd_drift_detected", labels) == 1.0
    assert reg.get_sample_value("driftd_drift_limit", labels) > 0

    consumer = KafkaConsumer(
        events_topic,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    published = [msgspec.json.decode(r.value) for r in consumer]
    consumer.close()
    assert len(published) == len([v for v in collect.verdicts if v.drifted])
    assert {p["feature"] for p in published if p["kind"] == "data"} == {"amount", "country"}
    assert all(p["state"] == "drift" and p["value"] > p["limit"] for p in published)
