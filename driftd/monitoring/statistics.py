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
from driftd.errors import ConfigError
from driftd.monitoring.nulls import BootstrapNull, KSNull, NullModel
from driftd.reference.profile import OTHER, FeatureProfile

# Distances are fitted as squares (they behave like the root of a chi-square); divergences as is.
_POWER = {"psi": 1.0, "js": 2.0, "linf": 2.0, "wasserstein": 2.0}


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
            return f"p={score.pvalue:.3g}"
        return ""


def build_statistic(
    feat: FeatureProfile, name: str, bootstrap: tuple[int, int]
) -> FeatureStatistic:
    """The detector ``name`` for feature ``feat``; ``bootstrap`` is (samples, seed)."""
    samples, seed = bootstrap
    if feat.numeric is not None:
        return _numeric(feat, name, samples, seed)
    if feat.categorical is not None:
        return _categorical(feat, name, samples, seed)
    raise ConfigError(f"feature {feat.name!r} has no summary in the profile")


def _multinomial_null(
    counts: np.ndarray,
    stat: Callable[[np.ndarray, np.ndarray], float],
    name: str,
    samples: int,
    seed: int,
) -> BootstrapNull:
    total = int(counts.sum())
    p = counts / total

    def draw(rng: np.random.Generator, n: int) -> float:
        reference = rng.multinomial(total, p)
        window = rng.multinomial(n, p)
        return stat(reference, window)

    return BootstrapNull(draw, samples, seed, _POWER[name])


def _bin_names(edges: np.ndarray) -> tuple[str, ...]:
    bounds = ["-inf", *(f"{e:.4g}" for e in edges), "inf"]
    return tuple(f"[{lo}, {hi})" for lo, hi in pairwise(bounds))


def _numeric(feat: FeatureProfile, name: str, samples: int, seed: int) -> FeatureStatistic:
    num = feat.numeric
    assert num is not None
    if name == "ks":
        ks = detectors.KSReference(num.sample)
        return FeatureStatistic(feat.name, name, ks.score, KSNull(num.sample.size))
    if name == "psi":
        det = detectors.PSI.from_counts(num.edges, num.counts)
        null = _multinomial_null(num.counts, detectors.psi, name, samples, seed)
        return FeatureStatistic(feat.name, name, det.score, null, _bin_names(num.edges))
    if name == "js":
        js = detectors.JS.from_counts(num.edges, num.counts)
        null = _multinomial_null(num.counts, detectors.js_distance, name, samples, seed)
        return FeatureStatistic(feat.name, name, js.score, null, _bin_names(num.edges))
    if name == "wasserstein":
        w1 = detectors.Wasserstein(num.sample)
        sample = num.sample
        scale = w1.scale

        def draw(rng: np.random.Generator, n: int) -> float:
            reference = rng.choice(sample, sample.size)
            window = rng.choice(sample, n)
            return detectors.wasserstein_distance(reference, window) / scale

        return FeatureStatistic(
            feat.name, name, w1.score, BootstrapNull(draw, samples, seed, _POWER[name])
        )
    raise ConfigError(f"statistic {name!r} does not apply to numeric feature {feat.name!r}")


class _CategoricalJS:
    """Jensen-Shannon distance of category codes against reference counts."""

    def __init__(self, counts: np.ndarray, labels: tuple[str, ...]) -> None:
        self.counts = counts
        self.labels = labels

    def score(self, codes: np.ndarray) -> Score:
        window = detectors.category_counts(codes, self.counts.size)
        return Score(detectors.js_distance(self.counts, window))


def _categorical(feat: FeatureProfile, name: str, samples: int, seed: int) -> FeatureStatistic:
    cat = feat.categorical
    assert cat is not None
    labels = (*cat.domain, OTHER)
    if name == "linf":
        det = detectors.LInf.from_counts(cat.counts, labels=labels)

        def linf(r: np.ndarray, w: np.ndarray) -> float:
            return detectors.linf_distance(r, w).distance

        null = _multinomial_null(cat.counts, linf, name, samples, seed)
        return FeatureStatistic(feat.name, name, det.score, null)
    if name == "psi":
        cpsi = detectors.CategoricalPSI.from_counts(cat.counts, labels=labels)
        null = _multinomial_null(cat.counts, detectors.psi, name, samples, seed)
        return FeatureStatistic(feat.name, name, cpsi.score, null)
    if name == "js":
        cjs = _CategoricalJS(cat.counts, labels)
        null = _multinomial_null(cat.counts, detectors.js_distance, name, samples, seed)
        return FeatureStatistic(feat.name, name, cjs.score, null)
    raise ConfigError(f"statistic {name!r} does not apply to categorical feature {feat.name!r}")
