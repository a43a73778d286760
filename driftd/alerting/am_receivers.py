"""Receivers written in Alertmanager's syntax, read as driftd receivers.

A team that routes in Alertmanager has receiver blocks such as::

    - name: ml-team
      slack_configs:
        - api_url: https://hooks.slack.com/services/T000/B000/XXXX
          channel: '#ml-alerts'
      pagerduty_configs:
        - routing_key: 0123456789abcdef0123456789abcdef
      webhook_configs:
        - url: http://hooks.internal/driftd

Such a block becomes one driftd receiver per integration (``ml-team.slack.0``,
``ml-team.pagerduty.0``, ...) plus the name ``ml-team`` for routes: a notification routed to it
goes to each integration, each delivered and retried on its own (as Alertmanager does).

What driftd does not take from such a block: Go templates (``title``, ``text``, ``description``,
``details``, ...; driftd writes its own messages) and settings without a driftd counterpart are
accepted and listed by :func:`ignored_keys`, so ``check-config`` says what has no effect.
Settings driftd cannot honour (PagerDuty's Events API v1 ``service_key``, TLS client
certificates) are refused with the key named.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

INTEGRATIONS = (
    "slack_configs",
    "pagerduty_configs",
    "webhook_configs",
    "email_configs",
    "opsgenie_configs",
    "msteams_configs",
)
_TYPES = {
    "slack_configs": "slack",
    "pagerduty_configs": "pagerduty",
    "webhook_configs": "webhook",
    "email_configs": "email",
    "opsgenie_configs": "opsgenie",
    "msteams_configs": "msteams",
}

# Alertmanager keys that format or decorate a message (templates) and have no driftd meaning.
_COSMETIC = {
    "slack_configs": {
        "title", "title_link", "text", "pretext", "color", "username", "icon_emoji", "icon_url",
        "link_names", "fallback", "footer", "fields", "actions", "short_fields", "mrkdwn_in",
        "callback_id", "image_url", "thumb_url", "send_resolved_only",
    },
    "pagerduty_configs": {
        "client", "client_url", "description", "details", "links", "images", "class",
        "component", "group", "severity",
    },
    "webhook_configs": set(),
    "email_configs": {"html", "text", "headers"},
    "opsgenie_configs": {
        "message", "description", "details", "source", "tags", "note", "priority", "actions",
        "entity", "update_alerts",
    },
    "msteams_configs": {"title", "summary", "text"},
}  # fmt: skip
_HTTP_IGNORED = {"follow_redirects", "enable_http2", "proxy_url", "no_proxy"}


def is_alertmanager_style(entry: Any) -> bool:
    """Whether a receivers[] entry is written in Alertmanager's syntax (no ``type``: some
    ``*_configs``, or just a ``name``, Alertmanager's way to drop notifications)."""
    return (
        isinstance(entry, dict)
        and "type" not in entry
        and all(k == "name" or k.endswith("_configs") for k in entry)
    )


def expand(entry: dict[str, Any], path: str) -> tuple[list[dict[str, Any]], list[str]]:
    """driftd receiver dicts for an Alertmanager-style receiver, and their names."""
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{path}.name: an Alertmanager-style receiver needs a name")
    unknown = set(entry) - {"name", *INTEGRATIONS}
    if unknown:
        raise ValueError(
            f"{path}: {sorted(unknown)} not supported here (driftd reads {list(INTEGRATIONS)}; "
            "victorops, pushover, sns, telegram, webex, wechat are not integrations of driftd yet)"
        )
    out: list[dict[str, Any]] = []
    for key in INTEGRATIONS:
        configs = entry.get(key) or []
        if not isinstance(configs, list):
            raise ValueError(f"{path}.{key}: must be a list")
        for i, raw in enumerate(configs):
            if not isinstance(raw, dict):
                raise ValueError(f"{path}.{key}[{i}]: must be a map")
            where = f"{path}.{key}[{i}]"
            converted = _CONVERT[key](dict(raw), where)
            converted["name"] = f"{name}.{_TYPES[key]}.{i}"
            out.append(converted)
    # No integration at all is Alertmanager's "null" receiver: routed alerts are dropped.
    return out, [r["name"] for r in out]


def ignored_keys(entry: dict[str, Any]) -> list[str]:
    """Keys of an Alertmanager-style receiver that driftd accepts but does not use."""
    found = []
    for key in INTEGRATIONS:
        for i, raw in enumerate(entry.get(key) or []):
            if isinstance(raw, dict):
                http = raw.get("http_config") or {}
                found += [f"{key}[{i}].{k}" for k in sorted(set(raw) & _COSMETIC[key])]
                found += [f"{key}[{i}].http_config.{k}" for k in sorted(set(http) & _HTTP_IGNORED)]
    return found


def _auth(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """driftd's bearer_token / basic_auth from Alertmanager's http_config."""
    http = raw.pop("http_config", None) or {}
    if not isinstance(http, dict):
        raise ValueError(f"{where}.http_config: must be a map")
    out: dict[str, Any] = {}
    if "tls_config" in http:
        raise ValueError(f"{where}.http_config.tls_config: not supported (use a CA bundle)")
    if "oauth2" in http:
        raise ValueError(f"{where}.http_config.oauth2: not supported")
    auth = http.get("authorization")
    if auth is not None:
        if (auth.get("type") or "Bearer").lower() != "bearer":
            raise ValueError(f"{where}.http_config.authorization.type: only Bearer is supported")
        if "credentials" in auth:
            out["bearer_token"] = auth["credentials"]
        if "credentials_file" in auth:
            out["bearer_token_file"] = auth["credentials_file"]
    if "bearer_token" in http:
        out["bearer_token"] = http["bearer_token"]
    if "bearer_token_file" in http:
        out["bearer_token_file"] = http["bearer_token_file"]
    basic = http.get("basic_auth")
    if basic is not None:
        out["basic_auth"] = {
            k: v for k, v in basic.items() if k in ("username", "password", "password_file")
        }
    return out


def _pick(raw: dict[str, Any], keys: dict[str, str], cosmetic: set[str], where: str) -> dict:
    out = {}
    for key, value in raw.items():
        if key in keys:
            out[keys[key]] = value
        elif key not in cosmetic:
            raise ValueError(f"{where}.{key}: not a setting driftd can honour")
    return out


def _webhook(raw: dict[str, Any], where: str) -> dict[str, Any]:
    auth = _auth(raw, where)
    keys = {"url": "url", "url_file": "url_file", "send_resolved": "send_resolved"}
    keys["max_alerts"] = "max_alerts"
    return {"type": "webhook", **_pick(raw, keys, set(), where), **auth}


def _slack(raw: dict[str, Any], where: str) -> dict[str, Any]:
    auth = _auth(raw, where)
    out = _pick(
        raw,
        {"api_url": "webhook_url", "api_url_file": "webhook_url_file", "channel": "channel"}
        | {"send_resolved": "send_resolved"},
        _COSMETIC["slack_configs"],
        where,
    )
    out.setdefault("send_resolved", False)  # Alertmanager's default for Slack
    token = auth.pop("bearer_token", None)
    token_file = auth.pop("bearer_token_file", None)
    if token is not None or token_file is not None:
        # Alertmanager 0.25 posts to api_url (chat.postMessage) with the bot token as bearer.
        url = out.pop("webhook_url", None)
        out.pop("webhook_url_file", None)
        if token is not None:
            out["token"] = token
        if token_file is not None:
            out["token_file"] = token_file
        if isinstance(url, str) and "/api/" in url:
            out["base_url"] = url[: url.index("/api/") + len("/api/")]
    if auth:
        raise ValueError(f"{where}.http_config: Slack takes a bot token, not basic auth")
    # Alertmanager sends the channel as written; a webhook ignores it, a bot token needs it.
    if "webhook_url" in out or "webhook_url_file" in out:
        out.pop("channel", None)
    return {"type": "slack", **out}


def _pagerduty(raw: dict[str, Any], where: str) -> dict[str, Any]:
    if "service_key" in raw or "service_key_file" in raw:
        raise ValueError(
            f"{where}.service_key: PagerDuty's Events API v1 is not supported; use routing_key "
            "(Events API v2)"
        )
    _auth(raw, where)  # PagerDuty authenticates with the routing key; nothing to carry
    out = _pick(
        raw,
        {"routing_key": "routing_key", "routing_key_file": "routing_key_file"}
        | {"send_resolved": "send_resolved"},
        _COSMETIC["pagerduty_configs"] | {"url"},
        where,
    )
    url = raw.get("url")
    if isinstance(url, str) and url:
        parts = urllib.parse.urlsplit(url)
        out["base_url"] = f"{parts.scheme}://{parts.netloc}"
    return {"type": "pagerduty", **out}


def _email(raw: dict[str, Any], where: str) -> dict[str, Any]:
    if "tls_config" in raw:
        raise ValueError(f"{where}.tls_config: not supported (ca_file is driftd's only TLS key)")
    same = "from smarthost hello auth_username auth_password auth_password_file require_tls"
    keys = {k: k for k in [*same.split(), "send_resolved"]}
    out = _pick(raw, {**keys, "to": "to"}, _COSMETIC["email_configs"], where)
    if isinstance(out.get("to"), str):  # Alertmanager: one string, comma-separated
        out["to"] = [a.strip() for a in out["to"].split(",") if a.strip()]
    return {"type": "email", **out}


def _opsgenie(raw: dict[str, Any], where: str) -> dict[str, Any]:
    _auth(raw, where)  # Opsgenie authenticates with the API key
    keys = {"api_key": "api_key", "api_key_file": "api_key_file", "api_url": "api_url"}
    keys |= {"responders": "responders", "send_resolved": "send_resolved"}
    return {"type": "opsgenie", **_pick(raw, keys, _COSMETIC["opsgenie_configs"], where)}


def _msteams(raw: dict[str, Any], where: str) -> dict[str, Any]:
    auth = _auth(raw, where)
    keys = {"webhook_url": "url", "webhook_url_file": "url_file", "send_resolved": "send_resolved"}
    out = _pick(raw, keys, _COSMETIC["msteams_configs"], where)
    # Alertmanager's msteams_configs post MessageCards to Office 365 connectors.
    return {"type": "msteams", "card": "message_card", **out, **auth}


_CONVERT = {
    "slack_configs": _slack,
    "pagerduty_configs": _pagerduty,
    "webhook_configs": _webhook,
    "email_configs": _email,
    "opsgenie_configs": _opsgenie,
    "msteams_configs": _msteams,
}
