"""Slack through the real slack-sdk client, against the local fake Slack."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from driftd.alerting.alert import Alert, as_labels
from driftd.alerting.notification import Notification
from driftd.alerting.outbox import Outbox
from driftd.alerting.receiver_config import SlackReceiver
from driftd.alerting.slack import SlackNotifier
from driftd.errors import SinkError
from tests.fakes.http_apis import FakeApis

T0 = 1_700_000_000.0
KEY = 'root:{alertname="DataDrift",monitor="fraud"}'


def _alert(feature: str = "age", severity: str = "critical", **extra: str) -> Alert:
    labels = as_labels(
        {
            "alertname": "DataDrift",
            "monitor": "fraud",
            "feature": feature,
            "statistic": "psi",
            "severity": severity,
            "country": "DE",
            **extra,
        }
    )
    notes = (
        ("dashboard_url", "https://grafana.example/d/drift"),
        ("limit", "0.2"),
        ("runbook_url", "https://runbooks.example/drift"),
        ("summary", f"psi of {feature} is 0.31"),
        ("value", "0.31"),
        ("window", "#7 (5000 events)"),
    )
    return Alert.firing(labels, notes, T0, T0)


def _note(*alerts: Alert, at: float = T0) -> Notification:
    group = (("alertname", "DataDrift"), ("monitor", "fraud"))
    return Notification("slack-ml", KEY, group, alerts, at)


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox.sqlite3")


def _notifier(api: FakeApis, outbox: Outbox, **overrides: Any) -> SlackNotifier:
    config = {
        "name": "slack-ml",
        "type": "slack",
        "channel": "#ml-alerts",
        "token": "xoxb-test",
        "base_url": api.slack_api_url,
        "timeout": 2,
        **overrides,
    }
    return SlackNotifier(SlackReceiver.model_validate(config), outbox, "https://driftd.example")


def test_post_message_shape(api: FakeApis, outbox: Outbox) -> None:
    _notifier(api, outbox).notify(_note(_alert("age"), _alert("income")))
    [request] = api.requests
    assert request.path == "/api/chat.postMessage"
    assert request.headers["authorization"] == "Bearer xoxb-test"
    body = request.body
    assert body["channel"] == "#ml-alerts"
    assert body["text"].startswith("🔴 [FIRING:2] DataDrift monitor=fraud")
    header, facts, context = body["blocks"]
    assert header == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "🔴 [FIRING:2] DataDrift monitor=fraud",
            "emoji": True,
        },
    }
    fields = [f["text"] for f in facts["fields"]]
    assert "*Severity*\ncritical" in fields
    assert "*Statistic*\npsi" in fields
    assert "*Segment*\ncountry=DE" in fields
    assert "2 firing, 0 resolved" in context["elements"][0]["text"]
    [attachment] = body["attachments"]
    assert attachment["color"] == "#E01E5A"
    age, income, actions = attachment["blocks"]
    assert age["text"]["text"] == (
        "*age* · `psi` = *0.31* vs limit 0.2\nwindow #7 (5000 events)\nsegment country=DE"
    )
    assert income["text"]["text"].startswith("*income*")
    assert [(b["text"]["text"], b["url"]) for b in actions["elements"]] == [
        ("Dashboard", "https://grafana.example/d/drift"),
        ("Runbook", "https://runbooks.example/drift"),
        ("driftd", "https://driftd.example"),
    ]


def test_message_is_updated_threaded_and_resolved_in_place(api: FakeApis, outbox: Outbox) -> None:
    notifier = _notifier(api, outbox)
    age, income = _alert("age", severity="warning"), _alert("income", severity="warning")
    notifier.notify(_note(age))
    notifier.notify(_note(age, income, at=T0 + 300))  # the group changed
    notifier.notify(_note(age, income, at=T0 + 3900))  # a repeat
    # A restart: a new notifier on the same outbox still knows the message.
    restarted = _notifier(api, Outbox(outbox.path))
    restarted.notify(_note(age.resolve(T0 + 4000), income.resolve(T0 + 4000), at=T0 + 4200))
    paths = [r.path for r in api.requests]
    assert paths == [
        "/api/chat.postMessage",
        "/api/chat.update",
        "/api/chat.postMessage",  # thread reply
        "/api/chat.update",
        "/api/chat.postMessage",  # thread reply
        "/api/chat.update",  # resolve
    ]
    [(channel, ts)] = api.messages  # one message in the channel, updated in place
    assert channel == "C00000001"
    updates = [r.body for r in api.requests if r.path == "/api/chat.update"]
    assert {(u["channel"], u["ts"]) for u in updates} == {(channel, ts)}
    final = api.messages[(channel, ts)]
    assert final["blocks"][0]["text"]["text"] == "✅ [RESOLVED] DataDrift monitor=fraud"
    assert final["attachments"][0]["color"] == "#2EB67D"
    assert [r["text"] for r in api.replies[(channel, ts)]] == [
        "🔔 1 new, 0 no longer firing; 2 firing now",
        "🔁 Still firing: 2 alert(s)",
    ]
    # Resolved: the next firing of the group starts a new message.
    notifier.notify(_note(_alert("age"), at=T0 + 9000))
    assert api.requests[-1].path == "/api/chat.postMessage"
    assert len(api.messages) == 2


def test_deleted_message_is_posted_again(api: FakeApis, outbox: Outbox) -> None:
    notifier = _notifier(api, outbox)
    notifier.notify(_note(_alert()))
    api.messages.clear()  # someone deleted it in Slack
    notifier.notify(_note(_alert(), at=T0 + 300))
    assert [r.path for r in api.requests] == [
        "/api/chat.postMessage",
        "/api/chat.update",
        "/api/chat.postMessage",
    ]
    assert len(api.messages) == 1


@pytest.mark.parametrize(
    ("script", "overrides", "retryable", "retry_after"),
    [
        # 429 with Retry-After: retry after exactly that.
        (lambda api: api.rate_limit_next(1, retry_after=7), {}, True, 7.0),
        # Slack's servers failing: retry with backoff.
        (lambda api: api.fail_next(1, 500, body=b'{"ok": false}'), {}, True, None),
        (lambda api: api.fail_next(1, 503), {}, True, None),
        # Connection dropped without an answer: retry.
        (lambda api: api.close_next(1), {}, True, None),
        # ok:false errors that will not fix themselves: no retry.
        (lambda api: None, {"channel": "#missing"}, False, None),
        (lambda api: None, {"token": "xoxb-invalid"}, False, None),
    ],
)
def test_errors_map_to_retry_decisions(
    api: FakeApis,
    outbox: Outbox,
    script: Callable[[FakeApis], None],
    overrides: dict[str, Any],
    retryable: bool,
    retry_after: float | None,
) -> None:
    script(api)
    with pytest.raises(SinkError) as info:
        _notifier(api, outbox, **overrides).notify(_note(_alert()))
    assert info.value.retryable is retryable
    assert info.value.retry_after == retry_after
    # slack-sdk's own retry handlers are off: exactly one request was made.
    assert len(api.requests) == 1


def test_timeout_is_retryable(api: FakeApis, outbox: Outbox) -> None:
    api.hang_next(1, seconds=3)
    with pytest.raises(SinkError) as info:
        _notifier(api, outbox, timeout=1).notify(_note(_alert()))
    assert info.value.retryable


def test_incoming_webhook_mode(api: FakeApis, outbox: Outbox) -> None:
    notifier = _notifier(api, outbox, token=None, channel=None, webhook_url=api.slack_webhook_url)
    notifier.notify(_note(_alert()))
    notifier.notify(_note(_alert().resolve(T0 + 60), at=T0 + 60))
    first, second = api.requests
    assert first.path == second.path == "/slack/webhook/T000/B000/secret"
    assert "authorization" not in first.headers
    assert first.body["blocks"][0]["type"] == "header"
    assert second.body["text"].startswith("✅ [RESOLVED]")
    api.rate_limit_next(1, retry_after=30)
    with pytest.raises(SinkError) as info:
        notifier.notify(_note(_alert()))
    assert (info.value.retryable, info.value.retry_after) == (True, 30.0)
    api.fail_next(1, 404, body=b"no_service")
    with pytest.raises(SinkError) as info:
        notifier.notify(_note(_alert()))
    assert not info.value.retryable


class _Crashing:
    """The outbox's key/value table, dying (like kill -9) when the post's ts is noted."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.armed = False

    def get(self, key: str) -> str | None:
        return self.outbox.get(key)

    def put(self, key: str, value: str | None) -> None:
        if self.armed and value is not None and '"ts"' in value:
            self.armed = False
            raise KeyboardInterrupt("killed between the post and noting its ts")
        self.outbox.put(key, value)


def test_a_post_resent_after_a_crash_edits_the_first_message(api: FakeApis, outbox: Outbox) -> None:
    state = _Crashing(outbox)
    first = _notifier(api, outbox)
    first._state = state  # type: ignore[assignment]
    # An earlier group taught the notifier the channel's id.
    first.notify(Notification("slack-ml", "other", (), (_alert("income"),), T0))
    state.armed = True
    with pytest.raises(KeyboardInterrupt):
        first.notify(_note(_alert()))
    posts = [r for r in api.requests if r.path == "/api/chat.postMessage"]
    assert len(posts) == 2
    # After the restart the outbox still holds the entry and sends it again.
    second = _notifier(api, outbox)
    before = len(api.requests)
    second.notify(_note(_alert()))
    resent = api.requests[before:]
    assert [r.path for r in resent][:2] == ["/api/conversations.history", "/api/chat.update"]
    assert resent[1].body["ts"] == "1700000000.000002"  # the message of the first try
    # No new top-level message: only the short "still firing" reply in its thread.
    assert all(r.body.get("thread_ts") for r in resent[2:])
