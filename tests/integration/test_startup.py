"""Start-up without a broker, and a topic that does not exist: driftd says so, serves health,
keeps trying, and reads once things are there."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import pytest
from kafka.admin import KafkaAdminClient

from tests.integration.helpers import produce, wait_until
from tests.integration.test_consume import _free_port
from tests.integration.test_faults import DaemonProcess, _event, _simple_config

# client_paths: scripts/test.sh runs these on kafka-python too.
pytestmark = [pytest.mark.integration, pytest.mark.client_paths]


def _kafka_lines(output: str) -> int:
    return sum('"logger": "kafka' in line or " kafka." in line for line in output.splitlines())


def test_no_broker_at_start_up_serves_health_and_connects_when_it_comes(tmp_path: Path) -> None:
    from tests.kafka.broker import KafkaBroker

    broker = KafkaBroker()  # its address is known; it is not started yet
    port = _free_port()
    cfg = tmp_path / "driftd.yaml"
    cfg.write_text(_simple_config(broker.bootstrap, "late-topic", port, "produce_timeout: 3s"))
    daemon = DaemonProcess(cfg, port, tmp_path / "daemon.log")
    try:
        wait_until(lambda: daemon.get("/healthz")[0] == 200, 30, "/healthz while no broker")
        assert daemon.get("/readyz")[0] == 503
        wait_until(
            lambda: "cannot reach the Kafka brokers" in daemon.output(), 30, "driftd's own line"
        )
        time.sleep(10)  # several more attempts
        assert daemon.alive(), daemon.output()[-3000:]
        output = daemon.output()
        assert output.count("cannot reach the Kafka brokers") == 1  # once a minute, not a flood
        assert _kafka_lines(output) < 15, output[-3000:]

        broker.start()
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        admin.create_topics({"late-topic": {"num_partitions": 1, "replication_factor": 1}})
        admin.close()
        values = [msgspec.json.encode(_event(i)) for i in range(500)]
        produce(broker.bootstrap, "late-topic", values)
        wait_until(lambda: daemon.events("preds") == 500, 120, "the 500 events read")
        assert "connected to the Kafka brokers" in daemon.output()
        assert daemon.terminate() == 0
    finally:
        daemon.close()
        broker.cleanup()


def test_a_topic_that_does_not_exist_is_named(kafka_bootstrap: str, tmp_path: Path) -> None:
    port = _free_port()
    cfg = tmp_path / "driftd.yaml"
    cfg.write_text(_simple_config(kafka_bootstrap, "no-such-topic-here", port))
    daemon = DaemonProcess(cfg, port, tmp_path / "daemon.log")
    try:
        wait_until(
            lambda: "topic 'no-such-topic-here' does not exist" in daemon.output(),
            60,
            "a driftd line naming the missing topic",
        )
        assert daemon.alive()
        assert _kafka_lines(daemon.output()) < 15, daemon.output()[-3000:]
        assert daemon.terminate() == 0
    finally:
        daemon.close()
