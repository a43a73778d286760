"""Microsoft Teams through an incoming webhook: an Adaptive Card (Workflows webhooks) or a
MessageCard (legacy Office 365 connectors), listing the group's alerts."""

from __future__ import annotations

import json
from typing import Any

from driftd.alerting.config import TeamsReceiver
from driftd.alerting.notification import Notification
from driftd.alerting.transport import Transport, check
from driftd.alerting.webhook import auth_headers

_COLOR = {"firing": "attention", "resolved": "good"}
_HEX = {"firing": "D13438", "resolved": "2EB886"}


class TeamsNotifier:
    """POSTs a card per notification."""

    def __init__(
        self, config: TeamsReceiver, transport: Transport, external_url: str | None = None
    ) -> None:
        assert config.url is not None  # the config model guarantees it
        self._config = config
        self._transport = transport
        self._url = config.url.get_secret_value()
        self._headers = auth_headers(config)
        self._external_url = external_url or ""

    def notify(self, group: Notification) -> None:
        """POST the card; 2xx is success, 429 and 5xx are retried, other 4xx are not."""
        body = json.dumps(self.payload(group)).encode()
        check(self._transport.post(self._url, body, self._headers), f"msteams {self._config.name}")

    def _lines(self, group: Notification) -> list[str]:
        alerts = group.alerts[: self._config.max_alerts]
        out = []
        for alert in alerts:
            notes = alert.annotation_map
            state = "FIRING" if alert.is_firing else "RESOLVED"
            text = notes.get("summary") or alert.label_map.get("alertname", "")
            link = notes.get("dashboard_url")
            out.append(f"**{state}** {text}" + (f" ([dashboard]({link}))" if link else ""))
        if len(group.alerts) > len(alerts):
            out.append(f"... and {len(group.alerts) - len(alerts)} more")
        return out

    def payload(self, group: Notification) -> dict[str, Any]:
        """The card for ``group``."""
        title, lines = group.title(), self._lines(group)
        if self._config.card == "message_card":
            card: dict[str, Any] = {
                "@type": "MessageCard",
                "@context": "https://schema.org/extensions",
                "themeColor": _HEX[group.status],
                "summary": title,
                "title": title,
                "text": "\n\n".join(lines),
            }
            if self._external_url:
                card["potentialAction"] = [
                    {
                        "@type": "OpenUri",
                        "name": "driftd",
                        "targets": [{"os": "default", "uri": self._external_url}],
                    }
                ]
            return card
        content: dict[str, Any] = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                {
                    "type": "TextBlock",
                    "text": title,
                    "weight": "Bolder",
                    "size": "Medium",
                    "color": _COLOR[group.status],
                    "wrap": True,
                },
                *({"type": "TextBlock", "text": line, "wrap": True} for line in lines),
            ],
        }
        if self._external_url:
            content["actions"] = [
                {"type": "Action.OpenUrl", "title": "driftd", "url": self._external_url}
            ]
        return {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "content": content}
            ],
        }
