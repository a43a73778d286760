"""The Processor contract: everything the daemon loop asks of what it hands events to."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from driftd.config.models import StreamConfig
from driftd.decoding import DecodedBatch, Rejected
from driftd.handover import Snapshot
from driftd.sources.base import Partition


class Processor(Protocol):
    """Windows, detectors and verdicts behind one object (``MonitoringProcessor``), or a
    counter (``CountingProcessor``) when no monitor is configured."""

    def feature_kinds(self, stream: str) -> dict[str, str]:
        """Kinds of the stream's features ("numeric", "categorical") its decoder may read
        typed; empty when nothing is known."""
        ...

    def check(self, stream: StreamConfig, batch: DecodedBatch) -> list[Rejected]:
        """Events the processor cannot take, with reasons; pure."""
        ...

    def process(
        self, stream: StreamConfig, batch: DecodedBatch, partition: Partition | None = None
    ) -> None:
        """Take a batch of checked events."""
        ...

    def tick(self) -> None:
        """Time-based housekeeping, once per loop turn."""
        ...

    def status(self) -> dict[str, Any]:
        """A JSON-ready view for ``/status`` (called on the loop thread)."""
        ...

    def save_state(self, directory: Path) -> None:
        """Write the state a restart continues from into ``directory``."""
        ...

    def restore_state(self, directory: Path) -> None:
        """Continue from ``save_state``."""
        ...

    def owned_by(self, partition: Partition) -> list[Any]:
        """Monitors whose state is the partition's alone (handed over with it)."""
        ...

    def partition_snapshot(self, partition: Partition, offset: int) -> Snapshot:
        """The state ``partition`` alone feeds, covering records before ``offset``."""
        ...

    def forget_partition(self, partition: Partition) -> list[str]:
        """Reset what ``partition`` alone fed; returns the monitors reset."""
        ...

    def adopt_partition(self, snapshot: Snapshot) -> list[str]:
        """Restore a handed-over snapshot; returns the monitors restored."""
        ...
