"""Detectors built from a reference profile, each paired with its null model for calibration.

The profile stores summaries (bin edges and counts, a sorted sample, category counts), so every
detector is built from those, never from training rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

import detectors
from detectors import Score
from detectors.ks import PVALUE_FLOOR
from driftd.errors import ConfigError
from driftd.monitoring.nulls import KSNull, NullModel, SimulatedNull, TailCache, WassersteinNull
from driftd.reference.profile import OTHER, FeatureProfile

# A Wasserstein draw costs the reference sample's size (a histogram draw, its bins): fewer
# draws, the tail beyond them extrapolated (driftd.monitoring.nulls).
WASSERSTEIN_MAX_DRAWS = 50_000

# Distances are fitted as squares (they behave like the root of a chi-square); divergences as is.
_POWER = {"psi": 1.0, "js": 2.0, "linf": 2.0, "wasserstein": 2.0}


@dataclass(frozen=True)
class NullSettings:
    """How null distributions are made: simulated draws at most, the seed, sizes calibrated
    exactly, and where tails persist."""

    seed: int = 0
    max_draws: int = 500_000
    anchors: tuple[int, ...] = ()
    cache: TailCache | None = None


@dataclass(frozen=True)
class FeatureStatistic:
    """One statistic of one feature: how to score a window and its null distribution."""

    feature: str
    statistic: str
    score: Callable[[np.ndarray], Score]
    null: NullModel
    bins: tuple[str, ...] = ()

    def describe(self, score: Score) -> str:
        """A short note on where the statistic comes from (worst category or bin)."""
        if score.worst_label is not None:
            return f"worst category {score.worst_label!r}"
        if score.worst_bin is not None and self.bins:
            return f"worst bin {self.bins[score.worst_bin]}"
        if score.pvalue is not None:
            if score.pvalue <= PVALUE_FLOOR:
                return f"p<{PVALUE_FLOOR:.0e}"
            return f"p={score.pvalue:.3g}"
        return ""


def build_statistic(
    feat: FeatureProfile, name: str, settings: NullSettings | None = None
) -> FeatureStatistic:
    """The detector ``name`` for feature ``feat``, its null made as ``settings`` say."""
    settings = settings or NullSettings()
    if feat.numeric is not None:
        return _numeric(feat, name, settings)
    if feat.categorical is not None:
        return _categorical(feat, name, settings)
    raise ConfigError(f"feature {feat.name!r} has no summary in the profile")


def _multinomial_null(counts: np.ndarray, name: str, settings: NullSettings) -> SimulatedNull:
    return SimulatedNull(
        counts,
        name,
        power=_POWER[name],
        seed=settings.seed,
        max_draws=settings.max_draws,
        anchors=settings.anchors,
        cache=settings.cache,
    )


def _bin_names(edges: np.ndarray) -> tuple[str, ...]:
    bounds = ["-inf", *(f"{e:.4g}" for e in edges), "inf"]
    return tuple(f"[{lo}, {hi})" for lo, hi in pairwise(bounds))


def _numeric(feat: FeatureProfile, name: str, settings: NullSettings) -> FeatureStatistic:
    num = feat.numeric
    assert num is not None
    if name == "ks":
        ks = detectors.KSReference(num.sample)
        return FeatureStatistic(feat.name, name, ks.score, KSNull(num.sample.size))
    if name == "psi":
        det = detectors.PSI.from_counts(num.edges, num.counts)
        null = _multinomial_null(num.counts, name, settings)
        return FeatureStatistic(feat.name, name, det.score, null, _bin_names(num.edges))
    if name == "js":
        js = detectors.JS.from_counts(num.edges, num.counts)
        null = _multinomial_null(num.counts, name, settings)
        return FeatureStatistic(feat.name, name, js.score, null, _bin_names(num.edges))
    if name == "wasserstein":
        w1 = detectors.Wasserstein(num.sample)
        # Live values are clipped to the sample's range before the distance: the null's draws
        # from the sample never go beyond it, and on heavy tails (lognormal) a few live values
        # past the sample's maximum made the limit at 1e-3 fire 2-5x too often (values out of
        # the reference range are counted by the schema checks either way).
        lo, hi = float(num.sample[0]), float(num.sample[-1])

        def clipped(values: np.ndarray) -> Score:
            return w1.score(np.clip(values, lo, hi))

        null = WassersteinNull(
            num.sample,
            w1.scale,
            seed=settings.seed,
            max_draws=min(settings.max_draws, WASSERSTEIN_MAX_DRAWS),
            anchors=settings.anchors,
            cache=settings.cache,
        )
        return FeatureStatistic(feat.name, name, clipped, null)
    raise ConfigError(f"statistic {name!r} does not apply to numeric feature {feat.name!r}")


class _CategoricalJS:
    """Jensen-Shannon distance of category codes against reference counts."""

    def __init__(self, counts: np.ndarray, labels: tuple[str, ...]) -> None:
        self.counts = counts
        self.labels = labels

    def score(self, codes: np.ndarray) -> Score:
        window = detectors.category_counts(codes, self.counts.size)
        return Score(detectors.js_distance(self.counts, window))


def _categorical(feat: FeatureProfile, name: str, settings: NullSettings) -> FeatureStatistic:
    cat = feat.categorical
    assert cat is not None
    labels = (*cat.domain, OTHER)
    if name == "linf":
        det = detectors.LInf.from_counts(cat.counts, labels=labels)
        return FeatureStatistic(
            feat.name, name, det.score, _multinomial_null(cat.counts, name, settings)
        )
    if name == "psi":
        cpsi = detectors.CategoricalPSI.from_counts(cat.counts, labels=labels)
        null = _multinomial_null(cat.counts, name, settings)
        return FeatureStatistic(feat.name, name, cpsi.score, null)
    if name == "js":
        cjs = _CategoricalJS(cat.counts, labels)
        null = _multinomial_null(cat.counts, name, settings)
        return FeatureStatistic(feat.name, name, cjs.score, null)
    raise ConfigError(f"statistic {name!r} does not apply to categorical feature {feat.name!r}")
