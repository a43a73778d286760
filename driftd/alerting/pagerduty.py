"""PagerDuty Events API v2: a group triggers one PagerDuty alert, and its resolve closes it.

``dedup_key`` is derived from receiver and group key, so every notification of a group
(trigger, repeats, resolve, and any resend after a crash) lands on the same PagerDuty alert.
"""

from __future__ import annotations

import json
from typing import Any

from driftd.alerting.alert import Alert
from driftd.alerting.config import PagerDutyReceiver
from driftd.alerting.notification import Notification
from driftd.alerting.timefmt import rfc3339
from driftd.alerting.transport import Transport, check

SUMMARY_LIMIT = 1024
PAYLOAD_LIMIT = 512_000
_SEVERITY_ORDER = ("info", "warning", "error", "critical")


class PagerDutyNotifier:
    """Sends trigger and resolve events for notification groups."""

    def __init__(
        self, config: PagerDutyReceiver, transport: Transport, external_url: str | None = None
    ) -> None:
        self._config = config
        self._transport = transport
        self._external_url = external_url
        self._url = config.base_url.rstrip("/") + "/v2/enqueue"

    def notify(self, group: Notification) -> None:
        """POST the event; 202 is success, 429 and 5xx are retried, other 4xx are not."""
        body = json.dumps(self.event(group)).encode()
        response = self._transport.post(
            self._url, body, {"Content-Type": "application/json", "User-Agent": "driftd"}
        )
        check(response, f"pagerduty {self._config.name}")

    @staticmethod
    def dedup_key(group: Notification) -> str:
        """The same for every event of a group at this receiver."""
        return "driftd-" + group.key_hash

    def event(self, group: Notification) -> dict[str, Any]:
        """The Events API v2 body."""
        assert self._config.routing_key is not None  # the config model guarantees it
        event: dict[str, Any] = {
            "routing_key": self._config.routing_key.get_secret_value(),
            "event_action": "trigger" if group.firing else "resolve",
            "dedup_key": self.dedup_key(group),
        }
        if not group.firing:
            return event
        common = group.common_labels
        first = group.firing[0]
        links = _links(group, first)
        if self._external_url:
            links.append({"href": self._external_url, "text": "driftd status"})
        details: dict[str, Any] = {
            "group_key": group.group_key,
            "num_firing": len(group.firing),
            "num_resolved": len(group.resolved),
            "firing": [_detail(a) for a in group.firing],
            "resolved": [_detail(a) for a in group.resolved],
        }
        summary = group.title()
        if len(group.firing) == 1:
            summary += ": " + first.annotation_map.get("summary", "")
        event["payload"] = {
            "summary": _cut(summary, SUMMARY_LIMIT),
            "source": self._config.source,
            "severity": self._severity(group),
            "timestamp": rfc3339(group.created_at),
            "component": common.get("monitor", ""),
            "group": common.get("alertname", ""),
            "class": common.get("statistic", common.get("feature", "")),
            "custom_details": details,
        }
        event["links"] = links
        event["client"] = "driftd"
        if self._external_url:
            event["client_url"] = self._external_url
        if len(json.dumps(event)) > PAYLOAD_LIMIT:
            # PagerDuty rejects bodies over 512 kB; the counts still tell the story.
            details.pop("firing")
            details.pop("resolved")
        return event

    def _severity(self, group: Notification) -> str:
        mapping, default = self._config.severity_map, self._config.default_severity
        found = [mapping.get(a.label_map.get("severity", ""), default) for a in group.firing]
        return max(found, key=_SEVERITY_ORDER.index)


def _detail(alert: Alert) -> dict[str, Any]:
    return {
        "labels": alert.label_map,
        "annotations": alert.annotation_map,
        "starts_at": rfc3339(alert.starts_at),
    }


def _links(group: Notification, first: Alert) -> list[dict[str, str]]:
    annotations = {**first.annotation_map, **group.common_annotations}
    return [
        {"href": annotations[key], "text": text}
        for key, text in (("dashboard_url", "Dashboard"), ("runbook_url", "Runbook"))
        if annotations.get(key)
    ]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
