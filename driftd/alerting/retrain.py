"""The retraining trigger: one POST when drift has lasted ``sustained_for`` seconds.

``RetrainTrigger`` is a dispatcher stage: it looks at the firing, unmuted alerts its matchers
pick, keyed by its ``group_by`` labels (the monitor by default), and emits one notification for
a key once that key has been firing continuously for ``sustained_for``. It re-arms only when no
matching alert fires for the key any more. ``RetrainNotifier`` delivers it as a small JSON body
naming the model, the monitor and the drifted features; the ``Idempotency-Key`` header lets the
pipeline ignore a resend after a crash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any

from driftd.alerting.alert import Alert, Labels
from driftd.alerting.config import RetrainReceiver
from driftd.alerting.matchers import match_all, parse_matchers
from driftd.alerting.notification import Notification
from driftd.alerting.timefmt import rfc3339
from driftd.alerting.transport import Transport, check
from driftd.alerting.webhook import auth_headers


class RetrainTrigger:
    """Decides when sustained drift asks for retraining."""

    def __init__(self, config: RetrainReceiver) -> None:
        self.config = config
        self._matchers = parse_matchers(config.matchers)
        self._fired: dict[str, float] = {}

    def check(
        self, firing: Iterable[Alert], muted: Callable[[Alert], bool], now: float
    ) -> list[Notification]:
        """Notifications for keys whose drift just became sustained."""
        present: set[str] = set()
        eligible: dict[str, tuple[Labels, list[Alert]]] = {}
        for alert in firing:
            labels = alert.label_map
            if not match_all(self._matchers, labels):
                continue
            key_labels = tuple((name, labels.get(name, "")) for name in self.config.group_by)
            key = json.dumps(key_labels)
            present.add(key)
            if not muted(alert):
                eligible.setdefault(key, (key_labels, []))[1].append(alert)
        for key in set(self._fired) - present:
            del self._fired[key]  # the drift ended: the next sustained drift triggers again
        out: list[Notification] = []
        for key, (key_labels, alerts) in sorted(eligible.items()):
            since = min(a.starts_at for a in alerts)
            if key not in self._fired and now - since >= self.config.sustained_for:
                self._fired[key] = since
                alerts.sort(key=lambda a: a.labels)
                group_key = "retrain:{" + ",".join(f"{k}={v}" for k, v in key_labels) + "}"
                out.append(
                    Notification(self.config.name, group_key, key_labels, tuple(alerts), now)
                )
        return out

    def snapshot(self) -> dict[str, float]:
        """Keys already triggered, with the start of their drift."""
        return dict(self._fired)

    def restore(self, data: dict[str, float]) -> None:
        """Inverse of ``snapshot``."""
        self._fired.update(data)


class RetrainNotifier:
    """POSTs the retraining request."""

    def __init__(
        self, config: RetrainReceiver, transport: Transport, external_url: str | None = None
    ) -> None:
        assert config.url is not None  # the config model guarantees it
        self._config = config
        self._transport = transport
        self._url = config.url.get_secret_value()
        self._external_url = external_url or ""

    def notify(self, group: Notification) -> None:
        """POST the request; 2xx is success, 429 and 5xx are retried, other 4xx are not."""
        body = self.body(group)
        headers = auth_headers(self._config)
        since = body["firing_since"]
        headers["Idempotency-Key"] = hashlib.sha256(f"{group.key_hash}{since}".encode()).hexdigest()
        response = self._transport.post(self._url, json.dumps(body).encode(), headers)
        check(response, f"retrain {self._config.name}")

    def body(self, group: Notification) -> dict[str, Any]:
        """What the retraining pipeline receives."""
        labels = [a.label_map for a in group.alerts]
        key = dict(group.group_labels)
        monitor = key.get("monitor") or group.common_labels.get("monitor", "")
        return {
            "version": "1",
            "event": "sustained_drift",
            "receiver": group.receiver,
            "model": key.get("model") or group.common_labels.get("model") or monitor,
            "monitor": monitor,
            "group": key,
            "features": sorted({lab["feature"] for lab in labels if lab.get("feature")}),
            "statistics": sorted({lab["statistic"] for lab in labels if lab.get("statistic")}),
            "alertnames": sorted({lab.get("alertname", "") for lab in labels}),
            "firing_since": rfc3339(min(a.starts_at for a in group.alerts)),
            "sustained_for_seconds": self._config.sustained_for,
            "triggered_at": rfc3339(group.created_at),
            "alerts": [
                {
                    "labels": a.label_map,
                    "annotations": a.annotation_map,
                    "startsAt": rfc3339(a.starts_at),
                    "fingerprint": a.fingerprint,
                }
                for a in group.alerts
            ],
            "externalURL": self._external_url,
        }
