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

from typing import TYPE_CHECKING

from driftd.lazy import lazy_exports

if TYPE_CHECKING:  # what the names are, for type checkers
    from driftd.concept.config import ConceptConfig, JoinConfig, PerformanceConfig
    from driftd.concept.errors import ConceptStateError
    from driftd.concept.ids import hash_ids
    from driftd.concept.join import JoinCounts, LabelJoin, Matched
    from driftd.concept.metrics import ConceptMetrics, build_concept_metrics
    from driftd.concept.monitor import ConceptMonitor


# Loaded on first use (driftd/lazy.py): importing the config models must not import river.
_EXPORTS = {
    "ConceptConfig": "driftd.concept.config",
    "ConceptMetrics": "driftd.concept.metrics",
    "ConceptMonitor": "driftd.concept.monitor",
    "ConceptStateError": "driftd.concept.errors",
    "JoinConfig": "driftd.concept.config",
    "JoinCounts": "driftd.concept.join",
    "LabelJoin": "driftd.concept.join",
    "Matched": "driftd.concept.join",
    "PerformanceConfig": "driftd.concept.config",
    "build_concept_metrics": "driftd.concept.metrics",
    "hash_ids": "driftd.concept.ids",
}

__getattr__ = lazy_exports(globals(), _EXPORTS)


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
