"""Helpers for the integration tests: producing events, building configs, waiting."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
from kafka import KafkaProducer

from driftd.config import DriftdConfig, parse_config


def produce(bootstrap: str, topic: str, values: Iterable[bytes | dict[str, Any]]) -> int:
    """Produce values (dicts become JSON) and wait for every acknowledgement."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, batch_size=256 * 1024)
    count = 0
    for value in values:
        data = value if isinstance(value, bytes) else msgspec.json.encode(value)
        producer.send(topic, data)
        count += 1
    producer.flush()
    producer.close()
    return count


def config(
    bootstrap: str, topic: str, group: str, extra_kafka: str = "", **streams: str
) -> DriftdConfig:
    """A config with one stream over ``topic`` and short group timeouts for tests."""
    text = f"""
kafka:
  bootstrap_servers: ["{bootstrap}"]
  group_id: {group}
  session_timeout: 6s
  heartbeat_interval: 1s
  poll_timeout: 200ms
  {extra_kafka}
http: {{port: 0}}
streams:
  - name: preds
    topic: {topic}
    fields:
      id: id
      timestamp: ts
      features: {{amount: x.amount, country: x.country}}
      prediction: score
"""
    return parse_config(text, env={})


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Poll ``predicate`` until true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


class Background:
    """Runs a callable in a thread and keeps its result or exception."""

    def __init__(self, target: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.result = target()
            except BaseException as exc:  # handed to the test thread by join()
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self, timeout: float = 30.0) -> Any:
        """Wait for the thread; re-raise its exception in the caller."""
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError("background thread did not finish")
        if self.error is not None:
            raise self.error
        return self.result
