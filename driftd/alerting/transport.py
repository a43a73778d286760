"""HTTP for the JSON receivers (PagerDuty, webhook, retrain), behind an injectable transport.

``Transport.post`` returns every HTTP answer as a ``Response`` (4xx and 5xx included) and
raises ``SinkError(retryable=True)`` only when no answer came (refused, reset, timed out).
``check`` then turns a status into success or a ``SinkError`` with the retry decision.
"""

from __future__ import annotations

import email.utils
import http.client
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from driftd.errors import SinkError


@dataclass(frozen=True, slots=True)
class Response:
    """An HTTP answer; header names are lower-cased."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


class Transport(Protocol):
    """Sends one POST; a plain object with this method (or a fake) can stand in."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Response: ...


class UrllibTransport:
    """``Transport`` over ``urllib.request`` with a per-request timeout (seconds)."""

    def __init__(
        self, timeout: float = 10.0, *, ca_file: str | os.PathLike[str] | None = None
    ) -> None:
        self.timeout = timeout
        # A private CA (an internal Alertmanager, say) instead of the system's trust store.
        self._context = ssl.create_default_context(cafile=ca_file) if ca_file else None

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Response:
        """POST ``body``; see the module docstring for what raises."""
        if not url.lower().startswith(("http://", "https://")):
            raise SinkError(f"refusing to POST to a non-HTTP URL {url!r}", retryable=False)
        request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
        try:
            with urllib.request.urlopen(
                request, timeout=self.timeout, context=self._context
            ) as resp:
                return Response(resp.status, _lower(resp.headers.items()), resp.read())
        except urllib.error.HTTPError as exc:
            # urllib raises for 4xx/5xx; those are answers, and check() decides about them.
            return Response(exc.code, _lower(exc.headers.items()), exc.read())
        except (OSError, http.client.HTTPException) as exc:
            # URLError, timeouts, resets and half-read responses: the receiver may be fine
            # in a moment.
            raise SinkError(f"POST {_host(url)} failed: {exc}", retryable=True) from exc


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or an HTTP date)."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def check(response: Response, what: str, ok: tuple[int, ...] = ()) -> None:
    """Raise ``SinkError`` unless the status is 2xx (or in ``ok``).

    429 and 5xx are retryable (429 with its Retry-After); other statuses are permanent.
    """
    status = response.status
    if 200 <= status < 300 or status in ok:
        return
    detail = response.body[:300].decode("utf-8", "replace").strip()
    message = f"{what}: HTTP {status}" + (f": {detail}" if detail else "")
    if status == 429:
        raise SinkError(message, retryable=True, retry_after=retry_after(response.headers))
    raise SinkError(message, retryable=status >= 500 or status == 408)


def _lower(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {k.lower(): v for k, v in items}


def _host(url: str) -> str:
    # Webhook URLs often embed a secret path (Slack hooks, tokens): log only the host.
    return urllib.parse.urlsplit(url).netloc
