"""Dead-letter copies: headers, and a record too large for the topic cut with its digest."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from driftd.deadletter import KafkaDeadLetters
from driftd.errors import DecodeError
from driftd.producing import AckedProducer, ProduceError
from driftd.sources.base import Partition


class _Future:
    def __init__(self, error: Exception | None = None) -> None:
        self.is_done = True
        self.exception = error

    def failed(self) -> bool:
        return self.exception is not None


class _Producer:
    """Records sends; the first ``fail`` sends fail as a broker would refuse them."""

    def __init__(self, fail: int = 0) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail = fail

    def send(self, topic: str, **kw: Any) -> _Future:
        self.sent.append({"topic": topic, **kw})
        if self.fail:
            self.fail -= 1
            return _Future(RuntimeError("NotLeaderForPartition"))
        return _Future()

    def flush(self, timeout: float | None = None) -> None:
        pass


def test_a_record_too_large_for_the_topic_is_cut_with_its_size_and_digest() -> None:
    producer = _Producer()
    letters = KafkaDeadLetters(AckedProducer(producer), "dlq", max_bytes=10_000)
    value = b"x" * 50_000
    letters.send(Partition("t", 3), 42, value, DecodeError("invalid_json", "bad"), key=b"k")
    letters.flush(1.0)
    [sent] = producer.sent
    headers = dict(sent["headers"])
    assert len(sent["value"]) + sum(len(k) + len(v) for k, v in sent["headers"]) < 10_000
    assert value.startswith(sent["value"])
    assert headers["driftd.truncated"] == b"true"
    assert headers["driftd.original.size"] == b"50000"
    assert headers["driftd.original.sha256"] == hashlib.sha256(value).hexdigest().encode()
    assert headers["driftd.original.offset"] == b"42" and sent["key"] == b"k"


def test_a_refused_send_is_sent_again_and_the_flush_says_so() -> None:
    producer = _Producer(fail=1)
    letters = KafkaDeadLetters(AckedProducer(producer), "dlq")
    letters.send(Partition("t", 0), 7, b"{", DecodeError("invalid_json", "bad"))
    with pytest.raises(ProduceError, match="1 record"):
        letters.flush(1.0)
    assert len(producer.sent) == 2  # failed once, sent again
    letters.flush(1.0)  # the second send was acknowledged
