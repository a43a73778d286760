"""Aggregation groups: alerts that share a route and group labels, notified together.

Timing follows Alertmanager: a new group waits ``group_wait`` before its first flush (so alerts
arriving together go out together, and one that resolves meanwhile is never sent). Unlike
Alertmanager, the wait counts from the group's creation even for an alert that was pending for a
while: with ``for_windows`` every alert has been pending, and batching is the point. It then
flushes every ``group_interval``; a flush notifies only when the notification log says there is
news or ``repeat_interval`` has passed. Resolved alerts leave the group after the flush that
announced them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from driftd.alerting.alert import Alert, Labels, as_labels
from driftd.alerting.dedup import LogEntry, needs_update
from driftd.alerting.notification import Notification
from driftd.alerting.routing import Route

Muter = Callable[[Alert], bool]


class AggregationGroup:
    """The alerts of one group on one route, its next flush time and its notification log."""

    def __init__(self, route: Route, labels: Labels, now: float) -> None:
        self.route = route
        self.labels = labels
        self.key = route.group_key(labels)
        self.alerts: dict[str, Alert] = {}
        self.next_flush_at = now + route.group_wait
        self.log: LogEntry | None = None

    def insert(self, alert: Alert) -> None:
        """Add or update an alert."""
        self.alerts[alert.fingerprint] = alert

    def due(self, now: float) -> bool:
        """True when the group's timer has expired."""
        return now >= self.next_flush_at

    def flush(self, now: float, muted: Muter, send_resolved: bool) -> Notification | None:
        """Run dedup on the unmuted alerts; return what to send, if anything."""
        self.next_flush_at = now + self.route.group_interval
        announced = self.log.firing if self.log is not None else frozenset()
        firing = [a for a in self.alerts.values() if a.is_firing and not muted(a)]
        resolved = [
            a for a in self.alerts.values() if not a.is_firing and a.fingerprint in announced
        ]
        for fp in [fp for fp, a in self.alerts.items() if not a.is_firing]:
            del self.alerts[fp]
        if not firing and not resolved:
            # Everything muted or nothing announced: the log stays as it is, so an alert that
            # was announced before a silence is not announced again when the silence ends.
            return None
        firing_fps = frozenset(a.fingerprint for a in firing)
        resolved_fps = frozenset(a.fingerprint for a in resolved)
        if not needs_update(
            self.log,
            firing_fps,
            resolved_fps,
            send_resolved=send_resolved,
            repeat_interval=self.route.repeat_interval,
            now=now,
        ):
            if self.log is not None and resolved_fps:
                # Resolved quietly (send_resolved off): forget them, keep the last send time.
                self.log = LogEntry(self.log.firing - resolved_fps, resolved_fps, self.log.sent_at)
            return None
        self.log = LogEntry(firing_fps, resolved_fps, now)
        alerts = firing + (resolved if send_resolved else [])
        if not alerts:
            return None
        alerts.sort(key=lambda a: (not a.is_firing, a.starts_at, a.labels))
        return Notification(
            self.route.receiver,
            self.key,
            self.labels,
            tuple(alerts),
            now,
            self.route.am_group_key(self.labels),
        )

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {
            "route": self.route.id,
            "labels": dict(self.labels),
            "alerts": [a.to_dict() for a in self.alerts.values()],
            "next_flush_at": self.next_flush_at,
            "log": self.log.to_dict() if self.log is not None else None,
        }

    @classmethod
    def restore(cls, route: Route, data: dict[str, Any], now: float) -> AggregationGroup:
        """Inverse of ``snapshot``."""
        group = cls(route, as_labels(data["labels"]), now)
        group.alerts = {a.fingerprint: a for a in map(Alert.from_dict, data["alerts"])}
        group.next_flush_at = float(data["next_flush_at"])
        group.log = LogEntry.from_dict(data["log"]) if data["log"] is not None else None
        return group
