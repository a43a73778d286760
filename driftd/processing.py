"""The event processor a config asks for, built without touching Kafka or the network.

``driftd check-config`` builds it to prove that every profile loads and every monitor fits
its streams; ``driftd run`` builds the same one. Only what the config uses is imported (river
and scipy.stats for concept monitors), so checking a config stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from driftd.config.models import DriftdConfig
from driftd.processor import Processor

if TYPE_CHECKING:
    from driftd.concept import ConceptMetrics
    from driftd.monitoring.sinks import VerdictSink


def build_processor(
    config: DriftdConfig,
    sinks: list[VerdictSink] | None = None,
    *,
    warm: bool = True,
    concept_metrics: ConceptMetrics | None = None,
) -> Processor:
    """The event processor for a config: monitors (or comparisons) when configured, else
    counting only.

    Loads every reference profile and builds every monitor, so a config that names a missing
    feature or a corrupted profile fails here, before Kafka is touched.
    """
    if not config.monitors and not config.comparisons:
        from driftd.counting import CountingProcessor

        return CountingProcessor()
    from driftd.monitoring.pipeline import MonitoringProcessor, load_profiles
    from driftd.monitoring.sinks import LogSink

    processor = MonitoringProcessor(
        config,
        load_profiles(config),
        [LogSink(), *(sinks or [])],
        concept_metrics=concept_metrics,
    )
    if warm:
        processor.warm_up()
    return processor
