"""The monitoring processor the daemon loop hands decoded batches to."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from driftd.config.models import DriftdConfig, StreamConfig
from driftd.decoding import DecodedBatch
from driftd.errors import ConfigError
from driftd.monitoring.monitor import Monitor
from driftd.monitoring.sinks import VerdictSink
from driftd.records import Verdict
from driftd.reference.io import load_profile
from driftd.reference.profile import Profile

log = logging.getLogger(__name__)


def load_profiles(config: DriftdConfig) -> dict[str, Profile]:
    """Every monitor's reference profile, loaded once per file."""
    by_path: dict[str, Profile] = {}
    out: dict[str, Profile] = {}
    for monitor in config.monitors:
        key = str(monitor.reference)
        if key not in by_path:
            by_path[key] = load_profile(monitor.reference)
        out[monitor.name] = by_path[key]
    return out


class MonitoringProcessor:
    """Routes each stream's batches to the monitors it feeds and fans verdicts out to sinks."""

    def __init__(
        self,
        config: DriftdConfig,
        profiles: dict[str, Profile],
        sinks: list[VerdictSink],
    ) -> None:
        self.sinks = sinks
        streams = {s.name: s for s in config.streams}
        self.monitors = []
        for cfg in config.monitors:
            fed = [streams[name] for name in cfg.streams]
            monitor = Monitor(
                cfg,
                profiles[cfg.name],
                self._publish,
                predictions_mapped=all(s.fields.prediction for s in fed),
            )
            _check_mapped(monitor, fed)
            self.monitors.append(monitor)
        self._by_stream: dict[str, list[Monitor]] = {}
        for monitor in self.monitors:
            for stream in monitor.cfg.streams:
                self._by_stream.setdefault(stream, []).append(monitor)
        self.events: dict[str, int] = {}
        self.verdicts = 0

    def _publish(self, verdicts: list[Verdict]) -> None:
        self.verdicts += len(verdicts)
        for sink in self.sinks:
            sink.publish(verdicts)

    def process(self, stream: StreamConfig, batch: DecodedBatch) -> None:
        """Window a batch in every monitor fed by ``stream``."""
        self.events[stream.name] = self.events.get(stream.name, 0) + len(batch)
        for monitor in self._by_stream.get(stream.name, ()):
            monitor.add(batch)

    def warm_up(self) -> None:
        """Compile the kernels and calibrate the limits before the daemon reports ready."""
        import detectors

        detectors.warmup()
        for monitor in self.monitors:
            monitor.warm_up()

    def flush(self) -> None:
        """Close open tumbling windows (end of a replay, shutdown)."""
        for monitor in self.monitors:
            monitor.flush()

    def snapshot(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Every monitor's state, for a checkpoint."""
        meta: dict[str, Any] = {"events": dict(self.events), "monitors": {}}
        arrays: dict[str, np.ndarray] = {}
        for monitor in self.monitors:
            mmeta, marrays = monitor.snapshot()
            meta["monitors"][monitor.name] = mmeta
            arrays.update({f"{monitor.name}/{k}": v for k, v in marrays.items()})
        return meta, arrays

    def restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Continue from ``snapshot()``; monitors not in the checkpoint start empty."""
        self.events.update(meta.get("events", {}))
        for monitor in self.monitors:
            saved = meta["monitors"].get(monitor.name)
            if saved is None:
                continue
            prefix = f"{monitor.name}/"
            own = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            try:
                monitor.restore(saved, own)
            except (ValueError, KeyError) as exc:
                log.warning(
                    "monitor %s starts afresh: its checkpoint does not fit (%s)", monitor.name, exc
                )

    def status(self) -> dict[str, Any]:
        """Events per stream and the latest verdicts per monitor."""
        return {
            "events": dict(self.events),
            "monitors": {m.name: m.status() for m in self.monitors},
        }


def _check_mapped(monitor: Monitor, streams: list[StreamConfig]) -> None:
    for stream in streams:
        mapped = stream.fields.feature_paths()
        missing = [f.name for f in monitor.features if f.name not in mapped]
        if missing:
            raise ConfigError(
                f"monitor {monitor.name!r} watches {missing}, which stream {stream.name!r} does "
                f"not map in fields.features (mapped: {', '.join(mapped) or 'none'}); map them "
                "or list the monitor's features explicitly"
            )
