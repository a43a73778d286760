"""Records driftd produces (dead letters, drift events, handovers), acknowledged before a commit.

kafka-python's ``flush()`` returns once nothing is in flight, *also* when records failed, and
waits without a deadline. ``AckedProducer`` keeps every record until the broker acknowledged
it: ``flush(timeout)`` waits at most ``timeout`` seconds, re-sends what failed, and raises
``ProduceError`` unless every record sent since the last successful flush is acknowledged, so
the daemon never commits offsets past a record whose side effects were lost.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kafka.errors import KafkaError

from driftd.errors import DriftdError
from driftd.rdproducer import SendRefusedError

log = logging.getLogger(__name__)

Headers = Sequence[tuple[str, bytes]]
# What a client raises for a record it cannot take (kafka-python's, or driftd.rdproducer's).
_SEND_ERRORS = (KafkaError, SendRefusedError)


class ProduceError(DriftdError):
    """Records were not acknowledged in time; they are kept and sent again."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record to produce."""

    topic: str
    value: bytes | None
    key: bytes | None = None
    headers: Headers = ()


class AckedProducer:
    """A KafkaProducer whose sends are tracked until acknowledged (one per daemon).

    ``producer`` is a KafkaProducer or a function that makes one. With a function, a client
    that stays stuck (``REBUILD_AFTER`` failed flushes in a row: kafka-python's producer was
    seen never to deliver again after its broker came back from a two-minute outage) is closed
    and replaced by a new one, and every unacknowledged record is sent through it.
    """

    REBUILD_AFTER = 3

    def __init__(self, producer: Any) -> None:
        self._factory: Callable[[], Any] | None = producer if callable(producer) else None
        # Made on first use, not here: with the broker away at start-up the daemon must still
        # come up (HTTP, /healthz) and keep trying; a send until then fails and is sent again.
        self._producer: Any = None if callable(producer) else producer
        self._unavailable: Exception | None = None
        self._inflight: list[tuple[Outgoing, Any]] = []
        self.failures = 0
        self._failed_flushes = 0
        self.rebuilds = 0

    @property
    def pending(self) -> int:
        """Records sent and not yet acknowledged."""
        return len(self._inflight)

    def send(self, record: Outgoing) -> None:
        """Queue one record; never raises for a record the broker refuses (see ``flush``)."""
        self._inflight.append((record, self._send(record)))

    def _client(self) -> Any:
        if self._producer is None:
            assert self._factory is not None
            # One attempt per flush cycle: each waits up to the bootstrap timeout.
            if self._unavailable is not None:
                raise self._unavailable
            try:
                self._producer = self._factory()
            except _SEND_ERRORS as exc:
                self._unavailable = exc
                raise
        return self._producer

    def _send(self, record: Outgoing) -> Any:
        try:
            return self._client().send(
                record.topic,
                value=record.value,
                key=record.key,
                headers=list(record.headers) or None,
            )
        except _SEND_ERRORS as exc:
            # Raised synchronously (metadata not available in max_block_ms, buffer full):
            # the record stays queued for the next flush.
            return _Failed(exc)

    def flush(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for every record; raise ``ProduceError`` if any is missing.

        Failed records are sent again right away, so the next ``flush`` may succeed.
        """
        deadline = time.monotonic() + timeout
        self._unavailable = None
        # KafkaTimeoutError when time is up: what is missing is counted below, record by record.
        if self._producer is not None:
            with contextlib.suppress(*_SEND_ERRORS):
                self._producer.flush(timeout=max(0.0, timeout))
        kept: list[tuple[Outgoing, Any]] = []
        failed: list[str] = []
        for record, future in self._inflight:
            if not future.is_done:
                kept.append((record, future))
            elif future.failed():
                failed.append(f"{record.topic}: {future.exception!r}")
                kept.append((record, self._send(record)))
        self._inflight = kept
        self._failed_flushes = self._failed_flushes + 1 if kept else 0
        if (
            kept
            and self._factory is not None
            and self._producer is not None
            and self._failed_flushes >= self.REBUILD_AFTER
        ):
            self._rebuild()
        if kept:
            self.failures += len(failed)
            late = len(kept) - len(failed)
            detail = f"; first failure {failed[0]}" if failed else ""
            waited = timeout - max(0.0, deadline - time.monotonic())
            raise ProduceError(
                f"{len(failed)} record(s) failed and {late} not acknowledged within "
                f"{waited:.1f}s{detail}; they are sent again, offsets stay uncommitted"
            )

    def _rebuild(self) -> None:
        assert self._factory is not None
        log.warning(
            "the Kafka producer delivered nothing in %d tries: replacing it, %d record(s) "
            "to send again",
            self._failed_flushes,
            len(self._inflight),
        )
        old, self._producer = self._producer, None
        if old is not None:
            with contextlib.suppress(Exception):  # a stuck client may fail to close: it is gone
                old.close(timeout=0)
        self._inflight = [(record, self._send(record)) for record, _ in self._inflight]
        self._failed_flushes = 0
        self.rebuilds += 1

    def close(self, timeout: float = 5.0) -> None:
        """Close the client (what is unacknowledged is replayed from Kafka on restart)."""
        if self._producer is not None:
            with contextlib.suppress(*_SEND_ERRORS):
                self._producer.close(timeout=timeout)


class _Failed:
    """The future of a send that raised before it was queued."""

    is_done = True

    def __init__(self, exc: Exception) -> None:
        self.exception = exc

    def failed(self) -> bool:
        return True
