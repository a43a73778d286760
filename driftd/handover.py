"""Handing monitor state over between replicas on a rebalance, through a compacted topic.

With several replicas in one consumer group, a partition can move to another replica. When a
stream is keyed by model, a monitor is fed by one partition only, and its open windows and
threshold state belong to that partition. At every checkpoint the owner publishes those
monitors' state, with the offset it covers, to ``state.handover_topic`` (keyed by partition;
make it compacted). A replica that is assigned the partition restores the newest state before
it processes the partition's first records, and skips records the state already covers; the
replica that lost it forgets the monitors. Every event is then counted once, whichever replica
owns the partition. Monitors fed by several partitions are not handed over: their state stays
with the replica that built it.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from driftd.sources.base import Partition

if TYPE_CHECKING:  # the Kafka client loads when a handover is made, not with Snapshot
    from driftd.producing import AckedProducer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """The state of the monitors one partition feeds, as of ``offset`` (next to read)."""

    partition: Partition
    offset: int
    monitors: dict[str, tuple[dict[str, Any], dict[str, np.ndarray]]]


def _key(partition: Partition) -> bytes:
    return f"{partition.topic}:{partition.partition}".encode()


def encode(snapshot: Snapshot) -> bytes:
    """One npz: JSON metadata (offset, each monitor's meta) plus every monitor's arrays."""
    meta = {"offset": snapshot.offset, "monitors": {}}
    arrays: dict[str, np.ndarray] = {}
    for name, (mmeta, marrays) in snapshot.monitors.items():
        meta["monitors"][name] = mmeta
        arrays.update({f"{name}/{k}": v for k, v in marrays.items()})
    arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def decode(partition: Partition, value: bytes) -> Snapshot:
    """The inverse of ``encode`` (no pickle)."""
    with np.load(io.BytesIO(value), allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(arrays.pop("meta.json").tobytes())
    monitors: dict[str, tuple[dict[str, Any], dict[str, np.ndarray]]] = {}
    for name, mmeta in meta["monitors"].items():
        prefix = f"{name}/"
        own = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        monitors[name] = (mmeta, own)
    return Snapshot(partition, int(meta["offset"]), monitors)


class Handover:
    """Publishes and reads partition snapshots on the handover topic."""

    def __init__(
        self, producer: AckedProducer, consumer_factory: Callable[..., Any], topic: str
    ) -> None:
        self._producer = producer
        self._consumer_factory = consumer_factory
        self.topic = topic

    def publish(self, snapshot: Snapshot) -> None:
        """Queue a snapshot (flushed before the offsets it covers are committed)."""
        from driftd.producing import Outgoing

        self._producer.send(Outgoing(self.topic, encode(snapshot), _key(snapshot.partition)))

    def flush(self, timeout: float) -> None:
        """Wait until the broker has every queued snapshot (``ProduceError`` otherwise)."""
        self._producer.flush(timeout)

    def fetch(self, partitions: set[Partition]) -> dict[Partition, Snapshot]:
        """The newest snapshot of each of ``partitions`` (read from the start of the topic)."""
        from kafka import TopicPartition

        wanted = {_key(p): p for p in partitions}
        consumer = self._consumer_factory(
            group_id=None,
            enable_auto_commit=False,
            client_id=f"driftd-handover-{uuid.uuid4().hex[:6]}",
        )
        try:
            parts = consumer.partitions_for_topic(self.topic) or set()
            tps = [TopicPartition(self.topic, p) for p in parts]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            end = consumer.end_offsets(tps)
            newest: dict[bytes, bytes] = {}
            while any(consumer.position(tp) < end[tp] for tp in tps):
                for records in consumer.poll(timeout_ms=500).values():
                    for record in records:
                        if record.key in wanted and record.value is not None:
                            newest[record.key] = record.value
        finally:
            consumer.close()
        return {wanted[k]: decode(wanted[k], v) for k, v in newest.items()}
