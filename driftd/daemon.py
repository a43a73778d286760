"""The daemon loop: poll, decode, check, process, then acknowledge, checkpoint and commit.

Each turn of the loop, in this order:

1. poll a batch of records from the source (at most ``kafka.max_poll_records``);
2. decode each partition's records with its stream's decoder, and let the processor refuse
   the events it cannot take (``Processor.check``); rejected records are counted and queued to
   the dead-letter topic with their reason;
3. hand the remaining events to the processor (windows, detectors, verdicts). An exception
   here is caught in one place and handled by the failure policy (``driftd.failures``);
4. once a commit is due: have every produced record (dead letters, drift events) acknowledged
   by the broker within ``kafka.produce_timeout``, and write the notifications the batch
   caused, with the alert state, to the outbox. If an acknowledgement is missing nothing is
   committed: the records are sent again after a backoff, consumption pauses, and ``/readyz``
   answers 503 until they are acknowledged;
5. with ``state.dir`` set, every ``state.checkpoint_interval`` (also when no record came, as
   long as a broker is connected): write a checkpoint of the processor's state (open windows,
   thresholds, label join, river detectors) together with the offsets it covers, atomically;
6. commit those offsets to Kafka.

Offsets are committed last: a crash anywhere before step 6 replays from the last commit
(at-least-once), and on start the checkpoint is restored and each partition is sought to the
checkpoint's offset, so records after the checkpoint are replayed into restored windows — each
event counts once in the statistics, and each window once in alert state (see
``driftd.alerting.lifecycle``). Without ``state.dir`` steps 4-6 run after every batch and open
windows start empty after a restart. On a rebalance, records processed since the last commit
are processed again by the partition's new owner.

The loop thread owns every piece of state. Other threads (the HTTP server, kafka-python's) read
only what the loop publishes: ``status()`` is a snapshot taken at the end of a turn.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from kafka.errors import KafkaError

from driftd.acks import Acknowledgements, RetryGate
from driftd.checkpoint import CheckpointStore
from driftd.clockskew import ClockSkew
from driftd.config.models import DriftdConfig, StreamConfig
from driftd.deadletter import DeadLetters
from driftd.deadline import Deadlined
from driftd.decoding import DecodedBatch, Rejected, StreamDecoder
from driftd.errors import (
    ConfigError,
    DecodeError,
    DriftdError,
    RegistryUnavailableError,
    SourceError,
    StateError,
)
from driftd.failures import POLICIES
from driftd.handover import Handover
from driftd.health import Health
from driftd.metrics import Metrics
from driftd.processor import Processor
from driftd.producing import ProduceError
from driftd.rebalance import hand_over
from driftd.sources.base import Batch, Partition, RecordLike, Source, values_of
from driftd.systemd import Notifier
from driftd.timeunits import UnitCheck

if TYPE_CHECKING:
    from driftd.registry import Registry

log = logging.getLogger(__name__)

SourceFactory = Callable[[Callable[[set[Partition], set[Partition]], None]], Source]
Reloader = Callable[[Processor], tuple[DriftdConfig, Processor]]


class Daemon:
    """Runs the loop over an injected source until ``stop()`` (or SIGTERM/SIGINT)."""

    def __init__(
        self,
        config: DriftdConfig,
        source_factory: SourceFactory,
        processor: Processor,
        metrics: Metrics,
        health: Health,
        *,
        dead_letters: DeadLetters | None = None,
        producers: Sequence[Callable[[float], None]] = (),
        before_commit: list[Callable[[], None]] | None = None,
        on_turn: list[Callable[[], None]] | None = None,
        notifier: Notifier | None = None,
        reloader: Reloader | None = None,
        checkpoints: CheckpointStore | None = None,
        handover: Handover | None = None,
        clock: Callable[[], float] = time.monotonic,
        registry: Registry | None = None,
    ) -> None:
        self.config = config
        self.processor = processor
        self.metrics = metrics
        self.health = health
        self._dead_letters = dead_letters
        flushes = ([dead_letters.flush] if dead_letters is not None else []) + list(producers)
        self._acks = Acknowledgements(
            flushes, config.kafka.produce_timeout, metrics, health, clock=clock
        )
        self._suppress = POLICIES[config.kafka.on_processing_error]
        self._before_commit = list(before_commit or [])
        self._on_turn = list(on_turn or [])
        self._notifier = notifier or Notifier({})
        self._told_ready = False
        self._reloader = reloader
        self._reload_requested = threading.Event()
        self._checkpoints = checkpoints
        self._uncommitted: dict[Partition, int] = {}
        self._handover = handover
        # The rebalance listener may run on another thread than the loop: it only records the
        # change under this lock, and the loop applies it.
        self._lock = threading.Lock()
        self._assigned: set[Partition] = set()
        self._revoked: set[Partition] = set()
        self._to_forget: set[Partition] = set()
        self._to_adopt: set[Partition] = set()
        self._resume: dict[Partition, int] = {}
        self._clock = clock
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
        self._stop = threading.Event()
        self._registry: Registry | None = registry
        # A poll batch whose schemas the registry could not resolve: read again, in order,
        # before anything new (consumption is paused meanwhile), once the registry answers.
        self._held: Batch | None = None
        self._registry_backoff = 0.0
        self._by_topic = self._decoders(config, processor)
        self.health.set_condition("partitions_assigned", False)
        self._source = source_factory(self._on_assignment)
        self._last_lag = 0.0
        self._broker_connected: bool | None = None
        self._paused = False
        # Whether the last turn left the consumer at the head of its partitions; alerting
        # reads it (event time flows with the wall clock only then).
        self.caught_up = False
        self._state = RetryGate("state_writable", metrics.checkpoint_failures, health, clock=clock)
        # Checkpoint writes run with a deadline (a hung disk must not hang the loop). While a
        # late write still runs the loop reads nothing and leaves the processor alone: the
        # write is reading its state.
        self._writer: Deadlined[Path] = Deadlined("checkpoint write")
        self._status: dict[str, Any] = {}
        self._units = UnitCheck(metrics.timestamp_unit_suspected)
        self._skew = ClockSkew(clock=time.time)
        self._status_at = -1e18

    def _decoders(
        self, config: DriftdConfig, processor: Processor
    ) -> dict[str, list[tuple[StreamConfig, StreamDecoder]]]:
        by_topic: dict[str, list[tuple[StreamConfig, StreamDecoder]]] = {}
        if config.schema_registry is not None and (
            self._registry is None or self._registry.cfg != config.schema_registry
        ):
            from driftd.registry import Registry

            self._registry = Registry(config.schema_registry)
        for stream in config.streams:
            kinds = processor.feature_kinds(stream.name)
            decoder = StreamDecoder(stream, registry=self._registry, kinds=kinds)
            by_topic.setdefault(stream.topic, []).append((stream, decoder))
            self.metrics.records_consumed.labels(stream=stream.name)
            self.metrics.events_decoded.labels(stream=stream.name)
            self.metrics.processing_errors.labels(stream=stream.name)
        return by_topic

    # -- control ----------------------------------------------------------------------------

    def request_reload(self) -> None:
        """Reload the config between two batches (what SIGHUP does)."""
        self._reload_requested.set()

    def _reload(self) -> None:
        """Validate and apply a new config; on any problem keep running the old one.

        The reloader builds the new processor from the running one, so monitors whose
        definition did not change keep their open windows, thresholds, label join and river
        state. Kafka settings and the set of topics are fixed for the life of the consumer: a
        change to them is refused and needs a restart.
        """
        self._reload_requested.clear()
        if self._reloader is None:
            return
        try:
            config, processor = self._reloader(self.processor)
            if config.kafka != self.config.kafka:
                raise ConfigError("kafka settings changed: restart driftd to apply them")
            if sorted({s.topic for s in config.streams}) != self.topics:
                raise ConfigError("the set of topics changed: restart driftd to apply it")
        except DriftdError as exc:
            self.metrics.config_reload_success.set(0)
            log.error("config reload rejected, keeping the running config: %s", exc)
            return
        self.config = config
        self._by_topic = self._decoders(config, processor)
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
        # Only bookkeeping here, under the lock; the loop applies it on its next turn.
        with self._lock:
            self._assigned = (self._assigned - revoked) | assigned
            self._revoked |= revoked
            self._to_forget |= revoked
            self._to_adopt |= assigned
            count = len(self._assigned)
        for partition in sorted(assigned):
            # Resume where the processor's state ends, not at the committed offset: after the
            # last record processed (a rebalance that gives this member its partitions back
            # would otherwise count the uncommitted records twice), or at the checkpoint
            # restored on start (which may be ahead of the commit: a crash between the two).
            target = self._uncommitted.get(partition, self._resume.get(partition))
            if target is not None:
                self._source.seek(partition, target)
        if assigned or not revoked:
            self.health.set_condition("partitions_assigned", True)
        self.metrics.assigned_partitions.set(count)
        if assigned:
            log.info("partitions assigned: %s", sorted(assigned))
        if revoked:
            log.info("partitions revoked: %s", sorted(revoked))

    # -- the loop ---------------------------------------------------------------------------

    def run(self, until: Callable[[], bool] | None = None) -> int:
        """Run until stopped (or ``until()`` is true: the end of a replayed file); returns
        the process exit code."""
        self.health.set_condition("starting", True)
        watchdog = self._notifier.start_watchdog(self.health.alive)
        try:
            while not self._stop.is_set() and not (until is not None and until()):
                self.health.beat()
                got = self.run_once()
                if not self._writer.busy:
                    self.processor.tick()
                for hook in self._on_turn:
                    hook()
                # Under load at most once a second (it costs a pass over every monitor);
                # on an idle turn always, so /status is exact once the stream is quiet.
                # Before readiness, so /status never answers empty once /readyz says 200.
                self._publish_status(force=not got)
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

    def status(self) -> dict[str, Any]:
        """The processor's ``/status`` document as of the end of the loop's latest turn."""
        return self._status

    def _publish_status(self, force: bool = False) -> None:
        now = self._clock()
        if force or now - self._status_at >= 1.0:
            # Built on the loop thread; the HTTP thread only reads the finished dict.
            status = self.processor.status()
            if suspected := self._units.suspected():
                status["suspected_timestamp_units"] = suspected
            self._status = status
            self._status_at = now

    def run_once(self) -> int:
        """One turn of the loop (steps 1-6 of the module docstring); returns records read."""
        if not self._writer.settle(min(self.config.kafka.poll_timeout, 1.0)):
            # A checkpoint write past its deadline is still reading the processor's state:
            # no poll (kafka-python heartbeats on its own thread; a group that drops this
            # member meanwhile is a rebalance like any other), health and SIGTERM still served.
            self._report_connection()
            return 0
        self._pause(self._acks.failing or self._held is not None)
        try:
            batch = self._source.poll(self.config.kafka.poll_timeout)
        except (KafkaError, SourceError) as exc:
            # The broker being away is not fatal: the client reconnects on the next poll.
            log.warning("poll failed, retrying: %s", exc)
            self._report_connection()
            self._stop.wait(1.0)
            return 0
        self._report_lag()
        self._report_connection()
        self.caught_up = bool(self._source.caught_up())
        with self._lock:
            forget, self._to_forget = self._to_forget, set()
            adopt, self._to_adopt = self._to_adopt, set()
            assigned = set(self._assigned)
        if self._handover is not None and (forget or adopt):
            batch = hand_over(
                self.processor,
                self._handover,
                self._source,
                batch,
                assigned=assigned,
                forget=forget,
                adopt=adopt,
                resume=self._resume,
            )
        if self._held is not None:
            batch = self._with_held(batch, assigned)
        if batch and not self._schemas_resolved(batch):
            if self._uncommitted and self._broker_connected is not False and self._commit_due():
                self._checkpoint_and_commit()  # what came before the held batch
            return 0
        if not batch:
            # Idle: what the last batches left uncommitted is checkpointed and committed once
            # the interval is up, not only when a next record arrives; on a quiet topic that
            # may be never, and the tail would stay uncommitted (lag > 0, replayed on restart).
            # Not while the broker is away: the commit would block the loop until it times out.
            if self._uncommitted and self._broker_connected is not False and self._commit_due():
                self._checkpoint_and_commit()
            return 0
        started = time.perf_counter()
        offsets: dict[Partition, int] = {}
        count = 0
        for partition, records in batch.items():
            count += len(records)
            # One topic may feed several streams (other field mappings): read the values once.
            values = values_of(records)
            for stream, decoder in self._by_topic.get(partition.topic, ()):
                self._process(partition, records, values, stream, decoder)
            offsets[partition] = records[-1].offset + 1
        self._uncommitted.update(offsets)
        if self._commit_due():
            self._checkpoint_and_commit()
        self.metrics.poll_batches.inc()
        self.metrics.batch_duration.observe(time.perf_counter() - started)
        return count

    def _with_held(self, batch: Batch, assigned: set[Partition]) -> Batch:
        """The held batch first, then what this poll brought (records fetched before the
        pause took effect); partitions revoked meanwhile are dropped (their new owner reads
        them from the committed offset)."""
        held, self._held = self._held or {}, None
        merged: dict[Partition, list[RecordLike]] = {}
        for partition, records in [*held.items(), *batch.items()]:
            if partition in assigned:
                merged.setdefault(partition, []).extend(records)
        return merged

    def _schemas_resolved(self, batch: Batch) -> bool:
        """Resolve the schema ids of every record in ``batch``, or hold it: a registry that
        does not answer must not turn records into dead letters."""
        if self._registry is None:
            return True
        try:
            for partition, records in batch.items():
                values = values_of(records)
                for _, decoder in self._by_topic.get(partition.topic, ()):
                    decoder.prepare(values)
        except RegistryUnavailableError as exc:
            self._held = batch
            self.metrics.registry_unavailable.inc()
            if self.health.condition("schema_registry") is not False:
                log.warning("%s; holding %d partition(s) until it does", exc, len(batch))
            self.health.set_condition("schema_registry", False)
            cfg = self.config.schema_registry
            ceiling = cfg.retry_backoff_max if cfg is not None else 30.0
            self._registry_backoff = min(max(0.5, self._registry_backoff * 2), ceiling)
            self._stop.wait(self._registry_backoff)
            return False
        if self._registry_backoff:
            log.info("the schema registry answers again; reading the held records")
            self._registry_backoff = 0.0
        self.health.set_condition("schema_registry", True)
        return True

    def _pause(self, paused: bool) -> None:
        if paused != self._paused:
            self._source.pause(paused)
            self._paused = paused
            if paused:
                log.warning("consumption paused until produced records are acknowledged")
            else:
                log.info("consumption resumed")

    def _process(
        self,
        partition: Partition,
        records: Sequence[RecordLike],
        values: list[bytes | None],
        stream: StreamConfig,
        decoder: StreamDecoder,
    ) -> None:
        decoded = decoder.decode(values, records, partition)
        self._units.observe(stream.name, decoder)
        refused = self.processor.check(stream, decoded)
        if refused:
            gone = {r.index for r in refused}
            keep = [j for j, i in enumerate(decoded.index.tolist()) if i not in gone]
            decoded = _with_rejects(decoded.take(keep), [*decoded.rejected, *refused])
        self.metrics.records_consumed.labels(stream=stream.name).inc(len(values))
        self.metrics.events_decoded.labels(stream=stream.name).inc(len(decoded))
        for rejected in decoded.rejected:
            self._reject(partition, records[rejected.index], stream, rejected.error)
        if decoded.rejected:
            log.debug(
                "%s: %d record(s) rejected in %s", stream.name, len(decoded.rejected), partition
            )
        if not len(decoded):
            return
        times = decoded.timestamps
        finite = times[np.isfinite(times)]
        if finite.size:
            newest = float(finite.max())
            self.metrics.last_event_timestamp.labels(stream=stream.name).set(newest)
            self._skew.observe(stream.name, newest, live=self.caught_up)
        try:
            self.processor.process(stream, decoded, partition)
        except Exception as exc:  # the one catch site: the failure policy decides
            self._processing_failed(exc, partition, records, stream, decoded)

    def _reject(
        self, partition: Partition, record: RecordLike, stream: StreamConfig, error: DecodeError
    ) -> None:
        self.metrics.records_rejected.labels(stream=stream.name, reason=error.reason).inc()
        if self._dead_letters is not None:
            # The key goes along: a tombstone (no value) cannot be produced without one.
            self._dead_letters.send(partition, record.offset, record.value, error, key=record.key)
            self.metrics.dead_letters.labels(stream=stream.name).inc()

    def _processing_failed(
        self,
        exc: Exception,
        partition: Partition,
        records: Sequence[RecordLike],
        stream: StreamConfig,
        batch: DecodedBatch,
    ) -> None:
        self.metrics.processing_errors.labels(stream=stream.name).inc()
        if not self._suppress(exc):
            raise exc
        log.error(
            "%s: processing %d event(s) of %s raised; retrying them one by one, dead-lettering "
            "those that raise again (events before the failing one may count twice)",
            stream.name,
            len(batch),
            partition,
            exc_info=exc,
        )
        for j in range(len(batch)):
            one = batch.take([j])
            try:
                self.processor.process(stream, one, partition)
            except Exception as again:  # same policy, one event at a time
                reason = DecodeError("processing_error", f"{type(again).__name__}: {again}")
                self._reject(partition, records[int(one.index[0])], stream, reason)

    # -- steps 4-6 --------------------------------------------------------------------------

    def _commit_due(self) -> bool:
        """Without checkpoints, after every batch; with them, every checkpoint_interval;
        never inside the backoff after failed acknowledgements."""
        if not self._acks.due() or not self._state.due():
            return False
        return self._checkpoints is None or (
            self._clock() - self._last_checkpoint >= self.config.state.checkpoint_interval
        )

    def _checkpoint_and_commit(self, deadline: float | None = None) -> bool:
        """Steps 4-6: acknowledge side effects, checkpoint state with offsets, commit.

        Returns True when everything up to the last processed record is committed.
        """
        if not self._acks.flush(deadline):
            return False
        try:
            for flush in self._before_commit:
                flush()
            if self._uncommitted and self._checkpoints is not None:
                covered = {**self._resume, **self._uncommitted}
                store = self._checkpoints
                self._writer.run(
                    lambda: store.save(self.processor, covered),
                    self.config.state.write_timeout
                    if deadline is None
                    else min(deadline, self.config.state.write_timeout),
                )
        except StateError as exc:
            # A full or read-only state disk: degrade, do not exit. Nothing is committed (a
            # restart replays from the last good checkpoint), /readyz says 503, and the next
            # try comes after a backoff; nothing is lost once space returns.
            self._state.failed("state not written", exc)
            return False
        self._state.succeeded("state written")
        if not self._uncommitted:
            return True
        if self._checkpoints is not None:
            self._resume = covered
            if self._handover is not None and not self._publish_handover(covered, deadline):
                return False
            self._last_checkpoint = self._clock()
            self.metrics.checkpoints.inc()
        # Partitions revoked meanwhile belong to another member now: their offsets are its to
        # commit, and retrying them here would fail forever.
        with self._lock:
            revoked, self._revoked = self._revoked, set()
            assigned = set(self._assigned)
        for partition in revoked - assigned:
            self._uncommitted.pop(partition, None)
        if self._uncommitted:
            # /status first: once the offsets are committed it shows every event they cover.
            self._publish_status(force=True)
            if self._commit(self._uncommitted):
                self._uncommitted = {}
        return not self._uncommitted

    def _publish_handover(self, covered: dict[Partition, int], deadline: float | None) -> bool:
        assert self._handover is not None
        with self._lock:
            assigned = sorted(self._assigned)
        for partition in assigned:
            if partition in covered and self.processor.owned_by(partition):
                snapshot = self.processor.partition_snapshot(partition, covered[partition])
                self._handover.publish(snapshot)
        try:
            self._handover.flush(
                self.config.kafka.produce_timeout if deadline is None else deadline
            )
        except ProduceError as exc:
            self.metrics.produce_failures.inc()
            log.warning("handover snapshots not acknowledged, not committing: %s", exc)
            return False
        return True

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

    # -- reporting --------------------------------------------------------------------------

    def _report_connection(self) -> None:
        # Not ready while no broker answers: the loop keeps polling and kafka-python
        # reconnects with backoff, so the daemon recovers by itself once the broker is back.
        # Transitions are logged against the previous connection state, not overall readiness
        # (which other conditions also decide), so each loss and return is logged once.
        ok = bool(self._source.connected())
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
        if now - self._last_lag < 5.0:
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
            if not self._checkpoint_and_commit(deadline=self.config.kafka.produce_timeout):
                log.warning("stopping with records not committed: they are read again on start")
        except (DriftdError, OSError) as exc:
            log.error("final checkpoint failed; the last one stays valid: %s", exc)
        try:
            self._source.close()
        finally:
            log.info("driftd stopped")


def _with_rejects(batch: DecodedBatch, rejected: list[Rejected]) -> DecodedBatch:
    return replace(batch, rejected=sorted(rejected, key=lambda r: r.index))
