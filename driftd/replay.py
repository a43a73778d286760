"""``driftd replay``: run a config's monitors over a file offline, for backtesting thresholds.

The file goes through the real daemon loop (``Daemon`` over an ``IterSource``): the same
decoding, checks, failure policy, windows and verdicts as on Kafka. With ``notifications`` the
alerting section runs too, in event time, and every notification it would send is written as
JSON lines (nothing is delivered); with ``deliver`` they go to the configured receivers.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import msgspec

from driftd.config.models import DriftdConfig
from driftd.daemon import Daemon
from driftd.errors import ConfigError
from driftd.health import Health
from driftd.metrics import build_metrics
from driftd.monitoring.pipeline import MonitoringProcessor, load_profiles
from driftd.monitoring.sinks import AlertingSink, VerdictSink, segment_label, verdict_document
from driftd.records import State, Verdict
from driftd.sources.files import IterSource, read_batches


class ReplayReport:
    """Collects verdicts: prints drift transitions, counts windows in drift, writes JSONL."""

    def __init__(
        self,
        out: IO[str],
        jsonl: IO[bytes] | None = None,
        *,
        keep: bool = False,
        before_line: Callable[[], None] | None = None,
    ) -> None:
        self.out = out
        # Wipes a progress line on the terminal before a transition is printed.
        self._before_line = before_line
        self.jsonl = jsonl
        # With ``keep``, every verdict document and notification is held for a report.
        self.documents: list[dict[str, Any]] | None = [] if keep else None
        self.notes: list[dict[str, Any]] = []
        self.windows: Counter[str] = Counter()
        self._windows_seen: set[tuple[str, str, str, int]] = set()
        self.drift: Counter[tuple[str, str, str, str]] = Counter()
        self.notifications = 0
        self.rejected = 0
        self.accepted = 0
        self._state: dict[tuple[str, str, str, str], State] = {}
        self._encode = msgspec.json.Encoder().encode

    def publish(self, verdicts: list[Verdict]) -> None:
        """Record one window's verdicts."""
        for v in verdicts:
            # A monitor's data windows (its concept verdicts come in windows of their own).
            if v.kind != "concept":
                window = (v.monitor, segment_label(v), v.window_epoch, v.window_index)
                if window not in self._windows_seen:
                    self._windows_seen.add(window)
                    self.windows[v.monitor] += 1
            key = (v.monitor, segment_label(v), v.feature, v.statistic)
            if self.jsonl is not None or self.documents is not None:
                doc = verdict_document(v)
                if self.jsonl is not None:
                    self.jsonl.write(self._encode(doc) + b"\n")
                if self.documents is not None:
                    self.documents.append(doc)
            if v.drifted:
                self.drift[key] += 1
            before = self._state.get(key, State.OK)
            if v.state is not State.INSUFFICIENT and v.state is not before:
                self._state[key] = v.state
                verb = "DRIFT" if v.drifted else "ok   "
                if self._before_line is not None:
                    self._before_line()
                print(
                    f"window {v.window_index:>5} {verb} {v.monitor}/{key[1]} "
                    f"{v.feature + ' ' if v.feature else ''}{v.statistic}={v.value:.4g}"
                    f"{f' (limit {v.limit:.4g})' if math.isfinite(v.limit) else ''} {v.detail}",
                    file=self.out,
                )

    def summary(self) -> str:
        """Windows per monitor and windows in drift per feature and statistic."""
        lines = [f"{m}: {n} window(s)" for m, n in sorted(self.windows.items())]
        for (monitor, seg, feature, stat), n in sorted(self.drift.items()):
            name = f"{feature} {stat}" if feature else stat
            lines.append(f"  {monitor}/{seg} {name}: drift in {n} window(s)")
        if not self.drift:
            lines.append("  no drift")
        if self.notifications:
            lines.append(f"{self.notifications} notification(s)")
        return "\n".join(lines)


def replay(
    config: DriftdConfig,
    path: str | Path,
    stream_name: str | None = None,
    *,
    output: str | Path | None = None,
    batch_size: int = 5000,
    out: IO[str] | None = None,
    notifications: str | Path | None = None,
    deliver: bool = False,
    report: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReplayReport:
    """Feed ``path`` through the monitors of ``config`` as if it came from ``stream_name``;
    with ``report``, write the HTML report of the run there (alerts included when the config
    has an alerting section)."""
    out = out if out is not None else sys.stdout  # at call time: tests and callers swap it
    streams = {s.name: s for s in config.streams}
    if stream_name is None:
        stream_name = config.streams[0].name
    if stream_name not in streams:
        raise ConfigError(f"no stream named {stream_name!r} (streams: {sorted(streams)})")
    stream = streams[stream_name]
    with contextlib.ExitStack() as stack:
        jsonl = stack.enter_context(Path(output).open("wb")) if output else None
        target = stack.enter_context(Path(notifications).open("w")) if notifications else None
        collected = ReplayReport(
            out, jsonl, keep=report is not None, before_line=getattr(progress, "clear", None)
        )
        sinks: list[VerdictSink] = [collected]
        metrics = build_metrics()
        alerting = None
        wants_alerts = notifications is not None or deliver or report is not None
        if wants_alerts and config.alerting is not None:
            alerting, sink = _alerting(
                config, metrics, collected, target, deliver=deliver, stack=stack
            )
            sinks.append(sink)
        profiles = load_profiles(config)
        processor = MonitoringProcessor(config, profiles, sinks)
        source: IterSource | None = None

        def make_source(on_assignment: Any) -> IterSource:
            nonlocal source
            batches = read_batches(path, batch_size)
            if progress is not None:
                batches = _counted(batches, progress)
            source = IterSource.of(batches, stream.topic, on_assignment)
            return source

        on_turn = [sinks[-1].on_turn] if alerting is not None else []  # type: ignore[attr-defined]
        daemon = Daemon(config, make_source, processor, metrics, Health(), on_turn=on_turn)
        assert source is not None
        daemon.run(until=lambda: source.exhausted)  # type: ignore[union-attr]
        processor.flush()
        if alerting is not None:
            sinks[-1].before_commit()  # type: ignore[attr-defined]
            if deliver:
                alerting.close(timeout=30.0)
        reasons: Counter[str] = Counter()
        for m in metrics.records_rejected.collect():
            for sample in m.samples:
                if sample.name.endswith("_total") and sample.value:
                    reasons[sample.labels["reason"]] += int(sample.value)
        collected.rejected = sum(reasons.values())
        collected.accepted = processor.events.get(stream_name, 0)
        if collected.rejected:
            why = ", ".join(f"{reason} {n:,}" for reason, n in reasons.most_common())
            print(f"{collected.rejected:,} record(s) could not be decoded ({why})", file=out)
        if report is not None:
            from driftd.report.write import write_report

            assert collected.documents is not None
            written = write_report(
                report, collected.documents, collected.notes, profiles, source=Path(path).name
            )
            print(f"report written to {written}", file=out)
        return collected


def _counted(batches: Iterator[list[bytes]], progress: Callable[[int], None]) -> Iterator[Any]:
    done = 0
    for batch in batches:
        yield batch
        done += len(batch)
        progress(done)


def _alerting(
    config: DriftdConfig,
    metrics: Any,
    report: ReplayReport,
    target: IO[str] | None,
    *,
    deliver: bool,
    stack: contextlib.ExitStack,
) -> tuple[Any, AlertingSink]:
    from driftd.alerting import build_alerting

    assert config.alerting is not None
    alerting_cfg = config.alerting
    if not deliver:
        # A scratch outbox: a backtest must not touch the daemon's alert state.
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="driftd-replay-"))
        alerting_cfg = alerting_cfg.model_copy(update={"outbox_dir": Path(scratch)})
    alerting = build_alerting(alerting_cfg, metrics.registry)

    def write(notes: list[Any]) -> None:
        report.notifications += len(notes)
        for note in notes:
            text = note.to_json()
            if target is not None:
                target.write(text + "\n")
            if report.documents is not None:
                report.notes.append(json.loads(text))

    if deliver:
        alerting.start()
    # While the file lasts the replay is "catching up"; at its end it is at the head.
    return alerting, AlertingSink(alerting, caught_up=lambda: False, on_notes=write)
