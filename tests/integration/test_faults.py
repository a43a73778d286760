"""Fault injection against a real broker: kill -9 under load, a broker outage, poison messages.

Each test runs ``python -m driftd run`` as a subprocess (its output goes to a file under
``tmp_path``, shown when a test fails) and checks exact outcomes through /status, /metrics,
/readyz and the topics themselves.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from driftd.synthetic import events
from tests.fakes.http_apis import FakeApis
from tests.integration.helpers import produce, wait_until
from tests.integration.test_consume import _free_port, _get
from tests.kafka.client import driftd_command

pytestmark = pytest.mark.integration

PROFILE = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"
WINDOW = 2000


class DaemonProcess:
    """``python -m driftd run -c CONFIG`` as a subprocess serving HTTP on ``port``."""

    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*driftd_command(), "run", "-c", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=os.environ.copy(),
            )

    def get(self, path: str) -> tuple[int, str]:
        """Status code and body of a GET (0 when nothing answers)."""
        return _get(f"http://127.0.0.1:{self.port}{path}")

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc.poll() is None

    def ready(self) -> bool:
        """Whether /readyz answers 200."""
        return self.get("/readyz")[0] == 200

    def status(self) -> dict[str, Any]:
        """The /status document ({} while it does not answer)."""
        code, body = self.get("/status")
        return json.loads(body) if code == 200 else {}

    def events(self, stream: str) -> int:
        """Events counted for ``stream`` in /status (-1 while it does not answer)."""
        return int(self.status().get("events", {}).get(stream, 0)) if self.ready() else -1

    def metric(self, sample: str, **labels: str) -> float:
        """The sum of every sample named ``sample`` whose labels include ``labels``."""
        for _ in range(3):  # a busy loop can make one scrape miss the 2 s client timeout
            code, body = self.get("/metrics")
            if code == 200:
                break
        assert code == 200, f"/metrics answered {code}"
        total = 0.0
        for family in text_string_to_metric_families(body):
            for s in family.samples:
                if s.name == sample and labels.items() <= s.labels.items():
                    total += s.value
        return total

    def kill(self) -> None:
        """SIGKILL: no flush, no checkpoint, no commit."""
        self.proc.kill()
        self.proc.wait(timeout=30)

    def terminate(self) -> int:
        """SIGTERM and wait; returns the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)

    def close(self) -> None:
        """Make sure the process is gone (used in ``finally``): SIGTERM, then SIGKILL."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)

    def output(self) -> str:
        """Everything the process printed so far."""
        return self.log.read_text(errors="replace")


class Producer:
    """Produces ``values`` from a background thread, ``rate`` per second, counting the acks."""

    def __init__(self, bootstrap: str, topic: str, values: Iterable[bytes], rate: int) -> None:
        self.acked = 0
        self.error: BaseException | None = None
        self._args = (bootstrap, topic, values, rate)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        bootstrap, topic, values, rate = self._args
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        try:
            chunk = max(1, rate // 10)
            started = time.monotonic()
            futures = []
            for sent, value in enumerate(values, start=1):
                futures.append(producer.send(topic, value))
                if sent % chunk == 0:
                    # Paced: each chunk leaves on time, so records flow for the whole run.
                    time.sleep(max(0.0, started + sent / rate - time.monotonic()))
            producer.flush()
            for future in futures:
                future.get(timeout=30)
                self.acked += 1
        except BaseException as exc:  # handed to the test by join()
            self.error = exc
        finally:
            producer.close()

    @property
    def running(self) -> bool:
        """Whether records are still being produced."""
        return self.thread.is_alive()

    def join(self, timeout: float = 120.0) -> int:
        """Wait until every record is acknowledged; returns how many were produced."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the producer did not finish"
        if self.error is not None:
            raise self.error
        return self.acked


def _encoded(values: Iterable[dict[str, Any]]) -> Iterable[bytes]:
    encode = msgspec.json.Encoder().encode
    return (encode(v) for v in values)


def _committed(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    check = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return sum(check.committed(TopicPartition(topic, p)) or 0 for p in range(partitions))
    finally:
        check.close()


class Why:
    """Failure messages that end with the daemons' latest output."""

    def __init__(self, daemons: list[DaemonProcess]) -> None:
        self.daemons = daemons

    def __call__(self, what: str) -> str:
        tails = "\n".join(f"--- {d.log.name}:\n{d.output()[-6000:]}" for d in self.daemons)
        return f"{what}\n{tails}"

    def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        """``wait_until``, failing with the output as it is at the timeout."""
        try:
            wait_until(predicate, timeout, what)
        except AssertionError as exc:
            raise AssertionError(self(str(exc))) from None


# -- 1. kill -9 under load, then restart ------------------------------------------------------


def _kill_config(bootstrap: str, topic: str, port: int, tmp: Path, api: FakeApis) -> str:
    return f"""
kafka:
  bootstrap_servers: ["{bootstrap}"]
  group_id: g-{topic}
  session_timeout: 6s
  heartbeat_interval: 1s
  poll_timeout: 200ms
http: {{host: 127.0.0.1, port: {port}}}
state: {{dir: {tmp / "state"}, checkpoint_interval: 1s}}
logging: {{format: json}}
streams:
  - name: predictions
    topic: {topic}
    fields:
      id: request_id
      timestamp: ts
      features: {{amount: features.amount, age: features.age, country: features.country}}
monitors:
  - name: fraud
    streams: [predictions]
    reference: {PROFILE}
    features: [amount, age, country]
    prediction_drift: false
    window: {{type: count, size: {WINDOW}}}
alerting:
  outbox_dir: {tmp / "outbox"}
  rules:
    - name: drift
      matchers: ['alertname=~"DataDrift"']
      severity: critical
  route:
    receiver: pagerduty
    group_by: [monitor]
    group_wait: 0s
    group_interval: 1s
    repeat_interval: 1h
  receivers:
    - {{name: pagerduty, type: pagerduty, routing_key: "R0UT1NGKEY00000000000000000000",
        base_url: "{api.url}"}}
  delivery: {{initial_backoff: 0.2s, max_backoff: 1s}}
"""


def _checkpoint(state: Path) -> tuple[int, int]:
    """(offsets covered summed over partitions, events counted) of the current checkpoint."""
    current = state / (state / "CURRENT").read_text().strip()
    offsets = json.loads((current / "offsets.json").read_text())["offsets"]
    with np.load(current / "monitors.npz", allow_pickle=False) as data:
        meta = json.loads(data["meta.json"].tobytes())
    return sum(offsets.values()), int(meta["events"].get("predictions", 0))


@pytest.mark.client_paths
def test_kill_9_under_load_then_restart_counts_every_event_once(
    kafka_bootstrap: str, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    partitions = 3
    topic = make_topic("preds", partitions=partitions)
    port = _free_port()
    baseline, shifted = 6 * WINDOW, 14 * WINDOW
    with FakeApis() as api:
        cfg = tmp_path / "driftd.yaml"
        cfg.write_text(_kill_config(kafka_bootstrap, topic, port, tmp_path, api))

        def triggers() -> list[Any]:
            return [
                r
                for r in api.requests
                if r.path == "/v2/enqueue" and r.body.get("event_action") == "trigger"
            ]

        first = DaemonProcess(cfg, port, tmp_path / "daemon-1.log")
        daemons = [first]
        why = Why(daemons)
        producer = None
        try:
            why.wait(first.ready, 90, "the first daemon ready")
            stream = _encoded(
                [
                    *events(baseline, seed=31),
                    *events(shifted, seed=32, shift=1.0, first_id=baseline),
                ]
            )
            producer = Producer(kafka_bootstrap, topic, stream, rate=2500)
            # Kill once drift has paged and a checkpoint is on disk, while records still flow.
            why.wait(lambda: len(triggers()) == 1, 60, "the PagerDuty trigger")
            why.wait(lambda: first.metric("driftd_checkpoints_total") >= 1, 30, "a checkpoint")
            time.sleep(random.Random().uniform(0.2, 0.9))  # anywhere between two checkpoints
            assert producer.running, "production ended before the kill: make it longer"
            shown = first.events("predictions")  # in /status just before the kill
            first.kill()
            killed_at = time.monotonic()

            covered, counted = _checkpoint(tmp_path / "state")
            # The checkpoint's counts are exactly the records before its offsets...
            assert counted == covered
            # ...and offsets are committed only after a checkpoint covers them.
            assert _committed(kafka_bootstrap, f"g-{topic}", topic, partitions) <= covered

            second = DaemonProcess(cfg, port, tmp_path / "daemon-2.log")
            daemons.append(second)
            total = producer.join()
            assert total == baseline + shifted
            why.wait(lambda: second.events("predictions") >= total, 90, "the restart to catch up")
            caught_up = time.monotonic() - killed_at
            time.sleep(2.0)  # a duplicate delivery or a late page would show up here
            status = second.status()
            assert status["events"]["predictions"] == total
            # Records from the checkpoint's offsets on were read once more, and only those.
            assert second.metric("driftd_records_consumed_total") == total - covered
            fraud = status["monitors"]["fraud"]["all"]
            assert fraud["windows"] * WINDOW + fraud["pending_events"] == total
            assert fraud["windows"] == total // WINDOW
            assert len(triggers()) == 1, [r.body for r in triggers()]  # no second page
            # Idle after the catch-up, the last records still get checkpointed and committed.
            why.wait(
                lambda: _committed(kafka_bootstrap, f"g-{topic}", topic, partitions) == total,
                15,
                "the committed offsets to reach the end of the topic",
            )
            assert second.terminate() == 0, why("a clean exit")
            print(
                f"kill -9 with {shown} events shown in /status, {covered} checkpointed, "
                f"{total - covered} read after the restart; caught up {caught_up:.1f}s after it"
            )
        finally:
            if producer is not None:
                producer.thread.join(60)
            for d in daemons:
                d.close()


# -- 2. the broker stopped for 60 s and started again ----------------------------------------


def _simple_config(
    bootstrap: str,
    topic: str,
    port: int,
    extra_kafka: str = "",
    monitors: str = "",
    state: Path | None = None,
) -> str:
    state_dir = f"state: {{dir: {state}, checkpoint_interval: 1s}}" if state else ""
    return f"""
kafka:
  bootstrap_servers: ["{bootstrap}"]
  group_id: g-{topic}
  session_timeout: 6s
  heartbeat_interval: 1s
  poll_timeout: 200ms
  {extra_kafka}
http: {{host: 127.0.0.1, port: {port}}}
logging: {{format: json}}
{state_dir}
streams:
  - name: preds
    topic: {topic}
    fields:
      id: id
      timestamp: ts
      features: {{amount: x.amount, country: x.country}}
      prediction: score
{monitors}"""


def _event(i: int) -> dict[str, Any]:
    return {"id": f"r{i}", "ts": 1_700_000_000_000 + i, "x": {"amount": i * 1.5}, "score": 0.5}


@pytest.mark.client_paths
def test_broker_outage_of_60s_is_ridden_out(tmp_path: Path) -> None:
    from kafka.admin import KafkaAdminClient

    from tests.kafka.broker import KafkaBroker

    outage = 60.0
    broker = KafkaBroker().start()
    daemon = None
    try:
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        topic = "preds-outage"
        admin.create_topics(
            {topic: {"num_partitions": 2, "replication_factor": 1}}, wait_for_metadata=True
        )
        admin.close()
        port = _free_port()
        cfg = tmp_path / "driftd.yaml"
        cfg.write_text(_simple_config(broker.bootstrap, topic, port, state=tmp_path / "state"))
        daemon = DaemonProcess(cfg, port, tmp_path / "daemon.log")
        why = Why([daemon])
        why.wait(daemon.ready, 60, "ready")
        produce(broker.bootstrap, topic, (_event(i) for i in range(1000)))
        why.wait(lambda: daemon.events("preds") == 1000, 30, "1000 events")

        stopping = time.monotonic()
        broker.stop()
        stopped = time.monotonic()
        unready_after = None
        health_codes: set[int] = set()
        while time.monotonic() < stopping + outage:
            assert daemon.alive(), why("the daemon exited during the outage")
            health_codes.add(daemon.get("/healthz")[0])
            code, body = daemon.get("/readyz")
            if unready_after is None and code == 503:
                assert "broker_connected" in body, body
                unready_after = time.monotonic() - stopped
            time.sleep(0.5)
        assert health_codes == {200}, why(f"/healthz answered {health_codes}")
        assert unready_after is not None and unready_after < 20, why("not ready in the outage")
        code, body = daemon.get("/readyz")
        assert code == 503 and "broker_connected" in body, body  # and still not ready at 60 s

        restarted = time.monotonic()
        broker.start()
        why.wait(daemon.ready, 60, "ready again after the broker came back")
        ready_again = time.monotonic() - restarted
        back = time.monotonic()
        produce(broker.bootstrap, topic, (_event(i) for i in range(1000, 3000)))
        produced = time.monotonic() - back
        why.wait(lambda: daemon.events("preds") >= 3000, 60, "the catch-up")
        counted = time.monotonic() - back
        time.sleep(1.0)
        assert daemon.events("preds") == 3000
        assert daemon.metric("driftd_records_consumed_total") == 3000
        why.wait(
            lambda: _committed(broker.bootstrap, f"g-{topic}", topic, 2) == 3000,
            15,
            "the committed offsets to reach the end of the topic",
        )
        assert daemon.terminate() == 0, why("a clean exit")
        print(
            f"not ready {unready_after:.1f}s after the broker stopped "
            f"(stop took {stopped - stopping:.1f}s); ready {ready_again:.1f}s after its restart; "
            f"2000 more produced in {produced:.1f}s and counted {counted:.1f}s after ready"
        )
    finally:
        if daemon is not None:
            daemon.close()
        broker.cleanup()


# -- 3. 100,000 random and malformed messages -------------------------------------------------


def _poison(rng: random.Random, good: dict[str, Any]) -> tuple[bytes | None, str]:
    """One record the decoder must reject, and what kind it is."""
    encoded = msgspec.json.encode(good)
    kind = rng.choice(
        [
            "random",
            "truncated",
            "array",
            "scalar",
            "nested",
            "concatenated",
            "non_utf8",
            "empty",
            "tombstone",
            "timestamp",
            "deep",
        ]
    )
    if kind == "random":
        value = os.urandom(rng.randint(1, 300))
        if value.lstrip(b" \t\r\n").startswith(b"{"):
            value = b"]" + value  # anything but an object, so it cannot be a valid event
        return value, kind
    if kind == "truncated":  # a JSON object cut anywhere before its closing brace
        return encoded[: rng.randint(1, len(encoded) - 1)], kind
    if kind == "array":
        return rng.choice([b"[]", msgspec.json.encode([good]), b"[1, 2, 3]"]), kind
    if kind == "scalar":
        return rng.choice([b"null", b"42", b'"event"', b"true", b"-0.5e3"]), kind
    if kind == "nested":  # a scalar or object where the path needs the other
        return rng.choice(
            [
                b'{"id": "n1", "ts": 1700000000000, "x": [1, 2]}',
                b'{"id": "n2", "ts": 1700000000000, "x": "DE"}',
                b'{"id": "n3", "ts": 1700000000000, "x": 12.5}',
            ]
        ), kind
    if kind == "concatenated":  # two events in one record, or two halves of one
        return rng.choice([encoded + b"," + encoded, encoded + b"\n" + encoded, b'{"q": "}']), kind
    if kind == "non_utf8":
        return rng.choice(
            [
                b'{"id": "\xff\xfe", "ts": 1700000000000}',
                '{"id": "M\u00fcnchen", "ts": 1700000000000}'.encode("latin-1"),
                b"\xff\xfe" + encoded,
                encoded.replace(b'"id":"', b'"id":"\xed\xa0\x80', 1),  # a UTF-16 surrogate
                encoded.replace(b'"x":{', b'"x":{"country":"\xc3\x28",', 1),
            ]
        ), kind
    if kind == "empty":
        return rng.choice([b"", b" ", b"\n"]), kind
    if kind == "tombstone":
        return None, kind
    if kind == "timestamp":
        bad_ts = rng.choice(
            [
                *(b'"yesterday"', b"true", b'{"ms": 1}', b"[1700000000000]"),
                *(b'"1700000000000"', b"1" + b"0" * 400),
            ]
        )
        return b'{"id": "t", "ts": ' + bad_ts + b', "x": {"amount": 1}}', kind
    # deep: arrays nested past the decoder's depth limit where a scalar belongs
    depth = rng.randint(2000, 20000)
    return b'{"id": ' + b"[" * depth + b"]" * depth + b', "ts": 1}', kind


def _odd_but_valid(rng: random.Random, i: int) -> dict[str, Any]:
    """An event the decoder must accept: odd values are schema anomalies, not bad records."""
    event = _event(i)
    event["x"]["amount"] = rng.choice(
        [{"v": 1}, [1, 2], "12", True, None, 1e308, -(10**30), 10**400]
    )
    event["x"]["country"] = rng.choice([["DE"], {"c": "DE"}, 7, "\u00dcberland \U0001f600", ""])
    event[rng.choice(["extra", "x2", "ü"])] = {"deep": [[[1]]]}
    if rng.random() < 0.3:
        event["ts"] = None  # a missing event time is NaN, not an error
    return event


@pytest.mark.client_paths
def test_100k_random_and_malformed_messages(
    kafka_bootstrap: str, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    partitions = 3
    topic = make_topic("poison", partitions=partitions)
    dlq = make_topic("dlq")
    rng = random.Random(20240617)
    total = 100_000
    records: list[tuple[bytes | None, bool]] = []  # (value, whether it is bad)
    bad_kinds: dict[str, int] = {}
    for i in range(total):
        roll = rng.random()
        if roll < 0.5:
            records.append((msgspec.json.encode(_event(i)), False))
        elif roll < 0.6:
            records.append((msgspec.json.encode(_odd_but_valid(rng, i)), False))
        else:
            value, kind = _poison(rng, _event(i))
            records.append((value, True))
            bad_kinds[kind] = bad_kinds.get(kind, 0) + 1
    bad = sum(bad_kinds.values())
    good = total - bad

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=5, batch_size=256 * 1024)
    expected: dict[tuple[int, int], tuple[bytes, bytes | None]] = {}  # bad: key and value
    # Keyed: a tombstone (no value) needs a key.
    futures = [producer.send(topic, value, key=b"%d" % i) for i, (value, _) in enumerate(records)]
    producer.flush()
    for i, ((value, is_bad), future) in enumerate(zip(records, futures, strict=True)):
        meta = future.get(timeout=30)
        if is_bad:
            expected[(meta.partition, meta.offset)] = (b"%d" % i, value)
    producer.close()

    port = _free_port()
    cfg = tmp_path / "driftd.yaml"
    # A monitor too, so the odd values that decode reach the windows and the schema checks.
    monitor = f"""
monitors:
  - name: fraud
    streams: [preds]
    reference: {PROFILE}
    features: [amount, country]
    prediction_drift: false
    window: {{type: count, size: {WINDOW}}}
"""
    cfg.write_text(
        _simple_config(kafka_bootstrap, topic, port, f"dead_letter_topic: {dlq}", monitor)
    )
    daemon = DaemonProcess(cfg, port, tmp_path / "daemon.log")
    why = Why([daemon])
    try:
        why.wait(daemon.ready, 60, "ready")

        def consumed() -> float:
            assert daemon.alive(), why("the daemon died")
            return daemon.metric("driftd_records_consumed_total")

        why.wait(lambda: consumed() >= total, 90, f"{total} records consumed")
        why.wait(
            lambda: _committed(kafka_bootstrap, f"g-{topic}", topic, partitions) == total,
            30,
            "the committed offsets to reach the end of the topic",
        )
        assert daemon.alive()
        assert daemon.metric("driftd_records_rejected_total") == bad, bad_kinds
        assert daemon.metric("driftd_events_decoded_total") == good
        assert daemon.metric("driftd_dead_letter_records_total") == bad
        assert daemon.status()["events"]["preds"] == good
        assert daemon.terminate() == 0, why("a clean exit")
    finally:
        daemon.close()

    consumer = KafkaConsumer(
        dlq,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
    )
    dead: dict[tuple[int, int], Any] = {}
    for record in consumer:
        headers = dict(record.headers)
        assert headers["driftd.original.topic"] == topic.encode()
        assert headers["driftd.error.reason"] in {
            b"invalid_json",
            b"wrong_shape",
            b"bad_timestamp",
            b"empty",
        }, headers
        assert headers["driftd.error.message"]
        key = (int(headers["driftd.original.partition"]), int(headers["driftd.original.offset"]))
        assert key not in dead, f"{key} dead-lettered twice"
        dead[key] = (record.key, record.value)
    consumer.close()
    assert len(expected) == bad
    assert dead.keys() == expected.keys()
    for where, (key, value) in expected.items():
        # Byte for byte, with the original key (a tombstone stays a tombstone).
        assert dead[where] == (key, value), where
    print(f"{bad} bad records of {total}: {dict(sorted(bad_kinds.items()))}")
