"""ConnectingSource: the daemon's source while no broker answers; lazily made producers."""

from __future__ import annotations

import logging

import pytest
from kafka.errors import KafkaTimeoutError

from driftd.errors import SourceError
from driftd.producing import AckedProducer, Outgoing, ProduceError
from driftd.sources.base import Partition, Record
from driftd.sources.connecting import ConnectingSource
from driftd.sources.files import IterSource

P = Partition("preds", 0)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_polls_nothing_and_retries_until_the_source_can_be_made(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    attempts: list[float] = []
    real = IterSource(iter([("preds", [Record(0, b"{}")])]), ["preds"], lambda a, r: None)

    def make() -> IterSource:
        attempts.append(clock.now)
        if clock.now < 12:
            raise SourceError("cannot create the Kafka consumer: KafkaTimeoutError")
        return real

    with caplog.at_level(logging.INFO, "driftd.sources.connecting"):
        source = ConnectingSource(
            make, describe="k:9092", retry_s=5, clock=clock, sleep=clock.sleep
        )
        assert attempts == []  # nothing before the first poll (HTTP comes up first)
        source.pause(True)
        for _ in range(40):
            assert source.poll(0.5) == {}
            assert not source.connected() and not source.caught_up() and source.lag() == {}
            with pytest.raises(SourceError, match="not connected"):
                source.commit({P: 1})
            if clock.now >= 11:
                break
        assert attempts == [0.0, 5.0, 10.0]
        clock.now = 15.0
        source.pause(False)
        assert source.poll(0.5) != {}
    assert attempts == [0.0, 5.0, 10.0, 15.0]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1  # one line a minute, not one per attempt
    assert "cannot reach the Kafka brokers k:9092" in errors[0].getMessage()
    assert any("connected to the Kafka brokers k:9092" in r.getMessage() for r in caplog.records)


class FakeFuture:
    is_done = True

    def failed(self) -> bool:
        return False


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, topic: str, **kwargs: object) -> FakeFuture:
        self.sent.append(topic)
        return FakeFuture()

    def flush(self, timeout: float) -> None:
        pass

    def close(self, timeout: float) -> None:
        pass


def test_a_producer_is_made_on_first_use_and_once_per_flush_while_none_answers() -> None:
    made: list[FakeProducer] = []
    broker_up = [False]

    def make() -> FakeProducer:
        if not broker_up[0]:
            raise KafkaTimeoutError("Unable to bootstrap")
        made.append(FakeProducer())
        return made[-1]

    calls = [0]

    def counting() -> FakeProducer:
        calls[0] += 1
        return make()

    producer = AckedProducer(counting)
    assert calls[0] == 0  # not at construction
    for i in range(5):
        producer.send(Outgoing("dlq", b"%d" % i))
    assert calls[0] == 1  # one attempt, not one per record
    with pytest.raises(ProduceError):
        producer.flush(0.1)
    assert calls[0] == 2 and producer.pending == 5
    broker_up[0] = True
    with pytest.raises(ProduceError):
        producer.flush(0.1)  # made now; the records go out through it
    producer.flush(0.1)
    assert made[0].sent == ["dlq"] * 5 and producer.pending == 0
