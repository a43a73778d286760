"""Prometheus metrics of the concept-drift path, built in one place on an injected registry.

One :class:`ConceptMetrics` serves every monitor (label ``monitor``). The label-delay histogram
is a small collector of its own: a join can match a million pairs in one call, and observing
them one by one through ``Histogram.observe`` would cost more than the join; here a batch is
bucketed with one ``searchsorted``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.metrics_core import HistogramMetricFamily
from prometheus_client.utils import floatToGoString

# Labels arrive seconds to weeks after their predictions.
DELAY_BUCKETS = (
    1.0, 10.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 43200.0,
    86400.0, 172800.0, 345600.0, 604800.0,
)  # fmt: skip


class DelayHistogram:
    """``driftd_label_delay_seconds{monitor}``: label event time minus prediction event time."""

    name = "driftd_label_delay_seconds"
    documentation = "Delay from a prediction's event time to its label's, per monitor"

    def __init__(self, buckets: tuple[float, ...] = DELAY_BUCKETS) -> None:
        self._bounds = np.asarray(buckets, np.float64)
        self._lock = threading.Lock()
        self._counts: dict[str, np.ndarray] = {}
        self._sums: dict[str, float] = {}

    def observe_many(self, monitor: str, delays: np.ndarray) -> None:
        """Count each finite delay; negative delays (producer clock skew) count as 0."""
        d = delays[np.isfinite(delays)]
        d = np.maximum(d, 0.0)
        # Bucket i counts delays <= bounds[i]; the last one is +Inf.
        counts = np.bincount(np.searchsorted(self._bounds, d), minlength=self._bounds.size + 1)
        with self._lock:
            if monitor not in self._counts:
                self._counts[monitor] = np.zeros(self._bounds.size + 1, np.int64)
                self._sums[monitor] = 0.0
            self._counts[monitor] += counts
            self._sums[monitor] += float(d.sum())

    def _family(self) -> HistogramMetricFamily:
        return HistogramMetricFamily(self.name, self.documentation, labels=["monitor"])

    def describe(self) -> list[HistogramMetricFamily]:
        """The family without samples, so the registry can check for duplicate names."""
        return [self._family()]

    def collect(self) -> Iterator[HistogramMetricFamily]:
        """The histogram of every monitor, cumulative as Prometheus expects."""
        family = self._family()
        with self._lock:
            snapshot = {m: (c.cumsum(), self._sums[m]) for m, c in self._counts.items()}
        edges = [*(floatToGoString(b) for b in self._bounds.tolist()), "+Inf"]
        for monitor, (cumulative, total) in snapshot.items():
            family.add_metric(
                [monitor], list(zip(edges, cumulative.astype(float).tolist(), strict=True)), total
            )
        yield family


@dataclass(frozen=True)
class ConceptMetrics:
    """The concept-drift metrics; names follow Prometheus conventions (base units, ``_total``)."""

    registry: CollectorRegistry
    matched: Counter
    expired: Counter
    evicted: Counter
    unmatched_labels: Counter
    pending: Gauge
    pending_bytes: Gauge
    join_rate: Gauge
    label_delay: DelayHistogram
    performance: Gauge
    detections: Counter


def build_concept_metrics(registry: CollectorRegistry | None = None) -> ConceptMetrics:
    """Create and register the concept metrics on ``registry`` (a fresh one when None)."""
    registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
    monitor = ["monitor"]
    delay = DelayHistogram()
    registry.register(delay)
    return ConceptMetrics(
        registry=registry,
        matched=Counter(
            "driftd_label_join_matched",
            "Predictions joined with their label",
            monitor,
            registry=registry,
        ),
        expired=Counter(
            "driftd_label_join_expired",
            "Predictions dropped after waiting the TTL for a label",
            monitor,
            registry=registry,
        ),
        evicted=Counter(
            "driftd_label_join_evicted",
            "Predictions dropped, oldest first, to stay under the memory cap",
            monitor,
            registry=registry,
        ),
        unmatched_labels=Counter(
            "driftd_label_join_unmatched_labels",
            "Labels for which no prediction arrived within the grace period",
            monitor,
            registry=registry,
        ),
        pending=Gauge(
            "driftd_label_join_pending",
            "Predictions waiting for their label",
            monitor,
            registry=registry,
        ),
        pending_bytes=Gauge(
            "driftd_label_join_pending_bytes",
            "Bytes held by the label join's tables",
            monitor,
            registry=registry,
        ),
        join_rate=Gauge(
            "driftd_label_join_rate_ratio",
            "Share of finished predictions that were matched (not expired or evicted)",
            monitor,
            registry=registry,
        ),
        label_delay=delay,
        performance=Gauge(
            "driftd_performance",
            "Model performance on the last closed window of joined pairs",
            ["monitor", "metric"],
            registry=registry,
        ),
        detections=Counter(
            "driftd_concept_drift_detections",
            "Concept drifts reported by a river detector",
            ["monitor", "detector"],
            registry=registry,
        ),
    )
