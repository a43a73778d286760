"""Slack through slack-sdk: one message per group, kept up to date.

With a bot token, a group's first notification is posted with ``chat.postMessage`` and its
channel and ``ts`` are remembered in the outbox's key/value table (so they survive restarts);
later notifications ``chat.update`` that message and, while it still fires, add a short reply in
its thread; the resolve turns it into ✅ RESOLVED and forgets it. With an incoming-webhook URL
every notification is a new message (webhooks cannot update).

A post and the note of its ``ts`` cannot be one transaction: a crash between them would post
the group's message twice on the resend. So before posting, the notifier notes a random nonce,
and posts it in the message's metadata; a resend that finds a nonce without a ``ts`` first looks
for that message in the channel's recent history (``conversations.history``, scope
``channels:history``) and edits it instead. Without the scope it posts anew, as before.

slack-sdk's own retry handlers are disabled (``retry_handlers=[]``): its rate-limit handler
sleeps inside the call, and the outbox already owns retries, backoff and Retry-After.
"""

from __future__ import annotations

import http.client
import json
import logging
import secrets
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import WebClient
from slack_sdk.webhook import WebhookClient

from driftd.alerting.config import SlackReceiver
from driftd.alerting.notification import Notification
from driftd.alerting.slack_message import render
from driftd.alerting.transport import Response, check, retry_after
from driftd.errors import SinkError

# ok:false errors that are Slack's trouble, not ours (https://api.slack.com/methods).
RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
METADATA_EVENT = "driftd_notification"
log = logging.getLogger(__name__)
# chat.update cannot touch the remembered message any more: post a fresh one instead.
GONE_ERRORS = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})


class KeyValue(Protocol):
    """Where message references are kept (the outbox implements it)."""

    def get(self, key: str) -> str | None: ...
    def put(self, key: str, value: str | None) -> None: ...


class SlackNotifier:
    """Posts, updates and threads Slack messages for notification groups."""

    def __init__(
        self, config: SlackReceiver, state: KeyValue, external_url: str | None = None
    ) -> None:
        self._config = config
        self._state = state
        self._external_url = external_url
        timeout = max(1, round(config.timeout))
        self._client: WebClient | None = None
        self._webhook: WebhookClient | None = None
        if config.token is not None:
            self._client = WebClient(
                token=config.token.get_secret_value(),
                base_url=config.base_url,
                timeout=timeout,
                retry_handlers=[],
            )
        elif config.webhook_url is not None:
            self._webhook = WebhookClient(
                config.webhook_url.get_secret_value(), timeout=timeout, retry_handlers=[]
            )

    def notify(self, group: Notification) -> None:
        """Send or update the group's message; raises ``SinkError`` on failure."""
        message = render(group, self._config.max_alerts, self._external_url)
        try:
            if self._client is not None:
                self._chat(self._client, group, message)
            elif self._webhook is not None:
                resp = self._webhook.send(**message)
                if not (resp.status_code == 200 and resp.body == "ok"):
                    headers = {k.lower(): str(v) for k, v in resp.headers.items()}
                    check(Response(resp.status_code, headers, resp.body.encode()), self._what())
        except SlackApiError as exc:
            raise _api_error(exc, self._what()) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise SinkError(f"{self._what()}: {exc}", retryable=True) from exc
        except SlackClientError as exc:
            raise SinkError(f"{self._what()}: {exc}", retryable=False) from exc

    def _chat(self, client: WebClient, group: Notification, message: dict[str, Any]) -> None:
        key = f"slack:{self._config.name}:{group.group_key}"
        stored = self._state.get(key)
        ref = json.loads(stored) if stored is not None else None
        if ref is not None and "ts" not in ref:
            ref = self._find_post(client, ref)
        if ref is not None:
            try:
                client.chat_update(channel=ref["channel"], ts=ref["ts"], **message)
            except SlackApiError as exc:
                if _error_code(exc) not in GONE_ERRORS:
                    raise
                ref = None
            else:
                if group.firing:
                    client.chat_postMessage(
                        channel=ref["channel"], thread_ts=ref["ts"], text=_change(ref, group)
                    )
        if ref is None:
            nonce = secrets.token_hex(8)
            channel_key = f"slack:{self._config.name}:channel"
            self._state.put(
                key, json.dumps({"posting": nonce, "channel": self._state.get(channel_key)})
            )
            resp = client.chat_postMessage(
                channel=self._config.channel or "",
                metadata={
                    "event_type": METADATA_EVENT,
                    "event_payload": {"group_key": group.group_key, "nonce": nonce},
                },
                **message,
            )
            ref = {"channel": resp["channel"], "ts": resp["ts"]}
            self._state.put(channel_key, str(resp["channel"]))
        if group.firing:
            ref["firing"] = sorted(a.fingerprint for a in group.firing)
            self._state.put(key, json.dumps(ref))
        else:
            # Resolved: the next firing of this group starts a new message.
            self._state.put(key, None)

    def _find_post(self, client: WebClient, pending: dict[str, Any]) -> dict[str, Any] | None:
        """The message a post interrupted by a crash left, if the channel's history has it."""
        channel = pending.get("channel")
        if not channel:
            return None  # the channel's id was never learned: nothing to search
        try:
            resp = client.conversations_history(
                channel=channel, limit=100, include_all_metadata=True
            )
        except SlackApiError as exc:
            log.warning("%s: cannot search the channel for an earlier post (%s)", self._what(), exc)
            return None
        for msg in resp.get("messages") or []:
            meta = msg.get("metadata") or {}
            if meta.get("event_type") == METADATA_EVENT and (meta.get("event_payload") or {}).get(
                "nonce"
            ) == pending.get("posting"):
                return {"channel": channel, "ts": msg["ts"]}
        return None

    def _what(self) -> str:
        return f"slack {self._config.name}"


def _change(ref: dict[str, Any], group: Notification) -> str:
    before = set(ref.get("firing", []))
    now = {a.fingerprint for a in group.firing}
    if now == before:
        return f"🔁 Still firing: {len(now)} alert(s)"
    new, gone = len(now - before), len(before - now)
    return f"🔔 {new} new, {gone} no longer firing; {len(now)} firing now"


def _error_code(exc: SlackApiError) -> str:
    data = exc.response.data
    return str(data.get("error", "")) if isinstance(data, dict) else ""


def _api_error(exc: SlackApiError, what: str) -> SinkError:
    status, code = exc.response.status_code, _error_code(exc)
    message = f"{what}: HTTP {status}" + (f" {code}" if code else "")
    if status == 429 or code == "ratelimited":
        headers = {str(k): str(v) for k, v in (exc.response.headers or {}).items()}
        return SinkError(message, retryable=True, retry_after=retry_after(headers))
    return SinkError(message, retryable=status >= 500 or code in RETRYABLE_ERRORS)
