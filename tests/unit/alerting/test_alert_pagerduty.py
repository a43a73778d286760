"""PagerDuty Events API v2 over real HTTP to the local fake."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from driftd.alerting.alert import Alert, as_labels
from driftd.alerting.notification import Notification
from driftd.alerting.pagerduty import PagerDutyNotifier
from driftd.alerting.receiver_config import PagerDutyReceiver
from driftd.alerting.transport import Response, UrllibTransport
from driftd.errors import SinkError
from tests.fakes.http_apis import FakeApis

T0 = 1_700_000_000.0
ROUTING_KEY = "R0UT1NGKEY0123456789abcdefabcdef"


def _alert(feature: str, severity: str = "critical", summary: str = "psi is high") -> Alert:
    labels = as_labels(
        {
            "alertname": "DataDrift",
            "monitor": "fraud",
            "feature": feature,
            "statistic": "psi",
            "severity": severity,
        }
    )
    notes = (("runbook_url", "https://runbooks.example/drift"), ("summary", summary))
    return Alert.firing(labels, notes, T0, T0)


def _note(*alerts: Alert, receiver: str = "pd") -> Notification:
    return Notification(receiver, 'root:{monitor="fraud"}', (("monitor", "fraud"),), alerts, T0)


def _notifier(api: FakeApis, timeout: float = 2.0, **overrides: Any) -> PagerDutyNotifier:
    config = PagerDutyReceiver.model_validate(
        {
            "name": "pd",
            "type": "pagerduty",
            "routing_key": ROUTING_KEY,
            "base_url": api.url,
            **overrides,
        }
    )
    return PagerDutyNotifier(config, UrllibTransport(timeout), "https://driftd.example")


def test_trigger_then_resolve_share_the_dedup_key(api: FakeApis) -> None:
    notifier = _notifier(api)
    age = _alert("age")
    notifier.notify(_note(age, _alert("income", severity="warning")))
    notifier.notify(_note(age.resolve(T0 + 60)))
    trigger, resolve = (r.body for r in api.requests)
    assert [r.path for r in api.requests] == ["/v2/enqueue", "/v2/enqueue"]
    assert trigger["event_action"] == "trigger"
    assert resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"]
    assert trigger["dedup_key"].startswith("driftd-") and len(trigger["dedup_key"]) == 71
    assert api.incidents == {trigger["dedup_key"]: "resolved"}
    assert trigger["routing_key"] == ROUTING_KEY
    payload = trigger["payload"]
    assert payload["summary"] == "[FIRING:2] DataDrift monitor=fraud"
    assert payload["severity"] == "critical"  # the highest of the group
    assert payload["source"] == "driftd"
    assert payload["timestamp"] == "2023-11-14T22:13:20.000Z"
    assert (payload["component"], payload["group"], payload["class"]) == (
        "fraud",
        "DataDrift",
        "psi",
    )
    details = payload["custom_details"]
    assert details["num_firing"] == 2
    assert [d["labels"]["feature"] for d in details["firing"]] == ["age", "income"]
    assert trigger["links"] == [
        {"href": "https://runbooks.example/drift", "text": "Runbook"},
        {"href": "https://driftd.example", "text": "driftd status"},
    ]
    assert (trigger["client"], trigger["client_url"]) == ("driftd", "https://driftd.example")
    # Another receiver for the same group pages another PagerDuty alert.
    assert PagerDutyNotifier.dedup_key(_note(age, receiver="pd2")) != trigger["dedup_key"]


def test_severity_mapping_and_summary_limit(api: FakeApis) -> None:
    notifier = _notifier(api, severity_map={"page": "critical"}, default_severity="warning")
    notifier.notify(_note(_alert("age", severity="page", summary="x" * 2000)))
    notifier.notify(_note(_alert("age", severity="mystery")))
    first, second = (r.body["payload"] for r in api.requests)
    assert first["severity"] == "critical"
    assert len(first["summary"]) == 1024
    assert first["summary"].endswith("…")
    assert second["severity"] == "warning"


@pytest.mark.parametrize(
    ("script", "retryable", "retry_after"),
    [
        (lambda api: api.rate_limit_next(1, retry_after=120), True, 120.0),
        (lambda api: api.fail_next(1, 500), True, None),
        (lambda api: api.fail_next(1, 502), True, None),
        (lambda api: api.fail_next(1, 400, body=b'{"status":"invalid event"}'), False, None),
        (lambda api: api.fail_next(1, 403), False, None),
        (lambda api: api.close_next(1), True, None),
    ],
)
def test_status_codes_map_to_retry_decisions(
    api: FakeApis,
    script: Callable[[FakeApis], None],
    retryable: bool,
    retry_after: float | None,
) -> None:
    script(api)
    with pytest.raises(SinkError) as info:
        _notifier(api).notify(_note(_alert("age")))
    assert (info.value.retryable, info.value.retry_after) == (retryable, retry_after)


def test_real_validation_error_is_not_retried(api: FakeApis) -> None:
    class DropSummary:
        def post(self, url: str, body: bytes, headers: Any) -> Response:
            event = json.loads(body)
            del event["payload"]["summary"]
            return UrllibTransport(2).post(url, json.dumps(event).encode(), headers)

    config = PagerDutyReceiver(
        name="pd", type="pagerduty", routing_key=ROUTING_KEY, base_url=api.url
    )
    with pytest.raises(SinkError, match="HTTP 400") as info:
        PagerDutyNotifier(config, DropSummary()).notify(_note(_alert("age")))
    assert not info.value.retryable


def test_hung_request_times_out_as_retryable(api: FakeApis) -> None:
    api.hang_next(1, seconds=2)
    with pytest.raises(SinkError) as info:
        _notifier(api, timeout=0.2).notify(_note(_alert("age")))
    assert info.value.retryable
