"""The delivery worker: takes due entries from the outbox and hands them to their receivers.

It runs on its own thread, never on the Kafka poll thread, so a slow or failing receiver never
stalls consumption. Per entry:

1. an entry older than ``max_age`` is given up (``expired``);
2. the receiver is called once (its client does no retrying of its own);
3. success marks the entry done, in one committed UPDATE;
4. a retryable failure (429, 5xx, network) schedules the next attempt after exponential backoff
   with jitter, or after Retry-After when the receiver asked for longer;
5. any other failure (4xx) marks the entry failed, so the key's later entries can proceed.

Only the head of each key is ever due, so entries of one group go out in order while other
groups carry on. Time comes from the injected clock; tests call ``run_once`` directly.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping

from driftd.alerting.metrics import AlertingMetrics
from driftd.alerting.notification import Notification, Notifier
from driftd.alerting.outbox import DONE, FAILED, Entry, Outbox
from driftd.errors import SinkError

log = logging.getLogger(__name__)

PRUNE_AFTER = 86400.0  # finished entries are kept a day, for /status and post-mortems


class Backoff:
    """Exponential backoff with "equal jitter": half the step fixed, half random."""

    def __init__(self, initial: float, maximum: float, rng: random.Random) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("Backoff needs 0 < initial <= maximum")
        self.initial, self.maximum, self._rng = initial, maximum, rng

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failed attempt in a row (1-based)."""
        step = min(self.maximum, self.initial * 2.0 ** max(0, failures - 1))
        return step / 2 + self._rng.uniform(0, step / 2)


class DeliveryWorker:
    """Delivers outbox entries; see the module docstring for the policy."""

    def __init__(
        self,
        outbox: Outbox,
        notifiers: Mapping[str, Notifier],
        metrics: AlertingMetrics,
        *,
        clock: Callable[[], float],
        backoff: Backoff,
        max_age: float,
        idle_wait: float = 1.0,
    ) -> None:
        self._outbox = outbox
        self._notifiers = notifiers
        self._metrics = metrics
        self._clock = clock
        self._backoff = backoff
        self._max_age = max_age
        self._idle_wait = idle_wait
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_prune = 0.0
        # Outcomes the outbox could not record (a full disk): kept here and written first on
        # the next pass, and their entries not sent again meanwhile (no duplicate page).
        self._unrecorded: dict[int, tuple[str, str, float]] = {}

    def run_once(self) -> int:
        """Deliver everything due now (heads only, then the entries behind them); returns the
        number of attempts made."""
        attempts = 0
        self._record_outcomes()
        while True:
            entries = [e for e in self._outbox.due(self._clock()) if e.id not in self._unrecorded]
            for entry in entries:
                self._deliver(entry)
                attempts += 1
            if not entries or self._stop.is_set():
                break
        now = self._clock()
        if now >= self._next_prune:
            self._outbox.prune(now - PRUNE_AFTER)
            self._next_prune = now + 3600.0
        self._metrics.outbox_pending.set(self._outbox.counts()["pending"])
        return attempts

    def _deliver(self, entry: Entry) -> None:
        integration, now = entry.integration, self._clock()
        failed = self._metrics.notifications_failed
        notifier = self._notifiers.get(entry.receiver)
        if notifier is None:
            failed.labels(receiver=entry.receiver, integration=integration, reason="rejected").inc()
            self._finish(entry.id, FAILED, "receiver no longer configured", now)
            log.error("outbox entry %d: receiver %r is not configured", entry.id, entry.receiver)
            return
        if now - entry.created_at > self._max_age:
            failed.labels(receiver=entry.receiver, integration=integration, reason="expired").inc()
            self._finish(entry.id, FAILED, "expired", now)
            log.error(
                "giving up on %s after %d attempts: older than max_age", entry.key, entry.attempts
            )
            return
        self._metrics.notifications.labels(receiver=entry.receiver, integration=integration).inc()
        started = time.perf_counter()
        try:
            notifier.notify(Notification.from_json(entry.payload))
        except SinkError as exc:
            self._metrics.latency.labels(receiver=entry.receiver, integration=integration).observe(
                time.perf_counter() - started
            )
            self._failed(entry, exc)
            return
        except Exception:
            # A bug in a receiver must not kill the delivery thread; the entry is parked as
            # failed (it would fail the same way again) and the traceback logged.
            failed.labels(receiver=entry.receiver, integration=integration, reason="rejected").inc()
            self._finish(entry.id, FAILED, "internal error", self._clock())
            log.exception("receiver %r crashed on outbox entry %d", entry.receiver, entry.id)
            return
        self._metrics.latency.labels(receiver=entry.receiver, integration=integration).observe(
            time.perf_counter() - started
        )
        self._finish(entry.id, DONE, "", self._clock())

    def _finish(self, entry_id: int, status: str, error: str, now: float) -> None:
        """Record an entry's final outcome; held in memory while the outbox refuses it."""
        self._unrecorded[entry_id] = (status, error, now)
        self._record_outcomes()

    def _record_outcomes(self) -> None:
        for entry_id, (status, error, now) in list(self._unrecorded.items()):
            try:
                if status == DONE:
                    self._outbox.mark_done(entry_id, now)
                else:
                    self._outbox.mark_failed(entry_id, error, now)
            except sqlite3.Error as exc:
                log.warning(
                    "outbox cannot record %d delivery outcome(s), holding them: %s",
                    len(self._unrecorded),
                    exc,
                )
                return
            del self._unrecorded[entry_id]

    def _failed(self, entry: Entry, exc: SinkError) -> None:
        now, integration = self._clock(), entry.integration
        if not exc.retryable:
            reason = "rejected"
            self._finish(entry.id, FAILED, str(exc), now)
            log.error(
                "%s rejected outbox entry %d (not retried): %s", entry.receiver, entry.id, exc
            )
        else:
            reason = "retryable" if exc.retry_after is None else "rate_limited"
            delay = max(exc.retry_after or 0.0, self._backoff.delay(entry.attempts + 1))
            self._outbox.retry_at(entry.id, now + delay, str(exc))
            log.warning(
                "%s failed on outbox entry %d (attempt %d), retrying in %.1fs: %s",
                entry.receiver,
                entry.id,
                entry.attempts + 1,
                delay,
                exc,
            )
        self._metrics.notifications_failed.labels(
            receiver=entry.receiver, integration=integration, reason=reason
        ).inc()

    def wake(self) -> None:
        """New entries were enqueued: look now rather than at the next timer."""
        self._wake.set()

    def start(self) -> None:
        """Deliver on a background thread until ``stop``."""
        self._thread = threading.Thread(target=self._run, name="driftd-alerting", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Make one last delivery pass, then stop; False if the thread outlived ``timeout``."""
        self._stop.set()
        self._wake.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            # Cleared before the pass, so a wake() during the pass is not lost.
            self._wake.clear()
            try:
                self.run_once()
                due = self._outbox.next_attempt_at()
            except sqlite3.Error:
                # A locked or full disk must not end deliveries for good: entries stay
                # pending in the file, and the next pass tries again.
                log.exception("outbox unavailable; retrying in %.0fs", self._idle_wait)
                due = None
            if self._stop.is_set():
                return
            wait = self._idle_wait if due is None else min(self._idle_wait, due - self._clock())
            self._wake.wait(max(0.0, wait))
