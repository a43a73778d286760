"""The Kafka source: a kafka-python consumer group with auto-commit off."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from driftd.config.models import KafkaConfig
from driftd.errors import SourceError
from driftd.sources.base import AssignmentListener, Batch, Partition

log = logging.getLogger(__name__)


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


class _Listener(ConsumerRebalanceListener):
    # Runs on kafka-python's IO thread: only hand the change over, never block here.
    def __init__(self, on_change: AssignmentListener) -> None:
        self._on_change = on_change

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self._on_change(set(), {Partition(tp.topic, tp.partition) for tp in revoked})

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
    ) -> None:
        self._cfg = cfg
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
        self._consumer.subscribe(topics=topics, listener=_Listener(on_assignment))

    def poll(self, timeout_s: float) -> Batch:
        """Records fetched so far, by partition; empty after ``timeout_s`` with none."""
        raw = self._consumer.poll(
            timeout_ms=int(timeout_s * 1000), max_records=self._cfg.max_poll_records
        )
        return {Partition(tp.topic, tp.partition): records for tp, records in raw.items()}

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
        """Stop (or resume) fetching from every assigned partition; polls keep the group."""
        if paused:
            self._consumer.pause(*self._consumer.assignment())
        else:
            self._consumer.resume(*self._consumer.paused())

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
