"""Drift statistics for streaming ML monitoring: pure numerics on numpy, Numba and scipy.

Every detector is built once from reference data and scores windows against it (see
:class:`Detector`). ``REGISTRY`` maps a detector's config name to its class, and each class says
how to build it through its ``kind``:

- ``"numeric"``: ``cls(reference_sample, **params)``, scores 1-D float windows;
- ``"categorical"``: ``cls(reference_codes, n_categories, **params)``, scores 1-D integer code
  windows from a :class:`CategoricalEncoder` (whose last code collects unseen values).

Histogram detectors (``psi``, ``js``, ``linf``, ``psi_categorical``) also offer ``summary()``,
an empty mergeable histogram on their bins, and ``score_summary(histogram)``, so windows seen
by several consumers can be merged before scoring. Call :func:`warmup` once at start-up to
compile every Numba kernel before the process reports ready.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> reference = rng.normal(size=2000)
>>> detectors_ = {name: cls(reference) for name, cls in REGISTRY.items() if cls.kind == "numeric"}
>>> sorted(detectors_)
['js', 'ks', 'psi', 'wasserstein']
>>> detectors_["ks"].score(rng.normal(size=500)).pvalue > 0.01
True
"""

from __future__ import annotations

from ._warmup import warmup
from .base import CATEGORICAL, NUMERIC, Detector, Kind, Score
from .binning import bin_counts, quantile_edges
from .categories import OTHER_LABEL, CategoricalEncoder, category_counts
from .errors import DetectorError, DetectorInputError, DetectorTypeError, IncompatibleSummaryError
from .histogram import CategoryHistogram, Histogram
from .js import JS, js_distance
from .ks import KSReference, KSResult, ks_2samp
from .linf import LInf, LInfResult, linf_distance
from .psi import PSI, CategoricalPSI, psi
from .wasserstein import Wasserstein, WassersteinResult, reference_scale, wasserstein_distance

#: Config name -> detector class. Numeric classes take a reference sample; categorical classes
#: take reference codes and ``n_categories`` (see the module docstring).
REGISTRY: dict[str, type[Detector]] = {
    KSReference.name: KSReference,
    PSI.name: PSI,
    JS.name: JS,
    Wasserstein.name: Wasserstein,
    LInf.name: LInf,
    CategoricalPSI.name: CategoricalPSI,
}

__all__ = [
    "CATEGORICAL",
    "JS",
    "NUMERIC",
    "OTHER_LABEL",
    "PSI",
    "REGISTRY",
    "CategoricalEncoder",
    "CategoricalPSI",
    "CategoryHistogram",
    "Detector",
    "DetectorError",
    "DetectorInputError",
    "DetectorTypeError",
    "Histogram",
    "IncompatibleSummaryError",
    "KSReference",
    "KSResult",
    "Kind",
    "LInf",
    "LInfResult",
    "Score",
    "Wasserstein",
    "WassersteinResult",
    "bin_counts",
    "category_counts",
    "js_distance",
    "ks_2samp",
    "linf_distance",
    "psi",
    "quantile_edges",
    "reference_scale",
    "warmup",
    "wasserstein_distance",
]
