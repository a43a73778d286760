"""Alert time is event time: a backlog, a replay and a live run notify the same things."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from driftd.alerting import AlertingConfig, build_alerting
from driftd.alerting.eventclock import EventClock
from driftd.alerting.notification import Notification
from driftd.records import State, Verdict
from tests.fakes.clock import FakeClock

T0 = 1_700_000_000.0
WINDOW_S = 20.0  # each window spans 20 s of event time
# 10 calm windows, 4 drifting on age, 10 calm, 3 drifting on income and age, 10 calm.
PATTERN = [""] * 10 + ["age"] * 4 + [""] * 10 + ["age,income"] * 3 + [""] * 10


def _config(tmp_path: Path, **extra: Any) -> AlertingConfig:
    data = {
        "outbox_dir": str(tmp_path / "alerting"),
        "rules": [{"name": "drift", "for_windows": 2, "keep_firing_for": "30s"}],
        "route": {
            "receiver": "hook",
            "group_by": ["monitor"],
            "group_wait": "30s",
            "group_interval": "1m",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/h"}],
        **extra,
    }
    return AlertingConfig.model_validate(data)


def _window(i: int, epoch: str = "e1") -> list[Verdict]:
    drifting = set(PATTERN[i].split(",")) - {""}
    return [
        Verdict(
            monitor="fraud",
            feature=feature,
            statistic="psi",
            value=0.3 if feature in drifting else 0.05,
            limit=0.2,
            state=State.DRIFT if feature in drifting else State.OK,
            window_index=i,
            window_epoch=epoch,
            window_size=1000,
            window_start=T0 + WINDOW_S * i,
            window_end=T0 + WINDOW_S * (i + 1),
        )
        for feature in ("age", "income")
    ]


def _live(tmp_path: Path, windows: list[list[Verdict]]) -> list[Notification]:
    """Windows arrive in real time; the daemon ticks every second while caught up."""
    clock = FakeClock(T0 + 5)
    alerting = build_alerting(_config(tmp_path / "live"), CollectorRegistry(), clock)
    notes: list[Notification] = []
    for i, window in enumerate(windows):
        while clock.now < T0 + WINDOW_S * (i + 1):
            notes += alerting.tick(caught_up=True)
            clock.advance(1.0)
        alerting.observe_window(window)
        notes += alerting.tick(caught_up=True)
    for _ in range(600):
        clock.advance(1.0)
        notes += alerting.tick(caught_up=True)
    return notes


def _backlog(tmp_path: Path, windows: list[list[Verdict]], **extra: Any) -> list[Notification]:
    """Every window read within a few wall seconds, long after the fact; then at the head."""
    clock = FakeClock(T0 + 86_400)
    alerting = build_alerting(_config(tmp_path, **extra), CollectorRegistry(), clock)
    notes: list[Notification] = []
    for i, window in enumerate(windows):
        alerting.observe_window(window)
        if i % 7 == 0:
            clock.advance(0.1)
            notes += alerting.tick(caught_up=False)
    notes += alerting.tick(caught_up=False)
    for _ in range(600):
        clock.advance(1.0)
        notes += alerting.tick(caught_up=True)
    return notes


def _summary(notes: list[Notification]) -> list[tuple[tuple[str, str, float], ...]]:
    return [tuple((a.label_map["feature"], a.status, a.starts_at) for a in n.alerts) for n in notes]


def test_a_backlog_sends_what_the_live_run_sent(tmp_path: Path) -> None:
    windows = [_window(i) for i in range(len(PATTERN))]
    live = _live(tmp_path, windows)
    backlog = _backlog(tmp_path / "backlog", windows)
    assert _summary(backlog) == _summary(live)
    statuses = [[s for _, s, _ in n] for n in _summary(live)]
    # Two episodes: each fires (after group_wait) and resolves; nothing else.
    assert statuses == [["firing"], ["resolved"], ["firing", "firing"], ["resolved", "resolved"]]
    # Start times are the event times of the windows that made the alerts pending.
    first = _summary(live)[0][0]
    assert first == ("age", "firing", T0 + WINDOW_S * 11)
    # Notification times are event times too, identical in both runs.
    assert [n.created_at for n in backlog] == [n.created_at for n in live]


def test_replayed_windows_count_once(tmp_path: Path) -> None:
    windows = [_window(i) for i in range(len(PATTERN))]
    once = _backlog(tmp_path / "once", windows)
    # After a crash the records since the checkpoint are replayed: windows 12-16 close again.
    replayed = windows[:17] + windows[12:17] + windows[17:]
    twice = _backlog(tmp_path / "twice", replayed)
    assert _summary(twice) == _summary(once)


def test_a_new_run_of_windows_is_not_taken_for_a_replay(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    alerting = build_alerting(_config(tmp_path), CollectorRegistry(), clock)
    for i in range(12):
        alerting.observe_window(_window(i))
    # The monitor started over (its checkpoint did not fit): indices restart, epoch differs.
    drift = [_window(i, epoch="e2") for i in range(10, 14)]
    for window in drift:
        alerting.observe_window(window)
    states = {a["labels"]["feature"]: a["state"] for a in alerting.status()["alerts"]}
    assert states == {"age": "firing"}


def test_catch_up_head_notifies_only_what_still_fires_at_the_head(tmp_path: Path) -> None:
    # The backlog ends inside the second episode: only it is told, with its start time.
    windows = [_window(i) for i in range(26)]
    notes = _backlog(tmp_path, windows, catch_up="head")
    start = T0 + WINDOW_S * 25  # the end of window 24, the first drifting one
    assert _summary(notes) == [(("age", "firing", start), ("income", "firing", start))]
    replay = _backlog(tmp_path / "replay", windows)
    assert [s for n in _summary(replay) for _, s, _ in n][:2] == ["firing", "resolved"]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # Event time only moves forward.
        ([("observe", 100.0), ("observe", 50.0)], 100.0),
        # Caught up, it flows with the wall clock from the newest window.
        ([("observe", 100.0), ("up", 1000.0), ("up", 1010.0)], 110.0),
        # Catching up, wall time does not flow in, nor later.
        ([("observe", 100.0), ("behind", 1000.0), ("behind", 5000.0), ("up", 5001.0)], 100.0),
        # A window without time (NaN) changes nothing.
        ([("observe", 100.0), ("observe", float("nan"))], 100.0),
    ],
)
def test_event_clock(steps: list[tuple[str, float]], expected: float) -> None:
    clock = EventClock()
    for what, t in steps:
        if what == "observe":
            clock.observe(t)
        else:
            clock.advance(t, caught_up=what == "up")
    assert clock.read(wall=123456.0) == expected


def test_without_event_times_the_alert_clock_is_the_wall_clock() -> None:
    assert EventClock().read(wall=42.0) == 42.0
