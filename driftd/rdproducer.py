"""A librdkafka producer behind the small interface AckedProducer drives (send / flush / close).

``kafka.client: librdkafka`` makes the dead-letter, drift-event and handover producers on
confluent-kafka too. Each send returns a :class:`Delivery` that the client's delivery report
fills in (reports are served by ``poll``/``flush`` on the loop's thread), which is what
:class:`~driftd.producing.AckedProducer` needs to keep every record until it is acknowledged.

The producer is idempotent (``enable.idempotence``): librdkafka's own retries after a lost
connection cannot write a record twice. A record the client still holds is not sent again by
AckedProducer (it is not failed, only late), so an outage of minutes costs no duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from driftd.errors import DriftdError


class SendRefusedError(DriftdError):
    """The client refused a record before queueing it (its queue is full, say)."""


class Delivery:
    """The outcome of one send: ``is_done`` once reported, ``exception`` when it failed."""

    __slots__ = ("exception", "is_done")

    def __init__(self) -> None:
        self.is_done = False
        self.exception: Exception | None = None

    def report(self, error: Any, _message: Any) -> None:
        """The delivery callback (librdkafka calls it once per record)."""
        if error is not None:
            self.exception = SendRefusedError(f"delivery failed: {error}")
        self.is_done = True

    def failed(self) -> bool:
        """Whether the record was reported and not written."""
        return self.exception is not None


class RdProducer:
    """confluent_kafka.Producer with kafka-python's ``send`` shape, acks from every replica."""

    def __init__(self, options: dict[str, Any], producer_factory: Any = None) -> None:
        from confluent_kafka import KafkaException

        if producer_factory is None:
            from confluent_kafka import Producer

            producer_factory = Producer
        self._KafkaException = KafkaException
        try:
            self._producer = producer_factory(
                options
                | {
                    "acks": "all",
                    "enable.idempotence": True,
                    "linger.ms": 20,
                }
            )
        except (KafkaException, ValueError, TypeError) as exc:
            raise SendRefusedError(f"cannot create the Kafka producer (librdkafka): {exc}") from exc

    def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> Delivery:
        """Queue one record; raises SendRefusedError when the client cannot take it now."""
        delivery = Delivery()
        try:
            self._producer.produce(
                topic,
                value=value,
                key=key,
                headers=list(headers or ()),
                on_delivery=delivery.report,
            )
        except BufferError as exc:
            raise SendRefusedError(f"the producer's queue is full: {exc}") from exc
        except self._KafkaException as exc:
            raise SendRefusedError(str(exc)) from exc
        self._producer.poll(0)  # serve delivery reports as they come
        return delivery

    def flush(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for every queued record's delivery report."""
        self._producer.flush(max(0.0, timeout))

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued within ``timeout`` (the client closes when dropped)."""
        self._producer.flush(max(0.0, timeout))
