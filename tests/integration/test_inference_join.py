"""The request/response join on the real broker, across a restart: KServe logger requests and
responses (binary-mode CloudEvents with one ``ce_id``) on two topics, merged by id, give the
verdicts of the same inferences logged whole, although the daemon stopped with half of the
requests waiting for their responses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from kafka import KafkaProducer

from driftd.app import Runtime
from driftd.config import parse_config
from driftd.synthetic import events
from tests.integration.helpers import Background, wait_until
from tests.processing import Collect

pytestmark = [pytest.mark.integration, pytest.mark.client_paths]

PROFILE = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"
WINDOW = 1000
N = 8 * WINDOW
ROWS = 4  # rows per logged request


def _config(bootstrap: str, topics: dict[str, str], state: Path) -> Any:
    monitor = (
        f"reference: {PROFILE}, features: [amount, age, country], prediction_drift: true, "
        f"window: {{type: count, size: {WINDOW}}}"
    )
    return parse_config(
        f"""
kafka: {{bootstrap_servers: ["{bootstrap}"], group_id: g-{topics["flat"]},
         poll_timeout: 200ms, session_timeout: 6s, heartbeat_interval: 1s}}
http: {{port: 0}}
state: {{dir: {state}}}
streams:
  - name: flat
    topic: {topics["flat"]}
    fields:
      id: request_id
      prediction: score
      features: {{amount: features.amount, age: features.age, country: features.country}}
  - name: requests
    topic: {topics["requests"]}
    protocol: kserve_v1
    fields:
      id: id
      model: ce.inferenceservicename
      features: {{amount: instance.0, age: instance.1, country: instance.2}}
  - name: responses
    topic: {topics["responses"]}
    protocol: kserve_v1
    fields: {{id: id, prediction: prediction}}
joins:
  - {{name: inferences, streams: [requests, responses], ttl: 10m}}
monitors:
  - {{name: flat, streams: [flat], {monitor}}}
  - {{name: joined, streams: [inferences], {monitor}}}
""",
        env={},
    )


def _headers(lo: int, kind: str) -> list[tuple[str, bytes]]:
    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", f"req-{lo}".encode()),
        ("ce_type", f"org.kubeflow.serving.inference.{kind}".encode()),
        ("ce_source", b"http://fraud-predictor/"),
        ("ce_inferenceservicename", b"fraud-v3"),
    ]


def _send(bootstrap: str, sends: list[tuple[str, bytes, list[tuple[str, bytes]]]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for topic, value, headers in sends:
        producer.send(topic, value, headers=headers)
    producer.flush()
    producer.close()


def _start(cfg: Any) -> tuple[Runtime, Collect, Background]:
    runtime = Runtime(cfg)
    collect = Collect()
    runtime.daemon.processor.sinks.append(collect)  # type: ignore[attr-defined]
    return runtime, collect, Background(runtime.run)


def _join(runtime: Runtime) -> dict[str, int]:
    return runtime.daemon.processor.status()["joins"]["inferences"]  # type: ignore[no-any-return]


def _seen(verdicts: list[Any], monitor: str) -> list[tuple[Any, ...]]:
    return sorted(
        (v.kind, v.feature, v.statistic, v.window_index, v.state.value, round(v.value, 12))
        for v in verdicts
        if v.monitor == monitor
    )


def test_requests_and_responses_join_across_a_restart_with_the_verdicts_of_whole_events(
    kafka_bootstrap: str, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    topics = {k: make_topic(k, partitions=1) for k in ("flat", "requests", "responses")}
    cfg = _config(kafka_bootstrap, topics, tmp_path / "state")
    values = [*events(5 * WINDOW, seed=51), *events(3 * WINDOW, seed=52, shift=1.0,
              first_id=5 * WINDOW)]  # fmt: skip
    encode = msgspec.json.Encoder().encode
    batches = [values[lo : lo + ROWS] for lo in range(0, N, ROWS)]
    requests = [
        (topics["requests"], encode({"instances": [
            [r["features"]["amount"], r["features"]["age"], r["features"]["country"]]
            for r in rows
        ]}), _headers(i * ROWS, "request"))
        for i, rows in enumerate(batches)
    ]  # fmt: skip
    responses = [
        (topics["responses"], encode({"predictions": [r["score"] for r in rows]}),
         _headers(i * ROWS, "response"))
        for i, rows in enumerate(batches)
    ]  # fmt: skip
    flat = [(topics["flat"], encode(v), []) for v in values]
    # Every request first, so the inferences complete in the order of their responses (the
    # order of the flat stream) whichever topic the consumer reads first.
    _send(kafka_bootstrap, [*flat, *requests])
    first, collect_first, run = _start(cfg)
    try:
        wait_until(lambda: _join(first)["requests"] == N, 90, "every request waiting")
        _send(kafka_bootstrap, responses[: len(responses) // 2])
        wait_until(lambda: _join(first)["joined"] == N // 2, 90, "half of the inferences joined")
        assert _join(first)["pending"] == N // 2
    finally:
        first.daemon.stop()
        run.join(60)

    _send(kafka_bootstrap, responses[len(responses) // 2 :])
    second, collect_second, run = _start(cfg)
    try:
        # The waiting requests came back with the checkpoint: their responses join them.
        wait_until(lambda: _join(second)["joined"] == N, 90, "every inference joined")
        join = _join(second)
        assert join["pending"] == 0 and join["expired"] == 0 and join["evicted"] == 0
        assert join["duplicates"] == 0 and join["without_id"] == 0
        wait_until(
            lambda: second.daemon.processor.monitors[1].windows_closed >= 8,  # type: ignore[attr-defined]
            30,
            "8 joined windows",
        )
    finally:
        second.daemon.stop()
        run.join(60)
    verdicts = collect_first.verdicts + collect_second.verdicts
    joined, whole = _seen(verdicts, "joined"), _seen(verdicts, "flat")
    assert joined == whole
    assert {v.feature for v in verdicts if v.monitor == "joined" and v.drifted} >= {"amount"}
    assert any(v.kind == "prediction" for v in verdicts if v.monitor == "joined")
