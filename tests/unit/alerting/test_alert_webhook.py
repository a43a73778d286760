"""Generic webhook: Alertmanager v4 payload, truncation, authentication, secrets from files."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from driftd.alerting.alert import Alert, alertmanager_fingerprint, as_labels
from driftd.alerting.notification import Notification
from driftd.alerting.receiver_config import WebhookReceiver
from driftd.alerting.transport import UrllibTransport
from driftd.alerting.webhook import WebhookNotifier
from driftd.errors import SinkError
from tests.fakes.http_apis import FakeApis

T0 = 1_700_000_000.0


def _alert(feature: str, **notes: str) -> Alert:
    labels = as_labels(
        {"alertname": "DataDrift", "monitor": "fraud", "feature": feature, "segment": ""}
    )
    return Alert.firing(labels, tuple(sorted({"summary": "s", **notes}.items())), T0, T0 + 5)


def _note(*alerts: Alert) -> Notification:
    return Notification(
        "ops", 'root:{monitor="fraud"}', (("monitor", "fraud"),), alerts, T0, '{}:{monitor="fraud"}'
    )


def _receiver(tmp_path: Path, **fields: Any) -> WebhookReceiver:
    return WebhookReceiver.model_validate(
        {"name": "ops", "type": "webhook", **fields}, context={"base_dir": tmp_path}
    )


def test_alertmanager_v4_payload(api: FakeApis, tmp_path: Path) -> None:
    receiver = _receiver(tmp_path, url=api.url + "/hooks/ops")
    notifier = WebhookNotifier(receiver, UrllibTransport(2), "https://driftd.example")
    age = _alert("age", dashboard_url="https://g.example/d")
    notifier.notify(_note(age.resolve(T0 + 60), _alert("income")))
    [request] = api.requests
    assert request.path == "/hooks/ops"
    assert request.headers["content-type"] == "application/json"
    assert request.body == {
        "version": "4",
        "groupKey": '{}:{monitor="fraud"}',  # Alertmanager's shape
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "ops",
        "groupLabels": {"monitor": "fraud"},
        "commonLabels": {"alertname": "DataDrift", "monitor": "fraud"},
        "commonAnnotations": {"summary": "s"},
        "externalURL": "https://driftd.example",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "DataDrift", "monitor": "fraud", "feature": "income"},
                "annotations": {"summary": "s"},
                "startsAt": "2023-11-14T22:13:20.000Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://driftd.example",
                "fingerprint": alertmanager_fingerprint(_alert("income").labels),
            },
            {
                "status": "resolved",
                "labels": {"alertname": "DataDrift", "monitor": "fraud", "feature": "age"},
                "annotations": {"summary": "s", "dashboard_url": "https://g.example/d"},
                "startsAt": "2023-11-14T22:13:20.000Z",
                "endsAt": "2023-11-14T22:14:20.000Z",
                "generatorURL": "https://g.example/d",
                "fingerprint": alertmanager_fingerprint(age.labels),
            },
        ],
    }


def test_max_alerts_truncates(tmp_path: Path) -> None:
    receiver = _receiver(tmp_path, url="http://unused", max_alerts=2)
    payload = WebhookNotifier(receiver, UrllibTransport(1)).payload(
        _note(*(_alert(f"f{i}") for i in range(5)))
    )
    assert payload["truncatedAlerts"] == 3
    assert [a["labels"]["feature"] for a in payload["alerts"]] == ["f0", "f1"]


def test_bearer_token_and_url_from_files(api: FakeApis, tmp_path: Path) -> None:
    (tmp_path / "url").write_text(api.url + "/hooks/secret-path\n")
    (tmp_path / "token").write_text("s3cret\n")
    receiver = _receiver(tmp_path, url_file="url", bearer_token_file="token")
    WebhookNotifier(receiver, UrllibTransport(2)).notify(_note(_alert("age")))
    [request] = api.requests
    assert request.path == "/hooks/secret-path"
    assert request.headers["authorization"] == "Bearer s3cret"


def test_basic_auth_with_password_file(api: FakeApis, tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("hunter2")
    receiver = _receiver(
        tmp_path, url=api.url + "/h", basic_auth={"username": "bot", "password_file": "pw"}
    )
    WebhookNotifier(receiver, UrllibTransport(2)).notify(_note(_alert("age")))
    expected = "Basic " + base64.b64encode(b"bot:hunter2").decode()
    assert api.requests[0].headers["authorization"] == expected


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "needs url or url_file"),
        ({"url": "http://x", "url_file": "u"}, "not both"),
        ({"url_file": "missing"}, "cannot read url_file"),
        (
            {
                "url": "http://x",
                "bearer_token": "t",
                "basic_auth": {"username": "u", "password": "p"},
            },
            "not both",
        ),
    ],
)
def test_receiver_config_errors(tmp_path: Path, fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _receiver(tmp_path, **fields)


def test_failures(api: FakeApis, tmp_path: Path) -> None:
    notifier = WebhookNotifier(_receiver(tmp_path, url=api.url + "/h"), UrllibTransport(2))
    api.fail_next(1, 404)
    with pytest.raises(SinkError) as info:
        notifier.notify(_note(_alert("age")))
    assert not info.value.retryable
    api.fail_next(1, 503)
    with pytest.raises(SinkError) as info:
        notifier.notify(_note(_alert("age")))
    assert info.value.retryable
    with pytest.raises(SinkError, match="non-HTTP") as info:
        WebhookNotifier(_receiver(tmp_path, url="file:///etc/passwd"), UrllibTransport(2)).notify(
            _note(_alert("age"))
        )
    assert not info.value.retryable
