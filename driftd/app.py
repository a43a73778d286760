"""Wiring: from a validated config to a running daemon with its real collaborators."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry

from driftd.checkpoint import CheckpointStore
from driftd.concept import build_concept_metrics
from driftd.config.models import DriftdConfig, KafkaConfig
from driftd.daemon import Daemon
from driftd.deadletter import KafkaDeadLetters
from driftd.dropped import DroppedEvents
from driftd.handover import Handover
from driftd.health import Health
from driftd.http import HttpServer
from driftd.malloc import fix_mmap_threshold
from driftd.metrics import build_metrics
from driftd.monitoring.pipeline import MonitoringProcessor
from driftd.monitoring.sinks import (
    AlertingSink,
    KafkaVerdictSink,
    MetricsSink,
    VerdictSink,
)
from driftd.processing import build_processor
from driftd.processor import Processor
from driftd.producing import AckedProducer
from driftd.report.live import LivePage
from driftd.sources.base import AssignmentListener, Source
from driftd.sources.connecting import ConnectingSource
from driftd.sources.kafka import KafkaSource, consumer_options
from driftd.systemd import Notifier

log = logging.getLogger(__name__)


class Runtime:
    """A daemon with its real collaborators (Kafka, HTTP, alerting), ready to ``run()``.

    ``run`` and the integration tests build it the same way; only signal handling differs.
    """

    def __init__(
        self,
        config: DriftdConfig,
        registry: CollectorRegistry | None = None,
        config_path: str | None = None,
    ) -> None:
        self.config = config
        self.metrics = build_metrics(registry)
        self.health = Health()
        self._producers: list[Any] = []
        self.gauges = MetricsSink(self.metrics.registry)
        self.live = LivePage(
            # The running processor's profiles: no second read from disk, and a reload's.
            lambda: getattr(self.daemon.processor, "profiles", {}),
            lambda: self.alerting.status()["alerts"] if self.alerting is not None else [],
        )
        sinks: list[VerdictSink] = [self.gauges, self.live]
        before_commit: list[Callable[[], None]] = []
        on_turn: list[Callable[[], None]] = []
        producers: list[Callable[[float], None]] = []
        if config.events.topic:
            events = KafkaVerdictSink(
                self._producer(), config.events.topic, config.events.only_drift
            )
            sinks.append(events)
            producers.append(events.flush)
        self.alerting: Any = None
        self._alert_sink: AlertingSink | None = None
        if config.alerting is not None:
            from driftd.alerting import build_alerting

            self.alerting = build_alerting(config.alerting, self.metrics.registry)
            alert_sink = AlertingSink(self.alerting, caught_up=lambda: self.daemon.caught_up)
            self._alert_sink = alert_sink
            sinks.append(alert_sink)
            # Notifications and alert state reach the outbox (one SQLite transaction) before
            # the offsets of the records that caused them are committed.
            before_commit.append(alert_sink.before_commit)
            on_turn.append(alert_sink.on_turn)
        self._sinks = sinks
        self.concept_metrics = build_concept_metrics(self.metrics.registry)
        processor = build_processor(config, sinks, concept_metrics=self.concept_metrics)
        dead_letters = None
        if config.kafka.dead_letter_topic:
            dead_letters = KafkaDeadLetters(
                self._producer(),
                config.kafka.dead_letter_topic,
                max_bytes=config.kafka.dead_letter_max_bytes,
            )
        topics = sorted({s.topic for s in config.streams})
        self.daemon = Daemon(
            config,
            lambda on_assign: ConnectingSource(
                lambda: make_source(config.kafka, topics, on_assign),
                describe=",".join(config.kafka.bootstrap_servers),
            ),
            processor,
            self.metrics,
            self.health,
            dead_letters=dead_letters,
            producers=producers,
            before_commit=before_commit,
            on_turn=on_turn,
            notifier=Notifier(),
            reloader=(lambda running: self._reload(config_path, running)) if config_path else None,
            checkpoints=CheckpointStore(config.state.dir) if config.state.dir else None,
            handover=self._handover(),
        )
        self.metrics.registry.register(DroppedEvents(self.daemon.status))
        self.http = HttpServer(
            config.http,
            self.metrics.registry,
            self.health,
            self.status,
            silences=self.alerting.handle_silences if self.alerting is not None else None,
            page=self.live.html,
        )

    def _handover(self) -> Handover | None:
        topic = self.config.state.handover_topic
        if topic is None:
            return None
        from kafka import KafkaConsumer

        options = consumer_options(self.config.kafka)
        return Handover(self._producer(), lambda **kw: KafkaConsumer(**(options | kw)), topic)

    def _producer(self) -> AckedProducer:
        if self.config.kafka.client == "librdkafka":
            from driftd.rdproducer import RdProducer
            from driftd.sources.rdkafka import rdkafka_options

            made = AckedProducer(RdProducer(rdkafka_options(self.config.kafka)))
            self._producers.append(made)
            return made
        from kafka import KafkaProducer

        def make() -> Any:
            return KafkaProducer(
                **consumer_options(self.config.kafka),
                acks="all",
                linger_ms=20,
                # send() must not block the loop for kafka-python's default 60 s when the
                # broker is away: a record that cannot be queued fails and is sent again.
                max_block_ms=int(self.config.kafka.produce_timeout * 1000),
            )

        made = AckedProducer(make)
        self._producers.append(made)
        return made

    def _reload(self, path: str, running: Processor) -> tuple[DriftdConfig, Processor]:
        """Build what a new config needs, keeping the state of everything unchanged."""
        from driftd.config import load_config

        config = load_config(path)
        processor = build_processor(
            config, self._sinks, warm=True, concept_metrics=self.concept_metrics
        )
        if isinstance(processor, MonitoringProcessor) and isinstance(running, MonitoringProcessor):
            kept = processor.carry_over(running)
            log.info("reload keeps the state of monitors %s", kept)
        if config.alerting != self.config.alerting:
            self._reload_alerting(config)
        self.config = config
        # Only once the new config is known good: drop label sets of removed features.
        self.gauges.clear()
        return config, processor

    def _reload_alerting(self, config: DriftdConfig) -> None:
        """Rebuild alerting from the new section; its state carries over through the outbox."""
        from driftd.alerting import build_alerting

        if self.alerting is None or self._alert_sink is None or config.alerting is None:
            log.warning("adding or removing the alerting section needs a restart")
            return
        # Closing ticks once more and writes the alert state to the outbox, where the new
        # subsystem restores it from (the same outbox_dir; a new one starts empty).
        self.alerting.close(timeout=5.0)
        self.alerting = build_alerting(
            config.alerting, self.metrics.registry, metrics=self.alerting.metrics
        )
        self._alert_sink.retarget(self.alerting)
        self.alerting.start()
        log.info("alerting rebuilt from the new config")

    def status(self) -> dict[str, Any]:
        """The /status document: events, monitors' latest verdicts, alerting."""
        doc = dict(self.daemon.status())
        if self.alerting is not None:
            doc["alerting"] = self.alerting.status()
        return doc

    def run(self) -> int:
        """Serve HTTP, deliver alerts and run the loop until stopped; then clean up."""
        tune_gc()
        fix_mmap_threshold()
        self.http.start()
        if self.alerting is not None:
            self.alerting.start()
        from driftd.config.advice import advice

        for line in advice(self.config):
            log.warning("%s", line)
        try:
            log.info(
                "driftd consuming %s as group %r", self.daemon.topics, self.config.kafka.group_id
            )
            return self.daemon.run()
        finally:
            self.close()

    def close(self) -> None:
        """Stop delivery (time-boxed), close producers and the HTTP endpoint."""
        if self.alerting is not None:
            self.alerting.close(timeout=5.0)
        for made in self._producers:
            made.close()
        self._producers.clear()
        self.http.close()


def tune_gc() -> None:
    """Make the cyclic garbage collector rare: the hot path allocates millions of short-lived,
    acyclic objects (records, tuples, lists), and with CPython's default gen-0 threshold of 700
    the collector runs every few hundred events, traversing every long-lived object each time
    it reaches the older generations. Freezing what start-up built (profiles, kernels, config)
    and raising the thresholds cut the pipeline's cost per event by about a quarter
    (bench/pipeline.py); reference cycles are still collected, only less often.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def run(
    config: DriftdConfig,
    registry: CollectorRegistry | None = None,
    config_path: str | None = None,
) -> int:
    """Run the daemon for ``config`` until SIGTERM/SIGINT; SIGHUP reloads ``config_path``."""
    runtime = Runtime(config, registry, config_path)
    runtime.daemon.install_signal_handlers()
    return runtime.run()


def make_source(cfg: KafkaConfig, topics: list[str], on_assign: AssignmentListener) -> Source:
    """The consumer on the configured client library."""
    if cfg.client == "librdkafka":
        from driftd.sources.rdkafka import RdKafkaSource

        return RdKafkaSource(cfg, topics, on_assign)
    return KafkaSource(cfg, topics, on_assign)
