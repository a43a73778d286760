"""Opsgenie (create / close by alias) and Microsoft Teams (cards) against the local fake."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from driftd.alerting import build_alerting
from driftd.alerting.alert import Alert
from driftd.alerting.config import AlertingConfig
from driftd.alerting.notification import Notification
from driftd.alerting.opsgenie import OpsgenieNotifier
from driftd.alerting.receiver_config import OpsgenieReceiver
from driftd.alerting.transport import UrllibTransport
from driftd.records import Verdict
from tests.fakes.clock import FakeClock
from tests.fakes.http_apis import FakeApis

WINDOWS = itertools.count(1)


def _config(api: FakeApis, make_config: Callable[..., AlertingConfig]) -> AlertingConfig:
    return make_config(
        {
            "external_url": "https://driftd.example",
            "rules": [{"name": "drift", "for_windows": 1, "severity": "critical"}],
            "route": {
                "receiver": "og",
                "group_wait": "0s",
                "group_interval": "1m",
                "routes": [{"receiver": "og", "continue": True}, {"receiver": "teams"}],
            },
            "receivers": [
                {
                    "name": "og",
                    "type": "opsgenie",
                    "api_key": "genie-key",
                    "api_url": api.url + "/og",
                    "tags": ["ml"],
                    "responders": [{"type": "team", "name": "ml-oncall"}],
                },
                {"name": "teams", "type": "msteams", "url": api.url + "/teams/hook"},
            ],
        }
    )


def test_drift_creates_then_closes_and_posts_cards(
    api: FakeApis,
    make_config: Callable[..., AlertingConfig],
    make_verdict: Callable[..., Verdict],
    clock: FakeClock,
) -> None:
    alerting = build_alerting(_config(api, make_config), CollectorRegistry(), clock)
    alerting.observe(make_verdict(window_index=next(WINDOWS)))
    alerting.tick()
    assert alerting.deliver() == 2
    create = next(r for r in api.requests if r.path == "/og/v2/alerts")
    assert create.headers["authorization"] == "GenieKey genie-key"
    body = create.body
    assert body["message"] == "[FIRING:1] DataDrift monitor=fraud"
    assert body["priority"] == "P1"  # severity critical
    assert body["alias"].startswith("driftd-")
    assert body["responders"] == [{"type": "team", "name": "ml-oncall"}]
    assert "ml" in body["tags"] and "monitor:fraud" in body["tags"]
    assert body["details"]["feature"] == "age"
    card = next(r for r in api.requests if r.path == "/teams/hook").body
    content = card["attachments"][0]["content"]
    assert content["type"] == "AdaptiveCard"
    assert content["body"][0]["text"] == "[FIRING:1] DataDrift monitor=fraud"
    assert content["actions"][0]["url"] == "https://driftd.example"

    clock.advance(60)
    alerting.observe(make_verdict(drift=False, window_index=next(WINDOWS)))
    clock.advance(60)
    alerting.tick()
    assert alerting.deliver() == 2
    close = next(r for r in api.requests if "/close" in r.path)
    assert close.path == f"/og/v2/alerts/{body['alias']}/close"  # the fake drops the query
    assert close.body == {"source": "driftd", "note": "resolved in driftd"}


def test_close_addresses_the_alert_by_alias(make_alert: Callable[..., Alert]) -> None:
    config = OpsgenieReceiver.model_validate(
        {"name": "og", "type": "opsgenie", "api_key": "k", "api_url": "https://api.eu.opsgenie.com"}
    )
    notifier = OpsgenieNotifier(config, UrllibTransport(1))
    alert = make_alert(monitor="fraud").resolve(1_700_000_100.0)
    note = Notification("og", "root:{}", (), (alert,), 1_700_000_100.0)
    url, _ = notifier.request(note)
    assert url == (
        f"https://api.eu.opsgenie.com/v2/alerts/{notifier.alias(note)}/close?identifierType=alias"
    )


def test_alertmanager_blocks_for_opsgenie_and_teams(
    api: FakeApis, make_config: Callable[..., AlertingConfig]
) -> None:
    cfg = make_config(
        {
            "route": {"receiver": "team"},
            "receivers": [
                {
                    "name": "team",
                    "opsgenie_configs": [
                        {"api_key": "k", "message": "{{ .CommonLabels.alertname }}"}
                    ],
                    "msteams_configs": [
                        {"webhook_url": api.url + "/teams", "title": "{{ .Status }}"}
                    ],
                }
            ],
        }
    )
    assert [(r.name, r.type) for r in cfg.receivers] == [
        ("team.opsgenie.0", "opsgenie"),
        ("team.msteams.0", "msteams"),
    ]
    assert cfg.receivers[1].card == "message_card"  # type: ignore[union-attr]
