"""The whole subsystem through its public API: verdicts in, Slack and PagerDuty out."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry

from driftd.alerting import Alerting, AlertingConfig, build_alerting
from driftd.records import Verdict
from tests.fakes.clock import FakeClock
from tests.fakes.http_apis import FakeApis

MakeVerdict = Callable[..., Verdict]
MakeConfig = Callable[[dict[str, Any]], AlertingConfig]


def _config(api: FakeApis, make_config: MakeConfig, **extra: Any) -> AlertingConfig:
    return make_config(
        {
            "external_url": "https://driftd.example",
            "rules": [{"name": "drift", "for_windows": 2, "severity": "critical"}],
            "route": {
                "receiver": "slack",
                "group_by": ["alertname", "monitor"],
                "group_wait": "30s",
                "group_interval": "5m",
                "repeat_interval": "4h",
                "routes": [
                    # Page on critical and carry on to the next route, which takes everything.
                    {"matchers": ['severity="critical"'], "receiver": "pd", "continue": True},
                    {"receiver": "slack"},
                ],
            },
            "receivers": [
                {
                    "name": "slack",
                    "type": "slack",
                    "channel": "#ml",
                    "token": "xoxb-t",
                    "base_url": api.slack_api_url,
                },
                {"name": "pd", "type": "pagerduty", "routing_key": "k" * 32, "base_url": api.url},
            ],
            **extra,
        }
    )


def _paths(api: FakeApis, start: int = 0) -> list[str]:
    return [r.path for r in api.requests[start:]]


def _fire(alerting: Alerting, clock: FakeClock, make_verdict: MakeVerdict) -> None:
    alerting.observe(make_verdict())
    clock.advance(60)
    alerting.observe(make_verdict(value=0.4))
    alerting.tick()


def test_drift_pages_then_resolves_in_place(
    api: FakeApis,
    make_config: MakeConfig,
    make_verdict: MakeVerdict,
    clock: FakeClock,
    registry: CollectorRegistry,
) -> None:
    alerting = build_alerting(_config(api, make_config), registry, clock)
    alerting.observe(make_verdict())
    alerting.tick()
    assert (
        registry.get_sample_value("driftd_alerts", {"alertname": "DataDrift", "state": "pending"})
        == 1
    )
    clock.advance(60)
    alerting.observe(make_verdict(value=0.4))
    assert alerting.tick() == []  # group_wait
    clock.advance(30)
    notes = alerting.tick()
    assert sorted(n.receiver for n in notes) == ["pd", "slack"]
    assert alerting.deliver() == 2
    assert sorted(_paths(api)) == ["/api/chat.postMessage", "/v2/enqueue"]
    assert (
        registry.get_sample_value("driftd_alerts", {"alertname": "DataDrift", "state": "firing"})
        == 1
    )
    assert (
        registry.get_sample_value("driftd_alerts", {"alertname": "DataDrift", "state": "pending"})
        == 0
    )
    sent = {"receiver": "slack", "integration": "slack"}
    assert registry.get_sample_value("driftd_notifications_total", sent) == 1
    # Every configured receiver's series exists from the start, at 0 until it fails.
    failed = {"receiver": "pd", "integration": "pagerduty", "reason": "rejected"}
    assert registry.get_sample_value("driftd_notifications_failed_total", failed) == 0
    # Drift ends: the resolve goes out at the group's next interval tick.
    clock.advance(10)
    alerting.observe(make_verdict(drift=False))
    assert alerting.tick() == []
    clock.advance(290)
    assert len(alerting.tick()) == 2
    alerting.deliver()
    assert sorted(_paths(api, 2)) == ["/api/chat.update", "/v2/enqueue"]
    trigger, resolve = (r.body for r in api.requests if r.path == "/v2/enqueue")
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"]
    [(channel, ts)] = api.messages
    assert api.messages[(channel, ts)]["text"].startswith("✅ [RESOLVED] DataDrift")
    assert alerting.status()["alerts"] == []


def test_restart_neither_pages_again_nor_forgets_the_resolve(
    api: FakeApis,
    make_config: MakeConfig,
    make_verdict: MakeVerdict,
    clock: FakeClock,
) -> None:
    config = _config(api, make_config)
    first = build_alerting(config, CollectorRegistry(), clock)
    _fire(first, clock, make_verdict)
    clock.advance(30)
    first.tick()
    first.deliver()
    assert len(api.requests) == 2
    first.close(timeout=1.0)

    clock.advance(120)
    second = build_alerting(config, CollectorRegistry(), clock)
    [state] = second.status()["alerts"]
    assert state["state"] == "firing"
    for _ in range(5):  # the firing alert carries on: no second page
        clock.advance(300)
        second.observe(make_verdict())
        second.tick()
        second.deliver()
    assert len(api.requests) == 2
    second.observe(make_verdict(drift=False))
    clock.advance(300)
    second.tick()
    second.deliver()
    assert sorted(_paths(api, 2)) == ["/api/chat.update", "/v2/enqueue"]
    assert len(api.messages) == 1  # the message posted before the restart was updated
    resolve = (
        api.requests[-1].body if api.requests[-1].path == "/v2/enqueue" else (api.requests[-2].body)
    )
    assert resolve["event_action"] == "resolve"


def test_status_and_silences_through_the_facade(
    api: FakeApis,
    make_config: MakeConfig,
    make_verdict: MakeVerdict,
    clock: FakeClock,
) -> None:
    alerting = build_alerting(_config(api, make_config), CollectorRegistry(), clock)
    body = json.dumps(
        {"matchers": ["monitor=fraud"], "duration": 3600, "createdBy": "me", "comment": "known"}
    ).encode()
    status, answer = alerting.handle_silences("POST", "/api/silences", body)
    assert status == 200
    _fire(alerting, clock, make_verdict)
    clock.advance(30)
    assert alerting.tick() == []  # silenced
    snapshot = alerting.status()
    assert [a["state"] for a in snapshot["alerts"]] == ["firing"]
    assert snapshot["alerts"][0]["labels"]["feature"] == "age"
    assert [s["id"] for s in snapshot["silences"]] == [json.loads(answer)["silenceID"]]
    assert {g["receiver"] for g in snapshot["groups"]} == {"slack", "pd"}
    assert snapshot["outbox"]["pending"] == 0
    json.dumps(snapshot)  # /status serialises it


def test_worker_thread_delivers_in_the_background(
    api: FakeApis, make_config: MakeConfig, make_verdict: MakeVerdict
) -> None:
    config = _config(api, make_config)
    route = {**config.route.model_dump(by_alias=True), "group_wait": 0, "routes": []}
    config = config.model_copy(update={"route": type(config.route).model_validate(route)})
    alerting = build_alerting(config, CollectorRegistry(), time.time)
    alerting.start()
    alerting.observe(make_verdict())
    alerting.observe(make_verdict())
    assert len(alerting.tick()) == 1
    assert api.wait_for(1, timeout=3.0)
    alerting.close(timeout=2.0)
    assert _paths(api) == ["/api/chat.postMessage"]


def test_no_data_alert_survives_a_restart_and_resolves_after_it(
    api: FakeApis,
    make_config: MakeConfig,
    make_verdict: MakeVerdict,
    clock: FakeClock,
) -> None:
    config = _config(api, make_config, no_data={"after": "10m"})
    first = build_alerting(config, CollectorRegistry(), clock)
    first.observe(make_verdict(drift=False))
    first.tick()
    clock.advance(600)
    first.tick()
    clock.advance(30)
    [note] = first.tick()
    assert note.alerts[0].label_map["alertname"] == "NoData"
    second = build_alerting(config, CollectorRegistry(), clock)
    assert [a["alertname"] for a in second.status()["alerts"]] == ["NoData"]
    second.observe(make_verdict(drift=False))  # the stream is back
    clock.advance(300)
    [note] = second.tick()
    assert (note.status, note.alerts[0].label_map["alertname"]) == ("resolved", "NoData")
