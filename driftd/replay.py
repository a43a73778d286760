"""``driftd replay``: run a config's monitors over a file offline, for backtesting thresholds."""

from __future__ import annotations

import contextlib
import sys
from collections import Counter
from pathlib import Path
from typing import IO

import msgspec

from driftd.config.models import DriftdConfig
from driftd.decoding import StreamDecoder
from driftd.errors import ConfigError
from driftd.monitoring.pipeline import MonitoringProcessor, load_profiles
from driftd.monitoring.sinks import segment_label, verdict_document
from driftd.records import State, Verdict
from driftd.sources.files import read_batches


class ReplayReport:
    """Collects verdicts: prints drift transitions, counts windows in drift, writes JSONL."""

    def __init__(self, out: IO[str], jsonl: IO[bytes] | None = None) -> None:
        self.out = out
        self.jsonl = jsonl
        self.windows: Counter[str] = Counter()
        self.drift: Counter[tuple[str, str, str, str]] = Counter()
        self._state: dict[tuple[str, str, str, str], State] = {}
        self._encode = msgspec.json.Encoder().encode

    def publish(self, verdicts: list[Verdict]) -> None:
        """Record one window's verdicts."""
        if verdicts:
            self.windows[verdicts[0].monitor] += 1
        for v in verdicts:
            key = (v.monitor, segment_label(v), v.feature, v.statistic)
            if self.jsonl is not None:
                self.jsonl.write(self._encode(verdict_document(v)) + b"\n")
            if v.drifted:
                self.drift[key] += 1
            before = self._state.get(key, State.OK)
            if v.state is not State.INSUFFICIENT and v.state is not before:
                self._state[key] = v.state
                verb = "DRIFT" if v.drifted else "ok   "
                print(
                    f"window {v.window_index:>5} {verb} {v.monitor}/{key[1]} {v.feature} "
                    f"{v.statistic}={v.value:.4g} (limit {v.limit:.4g}) {v.detail}",
                    file=self.out,
                )

    def summary(self) -> str:
        """Windows per monitor and windows in drift per feature and statistic."""
        lines = [f"{m}: {n} window(s)" for m, n in sorted(self.windows.items())]
        for (monitor, seg, feature, stat), n in sorted(self.drift.items()):
            lines.append(f"  {monitor}/{seg} {feature} {stat}: drift in {n} window(s)")
        if not self.drift:
            lines.append("  no drift")
        return "\n".join(lines)


def replay(
    config: DriftdConfig,
    path: str | Path,
    stream_name: str | None = None,
    *,
    output: str | Path | None = None,
    batch_size: int = 5000,
    out: IO[str] = sys.stdout,
) -> ReplayReport:
    """Feed ``path`` through the monitors of ``config`` as if it came from ``stream_name``."""
    streams = {s.name: s for s in config.streams}
    if stream_name is None:
        stream_name = config.streams[0].name
    if stream_name not in streams:
        raise ConfigError(f"no stream named {stream_name!r} (streams: {sorted(streams)})")
    stream = streams[stream_name]
    with contextlib.ExitStack() as stack:
        jsonl = stack.enter_context(Path(output).open("wb")) if output else None
        report = ReplayReport(out, jsonl)
        processor = MonitoringProcessor(config, load_profiles(config), [report])
        decoder = StreamDecoder(stream)
        rejected = 0
        for values in read_batches(path, batch_size):
            batch = decoder.decode(values)
            rejected += len(batch.rejected)
            processor.process(stream, batch)
        processor.flush()
        if rejected:
            print(f"{rejected} record(s) could not be decoded", file=out)
        return report
