"""The HTTP endpoint: /metrics, /healthz, /readyz and /status, on a background thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from driftd.errors import ConfigError
from driftd.health import Health

log = logging.getLogger(__name__)

SilenceApi = Callable[[str, str, bytes], tuple[int, bytes]]


class HttpServer:
    """Serves the operational endpoints until ``close()``; port 0 picks a free port."""

    def __init__(
        self,
        host: str,
        port: int,
        registry: CollectorRegistry,
        health: Health,
        status: Callable[[], dict[str, Any]] = dict,
        *,
        silences: SilenceApi | None = None,
    ) -> None:
        handler = _handler(registry, health, status, silences)
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            # Port in use, address not available, a privileged port: fix the config (exit 2).
            raise ConfigError(f"http: cannot listen on {host}:{port}: {exc.strerror}") from exc
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="driftd-http", daemon=True
        )

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        return int(self._server.server_address[1])

    def start(self) -> HttpServer:
        """Start serving in the background."""
        self._thread.start()
        log.info("http endpoint listening on port %d", self.port)
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()


def _handler(
    registry: CollectorRegistry,
    health: Health,
    status: Callable[[], dict[str, Any]],
    silences: SilenceApi | None,
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _silences(self, method: str) -> bool:
            path = self.path.split("?", 1)[0]
            if silences is None or not path.startswith("/api/silences"):
                return False
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            code, answer = silences(method, path, body)
            self._send(code, answer, "application/json")
            return True

        def do_POST(self) -> None:
            if not self._silences("POST"):
                self._send(404, b"not found\n")

        def do_DELETE(self) -> None:
            if not self._silences("DELETE"):
                self._send(404, b"not found\n")

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if self._silences("GET"):
                return
            if path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                ok = health.alive()
                self._send(200 if ok else 503, b"ok\n" if ok else b"main loop stalled\n")
            elif path == "/readyz":
                ok, failing = health.ready()
                body = b"ready\n" if ok else ("not ready: " + ", ".join(failing) + "\n").encode()
                self._send(200 if ok else 503, body)
            elif path == "/status":
                self._send(200, msgspec.json.encode(status()), "application/json")
            else:
                self._send(404, b"not found: try /metrics, /healthz, /readyz or /status\n")

        def _send(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            # Probes hit these endpoints every few seconds; keep them out of the log.
            log.debug("http %s", format % args)

    return Handler
