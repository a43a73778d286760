"""The daemon's HTTP endpoint, assembled from the ``http:`` config section.

The server (``driftd.web.server``) bounds what each client may cost; the routes
(``driftd.web.routes``) decide who may call what; TLS and authentication are optional and
follow Prometheus's web configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry

from driftd.config.models import HttpConfig
from driftd.fdlimit import raise_fd_limit
from driftd.health import Health
from driftd.web.metrics import WebMetrics
from driftd.web.routes import Routes, SilenceApi
from driftd.web.server import Limits, WebServer

log = logging.getLogger(__name__)

# File descriptors kept for everything but HTTP clients: Kafka sockets, checkpoint and outbox
# files, receivers' connections.
_RESERVED_FDS = 128


class HttpServer:
    """Serves the live page, /metrics, /healthz, /readyz, /status and the silences API until
    ``close()``."""

    def __init__(
        self,
        config: HttpConfig,
        registry: CollectorRegistry,
        health: Health,
        status: Callable[[], dict[str, Any]] = dict,
        *,
        silences: SilenceApi | None = None,
        page: Callable[[], bytes] | None = None,
    ) -> None:
        auth = None
        if config.auth is not None:
            from driftd.web.auth import Authenticator

            auth = Authenticator(config.auth.basic_auth_users, config.auth.bearer_token_files)
        tls = None
        if config.tls is not None:
            from driftd.web.tls import ReloadingContext

            tls = ReloadingContext(config.tls)
        routes = Routes(
            registry,
            health,
            status,
            silences=silences,
            auth=auth,
            protect_reads=config.auth is not None and config.auth.protect_reads,
            allow_unauthenticated_writes=config.allow_unauthenticated_writes,
            page=page,
        )
        limits = Limits(
            max_connections=_fit_connections(config.max_connections),
            workers=config.workers,
            max_body_bytes=config.max_body_bytes,
            read_timeout=config.read_timeout,
            idle_timeout=config.idle_timeout,
            write_timeout=config.write_timeout,
        )
        self.scheme = "https" if tls is not None else "http"
        self._server = WebServer(
            config.host, config.port, routes, limits, tls=tls, metrics=WebMetrics.build(registry)
        )

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        return self._server.port

    def start(self) -> HttpServer:
        """Start serving in the background."""
        self._server.start()
        log.info("http endpoint listening on port %d (%s)", self.port, self.scheme)
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.close()


def _fit_connections(wanted: int) -> int:
    """``wanted``, or fewer when the process may not open that many files besides the rest."""
    limit = raise_fd_limit()
    room = max(limit - _RESERVED_FDS, 4)
    if wanted > room:
        log.warning(
            "http.max_connections %d does not fit the open-file limit %d; using %d "
            "(raise LimitNOFILE / ulimit -n to allow more)",
            wanted,
            limit,
            room,
        )
        return room
    return wanted
