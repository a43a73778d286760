"""The reference profile: what "normal" looks like for each feature, built from training data.

A profile is a summary, not a copy of the training set: per feature its type, missing rate,
range, domain, quantile bin edges with reference counts, and a sorted sample for KS (whose size
is configurable). When the training data carries labels and predictions, the model's reference
performance is kept too, for concept-drift comparisons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

FeatureType = Literal["numeric", "categorical", "vector"]
OTHER = "__other__"


@dataclass(frozen=True)
class NumericSummary:
    """Reference of a numeric feature.

    ``edges`` are the interior bin edges (quantiles of the reference, ties removed), so there
    are ``len(edges) + 1`` bins and values outside the reference range fall in the edge bins.
    ``sample`` is sorted and holds no NaN.
    """

    edges: np.ndarray
    counts: np.ndarray
    sample: np.ndarray
    minimum: float
    maximum: float
    mean: float
    std: float


@dataclass(frozen=True)
class CategoricalSummary:
    """Reference of a categorical feature: the kept categories and their counts.

    ``counts`` has one entry per category in ``domain`` plus a last "other" entry for every
    category beyond ``max_categories`` (and, when live, any category never seen in training).
    ``known_other`` lists the training categories that went to "other" (up to a cap), so live
    values from that list are not reported as unseen; ``complete`` is False when the cap cut it.
    """

    domain: tuple[str, ...]
    counts: np.ndarray
    known_other: tuple[str, ...] = ()
    complete: bool = True

    @property
    def n_categories(self) -> int:
        """Number of bins including the trailing "other" bin."""
        return len(self.domain) + 1


@dataclass(frozen=True)
class JointSummary:
    """Reference rows of the numeric features taken together, for multivariate statistics.

    ``sample`` holds up to ``joint_sample_size`` complete rows (every feature in ``features``
    finite), in that column order. ``mean``, ``scale`` and ``components`` are the principal
    components fitted at build time (see ``detectors.pca``); they were fitted on rows other
    than ``sample[fit_rows:]``, whose reconstruction errors are therefore out of sample and
    make the statistic's null.
    """

    features: tuple[str, ...]
    sample: np.ndarray
    fit_rows: int
    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray
    explained: float
    variance: float = 0.65  # the share of variance asked for (a refit for fewer features)


@dataclass(frozen=True)
class VectorSummary:
    """Reference of a vector feature (an embedding: a list of ``dim`` floats per event): a
    bounded sample of its rows and a PCA basis, as for the numeric features taken together."""

    dim: int
    joint: JointSummary


@dataclass(frozen=True)
class FeatureProfile:
    """One feature of the reference profile."""

    name: str
    type: FeatureType
    count: int
    missing: int
    numeric: NumericSummary | None = None
    categorical: CategoricalSummary | None = None
    vector: VectorSummary | None = None

    @property
    def missing_rate(self) -> float:
        """Share of reference rows where the feature was missing or NaN."""
        total = self.count + self.missing
        return self.missing / total if total else 0.0


@dataclass(frozen=True)
class Profile:
    """A whole reference profile (see ``driftd.reference.io`` for the file format)."""

    features: dict[str, FeatureProfile]
    rows: int
    created_at: str
    source: str
    prediction: str | None = None
    label: str | None = None
    performance: dict[str, float] = field(default_factory=dict)
    task: Literal["classification", "regression"] | None = None
    joint: JointSummary | None = None

    def feature(self, name: str) -> FeatureProfile:
        """The named feature, or a KeyError naming the features that exist."""
        try:
            return self.features[name]
        except KeyError:
            raise KeyError(
                f"feature {name!r} is not in the reference profile "
                f"(it has: {', '.join(sorted(self.features))})"
            ) from None
