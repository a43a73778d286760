"""The dead-letter topic: rejected records, with why they were rejected in their headers."""

from __future__ import annotations

from typing import Any, Protocol

from driftd.errors import DecodeError
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
    def flush(self) -> None: ...


class KafkaDeadLetters:
    """Produces rejected records to a topic with ``driftd.*`` error headers."""

    def __init__(self, producer: Any, topic: str) -> None:
        self._producer = producer
        self._topic = topic

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
        self._producer.send(self._topic, value=value, key=key, headers=headers)

    def flush(self) -> None:
        """Block until the broker has acknowledged every queued record."""
        self._producer.flush()
