"""From injected drift on a real broker to a Slack message and a PagerDuty page, and back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from driftd.app import Runtime
from driftd.config import parse_config
from driftd.synthetic import events
from tests.fakes.http_apis import FakeApis
from tests.integration.helpers import Background, produce, wait_until

pytestmark = pytest.mark.integration

PROFILE = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"
WINDOW = 2000


def _config(bootstrap: str, topic: str, api: FakeApis, outbox: Path):  # type: ignore[no-untyped-def]
    return parse_config(
        f"""
kafka:
  bootstrap_servers: ["{bootstrap}"]
  group_id: g-{topic}
  session_timeout: 6s
  heartbeat_interval: 1s
  poll_timeout: 200ms
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
    - name: drift
      matchers: ['alertname=~"DataDrift"']
      severity: critical
      annotations: {{runbook_url: "https://runbooks.example.com/drift"}}
  route:
    receiver: slack
    group_by: [monitor]
    group_wait: 0s
    group_interval: 1s
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


def test_drift_pages_slack_and_pagerduty_then_resolves(
    kafka_bootstrap: str, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    topic = make_topic("preds")
    with FakeApis() as api:
        runtime = Runtime(_config(kafka_bootstrap, topic, api, tmp_path / "outbox"))
        run = Background(runtime.run)
        try:
            produce(kafka_bootstrap, topic, events(10 * WINDOW, seed=21))
            produce(
                kafka_bootstrap, topic, events(3 * WINDOW, seed=22, shift=1.0, first_id=10 * WINDOW)
            )

            def paths() -> list[str]:
                return [r.path for r in api.requests]

            wait_until(
                lambda: "/api/chat.postMessage" in paths() and "/v2/enqueue" in paths(),
                90,
                "a Slack message and a PagerDuty trigger",
            )
            posted = next(r for r in api.requests if r.path == "/api/chat.postMessage")
            trigger = next(r for r in api.requests if r.path == "/v2/enqueue")
            assert posted.body["channel"] == "#ml-alerts"
            text = str(posted.body)
            assert "amount" in text and "country" in text and "fraud" in text
            assert trigger.body["event_action"] == "trigger"
            assert trigger.body["payload"]["severity"] == "critical"
            assert trigger.body["routing_key"] == "R0UT1NGKEY00000000000000000000"
            # Only the shifted features page: age stays quiet.
            assert "'age'" not in text and "feature=age" not in str(trigger.body)

            produce(kafka_bootstrap, topic, events(4 * WINDOW, seed=23, first_id=13 * WINDOW))
            wait_until(
                lambda: (
                    "/api/chat.update" in paths()
                    and any(
                        r.path == "/v2/enqueue" and r.body["event_action"] == "resolve"
                        for r in api.requests
                    )
                ),
                90,
                "the resolve on Slack and PagerDuty",
            )
        finally:
            runtime.daemon.stop()
            run.join(60)
    update = next(r for r in api.requests if r.path == "/api/chat.update")
    assert update.body["ts"]  # the same message, edited in place
    resolve = next(
        r for r in api.requests if r.path == "/v2/enqueue" and r.body["event_action"] == "resolve"
    )
    assert resolve.body["dedup_key"] == trigger.body["dedup_key"]
    triggers = [
        r for r in api.requests if r.path == "/v2/enqueue" and r.body["event_action"] == "trigger"
    ]
    assert len(triggers) == 1  # paged once, not once per window
    order = [r.body["event_action"] for r in api.requests if r.path == "/v2/enqueue"]
    assert order == ["trigger", "resolve"]
