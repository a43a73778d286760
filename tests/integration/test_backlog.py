"""A drift read from a backlog by a fresh consumer group notifies exactly as the live run did."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from driftd.app import Runtime
from driftd.config import parse_config
from driftd.synthetic import events
from tests.fakes.http_apis import FakeApis
from tests.integration.helpers import Background, produce, wait_until

# client_paths: scripts/test.sh runs these on kafka-python too.
pytestmark = [pytest.mark.integration, pytest.mark.client_paths]

PROFILE = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"
WINDOW = 2000  # events 10 ms apart: a window spans 20 s of event time


def _config(bootstrap: str, topic: str, group: str, api: FakeApis, outbox: Path) -> Any:
    return parse_config(
        f"""
kafka:
  bootstrap_servers: ["{bootstrap}"]
  group_id: {group}
  auto_offset_reset: earliest
  session_timeout: 6s
  heartbeat_interval: 1s
  poll_timeout: 200ms
  max_poll_records: 700
http: {{host: 127.0.0.1, port: 0}}
streams:
  - name: predictions
    topic: {topic}
    fields:
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
  outbox_dir: {outbox}
  rules:
    - {{name: drift, matchers: ['alertname=~"DataDrift"'], severity: critical}}
  route:
    receiver: slack
    group_by: [monitor]
    group_wait: 30s
    group_interval: 1m
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
""",
        env={},
    )


def _stream() -> list[list[dict[str, Any]]]:
    """10 clean windows, 3 shifted, 8 clean: one episode that fires and resolves."""
    return [
        list(events(10 * WINDOW, seed=31)),
        list(events(3 * WINDOW, seed=32, shift=1.0, first_id=10 * WINDOW)),
        list(events(8 * WINDOW, seed=33, first_id=13 * WINDOW)),
    ]


def _normalise(api: FakeApis) -> list[tuple[str, str]]:
    """What each receiver was told, without the fake's message ids."""
    out = []
    for request in api.requests:
        body = dict(request.body) if isinstance(request.body, dict) else {"raw": request.body}
        body.pop("ts", None)
        body.pop("thread_ts", None)
        body.pop("metadata", None)  # a random nonce per post (see driftd.alerting.slack)
        out.append((request.path, json.dumps(body, sort_keys=True)))
    return out


def _resolved(api: FakeApis) -> bool:
    return any(
        r.path == "/v2/enqueue" and r.body.get("event_action") == "resolve" for r in api.requests
    )


def _run(runtime: Runtime, api: FakeApis, feed: Callable[[], None]) -> list[tuple[str, str]]:
    run = Background(runtime.run)
    try:
        feed()
        wait_until(lambda: _resolved(api), 120, "the PagerDuty resolve")
        # Nothing more arrives: what was sent is complete.
        count = len(api.requests)
        time.sleep(3)
        assert len(api.requests) == count
    finally:
        runtime.daemon.stop()
        run.join(60)
    return _normalise(api)


def test_a_fresh_group_reading_the_backlog_sends_what_the_live_run_sent(
    kafka_bootstrap: str, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    parts = _stream()
    live_topic = make_topic("live")
    with FakeApis() as api:
        runtime = Runtime(_config(kafka_bootstrap, live_topic, "g-live", api, tmp_path / "a"))

        def feed_live() -> None:
            wait_until(lambda: runtime.daemon.caught_up, 60, "the live consumer at the head")
            for part in parts:
                for i in range(0, len(part), WINDOW // 2):
                    produce(kafka_bootstrap, live_topic, part[i : i + WINDOW // 2])

        live = _run(runtime, api, feed_live)

    backlog_topic = make_topic("backlog")
    for part in parts:
        produce(kafka_bootstrap, backlog_topic, part)
    with FakeApis() as api:
        cfg = _config(kafka_bootstrap, backlog_topic, "g-fresh", api, tmp_path / "b")
        backlog = _run(Runtime(cfg), api, lambda: None)

    assert backlog == live
    paths = [p for p, _ in live]
    # Slack: one message posted, then edited into the resolve; PagerDuty: trigger, resolve.
    assert paths.count("/api/chat.postMessage") == 1
    assert paths.count("/v2/enqueue") == 2
    actions = [json.loads(b)["event_action"] for p, b in live if p == "/v2/enqueue"]
    assert actions == ["trigger", "resolve"]
    assert "/api/chat.update" in paths
