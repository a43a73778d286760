"""Aggregation groups and the dedup log, driven by a fake clock (Alertmanager timing)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from driftd.alerting.alert import Alert
from driftd.alerting.config import RouteConfig
from driftd.alerting.dedup import LogEntry, needs_update
from driftd.alerting.dispatcher import Dispatcher, ReceiverInfo
from driftd.alerting.inhibit import Inhibitor
from driftd.alerting.notification import Notification
from driftd.alerting.outbox import Outbox
from driftd.alerting.routing import Route
from driftd.alerting.silence import Silences

T0 = 1_700_000_000.0
MakeAlert = Callable[..., Alert]


def _dispatcher(tmp_path: Path, send_resolved: bool = True, **route: Any) -> Dispatcher:
    config = {
        "receiver": "team",
        "group_wait": 30,
        "group_interval": 300,
        "repeat_interval": 3600,
        **route,
    }
    return Dispatcher(
        Route.build(RouteConfig.model_validate(config)),
        Inhibitor([]),
        Silences([], None),
        Outbox(tmp_path / "outbox.sqlite3"),
        receivers={"team": ReceiverInfo("webhook", send_resolved)},
    )


def _summary(notes: list[Notification]) -> list[tuple[str, list[str]]]:
    return [(n.status, [f"{a.label_map['feature']}:{a.status}" for a in n.alerts]) for n in notes]


def test_first_notification_waits_group_wait_and_batches(
    tmp_path: Path, make_alert: MakeAlert
) -> None:
    d = _dispatcher(tmp_path)
    d.add([make_alert(monitor="fraud", feature="age", starts_at=T0)])
    assert d.tick(T0) == []
    d.add([make_alert(monitor="fraud", feature="income", starts_at=T0 + 10)])
    assert d.tick(T0 + 29) == []
    notes = d.tick(T0 + 30)
    assert _summary(notes) == [("firing", ["age:firing", "income:firing"])]
    assert notes[0].group_key == 'root:{alertname="DataDrift",monitor="fraud"}'
    # A different monitor is a different group with its own timer.
    # Its timer starts when the group is created (this tick), not at the alert's start.
    d.add([make_alert(monitor="churn", feature="age", starts_at=T0 + 31)])
    assert d.tick(T0 + 40) == []
    assert d.tick(T0 + 69) == []
    assert [n.group_labels for n in d.tick(T0 + 70)] == [
        (("alertname", "DataDrift"), ("monitor", "churn"))
    ]


def test_changes_go_out_at_group_interval_and_repeats_at_repeat_interval(
    tmp_path: Path, make_alert: MakeAlert
) -> None:
    d = _dispatcher(tmp_path)
    d.add([make_alert(monitor="fraud", feature="age", starts_at=T0)])
    d.tick(T0)
    assert len(d.tick(T0 + 30)) == 1
    # A new alert joins: not sent until the group's next interval tick (T0 + 330).
    d.add([make_alert(monitor="fraud", feature="income", starts_at=T0 + 40)])
    assert d.tick(T0 + 40) == []
    assert d.tick(T0 + 329) == []
    assert _summary(d.tick(T0 + 330)) == [("firing", ["age:firing", "income:firing"])]
    # Unchanged: nothing at the following ticks...
    for t in range(630, 3630, 300):
        assert d.tick(T0 + t) == [], t
    # ...until repeat_interval (3600 s since the last send at +330) has passed, which the
    # group notices at its next tick: repeat is rounded up to a multiple of group_interval.
    assert _summary(d.tick(T0 + 3930)) == [("firing", ["age:firing", "income:firing"])]


def test_annotation_updates_alone_are_not_news(tmp_path: Path, make_alert: MakeAlert) -> None:
    d = _dispatcher(tmp_path)
    d.add([make_alert(monitor="fraud", feature="age")])
    d.tick(T0)
    assert len(d.tick(T0 + 30)) == 1
    updated = make_alert(monitor="fraud", feature="age")
    d.add(
        [
            Alert(
                updated.fingerprint,
                updated.labels,
                (("value", "0.9"),),
                "firing",
                T0,
                None,
                T0 + 200,
            )
        ]
    )
    assert d.tick(T0 + 330) == []


def test_resolved_alert_notifies_once_then_leaves_the_group(
    tmp_path: Path, make_alert: MakeAlert
) -> None:
    d = _dispatcher(tmp_path)
    age, income = (
        make_alert(monitor="fraud", feature="age"),
        make_alert(monitor="fraud", feature="income"),
    )
    d.add([age, income])
    d.tick(T0)
    d.tick(T0 + 30)
    d.add([age.resolve(T0 + 100)])
    assert _summary(d.tick(T0 + 330)) == [("firing", ["income:firing", "age:resolved"])]
    assert d.tick(T0 + 630) == []  # age is gone from the group
    [group] = d.groups()
    assert list(group.alerts) == [income.fingerprint]
    d.add([income.resolve(T0 + 700)])
    assert _summary(d.tick(T0 + 930)) == [("resolved", ["income:resolved"])]
    assert d.groups() == []  # an empty group is deleted


def test_alert_resolved_within_group_wait_is_never_sent(
    tmp_path: Path, make_alert: MakeAlert
) -> None:
    d = _dispatcher(tmp_path)
    alert = make_alert(monitor="fraud", feature="age")
    d.add([alert])
    d.tick(T0)
    d.add([alert.resolve(T0 + 10)])
    assert d.tick(T0 + 30) == []
    assert d.groups() == []


def test_send_resolved_off_sends_no_resolve_but_moves_the_log_on(
    tmp_path: Path, make_alert: MakeAlert
) -> None:
    d = _dispatcher(tmp_path, send_resolved=False)
    alert = make_alert(monitor="fraud", feature="age")
    d.add([alert])
    d.tick(T0)
    assert len(d.tick(T0 + 30)) == 1
    d.add([alert.resolve(T0 + 40)])
    assert d.tick(T0 + 330) == []
    # The same alert firing again is news, announced after a fresh group_wait.
    d.add([make_alert(monitor="fraud", feature="age", starts_at=T0 + 400)])
    d.tick(T0 + 400)
    assert _summary(d.tick(T0 + 430)) == [("firing", ["age:firing"])]


def test_group_wait_counts_from_the_group_not_from_the_alert_start(
    tmp_path: Path, make_alert: MakeAlert
) -> None:
    # An alert that was pending for 10 minutes still waits for companions.
    d = _dispatcher(tmp_path)
    d.add([make_alert(monitor="fraud", feature="age", starts_at=T0 - 600)])
    assert d.tick(T0) == []
    d.add([make_alert(monitor="fraud", feature="income", starts_at=T0 - 540)])
    assert _summary(d.tick(T0 + 30)) == [("firing", ["age:firing", "income:firing"])]


def test_group_state_is_committed_with_the_notifications(
    tmp_path: Path, make_alert: MakeAlert
) -> None:
    d = _dispatcher(tmp_path)
    d.add([make_alert(monitor="fraud", feature="age")])
    d.tick(T0)
    d.tick(T0 + 30, {"lifecycle": "{}"})
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    [entry] = outbox.entries()
    assert entry.key == 'team|root:{alertname="DataDrift",monitor="fraud"}'
    assert outbox.get("lifecycle") == "{}"
    restored = _dispatcher(tmp_path)
    restored.restore(json.loads(outbox.get("dispatcher") or "{}"), T0 + 40)
    # The restored log knows the alert was announced: no second notification.
    assert restored.tick(T0 + 40) == []
    assert restored.tick(T0 + 330) == []


E = LogEntry(frozenset({"a", "b"}), frozenset(), T0)


@pytest.mark.parametrize(
    ("entry", "firing", "resolved", "send_resolved", "now", "expected"),
    [
        # Nothing sent yet and something fires.
        (None, {"a"}, set(), True, T0, True),
        # Nothing sent yet and nothing fires.
        (None, set(), {"a"}, True, T0, False),
        # Identical firing set before repeat_interval.
        (E, {"a", "b"}, set(), True, T0 + 100, False),
        # Identical firing set after repeat_interval.
        (E, {"a", "b"}, set(), True, T0 + 3600, True),
        # A subset firing, the rest resolved, send_resolved on.
        (E, {"a"}, {"b"}, True, T0 + 100, True),
        # A subset firing, the rest resolved, send_resolved off.
        (E, {"a"}, {"b"}, False, T0 + 100, False),
        # A new alert fires.
        (E, {"a", "c"}, set(), False, T0 + 100, True),
        # Everything resolved: always recorded, even with send_resolved off.
        (E, set(), {"a", "b"}, False, T0 + 100, True),
    ],
)
def test_needs_update(
    entry: LogEntry | None,
    firing: set[str],
    resolved: set[str],
    send_resolved: bool,
    now: float,
    expected: bool,
) -> None:
    got = needs_update(
        entry,
        frozenset(firing),
        frozenset(resolved),
        send_resolved=send_resolved,
        repeat_interval=3600,
        now=now,
    )
    assert got is expected


def test_restore_with_a_changed_route_tree_moves_alerts(
    tmp_path: Path, make_alert: MakeAlert
) -> None:
    d = _dispatcher(tmp_path)
    d.add([make_alert(monitor="fraud", feature="age")])
    d.tick(T0)
    assert len(d.tick(T0 + 30)) == 1
    snapshot = d.snapshot()
    # The new config sends fraud alerts to a child route: the old root group is not restored
    # and the alert is announced by its new group after group_wait.
    moved = _dispatcher(tmp_path, routes=[{"matchers": ["monitor=fraud"], "group_wait": 10}])
    moved.restore(snapshot, T0 + 40)
    assert moved.tick(T0 + 40) == []
    [note] = moved.tick(T0 + 50)
    assert note.group_key == 'root/0:{alertname="DataDrift",monitor="fraud"}'
    assert [g.key for g in moved.groups()] == [note.group_key]
