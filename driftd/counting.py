"""The processor of a config without monitors: it counts events per stream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from driftd.config.models import StreamConfig
from driftd.decoding import DecodedBatch, Rejected
from driftd.handover import Snapshot
from driftd.sources.base import Partition


class CountingProcessor:
    """Counts events per stream; nothing is windowed, so nothing is handed over."""

    def __init__(self) -> None:
        self.events: dict[str, int] = {}

    def check(self, stream: StreamConfig, batch: DecodedBatch) -> list[Rejected]:
        """Every decoded event can be counted."""
        return []

    def process(
        self, stream: StreamConfig, batch: DecodedBatch, partition: Partition | None = None
    ) -> None:
        """Count the events of a batch per stream."""
        self.events[stream.name] = self.events.get(stream.name, 0) + len(batch)

    def tick(self) -> None:
        """Nothing is time-based when only counting."""

    def save_state(self, directory: Path) -> None:
        """The counts, as JSON."""
        (directory / "events.json").write_text(json.dumps(self.events))

    def restore_state(self, directory: Path) -> None:
        """Continue counting from ``save_state``."""
        path = directory / "events.json"
        if path.exists():
            self.events = {k: int(v) for k, v in json.loads(path.read_text()).items()}

    def status(self) -> dict[str, Any]:
        """Events seen per stream."""
        return {"events": dict(self.events)}

    def owned_by(self, partition: Partition) -> list[Any]:
        """No monitor state: nothing belongs to a partition."""
        return []

    def partition_snapshot(self, partition: Partition, offset: int) -> Snapshot:
        """An empty snapshot."""
        return Snapshot(partition, offset, {})

    def forget_partition(self, partition: Partition) -> list[str]:
        """Nothing to forget."""
        return []

    def feature_kinds(self, stream: str) -> dict[str, str]:
        """Nothing is known of the features: every value is decoded as it is."""
        return {}

    def adopt_partition(self, snapshot: Snapshot) -> list[str]:
        """Nothing to adopt."""
        return []
