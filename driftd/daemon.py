"""The daemon loop: poll, decode, process, then commit.

Each turn of the loop, in this order:

1. poll a batch of records from the source (at most ``kafka.max_poll_records``);
2. decode each partition's records with its stream's decoder; rejected records are counted
   and queued to the dead-letter topic;
3. hand the decoded events to the processor (windows, detectors, verdicts);
4. flush the dead-letter and drift-event producers and tick alerting, so everything sent is
   acknowledged and every notification is in the outbox;
5. with ``state.dir`` set, every ``state.checkpoint_interval`` (also when no record came, as
   long as a broker is connected): write a checkpoint of the processor's state (open windows,
   thresholds, label join, river detectors) together with the offsets it covers, atomically;
6. commit those offsets to Kafka.

Offsets are committed last: a crash anywhere before step 6 replays from the last commit
(at-least-once), and on start the checkpoint is restored and each partition is sought to the
checkpoint's offset, so records after the checkpoint are replayed into restored windows — each
event counts once in the statistics. Without ``state.dir`` steps 4-6 run after every batch and
open windows start empty after a restart. On a rebalance, records processed since the last
commit are processed again by the partition's new owner.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from kafka.errors import KafkaError

from driftd.checkpoint import CheckpointStore
from driftd.config.models import DriftdConfig, StreamConfig
from driftd.deadletter import DeadLetters
from driftd.decoding import DecodedBatch, StreamDecoder
from driftd.errors import ConfigError, DriftdError
from driftd.handover import Handover
from driftd.health import Health
from driftd.metrics import Metrics
from driftd.sources.base import Batch, Partition, Source
from driftd.systemd import Notifier

log = logging.getLogger(__name__)


class Processor(Protocol):
    """What the loop hands decoded events to."""

    def process(
        self, stream: StreamConfig, batch: DecodedBatch, partition: Partition | None = None
    ) -> None: ...
    def tick(self) -> None: ...
    def status(self) -> dict[str, Any]: ...
    def save_state(self, directory: Path) -> None: ...
    def restore_state(self, directory: Path) -> None: ...


class CountingProcessor:
    """A processor that only counts events; used when no monitors are configured."""

    def __init__(self) -> None:
        self.events: dict[str, int] = {}

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


class Daemon:
    """Runs the loop over an injected source until ``stop()`` (or SIGTERM/SIGINT)."""

    def __init__(
        self,
        config: DriftdConfig,
        source_factory: Callable[[Callable[[set[Partition], set[Partition]], None]], Source],
        processor: Processor,
        metrics: Metrics,
        health: Health,
        *,
        dead_letters: DeadLetters | None = None,
        before_commit: list[Callable[[], None]] | None = None,
        on_turn: list[Callable[[], None]] | None = None,
        notifier: Notifier | None = None,
        reloader: Callable[[], tuple[DriftdConfig, Processor]] | None = None,
        checkpoints: CheckpointStore | None = None,
        handover: Handover | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.processor = processor
        self.metrics = metrics
        self.health = health
        self._dead_letters = dead_letters
        self._before_commit = list(before_commit or [])
        self._on_turn = list(on_turn or [])
        self._notifier = notifier or Notifier({})
        self._told_ready = False
        self._reloader = reloader
        self._reload_requested = threading.Event()
        self._checkpoints = checkpoints
        self._uncommitted: dict[Partition, int] = {}
        self._revoked: set[Partition] = set()
        self._handover = handover
        # Set on kafka-python's IO thread by the rebalance listener, applied on the loop thread.
        self._to_forget: set[Partition] = set()
        self._to_adopt: set[Partition] = set()
        self._resume: dict[Partition, int] = {}
        self._last_checkpoint = clock()
        if checkpoints is not None:
            restored = checkpoints.load()
            if restored is not None:
                processor.restore_state(restored.directory)
                self._resume = dict(restored.offsets)
                log.info(
                    "restored checkpoint %d covering %d partition(s)",
                    restored.sequence,
                    len(restored.offsets),
                )
        self._clock = clock
        self._stop = threading.Event()
        self._by_topic = self._decoders(config)
        self._assigned: set[Partition] = set()
        self.health.set_condition("partitions_assigned", False)
        self._source = source_factory(self._on_assignment)
        self._last_lag = 0.0
        self._broker_connected: bool | None = None
        # Whether the last turn left the consumer at the head of its partitions; alerting
        # reads it (event time flows with the wall clock only then).
        self.caught_up = False

    def _decoders(
        self, config: DriftdConfig
    ) -> dict[str, list[tuple[StreamConfig, StreamDecoder]]]:
        by_topic: dict[str, list[tuple[StreamConfig, StreamDecoder]]] = {}
        for stream in config.streams:
            by_topic.setdefault(stream.topic, []).append((stream, StreamDecoder(stream)))
            self.metrics.records_consumed.labels(stream=stream.name)
            self.metrics.events_decoded.labels(stream=stream.name)
        return by_topic

    def request_reload(self) -> None:
        """Reload the config between two batches (what SIGHUP does)."""
        self._reload_requested.set()

    def _reload(self) -> None:
        """Validate and apply a new config; on any problem keep running the old one.

        Monitors, thresholds, windows and field mappings are replaced (open windows start
        over). Kafka settings and the set of topics are fixed for the life of the consumer:
        a change to them is refused and needs a restart.
        """
        self._reload_requested.clear()
        if self._reloader is None:
            return
        try:
            config, processor = self._reloader()
            if config.kafka != self.config.kafka:
                raise ConfigError("kafka settings changed: restart driftd to apply them")
            if sorted({s.topic for s in config.streams}) != self.topics:
                raise ConfigError("the set of topics changed: restart driftd to apply it")
        except DriftdError as exc:
            self.metrics.config_reload_success.set(0)
            log.error("config reload rejected, keeping the running config: %s", exc)
            return
        self.config = config
        self._by_topic = self._decoders(config)
        self.processor = processor
        self.metrics.config_reload_success.set(1)
        self.metrics.config_reload_time.set(time.time())
        log.info(
            "config reloaded: %d stream(s), %d monitor(s)",
            len(config.streams),
            len(config.monitors),
        )

    @property
    def topics(self) -> list[str]:
        """Every topic a stream reads."""
        return sorted(self._by_topic)

    def stop(self) -> None:
        """Ask the loop to finish its current turn, commit and return."""
        self._stop.set()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the loop cleanly (commit, close, exit 0); SIGHUP reloads."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, _frame: self._on_signal(signum))
        signal.signal(signal.SIGHUP, lambda _signum, _frame: self.request_reload())

    def _on_signal(self, signum: int) -> None:
        log.info(
            "received %s: finishing the current batch, committing and exiting",
            signal.Signals(signum).name,
        )
        self.stop()

    def _on_assignment(self, assigned: set[Partition], revoked: set[Partition]) -> None:
        # Called on kafka-python's IO thread; only bookkeeping here.
        self._assigned = (self._assigned - revoked) | assigned
        self._revoked = self._revoked | revoked
        self._to_forget = self._to_forget | revoked
        self._to_adopt = self._to_adopt | assigned
        for partition in assigned:
            # The checkpoint may be ahead of the committed offset (a crash between the two).
            if partition in self._resume and hasattr(self._source, "seek"):
                self._source.seek(partition, self._resume[partition])
        if assigned or not revoked:
            self.health.set_condition("partitions_assigned", True)
        self.metrics.assigned_partitions.set(len(self._assigned))
        if assigned:
            log.info("partitions assigned: %s", sorted(assigned))
        if revoked:
            log.info("partitions revoked: %s", sorted(revoked))

    def run(self) -> int:
        """Run until stopped; returns the process exit code."""
        self.health.set_condition("starting", True)
        watchdog = self._notifier.start_watchdog(self.health.alive)
        try:
            while not self._stop.is_set():
                self.health.beat()
                self.run_once()
                self.processor.tick()
                for hook in self._on_turn:
                    hook()
                self._report_ready()
                if self._reload_requested.is_set():
                    self._reload()
        finally:
            if watchdog is not None:
                watchdog.set()
            self._shutdown()
        return 0

    def _report_ready(self) -> None:
        ready, _ = self.health.ready()
        self.metrics.ready.set(1.0 if ready else 0.0)
        if ready and not self._told_ready:
            self._told_ready = True
            self._notifier.ready(f"consuming {', '.join(self.topics)}")

    def run_once(self) -> int:
        """One turn of the loop (steps 1-5 of the module docstring); returns records read."""
        try:
            batch = self._source.poll(self.config.kafka.poll_timeout)
        except KafkaError as exc:
            # The broker being away is not fatal: kafka-python reconnects on the next poll.
            log.warning("poll failed, retrying: %s", exc)
            self._report_connection()
            self._stop.wait(1.0)
            return 0
        self._report_lag()
        self._report_connection()
        self.caught_up = bool(self._source.caught_up())
        if self._handover is not None and (self._to_forget or self._to_adopt):
            batch = self._rebalance(batch)
        if not batch:
            # Idle: what the last batches left uncommitted is checkpointed and committed once
            # the interval is up, not only when a next record arrives; on a quiet topic that
            # may be never, and the tail would stay uncommitted (lag > 0, replayed on restart).
            # Not while the broker is away: the commit would block the loop until it times out.
            if self._uncommitted and self._broker_connected is not False and self._checkpoint_due():
                self._checkpoint_and_commit()
            return 0
        started = time.perf_counter()
        offsets: dict[Partition, int] = {}
        count = 0
        for partition, records in batch.items():
            count += len(records)
            # One topic may feed several streams (other field mappings): read the values once.
            values = [r.value for r in records]
            for stream, decoder in self._by_topic.get(partition.topic, ()):
                self._process(partition, records, values, stream, decoder)
            offsets[partition] = records[-1].offset + 1
        self._uncommitted.update(offsets)
        if self._checkpoint_due():
            self._checkpoint_and_commit()
        self.metrics.poll_batches.inc()
        self.metrics.batch_duration.observe(time.perf_counter() - started)
        return count

    def _process(
        self,
        partition: Partition,
        records: Any,
        values: list[bytes | None],
        stream: StreamConfig,
        decoder: StreamDecoder,
    ) -> None:
        decoded = decoder.decode(values)
        self.metrics.records_consumed.labels(stream=stream.name).inc(len(values))
        self.metrics.events_decoded.labels(stream=stream.name).inc(len(decoded))
        for rejected in decoded.rejected:
            self.metrics.records_rejected.labels(
                stream=stream.name, reason=rejected.error.reason
            ).inc()
            if self._dead_letters is not None:
                record = records[rejected.index]
                # The key goes along: a tombstone (no value) cannot be produced without one.
                self._dead_letters.send(
                    partition, record.offset, record.value, rejected.error, key=record.key
                )
                self.metrics.dead_letters.labels(stream=stream.name).inc()
        if decoded.rejected:
            log.debug(
                "%s: %d record(s) rejected in %s", stream.name, len(decoded.rejected), partition
            )
        if len(decoded):
            newest = float(decoded.timestamps.max()) if decoded.timestamps.size else float("nan")
            if not math.isnan(newest):
                self.metrics.last_event_timestamp.labels(stream=stream.name).set(newest)
            self.processor.process(stream, decoded, partition)

    def _rebalance(self, batch: Batch) -> Batch:
        """Hand monitor state over after a rebalance (see driftd.handover).

        Partitions this replica lost: forget the monitors they alone fed. Partitions it gained
        without holding their state: restore the newest handed-over snapshot, seek to the offset
        it covers and drop records of this batch it already counts.
        """
        assert self._handover is not None
        forget, self._to_forget = self._to_forget, set()
        adopt, self._to_adopt = self._to_adopt, set()
        processor: Any = self.processor
        for partition in sorted(forget - self._assigned):
            names = processor.forget_partition(partition)
            if names:
                log.info("%s moved to another replica: forgot monitors %s", partition, names)
        fresh = {p for p in adopt & self._assigned if not processor.owned_by(p)}
        if not fresh:
            return batch
        snapshots = self._handover.fetch(fresh)
        kept = dict(batch)
        for partition, snap in sorted(snapshots.items()):
            records = kept.get(partition)
            if records and records[0].offset > snap.offset:
                log.warning(
                    "%s: handed-over state ends at offset %d but records resume at %d; "
                    "its monitors start afresh",
                    partition,
                    snap.offset,
                    records[0].offset,
                )
                continue
            names = processor.adopt_partition(snap)
            if records:
                kept[partition] = [r for r in records if r.offset >= snap.offset]
                if not kept[partition]:
                    del kept[partition]
            else:
                self._source.seek(partition, snap.offset)  # type: ignore[attr-defined]
            self._resume[partition] = snap.offset
            log.info("%s: took over monitors %s at offset %d", partition, names, snap.offset)
        return kept

    def _checkpoint_due(self) -> bool:
        """Without checkpoints, after every batch; with them, every checkpoint_interval."""
        return self._checkpoints is None or (
            self._clock() - self._last_checkpoint >= self.config.state.checkpoint_interval
        )

    def _checkpoint_and_commit(self) -> None:
        """Steps 4-6: acknowledge side effects, checkpoint state with offsets, commit."""
        if self._dead_letters is not None:
            self._dead_letters.flush()
        for flush in self._before_commit:
            flush()
        if not self._uncommitted:
            return
        if self._checkpoints is not None:
            covered = {**self._resume, **self._uncommitted}
            self._checkpoints.save(self.processor, covered)
            self._resume = covered
            if self._handover is not None:
                self._publish_handover(covered)
            self._last_checkpoint = self._clock()
            self.metrics.checkpoints.inc()
        # Partitions revoked meanwhile belong to another member now: their offsets are its to
        # commit, and retrying them here would fail forever.
        revoked, self._revoked = self._revoked, set()
        for partition in revoked - self._assigned:
            self._uncommitted.pop(partition, None)
        if self._uncommitted and self._commit(self._uncommitted):
            self._uncommitted = {}

    def _publish_handover(self, covered: dict[Partition, int]) -> None:
        processor: Any = self.processor
        assert self._handover is not None
        for partition in sorted(self._assigned):
            if partition in covered and processor.owned_by(partition):
                self._handover.publish(processor.partition_snapshot(partition, covered[partition]))
        self._handover.flush()

    def _commit(self, offsets: dict[Partition, int]) -> bool:
        try:
            self._source.commit(offsets)
            self.metrics.commits.inc()
            return True
        except (KafkaError, DriftdError) as exc:
            # Kept for the next turn; until then a restart or rebalance replays these records
            # (at-least-once), and the checkpoint keeps the statistics exact on this replica.
            self.metrics.commit_failures.inc()
            log.warning("offset commit failed, will retry (records may be replayed): %s", exc)
            return False

    def _report_connection(self) -> None:
        # Not ready while no broker answers: the loop keeps polling and kafka-python
        # reconnects with backoff, so the daemon recovers by itself once the broker is back.
        # Transitions are logged against the previous connection state, not overall readiness
        # (which other conditions also decide), so each loss and return is logged once.
        connected = getattr(self._source, "connected", None)
        if connected is None:
            return
        ok = bool(connected())
        if ok == self._broker_connected:
            return
        self.health.set_condition("broker_connected", ok)
        if self._broker_connected and not ok:
            log.warning("lost the connection to every Kafka broker; not ready until back")
        elif ok and self._broker_connected is False:
            log.info("Kafka connection back")
        self._broker_connected = ok

    def _report_lag(self) -> None:
        now = self._clock()
        if now - self._last_lag < 5.0 or not hasattr(self._source, "lag"):
            return
        self._last_lag = now
        for partition, lag in self._source.lag().items():
            self.metrics.consumer_lag.labels(
                topic=partition.topic, partition=str(partition.partition)
            ).set(lag)

    def _shutdown(self) -> None:
        self.health.set_condition("stopping", False)
        self._notifier.stopping()
        try:
            self._checkpoint_and_commit()
        except (DriftdError, OSError) as exc:
            log.error("final checkpoint failed; the last one stays valid: %s", exc)
        try:
            self._source.close()
        finally:
            log.info("driftd stopped")
