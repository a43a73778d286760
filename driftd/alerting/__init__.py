"""Alerting: verdicts become alerts, alerts become notifications, notifications are delivered.

::

    Verdict ─► Lifecycle ─► Dispatcher.tick ──────────────────────────► Outbox ─► DeliveryWorker
               rules,       route → group → inhibit → silence → dedup   SQLite     thread: Slack,
               pending,     (+ retraining triggers)                     (WAL)      PagerDuty,
               firing,                                                             webhook, retrain
               no-data

Wiring it into the daemon::

    alerting = build_alerting(config.alerting, metrics.registry)   # restores state from disk
    alerting.start()                       # delivery thread (never the Kafka poll thread)
    ...
    for verdict in verdicts:               # poll thread: memory only, no I/O
        alerting.observe(verdict)
    alerting.tick()                        # every loop turn (about 1 s), before the offset
                                           # commit: time-based transitions, due groups, and one
                                           # SQLite transaction with new notifications + state
    ...
    status["alerting"] = alerting.status()                      # for /status
    code, body = alerting.handle_silences(method, path, body)   # mount under /api/silences
    alerting.close(timeout=5.0)            # on SIGTERM: last tick, time-boxed delivery

Delivery is at-least-once: an entry is marked done right after its receiver accepted it, so only
a crash between those two steps sends it again (PagerDuty's dedup_key and Slack's chat.update
make that resend harmless). Alert states, groups and the notification log are persisted with the
outbox, so a restart neither pages again nor forgets a resolve. The config section is
``AlertingConfig`` (see ``driftd.alerting.config`` for a commented example).
"""

from typing import TYPE_CHECKING

from driftd.lazy import lazy_exports

if TYPE_CHECKING:  # what the names are, for type checkers
    from driftd.alerting.alert import Alert, fingerprint
    from driftd.alerting.config import AlertingConfig
    from driftd.alerting.notification import Notification, Notifier
    from driftd.alerting.service import Alerting, build_alerting
    from driftd.alerting.transport import Response, Transport


# Loaded on first use (driftd/lazy.py): importing the config models must not import river.
_EXPORTS = {
    "Alert": "driftd.alerting.alert",
    "Alerting": "driftd.alerting.service",
    "AlertingConfig": "driftd.alerting.config",
    "Notification": "driftd.alerting.notification",
    "Notifier": "driftd.alerting.notification",
    "Response": "driftd.alerting.transport",
    "Transport": "driftd.alerting.transport",
    "build_alerting": "driftd.alerting.service",
    "fingerprint": "driftd.alerting.alert",
}

__getattr__ = lazy_exports(globals(), _EXPORTS)


__all__ = [
    "Alert",
    "Alerting",
    "AlertingConfig",
    "Notification",
    "Notifier",
    "Response",
    "Transport",
    "build_alerting",
    "fingerprint",
]
