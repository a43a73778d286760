"""Alert states, as Prometheus evaluates rules: inactive → pending → firing → resolved.

A series (one rule × one label set) becomes *pending* on its first drifting window and *firing*
after ``for_windows`` drifting windows in a row; a calm window while pending drops it. While
firing, calm windows start the ``keep_firing_for`` grace: it resolves once more than
``keep_firing_for_windows`` calm windows were seen *and* ``keep_firing_for`` seconds passed
since the last drifting window (checked again by ``tick``). A drifting window in between
restarts the grace. Windows with too few samples change nothing. Pending alerts are never
notified; firing and resolved ones are returned for the dispatcher.

Every window counts once. A verdict names its window (``window_epoch``, ``window_index``); one
of a window this lifecycle already applied, for the same monitor, segment, feature and
statistic, is ignored. After a crash the daemon replays the records since its last checkpoint
into the restored windows, which close again with the same identity, while the alert state in
the outbox may already hold them: without this, ``for_windows`` would count them twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from driftd.alerting.alert import Alert, Labels, as_labels, fingerprint
from driftd.alerting.config import AlertRule, NoDataRule
from driftd.alerting.nodata import NoDataWatch
from driftd.alerting.rules import Rule, base_labels
from driftd.records import State, Verdict

PENDING, FIRING = "pending", "firing"
WindowSource = tuple[str, tuple[tuple[str, str], ...], str, str, str]


@dataclass
class _Series:
    rule: str
    labels: Labels
    annotations: Labels
    state: str
    drift_windows: int
    calm_windows: int
    active_at: float
    last_drift_at: float
    last_seen_at: float


@dataclass(frozen=True, slots=True)
class AlertState:
    """A pending or firing alert, for ``/status`` and the ``driftd_alerts`` gauge."""

    fingerprint: str
    rule: str
    labels: Labels
    annotations: Labels
    state: str
    active_at: float


class Lifecycle:
    """Holds the state of every pending and firing alert and advances it on verdicts and time."""

    def __init__(
        self, rules: Sequence[AlertRule], no_data: NoDataRule | None, now: float | None
    ) -> None:
        self._rules = {r.name: Rule.compile(r) for r in rules}
        self._series: dict[str, _Series] = {}
        self._no_data = NoDataWatch(no_data, now) if no_data is not None else None
        # The newest window applied per verdict source: (epoch, index).
        self._windows: dict[WindowSource, tuple[str, int]] = {}
        self.dirty = False
        self.replayed = 0

    def _first_time(self, verdict: Verdict) -> bool:
        """Whether the verdict's window is new to this lifecycle (and remember it)."""
        if not verdict.window_epoch:
            return True  # no window identity (hand-made verdicts): cannot be a replay
        source = (
            verdict.monitor,
            verdict.segment,
            verdict.feature,
            verdict.statistic,
            verdict.kind,
        )
        seen = self._windows.get(source)
        if seen is not None and seen[0] == verdict.window_epoch and verdict.window_index <= seen[1]:
            self.replayed += 1
            return False
        self._windows[source] = (verdict.window_epoch, verdict.window_index)
        self.dirty = True
        return True

    def observe(self, verdict: Verdict, now: float) -> list[Alert]:
        """Apply one verdict to every rule that covers it; return the alerts to dispatch."""
        if not self._first_time(verdict):
            return []
        out: list[Alert] = []
        if self._no_data is not None:
            new_monitor = not self._no_data.watches(verdict.monitor)
            out.extend(self._no_data.seen(verdict.monitor, now))
            self.dirty = self.dirty or new_monitor or bool(out)
        base = base_labels(verdict)
        for rule in self._rules.values():
            if rule.applies(base):
                labels = rule.labels(base)
                out.extend(self._step(rule, labels, verdict, now))
        return out

    def tick(self, now: float) -> list[Alert]:
        """Time-based transitions: keep_firing_for expiry, stale series, no-data alerts."""
        out: list[Alert] = []
        for fp, series in list(self._series.items()):
            rule = self._rules[series.rule].config
            stale = rule.resolve_stale_after
            if stale is not None and now - series.last_seen_at >= stale:
                out.extend(self._drop(fp, now))
            elif series.state == FIRING and series.calm_windows:
                out.extend(self._maybe_resolve(fp, now))
        if self._no_data is not None:
            fired = self._no_data.tick(now)
            self.dirty = self.dirty or bool(fired)
            out.extend(fired)
        return out

    def next_due(self) -> float | None:
        """When the earliest time-based transition of ``tick`` is due (None: none pending)."""
        times: list[float] = []
        for series in self._series.values():
            rule = self._rules[series.rule].config
            if rule.resolve_stale_after is not None:
                times.append(series.last_seen_at + rule.resolve_stale_after)
            if series.state == FIRING and series.calm_windows > rule.keep_firing_for_windows:
                times.append(series.last_drift_at + rule.keep_firing_for)
        if self._no_data is not None:
            due = self._no_data.next_due()
            if due is not None:
                times.append(due)
        return min(times, default=None)

    def _step(self, rule: Rule, labels: Labels, verdict: Verdict, now: float) -> list[Alert]:
        fp = fingerprint(labels)
        series = self._series.get(fp)
        if verdict.state is State.INSUFFICIENT:
            if series is not None:
                series.last_seen_at = now
            return []
        if not verdict.drifted:
            if series is None:
                return []
            series.last_seen_at = now
            self.dirty = True
            if series.state == PENDING:
                del self._series[fp]
                return []
            series.calm_windows += 1
            # The resolve (and any repeat in the grace) tells the value now, not the last drift.
            series.annotations = rule.annotations(labels, verdict)
            return self._maybe_resolve(fp, now)
        annotations = rule.annotations(labels, verdict)
        self.dirty = True
        if series is None:
            series = _Series(rule.name, labels, annotations, PENDING, 0, 0, now, now, now)
            self._series[fp] = series
        series.drift_windows += 1
        series.calm_windows = 0
        series.annotations = annotations
        series.last_drift_at = series.last_seen_at = now
        if series.state == PENDING and series.drift_windows >= rule.config.for_windows:
            series.state = FIRING
        if series.state == FIRING:
            return [Alert.firing(labels, annotations, series.active_at, now)]
        return []

    def _maybe_resolve(self, fp: str, now: float) -> list[Alert]:
        series = self._series[fp]
        rule = self._rules[series.rule].config
        grace_windows = series.calm_windows > rule.keep_firing_for_windows
        grace_time = now - series.last_drift_at >= rule.keep_firing_for
        if grace_windows and grace_time:
            return self._drop(fp, now)
        return []

    def _drop(self, fp: str, now: float) -> list[Alert]:
        series = self._series.pop(fp)
        self.dirty = True
        if series.state != FIRING:
            return []
        alert = Alert.firing(series.labels, series.annotations, series.active_at, now)
        return [alert.resolve(now)]

    def states(self) -> list[AlertState]:
        """Every pending and firing alert (no-data ones included)."""
        out = [
            AlertState(fp, s.rule, s.labels, s.annotations, s.state, s.active_at)
            for fp, s in self._series.items()
        ]
        if self._no_data is not None:
            out.extend(
                AlertState(a.fingerprint, "no_data", a.labels, a.annotations, FIRING, a.starts_at)
                for a in self._no_data.firing()
            )
        return out

    def snapshot(self) -> dict[str, Any]:
        """State to persist, so a restart neither re-pages nor forgets to resolve."""
        series = {
            fp: {**asdict(s), "labels": dict(s.labels), "annotations": dict(s.annotations)}
            for fp, s in self._series.items()
        }
        no_data = self._no_data.snapshot() if self._no_data is not None else {}
        windows = [
            [m, [list(kv) for kv in seg], f, s, k, e, i]
            for (m, seg, f, s, k), (e, i) in self._windows.items()
        ]
        return {"series": series, "no_data": no_data, "windows": windows}

    def restore(self, data: dict[str, Any], now: float | None) -> None:
        """Load a snapshot; series of rules no longer configured are dropped."""
        for m, seg, f, s, k, e, i in data.get("windows", []):
            segment = tuple((str(a), str(b)) for a, b in seg)
            self._windows[(str(m), segment, str(f), str(s), str(k))] = (str(e), int(i))
        for fp, raw in data.get("series", {}).items():
            if raw["rule"] not in self._rules:
                continue
            labels = as_labels(raw["labels"])
            annotations = tuple(sorted(raw["annotations"].items()))
            fields = {k: v for k, v in raw.items() if k not in ("labels", "annotations")}
            series = _Series(labels=labels, annotations=annotations, **fields)
            # Our own downtime is not the series going stale.
            if now is not None:
                series.last_seen_at = max(series.last_seen_at, now)
            self._series[fp] = series
        if self._no_data is not None:
            self._no_data.restore(data.get("no_data", {}), now)
