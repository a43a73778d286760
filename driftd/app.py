"""Wiring: from a validated config to a running daemon with its real collaborators."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry

from driftd.config.models import DriftdConfig
from driftd.daemon import CountingProcessor, Daemon, Processor
from driftd.deadletter import KafkaDeadLetters
from driftd.health import Health
from driftd.http import HttpServer
from driftd.metrics import build_metrics
from driftd.sources.kafka import KafkaSource, consumer_options

log = logging.getLogger(__name__)


def build_processor(config: DriftdConfig, metrics: Any) -> Processor:
    """The event processor for a config."""
    del metrics
    return CountingProcessor()


def run(config: DriftdConfig, registry: CollectorRegistry | None = None) -> int:
    """Run the daemon for ``config`` until SIGTERM/SIGINT; returns the exit code."""
    metrics = build_metrics(registry)
    health = Health()
    processor = build_processor(config, metrics)
    http = HttpServer(
        config.http.host, config.http.port, metrics.registry, health, processor.status
    ).start()
    dead_letters = None
    producer = None
    try:
        if config.kafka.dead_letter_topic:
            from kafka import KafkaProducer

            producer = KafkaProducer(**consumer_options(config.kafka), acks="all", linger_ms=20)
            dead_letters = KafkaDeadLetters(producer, config.kafka.dead_letter_topic)
        topics = sorted({s.topic for s in config.streams})
        daemon = Daemon(
            config,
            lambda on_assign: KafkaSource(config.kafka, topics, on_assign),
            processor,
            metrics,
            health,
            dead_letters=dead_letters,
        )
        daemon.install_signal_handlers()
        log.info("driftd consuming %s as group %r", topics, config.kafka.group_id)
        return daemon.run()
    finally:
        if producer is not None:
            producer.close()
        http.close()
