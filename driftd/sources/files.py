"""Events from files, for ``driftd replay``: JSON lines, or Parquet rows turned into JSON, and
``IterSource``, the Source that feeds such batches through the real daemon loop."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from driftd.errors import DriftdError
from driftd.sources.base import AssignmentListener, Batch, Partition, Record


def read_batches(path: str | Path, batch_size: int = 5000) -> Iterator[list[bytes]]:
    """Record values from ``path`` in batches; ``.parquet`` rows become JSON objects.

    A Parquet column named ``features.amount`` becomes the nested key, so the same field
    mapping works for the Kafka stream and its Parquet export.
    """
    path = Path(path)
    if not path.exists():
        raise DriftdError(f"{path} does not exist")
    if path.suffix.lower() in {".parquet", ".pq"}:
        yield from _parquet(path, batch_size)
        return
    with path.open("rb") as f:
        batch: list[bytes] = []
        for raw in f:
            line = raw.strip()
            if not line:
                continue
            batch.append(line)
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch


def _parquet(path: Path, batch_size: int) -> Iterator[list[bytes]]:
    import pyarrow.parquet as pq

    encode = msgspec.json.Encoder().encode
    for record_batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
        rows = record_batch.to_pylist()
        yield [encode(_nest(row)) for row in rows]


def _nest(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


class IterSource:
    """A Source over batches of record values (a file, a generator, a test's list).

    ``batches`` yields ``(topic, values)``: each topic is one partition, ``<topic>[0]``, its
    records numbered from offset 0. Commits are kept in ``committed`` (a dict the caller may
    share between sources, as a broker would), and a new source resumes after the committed
    offsets. ``exhausted`` turns true once every batch was polled; it is then also
    ``caught_up``. ``IterSource.of(batches, topic, ...)`` reads one topic's value batches.
    """

    def __init__(
        self,
        batches: Iterable[tuple[str, Sequence[bytes | None]]],
        topics: Sequence[str],
        on_assignment: AssignmentListener,
        committed: dict[Partition, int] | None = None,
        timestamp_ms: int = 0,
    ) -> None:
        self.partitions = [Partition(t, 0) for t in topics]
        self.committed = committed if committed is not None else {}
        self._records = _numbered(batches, timestamp_ms)
        self._position = {p: self.committed.get(p, 0) for p in self.partitions}
        self.exhausted = False
        self._on_assignment = on_assignment
        self._assigned = False

    @classmethod
    def of(
        cls,
        batches: Iterable[Sequence[bytes | None]],
        topic: str,
        on_assignment: AssignmentListener,
        committed: dict[Partition, int] | None = None,
    ) -> IterSource:
        """A source of one topic's batches."""
        return cls(((topic, b) for b in batches), [topic], on_assignment, committed)

    def poll(self, timeout_s: float) -> Batch:
        """The next batch at or after the position; empty once exhausted."""
        if not self._assigned:
            self._assigned = True
            self._on_assignment(set(self.partitions), set())
        while True:
            item = next(self._records, None)
            if item is None:
                self.exhausted = True
                return {}
            partition, batch = item
            start = self._position[partition]
            kept = [r for r in batch if r.offset >= start]
            if kept:
                self._position[partition] = kept[-1].offset + 1
                return {partition: kept}

    def commit(self, offsets: dict[Partition, int]) -> None:
        """Remember the next offsets to read."""
        self.committed.update(offsets)

    def seek(self, partition: Partition, offset: int) -> None:
        """Read from ``offset`` next (a restored checkpoint is ahead of the commit)."""
        self._position[partition] = offset

    def caught_up(self) -> bool:
        """True once every record was read."""
        return self.exhausted

    def pause(self, paused: bool) -> None:
        """Nothing is fetched ahead, so there is nothing to pause."""

    def lag(self) -> dict[Partition, int]:
        """Unknown until the end (a generator has no length)."""
        return {}

    def connected(self) -> bool:
        """A file is always there."""
        return True

    def close(self) -> None:
        """Nothing to release."""


def _numbered(
    batches: Iterable[tuple[str, Sequence[bytes | None]]], timestamp_ms: int
) -> Iterator[tuple[Partition, list[Record]]]:
    offsets: dict[str, int] = {}
    for topic, values in batches:
        offset = offsets.get(topic, 0)
        batch = [Record(offset + i, v, timestamp_ms) for i, v in enumerate(values)]
        offsets[topic] = offset + len(batch)
        if batch:
            yield Partition(topic, 0), batch
