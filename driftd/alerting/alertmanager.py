"""Pushing alerts to Alertmanager the way Prometheus does, for teams who route there.

``AlertmanagerPush`` is a dispatcher stage like the retraining trigger: it sees every alert the
lifecycle emits (its matchers pick which), and makes a notification holding the whole current
set whenever it changed or ``resend_interval`` has passed; Alertmanager deduplicates by label
set, so resending is how it knows an alert still fires. driftd's routes, silences and
inhibitions do not apply: Alertmanager has its own. ``AlertmanagerNotifier`` POSTs that set to
``/api/v2/alerts`` of every configured Alertmanager (Prometheus's shape: ``labels``,
``annotations``, ``startsAt``, ``endsAt``, ``generatorURL``).

A firing alert is sent with ``endsAt`` four resend intervals after the push (Prometheus's
rule), so an Alertmanager that stops hearing from driftd resolves it on its own; a resolved one
with its end, for ``resolved_retention`` after the resolve so that an Alertmanager restarted
meanwhile still learns it.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from driftd.alerting.alert import Alert
from driftd.alerting.config import AlertmanagerReceiver
from driftd.alerting.matchers import match_all, parse_matchers
from driftd.alerting.notification import Notification
from driftd.alerting.timefmt import rfc3339
from driftd.alerting.transport import Transport, check
from driftd.alerting.webhook import auth_headers
from driftd.errors import SinkError

log = logging.getLogger(__name__)

ENDS_AT_RESENDS = 4  # Prometheus: endsAt = now + 4 x max(resend delay, evaluation interval)


class AlertmanagerPush:
    """Decides when the alert set is pushed to Alertmanager again."""

    def __init__(self, config: AlertmanagerReceiver) -> None:
        self.config = config
        self._matchers = parse_matchers(config.matchers)
        self._active: dict[str, Alert] = {}
        # Resolved alerts with the wall time their resolve was first pushed (None: not yet).
        self._resolved: dict[str, tuple[Alert, float | None]] = {}
        self._changed = False
        self._pushed_at = -float("inf")

    def observe(self, alerts: Iterable[Alert]) -> None:
        """Take new and updated alerts (firing or resolved)."""
        for alert in alerts:
            if not match_all(self._matchers, alert.label_map):
                continue
            fp = alert.fingerprint
            if alert.is_firing:
                old = self._active.get(fp)
                if old is None or (old.annotations, old.starts_at) != (
                    alert.annotations,
                    alert.starts_at,
                ):
                    self._changed = True
                self._active[fp] = alert
                self._resolved.pop(fp, None)
            elif fp in self._active:
                del self._active[fp]
                self._resolved[fp] = (alert, None)
                self._changed = True

    def check(self, wall: float) -> list[Notification]:
        """The push due at wall time ``wall``, if any."""
        for fp, (alert, at) in list(self._resolved.items()):
            if at is None:
                self._resolved[fp] = (alert, wall)
            elif wall - at > self.config.resolved_retention:
                del self._resolved[fp]
        due = self._changed or (
            self._active and wall - self._pushed_at >= self.config.resend_interval
        )
        if not due:
            return []
        self._changed = False
        self._pushed_at = wall
        alerts = sorted(self._active.values(), key=lambda a: a.labels)
        if self.config.send_resolved:
            alerts += sorted((a for a, _ in self._resolved.values()), key=lambda a: a.labels)
        if not alerts:
            return []
        name = self.config.name
        return [Notification(name, f"alertmanager:{name}", (), tuple(alerts), wall)]


class AlertmanagerNotifier:
    """POSTs one push to every configured Alertmanager."""

    def __init__(
        self,
        config: AlertmanagerReceiver,
        transport: Transport,
        external_url: str | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._transport = transport
        self._external_url = external_url or ""
        self._clock = clock
        self._headers = auth_headers(config)

    def notify(self, group: Notification) -> None:
        """Delivered when one Alertmanager accepted it (each of an HA pair gets it; the
        others' errors are logged). Raises ``SinkError`` when none did."""
        body = json.dumps(self.payload(group, self._clock())).encode()
        errors: list[SinkError] = []
        for url in self._config.urls:
            endpoint = url.rstrip("/") + "/api/v2/alerts"
            host = urllib.parse.urlsplit(url).netloc
            try:
                response = self._transport.post(endpoint, body, self._headers)
                check(response, f"alertmanager {self._config.name} at {host}")
            except SinkError as exc:
                errors.append(exc)
        if len(errors) == len(self._config.urls):
            retryable = any(e.retryable for e in errors)
            after = max((e.retry_after or 0.0 for e in errors), default=0.0) or None
            raise SinkError(
                "; ".join(str(e) for e in errors), retryable=retryable, retry_after=after
            )
        for exc in errors:
            log.warning("push delivered elsewhere, but %s", exc)

    def payload(self, group: Notification, now: float) -> list[dict[str, Any]]:
        """Postable alerts as Alertmanager's API v2 takes them."""
        ends = now + ENDS_AT_RESENDS * self._config.resend_interval
        return [
            {
                # Alertmanager drops empty-valued labels from a label set, as Prometheus does.
                "labels": {k: v for k, v in a.labels if v},
                "annotations": {k: v for k, v in a.annotations if v},
                "startsAt": rfc3339(a.starts_at),
                "endsAt": rfc3339(ends if a.is_firing or a.ends_at is None else a.ends_at),
                "generatorURL": a.annotation_map.get("dashboard_url", self._external_url),
            }
            for a in group.alerts
        ]
