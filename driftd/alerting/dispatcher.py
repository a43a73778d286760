"""The notification pipeline: from alerts to durable outbox entries.

``Dispatcher.tick`` is the whole pipeline, top to bottom, in Alertmanager's order: route and
group alerts as they arrive; when a group's timer fires, drop alerts that are inhibited or
silenced *at that moment*, and let the notification log decide whether there is news; then
write the notifications, together with the state that produced them, to the outbox in one
transaction. Nothing here sleeps or talks to a receiver: the delivery worker does that.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from driftd.alerting.alert import Alert
from driftd.alerting.alertmanager import AlertmanagerPush
from driftd.alerting.grouping import AggregationGroup
from driftd.alerting.inhibit import Inhibitor
from driftd.alerting.notification import Notification
from driftd.alerting.outbox import Item, Outbox
from driftd.alerting.retrain import RetrainTrigger
from driftd.alerting.routing import Route
from driftd.alerting.silence import Silences
from driftd.alerting.timeintervals import IntervalSpec, any_contains


@dataclass(frozen=True, slots=True)
class ReceiverInfo:
    """What the pipeline needs to know about a receiver."""

    integration: str
    send_resolved: bool


class Dispatcher:
    """Routes, groups, mutes and deduplicates alerts; enqueues what must be sent."""

    def __init__(
        self,
        route: Route,
        inhibitor: Inhibitor,
        silences: Silences,
        outbox: Outbox,
        *,
        receivers: Mapping[str, ReceiverInfo],
        retrain: Sequence[RetrainTrigger] = (),
        pushes: Sequence[AlertmanagerPush] = (),
        intervals: Mapping[str, Sequence[IntervalSpec]] | None = None,
        groups: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._route = route
        self._routes = {r.id: r for r in route.walk()}
        self._inhibitor = inhibitor
        self._silences = silences
        self._outbox = outbox
        self._receivers = receivers
        self._retrain = retrain
        self._pushes = pushes
        self._intervals = dict(intervals or {})
        # A route's receiver name -> the receivers it delivers to (Alertmanager-style blocks).
        self._fanout = {k: tuple(v) for k, v in (groups or {}).items()}
        self._incoming: dict[str, Alert] = {}
        self._firing: dict[str, Alert] = {}
        self._groups: dict[str, AggregationGroup] = {}
        self._dirty = False
        # Notifications made by ``step`` and not yet written by ``commit``.
        self._unwritten: list[Notification] = []

    def add(self, alerts: Iterable[Alert]) -> None:
        """Accept new or updated alerts; they enter their groups on the next ``tick``."""
        alerts = list(alerts)
        for push in self._pushes:
            push.observe(alerts)
        for alert in alerts:
            self._incoming[alert.fingerprint] = alert
            if alert.is_firing:
                self._firing[alert.fingerprint] = alert
            else:
                self._firing.pop(alert.fingerprint, None)

    def tick(
        self,
        now: float,
        state: Mapping[str, str] | None = None,
        *,
        wall: float | None = None,
        flush: bool = True,
    ) -> list[Notification]:
        """Run the pipeline once; ``state`` is written to the outbox with its entries.

        ``now`` is the alert clock (event time: group timers, repeat, retraining); ``wall``
        the wall clock (silences, outbox entry times), ``now`` when not given. With ``flush``
        false, alerts are grouped but no group is flushed (catching up with ``catch_up:
        head``): their timers fire once flushing resumes.
        """
        self.step(now, wall=wall, flush=flush)
        return self.commit(state, now if wall is None else wall)

    def next_due(self) -> float | None:
        """When the earliest group timer fires (None without groups)."""
        return min((g.next_flush_at for g in self._groups.values()), default=None)

    def step(self, now: float, *, wall: float | None = None, flush: bool = True) -> None:
        """Steps 1-5 at alert time ``now``, in memory; ``commit`` writes what they made."""
        wall = now if wall is None else wall
        # 1. route and 2. group: each new or updated alert joins the group of every route
        #    it matches (a new group starts its group_wait now).
        for alert in self._take_incoming():
            for route in self._route.match(alert.label_map):
                self._group(route, alert, now)
        # 3. inhibit and 4. silence, judged against the firing alerts and silences of now.
        inhibited = self._inhibitor.muter(self._firing.values())
        silenced = self._silences.muter(wall)

        def muted(alert: Alert) -> bool:
            return inhibited(alert) or silenced(alert)

        # 5. dedup: each group whose timer expired asks its notification log if it has news.
        notes: list[Notification] = []
        for key, group in list(self._groups.items()):
            if not flush or not group.due(now):
                continue
            if self._time_muted(group.route, wall):
                # Held, not flushed: the group stays due and is sent at the first step after
                # the interval (its log is untouched, so nothing is lost or sent twice).
                continue
            self._dirty = True
            targets = self._fanout.get(group.route.receiver, (group.route.receiver,))
            send_resolved = any(self._receivers[t].send_resolved for t in targets)
            note = group.flush(now, muted, send_resolved)
            if note is not None:
                notes.extend(self._fan_out(note, targets))
            if not group.alerts:
                del self._groups[key]
        #    Retraining triggers watch the same unmuted firing alerts for sustained drift.
        for trigger in self._retrain if flush else ():
            fired = trigger.check(self._firing.values(), muted, now)
            notes.extend(fired)
            self._dirty = self._dirty or bool(fired)
        #    Alertmanager pushes see every alert, muted or not: Alertmanager mutes its own.
        for push in self._pushes if flush else ():
            pushed = push.check(wall)
            notes.extend(pushed)
            self._dirty = self._dirty or bool(pushed)
        self._unwritten.extend(notes)

    def _fan_out(self, note: Notification, targets: Sequence[str]) -> list[Notification]:
        # One notification per integration, each with its own outbox key: delivered and
        # retried independently, as Alertmanager's integrations are.
        if targets == (note.receiver,):
            return [note]
        out = []
        for target in targets:
            alerts = note.alerts
            if not self._receivers[target].send_resolved:
                alerts = tuple(a for a in alerts if a.is_firing)
            if alerts:
                out.append(replace(note, receiver=target, alerts=alerts))
        return out

    def _time_muted(self, route: Route, wall: float) -> bool:
        # Wall clock, like silences: these intervals are about when people are paged.
        if any(any_contains(self._intervals[n], wall) for n in route.mute_intervals):
            return True
        return bool(route.active_intervals) and not any(
            any_contains(self._intervals[n], wall) for n in route.active_intervals
        )

    def commit(self, state: Mapping[str, str] | None, wall: float) -> list[Notification]:
        """6. outbox: the notifications since the last commit and the state that produced
        them, atomically; returns those notifications."""
        notes = self._unwritten
        if notes or state or self._dirty:
            snapshot = {**(state or {}), "dispatcher": json.dumps(self.snapshot())}
            # Raises on a full disk: the notifications stay here for the next commit.
            self._outbox.commit([self._item(n) for n in notes], snapshot, wall)
            self._dirty = False
        self._unwritten = []
        return notes

    def _take_incoming(self) -> list[Alert]:
        alerts, self._incoming = list(self._incoming.values()), {}
        self._dirty = self._dirty or bool(alerts)
        return alerts

    def _group(self, route: Route, alert: Alert, now: float) -> None:
        labels = route.group_labels(alert.labels)
        key = route.group_key(labels)
        group = self._groups.get(key)
        if group is None:
            if not alert.is_firing:
                return  # a resolve for a group that no longer exists has nobody to tell
            group = self._groups[key] = AggregationGroup(route, labels, now)
        group.insert(alert)

    def _item(self, note: Notification) -> Item:
        integration = self._receivers[note.receiver].integration
        return Item(f"{note.receiver}|{note.group_key}", note.receiver, integration, note.to_json())

    def groups(self) -> list[AggregationGroup]:
        """The current aggregation groups."""
        return list(self._groups.values())

    def snapshot(self) -> dict[str, Any]:
        """Groups (with their logs and timers), firing alerts and retrain state."""
        return {
            "firing": [a.to_dict() for a in self._firing.values()],
            "groups": [g.snapshot() for g in self._groups.values()],
            "retrain": {t.config.name: t.snapshot() for t in self._retrain},
        }

    def restore(self, data: Mapping[str, Any], now: float) -> None:
        """Load a snapshot; alerts are routed again, so a changed route tree takes effect."""
        for raw in data.get("groups", []):
            route = self._routes.get(raw["route"])
            if route is None or (
                route.receiver not in self._receivers and route.receiver not in self._fanout
            ):
                continue
            group = AggregationGroup.restore(route, raw, now)
            for fp, alert in list(group.alerts.items()):
                # As after an Alertmanager reload: an alert the new tree sends elsewhere
                # leaves its old group (its new group announces it).
                if route not in self._route.match(alert.label_map):
                    del group.alerts[fp]
            if group.alerts:
                self._groups[group.key] = group
        self.add(Alert.from_dict(raw) for raw in data.get("firing", []))
        for trigger in self._retrain:
            trigger.restore(data.get("retrain", {}).get(trigger.config.name, {}))
