"""What the HTTP server reports about itself: open connections, answers, dropped clients."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

# Why the server hung up on a client without answering it.
DROP_REASONS = ("evicted", "over_limit", "idle_timeout", "tls_handshake")


@dataclass(frozen=True)
class WebMetrics:
    """The server's series; ``dropped`` is labelled by one of ``DROP_REASONS``."""

    connections: Gauge
    requests: Counter
    dropped: Counter

    @classmethod
    def build(cls, registry: CollectorRegistry) -> WebMetrics:
        """Register the series in ``registry``."""
        dropped = Counter(
            "driftd_http_connections_dropped",
            "Connections closed without an answer, by reason (evicted: the oldest client still "
            "sending its request, to make room under max_connections).",
            ["reason"],
            registry=registry,
        )
        for reason in DROP_REASONS:
            dropped.labels(reason)
        return cls(
            connections=Gauge(
                "driftd_http_connections_open",
                "Client connections held open by the HTTP endpoint.",
                registry=registry,
            ),
            requests=Counter(
                "driftd_http_requests",
                "HTTP requests answered, by status code.",
                ["code"],
                registry=registry,
            ),
            dropped=dropped,
        )
