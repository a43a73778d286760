"""Generic webhook: POST the Alertmanager webhook payload (version 4), so anything that already
consumes Alertmanager notifications can consume driftd's."""

from __future__ import annotations

import base64
import json
from typing import Any

from driftd.alerting.alert import alertmanager_fingerprint
from driftd.alerting.config import (
    AlertmanagerReceiver,
    RetrainReceiver,
    TeamsReceiver,
    WebhookReceiver,
)
from driftd.alerting.notification import Notification
from driftd.alerting.timefmt import rfc3339
from driftd.alerting.transport import Transport, check


def auth_headers(
    config: WebhookReceiver | RetrainReceiver | AlertmanagerReceiver | TeamsReceiver,
) -> dict[str, str]:
    """Content type plus the configured bearer token or basic auth."""
    headers = {"Content-Type": "application/json", "User-Agent": "driftd"}
    if config.bearer_token is not None:
        headers["Authorization"] = "Bearer " + config.bearer_token.get_secret_value()
    elif config.basic_auth is not None and config.basic_auth.password is not None:
        pair = f"{config.basic_auth.username}:{config.basic_auth.password.get_secret_value()}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    return headers


class WebhookNotifier:
    """POSTs notification groups as Alertmanager webhook v4 JSON."""

    def __init__(
        self, config: WebhookReceiver, transport: Transport, external_url: str | None = None
    ) -> None:
        assert config.url is not None  # the config model guarantees it
        self._config = config
        self._transport = transport
        self._url = config.url.get_secret_value()
        self._headers = auth_headers(config)
        self._external_url = external_url or ""

    def notify(self, group: Notification) -> None:
        """POST the payload; 2xx is success, 429 and 5xx are retried, other 4xx are not."""
        body = json.dumps(self.payload(group)).encode()
        check(self._transport.post(self._url, body, self._headers), f"webhook {self._config.name}")

    def payload(self, group: Notification) -> dict[str, Any]:
        """The version 4 payload; at most ``max_alerts`` alerts, firing ones first."""
        alerts = [*group.firing, *group.resolved]
        limit = self._config.max_alerts
        kept = alerts[:limit] if limit else alerts
        return {
            "version": "4",
            # Alertmanager's groupKey and fingerprints, so a consumer of Alertmanager's
            # webhooks sees the same identities from driftd.
            "groupKey": group.am_group_key or group.group_key,
            "truncatedAlerts": len(alerts) - len(kept),
            "status": group.status,
            "receiver": group.receiver,
            "groupLabels": {k: v for k, v in group.group_labels if v},
            "commonLabels": {k: v for k, v in group.common_labels.items() if v},
            "commonAnnotations": group.common_annotations,
            "externalURL": self._external_url,
            "alerts": [
                {
                    "status": a.status,
                    # Alertmanager never carries an empty label (it drops them on receipt).
                    "labels": {k: v for k, v in a.labels if v},
                    "annotations": a.annotation_map,
                    "startsAt": rfc3339(a.starts_at),
                    "endsAt": rfc3339(a.ends_at),
                    "generatorURL": a.annotation_map.get("dashboard_url", self._external_url),
                    "fingerprint": alertmanager_fingerprint(a.labels),
                }
                for a in kept
            ],
        }
