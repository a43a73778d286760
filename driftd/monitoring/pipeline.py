"""The monitoring processor the daemon loop hands decoded batches to."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from driftd.config.models import DriftdConfig, StreamConfig
from driftd.decoding import DecodedBatch, Rejected
from driftd.errors import ConfigError, DecodeError, ProfileError
from driftd.handover import Snapshot
from driftd.monitoring.admission import id_problem, scalar_problem
from driftd.monitoring.comparison import ComparisonMonitor
from driftd.monitoring.joining import RequestResponseJoin
from driftd.monitoring.monitor import Monitor
from driftd.monitoring.nulls import DirectoryTailCache, user_cache_dir
from driftd.monitoring.sinks import VerdictSink
from driftd.records import Verdict
from driftd.reference.io import load_profile
from driftd.reference.profile import Profile
from driftd.sources.base import Partition

if TYPE_CHECKING:  # river and scipy.stats load only for a monitor with a concept section
    from driftd.concept import ConceptMetrics, ConceptMonitor

log = logging.getLogger(__name__)

# Checkpoint arrays of the joins (monitor names cannot hold ":").
JOIN_PREFIX = "join:"
COMPARISON_PREFIX = "comparison:"
_NO_TIME = DecodeError(
    "missing_timestamp", "a monitor with tumbling windows needs the event time (fields.timestamp)"
)


def load_profiles(config: DriftdConfig) -> dict[str, Profile]:
    """Every monitor's reference profile, loaded once per file."""
    by_path: dict[str, Profile] = {}
    out: dict[str, Profile] = {}
    for i, monitor in enumerate(config.monitors):
        key = str(monitor.reference)
        if key not in by_path:
            try:
                by_path[key] = load_profile(monitor.reference)
            except ProfileError as exc:
                # Name the key that points at the file, as config errors do.
                raise ProfileError(f"monitors[{i}].reference ({monitor.name}): {exc}") from None
        out[monitor.name] = by_path[key]
    return out


def _file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


class MonitoringProcessor:
    """Routes each stream's batches to the monitors it feeds and fans verdicts out to sinks."""

    def __init__(
        self,
        config: DriftdConfig,
        profiles: dict[str, Profile],
        sinks: list[VerdictSink],
        concept_metrics: ConceptMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sinks = sinks
        # Each monitor's reference, as loaded (the live page draws its bins).
        self.profiles = profiles
        self.sink_errors: dict[str, int] = {}
        streams = config.all_streams()
        self._streams = streams
        # Request/response joins: each side stream's batches go through its joins, whose
        # merged events are processed as the join's own stream.
        self.joins = {
            j.name: RequestResponseJoin(
                j,
                list(streams[j.name].fields.feature_paths()),
                list(streams[j.name].fields.segments),
                clock=clock,
            )
            for j in config.joins
        }
        self.comparisons = {c.name: ComparisonMonitor(c, clock=clock) for c in config.comparisons}
        self._joins_of: dict[str, list[str]] = {}
        for j in config.joins:
            for side in j.streams:
                self._joins_of.setdefault(side, []).append(j.name)
        self._digests = {str(m.reference): _file_digest(m.reference) for m in config.monitors}
        self.monitors = []
        self.concepts: dict[str, ConceptMonitor] = {}
        # Simulated null tails persist with the state, so only the first start-up pays; without
        # a state dir in the user's cache directory (the demo, replay, check-config).
        cache = DirectoryTailCache(
            config.state.dir / "calibration" if config.state.dir else user_cache_dir()
        )
        for cfg in config.monitors:
            # A stream without features (labels only) feeds concept drift, not data drift.
            fed = [streams[n] for n in cfg.streams if streams[n].fields.feature_paths()]
            monitor = Monitor(
                cfg,
                profiles[cfg.name],
                self._publish,
                predictions_mapped=bool(fed) and all(s.fields.prediction for s in fed),
                cache=cache,
            )
            _check_mapped(monitor, fed)
            monitor.drift_streams = {s.name for s in fed}
            monitor.paths = _paths(monitor, fed)
            self.monitors.append(monitor)
            if cfg.concept is not None:
                from driftd.concept import ConceptMonitor

                self.concepts[cfg.name] = ConceptMonitor(
                    cfg.name,
                    cfg.concept,
                    reference=profiles[cfg.name].performance,
                    metrics=concept_metrics,
                )
        self._by_stream: dict[str, list[Monitor]] = {}
        for monitor in self.monitors:
            for stream in monitor.cfg.streams:
                self._by_stream.setdefault(stream, []).append(monitor)
        self.events: dict[str, int] = {}
        self.verdicts = 0
        self._held: list[list[Verdict]] | None = None
        # Which partitions fed each monitor's windows: a monitor fed by one partition only is
        # handed over with it on a rebalance (see driftd.handover).
        self.fed: dict[str, set[Partition]] = {}

    def _publish(self, verdicts: list[Verdict]) -> None:
        if self._held is not None:
            self._held.append(verdicts)
            return
        self._deliver(verdicts)

    def _deliver(self, verdicts: list[Verdict]) -> None:
        self.verdicts += len(verdicts)
        for sink in self.sinks:
            try:
                sink.publish(verdicts)
            except Exception:  # one sink's bug must not stop the monitors or the other sinks
                name = type(sink).__name__
                self.sink_errors[name] = self.sink_errors.get(name, 0) + 1
                if self.sink_errors[name] in (1, 10, 100) or self.sink_errors[name] % 1000 == 0:
                    log.exception(
                        "verdict sink %s failed (%d time(s))", name, self.sink_errors[name]
                    )

    def carry_over(self, old: MonitoringProcessor) -> list[str]:
        """Keep the live state of ``old``'s monitors whose definition did not change.

        Used on SIGHUP: a monitor with the same config, the same streams and the same profile
        bytes keeps its open windows, thresholds, label join and river detectors; any other
        starts fresh. Returns the names of the monitors kept.
        """
        kept = []
        before = {m.name: m for m in old.monitors}
        for i, monitor in enumerate(self.monitors):
            prior = before.get(monitor.name)
            if (
                prior is None
                or prior.cfg != monitor.cfg
                or old._digests.get(str(prior.cfg.reference))
                != self._digests.get(str(monitor.cfg.reference))
                or [old._streams[s] for s in prior.cfg.streams]
                != [self._streams[s] for s in monitor.cfg.streams]
            ):
                continue
            prior._emit = self._publish
            self.monitors[i] = prior
            if monitor.name in old.concepts:
                self.concepts[monitor.name] = old.concepts[monitor.name]
            if monitor.name in old.fed:
                self.fed[monitor.name] = old.fed[monitor.name]
            kept.append(monitor.name)
        self._by_stream = {}
        for monitor in self.monitors:
            for stream in monitor.cfg.streams:
                self._by_stream.setdefault(stream, []).append(monitor)
        for name, join in self.joins.items():
            prior_join = old.joins.get(name)
            if (
                prior_join is not None
                and prior_join.cfg == join.cfg
                and [old._streams.get(s) for s in join.cfg.streams]
                == [self._streams[s] for s in join.cfg.streams]
            ):
                self.joins[name] = prior_join  # its waiting halves carry over
        for name, comparison in self.comparisons.items():
            prior_comparison = old.comparisons.get(name)
            if prior_comparison is not None and prior_comparison.cfg == comparison.cfg:
                self.comparisons[name] = prior_comparison
        self.events = dict(old.events)
        return kept

    def feature_kinds(self, stream: str) -> dict[str, str]:
        """The kind ("numeric" or "categorical") of each feature of ``stream`` that the
        monitors reading it (directly or through a join) agree on, for the stream's decoder."""
        seen: dict[str, set[str]] = {}
        for name in [stream, *self._joins_of.get(stream, [])]:
            for monitor in self._by_stream.get(name, []):
                for feature in monitor.spec.features:
                    seen.setdefault(feature.name, set()).add(feature.type)
        return {name: next(iter(k)) for name, k in seen.items() if len(k) == 1}

    def process(
        self, stream: StreamConfig, batch: DecodedBatch, partition: Partition | None = None
    ) -> None:
        """Window a batch in every monitor fed by ``stream`` (read from ``partition``)."""
        self.events[stream.name] = self.events.get(stream.name, 0) + len(batch)
        # Windows closed by this batch, of every monitor and kind, are held and then handed
        # on one window at a time in event-time order: alerting sees them as it would have
        # live, one by one, whatever the batch size (a concept alert that fires and resolves
        # within one large batch is still notified, and timers run at each window's time).
        self._held = []
        try:
            for monitor in self._by_stream.get(stream.name, ()):
                if stream.name in monitor.drift_streams:
                    taken = monitor.add(batch)
                    if taken and partition is not None:
                        self.fed.setdefault(monitor.name, set()).add(partition)
                concept = self.concepts.get(monitor.name)
                if concept is not None:
                    verdicts = _feed_concept(concept, stream, batch, monitor.cfg.model)
                    self._held.extend(_per_window(verdicts))
            for comparison in self.comparisons.values():
                if stream.name in comparison.streams:
                    self._held.extend(_per_window(comparison.observe(stream.name, batch)))
        finally:
            held, self._held = self._held, None
            for window in _in_time_order(held):
                self._deliver(window)
        for name in self._joins_of.get(stream.name, ()):
            self._process_joined(name, batch)

    def _process_joined(self, name: str, batch: DecodedBatch) -> None:
        join = self.joins[name]
        merged = join.add(batch)
        if not len(merged):
            return
        stream = self._streams[name]
        refused = self.check(stream, merged)
        if refused:
            # No record to dead-letter (an event of two records): counted and logged.
            join.counts.refused += len(refused)
            log.warning(
                "join %s: %d merged event(s) refused by its monitors (first: %s)",
                name,
                len(refused),
                refused[0].error,
            )
            gone = {r.index for r in refused}
            merged = merged.take([j for j in range(len(merged)) if j not in gone])
        self.process(stream, merged)

    def check(self, stream: StreamConfig, batch: DecodedBatch) -> list[Rejected]:
        """Events of ``batch`` some monitor fed by ``stream`` cannot take, with the reason.

        Pure: the caller drops them (and dead-letters their records) before ``process``.
        """
        bad: dict[int, DecodeError] = {}
        fields = stream.fields
        for monitor in self._by_stream.get(stream.name, ()):
            if stream.name in monitor.drift_streams and monitor.needs_event_time:
                model = monitor.cfg.model
                for j in np.flatnonzero(np.isnan(batch.timestamps)).tolist():
                    if model is None or batch.models[j] == model:
                        bad.setdefault(j, _NO_TIME)
            concept = self.concepts.get(monitor.name)
            if concept is None:
                continue
            regression = concept.config.task != "classification"
            # Another model's records are not this monitor's to refuse.
            mine = set(batch.of_model(monitor.cfg.model, strict=False).tolist())
            columns = [("id", batch.ids, None)]
            if fields.prediction is not None:
                columns.append(("prediction", batch.predictions, regression))
            if fields.label is not None:
                columns.append(("label", batch.labels, regression))
            for role, values, numeric in columns:
                for j, value in enumerate(values):
                    if value is None or j in bad or type(value) is str or j not in mine:
                        continue
                    problem = (
                        id_problem(value)
                        if numeric is None
                        else scalar_problem(role, value, numeric)
                    )
                    if problem is not None:
                        bad[j] = problem
        return [Rejected(int(batch.index[j]), err) for j, err in sorted(bad.items())]

    def owned_by(self, partition: Partition) -> list[Monitor]:
        """Monitors whose events all came from ``partition`` (their state is its state)."""
        return [m for m in self.monitors if self.fed.get(m.name) == {partition}]

    def partition_snapshot(self, partition: Partition, offset: int) -> Snapshot:
        """The state of the monitors ``partition`` alone feeds, covering up to ``offset``."""
        return Snapshot(partition, offset, {m.name: m.snapshot() for m in self.owned_by(partition)})

    def forget_partition(self, partition: Partition) -> list[str]:
        """Reset the monitors ``partition`` alone fed (it now belongs to another replica)."""
        names = []
        for monitor in self.owned_by(partition):
            monitor.reset()
            self.fed.pop(monitor.name, None)
            names.append(monitor.name)
        return names

    def adopt_partition(self, snapshot: Snapshot) -> list[str]:
        """Restore the monitors of a partition handed over by another replica."""
        names = []
        by_name = {m.name: m for m in self.monitors}
        for name, (meta, arrays) in snapshot.monitors.items():
            monitor = by_name.get(name)
            if monitor is None:
                continue
            monitor.reset()
            try:
                monitor.restore(meta, arrays)
            except (ValueError, KeyError) as exc:
                log.warning(
                    "monitor %s starts afresh: the handed-over state does not fit (%s)", name, exc
                )
                monitor.reset()
                continue
            self.fed[name] = {snapshot.partition}
            names.append(name)
        return names

    def tick(self) -> None:
        """Expire label-join entries past their TTL (cheap when nothing is due)."""
        for concept in self.concepts.values():
            concept.tick()
        for join in self.joins.values():
            join.sweep()
        for comparison in self.comparisons.values():
            comparison.sweep()

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
        meta: dict[str, Any] = {
            "events": dict(self.events),
            "monitors": {},
            "fed": {n: [[p.topic, p.partition] for p in ps] for n, ps in self.fed.items()},
        }
        arrays: dict[str, np.ndarray] = {}
        for monitor in self.monitors:
            mmeta, marrays = monitor.snapshot()
            meta["monitors"][monitor.name] = mmeta
            arrays.update({f"{monitor.name}/{k}": v for k, v in marrays.items()})
        for key, prefix, parts in (
            ("joins", JOIN_PREFIX, self.joins),
            ("comparisons", COMPARISON_PREFIX, self.comparisons),
        ):
            meta[key] = {}
            for name, part in parts.items():
                meta[key][name], arrays[f"{prefix}{name}"] = part.snapshot()
        return meta, arrays

    def restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Continue from ``snapshot()``; monitors not in the checkpoint start empty."""
        self.events.update(meta.get("events", {}))
        for name, parts in meta.get("fed", {}).items():
            self.fed[name] = {Partition(str(t), int(p)) for t, p in parts}
        _restore_parts("join", self.joins, meta.get("joins", {}), arrays, JOIN_PREFIX)
        _restore_parts(
            "comparison", self.comparisons, meta.get("comparisons", {}), arrays, COMPARISON_PREFIX
        )
        for monitor in self.monitors:
            saved = meta["monitors"].get(monitor.name)
            if saved is None:
                continue
            prefix = f"{monitor.name}/"
            own = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            try:
                monitor.restore(saved, own)
            except (ValueError, KeyError, TypeError) as exc:
                # Whatever part was restored before the misfit goes too: afresh means empty.
                monitor.reset()
                log.warning(
                    "monitor %s starts afresh: its checkpoint does not fit (%s)", monitor.name, exc
                )

    def save_state(self, directory: Path) -> None:
        """Write every monitor's state into ``directory`` (see driftd.checkpoint)."""
        meta, arrays = self.snapshot()
        arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        with (directory / "monitors.npz").open("wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]
        for concept in self.concepts.values():
            concept.save(directory)

    def restore_state(self, directory: Path) -> None:
        """Continue from ``save_state``; a monitor whose config changed starts afresh."""
        path = directory / "monitors.npz"
        if path.exists():
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            meta = json.loads(arrays.pop("meta.json").tobytes())
            self.restore(meta, arrays)
        for concept in self.concepts.values():
            concept.restore(directory)

    def status(self) -> dict[str, Any]:
        """Events per stream and the latest verdicts per monitor."""
        return {
            "events": dict(self.events),
            "monitors": {m.name: m.status() for m in self.monitors},
            "concept": {name: c.status() for name, c in self.concepts.items()},
            "joins": {name: j.status() for name, j in self.joins.items()},
            "comparisons": {name: c.status() for name, c in self.comparisons.items()},
            "sink_errors": dict(self.sink_errors),
        }


def _restore_parts(
    what: str,
    parts: dict[str, Any],
    saved: dict[str, Any],
    arrays: dict[str, np.ndarray],
    prefix: str,
) -> None:
    """Restore each join or comparison from its checkpoint; one that does not fit (another
    config, another version) starts afresh, logged."""
    for name, part in parts.items():
        meta, data = saved.get(name), arrays.get(f"{prefix}{name}")
        if meta is None or data is None:
            continue
        try:
            part.restore(meta, data)
        except (ValueError, KeyError, TypeError, msgspec.DecodeError) as exc:
            log.warning("%s %s starts afresh: its checkpoint does not fit (%s)", what, name, exc)


def _paths(monitor: Monitor, streams: list[StreamConfig]) -> dict[str, list[str]]:
    # Where each watched field comes from, for the warning about a field never present.
    out: dict[str, list[str]] = {}
    for stream in streams:
        mapped = stream.fields.feature_paths()
        for feature in monitor.features:
            if feature.name in mapped:
                where = f"streams[{stream.name}].fields.features.{feature.name}"
                out.setdefault(feature.name, []).append(f"{where} = {mapped[feature.name]!r}")
        if monitor.prediction is not None and stream.fields.prediction:
            where = f"streams[{stream.name}].fields.prediction = {stream.fields.prediction!r}"
            out.setdefault(monitor.prediction.name, []).append(where)
    return out


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


def _feed_concept(
    concept: ConceptMonitor, stream: StreamConfig, batch: DecodedBatch, model: str | None
) -> list[Verdict]:
    """Predictions wait in the join; labels complete pairs (one stream may carry both).

    The monitor's ``model`` filter applies here as to the data windows: predictions of other
    models never enter the join, and labels that name another model are not this monitor's.
    """
    verdicts: list[Verdict] = []
    fields = stream.fields
    if fields.prediction is not None:
        rows = [
            i
            for i in batch.of_model(model).tolist()
            if batch.ids[i] is not None and batch.predictions[i] is not None
        ]
        if rows:
            ids = [batch.ids[i] for i in rows]
            raw = [batch.predictions[i] for i in rows]
            preds, scores = _classes(concept, raw)
            verdicts += concept.observe_predictions(ids, preds, scores, batch.timestamps[rows])
    if fields.label is not None:
        rows = [
            i
            for i in batch.of_model(model, strict=False).tolist()
            if batch.ids[i] is not None and batch.labels[i] is not None
        ]
        if rows:
            verdicts += concept.observe_labels(
                [batch.ids[i] for i in rows],
                [batch.labels[i] for i in rows],
                batch.timestamps[rows],
            )
    return verdicts


def _classes(concept: ConceptMonitor, raw: list[Any]) -> tuple[list[Any], np.ndarray | None]:
    """Predicted classes (and scores when the predictions are scores) for the join."""
    cfg = concept.config
    numeric = all(isinstance(p, int | float) and not isinstance(p, bool) for p in raw)
    if cfg.task != "classification" or cfg.decision_threshold is None or not numeric:
        return raw, None
    scores = np.asarray(raw, dtype=np.float64)
    negative = _negative_class(cfg.positive_class)
    preds = [cfg.positive_class if s >= cfg.decision_threshold else negative for s in scores]
    return preds, scores


def _negative_class(positive: Any) -> Any:
    if isinstance(positive, bool):
        return not positive
    if isinstance(positive, int):
        return 0 if positive != 0 else 1
    return f"not_{positive}"


def _per_window(verdicts: list[Verdict]) -> list[list[Verdict]]:
    """Split verdicts of several windows (a concept monitor's, per batch) into one list per
    window, in order."""
    groups: dict[tuple[str, int, float], list[Verdict]] = {}
    for v in verdicts:
        groups.setdefault((v.kind, v.window_index, v.window_end), []).append(v)
    return list(groups.values())


def _in_time_order(windows: list[list[Verdict]]) -> list[list[Verdict]]:
    """Windows sorted by end time (stable); as they came when any lacks an event time."""
    ends = [max((v.window_end for v in w), default=math.nan) for w in windows]
    if len(windows) < 2 or any(math.isnan(e) for e in ends):
        return windows
    order = sorted(range(len(windows)), key=ends.__getitem__)
    return [windows[i] for i in order]
