"""Where verdicts go: Prometheus gauges, a Kafka topic of drift events, the log."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import msgspec
from prometheus_client import CollectorRegistry, Counter, Gauge

from driftd.alerting.wording import describe
from driftd.errors import StateError
from driftd.records import State, Verdict

if TYPE_CHECKING:  # the Kafka client loads with a producer, not with the sinks module
    from driftd.producing import AckedProducer

log = logging.getLogger(__name__)


class VerdictSink(Protocol):
    """Receives the verdicts of each closed window."""

    def publish(self, verdicts: list[Verdict]) -> None: ...


def segment_label(verdict: Verdict) -> str:
    """The segment as one bounded label value: ``country=DE`` or ``all``."""
    return ",".join(f"{k}={v}" for k, v in verdict.segment) or "all"


class MetricsSink:
    """Current statistic, limit and state per monitor/segment/feature/statistic as gauges.

    Label cardinality is bounded by the config: monitors × ``max_segments`` × features ×
    statistics (``kind`` follows from the feature); no event ids or values ever become labels.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        # kind (data, prediction, schema, concept) lets a rule or panel tell them apart.
        labels = ["monitor", "segment", "kind", "feature", "statistic"]
        self.value = Gauge(
            "driftd_drift_statistic", "Latest value of a drift statistic", labels, registry=registry
        )
        self.limit = Gauge(
            "driftd_drift_limit", "Limit the statistic is compared with", labels, registry=registry
        )
        self.detected = Gauge(
            "driftd_drift_detected",
            "1 when the latest window is in drift",
            labels,
            registry=registry,
        )
        self.windows = Counter(
            "driftd_windows_evaluated",
            "Closed windows per monitor and result",
            ["monitor", "result"],
            registry=registry,
        )
        self.schema = Counter(
            "driftd_schema_anomalies",
            "Schema anomalies per monitor, feature and anomaly",
            ["monitor", "feature", "anomaly"],
            registry=registry,
        )

    def clear(self) -> None:
        """Forget every label set (after a reload, so removed features stop being exported)."""
        for gauge in (self.value, self.limit, self.detected):
            gauge.clear()

    def publish(self, verdicts: list[Verdict]) -> None:
        """Set the gauges from one window's verdicts."""
        drift = False
        for v in verdicts:
            key = (v.monitor, segment_label(v), v.kind, v.feature, v.statistic)
            if v.state is State.INSUFFICIENT:
                continue
            self.value.labels(*key).set(v.value)
            if math.isnan(v.limit):
                # No limit (a river detector's calm window): no series, rather than NaN.
                with contextlib.suppress(KeyError):
                    self.limit.remove(*key)
            else:
                self.limit.labels(*key).set(v.limit)
            self.detected.labels(*key).set(1.0 if v.drifted else 0.0)
            drift = drift or v.drifted
            if v.kind == "schema" and v.detail:
                for part in v.detail.split(", "):
                    anomaly, count = part.split("=")
                    self.schema.labels(v.monitor, v.feature, anomaly).inc(int(count))
        if verdicts:
            self.windows.labels(verdicts[0].monitor, "drift" if drift else "ok").inc()


def verdict_document(v: Verdict) -> dict[str, Any]:
    """A verdict as a JSON-ready document (the drift-events topic and replay output)."""

    def num(x: float | None) -> float | None:
        return None if x is None or math.isnan(x) else x

    return {
        "monitor": v.monitor,
        "segment": dict(v.segment),
        "feature": v.feature,
        "statistic": v.statistic,
        "kind": v.kind,
        "state": v.state.value,
        "value": num(v.value),
        "limit": num(v.limit),
        "pvalue": num(v.pvalue),
        "window": {
            "index": v.window_index,
            "size": v.window_size,
            "start": num(v.window_start),
            "end": num(v.window_end),
        },
        "detail": v.detail,
        **({"histogram": list(v.histogram)} if v.histogram else {}),
    }


class KafkaVerdictSink:
    """Publishes every verdict of every window as JSON to a topic, keyed by monitor."""

    def __init__(self, producer: AckedProducer, topic: str, only_drift: bool = False) -> None:
        self._producer = producer
        self._topic = topic
        self._only_drift = only_drift
        self._encode = msgspec.json.Encoder().encode
        from driftd.producing import Outgoing

        self._outgoing = Outgoing

    def publish(self, verdicts: list[Verdict]) -> None:
        """Queue the verdicts (flushed by the daemon before it commits offsets)."""
        for v in verdicts:
            if self._only_drift and not v.drifted:
                continue
            self._producer.send(
                self._outgoing(self._topic, self._encode(verdict_document(v)), v.monitor.encode())
            )

    def flush(self, timeout: float) -> None:
        """Wait for the broker to acknowledge every queued event (``ProduceError`` if not)."""
        self._producer.flush(timeout)


class LogSink:
    """Logs each change of state of a (monitor, segment, feature, statistic)."""

    def __init__(self) -> None:
        self._state: dict[tuple[str, str, str, str], State] = {}

    def publish(self, verdicts: list[Verdict]) -> None:
        """Log transitions into and out of drift."""
        for v in verdicts:
            key = (v.monitor, segment_label(v), v.feature, v.statistic)
            before = self._state.get(key, State.OK)
            if v.state is State.INSUFFICIENT or v.state is before:
                continue
            self._state[key] = v.state
            # describe() reads the comparison the right way round for every kind.
            if v.drifted:
                log.warning("drift: monitor=%s segment=%s: %s", key[0], key[1] or "-", describe(v))
            else:
                log.info(
                    "drift over: monitor=%s segment=%s: %s", key[0], key[1] or "-", describe(v)
                )


class AlertingSink:
    """Hands verdicts to the alerting lifecycle and decides when it must tick.

    ``before_commit`` ticks when verdicts arrived since the last tick, so the notifications they
    cause are in the outbox before the offsets of their records are committed; ``on_turn``
    ticks at most every ``interval`` seconds for time-based transitions (group_wait, no-data).
    ``caught_up`` tells whether the consumer is at the head of its partitions (see
    driftd.alerting.eventclock).
    """

    def __init__(
        self,
        alerting: Any,
        clock: Any = None,
        interval: float = 1.0,
        caught_up: Callable[[], bool] = lambda: True,
        on_notes: Callable[[list[Any]], None] | None = None,
    ) -> None:
        import time

        self._alerting = alerting
        self._clock = clock or time.monotonic
        self._interval = interval
        self._caught_up = caught_up
        self._on_notes = on_notes
        self._dirty = False
        self._last = -math.inf

    def retarget(self, alerting: Any) -> None:
        """Feed another alerting subsystem from now on (after a config reload)."""
        self._alerting = alerting
        self._dirty = False

    def publish(self, verdicts: list[Verdict]) -> None:
        """Observe each verdict (memory only, on the poll thread)."""
        self._alerting.observe_window(verdicts)
        self._dirty = self._dirty or bool(verdicts)

    def before_commit(self) -> None:
        """Persist alert work caused by this batch before its offsets are committed."""
        if self._dirty:
            self._tick()

    def on_turn(self) -> None:
        """Run time-based transitions about once per ``interval``.

        An outbox that cannot be written (full disk) is not fatal here: the work stays in
        memory and ``before_commit`` retries it, where a failure withholds the commit.
        """
        if self._clock() - self._last >= self._interval:
            try:
                self._tick()
            except StateError as exc:
                self._last = self._clock()
                self._dirty = True
                log.debug("alert state not written on this turn: %s", exc)

    def _tick(self) -> None:
        notes = self._alerting.tick(caught_up=self._caught_up())
        if notes and self._on_notes is not None:
            self._on_notes(notes)
        self._dirty = False
        self._last = self._clock()
