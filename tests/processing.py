"""Running a config's monitors over encoded records in process (no Kafka), for unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from driftd.decoding import StreamDecoder
from driftd.monitoring.pipeline import MonitoringProcessor, load_profiles
from driftd.records import Verdict


class Collect:
    """A verdict sink that keeps every verdict."""

    def __init__(self) -> None:
        self.verdicts: list[Verdict] = []

    def publish(self, verdicts: list[Verdict]) -> None:
        self.verdicts.extend(verdicts)


def run_stream(config: Any, values: Sequence[bytes], batch: int) -> list[Verdict]:
    """The verdicts of ``config``'s monitors over ``values`` of its first stream, decoded and
    processed ``batch`` records at a time, open windows flushed at the end."""
    collect = Collect()
    processor = MonitoringProcessor(config, load_profiles(config), [collect])
    stream = config.streams[0]
    # Typed by the monitors' feature kinds, as the daemon decodes.
    decoder = StreamDecoder(stream, kinds=processor.feature_kinds(stream.name))
    for lo in range(0, len(values), batch):
        processor.process(stream, decoder.decode(values[lo : lo + batch]))
    processor.flush()
    return collect.verdicts
