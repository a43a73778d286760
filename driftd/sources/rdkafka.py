"""The Kafka source on librdkafka (confluent-kafka's consumer): ``kafka.client: librdkafka``.

The same contract as :class:`driftd.sources.kafka.KafkaSource` (manual commits of the next
offset after the checkpoint, rebalances handed to the daemon, seek on restore, lag, pause,
read alignment), on a client that reads a record in about 2 µs where kafka-python spends 11.

What differs from kafka-python, and how it is kept the same for the daemon:

- librdkafka calls the rebalance callbacks *inside* ``consume()`` on the loop's thread, and a
  partition's start offset is given in the ``assign()`` call (``seek()`` works only on a
  partition already being fetched). So a seek made while an assignment is handed over is
  remembered and passed to ``assign()``.
- ``consume(n, timeout)`` waits until it has ``n`` records or the time is up; a trickle of
  traffic would wait the whole poll timeout per batch. The source waits for the first record
  with ``poll(timeout)`` and then takes what is already fetched without waiting.
- A synchronous ``commit()`` has no deadline of its own. It runs on a helper thread and the
  loop waits at most ``produce_timeout``; a commit still under way refuses the next one.
- Connection state comes from librdkafka's statistics (every second): connected while any
  broker's connection is up.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, overload

import msgspec

from driftd.config.models import KafkaConfig
from driftd.errors import SourceError
from driftd.logs import CLIENT_LOGGER
from driftd.sources.alignment import Aligner
from driftd.sources.base import AssignmentListener, Batch, Partition

log = logging.getLogger(__name__)
client_log = logging.getLogger(CLIENT_LOGGER)

STATISTICS_INTERVAL_MS = 1000
MISSING_TOPIC_LOG_EVERY_S = 60.0
START_QUERY_EVERY_S = 2.0
START_QUERY_TIMEOUT_S = 1.0
# No broker for this long (from creation, or from the last one lost) is said in driftd's log,
# then once a minute while it lasts: librdkafka retries by itself and never raises for it.
UNREACHABLE_AFTER_S = 5.0
UNREACHABLE_LOG_EVERY_S = 60.0
_UNKNOWN = -1001  # librdkafka's OFFSET_INVALID: no position or watermark known
_decode_stats = msgspec.json.Decoder().decode


def rdkafka_options(cfg: KafkaConfig) -> dict[str, Any]:
    """librdkafka properties shared by the consumer and the producers."""
    sec = cfg.security
    options: dict[str, Any] = {
        "bootstrap.servers": ",".join(cfg.bootstrap_servers),
        "client.id": cfg.client_id,
        "security.protocol": sec.protocol.lower(),
        # The same reconnect backoff as the kafka-python path (sources/kafka.py says why).
        "reconnect.backoff.max.ms": 1000,
        # The client's own lines go to driftd's log (not straight to stderr).
        "logger": client_log,
    }
    if sec.sasl_mechanism is not None:
        options["sasl.mechanism"] = sec.sasl_mechanism
        if sec.sasl_username is not None:
            options["sasl.username"] = sec.sasl_username
        if sec.sasl_password is not None:
            options["sasl.password"] = sec.sasl_password.get_secret_value()
    for ours, theirs in (
        ("ssl_cafile", "ssl.ca.location"),
        ("ssl_certfile", "ssl.certificate.location"),
        ("ssl_keyfile", "ssl.key.location"),
    ):
        value = getattr(sec, ours)
        if value is not None:
            options[theirs] = str(value)
    return options


class RdRecord:
    """One record as the loop reads it (attributes, where confluent-kafka has methods).

    The offset and value, which the loop reads for every record, are taken at once; the rest
    (read for record paths, dead letters and the last record of a batch) when asked for,
    which saves three method calls and a tuple per record.
    """

    __slots__ = ("_message", "offset", "value")

    def __init__(self, message: Any) -> None:
        self._message = message
        self.offset: int = message.offset()
        self.value: bytes | None = message.value()

    @property
    def timestamp(self) -> int:
        """Milliseconds since the epoch, as the producer or broker set it."""
        return int(self._message.timestamp()[1])

    @property
    def key(self) -> bytes | None:
        """The record key."""
        return self._message.key()

    @property
    def headers(self) -> list[tuple[str, bytes]] | None:
        """The record headers, in order."""
        return self._message.headers()


class RdRecords(Sequence[RdRecord]):
    """One partition's records of a poll, kept as confluent-kafka's messages: a record
    object is made only for a record read by index or iteration; the loop takes the values
    of all of them in one pass (``record_values``) and the offset of the last."""

    __slots__ = ("messages",)

    def __init__(self, messages: list[Any] | None = None) -> None:
        self.messages: list[Any] = messages if messages is not None else []

    def __len__(self) -> int:
        return len(self.messages)

    @overload
    def __getitem__(self, i: int) -> RdRecord: ...
    @overload
    def __getitem__(self, i: slice) -> RdRecords: ...
    def __getitem__(self, i: int | slice) -> RdRecord | RdRecords:
        if isinstance(i, slice):
            return RdRecords(self.messages[i])
        return RdRecord(self.messages[i])

    def __iter__(self) -> Iterator[RdRecord]:
        return map(RdRecord, self.messages)

    def record_values(self) -> list[bytes | None]:
        """Every record's value, in order."""
        return [m.value() for m in self.messages]


class RdKafkaSource:
    """Consumes ``topics`` as a member of the configured consumer group, on librdkafka.

    ``consumer_factory`` makes the consumer from its properties (confluent_kafka.Consumer;
    tests pass another). Offsets are never committed automatically.
    """

    def __init__(
        self,
        cfg: KafkaConfig,
        topics: list[str],
        on_assignment: AssignmentListener,
        consumer_factory: Callable[..., Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        self._TopicPartition = TopicPartition
        self._KafkaException = KafkaException
        self._cfg = cfg
        self._topics = topics
        self._on_change = on_assignment
        self._clock = clock
        skew = cfg.max_read_skew
        self._aligner = (
            Aligner(int(skew * 1000), cfg.max_read_stall, clock=clock) if skew is not None else None
        )
        self._assigned: set[Partition] = set()
        self._paused: set[Partition] = set()
        self._held: set[Partition] = set()
        self._stopped = False
        self._seeks: dict[Partition, int] | None = None  # set while an assignment is handed over
        # Where each assigned partition's reading starts: librdkafka has no position for a
        # partition until a record of it is read, so a caught-up partition looked behind.
        self._starts: dict[Partition, int] = {}
        self._starts_asked_at = -float("inf")
        self._up: bool | None = None  # from the statistics; None until the first
        self._down_since = clock()
        self._down_logged_at: float | None = None
        self._last_error = "no broker has answered yet"
        self._missing_logged: dict[str, float] = {}
        self._committing: concurrent.futures.Future[Any] | None = None
        self._committer = concurrent.futures.ThreadPoolExecutor(1, "driftd-commit")
        options = rdkafka_options(cfg) | {
            "group.id": cfg.group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": cfg.auto_offset_reset,
            "session.timeout.ms": int(cfg.session_timeout * 1000),
            "heartbeat.interval.ms": int(cfg.heartbeat_interval * 1000),
            "max.poll.interval.ms": int(cfg.max_poll_interval * 1000),
            "fetch.max.bytes": 64 * 1024 * 1024,
            "max.partition.fetch.bytes": 8 * 1024 * 1024,
            # librdkafka stops fetching a partition while its local queue holds more than
            # queued.min.messages, then waits fetch.queue.backoff.ms (1 s by default) before
            # the next fetch. A poll batch of 20,000 drained a 100,000 queue faster than that
            # and the loop sat idle: bench/pipeline.py measured 123k events/s with the defaults
            # against 231k with a queue of several batches. The queue stays bounded in bytes
            # by queued.max.messages.kbytes (64 MiB).
            "queued.min.messages": max(100_000, 5 * cfg.max_poll_records),
            "fetch.queue.backoff.ms": 10,
            "statistics.interval.ms": STATISTICS_INTERVAL_MS,
            "stats_cb": self._on_stats,
            "error_cb": self._on_error,
        }
        if consumer_factory is None:
            from confluent_kafka import Consumer

            consumer_factory = Consumer
        try:
            self._consumer = consumer_factory(options)
            self._consumer.subscribe(
                topics,
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_revoke,
            )
        except (KafkaException, ValueError, TypeError) as exc:
            raise SourceError(f"cannot create the Kafka consumer (librdkafka): {exc}") from exc

    # -- callbacks (all run inside consume/poll, on the loop's thread) ----------------------

    def _tp(self, partition: Partition, offset: int = _UNKNOWN) -> Any:
        return self._TopicPartition(partition.topic, partition.partition, offset)

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        assigned = {Partition(tp.topic, tp.partition) for tp in partitions}
        self._seeks = {}
        try:
            self._on_change(assigned, set())
            seeks = self._seeks
        finally:
            self._seeks = None
        self._assigned |= assigned
        self._starts.update(seeks)
        # Without a seek, OFFSET_INVALID: the committed offset (or auto.offset.reset).
        consumer.assign([self._tp(p, seeks.get(p, _UNKNOWN)) for p in sorted(assigned)])
        self._paused -= assigned  # a new assignment starts unpaused
        self._apply_pauses()

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        gone = {Partition(tp.topic, tp.partition) for tp in partitions}
        if self._aligner is not None:
            self._aligner.forget(gone)
        self._assigned -= gone
        for partition in gone:
            self._starts.pop(partition, None)
        self._paused -= gone
        self._held -= gone
        self._on_change(set(), gone)
        consumer.unassign()

    def _on_stats(self, text: str) -> None:
        try:
            brokers = _decode_stats(text).get("brokers", {})
        except (msgspec.DecodeError, AttributeError):
            return
        # Configured and learned brokers, not the logical (coordinator) or internal entries.
        self._set_up(
            any(
                b.get("state") == "UP"
                for b in brokers.values()
                if isinstance(b, dict) and b.get("source") in ("configured", "learned")
            )
        )

    def _set_up(self, up: bool) -> None:
        if up and self._down_logged_at is not None:
            log.info(
                "connected to the Kafka brokers %s after %.0fs without one",
                ",".join(self._cfg.bootstrap_servers),
                self._clock() - self._down_since,
            )
            self._down_logged_at = None
        if not up and self._up is not False:
            self._down_since = self._clock()
        self._up = up

    def _say_unreachable(self) -> None:
        # From poll: the statistics and errors arrive inside it.
        now = self._clock()
        if self._up or now - self._down_since < UNREACHABLE_AFTER_S:
            return
        if (
            self._down_logged_at is not None
            and now - self._down_logged_at < UNREACHABLE_LOG_EVERY_S
        ):
            return
        self._down_logged_at = now
        log.error(
            "cannot reach the Kafka brokers %s (for %.0fs): %s; librdkafka keeps retrying, "
            "/readyz answers 503 meanwhile",
            ",".join(self._cfg.bootstrap_servers),
            now - self._down_since,
            self._last_error,
        )

    def _on_error(self, error: Any) -> None:
        from confluent_kafka import KafkaError

        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._set_up(False)
        self._last_error = error.str()
        if error.fatal():
            log.error("librdkafka fatal error: %s", error.str())
        else:
            # Transport errors repeat while a broker is away; the client retries by itself.
            log.debug("librdkafka: %s", error.str())

    # -- the Source protocol ----------------------------------------------------------------

    def poll(self, timeout_s: float) -> Batch:
        """Records fetched so far, by partition; empty after ``timeout_s`` with none."""
        try:
            first = self._consumer.poll(timeout_s)
            messages = [] if first is None else [first]
            if first is not None and self._cfg.max_poll_records > 1:
                messages += self._consumer.consume(self._cfg.max_poll_records - 1, 0)
        except self._KafkaException as exc:
            raise SourceError(f"poll failed (librdkafka): {exc}") from exc
        except RuntimeError as exc:  # a closed consumer
            raise SourceError(f"poll on a closed consumer: {exc}") from exc
        batch: dict[Partition, RdRecords] = {}
        current: list[Any] | None = None  # the messages of the partition being filled
        current_key: tuple[str, int] | None = None
        for m in messages:
            error = m.error()
            if error is not None:
                self._on_message_error(m, error)
                continue
            key = (m.topic(), m.partition())
            if key != current_key:
                current_key = key
                current = batch.setdefault(Partition(*key), RdRecords()).messages
            assert current is not None
            current.append(m)
        if batch:
            self._set_up(True)  # records came: a broker answers, whatever the statistics said
        self._say_unreachable()
        if self._aligner is not None:
            self._aligner.observe({p: records[-1].timestamp for p, records in batch.items()})
            self._align()
        return batch

    def _on_message_error(self, message: Any, error: Any) -> None:
        from confluent_kafka import KafkaError

        code = error.code()
        if code == KafkaError._PARTITION_EOF:
            return
        if code in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
            topic = message.topic() or "?"
            now = self._clock()
            if now - self._missing_logged.get(topic, -float("inf")) >= MISSING_TOPIC_LOG_EVERY_S:
                self._missing_logged[topic] = now
                log.error(
                    "topic %r does not exist on the brokers (or this client may not describe "
                    "it): nothing is read from it until it does; create it or fix the stream's "
                    "topic",
                    topic,
                )
            return
        if error.fatal():
            raise SourceError(f"librdkafka fatal consumer error: {error.str()}")
        log.warning("consumer error on %s [%s]: %s", message.topic(), message.partition(), error)

    def _align(self) -> None:
        assert self._aligner is not None
        self._held = self._aligner.held(set(self._behind())) & self._assigned
        self._apply_pauses()

    def _apply_pauses(self) -> None:
        wanted = set(self._assigned) if self._stopped else self._held & self._assigned
        try:
            if wanted - self._paused:
                self._consumer.pause([self._tp(p) for p in sorted(wanted - self._paused)])
            if self._paused - wanted:
                self._consumer.resume([self._tp(p) for p in sorted(self._paused - wanted)])
        except self._KafkaException as exc:
            # A partition revoked in between: the next turn works from the new assignment.
            log.debug("pause/resume failed: %s", exc)
            return
        self._paused = wanted

    def _positions(self) -> Iterable[tuple[Partition, int | None, int | None]]:
        # (partition, position, high watermark) from what the client knows (no request).
        if not self._assigned:
            return []
        try:
            positions = self._consumer.position([self._tp(p) for p in sorted(self._assigned)])
        except (self._KafkaException, RuntimeError):
            return []
        out = []
        unknown = []
        for tp in positions:
            partition = Partition(tp.topic, tp.partition)
            try:
                marks = self._consumer.get_watermark_offsets(tp, cached=True)
            except (self._KafkaException, RuntimeError):
                marks = None
            low = marks[0] if marks is not None and marks[0] >= 0 else None
            high = marks[1] if marks is not None and marks[1] >= 0 else None
            position = tp.offset if tp.offset >= 0 else self._starts.get(partition)
            if position is None:
                unknown.append((partition, low, high))
            out.append((partition, position, high))
        if unknown and self._resolve_starts(unknown):
            return self._positions()
        return out

    def _resolve_starts(self, unknown: list[tuple[Partition, int | None, int | None]]) -> bool:
        """Learn where reading starts for partitions with nothing read yet: the committed
        offset, else the end auto.offset.reset names. At most every few seconds, since it
        asks the coordinator (with a deadline); True when some start was learned."""
        now = self._clock()
        if not self._up or now - self._starts_asked_at < START_QUERY_EVERY_S:
            return False
        self._starts_asked_at = now
        try:
            committed = self._consumer.committed(
                [self._tp(p) for p, _, _ in unknown], timeout=START_QUERY_TIMEOUT_S
            )
        except (self._KafkaException, RuntimeError) as exc:
            log.debug("committed offsets not known yet: %s", exc)
            return False
        marks = {p: (low, high) for p, low, high in unknown}
        learned = False
        for tp in committed:
            partition = Partition(tp.topic, tp.partition)
            low, high = marks.get(partition, (None, None))
            if tp.offset >= 0:
                start: int | None = tp.offset
            else:
                start = low if self._cfg.auto_offset_reset == "earliest" else high
            if start is not None and partition in self._assigned:
                self._starts[partition] = start
                learned = True
        return learned

    def _behind(self) -> list[Partition]:
        # No position yet (nothing read) counts as behind, as does one below the watermark.
        return [
            p
            for p, position, high in self._positions()
            if high is None or position is None or (position < high)
        ]

    def commit(self, offsets: dict[Partition, int]) -> None:
        """Commit the next offset to read for each partition, waiting at most
        ``produce_timeout`` (the commit goes on in the background and the next one waits)."""
        if self._committing is not None and not self._committing.done():
            raise SourceError("the previous offset commit is still waiting for the broker")
        tps = [self._tp(p, offset) for p, offset in sorted(offsets.items())]
        self._committing = self._committer.submit(
            self._consumer.commit, offsets=tps, asynchronous=False
        )
        try:
            result = self._committing.result(timeout=self._cfg.produce_timeout)
        except concurrent.futures.TimeoutError:
            raise SourceError(
                f"offset commit not acknowledged within {self._cfg.produce_timeout:.0f}s"
            ) from None
        except (self._KafkaException, RuntimeError) as exc:
            raise SourceError(f"offset commit failed: {exc}") from exc
        failed = [f"{tp.topic}[{tp.partition}]: {tp.error}" for tp in result or () if tp.error]
        if failed:
            raise SourceError(f"offset commit failed for {', '.join(failed)}")

    def seek(self, partition: Partition, offset: int) -> None:
        """Read ``partition`` from ``offset`` next (on assignment, to resume a checkpoint)."""
        if self._seeks is not None:
            self._seeks[partition] = offset  # passed to assign() once the handover returns
            return
        try:
            self._consumer.seek(self._tp(partition, offset))
        except self._KafkaException as exc:
            raise SourceError(f"cannot seek {partition} to {offset}: {exc}") from exc

    def lag(self) -> dict[Partition, int]:
        """Records behind the high watermark per assigned partition, where known."""
        return {
            p: max(0, high - position)
            for p, position, high in self._positions()
            if high is not None and position is not None
        }

    def pause(self, paused: bool) -> None:
        """Stop (or resume) fetching from every assigned partition; polls keep the group."""
        self._stopped = paused
        self._apply_pauses()

    def caught_up(self) -> bool:
        """Whether one more poll would drain every assigned partition (no request made)."""
        behind = 0
        for _, position, high in self._positions():
            if position is None or high is None:
                return False
            behind += max(0, high - position)
        return behind < self._cfg.max_poll_records

    def connected(self) -> bool:
        """Whether a broker connection was up at the client's last statistics (every second)."""
        return bool(self._up)

    def close(self) -> None:
        """Leave the group and close connections, within ``produce_timeout``."""
        closing = self._committer.submit(self._consumer.close)
        try:
            closing.result(timeout=self._cfg.produce_timeout)
        except concurrent.futures.TimeoutError:
            log.warning(
                "the Kafka consumer did not close within %.0fs; leaving it",
                self._cfg.produce_timeout,
            )
        except (self._KafkaException, RuntimeError) as exc:
            log.warning("closing the Kafka consumer: %s", exc)
        finally:
            self._committer.shutdown(wait=False)
