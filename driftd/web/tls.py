"""The HTTP endpoint's TLS context, rebuilt when its certificate files change on disk.

cert-manager and Vault rotate certificates by rewriting the files; Prometheus re-reads them
without a restart, and so does driftd: every new connection asks for the context, which is
rebuilt (at most once per ``check_every`` seconds, when a file's mtime or size changed).
A rewrite that fails to load is logged and the previous context stays in use.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable

from driftd.config.models import HttpTls
from driftd.errors import ConfigError

log = logging.getLogger(__name__)


def build_context(files: HttpTls) -> ssl.SSLContext:
    """A server context from ``files``; raises ConfigError naming the file that fails."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = (
        ssl.TLSVersion.TLSv1_3 if files.min_version == "TLS13" else ssl.TLSVersion.TLSv1_2
    )
    try:
        context.load_cert_chain(files.cert_file, files.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"http.tls: cannot load cert_file {str(files.cert_file)!r} with key_file "
            f"{str(files.key_file)!r}: {_reason(exc)}"
        ) from None
    if files.client_ca_file is not None:
        try:
            context.load_verify_locations(cafile=files.client_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"http.tls: cannot load client_ca_file {str(files.client_ca_file)!r}: "
                f"{_reason(exc)}"
            ) from None
        context.verify_mode = (
            ssl.CERT_REQUIRED
            if files.client_auth_type == "RequireAndVerifyClientCert"
            else ssl.CERT_OPTIONAL
        )
    return context


class ReloadingContext:
    """Callable returning the current context; the first build happens here (fail fast)."""

    def __init__(
        self,
        files: HttpTls,
        *,
        check_every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._files = files
        self._check_every = check_every
        self._clock = clock
        self._lock = threading.Lock()
        self._stamp = self._stat()
        self._context = build_context(files)
        self._checked = clock()

    def __call__(self) -> ssl.SSLContext:
        now = self._clock()
        if now - self._checked < self._check_every:
            return self._context
        with self._lock:
            self._checked = now
            stamp = self._stat()
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._context = build_context(self._files)
                    log.info("http.tls: certificate files changed; reloaded")
                except ConfigError as exc:
                    log.error("%s; keeping the previous certificate", exc)
        return self._context

    def _stat(self) -> tuple[tuple[float, int], ...]:
        files = self._files
        stamps = []
        for path in (files.cert_file, files.key_file, files.client_ca_file):
            if path is None:
                continue
            try:
                st = path.stat()
                stamps.append((st.st_mtime, st.st_size))
            except OSError:
                stamps.append((0.0, -1))
        return tuple(stamps)


def _reason(exc: OSError | ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    return exc.strerror or str(exc)
