"""Alert lifecycle: pending/for_windows, keep_firing_for, resolve, identity, no-data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from driftd.alerting.alert import Alert, fingerprint
from driftd.alerting.config import AlertRule, NoDataRule
from driftd.alerting.lifecycle import Lifecycle
from driftd.records import State, Verdict

T0 = 1_700_000_000.0
MakeVerdict = Callable[..., Verdict]


def _lifecycle(no_data: NoDataRule | None = None, **rule: Any) -> Lifecycle:
    return Lifecycle([AlertRule(name="drift", **rule)], no_data, T0)


def _run(life: Lifecycle, make: MakeVerdict, pattern: str, t: float = T0) -> list[list[str]]:
    """Feed one window per character (D drift, . calm, ? insufficient) 60 s apart; return
    the statuses emitted for each window."""
    out = []
    for i, c in enumerate(pattern):
        state = {"D": State.DRIFT, ".": State.OK, "?": State.INSUFFICIENT}[c]
        alerts = life.observe(make(drift=c == "D", state=state), t + 60 * i)
        out.append([a.status for a in alerts])
    return out


@pytest.mark.parametrize(
    ("for_windows", "pattern", "expected"),
    [
        # for_windows=1: the first drifting window fires.
        (1, "D", [["firing"]]),
        # for_windows=3: pending for two windows, firing on the third.
        (3, "DDD", [[], [], ["firing"]]),
        # A calm window while pending drops the alert: the count restarts.
        (3, "DD.DDD", [[], [], [], [], [], ["firing"]]),
        # Too few samples changes nothing: the count carries on.
        (3, "D?DD", [[], [], [], ["firing"]]),
    ],
)
def test_for_windows_counts_consecutive_drifting_windows(
    make_verdict: MakeVerdict, for_windows: int, pattern: str, expected: list[list[str]]
) -> None:
    life = _lifecycle(for_windows=for_windows)
    assert _run(life, make_verdict, pattern) == expected


def test_pending_alert_is_reported_but_never_dispatched(make_verdict: MakeVerdict) -> None:
    life = _lifecycle(for_windows=2)
    assert life.observe(make_verdict(), T0) == []
    [state] = life.states()
    assert state.state == "pending"
    assert life.observe(make_verdict(drift=False), T0 + 60) == []
    assert life.states() == []


@pytest.mark.parametrize(
    ("keep", "pattern", "expected"),
    [
        # No grace: the first calm window resolves.
        (0, "D.", [["firing"], ["resolved"]]),
        # Grace of 2 windows: fires through 2 calm windows, resolves on the 3rd.
        (2, "D...", [["firing"], [], [], ["resolved"]]),
        # A drifting window inside the grace restarts it (and updates the alert).
        (2, "D..D...", [["firing"], [], [], ["firing"], [], [], ["resolved"]]),
    ],
)
def test_keep_firing_for_windows(
    make_verdict: MakeVerdict, keep: int, pattern: str, expected: list[list[str]]
) -> None:
    life = _lifecycle(keep_firing_for_windows=keep)
    assert _run(life, make_verdict, pattern) == expected


def test_keep_firing_for_seconds_resolves_on_tick(make_verdict: MakeVerdict) -> None:
    life = _lifecycle(keep_firing_for=600)
    [fired] = life.observe(make_verdict(), T0)
    assert life.observe(make_verdict(drift=False), T0 + 60) == []
    assert life.tick(T0 + 599) == []
    [resolved] = life.tick(T0 + 600)
    assert resolved.status == "resolved"
    assert resolved.fingerprint == fired.fingerprint
    assert resolved.ends_at == T0 + 600
    assert resolved.starts_at == T0


def test_keep_firing_for_seconds_does_not_resolve_while_condition_holds(
    make_verdict: MakeVerdict,
) -> None:
    # No calm window yet: the stream may simply be slow; the condition was last met "now".
    life = _lifecycle(keep_firing_for=600)
    life.observe(make_verdict(), T0)
    assert life.tick(T0 + 3600) == []
    assert [s.state for s in life.states()] == ["firing"]


def test_annotations_change_but_identity_does_not(make_verdict: MakeVerdict) -> None:
    life = _lifecycle(annotations={"dashboard_url": "https://g/d?m={monitor}&f={feature}"})
    [first] = life.observe(make_verdict(value=0.31, window_index=1), T0)
    [second] = life.observe(make_verdict(value=0.52, window_index=2), T0 + 60)
    assert first.fingerprint == second.fingerprint
    assert first.labels == second.labels
    assert first.annotation_map["value"] == "0.31"
    assert second.annotation_map["value"] == "0.52"
    assert second.annotation_map["window"].startswith("#2 (5000 events")
    assert second.annotation_map["dashboard_url"] == "https://g/d?m=fraud&f=age"
    assert second.starts_at == T0
    assert second.updated_at == T0 + 60


def test_labels_identify_the_alert(make_verdict: MakeVerdict) -> None:
    life = _lifecycle(severity="critical", labels={"team": "ml"})
    [alert] = life.observe(
        make_verdict(segment=(("country", "DE"),), kind="prediction", statistic="ks"), T0
    )
    assert alert.label_map == {
        "alertname": "PredictionDrift",
        "monitor": "fraud",
        "feature": "age",
        "statistic": "ks",
        "severity": "critical",
        "team": "ml",
        "country": "DE",
    }
    assert alert.fingerprint == fingerprint(alert.labels)
    assert alert.annotation_map["summary"] == (
        "PredictionDrift on fraud: ks of age is 0.3, above its limit 0.2"
    )
    # Another segment is another alert.
    [other] = life.observe(make_verdict(segment=(("country", "FR"),)), T0)
    assert other.fingerprint != alert.fingerprint


def test_fingerprint_is_stable_and_order_free() -> None:
    a = (("alertname", "DataDrift"), ("monitor", "fraud"))
    assert fingerprint(a) == fingerprint(tuple(reversed(a)))
    assert fingerprint(a) == "4e84c0584b8572f0"
    assert len(fingerprint(a)) == 16
    assert fingerprint((("a", "b\xffc"),)) != fingerprint((("a", "b"), ("c", "")))


def test_rules_pick_verdicts_by_matchers(make_verdict: MakeVerdict) -> None:
    rules = [
        AlertRule(name="warn", matchers=['alertname="DataDrift"'], severity="warning"),
        AlertRule(name="page", matchers=['statistic="ks"'], for_windows=2, severity="critical"),
        AlertRule(name="quality", matchers=['alertname="DataQuality"'], alertname="SchemaBroken"),
    ]
    life = Lifecycle(rules, None, T0)
    first = life.observe(make_verdict(statistic="ks"), T0)
    assert [a.label_map["severity"] for a in first] == ["warning"]
    second = life.observe(make_verdict(statistic="ks"), T0 + 60)
    assert sorted(a.label_map["severity"] for a in second) == ["critical", "warning"]
    [quality] = life.observe(make_verdict(kind="schema", statistic="missing_rate"), T0)
    assert quality.label_map["alertname"] == "SchemaBroken"


def test_stale_series_resolve_after_resolve_stale_after(make_verdict: MakeVerdict) -> None:
    life = _lifecycle(resolve_stale_after=900)
    life.observe(make_verdict(segment=(("country", "DE"),)), T0)
    life.observe(make_verdict(segment=(("country", "FR"),)), T0)
    life.observe(make_verdict(segment=(("country", "FR"),)), T0 + 600)
    [gone] = life.tick(T0 + 900)
    assert gone.status == "resolved"
    assert gone.label_map["country"] == "DE"
    assert [dict(s.labels)["country"] for s in life.states()] == ["FR"]


def test_no_data_fires_for_a_silent_monitor_and_resolves_on_its_next_window(
    make_verdict: MakeVerdict,
) -> None:
    life = _lifecycle(no_data=NoDataRule(after=600, monitors=["fraud", "churn"]))
    life.observe(make_verdict(drift=False), T0 + 100)
    fired = life.tick(T0 + 600)
    # churn never delivered: watched from start-up, silent for 600 s.
    assert [a.label_map["monitor"] for a in fired] == ["churn"]
    [late] = life.tick(T0 + 700)
    assert late.label_map == {"alertname": "NoData", "monitor": "fraud", "severity": "warning"}
    assert late.starts_at == T0 + 100
    assert late.annotation_map["summary"] == "monitor fraud delivered no window for 600s"
    assert life.tick(T0 + 800) == []  # fires once, not on every tick
    [resolved] = life.observe(make_verdict(drift=False), T0 + 900)
    assert resolved.status == "resolved"
    assert resolved.fingerprint == late.fingerprint


def test_snapshot_restore_keeps_states(make_verdict: MakeVerdict) -> None:
    life = _lifecycle(for_windows=2, no_data=NoDataRule(after=60))
    life.observe(make_verdict(), T0)
    life.observe(make_verdict(), T0 + 10)
    life.observe(make_verdict(feature="income"), T0 + 20)
    life.tick(T0 + 200)
    restored = _lifecycle(for_windows=2, no_data=NoDataRule(after=60))
    restored.restore(life.snapshot(), T0 + 1000)
    states = sorted((s.labels, s.state) for s in restored.states())
    assert states == sorted((s.labels, s.state) for s in life.states())
    # The restored alerts resolve like the originals would have: the window ends the no-data
    # alert, and its calm verdict the drift alert.
    resolved = restored.observe(make_verdict(drift=False), T0 + 1001)
    assert all(isinstance(a, Alert) and a.status == "resolved" for a in resolved)
    by_name = {a.label_map["alertname"]: a for a in resolved}
    assert set(by_name) == {"NoData", "DataDrift"}
    assert by_name["DataDrift"].starts_at == T0
    assert by_name["NoData"].starts_at == T0 + 20


def test_downtime_does_not_make_restored_series_stale(make_verdict: MakeVerdict) -> None:
    life = _lifecycle(resolve_stale_after=900)
    life.observe(make_verdict(), T0)
    restored = _lifecycle(resolve_stale_after=900)
    restored.restore(life.snapshot(), T0 + 7200)  # down for two hours
    assert restored.tick(T0 + 7201) == []
    [gone] = restored.tick(T0 + 7200 + 900)  # stale only if still silent after restart
    assert gone.status == "resolved"
