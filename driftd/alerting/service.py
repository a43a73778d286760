"""``Alerting``: the subsystem behind one object, and ``build_alerting`` to assemble it."""

from __future__ import annotations

import json
import logging
import math
import random
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry

from driftd.alerting.alertmanager import AlertmanagerNotifier, AlertmanagerPush
from driftd.alerting.config import AlertingConfig
from driftd.alerting.dispatcher import Dispatcher, ReceiverInfo
from driftd.alerting.email import EmailNotifier
from driftd.alerting.eventclock import EventClock
from driftd.alerting.inhibit import Inhibitor
from driftd.alerting.lifecycle import Lifecycle
from driftd.alerting.metrics import AlertingMetrics, build_alerting_metrics
from driftd.alerting.notification import Notification, Notifier
from driftd.alerting.opsgenie import OpsgenieNotifier
from driftd.alerting.outbox import Outbox
from driftd.alerting.pagerduty import PagerDutyNotifier
from driftd.alerting.retrain import RetrainNotifier, RetrainTrigger
from driftd.alerting.routing import Route
from driftd.alerting.silence import Silences
from driftd.alerting.silence_api import handle_silences
from driftd.alerting.teams import TeamsNotifier
from driftd.alerting.timefmt import rfc3339
from driftd.alerting.transport import Transport, UrllibTransport
from driftd.alerting.webhook import WebhookNotifier
from driftd.alerting.worker import Backoff, DeliveryWorker
from driftd.errors import ConfigError, StateError
from driftd.records import Verdict

log = logging.getLogger(__name__)

OUTBOX_FILE = "outbox.sqlite3"
# Timers fired between two windows at most; far more than any real config has due at once.
MAX_TIMER_STEPS = 10_000
SILENCES_FILE = "silences.json"


class Alerting:
    """Verdicts in, notifications out. See the package docstring for how to wire it."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        dispatcher: Dispatcher,
        silences: Silences,
        outbox: Outbox,
        *,
        worker: DeliveryWorker,
        metrics: AlertingMetrics,
        clock: Callable[[], float],
        event_clock: EventClock | None = None,
        catch_up: str = "replay",
    ) -> None:
        self._lifecycle = lifecycle
        self._events = event_clock or EventClock()
        self._catch_up = catch_up
        self._caught_up = True
        self._dispatcher = dispatcher
        self._silences = silences
        self._outbox = outbox
        self._worker = worker
        self._metrics = metrics
        self._clock = clock
        self._lock = threading.Lock()

    def _event_now(self) -> float:
        # Until a window with an event time arrives the wall clock stands in (see
        # driftd.alerting.eventclock).
        return self._events.read(self._clock())

    def observe(self, verdict: Verdict) -> None:
        """Feed one verdict (poll thread; memory only, no I/O)."""
        self.observe_window([verdict])

    def observe_window(self, verdicts: Sequence[Verdict]) -> None:
        """Feed the verdicts of one closed window (poll thread; memory only, no I/O).

        Timers due before the window ends (group_wait, keep_firing_for, no-data) fire first,
        each at its own event time, exactly as they would have between windows seen live;
        then the window's verdicts apply at its end time.
        """
        if not verdicts:
            return
        ends = [v.window_end for v in verdicts if math.isfinite(v.window_end)]
        with self._lock:
            wall = self._clock()
            if ends:
                self._run_until(max(ends), wall)
                self._events.observe(max(ends))
            now = self._events.read(wall)
            for verdict in verdicts:
                self._dispatcher.add(self._lifecycle.observe(verdict, now))
            self._dispatcher.step(now, wall=wall, flush=self._flushing())

    def _flushing(self) -> bool:
        return self._caught_up or self._catch_up == "replay"

    def _run_until(self, until: float, wall: float) -> None:
        """Fire every timer due up to ``until``, in time order, each at its due time."""
        flush = self._flushing()
        last = -math.inf
        for _ in range(MAX_TIMER_STEPS):
            times = [self._lifecycle.next_due(), self._dispatcher.next_due() if flush else None]
            due = min((t for t in times if t is not None), default=None)
            # A timer that does not move on when run (a group that may not flush) ends it.
            if due is None or due > until or due <= last:
                return
            self._dispatcher.add(self._lifecycle.tick(due))
            self._dispatcher.step(due, wall=wall, flush=flush)
            last = due

    def tick(self, now: float | None = None, *, caught_up: bool = True) -> list[Notification]:
        """Advance time: keep_firing_for and no-data transitions, due groups, retraining
        triggers; then commit the resulting notifications and the alert state to the outbox.
        Returns the notifications enqueued.

        ``now`` is the wall clock (default: the injected clock). ``caught_up`` says whether the
        consumer is at the head of its partitions: only then does event time also flow with
        the wall clock, and with ``catch_up: head`` only then are groups flushed.

        If the outbox cannot be written (``sqlite3.Error``: a full or read-only disk) this
        raises ``StateError``; the notifications stay in memory and the next tick writes them.
        The daemon commits no offsets meanwhile, so a restart restores the last committed
        state and recomputes the same notifications.
        """
        wall = self._clock() if now is None else now
        with self._lock:
            self._caught_up = caught_up
            event_now = self._events.advance(wall, caught_up)
            self._run_until(event_now, wall)
            self._dispatcher.add(self._lifecycle.tick(event_now))
            self._dispatcher.step(event_now, wall=wall, flush=self._flushing())
            state = {}
            if self._lifecycle.dirty:
                state["lifecycle"] = json.dumps(self._lifecycle.snapshot())
                state["clock"] = json.dumps(self._events.snapshot())
            try:
                notes = self._dispatcher.commit(state, wall)
            except sqlite3.Error as exc:
                # Full or read-only disk: memory is ahead of the file, and stays so until a
                # commit succeeds (the daemon commits no offsets meanwhile).
                raise StateError(f"alert outbox not writable: {exc}") from exc
            self._lifecycle.dirty = False
            counts = Counter(
                (dict(s.labels)["alertname"], s.state) for s in self._lifecycle.states()
            )
        self._metrics.set_alerts((name, st, n) for (name, st), n in counts.items())
        self._silences.expire_old(wall)
        if notes:
            self._metrics.outbox_pending.set(self._outbox.counts()["pending"])
            self._worker.wake()
        return notes

    @property
    def metrics(self) -> AlertingMetrics:
        """The subsystem's metrics (handed to its successor on a reload)."""
        return self._metrics

    def deliver(self) -> int:
        """Deliver what is due on the calling thread (replay, tests); returns attempts made."""
        return self._worker.run_once()

    def start(self) -> None:
        """Start the delivery thread."""
        self._worker.start()

    def close(self, timeout: float = 5.0) -> None:
        """Enqueue what is due, give the worker ``timeout`` seconds to deliver, and close."""
        self.tick(caught_up=False)
        if not self._worker.stop(timeout):
            # The thread is inside a slow HTTP call; the entry stays pending and is sent
            # after the restart. Leave the database open for the thread.
            log.warning("alert delivery still busy after %.1fs; pending entries remain", timeout)
            return
        self._outbox.close()

    def handle_silences(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """The ``/api/silences`` endpoint; returns (HTTP status, JSON body)."""
        return handle_silences(self._silences, self._clock, method, path, body)

    def status(self) -> dict[str, Any]:
        """Alert states, aggregation groups, active silences and outbox counts, as JSON."""
        now = self._clock()
        with self._lock:
            alerts = [
                {
                    "alertname": dict(s.labels).get("alertname", ""),
                    "state": s.state,
                    "fingerprint": s.fingerprint,
                    "labels": dict(s.labels),
                    "annotations": dict(s.annotations),
                    "active_at": rfc3339(s.active_at),
                }
                for s in self._lifecycle.states()
            ]
            groups = [
                {
                    "key": g.key,
                    "receiver": g.route.receiver,
                    "alerts": len(g.alerts),
                    "next_flush_at": rfc3339(g.next_flush_at),
                }
                for g in self._dispatcher.groups()
            ]
        silences = [s.to_dict(now) for s in self._silences.all() if s.state(now) == "active"]
        next_at = self._outbox.next_attempt_at()
        outbox = {**self._outbox.counts(), "next_attempt_at": next_at and rfc3339(next_at)}
        troubles = [
            {**t, "at": rfc3339(t["at"]) if isinstance(t["at"], float) else None}
            for t in self._outbox.troubles()
        ]
        return {
            "alerts": alerts,
            "groups": groups,
            "silences": silences,
            "outbox": outbox,
            "failed_notifications": troubles,
        }


def build_alerting(
    config: AlertingConfig,
    registry: CollectorRegistry,
    clock: Callable[[], float] = time.time,
    transport: Transport | None = None,
    rng: random.Random | None = None,
    *,
    metrics: AlertingMetrics | None = None,
) -> Alerting:
    """Assemble the subsystem and restore its state from ``config.outbox_dir``.

    ``clock`` returns epoch seconds; ``transport`` replaces HTTP for PagerDuty, webhook and
    retrain receivers (Slack always uses slack-sdk, pointed wherever ``base_url`` says).
    """
    # The outbox holds alert state and Slack message references: owner only (0700).
    try:
        config.outbox_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        config.outbox_dir.chmod(0o700)
    except OSError as exc:  # a file in the way, no permission: fix the config (exit 2)
        raise ConfigError(f"alerting.outbox_dir: cannot use {config.outbox_dir}: {exc}") from exc
    outbox = Outbox(config.outbox_dir / OUTBOX_FILE)
    silences = Silences(config.silences, config.outbox_dir / SILENCES_FILE)
    notifiers, triggers, pushes = _receivers(config, outbox, transport)
    infos = {r.name: ReceiverInfo(r.type, r.send_resolved) for r in config.receivers}
    route = Route.build(config.route)
    inhibitor = Inhibitor(config.inhibit_rules)
    dispatcher = Dispatcher(
        route,
        inhibitor,
        silences,
        outbox,
        receivers=infos,
        retrain=triggers,
        pushes=pushes,
        intervals=config.intervals,
        groups=config.receiver_groups,
    )
    events = EventClock()
    saved_clock = outbox.get("clock")
    if saved_clock is not None:
        events.restore(json.loads(saved_clock))
    # Alert state lives in event time, which does not pass while driftd is down.
    now = events.now
    lifecycle = Lifecycle(config.rules, config.no_data, now)
    for key, target in (("lifecycle", lifecycle), ("dispatcher", dispatcher)):
        saved = outbox.get(key)
        if saved is not None:
            target.restore(json.loads(saved), now if now is not None else clock())
    # A rebuilt subsystem (a config reload) keeps the metrics already registered.
    metrics = metrics if metrics is not None else build_alerting_metrics(registry)
    metrics.preset((r.name, r.type) for r in config.receivers)
    delivery = config.delivery
    backoff = Backoff(delivery.initial_backoff, delivery.max_backoff, rng or random.Random())
    worker = DeliveryWorker(
        outbox, notifiers, metrics, clock=clock, backoff=backoff, max_age=delivery.max_age
    )
    return Alerting(
        lifecycle,
        dispatcher,
        silences,
        outbox,
        worker=worker,
        metrics=metrics,
        clock=clock,
        event_clock=events,
        catch_up=config.catch_up,
    )


def _receivers(
    config: AlertingConfig, outbox: Outbox, transport: Transport | None
) -> tuple[Mapping[str, Notifier], list[RetrainTrigger], list[AlertmanagerPush]]:
    # Imported here so that commands that only load the config do not pay for slack-sdk.
    from driftd.alerting.slack import SlackNotifier

    url = config.external_url
    notifiers: dict[str, Notifier] = {}
    triggers: list[RetrainTrigger] = []
    pushes: list[AlertmanagerPush] = []
    for r in config.receivers:
        ca_file = getattr(r, "ca_file", None)
        http = transport or UrllibTransport(r.timeout, ca_file=ca_file)
        if r.type == "slack":
            notifiers[r.name] = SlackNotifier(r, outbox, url)
        elif r.type == "pagerduty":
            notifiers[r.name] = PagerDutyNotifier(r, http, url)
        elif r.type == "webhook":
            notifiers[r.name] = WebhookNotifier(r, http, url)
        elif r.type == "opsgenie":
            notifiers[r.name] = OpsgenieNotifier(r, http, url)
        elif r.type == "msteams":
            notifiers[r.name] = TeamsNotifier(r, http, url)
        elif r.type == "email":
            notifiers[r.name] = EmailNotifier(r, url)
        elif r.type == "alertmanager":
            notifiers[r.name] = AlertmanagerNotifier(r, http, url)
            pushes.append(AlertmanagerPush(r))
        else:
            notifiers[r.name] = RetrainNotifier(r, http, url)
            triggers.append(RetrainTrigger(r))
    return notifiers, triggers, pushes
