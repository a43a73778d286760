"""Inhibition: sources mute targets sharing the ``equal`` labels, at notification time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from driftd.alerting.alert import Alert
from driftd.alerting.config import InhibitRule, RouteConfig
from driftd.alerting.dispatcher import Dispatcher, ReceiverInfo
from driftd.alerting.inhibit import Inhibitor
from driftd.alerting.outbox import Outbox
from driftd.alerting.routing import Route
from driftd.alerting.silence import Silences

T0 = 1_700_000_000.0
MakeAlert = Callable[..., Alert]

NODATA_MUTES_DRIFT = InhibitRule(
    source_matchers=['alertname="NoData"'],
    target_matchers=['alertname=~".*Drift"'],
    equal=["monitor"],
)
CRITICAL_MUTES_WARNING = InhibitRule(
    source_matchers=['severity="critical"'],
    target_matchers=['severity="warning"'],
    equal=["monitor", "feature"],
)


@pytest.mark.parametrize(
    ("source", "target", "rule", "muted"),
    [
        # No data for a monitor mutes its drift alerts...
        ({"alertname": "NoData", "monitor": "m"}, {"monitor": "m"}, NODATA_MUTES_DRIFT, True),
        # ...but not another monitor's.
        ({"alertname": "NoData", "monitor": "m"}, {"monitor": "n"}, NODATA_MUTES_DRIFT, False),
        # equal: a label missing on both sides counts as equal (empty).
        (
            {"alertname": "DataDrift", "severity": "critical", "monitor": "m"},
            {"alertname": "PredictionDrift", "severity": "warning", "monitor": "m"},
            CRITICAL_MUTES_WARNING,
            True,
        ),
        # equal: present on one side only is not equal.
        (
            {"alertname": "DataDrift", "severity": "critical", "monitor": "m", "feature": "a"},
            {"severity": "warning", "monitor": "m"},
            CRITICAL_MUTES_WARNING,
            False,
        ),
        # The target matcher must match.
        (
            {"alertname": "NoData", "monitor": "m"},
            {"monitor": "m", "alertname": "DataQuality"},
            NODATA_MUTES_DRIFT,
            False,
        ),
    ],
)
def test_inhibition_rules(
    make_alert: MakeAlert,
    source: dict[str, str],
    target: dict[str, str],
    rule: InhibitRule,
    muted: bool,
) -> None:
    target.setdefault("alertname", "DataDrift")
    inhibited = Inhibitor([rule]).muter([make_alert(**source)])
    assert inhibited(make_alert(**target)) is muted


def test_an_alert_does_not_inhibit_itself(make_alert: MakeAlert) -> None:
    rule = InhibitRule(source_matchers=["monitor=m"], target_matchers=["monitor=m"])
    alert = make_alert(monitor="m")
    assert Inhibitor([rule]).muter([alert])(alert) is False
    other = make_alert(monitor="m", feature="x")
    assert Inhibitor([rule]).muter([alert, other])(alert) is True


def test_inhibited_alerts_are_left_out_of_notifications(
    tmp_path: Path, make_alert: MakeAlert
) -> None:
    d = Dispatcher(
        Route.build(RouteConfig(receiver="r", group_by=["monitor"], group_wait=0)),
        Inhibitor([NODATA_MUTES_DRIFT]),
        Silences([], None),
        Outbox(tmp_path / "o.sqlite3"),
        receivers={"r": ReceiverInfo("webhook", True)},
    )
    drift = make_alert(monitor="m", feature="age")
    d.add([drift])
    [note] = d.tick(T0)
    assert [a.label_map["alertname"] for a in note.alerts] == ["DataDrift"]
    # The stream stalls: NoData fires and mutes the drift alert of the same monitor.
    nodata = make_alert(alertname="NoData", monitor="m")
    d.add([nodata])
    [note] = d.tick(T0 + 300)
    assert [a.label_map["alertname"] for a in note.alerts] == ["NoData"]
    # Data is back: NoData resolves, the drift alert is visible again (already announced, so
    # the resolve of NoData is the news).
    d.add([nodata.resolve(T0 + 400)])
    [note] = d.tick(T0 + 600)
    assert [(a.label_map["alertname"], a.status) for a in note.alerts] == [
        ("DataDrift", "firing"),
        ("NoData", "resolved"),
    ]
