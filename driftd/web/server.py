"""An HTTP/1.1 server that no client can pin, flood or exhaust.

One asyncio loop on a background thread holds every connection (an idle socket costs a file
descriptor and a few hundred bytes, not a thread); a request is read in full within
``read_timeout`` of its first byte, its body refused past ``max_body_bytes`` before it is
read; complete requests go to a fixed pool of worker threads. Connections are capped at
``max_connections``: when the cap is reached, the client that has waited longest without
delivering a complete request is dropped to make room, so a flood of idle or trickling
connections cannot lock out a health probe or a scrape, and never reaches the process's
file-descriptor limit (which would also fail the next checkpoint). TLS handshakes run inside
that accounting with the same deadline. HTTP framing is h11's (a well-tested sans-I/O parser);
this module only adds the I/O, the deadlines and the limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus

import h11

from driftd.errors import ConfigError
from driftd.web.exchange import TEXT, App, Request, Response
from driftd.web.metrics import WebMetrics

log = logging.getLogger(__name__)

_CHUNK = 65536
# How long a refused client's remaining upload is read and thrown away before the close.
_LINGER = 2.0


@dataclass(frozen=True)
class Limits:
    """What one client may cost the server."""

    max_connections: int = 256
    workers: int = 4
    max_body_bytes: int = 65536
    max_header_bytes: int = 16384
    read_timeout: float = 10.0  # TLS handshake, and a request from its first byte to its last
    idle_timeout: float = 60.0  # a new or kept-alive connection waiting for a request
    write_timeout: float = 10.0  # a response being read by the client
    handler_timeout: float = 30.0  # an endpoint answering (503 after this; the thread finishes)


class _Conn:
    """A connection and, while it waits for or reads a request, since when (for eviction)."""

    __slots__ = ("reading_since", "sock", "started", "task", "transport")

    def __init__(self, sock: socket.socket, since: float) -> None:
        self.sock = sock
        self.started = False
        self.reading_since: float | None = since
        self.task: asyncio.Task[None] | None = None
        self.transport: asyncio.BaseTransport | None = None


class _RefusedError(Exception):
    """Answer ``status`` and close the connection (a request too large, malformed, too slow)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class WebServer:
    """Serves ``app`` on ``host:port`` until ``close()``; port 0 picks a free port."""

    def __init__(
        self,
        host: str,
        port: int,
        app: App,
        limits: Limits | None = None,
        *,
        tls: Callable[[], ssl.SSLContext] | None = None,
        metrics: WebMetrics | None = None,
    ) -> None:
        self._app = app
        self._limits = limits or Limits()
        self._tls = tls
        self._metrics = metrics
        self._sock = _listen(host, port)
        self._loop = asyncio.new_event_loop()
        self._pool = ThreadPoolExecutor(self._limits.workers, thread_name_prefix="driftd-http")
        self._conns: dict[_Conn, None] = {}
        # Made here, not in the loop: a close() right after start() must not be lost.
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="driftd-http", daemon=True)
        self._last_accept_error = 0.0

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        return int(self._sock.getsockname()[1])

    def start(self) -> WebServer:
        """Start serving in the background (the socket already listens)."""
        self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting, drop every connection and release the port."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout)
        self._sock.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        acceptor = asyncio.create_task(self._accept_forever())
        await self._stop.wait()
        acceptor.cancel()
        tasks = [c.task for c in self._conns if c.task is not None]
        for conn in list(self._conns):
            self._drop(conn)
        await asyncio.gather(acceptor, *tasks, return_exceptions=True)

    async def _accept_forever(self) -> None:
        while True:
            try:
                sock, addr = await self._loop.sock_accept(self._sock)
            except OSError as exc:
                # EMFILE and friends: the server keeps going; the backlog waits in the kernel.
                now = time.monotonic()
                if now - self._last_accept_error > 10.0:
                    self._last_accept_error = now
                    log.warning("http: cannot accept a connection: %s", exc)
                await asyncio.sleep(0.05)
                continue
            self._admit(sock, addr)

    def _admit(self, sock: socket.socket, addr: object) -> None:
        now = time.monotonic()
        if len(self._conns) >= self._limits.max_connections:
            waiting = [c for c in self._conns if c.reading_since is not None]
            if not waiting:
                # Every slot is a request being answered: this client comes back later.
                sock.close()
                self._count_drop("over_limit")
                return
            victim = min(waiting, key=lambda c: c.reading_since or 0.0)
            self._drop(victim)
            self._count_drop("evicted")
        conn = _Conn(sock, now)
        self._conns[conn] = None
        if self._metrics is not None:
            self._metrics.connections.set(len(self._conns))
        conn.task = asyncio.create_task(self._serve(conn, sock, _peer(addr)))

    def _drop(self, conn: _Conn) -> None:
        self._conns.pop(conn, None)
        if self._metrics is not None:
            self._metrics.connections.set(len(self._conns))
        if conn.transport is not None:
            conn.transport.abort()
        elif not conn.started:
            conn.sock.close()  # a task cancelled before it ran never reaches its finally
        if conn.task is not None:
            conn.task.cancel()

    def _count_drop(self, reason: str) -> None:
        if self._metrics is not None:
            self._metrics.dropped.labels(reason).inc()

    async def _serve(self, conn: _Conn, sock: socket.socket, peer: str) -> None:
        conn.started = True
        writer: asyncio.StreamWriter | None = None
        try:
            if not await self._readable(sock):
                self._count_drop("idle_timeout")
                return
            reader, writer = await self._open(conn, sock)
            client_cert = _client_common_name(writer)
            h = h11.Connection(h11.SERVER, max_incomplete_event_size=self._limits.max_header_bytes)
            while True:
                conn.reading_since = time.monotonic()
                try:
                    got = await self._read(h, reader, writer)
                except _RefusedError as refused:
                    await self._refuse(reader, writer, refused)
                    return
                if got is None:
                    return
                conn.reading_since = None
                head, body = got
                request = _request(head, body, peer, client_cert)
                response = await self._answer(request)
                if self._metrics is not None:
                    self._metrics.requests.labels(str(response.status)).inc()
                await self._write(h, writer, request.method, response, close=False)
                if h.our_state is h11.DONE and h.their_state is h11.DONE:
                    h.start_next_cycle()
                else:
                    return
        except (OSError, TimeoutError, ssl.SSLError, h11.LocalProtocolError):
            return  # the client went away, stalled past a deadline or broke the protocol
        except asyncio.CancelledError:
            return  # evicted or shutting down
        finally:
            if writer is not None:
                writer.transport.abort()
            else:
                sock.close()
            if self._conns.pop(conn, None) is not None and self._metrics is not None:
                self._metrics.connections.set(len(self._conns))

    async def _readable(self, sock: socket.socket) -> bool:
        """Wait for a new client's first byte, holding nothing but the socket: the stream and
        TLS buffers (asyncio's TLS layer reserves 256 KiB per connection) come after."""
        ready = self._loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        self._loop.add_reader(sock.fileno(), wake)
        try:
            async with asyncio.timeout(self._limits.idle_timeout):
                await ready
            return True
        except TimeoutError:
            return False
        finally:
            self._loop.remove_reader(sock.fileno())

    async def _open(
        self, conn: _Conn, sock: socket.socket
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader = asyncio.StreamReader(limit=_CHUNK, loop=self._loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=self._loop)
        context = self._tls() if self._tls is not None else None
        try:
            transport, _ = await self._loop.connect_accepted_socket(
                lambda: protocol,
                sock,
                ssl=context,
                ssl_handshake_timeout=self._limits.read_timeout if context else None,
            )
        except (OSError, ssl.SSLError, TimeoutError):
            self._count_drop("tls_handshake")
            raise
        conn.transport = transport
        return reader, asyncio.StreamWriter(transport, protocol, reader, self._loop)

    async def _read(
        self, h: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[h11.Request, bytes] | None:
        """The next complete request, None when the client closed or idled out."""
        limits = self._limits
        head: h11.Request | None = None
        body = bytearray()
        deadline: float | None = None
        while True:
            try:
                event = h.next_event()
            except h11.RemoteProtocolError as exc:
                raise _RefusedError(exc.error_status_hint, str(exc)) from None
            if event is h11.NEED_DATA:
                if deadline is None:
                    try:
                        async with asyncio.timeout(limits.idle_timeout):
                            data = await reader.read(_CHUNK)
                    except TimeoutError:
                        self._count_drop("idle_timeout")
                        return None
                    deadline = self._loop.time() + limits.read_timeout
                else:
                    try:
                        async with asyncio.timeout_at(deadline):
                            data = await reader.read(_CHUNK)
                    except TimeoutError:
                        raise _RefusedError(408, "the request took too long to arrive") from None
                h.receive_data(data)
            elif isinstance(event, h11.Request):
                # h11 bounds headers still incomplete; one read can bring a whole large block.
                if _head_size(event) > limits.max_header_bytes:
                    raise _RefusedError(431, "request headers too large")
                head = event
                length = _content_length(event)
                if length is not None and length > limits.max_body_bytes:
                    raise _RefusedError(413, _too_large(limits.max_body_bytes))
                if h.they_are_waiting_for_100_continue:
                    writer.write(h.send(h11.InformationalResponse(status_code=100, headers=[])))
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > limits.max_body_bytes:
                    raise _RefusedError(413, _too_large(limits.max_body_bytes))
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                return head, bytes(body)
            else:  # ConnectionClosed, or PAUSED after a response we could not finish
                return None

    async def _answer(self, request: Request) -> Response:
        try:
            fast = self._app.fast(request)
            if fast is not None:
                return fast
            async with asyncio.timeout(self._limits.handler_timeout):
                return await self._loop.run_in_executor(self._pool, self._app, request)
        except TimeoutError:
            log.warning(
                "http: %s %s took over %.0f s",
                request.method,
                request.path,
                self._limits.handler_timeout,
            )
            return Response(503, b"the endpoint did not answer in time\n")
        except Exception:
            log.exception("http: %s %s failed", request.method, request.path)
            return Response(500, b"internal error (see the daemon's log)\n")

    async def _refuse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, refused: _RefusedError
    ) -> None:
        """Answer outside h11's state machine (the request may be half read), then close the
        way browsers and curl can read: stop sending, discard what still arrives for a moment.
        A plain close with unread input makes the kernel send a reset that can destroy the
        answer before the client reads it."""
        if self._metrics is not None:
            self._metrics.requests.labels(str(refused.status)).inc()
        body = (str(refused) + "\n").encode()
        head = (
            f"HTTP/1.1 {refused.status} {HTTPStatus(refused.status).phrase}\r\n"
            f"Content-Type: {TEXT}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode("ascii") + body)
        async with asyncio.timeout(self._limits.write_timeout):
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_LINGER):
                while await reader.read(_CHUNK):
                    pass

    async def _write(
        self,
        h: h11.Connection,
        writer: asyncio.StreamWriter,
        method: str,
        response: Response,
        *,
        close: bool,
    ) -> None:
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            *response.headers,
        ]
        if close:
            headers.append(("Connection", "close"))
        data = h.send(
            h11.Response(
                status_code=response.status,
                headers=headers,
                reason=HTTPStatus(response.status).phrase.encode(),
            )
        )
        if response.body and method != "HEAD":
            data += h.send(h11.Data(data=response.body))
        data += h.send(h11.EndOfMessage())
        writer.write(data)
        async with asyncio.timeout(self._limits.write_timeout):
            await writer.drain()


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    dual = host == "::" and socket.has_dualstack_ipv6()
    try:
        sock = socket.create_server((host, port), family=family, backlog=128, dualstack_ipv6=dual)
    except OSError as exc:
        # Port in use, address not available, a privileged port: fix the config (exit 2).
        raise ConfigError(f"http: cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.setblocking(False)
    return sock


def _peer(addr: object) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return str(addr)


def _client_common_name(writer: asyncio.StreamWriter) -> str | None:
    tls = writer.get_extra_info("ssl_object")
    cert = tls.getpeercert() if tls is not None else None
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return "(no common name)"


def _content_length(head: h11.Request) -> int | None:
    for name, value in head.headers:
        if name == b"content-length":
            return int(value)
    return None


def _head_size(head: h11.Request) -> int:
    return len(head.target) + sum(len(k) + len(v) + 4 for k, v in head.headers) + 16


def _request(head: h11.Request, body: bytes, peer: str, client_cert: str | None) -> Request:
    target = head.target.decode("ascii", "replace")
    path, _, query = target.partition("?")
    headers: dict[str, str] = {}
    for name, value in head.headers:
        key = name.decode("ascii", "replace")
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return Request(
        head.method.decode("ascii", "replace"), path, query, headers, body, peer, client_cert
    )


def _too_large(limit: int) -> str:
    return f"request body over the limit of {limit} bytes (http.max_body_bytes)"
