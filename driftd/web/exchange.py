"""One HTTP request and its response, as the server hands them to the endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


@dataclass(frozen=True)
class Request:
    """A complete request: headers are lower-cased; ``client_cert`` is the subject's common
    name of a client certificate the TLS layer verified, else None."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    peer: str
    client_cert: str | None = None


@dataclass(frozen=True)
class Response:
    """What to answer; ``headers`` are extra ones (Content-Type and -Length are set for you)."""

    status: int
    body: bytes = b""
    content_type: str = TEXT
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)


class App(Protocol):
    """The endpoints behind the server."""

    def fast(self, request: Request) -> Response | None:
        """Answer on the server's own thread (cheap, never blocking: health probes), or None
        to hand the request to a worker thread."""

    def __call__(self, request: Request) -> Response:
        """Answer on a worker thread (may take a lock, render metrics, check a password)."""
