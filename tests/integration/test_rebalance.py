"""Two replicas in one group: a partition's monitor state moves with the partition."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from kafka import KafkaProducer

from driftd.app import Runtime
from driftd.config import parse_config
from driftd.synthetic import events
from tests.integration.helpers import Background, wait_until

# client_paths: scripts/test.sh runs these on kafka-python too.
pytestmark = [pytest.mark.integration, pytest.mark.client_paths]

PROFILE = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"
WINDOW = 2000


def _config(bootstrap: str, topic: str, handover: str, state: Path):  # type: ignore[no-untyped-def]
    monitors = "\n".join(
        f"""
  - name: {model}
    streams: [predictions]
    model: {model}
    reference: {PROFILE}
    features: [amount, country]
    prediction_drift: false
    window: {{type: count, size: {WINDOW}}}"""
        for model in ("fraud-a", "fraud-b")
    )
    return parse_config(
        f"""
kafka:
  bootstrap_servers: ["{bootstrap}"]
  group_id: g-{topic}
  session_timeout: 6s
  heartbeat_interval: 1s
  poll_timeout: 200ms
http: {{host: 127.0.0.1, port: 0}}
state: {{dir: {state}, checkpoint_interval: 500ms, handover_topic: {handover}}}
streams:
  - name: predictions
    topic: {topic}
    fields: {{model: model, features: {{amount: features.amount, country: features.country}}}}
monitors:{monitors}
""",
        env={},
    )


def _produce(bootstrap: str, topic: str, start: int, n: int) -> None:
    """``n`` events of each model; model a on partition 0, model b on partition 1."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    for partition, model in enumerate(("fraud-a", "fraud-b")):
        for event in events(n, seed=40 + partition + start, first_id=start):
            event["model"] = model
            producer.send(topic, msgspec.json.encode(event), partition=partition)
    producer.flush()
    producer.close()


def _counted(runtime: Runtime, monitor: str) -> tuple[int, int]:
    m = next(x for x in runtime.daemon.processor.monitors if x.name == monitor)
    pending = sum(s["pending_events"] for s in m.status().values())
    return m.windows_closed, pending


def test_monitor_state_follows_its_partition_to_the_new_replica(
    kafka_bootstrap: str, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    topic = make_topic("preds", partitions=2)
    handover = make_topic("handover")
    _produce(kafka_bootstrap, topic, 0, 5000)

    first = Runtime(_config(kafka_bootstrap, topic, handover, tmp_path / "a"))
    run_first = Background(first.run)
    second = None
    try:
        wait_until(
            lambda: (
                _counted(first, "fraud-a") == (2, 1000) and _counted(first, "fraud-b") == (2, 1000)
            ),
            60,
            "first replica counts all",
        )
        # Let a checkpoint publish the state and commit the offsets.
        wait_until(lambda: not first.daemon._uncommitted, 30, "offsets committed")

        second = Runtime(_config(kafka_bootstrap, topic, handover, tmp_path / "b"))
        run_second = Background(second.run)
        wait_until(
            lambda: len(first.daemon._assigned) == 1 and len(second.daemon._assigned) == 1,
            60,
            "one partition each",
        )
        _produce(kafka_bootstrap, topic, 5000, 5000)

        def done() -> bool:
            totals = {}
            for monitor in ("fraud-a", "fraud-b"):
                totals[monitor] = max(_counted(first, monitor), _counted(second, monitor))
            return all(t == (5, 0) for t in totals.values())

        wait_until(done, 60, "10,000 events per model, each counted once")
        # Each model's state lives on exactly one replica; the other forgot it.
        for monitor in ("fraud-a", "fraud-b"):
            states = sorted([_counted(first, monitor), _counted(second, monitor)])
            assert states == [(0, 0), (5, 0)], (monitor, states)
    finally:
        first.daemon.stop()
        run_first.join(60)
        if second is not None:
            second.daemon.stop()
            run_second.join(60)
