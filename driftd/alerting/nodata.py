"""The no-data alert: a monitor that stopped delivering windows (a stalled stream)."""

from __future__ import annotations

from typing import Any

from driftd.alerting.alert import Alert, as_labels
from driftd.alerting.config import NoDataRule
from driftd.alerting.rules import render

DEFAULT_SUMMARY = "monitor {monitor} delivered no window for {after}"


class NoDataWatch:
    """Fires ``rule.alertname`` for a monitor silent for ``rule.after`` seconds; its next
    window resolves it."""

    def __init__(self, rule: NoDataRule, now: float | None) -> None:
        self._rule = rule
        # None: watched, but the clock had no time yet; the first tick starts the timer.
        self._last_seen: dict[str, float | None] = dict.fromkeys(rule.monitors, now)
        self._firing: dict[str, Alert] = {}

    def watches(self, monitor: str) -> bool:
        """True once the monitor is watched (listed in the rule, or delivered a window)."""
        return monitor in self._last_seen

    def seen(self, monitor: str, now: float) -> list[Alert]:
        """A window of ``monitor`` arrived; resolves its no-data alert if one fires."""
        self._last_seen[monitor] = now
        alert = self._firing.pop(monitor, None)
        return [alert.resolve(now)] if alert is not None else []

    def tick(self, now: float) -> list[Alert]:
        """Fire for every monitor silent for too long."""
        out: list[Alert] = []
        for monitor, seen in self._last_seen.items():
            if seen is None:
                self._last_seen[monitor] = now
                continue
            if monitor not in self._firing and now - seen >= self._rule.after:
                alert = self._alert(monitor, seen, now)
                self._firing[monitor] = alert
                out.append(alert)
        return out

    def next_due(self) -> float | None:
        """When the next monitor goes silent for too long (None: nothing to watch)."""
        times = [
            seen + self._rule.after
            for monitor, seen in self._last_seen.items()
            if seen is not None and monitor not in self._firing
        ]
        return min(times, default=None)

    def firing(self) -> list[Alert]:
        """The no-data alerts firing now."""
        return list(self._firing.values())

    def _alert(self, monitor: str, seen: float, now: float) -> Alert:
        rule = self._rule
        labels = as_labels(
            {
                **rule.labels,
                "alertname": rule.alertname,
                "monitor": monitor,
                "severity": rule.severity,
            }
        )
        fields = {**dict(labels), "after": f"{rule.after:g}s"}
        annotations = {"summary": render(DEFAULT_SUMMARY, fields)}
        annotations.update({k: render(t, fields) for k, t in rule.annotations.items()})
        # The stall began when the last window arrived, not when it was noticed.
        return Alert.firing(labels, tuple(sorted(annotations.items())), seen, now)

    def snapshot(self) -> dict[str, Any]:
        """Which monitors are watched and which alerts fire."""
        return {
            "monitors": sorted(self._last_seen),
            "firing": {m: a.to_dict() for m, a in self._firing.items()},
        }

    def restore(self, data: dict[str, Any], now: float | None) -> None:
        """Load a snapshot. Stall timers restart at ``now``: our own downtime is not a stall."""
        for monitor in data.get("monitors", []):
            self._last_seen.setdefault(monitor, now)
        for monitor, raw in data.get("firing", {}).items():
            self._firing[monitor] = Alert.from_dict(raw)
