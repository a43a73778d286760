"""The Source contract the daemon loop consumes from."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


class RecordLike(Protocol):
    """What the loop reads from a record (kafka-python's ConsumerRecord satisfies it)."""

    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True, order=True)
class Partition:
    """A topic partition, the unit of ordering and of offset commits."""

    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class Record:
    """A record from a non-Kafka source (replay, demo, tests)."""

    offset: int
    value: bytes | None
    timestamp: int = 0
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


Batch = dict[Partition, Sequence[RecordLike]]


def values_of(records: Sequence[RecordLike]) -> list[bytes | None]:
    """The values of ``records``: in one pass over the client's own messages when the
    sequence offers it (``record_values``), without a record object each."""
    read = getattr(records, "record_values", None)
    if read is not None:
        return read()  # type: ignore[no-any-return]
    return [r.value for r in records]


AssignmentListener = Callable[[set[Partition], set[Partition]], None]


class Source(Protocol):
    """Polls batches of records and commits the next offsets to read."""

    def poll(self, timeout_s: float) -> Batch: ...
    def commit(self, offsets: dict[Partition, int]) -> None: ...
    def caught_up(self) -> bool: ...
    def pause(self, paused: bool) -> None: ...
    def seek(self, partition: Partition, offset: int) -> None: ...
    def lag(self) -> dict[Partition, int]: ...
    def connected(self) -> bool: ...
    def close(self) -> None: ...
