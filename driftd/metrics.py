"""Every Prometheus metric driftd exports, built in one place on an injected registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

from driftd import __version__

# A `_created` gauge beside every counter and histogram doubles the series for a timestamp no
# dashboard or rule reads. Process-wide: the alerting and sink metrics are covered too.
disable_created_metrics()


@dataclass(frozen=True)
class Metrics:
    """The daemon's metrics; names follow Prometheus conventions (base units, ``_total``)."""

    registry: CollectorRegistry
    build_info: Gauge
    ready: Gauge
    records_consumed: Counter
    records_rejected: Counter
    events_decoded: Counter
    last_event_timestamp: Gauge
    timestamp_unit_suspected: Gauge
    poll_batches: Counter
    batch_duration: Histogram
    commits: Counter
    commit_failures: Counter
    registry_unavailable: Counter
    dead_letters: Counter
    assigned_partitions: Gauge
    consumer_lag: Gauge
    checkpoints: Counter
    checkpoint_failures: Counter
    produce_failures: Counter
    processing_errors: Counter
    config_reload_success: Gauge
    config_reload_time: Gauge


def build_metrics(registry: CollectorRegistry | None = None) -> Metrics:
    """Create and register all metrics on ``registry`` (a fresh one when None)."""
    registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
    build_info = Gauge(
        "driftd_build_info", "driftd version, always 1", ["version"], registry=registry
    )
    build_info.labels(version=__version__).set(1)
    return Metrics(
        registry=registry,
        build_info=build_info,
        ready=Gauge("driftd_ready", "1 when /readyz answers 200", registry=registry),
        records_consumed=Counter(
            "driftd_records_consumed",
            "Kafka records read, per stream",
            ["stream"],
            registry=registry,
        ),
        records_rejected=Counter(
            "driftd_records_rejected",
            "Records that could not be decoded, per stream and reason",
            ["stream", "reason"],
            registry=registry,
        ),
        events_decoded=Counter(
            "driftd_events_decoded",
            "Events decoded from records, per stream",
            ["stream"],
            registry=registry,
        ),
        last_event_timestamp=Gauge(
            "driftd_last_event_timestamp_seconds",
            "Event time of the newest event seen, per stream",
            ["stream"],
            registry=registry,
        ),
        timestamp_unit_suspected=Gauge(
            "driftd_timestamp_unit_suspected",
            "Share of a stream's recent event times plausible only in another unit (0: none)",
            ["stream", "unit"],
            registry=registry,
        ),
        poll_batches=Counter(
            "driftd_poll_batches", "Non-empty batches returned by the consumer", registry=registry
        ),
        batch_duration=Histogram(
            "driftd_batch_processing_seconds",
            "Time to decode and evaluate one poll batch",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=registry,
        ),
        commits=Counter("driftd_offset_commits", "Offset commits to Kafka", registry=registry),
        registry_unavailable=Counter(
            "driftd_schema_registry_unavailable",
            "Poll batches held because the schema registry did not answer",
            registry=registry,
        ),
        commit_failures=Counter(
            "driftd_offset_commit_failures", "Offset commits that failed", registry=registry
        ),
        dead_letters=Counter(
            "driftd_dead_letter_records",
            "Rejected records written to the dead-letter topic, per stream",
            ["stream"],
            registry=registry,
        ),
        assigned_partitions=Gauge(
            "driftd_assigned_partitions", "Partitions assigned to this replica", registry=registry
        ),
        consumer_lag=Gauge(
            "driftd_consumer_lag_records",
            "Records between the consumer position and the high watermark",
            ["topic", "partition"],
            registry=registry,
        ),
        checkpoints=Counter(
            "driftd_checkpoints", "Checkpoints of state and offsets written", registry=registry
        ),
        checkpoint_failures=Counter(
            "driftd_checkpoint_failures",
            "Checkpoints that could not be written (full or read-only state disk)",
            registry=registry,
        ),
        produce_failures=Counter(
            "driftd_produce_failures",
            "Attempts to have dead letters, drift events or handovers acknowledged that failed",
            registry=registry,
        ),
        processing_errors=Counter(
            "driftd_processing_errors",
            "Batches whose processing raised, per stream (handled by kafka.on_processing_error)",
            ["stream"],
            registry=registry,
        ),
        config_reload_success=_reload_gauge(registry),
        config_reload_time=Gauge(
            "driftd_config_last_reload_success_timestamp_seconds",
            "When the config was last loaded successfully",
            registry=registry,
        ),
    )


def _reload_gauge(registry: CollectorRegistry) -> Gauge:
    gauge = Gauge(
        "driftd_config_last_reload_successful",
        "1 if the last config (re)load succeeded, 0 if it was rejected",
        registry=registry,
    )
    gauge.set(1)
    return gauge
