"""Opsgenie Alert API v2: a group creates one Opsgenie alert and its resolve closes it.

The alias derives from receiver and group key, so every notification of a group (create,
repeats, close, and a resend after a crash) lands on the same Opsgenie alert (Opsgenie
deduplicates creates by alias). Requests are asynchronous on Opsgenie's side: 202 is success.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from driftd.alerting.config import OpsgenieReceiver
from driftd.alerting.notification import Notification
from driftd.alerting.transport import Transport, check

MESSAGE_LIMIT = 130  # Opsgenie truncates longer messages
DESCRIPTION_LIMIT = 15000


class OpsgenieNotifier:
    """Creates and closes Opsgenie alerts for notification groups."""

    def __init__(
        self, config: OpsgenieReceiver, transport: Transport, external_url: str | None = None
    ) -> None:
        assert config.api_key is not None  # the config model guarantees it
        self._config = config
        self._transport = transport
        self._external_url = external_url or ""
        self._headers = {
            "Content-Type": "application/json",
            "User-Agent": "driftd",
            "Authorization": "GenieKey " + config.api_key.get_secret_value(),
        }

    @staticmethod
    def alias(group: Notification) -> str:
        """The same for every notification of a group at this receiver."""
        return "driftd-" + group.key_hash[:48]

    def notify(self, group: Notification) -> None:
        """Create (while firing) or close the group's alert; 429 and 5xx are retried."""
        url, body = self.request(group)
        response = self._transport.post(url, json.dumps(body).encode(), self._headers)
        check(response, f"opsgenie {self._config.name}")

    def request(self, group: Notification) -> tuple[str, dict[str, Any]]:
        """The URL and body of the request for ``group``."""
        root = self._config.api_url
        alias = self.alias(group)
        if not group.firing:
            quoted = urllib.parse.quote(alias, safe="")
            url = f"{root}v2/alerts/{quoted}/close?identifierType=alias"
            return url, {"source": self._config.source, "note": "resolved in driftd"}
        common = group.common_labels
        severity = common.get("severity", "")
        lines = []
        for alert in group.firing:
            summary = alert.annotation_map.get("summary") or alert.label_map.get("alertname", "")
            lines.append(f"- {summary}")
            for key in ("dashboard_url", "runbook_url"):
                if alert.annotation_map.get(key):
                    lines.append(f"  {key.removesuffix('_url')}: {alert.annotation_map[key]}")
        if self._external_url:
            lines.append(f"driftd: {self._external_url}")
        body: dict[str, Any] = {
            "alias": alias,
            "message": group.title()[:MESSAGE_LIMIT],
            "description": "\n".join(lines)[:DESCRIPTION_LIMIT],
            "source": self._config.source,
            "priority": self._config.priority_map.get(severity, self._config.default_priority),
            "tags": sorted({*self._config.tags, *(f"{k}:{v}" for k, v in group.group_labels)}),
            "details": {k: v for k, v in common.items() if v},
        }
        if self._config.responders:
            body["responders"] = self._config.responders
        return f"{root}v2/alerts", body
