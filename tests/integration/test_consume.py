"""The first vertical path against a real broker: consume, decode, count, commit, shut down."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from driftd.app import make_source
from driftd.counting import CountingProcessor
from driftd.daemon import Daemon
from driftd.deadletter import KafkaDeadLetters
from driftd.health import Health
from driftd.metrics import build_metrics
from driftd.producing import AckedProducer
from tests.integration.helpers import Background, config, produce, wait_until
from tests.kafka.client import driftd_command

# client_paths: scripts/test.sh runs these on kafka-python too.
pytestmark = [pytest.mark.integration, pytest.mark.client_paths]


def _event(i: int) -> dict[str, object]:
    return {
        "id": f"r{i}",
        "ts": 1_700_000_000_000 + i,
        "x": {"amount": i * 1.5, "country": "DE"},
        "score": 0.5,
    }


def _daemon(cfg, dead_letters=None) -> tuple[Daemon, CountingProcessor]:  # type: ignore[no-untyped-def]
    processor = CountingProcessor()
    metrics = build_metrics()
    daemon = Daemon(
        cfg,
        lambda on_assign: make_source(cfg.kafka, [cfg.streams[0].topic], on_assign),
        processor,
        metrics,
        Health(),
        dead_letters=dead_letters,
    )
    return daemon, processor


def test_counted_exactly_once_across_a_clean_restart(
    kafka_bootstrap: str, make_topic: Callable[..., str]
) -> None:
    topic = make_topic("preds", partitions=3)
    cfg = config(kafka_bootstrap, topic, group=f"g-{topic}")
    produce(kafka_bootstrap, topic, (_event(i) for i in range(3000)))

    first, counted = _daemon(cfg)
    run = Background(first.run)
    wait_until(lambda: counted.events.get("preds", 0) >= 3000, what="first 3000 events")
    first.stop()
    assert run.join() == 0
    assert counted.events["preds"] == 3000

    produce(kafka_bootstrap, topic, (_event(i) for i in range(3000, 5000)))
    second, counted2 = _daemon(cfg)
    run2 = Background(second.run)
    wait_until(lambda: counted2.events.get("preds", 0) >= 2000, what="2000 new events")
    time.sleep(1.5)  # anything replayed from before the restart would show up here
    second.stop()
    run2.join()
    assert counted2.events["preds"] == 2000
    metrics = second.metrics.registry
    assert metrics.get_sample_value("driftd_records_consumed_total", {"stream": "preds"}) == 2000


def test_malformed_records_are_counted_and_dead_lettered(
    kafka_bootstrap: str, make_topic: Callable[..., str]
) -> None:
    topic = make_topic("preds")
    dlq = make_topic("dlq")
    cfg = config(
        kafka_bootstrap, topic, group=f"g-{topic}", extra_kafka=f"dead_letter_topic: {dlq}"
    )
    good = [_event(i) for i in range(100)]
    bad = [b"not json", b'{"id": 1, "x": [1, 2]}', b"", b'{"ts": "yesterday"}', b"\xff\xfe"]
    produce(kafka_bootstrap, topic, [*good[:50], *bad, *good[50:]])

    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    daemon, counted = _daemon(cfg, KafkaDeadLetters(AckedProducer(producer), dlq))
    run = Background(daemon.run)
    wait_until(lambda: counted.events.get("preds", 0) >= 100, what="100 good events")
    daemon.stop()
    run.join()
    producer.close()
    reg = daemon.metrics.registry

    def rejected(reason: str) -> float:
        value = reg.get_sample_value(
            "driftd_records_rejected_total", {"stream": "preds", "reason": reason}
        )
        return value or 0.0

    assert counted.events["preds"] == 100
    assert rejected("invalid_json") == 3  # "not json", empty value, invalid UTF-8
    assert rejected("wrong_shape") == 1
    assert rejected("bad_timestamp") == 1

    consumer = KafkaConsumer(
        dlq,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    dead = list(consumer)
    consumer.close()
    assert sorted(r.value for r in dead) == sorted(bad)
    headers = dict(dead[0].headers)
    assert headers["driftd.original.topic"] == topic.encode()
    assert {"driftd.error.reason", "driftd.error.message", "driftd.original.offset"} <= set(headers)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def test_sigterm_commits_and_exits_zero(
    kafka_bootstrap: str, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    topic = make_topic("preds", partitions=2)
    group = f"g-{topic}"
    port = _free_port()
    cfg_file = tmp_path / "driftd.yaml"
    cfg_file.write_text(f"""
kafka:
  bootstrap_servers: ["{kafka_bootstrap}"]
  group_id: {group}
  session_timeout: 6s
  heartbeat_interval: 1s
http: {{host: 127.0.0.1, port: {port}}}
logging: {{format: json}}
streams:
  - name: preds
    topic: {topic}
    fields: {{id: id, timestamp: ts, features: {{amount: x.amount}}}}
""")
    proc = subprocess.Popen(
        [*driftd_command(), "run", "-c", str(cfg_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )
    try:
        wait_until(lambda: _get(f"http://127.0.0.1:{port}/readyz")[0] == 200, 60, "readyz 200")
        assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        produce(kafka_bootstrap, topic, (_event(i) for i in range(500)))

        def counted() -> bool:
            body = _get(f"http://127.0.0.1:{port}/metrics")[1]
            return 'driftd_events_decoded_total{stream="preds"} 500.0' in body

        wait_until(counted, 30, "500 events on /metrics")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out.decode()
    assert b"driftd stopped" in out

    check = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    partitions = [TopicPartition(topic, p) for p in range(2)]
    committed = sum(check.committed(tp) or 0 for tp in partitions)
    check.close()
    assert committed == 500
