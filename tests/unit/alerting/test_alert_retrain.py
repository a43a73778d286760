"""Retraining trigger: once per sustained drift, re-armed by the resolve."""

from __future__ import annotations

from collections.abc import Callable

from driftd.alerting.alert import Alert
from driftd.alerting.receiver_config import RetrainReceiver
from driftd.alerting.retrain import RetrainNotifier, RetrainTrigger
from driftd.alerting.transport import UrllibTransport
from tests.fakes.http_apis import FakeApis

T0 = 1_700_000_000.0
MakeAlert = Callable[..., Alert]


def never(alert: Alert) -> bool:
    return False


def _config(url: str = "http://unused") -> RetrainReceiver:
    return RetrainReceiver(
        name="retrain-fraud",
        type="retrain",
        url=url,
        matchers=['alertname="DataDrift"'],
        sustained_for=3600,
        bearer_token="ci-token",
    )


def test_fires_once_after_sustained_for_and_rearms_after_resolve(make_alert: MakeAlert) -> None:
    trigger = RetrainTrigger(_config())
    age = make_alert(monitor="fraud", feature="age", starts_at=T0)
    income = make_alert(monitor="fraud", feature="income", starts_at=T0 + 600)
    quality = make_alert(alertname="DataQuality", monitor="fraud", feature="x", starts_at=T0)
    firing = [age, income, quality]
    assert trigger.check(firing, never, T0 + 3599) == []
    [note] = trigger.check(firing, never, T0 + 3600)
    assert note.receiver == "retrain-fraud"
    assert note.group_labels == (("monitor", "fraud"),)
    assert [a.label_map["feature"] for a in note.alerts] == ["age", "income"]  # no DataQuality
    # Still drifting: not again.
    assert trigger.check(firing, never, T0 + 7200) == []
    assert trigger.check([income], never, T0 + 9000) == []
    # All resolved, then a new sustained drift: once more.
    assert trigger.check([quality], never, T0 + 9100) == []
    again = make_alert(monitor="fraud", feature="age", starts_at=T0 + 9200)
    assert trigger.check([again], never, T0 + 9200 + 3599) == []
    assert len(trigger.check([again], never, T0 + 9200 + 3600)) == 1


def test_keys_are_independent_and_muted_alerts_do_not_count(make_alert: MakeAlert) -> None:
    trigger = RetrainTrigger(_config())
    fraud = make_alert(monitor="fraud", feature="age", starts_at=T0)
    churn = make_alert(monitor="churn", feature="age", starts_at=T0)

    def silenced(alert: Alert) -> bool:
        return alert.label_map["monitor"] == "churn"

    [note] = trigger.check([fraud, churn], silenced, T0 + 4000)
    assert note.group_labels == (("monitor", "fraud"),)
    # The silence ends: churn's drift has lasted long enough already.
    [note] = trigger.check([fraud, churn], never, T0 + 4100)
    assert note.group_labels == (("monitor", "churn"),)
    restored = RetrainTrigger(_config())
    restored.restore(trigger.snapshot())
    assert restored.check([fraud, churn], never, T0 + 5000) == []


def test_request_body_and_headers(api: FakeApis, make_alert: MakeAlert) -> None:
    trigger = RetrainTrigger(_config())
    alerts = [
        make_alert(monitor="fraud", feature="age", statistic="psi", model="fraud-v3", starts_at=T0),
        make_alert(
            monitor="fraud", feature="income", statistic="ks", model="fraud-v3", starts_at=T0 + 60
        ),
    ]
    [note] = trigger.check(alerts, never, T0 + 3600)
    notifier = RetrainNotifier(_config(api.url + "/retrain"), UrllibTransport(2), "https://d")
    notifier.notify(note)
    notifier.notify(note)  # a resend after a crash carries the same idempotency key
    first, second = api.requests
    assert first.path == "/retrain"
    assert first.headers["authorization"] == "Bearer ci-token"
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    body = first.body
    assert {k: body[k] for k in ("event", "model", "monitor", "features", "statistics")} == {
        "event": "sustained_drift",
        "model": "fraud-v3",
        "monitor": "fraud",
        "features": ["age", "income"],
        "statistics": ["ks", "psi"],
    }
    assert body["firing_since"] == "2023-11-14T22:13:20.000Z"
    assert body["sustained_for_seconds"] == 3600
    assert len(body["alerts"]) == 2
