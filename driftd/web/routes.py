"""The endpoints and who may call them.

::

    GET  /healthz, /readyz          always open (the kubelet and systemd probe without
                                    credentials); answered on the server's own thread
    GET  /, /metrics, /status,      open, or with ``http.auth.protect_reads`` authenticated
         /api/silences[/{id}],      (``/`` is the live page: recent windows as charts)
         /assets/plotly.min.js
    POST /api/silences,             authenticated (basic, bearer, or a verified client
    DELETE /api/silences/{id}       certificate); without http.auth only when
                                    ``http.allow_unauthenticated_writes`` is set

Every write is logged with who made it and from where.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from driftd.health import Health
from driftd.web.auth import Authenticator
from driftd.web.exchange import JSON, Request, Response

log = logging.getLogger(__name__)

SilenceApi = Callable[[str, str, bytes], tuple[int, bytes]]

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_READS = frozenset({"GET", "HEAD"})
_SILENCES = "/api/silences"
_NO_STORE = (("Cache-Control", "no-store"),)
# plotly.js changes only with the installed package: a day in the browser's cache.
_CACHE = (("Cache-Control", "public, max-age=86400"),)
_NO_WRITES = (
    b'{"error": "write endpoints are off: configure http.auth (or a client CA in http.tls), '
    b'or set http.allow_unauthenticated_writes: true on a trusted network"}'
)


class Routes:
    """The daemon's endpoints as an ``App`` for ``WebServer``."""

    def __init__(
        self,
        registry: CollectorRegistry,
        health: Health,
        status: Callable[[], dict[str, Any]] = dict,
        *,
        silences: SilenceApi | None = None,
        auth: Authenticator | None = None,
        protect_reads: bool = False,
        allow_unauthenticated_writes: bool = False,
        page: Callable[[], bytes] | None = None,
    ) -> None:
        self._page = page
        self._script: bytes | None = None
        self._registry = registry
        self._health = health
        self._status = status
        self._silences = silences
        self._auth = auth
        self._protect_reads = protect_reads
        self._open_writes = allow_unauthenticated_writes

    def fast(self, request: Request) -> Response | None:
        """The health probes: a lock-free read of the loop's heartbeat and conditions."""
        if request.method not in _READS:
            return None
        if request.path == "/healthz":
            ok = self._health.alive()
            return Response(200 if ok else 503, b"ok\n" if ok else b"main loop stalled\n")
        if request.path == "/readyz":
            ok, failing = self._health.ready()
            body = b"ready\n" if ok else ("not ready: " + ", ".join(failing) + "\n").encode()
            return Response(200 if ok else 503, body)
        return None

    def __call__(self, request: Request) -> Response:
        """Everything else, on a worker thread."""
        path = request.path.rstrip("/") or "/"
        silences = path == _SILENCES or path.startswith(_SILENCES + "/")
        write = request.method in _WRITES
        if not write and request.method not in _READS:
            return Response(405, b"method not allowed\n", headers=(("Allow", "GET, HEAD"),))
        who = None
        if write or self._protect_reads:
            who = self._who(request)
            refused = self._refuse(who, write)
            if refused is not None:
                return refused
        if silences and self._silences is not None:
            code, body = self._silences(request.method, request.path, request.body)
            if write:
                log.info(
                    "silences: %s %s by %s from %s -> %d",
                    request.method,
                    request.path,
                    who or "an unauthenticated client",
                    request.peer,
                    code,
                )
            return Response(code, body, JSON)
        if write:
            return Response(405, b"method not allowed\n", headers=(("Allow", "GET, HEAD"),))
        if path == "/metrics":
            return Response(200, generate_latest(self._registry), CONTENT_TYPE_LATEST)
        if path == "/status":
            return Response(200, msgspec.json.encode(self._status()), JSON)
        if self._page is not None and path == "/":
            return Response(200, self._page(), "text/html; charset=utf-8", _NO_STORE)
        if self._page is not None and path == "/assets/plotly.min.js":
            if self._script is None:
                from driftd.report.page import plotly_js

                self._script = plotly_js()
            return Response(200, self._script, "text/javascript; charset=utf-8", _CACHE)
        return Response(404, b"not found: try /, /metrics, /healthz, /readyz or /status\n")

    def _who(self, request: Request) -> str | None:
        if request.client_cert is not None:
            return f"client certificate {request.client_cert!r}"
        if self._auth is None:
            return None
        return self._auth.identify(request.headers.get("authorization"))

    def _refuse(self, who: str | None, write: bool) -> Response | None:
        if who is not None:
            return None
        if self._auth is not None:
            return Response(
                401,
                b'{"error": "authentication required"}',
                JSON,
                headers=(("WWW-Authenticate", self._auth.challenge),),
            )
        if write and not self._open_writes:
            return Response(403, _NO_WRITES, JSON)
        return None
