"""A local HTTP server that answers like Slack, Slack incoming webhooks, PagerDuty Events v2 and
plain webhooks, records every request, and can be scripted to misbehave.

::

    with FakeApis() as api:
        client = WebClient(token="xoxb-test", base_url=api.slack_api_url)
        api.rate_limit_next(1, retry_after=7)      # next request: 429, Retry-After: 7
        api.fail_next(2, status=503)               # then two 503s
        api.hang_next(1, seconds=2.0)              # then one answer delayed by 2 s
        api.close_next(1)                          # then one connection closed unanswered
        api.stall(10)                              # request 10 and later: no answer until
        api.release()                              # ...released
        ...
        api.requests                               # [Recorded(path, headers, body, time), ...]

Endpoints: ``/api/chat.postMessage`` and ``/api/chat.update`` (JSON or form bodies; a bot
token is required, ``xoxb-invalid`` is refused, channels in ``unknown_channels`` do not exist),
``/slack/webhook/...`` (answers ``ok``), ``/v2/enqueue`` (202 with the ``dedup_key``; 400 for an
invalid event) and any other POST path (200 ``{"ok": true}``).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any
    time: float


@dataclass
class _Fault:
    kind: str  # "status", "hang" or "close"
    path: str | None
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0


class FakeApis:
    """The fake server; starts on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[_Fault] = deque()
        self._requests: list[Recorded] = []
        self._closing = threading.Event()
        self._arrived = threading.Condition(self._lock)
        self.delay = 0.0
        self.stall_from: int | None = None
        self._release = threading.Event()
        self.unknown_channels: set[str] = {"#missing"}
        self.channels: dict[str, str] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.replies: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.incidents: dict[str, str] = {}
        self._ts = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def slack_api_url(self) -> str:
        """The ``base_url`` for slack-sdk's WebClient."""
        return self.url + "/api/"

    @property
    def slack_webhook_url(self) -> str:
        """An incoming-webhook URL."""
        return self.url + "/slack/webhook/T000/B000/secret"

    def fail_next(
        self,
        n: int,
        status: int = 503,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        path: str | None = None,
    ) -> None:
        """Answer the next ``n`` requests (to paths starting with ``path``) with ``status``."""
        with self._lock:
            for _ in range(n):
                self._faults.append(_Fault("status", path, status, dict(headers or {}), body))

    def rate_limit_next(self, n: int, retry_after: int, path: str | None = None) -> None:
        """Answer the next ``n`` requests with 429 and ``Retry-After``."""
        body = json.dumps({"ok": False, "error": "ratelimited"}).encode()
        self.fail_next(n, 429, {"Retry-After": str(retry_after)}, body, path)

    def hang_next(self, n: int, seconds: float, path: str | None = None) -> None:
        """Delay the answer to the next ``n`` requests by ``seconds``."""
        with self._lock:
            self._faults.extend(_Fault("hang", path, seconds=seconds) for _ in range(n))

    def close_next(self, n: int, path: str | None = None) -> None:
        """Close the connection of the next ``n`` requests without answering."""
        with self._lock:
            self._faults.extend(_Fault("close", path) for _ in range(n))

    def stall(self, from_request: int) -> None:
        """Leave request number ``from_request`` (1-based) and later ones unanswered until
        ``release()``: a receiver that hangs, with the client waiting mid-request."""
        self.stall_from = from_request
        self._release.clear()

    def release(self) -> None:
        """Answer stalled requests and stop stalling."""
        self.stall_from = None
        self._release.set()

    def clear_faults(self) -> None:
        """Forget every scripted fault not used yet (e.g. end an outage)."""
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[Recorded]:
        """Every request so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Block until ``count`` requests arrived (or ``timeout``); True if they did."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self._requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._arrived.wait(left)
        return True

    def close(self) -> None:
        """Stop the server and abort hanging answers."""
        self._closing.set()
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeApis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- called by the handler -------------------------------------------------------------

    def _record(self, request: Recorded) -> tuple[int, _Fault | None]:
        with self._arrived:
            self._requests.append(request)
            self._arrived.notify_all()
            number = len(self._requests)
            for fault in self._faults:
                if fault.path is None or request.path.startswith(fault.path):
                    self._faults.remove(fault)
                    return number, fault
        return number, None

    def _answer(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        with self._lock:
            if path.startswith("/api/"):
                return 200, self._slack(path[len("/api/") :], headers, body)
            if path.startswith("/slack/webhook/"):
                return 200, "ok"
            if path == "/v2/enqueue":
                return self._pagerduty(body)
            return 200, {"ok": True}

    def _slack(self, method: str, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer xoxb-") or auth == "Bearer xoxb-invalid":
            return {"ok": False, "error": "invalid_auth"}
        channel = str(body.get("channel", ""))
        if channel in self.unknown_channels or not channel:
            return {"ok": False, "error": "channel_not_found"}
        if method == "chat.postMessage":
            if channel in self.channels.values():
                channel_id = channel  # already an id, as chat.postMessage answered it
            else:
                channel_id = self.channels.setdefault(channel, f"C{len(self.channels) + 1:08d}")
            self._ts += 1
            ts = f"1700000000.{self._ts:06d}"
            if body.get("thread_ts"):
                self.replies.setdefault((channel_id, body["thread_ts"]), []).append(body)
            else:
                self.messages[(channel_id, ts)] = body
            return {"ok": True, "channel": channel_id, "ts": ts, "message": body}
        if method == "conversations.history":
            # Newest first, with metadata only when asked for (as Slack answers).
            found = [
                {
                    "ts": ts,
                    "text": msg.get("text", ""),
                    **(
                        {"metadata": msg["metadata"]}
                        if msg.get("metadata")
                        and str(body.get("include_all_metadata")).lower() in ("1", "true")
                        else {}
                    ),
                }
                for (ch, ts), msg in sorted(self.messages.items(), reverse=True)
                if ch == channel
            ]
            return {"ok": True, "messages": found[: int(body.get("limit") or 100)]}
        if method == "chat.update":
            key = (channel, str(body.get("ts", "")))
            if key not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            self.messages[key] = body
            return {"ok": True, "channel": channel, "ts": key[1], "text": body.get("text", "")}
        return {"ok": False, "error": "unknown_method"}

    def _pagerduty(self, body: Any) -> tuple[int, Any]:
        errors = []
        if not isinstance(body, dict):
            errors.append("body must be a JSON object")
            body = {}
        if not body.get("routing_key"):
            errors.append("'routing_key' is missing")
        action = body.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            errors.append("'event_action' is invalid")
        payload = body.get("payload") or {}
        if action == "trigger":
            for key in ("summary", "source", "severity"):
                if not payload.get(key):
                    errors.append(f"'payload.{key}' is missing")
            if payload.get("severity") not in ("critical", "error", "warning", "info"):
                errors.append("'payload.severity' is invalid")
            if len(payload.get("summary", "")) > 1024:
                errors.append("'payload.summary' is too long")
        if action != "trigger" and not body.get("dedup_key"):
            errors.append("'dedup_key' is required to " + str(action))
        if errors:
            return 400, {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": errors,
            }
        dedup_key = body.get("dedup_key") or f"generated-{len(self.incidents)}"
        self.incidents[dedup_key] = {"trigger": "triggered", "resolve": "resolved"}.get(
            action, "acknowledged"
        )
        return 202, {"status": "success", "message": "Event processed", "dedup_key": dedup_key}


def _parse(headers: dict[str, str], raw: bytes) -> Any:
    ctype = headers.get("content-type", "")
    if "application/x-www-form-urlencoded" in ctype:
        form: dict[str, Any] = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        for key in ("blocks", "attachments"):
            if isinstance(form.get(key), str):
                form[key] = json.loads(form[key])
        return form
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")


def _handler(api: FakeApis) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            # Slack's read methods (conversations.history) take their arguments as a query.
            path, _, query = self.path.partition("?")
            body = {k: v[0] for k, v in parse_qs(query).items()}
            self._handle("GET", path, b"", body)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._handle("POST", self.path.split("?", 1)[0], raw, _parse(headers, raw))

        def _handle(self, method: str, path: str, raw: bytes, body: Any) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            number, fault = api._record(Recorded(method, path, headers, raw, body, time.time()))
            if api.stall_from is not None and number >= api.stall_from:
                api._release.wait(30.0)
            if api.delay:
                api._closing.wait(api.delay)
            if fault is not None and fault.kind == "close":
                self.close_connection = True
                return
            if fault is not None and fault.kind == "hang":
                api._closing.wait(fault.seconds)
            if fault is not None and fault.kind == "status":
                self._send(fault.status, fault.body, fault.headers)
                return
            status, answer = api._answer(path, headers, body)
            data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
            ctype = "text/html" if isinstance(answer, str) else "application/json"
            self._send(status, data, {"Content-Type": ctype})

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            # The client may have given up (timed out) while we were "hanging".
            with contextlib.suppress(OSError):
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
