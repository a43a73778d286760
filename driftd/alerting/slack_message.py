"""The Slack message of a notification group, in Block Kit, within Slack's limits.

Top-level blocks carry the header (status emoji and title), the shared facts and a context
line; one attachment carries a colour bar by status and severity, one section per alert (what
drifted, statistic against limit, window, segment) and link buttons (dashboard, runbook,
driftd). ``text`` is the notification fallback Slack shows where blocks cannot be.
"""

from __future__ import annotations

from typing import Any

from driftd.alerting.alert import Alert
from driftd.alerting.notification import Notification
from driftd.alerting.timefmt import rfc3339

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
CORE_LABELS = frozenset({"alertname", "monitor", "feature", "statistic", "severity"})

_STYLE = {  # severity → (emoji, attachment colour) while firing
    "critical": ("🔴", "#E01E5A"),
    "error": ("🔴", "#E01E5A"),
    "warning": ("🟠", "#ECB22E"),
    "info": ("🔵", "#36C5F0"),
}
_RESOLVED = ("✅", "#2EB67D")


def render(group: Notification, max_alerts: int, external_url: str | None) -> dict[str, Any]:
    """``text``, ``blocks`` and ``attachments`` for ``chat.postMessage``/``chat.update``."""
    alerts = [*group.firing, *group.resolved]
    common = group.common_labels
    first_firing = group.firing[0].label_map if group.firing else {}
    severity = common.get("severity") or first_firing.get("severity", "")
    emoji, color = _STYLE.get(severity, _STYLE["critical"]) if group.firing else _RESOLVED
    title = f"{emoji} {group.title()}"
    first_summary = alerts[0].annotation_map.get("summary", "") if alerts else ""
    facts = [("Severity", severity), ("Monitor", common.get("monitor", ""))]
    facts += [("Statistic", common.get("statistic", "")), ("Feature", common.get("feature", ""))]
    segment = _segment(common)
    facts += [("Segment", segment), ("Since", rfc3339(min(a.starts_at for a in alerts)))]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(_cut(title, HEADER_LIMIT))},
        {
            "type": "section",
            "fields": [_md(_cut(f"*{k}*\n{v}", FIELD_LIMIT)) for k, v in facts if v][:10],
        },
        {
            "type": "context",
            "elements": [
                _md(
                    f"{len(group.firing)} firing, {len(group.resolved)} resolved · "
                    f"updated {rfc3339(group.created_at)} · group `{group.key_hash[:12]}`"
                )
            ],
        },
    ]
    details: list[dict[str, Any]] = [
        {"type": "section", "text": _md(_cut(_describe(a), SECTION_LIMIT))}
        for a in alerts[:max_alerts]
    ]
    if len(alerts) > max_alerts:
        more = f"…and {len(alerts) - max_alerts} more"
        details.append({"type": "context", "elements": [_md(more)]})
    buttons = _buttons(alerts, external_url)
    if buttons:
        details.append({"type": "actions", "elements": buttons})
    return {
        "text": _cut(f"{title}: {first_summary}" if first_summary else title, 3000),
        "blocks": blocks,
        "attachments": [{"color": color, "fallback": title, "blocks": details}],
    }


def _describe(alert: Alert) -> str:
    labels, notes = alert.label_map, alert.annotation_map
    icon = "" if alert.is_firing else "~resolved~ "
    what = f"{icon}*{labels.get('feature') or labels.get('alertname', '')}*"
    if "value" in notes and "limit" in notes:
        what += f" · `{labels.get('statistic', 'value')}` = *{notes['value']}*"
        what += f" vs limit {notes['limit']}"
    lines = [what]
    if notes.get("window"):
        lines.append(f"window {notes['window']}")
    segment = _segment(labels)
    if segment:
        lines.append(f"segment {segment}")
    if notes.get("summary") and "value" not in notes:
        lines.append(notes["summary"])
    return "\n".join(lines)


def _segment(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in CORE_LABELS)


def _buttons(alerts: list[Alert], external_url: str | None) -> list[dict[str, Any]]:
    links: dict[str, str] = {}
    for alert in alerts:
        notes = alert.annotation_map
        for key, text in (("dashboard_url", "Dashboard"), ("runbook_url", "Runbook")):
            if notes.get(key) and text not in links:
                links[text] = notes[key]
    if external_url:
        links["driftd"] = external_url
    return [
        {"type": "button", "text": _plain(text), "url": url[:3000], "action_id": f"link-{i}"}
        for i, (text, url) in enumerate(links.items())
    ]


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _md(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
