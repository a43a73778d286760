"""RdKafkaSource and RdProducer against fakes of confluent-kafka's consumer and producer.

The fakes keep the real client's types (TopicPartition, KafkaError, KafkaException) and its
calling conventions: rebalance callbacks run inside poll(), consume(n, 0) returns what is
buffered, a synchronous commit may block. The real broker runs them in tests/integration
(scripts/test.sh runs the Kafka suites on both clients).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from driftd.config.models import KafkaConfig
from driftd.errors import SourceError
from driftd.producing import AckedProducer, Outgoing, ProduceError
from driftd.rdproducer import RdProducer
from driftd.sources.base import Partition
from driftd.sources.rdkafka import RdKafkaSource

P0 = Partition("t", 0)
P1 = Partition("t", 1)


class FakeMessage:
    def __init__(
        self, topic: str, partition: int, offset: int, value: bytes | None, error: Any = None
    ) -> None:
        self._t, self._p, self._o, self._v, self._e = topic, partition, offset, value, error

    def topic(self) -> str:
        return self._t

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o

    def value(self) -> bytes | None:
        return self._v

    def key(self) -> bytes | None:
        return b"k"

    def headers(self) -> list[tuple[str, bytes]] | None:
        return [("ce_id", b"1")]

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000 + self._o)

    def error(self) -> Any:
        return self._e


class FakeConsumer:
    """Buffered messages, a pending assignment served by the next poll, blocking commits."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.buffer: list[FakeMessage] = []
        self.pending_assignment: list[TopicPartition] | None = None
        self.assigned: list[TopicPartition] = []
        self.paused: set[tuple[str, int]] = set()
        self.seeks: list[TopicPartition] = []
        self.commit_gate = threading.Event()
        self.commit_gate.set()
        self.commit_result: list[TopicPartition] | None = None
        self.commits: list[list[TopicPartition]] = []
        self.high: dict[tuple[str, int], int] = {}
        self.positions: dict[tuple[str, int], int] = {}
        self.polls: list[float] = []
        self.group_offsets: dict[int, int] = {}
        self.committed_asked = 0

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        self.topics = topics
        self.callbacks = callbacks

    def poll(self, timeout: float) -> FakeMessage | None:
        self.polls.append(timeout)
        if self.pending_assignment is not None:
            partitions, self.pending_assignment = self.pending_assignment, None
            self.callbacks["on_assign"](self, partitions)
        return self.buffer.pop(0) if self.buffer else None

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        assert timeout == 0, "the source must not wait for a full batch"
        out, self.buffer = self.buffer[:num_messages], self.buffer[num_messages:]
        return out

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = list(partitions)

    def unassign(self) -> None:
        self.assigned = []

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.paused |= {(tp.topic, tp.partition) for tp in partitions}

    def resume(self, partitions: list[TopicPartition]) -> None:
        self.paused -= {(tp.topic, tp.partition) for tp in partitions}

    def seek(self, tp: TopicPartition) -> None:
        self.seeks.append(tp)

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [
            TopicPartition(
                tp.topic, tp.partition, self.positions.get((tp.topic, tp.partition), -1001)
            )
            for tp in partitions
        ]

    def get_watermark_offsets(self, tp: TopicPartition, cached: bool = False) -> tuple[int, int]:
        assert cached, "lag and caught_up must cost no request"
        return (0, self.high.get((tp.topic, tp.partition), -1001))

    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        assert timeout > 0, "asking the coordinator needs a deadline"
        self.committed_asked += 1
        return [
            TopicPartition(tp.topic, tp.partition, self.group_offsets.get(tp.partition, -1001))
            for tp in partitions
        ]

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> list[TopicPartition]:
        assert not asynchronous
        self.commit_gate.wait()
        self.commits.append(offsets)
        return self.commit_result if self.commit_result is not None else offsets

    def close(self) -> None:
        self.closed = True


def _source(
    consumer: FakeConsumer | None = None, changes: list[Any] | None = None, **kafka: Any
) -> tuple[RdKafkaSource, FakeConsumer]:
    made: list[FakeConsumer] = []

    def factory(options: dict[str, Any]) -> FakeConsumer:
        made.append(consumer or FakeConsumer(options))
        made[0].options = options
        return made[0]

    record = changes.append if changes is not None else (lambda change: None)
    cfg = KafkaConfig(bootstrap_servers=["127.0.0.1:9092"], max_read_skew=None, **kafka)
    source = RdKafkaSource(cfg, ["t"], lambda a, r: record((a, r)), consumer_factory=factory)
    return source, made[0]


def test_the_options_say_what_the_daemon_relies_on() -> None:
    _, consumer = _source(client_id="me", group_id="g")
    o = consumer.options
    assert o["enable.auto.commit"] is False
    assert o["group.id"] == "g" and o["client.id"] == "me"
    assert o["bootstrap.servers"] == "127.0.0.1:9092"
    assert o["statistics.interval.ms"] > 0 and callable(o["stats_cb"])
    assert isinstance(o["logger"], logging.Logger)


def test_a_poll_waits_for_the_first_record_only_and_groups_by_partition() -> None:
    source, consumer = _source()
    consumer.buffer = [
        FakeMessage("t", 0, 5, b"a"),
        FakeMessage("t", 0, 6, b"b"),
        FakeMessage("t", 1, 9, b"c"),
        FakeMessage("t", 0, 7, b"d"),
    ]
    batch = source.poll(0.5)
    assert consumer.polls == [0.5]
    assert [r.offset for r in batch[P0]] == [5, 6, 7]
    assert [r.value for r in batch[P1]] == [b"c"]
    r = batch[P0][0]
    assert (r.key, r.timestamp, r.headers) == (b"k", 1_700_000_000_005, [("ce_id", b"1")])
    assert source.poll(0.2) == {}


def test_a_missing_topic_is_logged_once_a_minute_and_is_no_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source, consumer = _source()
    missing = KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)
    consumer.buffer = [FakeMessage("t", 0, -1, None, missing) for _ in range(3)]
    with caplog.at_level(logging.ERROR):
        assert source.poll(0.1) == {}
    assert sum("does not exist" in r.message for r in caplog.records) == 1


def test_a_fatal_client_error_ends_the_poll_with_a_source_error() -> None:
    source, consumer = _source()
    consumer.buffer = [FakeMessage("t", 0, -1, None, KafkaError(KafkaError._FATAL, fatal=True))]
    with pytest.raises(SourceError, match="fatal"):
        source.poll(0.1)


def test_a_seek_made_while_the_assignment_is_handed_over_goes_into_assign() -> None:
    changes: list[Any] = []
    holder: list[RdKafkaSource] = []

    def on_change(assigned: set[Partition], revoked: set[Partition]) -> None:
        changes.append((assigned, revoked))
        if P0 in assigned:
            holder[0].seek(P0, 42)  # the daemon resumes its checkpoint here

    consumer = FakeConsumer({})
    cfg = KafkaConfig(bootstrap_servers=["127.0.0.1:9092"], max_read_skew=None)
    source = RdKafkaSource(cfg, ["t"], on_change, consumer_factory=lambda o: consumer)
    holder.append(source)
    consumer.pending_assignment = [TopicPartition("t", 0), TopicPartition("t", 1)]
    source.poll(0.1)
    assert changes == [({P0, P1}, set())]
    assert [(tp.partition, tp.offset) for tp in consumer.assigned] == [(0, 42), (1, -1001)]
    assert consumer.seeks == []  # not seek(): the partition is not fetched yet
    source.seek(P1, 7)  # once assigned, a seek is a seek
    assert [(tp.partition, tp.offset) for tp in consumer.seeks] == [(1, 7)]
    consumer.callbacks["on_revoke"](consumer, [TopicPartition("t", 0)])
    assert changes[-1] == (set(), {P0})


def test_lag_and_caught_up_come_from_cached_watermarks() -> None:
    source, consumer = _source(max_poll_records=100)
    consumer.pending_assignment = [TopicPartition("t", 0), TopicPartition("t", 1)]
    source.poll(0.1)
    assert not source.caught_up()  # nothing known yet
    consumer.high = {("t", 0): 1000, ("t", 1): 50}
    consumer.positions = {("t", 0): 990, ("t", 1): 10}
    assert source.lag() == {P0: 10, P1: 40}
    assert source.caught_up()  # 50 left < 100 per poll
    consumer.positions[("t", 1)] = -1001
    assert source.lag() == {P0: 10}
    assert not source.caught_up()


def test_a_partition_with_nothing_read_yet_is_caught_up_at_its_start() -> None:
    # librdkafka has no position before a partition's first record: an empty partition, or
    # one whose group committed its end, must still count as caught up (not behind forever).
    clock = [0.0]
    consumer = FakeConsumer({})
    cfg = KafkaConfig(bootstrap_servers=["127.0.0.1:9092"], max_read_skew=None)

    def factory(options: dict[str, Any]) -> FakeConsumer:
        consumer.options = options
        return consumer

    source = RdKafkaSource(
        cfg, ["t"], lambda a, r: None, consumer_factory=factory, clock=lambda: clock[0]
    )
    consumer.pending_assignment = [TopicPartition("t", 0), TopicPartition("t", 1)]
    source.poll(0.1)
    consumer.high = {("t", 0): 0, ("t", 1): 500}
    consumer.group_offsets = {1: 500}
    assert not source.caught_up()  # not asked: no broker known to be up yet
    assert consumer.committed_asked == 0
    consumer.options["stats_cb"](
        json.dumps({"brokers": {"b/1": {"state": "UP", "source": "learned"}}})
    )
    assert source.caught_up()  # t/0 empty (earliest: its low mark), t/1 at its committed end
    assert source.lag() == {P0: 0, P1: 0}
    assert consumer.committed_asked == 1  # learned once, not asked again
    consumer.high[("t", 1)] = 900_000
    assert not source.caught_up()


def test_pause_and_resume_cover_the_whole_assignment() -> None:
    source, consumer = _source()
    consumer.pending_assignment = [TopicPartition("t", 0), TopicPartition("t", 1)]
    source.poll(0.1)
    source.pause(True)
    assert consumer.paused == {("t", 0), ("t", 1)}
    source.pause(False)
    assert consumer.paused == set()


def test_a_commit_that_hangs_gives_up_at_its_deadline_and_refuses_the_next() -> None:
    source, consumer = _source(produce_timeout=0.3)
    consumer.commit_gate.clear()
    started = time.monotonic()
    with pytest.raises(SourceError, match="not acknowledged within"):
        source.commit({P0: 10})
    assert time.monotonic() - started < 2.0
    with pytest.raises(SourceError, match="still waiting"):
        source.commit({P0: 11})
    consumer.commit_gate.set()
    time.sleep(0.05)
    source.commit({P0: 12})
    assert [[(tp.partition, tp.offset) for tp in c] for c in consumer.commits] == [
        [(0, 10)],
        [(0, 12)],
    ]


def test_a_commit_refused_for_one_partition_is_a_source_error() -> None:
    source, consumer = _source()
    # What the client returns: each partition with its own error (None when committed).
    done = SimpleNamespace(topic="t", partition=0, offset=3, error=None)
    bad = SimpleNamespace(
        topic="t", partition=1, offset=5, error=KafkaError(KafkaError.REBALANCE_IN_PROGRESS)
    )
    consumer.commit_result = [done, bad]  # type: ignore[list-item]
    with pytest.raises(SourceError, match=r"t\[1\]"):
        source.commit({P0: 3, P1: 5})


def test_connected_follows_the_client_statistics() -> None:
    source, consumer = _source()
    stats = consumer.options["stats_cb"]
    assert not source.connected()  # nothing known yet
    up = {"brokers": {"a:1/1": {"state": "UP", "source": "learned"}}}
    down = {
        "brokers": {
            "a:1/1": {"state": "TRY_CONNECT", "source": "learned"},
            "GroupCoordinator": {"state": "UP", "source": "logical"},
        }
    }
    stats(json.dumps(up))
    assert source.connected()
    stats(json.dumps(down))
    assert not source.connected()  # the logical coordinator entry does not count
    stats("not json")
    assert not source.connected()


class FakeProducer:
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.queued: list[tuple[str, Any]] = []
        self.outcome: Any = None  # error to report, or None for success
        self.full = False

    def produce(self, topic: str, **kw: Any) -> None:
        if self.full:
            raise BufferError("Local: Queue full")
        self.queued.append((topic, kw["on_delivery"]))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        for _, report in self.queued:
            report(self.outcome, None)
        self.queued = []
        return 0


def test_acked_producer_on_librdkafka_keeps_what_failed_or_was_refused_and_resends_it() -> None:
    made: list[FakeProducer] = []

    def factory(options: dict[str, Any]) -> FakeProducer:
        made.append(FakeProducer(options))
        return made[0]

    producer = AckedProducer(RdProducer({"bootstrap.servers": "x:1"}, producer_factory=factory))
    fake = made[0]
    assert fake.options["acks"] == "all" and fake.options["enable.idempotence"] is True
    producer.send(Outgoing("dlq", b"a"))
    fake.outcome = KafkaError(KafkaError._MSG_TIMED_OUT)
    with pytest.raises(ProduceError, match="1 record"):
        producer.flush(1.0)
    assert producer.pending == 1 and len(fake.queued) == 1  # sent again at once
    fake.outcome = None
    producer.flush(1.0)
    assert producer.pending == 0
    fake.full = True
    producer.send(Outgoing("dlq", b"b"))  # refused before queueing: kept, not raised
    with pytest.raises(ProduceError):
        producer.flush(1.0)
    fake.full = False
    with pytest.raises(ProduceError, match="failed"):
        producer.flush(1.0)  # the refused record counts as failed once, and is sent again
    assert len(fake.queued) == 1
    producer.flush(1.0)
    assert producer.pending == 0


def test_a_client_that_cannot_be_made_is_a_source_error() -> None:
    def factory(options: dict[str, Any]) -> Any:
        raise KafkaException(KafkaError(KafkaError._INVALID_ARG, "bad property"))

    cfg = KafkaConfig(bootstrap_servers=["127.0.0.1:9092"])
    with pytest.raises(SourceError, match="librdkafka"):
        RdKafkaSource(cfg, ["t"], lambda a, r: None, consumer_factory=factory)


def test_no_broker_is_said_once_a_minute_and_its_return_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = [0.0]
    consumer = FakeConsumer({})

    def factory(options: dict[str, Any]) -> FakeConsumer:
        consumer.options = options
        return consumer

    cfg = KafkaConfig(bootstrap_servers=["127.0.0.1:9092"], max_read_skew=None)
    source = RdKafkaSource(
        cfg, ["t"], lambda a, r: None, consumer_factory=factory, clock=lambda: clock[0]
    )
    consumer.options["error_cb"](KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    with caplog.at_level(logging.INFO, logger="driftd.sources.rdkafka"):
        for t in (1.0, 6.0, 30.0, 70.0):
            clock[0] = t
            source.poll(0.1)
        up = {"brokers": {"b/1": {"state": "UP", "source": "learned"}}}
        consumer.options["stats_cb"](json.dumps(up))
        source.poll(0.1)
    lines = [r.getMessage() for r in caplog.records]
    unreachable = [line for line in lines if "cannot reach the Kafka brokers" in line]
    assert len(unreachable) == 2, lines  # at 6 s and at 70 s
    assert "1/1 brokers are down" in unreachable[0]
    assert sum("connected to the Kafka brokers" in line for line in lines) == 1


def test_sasl_and_tls_settings_become_librdkafka_properties_it_accepts(tmp_path: Any) -> None:
    from confluent_kafka import Consumer, Producer

    from driftd.sources.rdkafka import rdkafka_options

    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    sasl = KafkaConfig(
        bootstrap_servers=["a:9093", "b:9093"],
        security={
            "protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "driftd",
            "sasl_password_file": str(secret),
        },
    )
    options = rdkafka_options(sasl)
    assert options["bootstrap.servers"] == "a:9093,b:9093"
    assert options["security.protocol"] == "sasl_plaintext"
    assert (options["sasl.mechanism"], options["sasl.username"]) == ("SCRAM-SHA-512", "driftd")
    assert options["sasl.password"] == "s3cret"
    # The client itself accepts every property (a misspelt one raises here): no broker needed.
    Producer(options).flush(0)
    Consumer(options | {"group.id": "g"}).close()
    tls = KafkaConfig(
        bootstrap_servers=["a:9093"],
        security={
            "protocol": "SSL",
            "ssl_cafile": "/etc/ca.pem",
            "ssl_certfile": "/etc/c.pem",
            "ssl_keyfile": "/etc/k.pem",
        },
    )
    options = rdkafka_options(tls)
    assert options["security.protocol"] == "ssl"
    assert (options["ssl.ca.location"], options["ssl.certificate.location"]) == (
        "/etc/ca.pem",
        "/etc/c.pem",
    )
    assert options["ssl.key.location"] == "/etc/k.pem"
