"""Alertmanager push: when the alert set is pushed, what the body holds, HA pairs, and config."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from driftd.alerting.alert import Alert
from driftd.alerting.alertmanager import AlertmanagerNotifier, AlertmanagerPush
from driftd.alerting.receiver_config import AlertmanagerReceiver
from driftd.alerting.transport import UrllibTransport
from driftd.errors import SinkError
from tests.fakes.http_apis import FakeApis

T0 = 1_700_000_000.0
MakeAlert = Callable[..., Alert]


def _config(**overrides: Any) -> AlertmanagerReceiver:
    fields: dict[str, Any] = {"name": "am", "type": "alertmanager", "urls": ["http://unused"]}
    return AlertmanagerReceiver.model_validate({**fields, **overrides})


def _fingerprints(notes: list[Any]) -> list[list[str]]:
    return [[a.label_map["feature"] for a in n.alerts] for n in notes]


def test_pushed_on_change_and_every_resend_interval_while_firing(make_alert: MakeAlert) -> None:
    push = AlertmanagerPush(_config(resend_interval=60))
    age = make_alert(monitor="fraud", feature="age", starts_at=T0)
    push.observe([age])
    assert _fingerprints(push.check(T0)) == [["age"]]
    assert push.check(T0 + 59) == []  # nothing new, not yet due
    assert _fingerprints(push.check(T0 + 60)) == [["age"]]  # resend: it still fires
    income = make_alert(monitor="fraud", feature="income", starts_at=T0 + 70)
    push.observe([income])
    assert _fingerprints(push.check(T0 + 70)) == [["age", "income"]]  # a change: at once
    # The same alert again with the same annotations is no news.
    push.observe([income])
    assert push.check(T0 + 80) == []


def test_a_resolve_is_pushed_with_its_end_and_kept_for_the_retention(
    make_alert: MakeAlert,
) -> None:
    push = AlertmanagerPush(_config(resend_interval=60, resolved_retention=300))
    age = make_alert(monitor="fraud", feature="age", starts_at=T0)
    push.observe([age])
    push.check(T0)
    push.observe([age.resolve(T0 + 100)])
    [note] = push.check(T0 + 100)
    assert [a.status for a in note.alerts] == ["resolved"]
    # Nothing fires: no resend, and after the retention the resolve is forgotten.
    assert push.check(T0 + 200) == []
    push.observe([make_alert(monitor="fraud", feature="income", starts_at=T0 + 350)])
    [note] = push.check(T0 + 350)
    assert [(a.label_map["feature"], a.status) for a in note.alerts] == [
        ("income", "firing"),
        ("age", "resolved"),
    ]
    assert _fingerprints(push.check(T0 + 500)) == [["income"]]  # age's retention is over


def test_matchers_pick_the_alerts_and_an_unknown_resolve_is_ignored(
    make_alert: MakeAlert,
) -> None:
    push = AlertmanagerPush(_config(matchers=['alertname="DataDrift"']))
    quality = make_alert(alertname="DataQuality", monitor="fraud", feature="x")
    push.observe([quality, make_alert(monitor="fraud", feature="age").resolve(T0)])
    assert push.check(T0) == []
    push.observe([make_alert(monitor="fraud", feature="age")])
    assert _fingerprints(push.check(T0 + 1)) == [["age"]]


def test_body_is_what_alertmanager_api_v2_takes(api: FakeApis, make_alert: MakeAlert) -> None:
    push = AlertmanagerPush(_config(resend_interval=60))
    age = make_alert(monitor="fraud", feature="age", segment="", starts_at=T0)
    income = make_alert(monitor="fraud", feature="income", starts_at=T0)
    push.observe([age, income])
    push.check(T0)
    push.observe([income.resolve(T0 + 30)])
    [note] = push.check(T0 + 30)
    config = _config(urls=[api.url + "/"], basic_auth={"username": "u", "password": "p"})
    AlertmanagerNotifier(config, UrllibTransport(2), "https://d", clock=lambda: T0 + 40).notify(
        note
    )
    [request] = api.requests
    assert request.path == "/api/v2/alerts"
    assert request.headers["authorization"] == "Basic dTpw"
    firing, resolved = request.body
    assert firing["labels"] == {"alertname": "DataDrift", "monitor": "fraud", "feature": "age"}
    assert firing["annotations"] == {"summary": "s"}
    assert firing["startsAt"] == "2023-11-14T22:13:20.000Z"
    assert firing["endsAt"] == "2023-11-14T22:18:00.000Z"  # sent at T0+40, + 4 x 60 s
    assert firing["generatorURL"] == "https://d"
    assert resolved["labels"]["feature"] == "income"
    assert resolved["endsAt"] == "2023-11-14T22:13:50.000Z"  # its resolve


def test_one_alertmanager_of_a_pair_down_still_delivers(
    api: FakeApis, make_alert: MakeAlert
) -> None:
    push = AlertmanagerPush(_config())
    push.observe([make_alert(monitor="fraud", feature="age")])
    [note] = push.check(T0)
    dead = "http://127.0.0.1:9"  # nothing listens on the discard port
    AlertmanagerNotifier(_config(urls=[dead, api.url]), UrllibTransport(2)).notify(note)
    assert len(api.requests) == 1
    api.fail_next(1, 503)
    with pytest.raises(SinkError) as err:
        AlertmanagerNotifier(_config(urls=[dead, api.url]), UrllibTransport(2)).notify(note)
    assert err.value.retryable
    api.fail_next(1, 400, body=b"bad alert")
    with pytest.raises(SinkError, match="bad alert") as err:
        AlertmanagerNotifier(_config(urls=[api.url]), UrllibTransport(2)).notify(note)
    assert not err.value.retryable


def test_config_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="urls"):
        _config(urls=[])
    with pytest.raises(ValueError, match="urls"):
        _config(urls=["alertmanager:9093"])
    with pytest.raises(ValueError, match="ca_file"):
        _config(ca_file=str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match="not both"):
        _config(bearer_token="t", basic_auth={"username": "u", "password": "p"})
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    assert _config(bearer_token_file=str(token)).bearer_token is not None


def test_routes_cannot_name_an_alertmanager_push(
    make_config: Callable[..., Any],
) -> None:
    with pytest.raises(ValueError, match="Alertmanager push"):
        make_config(
            {
                "route": {"receiver": "am"},
                "receivers": [{"name": "am", "type": "alertmanager", "urls": ["http://a"]}],
            }
        )
