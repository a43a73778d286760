"""The Kafka source: a kafka-python consumer group with auto-commit off."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from driftd.config.models import KafkaConfig
from driftd.errors import SourceError
from driftd.sources.alignment import Aligner
from driftd.sources.base import AssignmentListener, Batch, Partition

log = logging.getLogger(__name__)

TOPIC_CHECK_AFTER_S = 15.0  # the first metadata has long arrived by then
TOPIC_CHECK_EVERY_S = 60.0


def consumer_options(cfg: KafkaConfig) -> dict[str, Any]:
    """kafka-python options for a consumer (or, minus the group keys, a producer)."""
    options: dict[str, Any] = {
        "bootstrap_servers": list(cfg.bootstrap_servers),
        "client_id": cfg.client_id,
        "security_protocol": cfg.security.protocol,
        # kafka-python 3 backs off up to 30 s between reconnects: after a broker outage the
        # coordinator and then the partition leader each stayed unreachable up to 30 s more
        # (about 50 s before counting resumed, in tests/integration/test_faults.py). 1 s is
        # the Java client's default and cheap for the broker.
        "reconnect_backoff_max_ms": 1000,
        # Creating a client waits for a broker; kafka-python's 30 s would hold start-up and
        # SIGTERM that long with the broker away (the daemon retries: sources/connecting.py).
        "bootstrap_timeout_ms": int(cfg.produce_timeout * 1000),
    }
    sec = cfg.security
    if sec.sasl_mechanism is not None:
        options["sasl_mechanism"] = sec.sasl_mechanism
        options["sasl_plain_username"] = sec.sasl_username
        if sec.sasl_password is not None:
            options["sasl_plain_password"] = sec.sasl_password.get_secret_value()
    for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        value = getattr(sec, key)
        if value is not None:
            options[key] = str(value)
    return options


def release_parked(consumer: Any) -> None:
    """Let kafka-python hand back records it parked for a partition that was paused.

    kafka-python 3.0.12 keeps the parsed records of a partition paused mid-batch aside and
    restores them on resume only when its in-line slot is ``None``; after another partition's
    batch was read to the end the slot holds that empty batch instead, so the resumed
    partition is neither returned nor fetched again: it stalls for good (seen: predictions
    stuck at 1,693,578 of 3,000,000 while their labels were read to the end). Clearing an
    exhausted slot is what kafka-python does itself when it parks one.
    """
    fetcher = getattr(consumer, "_fetcher", None)
    slot = getattr(fetcher, "_next_partition_records", None)
    if slot is not None and not slot and getattr(fetcher, "_paused_partition_records", None):
        fetcher._next_partition_records = None  # type: ignore[union-attr]


class _Listener(ConsumerRebalanceListener):
    # Runs on kafka-python's IO thread: only hand the change over, never block here.
    def __init__(self, on_change: AssignmentListener, aligner: Aligner | None) -> None:
        self._on_change = on_change
        self._aligner = aligner

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        gone = {Partition(tp.topic, tp.partition) for tp in revoked}
        if self._aligner is not None:
            self._aligner.forget(gone)
        self._on_change(set(), gone)

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._on_change({Partition(tp.topic, tp.partition) for tp in assigned}, set())


class KafkaSource:
    """Consumes ``topics`` as a member of the configured consumer group.

    Offsets are never committed automatically: the daemon commits the next offset of each
    partition only after everything read before it has been processed.
    """

    def __init__(
        self,
        cfg: KafkaConfig,
        topics: list[str],
        on_assignment: AssignmentListener,
        consumer_factory: Callable[..., Any] = KafkaConsumer,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cfg = cfg
        skew = cfg.max_read_skew
        self._aligner = (
            Aligner(int(skew * 1000), cfg.max_read_stall, clock=clock) if skew is not None else None
        )
        self._held: set[TopicPartition] = set()
        self._stopped = False  # backpressure: every partition paused
        self._topics = topics
        self._clock = clock
        self._check_topics_at = clock() + TOPIC_CHECK_AFTER_S
        self._missing: set[str] = set()
        options = consumer_options(cfg) | {
            "group_id": cfg.group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": cfg.auto_offset_reset,
            "max_poll_records": cfg.max_poll_records,
            "session_timeout_ms": int(cfg.session_timeout * 1000),
            "heartbeat_interval_ms": int(cfg.heartbeat_interval * 1000),
            "max_poll_interval_ms": int(cfg.max_poll_interval * 1000),
            # Large fetches keep the broker round trips off the per-record cost.
            "fetch_max_bytes": 64 * 1024 * 1024,
            "max_partition_fetch_bytes": 8 * 1024 * 1024,
        }
        try:
            self._consumer = consumer_factory(**options)
        except KafkaError as exc:
            raise SourceError(f"cannot create the Kafka consumer: {exc}") from exc
        self._consumer.subscribe(topics=topics, listener=_Listener(on_assignment, self._aligner))

    def poll(self, timeout_s: float) -> Batch:
        """Records fetched so far, by partition; empty after ``timeout_s`` with none."""
        # Before every poll, not only on resume: the slot may run empty polls after a resume.
        release_parked(self._consumer)
        raw = self._consumer.poll(
            timeout_ms=int(timeout_s * 1000), max_records=self._cfg.max_poll_records
        )
        batch = {Partition(tp.topic, tp.partition): records for tp, records in raw.items()}
        if self._clock() >= self._check_topics_at:
            self._check_topics()
        if self._aligner is not None:
            self._aligner.observe({p: records[-1].timestamp for p, records in batch.items()})
            self._align()
        return batch

    def _check_topics(self) -> None:
        # From the client's metadata cache (no request): kafka-python only logs
        # UNKNOWN_TOPIC_OR_PARTITION over and over for a topic that does not exist.
        self._check_topics_at = self._clock() + TOPIC_CHECK_EVERY_S
        cluster = getattr(self._consumer, "_cluster", None)
        if cluster is None or not cluster.brokers():
            return  # no metadata yet: nothing to conclude
        missing = {t for t in self._topics if cluster.partitions_for_topic(t) is None}
        for topic in sorted(missing - self._missing):
            log.error(
                "topic %r does not exist on the brokers (or this client may not describe it): "
                "nothing is read from it until it does; create it or fix the stream's topic",
                topic,
            )
        for topic in sorted(self._missing - missing):
            log.info("topic %r exists now: reading it", topic)
        self._missing = missing

    def _align(self) -> None:
        # Pause what runs ahead in time, resume what the others caught up with (alignment.py).
        assert self._aligner is not None
        behind = {Partition(tp.topic, tp.partition) for tp in self._behind()}
        ahead = self._aligner.held(behind)
        self._held = {
            tp for tp in self._consumer.assignment() if Partition(tp.topic, tp.partition) in ahead
        }
        self._apply_pauses()

    def _apply_pauses(self) -> None:
        # From the consumer's own paused set: a rebalance may have reset it.
        assigned = self._consumer.assignment()
        wanted = set(assigned) if self._stopped else self._held & assigned
        current = self._consumer.paused()
        if wanted - current:
            self._consumer.pause(*(wanted - current))
        if current - wanted:
            self._consumer.resume(*(current - wanted))

    def _behind(self) -> list[TopicPartition]:
        # Partitions with records left to read, from what the consumer knows (no request).
        out = []
        for tp in self._consumer.assignment():
            high = self._consumer.highwater(tp)
            try:
                position = self._consumer.position(tp, timeout_ms=0)
            except KafkaError:
                continue
            if high is None or position is None or position < high:
                out.append(tp)
        return out

    def commit(self, offsets: dict[Partition, int]) -> None:
        """Commit the next offset to read for each partition (synchronously)."""
        self._consumer.commit(
            {
                TopicPartition(p.topic, p.partition): OffsetAndMetadata(offset, "", -1)
                for p, offset in offsets.items()
            },
            # Never without a deadline: a broker away must not hold the loop (KafkaTimeoutError,
            # and the commit is tried again on a later turn).
            timeout_ms=int(self._cfg.produce_timeout * 1000),
        )

    def seek(self, partition: Partition, offset: int) -> None:
        """Read ``partition`` from ``offset`` next (used on assignment to resume a checkpoint)."""
        self._consumer.seek(TopicPartition(partition.topic, partition.partition), offset)

    def lag(self) -> dict[Partition, int]:
        """Records behind the high watermark per assigned partition, where known."""
        out: dict[Partition, int] = {}
        for tp in self._consumer.assignment():
            high = self._consumer.highwater(tp)
            if high is None:
                continue
            try:
                position = self._consumer.position(tp, timeout_ms=100)
            except KafkaError:
                continue
            out[Partition(tp.topic, tp.partition)] = max(0, high - position)
        return out

    def pause(self, paused: bool) -> None:
        """Stop (or resume) fetching from every assigned partition; polls keep the group.

        Resuming leaves the partitions that run ahead in time paused (``max_read_skew``).
        """
        self._stopped = paused
        self._apply_pauses()

    def caught_up(self) -> bool:
        """Whether one more poll would drain every assigned partition.

        From what the consumer already knows (high watermarks of the last fetch responses,
        positions), so it costs no request. A partition not fetched yet counts as behind.
        """
        behind = 0
        for tp in self._consumer.assignment():
            high = self._consumer.highwater(tp)
            if high is None:
                return False
            try:
                position = self._consumer.position(tp, timeout_ms=0)
            except KafkaError:
                return False
            if position is None:
                return False
            behind += max(0, high - position)
        return behind < self._cfg.max_poll_records

    def connected(self) -> bool:
        """Whether the consumer currently has a live connection to any broker."""
        client = getattr(self._consumer, "_client", None)
        if client is None:
            return True
        try:
            # A live connection, not a usable node: least_loaded_node() also names a node that
            # is merely due for a reconnect attempt, so readiness flapped during an outage.
            # The id is ``node_id`` in kafka-python 3 (``nodeId`` raises AttributeError, which
            # is no KafkaError and ends the loop). The group coordinator's own connection is
            # not counted: it returns before the fetch connection, and ready means fetching.
            return any(client.connected(b.node_id) for b in client.cluster.brokers())
        except KafkaError:
            return False

    def close(self) -> None:
        """Leave the group and close connections (offsets were committed by the caller)."""
        self._consumer.close(autocommit=False, timeout_ms=int(self._cfg.produce_timeout * 1000))
