"""The dead-letter topic: rejected records, with why they were rejected in their headers."""

from __future__ import annotations

import hashlib
from typing import Protocol

from driftd.errors import DecodeError
from driftd.producing import AckedProducer, Outgoing
from driftd.sources.base import Partition


class DeadLetters(Protocol):
    """Where rejected records go; ``flush`` returns once every one sent is acknowledged."""

    def send(
        self,
        partition: Partition,
        offset: int,
        value: bytes | None,
        error: DecodeError,
        key: bytes | None = None,
    ) -> None: ...
    def flush(self, timeout: float) -> None: ...


class KafkaDeadLetters:
    """Produces rejected records to a topic with ``driftd.*`` error headers.

    A record too large for the topic (its copy plus headers over ``max_bytes``) is cut to
    ``max_bytes``, and its headers carry ``driftd.truncated``, the original size and its
    SHA-256, so it can still be found in the source topic by its coordinates.
    """

    def __init__(self, producer: AckedProducer, topic: str, max_bytes: int = 900_000) -> None:
        self._producer = producer
        self._topic = topic
        self._max_bytes = max_bytes

    def send(
        self,
        partition: Partition,
        offset: int,
        value: bytes | None,
        error: DecodeError,
        key: bytes | None = None,
    ) -> None:
        """Queue one record with its original key; headers name its origin and the reason."""
        if value is None and key is None:
            # kafka-python refuses a record with neither key nor value (ValueError, which
            # crashed the loop on a keyless tombstone); the reason header says "empty".
            value = b""
        headers = [
            ("driftd.original.topic", partition.topic.encode()),
            ("driftd.original.partition", str(partition.partition).encode()),
            ("driftd.original.offset", str(offset).encode()),
            ("driftd.error.reason", error.reason.encode()),
            ("driftd.error.message", error.detail[:1000].encode("utf-8", "replace")),
        ]
        room = self._max_bytes - len(key or b"") - sum(len(k) + len(v) for k, v in headers) - 256
        if value is not None and len(value) > room:
            headers += [
                ("driftd.truncated", b"true"),
                ("driftd.original.size", str(len(value)).encode()),
                ("driftd.original.sha256", hashlib.sha256(value).hexdigest().encode()),
            ]
            value = value[: max(0, room)]
        self._producer.send(Outgoing(self._topic, value, key, headers))

    def flush(self, timeout: float) -> None:
        """Wait until the broker acknowledged every queued record (``ProduceError`` if not)."""
        self._producer.flush(timeout)
