"""kill -9 at random moments under load, and records that once put the daemon in a crash loop.

Both run ``python -m driftd run`` as a subprocess against the real broker (see test_faults).
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from kafka import KafkaConsumer, KafkaProducer

from driftd.config import parse_config
from driftd.replay import replay
from driftd.synthetic import events
from tests.fakes.http_apis import FakeApis
from tests.integration.test_consume import _free_port
from tests.integration.test_faults import (
    DaemonProcess,
    Producer,
    Why,
    _committed,
    _encoded,
)

# client_paths: scripts/test.sh runs these on kafka-python too.
pytestmark = [pytest.mark.integration, pytest.mark.client_paths]

PROFILE = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"
WINDOW = 2000
KILLS = 5


def _config(bootstrap: str, topic: str, verdicts: str, port: int, tmp: Path, api: FakeApis) -> str:
    return f"""
kafka:
  bootstrap_servers: ["{bootstrap}"]
  group_id: g-{topic}
  session_timeout: 6s
  heartbeat_interval: 1s
  poll_timeout: 200ms
  max_poll_records: 1500
http: {{host: 127.0.0.1, port: {port}}}
state: {{dir: {tmp / "state"}, checkpoint_interval: 1s}}
events: {{topic: {verdicts}}}
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
    - {{name: drift, matchers: ['alertname=~"DataDrift"'], severity: critical, for_windows: 2}}
  route:
    receiver: slack
    group_by: [monitor]
    group_wait: 10s
    group_interval: 30s
    repeat_interval: 1h
    routes:
      - {{matchers: ['monitor="fraud"'], receiver: slack, continue: true}}
      - {{matchers: ['severity="critical"'], receiver: pagerduty}}
  receivers:
    - {{name: slack, type: slack, channel: "#ml-alerts", token: xoxb-test,
        base_url: "{api.slack_api_url}"}}
    - {{name: pagerduty, type: pagerduty, routing_key: "R0UT1NGKEY00000000000000000000",
        base_url: "{api.url}"}}
  delivery: {{initial_backoff: 0.2s, max_backoff: 1s}}
"""


def _stream() -> list[dict[str, Any]]:
    """Two drift episodes, each firing and resolving."""
    out: list[dict[str, Any]] = []
    for seed, windows, shift in [(41, 4, 0.0), (42, 3, 1.0), (43, 4, 0.0), (44, 3, 1.0)]:
        out += events(windows * WINDOW, seed=seed, shift=shift, first_id=len(out))
    out += events(4 * WINDOW, seed=45, first_id=len(out))
    return out


def _verdicts(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=3000
    )
    try:
        return [json.loads(r.value) for r in consumer]
    finally:
        consumer.close()


def _key(doc: dict[str, Any]) -> tuple[Any, ...]:
    return (doc["window"]["index"], doc["feature"], doc["statistic"])


def _value(doc: dict[str, Any]) -> tuple[Any, ...]:
    return (doc["value"], doc["limit"], doc["state"])


def test_kill_9_at_five_random_moments_gives_the_uninterrupted_verdicts_and_notifications(
    kafka_bootstrap: str, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    topic, verdict_topic = make_topic("preds"), make_topic("verdicts")
    stream = _stream()
    rng = random.Random()
    port = _free_port()
    with FakeApis() as api:
        text = _config(kafka_bootstrap, topic, verdict_topic, port, tmp_path, api)
        cfg = tmp_path / "driftd.yaml"
        cfg.write_text(text)
        daemons: list[DaemonProcess] = []
        why = Why(daemons)
        producer = None
        kills = []
        try:
            daemons.append(DaemonProcess(cfg, port, tmp_path / "daemon-0.log"))
            why.wait(daemons[-1].ready, 90, "the first daemon ready")
            producer = Producer(kafka_bootstrap, topic, _encoded(stream), rate=1000)
            for i in range(KILLS):
                # Under load: the daemon got further than the last one, then anywhere later.
                before = kills[-1] if kills else 0
                current = daemons[-1]
                why.wait(lambda d=current, b=before: d.events("predictions") > b, 60, "progress")
                time.sleep(rng.uniform(0.2, 1.5))
                kills.append(current.events("predictions"))
                daemons[-1].kill()
                daemons.append(DaemonProcess(cfg, port, tmp_path / f"daemon-{i + 1}.log"))
                why.wait(daemons[-1].ready, 90, f"daemon {i + 1} ready")
            total = producer.join()
            last = daemons[-1]
            why.wait(lambda: last.events("predictions") == total, 120, "every event counted")
            why.wait(
                lambda: _committed(kafka_bootstrap, f"g-{topic}", topic, 1) == total,
                30,
                "the committed offsets at the end of the topic",
            )
            # The last windows' timers (group_wait, resolve) run in event time: let them pass.
            time.sleep(3.0)
            assert last.terminate() == 0, why("a clean exit")
        finally:
            if producer is not None:
                producer.thread.join(60)
            for d in daemons:
                d.close()
        requests = list(api.requests)

    # The uninterrupted run of the same config over the same events, through the same loop.
    config = parse_config(text.replace(f"port: {port}", "port: 0"), env={})
    lines = tmp_path / "events.jsonl"
    lines.write_bytes(b"\n".join(msgspec.json.encode(e) for e in stream) + b"\n")
    baseline = tmp_path / "verdicts.jsonl"
    notes_file = tmp_path / "notes.jsonl"
    replay(config, lines, output=baseline, out=io.StringIO(), notifications=notes_file)
    expected = {_key(d): _value(d) for d in map(json.loads, baseline.read_text().splitlines())}

    got: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for doc in _verdicts(kafka_bootstrap, verdict_topic):
        # Windows replayed after a kill are published again: with the very same values.
        assert got.setdefault(_key(doc), _value(doc)) == _value(doc), _key(doc)
    assert got == expected, f"kills with {kills} events counted"

    pd = [r.body["event_action"] for r in requests if r.path == "/v2/enqueue"]
    posts = [
        r for r in requests if r.path == "/api/chat.postMessage" and not r.body.get("thread_ts")
    ]
    # Two episodes: paged twice and resolved twice, in order, never a duplicate trigger;
    # one Slack message per episode, edited in place.
    assert pd == ["trigger", "resolve", "trigger", "resolve"], pd
    assert len(posts) == 2, [p.body for p in posts]
    # The uninterrupted run notified the same: two firing and two resolved PagerDuty groups.
    notes = [json.loads(line) for line in notes_file.read_text().splitlines()]
    statuses = [[a["status"] for a in n["alerts"]] for n in notes if n["receiver"] == "pagerduty"]
    assert [s[0] for s in statuses] == ["firing", "resolved", "firing", "resolved"], statuses
    print(f"kill -9 with {kills} events counted; {len(requests)} requests to Slack/PagerDuty")


def _poison_config(bootstrap: str, topic: str, dlq: str, port: int) -> str:
    return f"""
kafka:
  bootstrap_servers: ["{bootstrap}"]
  group_id: g-{topic}
  session_timeout: 6s
  heartbeat_interval: 1s
  poll_timeout: 200ms
  dead_letter_topic: {dlq}
http: {{host: 127.0.0.1, port: {port}}}
logging: {{format: json}}
streams:
  - name: predictions
    topic: {topic}
    fields: {{id: request_id, timestamp: ts, features: {{amount: features.amount}},
              prediction: score, label: label}}
monitors:
  - name: fraud
    streams: [predictions]
    reference: {PROFILE}
    features: [amount]
    window: {{type: tumbling, every: 10s, min_samples: 50}}
    concept:
      detectors: [{{type: adwin}}]
      performance: {{window: 500, metrics: [accuracy]}}
"""


def test_records_that_once_wedged_the_daemon_are_dead_lettered_and_the_loop_goes_on(
    kafka_bootstrap: str, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    # The source topic takes records up to 3 MB; the dead-letter topic keeps the default 1 MB.
    topic, dlq = make_topic("preds", configs={"max.message.bytes": "3000000"}), make_topic("dlq")
    good = list(events(3000, seed=51))
    poison: list[tuple[str, dict[str, Any]]] = []

    def spoil(reason: str, change: Callable[[dict[str, Any]], None]) -> None:
        event = dict(good[len(poison) * 400 + 100])
        change(event)
        poison.append((reason, event))

    spoil("missing_timestamp", lambda e: e.pop("ts"))  # a tumbling window and no event time
    spoil("bad_id", lambda e: e.update(request_id={"an": "object"}))
    spoil("bad_id", lambda e: e.update(request_id=1.5))
    spoil("bad_label", lambda e: e.update(label={"an": "object"}))
    spoil("bad_prediction", lambda e: e.update(score=int("9" * 400)))
    spoil("timestamp_out_of_range", lambda e: e.update(ts=10**18))
    spoil("timestamp_out_of_range", lambda e: e.update(ts=-(10**15)))
    spoil("timestamp_out_of_range", lambda e: e.update(ts=e["ts"] * 1000))  # µs read as ms
    encoded = [json.dumps(e).encode() for _, e in poison]
    # Undecodable and 1.5 MB: its dead-letter copy must fit the dead-letter topic's 1 MB.
    poison.append(("invalid_json", {}))
    encoded.append(b'{"request_id": "huge", "blob": "' + b"x" * 1_500_000)
    values = [json.dumps(e).encode() for e in good]
    at = []
    for i, value in enumerate(encoded):
        at.append(300 * i + 250)
        values.insert(at[-1], value)
    _produce_large(kafka_bootstrap, topic, values)
    port = _free_port()
    cfg = tmp_path / "driftd.yaml"
    cfg.write_text(_poison_config(kafka_bootstrap, topic, dlq, port))
    daemon = DaemonProcess(cfg, port, tmp_path / "daemon.log")
    why = Why([daemon])
    try:
        why.wait(
            lambda: _committed(kafka_bootstrap, f"g-{topic}", topic, 1) == len(values),
            120,
            "the committed offset past every record",
        )
        assert daemon.alive(), why("the daemon died")
        assert daemon.metric("driftd_dead_letter_records_total") == len(poison)
        assert daemon.status()["events"]["predictions"] == len(good)
    finally:
        daemon.close()
    consumer = KafkaConsumer(
        dlq,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )
    dead = list(consumer)
    consumer.close()
    headers = [dict(r.headers) for r in dead]
    assert [h["driftd.error.reason"].decode() for h in headers] == [r for r, _ in poison]
    assert [int(h["driftd.original.offset"]) for h in headers] == at
    # Byte for byte; the oversized one cut below the topic's limit, with its size and digest.
    assert [r.value for r in dead[:-1]] == [values[i] for i in at[:-1]]
    huge, cut = values[at[-1]], dead[-1]
    assert huge.startswith(cut.value) and len(cut.value) < 1_000_000
    assert headers[-1]["driftd.original.size"] == str(len(huge)).encode()
    assert headers[-1]["driftd.original.sha256"] == hashlib.sha256(huge).hexdigest().encode()


def _produce_large(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, max_request_size=3_000_000, acks="all")
    futures = [producer.send(topic, v) for v in values]
    producer.flush()
    for future in futures:
        future.get(timeout=30)
    producer.close()
