"""The HTTP server against real sockets: limits, deadlines, eviction, keep-alive, TLS."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme
from prometheus_client import CollectorRegistry

from driftd.config.models import HttpTls
from driftd.web.exchange import Request, Response
from driftd.web.metrics import WebMetrics
from driftd.web.server import Limits, WebServer
from driftd.web.tls import ReloadingContext


class EchoApp:
    """Answers /fast on the loop, /boom by raising, /slow by sleeping, else echoes the body."""

    def __init__(self) -> None:
        self.seen: list[Request] = []
        self.release = threading.Event()

    def fast(self, request: Request) -> Response | None:
        return Response(200, b"fast\n") if request.path == "/fast" else None

    def __call__(self, request: Request) -> Response:
        self.seen.append(request)
        if request.path == "/boom":
            raise RuntimeError("handler bug")
        if request.path == "/slow":
            self.release.wait(10)
        return Response(200, request.body or request.path.encode())


@pytest.fixture
def serve() -> Iterator[Callable[..., tuple[WebServer, EchoApp, WebMetrics]]]:
    started: list[WebServer] = []

    def start(
        limits: Limits | None = None, tls: Callable[[], ssl.SSLContext] | None = None
    ) -> tuple[WebServer, EchoApp, WebMetrics]:
        app = EchoApp()
        metrics = WebMetrics.build(CollectorRegistry())
        server = WebServer("127.0.0.1", 0, app, limits, tls=tls, metrics=metrics).start()
        started.append(server)
        return server, app, metrics

    yield start
    for server in started:
        server.close()


def _get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _dropped(metrics: WebMetrics, reason: str) -> float:
    return metrics.dropped.labels(reason)._value.get()


def test_answers_and_keeps_the_connection_alive(serve: Callable[..., tuple]) -> None:
    server, app, _ = serve()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/a?x=1")
    first = conn.getresponse()
    assert (first.status, first.read()) == (200, b"/a")
    conn.request("POST", "/b", body=b"payload", headers={"X-Thing": "1"})
    second = conn.getresponse()
    assert (second.status, second.read()) == (200, b"payload")
    conn.request("HEAD", "/c")
    head = conn.getresponse()
    assert head.status == 200 and head.read() == b""
    assert head.getheader("Content-Length") == "2"
    conn.close()
    assert [r.path for r in app.seen] == ["/a", "/b", "/c"]
    assert app.seen[0].query == "x=1"
    assert app.seen[1].headers["x-thing"] == "1"
    assert len({r.peer for r in app.seen}) == 1, "one connection carried all three"


def test_a_body_over_the_limit_is_refused_unread(serve: Callable[..., tuple]) -> None:
    server, app, _ = serve(Limits(max_body_bytes=1024))
    # Announced: refused on the headers alone, and the client still reads the answer.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1099511627776\r\n\r\n")
        sock.sendall(b"x" * 1_000_000)  # the start of a terabyte
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert b"http.max_body_bytes" in answer
    # Chunked (no length given): refused once the limit is passed.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("POST", "/y", body=iter([b"y" * 800, b"y" * 800]), encode_chunked=True)
    assert conn.getresponse().status == 413
    conn.close()
    assert app.seen == [], "nothing over the limit reached an endpoint"
    assert _get(server.port, "/after") == (200, b"/after")


def test_idle_connections_cannot_lock_out_a_probe(serve: Callable[..., tuple]) -> None:
    server, _, metrics = serve(Limits(max_connections=8))
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(40)]
    try:
        # Half of them started a request and stopped (slowloris); they are evicted all the same.
        for sock in idle[::2]:
            sock.sendall(b"GET /slowloris HTTP/1.1\r\nHost: a\r\n")
        for _ in range(5):
            assert _get(server.port, "/fast") == (200, b"fast\n")
            assert _get(server.port, "/worker") == (200, b"/worker")
        assert metrics.connections._value.get() <= 8
        assert _dropped(metrics, "evicted") >= 32
    finally:
        for sock in idle:
            sock.close()


def test_a_request_that_trickles_in_gets_408(serve: Callable[..., tuple]) -> None:
    server, app, _ = serve(Limits(read_timeout=0.5))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        started = time.monotonic()
        for byte in b"GET /trickle HTTP/1.1\r\nHost: a\r\n":
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.05)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert time.monotonic() - started < 3.0
    assert app.seen == []


def test_an_idle_connection_is_closed_after_idle_timeout(serve: Callable[..., tuple]) -> None:
    server, _, metrics = serve(Limits(idle_timeout=0.3))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        assert sock.recv(1) == b"", "closed without an answer"
    assert _dropped(metrics, "idle_timeout") == 1


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -3\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"z" * 40_000 + b"\r\n\r\n", 431),
    ],
)
def test_a_malformed_request_gets_a_4xx(
    serve: Callable[..., tuple], raw: bytes, status: int
) -> None:
    server, app, _ = serve(Limits(max_header_bytes=16384))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(raw)
        answer = sock.recv(4096)
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer
    assert app.seen == []


def test_a_failing_or_stuck_endpoint_does_not_take_the_server_down(
    serve: Callable[..., tuple],
) -> None:
    server, app, _ = serve(Limits(workers=1, handler_timeout=0.5))
    assert _get(server.port, "/boom")[0] == 500
    started = time.monotonic()
    assert _get(server.port, "/slow")[0] == 503  # its worker is still busy
    assert time.monotonic() - started < 3.0
    assert _get(server.port, "/fast") == (200, b"fast\n"), "probes do not need a worker"
    app.release.set()
    assert _get(server.port, "/ok") == (200, b"/ok")


def test_close_releases_the_port_and_open_connections(serve: Callable[..., tuple]) -> None:
    server, _, _ = serve()
    port = server.port
    held = socket.create_connection(("127.0.0.1", port))
    server.close()
    held.settimeout(5)
    assert held.recv(1) == b""
    held.close()
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _tls_files(ca: trustme.CA, tmp: Path, *, client_ca: bool) -> HttpTls:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(tmp / "server.pem")
    ca.cert_pem.write_to_path(tmp / "ca.pem")
    return HttpTls(
        cert_file=tmp / "server.pem",
        key_file=tmp / "server.pem",
        client_ca_file=tmp / "ca.pem" if client_ca else None,
    )


def test_tls_serves_https_and_passes_the_client_certificate(
    serve: Callable[..., tuple], ca: trustme.CA, tmp_path: Path
) -> None:
    server, app, _ = serve(tls=ReloadingContext(_tls_files(ca, tmp_path, client_ca=True)))
    client = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    ca.issue_cert("ops@example.com", common_name="ops").configure_cert(client)
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=client, timeout=5)
    conn.request("GET", "/secure")
    assert conn.getresponse().read() == b"/secure"
    conn.close()
    assert app.seen[-1].client_cert == "ops"
    # Without a client certificate the handshake is refused.
    anonymous = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=anonymous, timeout=5)

    def attempt() -> bytes:
        conn.request("GET", "/secure")
        return conn.getresponse().read()

    with pytest.raises((ssl.SSLError, ConnectionError)):
        attempt()
    conn.close()
    assert len(app.seen) == 1


def test_stalled_tls_handshakes_are_evicted_like_idle_clients(
    serve: Callable[..., tuple], ca: trustme.CA, tmp_path: Path
) -> None:
    tls = ReloadingContext(_tls_files(ca, tmp_path, client_ca=False))
    server, _, metrics = serve(Limits(max_connections=8), tls=tls)
    silent = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(30)]
    try:
        client = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=client, timeout=5)
        conn.request("GET", "/through")
        assert conn.getresponse().read() == b"/through"
        conn.close()
        assert metrics.connections._value.get() <= 8
    finally:
        for sock in silent:
            sock.close()


def test_a_rotated_certificate_is_served_without_a_restart(ca: trustme.CA, tmp_path: Path) -> None:
    now = [0.0]
    files = _tls_files(ca, tmp_path, client_ca=False)
    context = ReloadingContext(files, check_every=1.0, clock=lambda: now[0])
    first = context()
    assert context() is first
    ca.issue_cert("localhost").private_key_and_cert_chain_pem.write_to_path(tmp_path / "server.pem")
    assert context() is first, "not checked again before check_every"
    now[0] = 2.0
    assert context() is not first
    # A broken rewrite keeps the last good context.
    good = context()
    (tmp_path / "server.pem").write_text("not a certificate")
    now[0] = 4.0
    assert context() is good
