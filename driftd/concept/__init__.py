"""Concept drift: predictions joined with their delayed labels, judged as labels arrive.

The daemon builds one :class:`ConceptMonitor` per monitor with a ``concept`` section, sharing one
:class:`ConceptMetrics` (from :func:`build_concept_metrics`) on its Prometheus registry, and
calls ``observe_predictions``/``observe_labels`` per poll batch, ``tick`` on every loop turn and
``save``/``restore`` around checkpoints. The parts are usable on their own:

* :mod:`~driftd.concept.join` — :class:`LabelJoin`, the bounded label-delay join;
* :mod:`~driftd.concept.detectors` — river drift detectors on the per-pair error;
* :mod:`~driftd.concept.performance` — windowed accuracy/precision/recall/F1/AUC, MAE/RMSE;
* :mod:`~driftd.concept.config` — the pydantic models of the ``concept`` section.
"""

from __future__ import annotations

from driftd.concept.config import ConceptConfig, JoinConfig, PerformanceConfig
from driftd.concept.errors import ConceptStateError
from driftd.concept.ids import hash_ids
from driftd.concept.join import JoinCounts, LabelJoin, Matched
from driftd.concept.metrics import ConceptMetrics, build_concept_metrics
from driftd.concept.monitor import ConceptMonitor

__all__ = [
    "ConceptConfig",
    "ConceptMetrics",
    "ConceptMonitor",
    "ConceptStateError",
    "JoinConfig",
    "JoinCounts",
    "LabelJoin",
    "Matched",
    "PerformanceConfig",
    "build_concept_metrics",
    "hash_ids",
]
