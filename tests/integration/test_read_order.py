"""A backlog of two topics is read in the order live traffic had, and paused partitions resume.

Predictions are ~300 bytes, labels ~40: read by bytes, a backlog's labels come long before
their predictions. These tests produce predictions and their labels (each 500 events later)
with the record timestamps live traffic would have, then read the backlog with a fresh group.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from driftd.app import Runtime, make_source
from driftd.config import parse_config
from driftd.sources.kafka import release_parked
from driftd.synthetic import events
from tests.integration.helpers import Background, wait_until

# client_paths: scripts/test.sh runs these on kafka-python too.
pytestmark = [pytest.mark.integration, pytest.mark.client_paths]

PROFILE = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"
N = 20_000
SPACING_MS = 10  # one prediction every 10 ms: the stream spans 200 s of record time
DELAY = 500  # a label is produced 500 predictions (5 s) after its prediction
POLL = 700


def _produce_live_order(bootstrap: str, preds: str, labels: str) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, batch_size=256 * 1024)
    t0 = int(time.time() * 1000) - N * SPACING_MS - 60_000
    for i, event in enumerate(events(N, seed=41)):
        label = {"request_id": event["request_id"], "label": event.pop("label")}
        producer.send(preds, msgspec.json.encode(event), timestamp_ms=t0 + i * SPACING_MS)
        producer.send(
            labels, msgspec.json.encode(label), timestamp_ms=t0 + (i + DELAY) * SPACING_MS
        )
    producer.flush()
    producer.close()


def _kafka_yaml(bootstrap: str, group: str, skew: str) -> str:
    return f"""
kafka:
  bootstrap_servers: ["{bootstrap}"]
  group_id: {group}
  auto_offset_reset: earliest
  session_timeout: 6s
  heartbeat_interval: 1s
  poll_timeout: 200ms
  max_poll_records: {POLL}
  max_read_skew: {skew}
"""


def _read_all(bootstrap: str, preds: str, labels: str, skew: str) -> list[int]:
    cfg = parse_config(
        _kafka_yaml(bootstrap, f"order-{preds}-{skew}", skew)
        + f"streams: [{{name: p, topic: {preds}, fields: {{id: request_id}}}},"
        f" {{name: l, topic: {labels}, fields: {{id: request_id}}}}]\n",
        env={},
    )
    source = make_source(cfg.kafka, [preds, labels], lambda assigned, revoked: None)
    stamps: list[int] = []
    deadline = time.monotonic() + 90
    try:
        while len(stamps) < 2 * N and time.monotonic() < deadline:
            for records in source.poll(0.2).values():
                stamps.extend(r.timestamp for r in records)
    finally:
        source.close()
    assert len(stamps) == 2 * N, f"read {len(stamps)} of {2 * N} records"
    return stamps


def _disorder_ms(stamps: list[int]) -> int:
    """Most a record's timestamp lies behind one read before it."""
    worst, latest = 0, stamps[0]
    for ts in stamps:
        latest = max(latest, ts)
        worst = max(worst, latest - ts)
    return worst


def test_backlog_is_read_in_record_time_order(
    kafka_bootstrap: str, make_topic: Callable[..., str]
) -> None:
    preds, labels = make_topic("preds"), make_topic("labels")
    _produce_live_order(kafka_bootstrap, preds, labels)

    aligned = _disorder_ms(_read_all(kafka_bootstrap, preds, labels, "1s"))
    # The skew, plus one poll of the partition that ran ahead before it was paused; and when
    # the labels are read first, their first poll starts 5 s (DELAY) after the predictions'
    # first record, before anything is known of the predictions' times (11.99 s seen in CI).
    assert aligned <= 1000 + POLL * SPACING_MS + DELAY * SPACING_MS, aligned
    # Without alignment one topic is read (nearly) whole before the other.
    unaligned = _disorder_ms(_read_all(kafka_bootstrap, preds, labels, "null"))
    assert unaligned > 10 * aligned, (aligned, unaligned)


def test_backlog_of_predictions_and_labels_joins_like_live_traffic(
    kafka_bootstrap: str, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    preds, labels = make_topic("preds"), make_topic("labels")
    _produce_live_order(kafka_bootstrap, preds, labels)
    # Room for 1,000 early labels: plenty live (a label comes 5 s after its prediction),
    # far too little if the 20,000 labels of the backlog were read before the predictions.
    cfg = parse_config(
        _kafka_yaml(kafka_bootstrap, f"join-{preds}", "2s")
        + f"""http: {{host: 127.0.0.1, port: 0}}
streams:
  - name: predictions
    topic: {preds}
    fields: {{id: request_id, timestamp: ts, features: {{amount: features.amount}},
              prediction: score}}
  - name: labels
    topic: {labels}
    fields: {{id: request_id, label: label}}
monitors:
  - name: fraud
    streams: [predictions, labels]
    reference: {PROFILE}
    features: [amount]
    window: {{type: count, size: 2000}}
    concept:
      join: {{ttl: 1h, max_early_labels: 1000}}
      detectors: [{{type: adwin}}]
      performance: {{window: 1000, metrics: [accuracy]}}
""",
        env={},
    )
    runtime = Runtime(cfg)
    run = Background(runtime.run)

    def join() -> dict[str, Any]:
        return runtime.daemon.processor.status()["concept"]["fraud"]["join"]

    try:
        wait_until(lambda: join()["labels"] == N, 120, "every label read")
        assert join()["matched"] == N, join()
        assert join()["unmatched_labels"] == 0 and join()["pending"] == 0, join()
    finally:
        runtime.daemon.stop()
        run.join(60)


def test_a_partition_paused_mid_batch_is_read_again_after_resume(
    kafka_bootstrap: str, make_topic: Callable[..., str]
) -> None:
    a, b = make_topic("a"), make_topic("b")
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for i in range(1000):
        producer.send(a, b"a%d" % i)
        producer.send(b, b"b%d" % i)
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    parts = [TopicPartition(a, 0), TopicPartition(b, 0)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    got: dict[str, int] = {a: 0, b: 0}

    def poll(max_records: int) -> set[str]:
        seen = set()
        for tp, records in consumer.poll(timeout_ms=200, max_records=max_records).items():
            got[tp.topic] += len(records)
            seen.add(tp.topic)
        return seen

    try:
        deadline = time.monotonic() + 30
        first: set[str] = set()
        while not first and time.monotonic() < deadline:
            first = poll(10)  # the in-line batch now belongs to this partition
        (ahead,) = first
        other = b if ahead == a else a
        consumer.pause(TopicPartition(ahead, 0))
        while got[other] < 1000 and time.monotonic() < deadline:
            poll(100_000)  # the other partition read to its end: its batch is exhausted
        assert got[other] == 1000
        consumer.resume(TopicPartition(ahead, 0))
        release_parked(consumer)
        while got[ahead] < 1000 and time.monotonic() < deadline:
            poll(100_000)
        assert got[ahead] == 1000, f"the resumed partition stopped at {got[ahead]} of 1000"
    finally:
        consumer.close()
