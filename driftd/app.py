"""Wiring: from a validated config to a running daemon with its real collaborators."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry

from driftd.config.models import DriftdConfig
from driftd.daemon import CountingProcessor, Daemon, Processor
from driftd.deadletter import KafkaDeadLetters
from driftd.health import Health
from driftd.http import HttpServer
from driftd.metrics import build_metrics
from driftd.monitoring.pipeline import MonitoringProcessor, load_profiles
from driftd.monitoring.sinks import KafkaVerdictSink, LogSink, MetricsSink, VerdictSink
from driftd.sources.kafka import KafkaSource, consumer_options
from driftd.systemd import Notifier

log = logging.getLogger(__name__)


def build_processor(
    config: DriftdConfig,
    registry: CollectorRegistry | None,
    extra_sinks: list[VerdictSink] | None = None,
    *,
    warm: bool = True,
) -> Processor:
    """The event processor for a config: monitors when configured, else counting only.

    Loads every reference profile and builds every monitor, so a config that names a missing
    feature or a corrupted profile fails here, before Kafka is touched.
    """
    if not config.monitors:
        return CountingProcessor()
    sinks: list[VerdictSink] = [LogSink(), *(extra_sinks or [])]
    if registry is not None:
        sinks.insert(0, MetricsSink(registry))
    processor = MonitoringProcessor(config, load_profiles(config), sinks)
    if warm:
        processor.warm_up()
    return processor


def run(config: DriftdConfig, registry: CollectorRegistry | None = None) -> int:
    """Run the daemon for ``config`` until SIGTERM/SIGINT; returns the exit code."""
    metrics = build_metrics(registry)
    health = Health()
    producers: list[Any] = []

    def producer() -> Any:
        from kafka import KafkaProducer

        made = KafkaProducer(**consumer_options(config.kafka), acks="all", linger_ms=20)
        producers.append(made)
        return made

    extra: list[VerdictSink] = []
    before_commit: list[Callable[[], None]] = []
    if config.events.topic:
        events = KafkaVerdictSink(producer(), config.events.topic, config.events.only_drift)
        extra.append(events)
        before_commit.append(events.flush)
    processor = build_processor(config, metrics.registry, extra)
    http = HttpServer(
        config.http.host, config.http.port, metrics.registry, health, processor.status
    ).start()
    try:
        dead_letters = None
        if config.kafka.dead_letter_topic:
            dead_letters = KafkaDeadLetters(producer(), config.kafka.dead_letter_topic)
        topics = sorted({s.topic for s in config.streams})
        daemon = Daemon(
            config,
            lambda on_assign: KafkaSource(config.kafka, topics, on_assign),
            processor,
            metrics,
            health,
            dead_letters=dead_letters,
            before_commit=before_commit,
            notifier=Notifier(),
        )
        daemon.install_signal_handlers()
        log.info("driftd consuming %s as group %r", topics, config.kafka.group_id)
        return daemon.run()
    finally:
        for made in producers:
            made.close()
        http.close()
