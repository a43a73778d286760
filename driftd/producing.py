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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafka.errors import KafkaError

from driftd.errors import DriftdError

log = logging.getLogger(__name__)

Headers = Sequence[tuple[str, bytes]]


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
    """A KafkaProducer whose sends are tracked until acknowledged (one per daemon)."""

    def __init__(self, producer: Any) -> None:
        self._producer = producer
        self._inflight: list[tuple[Outgoing, Any]] = []
        self.failures = 0

    @property
    def pending(self) -> int:
        """Records sent and not yet acknowledged."""
        return len(self._inflight)

    def send(self, record: Outgoing) -> None:
        """Queue one record; never raises for a record the broker refuses (see ``flush``)."""
        self._inflight.append((record, self._send(record)))

    def _send(self, record: Outgoing) -> Any:
        try:
            return self._producer.send(
                record.topic,
                value=record.value,
                key=record.key,
                headers=list(record.headers) or None,
            )
        except KafkaError as exc:
            # Raised synchronously (metadata not available in max_block_ms, buffer full):
            # the record stays queued for the next flush.
            return _Failed(exc)

    def flush(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for every record; raise ``ProduceError`` if any is missing.

        Failed records are sent again right away, so the next ``flush`` may succeed.
        """
        deadline = time.monotonic() + timeout
        # KafkaTimeoutError when time is up: what is missing is counted below, record by record.
        with contextlib.suppress(KafkaError):
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
        if kept:
            self.failures += len(failed)
            late = len(kept) - len(failed)
            detail = f"; first failure {failed[0]}" if failed else ""
            waited = timeout - max(0.0, deadline - time.monotonic())
            raise ProduceError(
                f"{len(failed)} record(s) failed and {late} not acknowledged within "
                f"{waited:.1f}s{detail}; they are sent again, offsets stay uncommitted"
            )


class _Failed:
    """The future of a send that raised before it was queued."""

    is_done = True

    def __init__(self, exc: Exception) -> None:
        self.exception = exc

    def failed(self) -> bool:
        return True
