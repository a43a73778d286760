"""One contract for every detector in the registry (after river's check suite)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from detectors import REGISTRY, Detector, Score
from detectors.base import CATEGORICAL, NUMERIC

WINDOW = 2_000
# Statistic an in-distribution window of 2000 must stay below (above, for the KS p-value).
NO_ALARM = {
    "ks": ("pvalue", 1e-3),
    "psi": ("statistic", 0.1),
    "js": ("statistic", 0.1),
    "wasserstein": ("statistic", 0.1),
    "linf": ("statistic", 0.1),
    "psi_categorical": ("statistic", 0.1),
}
# Statistic a clearly shifted window must exceed.
ALARM = {
    "ks": 0.2,
    "psi": 0.25,
    "js": 0.2,
    "wasserstein": 0.5,
    "linf": 0.2,
    "psi_categorical": 0.25,
}
CATEGORY_P = np.array([0.4, 0.3, 0.2, 0.1])
SHIFTED_P = np.array([0.1, 0.2, 0.3, 0.4])
N_CATEGORIES = CATEGORY_P.size + 1  # plus the other bin


def build(name: str, seed: int = 0) -> Detector:
    cls = REGISTRY[name]
    gen = np.random.default_rng(seed)
    if cls.kind == NUMERIC:
        return cls(gen.normal(size=20_000))  # type: ignore[call-arg]
    return cls(gen.choice(CATEGORY_P.size, size=20_000, p=CATEGORY_P), N_CATEGORIES)  # type: ignore[call-arg]


def window(name: str, gen: np.random.Generator, *, shifted: bool = False) -> np.ndarray:
    if REGISTRY[name].kind == NUMERIC:
        return gen.normal(1.0 if shifted else 0.0, size=WINDOW)
    probs = SHIFTED_P if shifted else CATEGORY_P
    codes = gen.choice(CATEGORY_P.size, size=WINDOW, p=probs)
    if shifted:
        codes[: WINDOW // 5] = N_CATEGORIES - 1  # unseen categories
    return codes


names = pytest.mark.parametrize("name", sorted(REGISTRY))


@names
def test_registry_entry_is_a_detector(name: str) -> None:
    det = build(name)
    assert isinstance(det, Detector)
    assert type(det).name == name
    assert type(det).kind in (NUMERIC, CATEGORICAL)
    assert name in NO_ALARM
    assert name in ALARM


@names
def test_score_is_deterministic_and_stateless(name: str) -> None:
    det = build(name)
    win = window(name, np.random.default_rng(1))
    first = det.score(win)
    assert isinstance(first, Score)
    assert det.score(win) == first
    assert build(name).score(win) == first


@names
def test_no_alarm_on_reference_distribution(name: str) -> None:
    det = build(name)
    gen = np.random.default_rng(2)
    field, limit = NO_ALARM[name]
    for _ in range(5):
        value = getattr(det.score(window(name, gen)), field)
        assert value is not None
        assert value > limit if field == "pvalue" else value < limit


@names
def test_alarm_on_shifted_window(name: str) -> None:
    score = build(name).score(window(name, np.random.default_rng(3), shifted=True))
    assert score.statistic > ALARM[name]
    if score.pvalue is not None:
        assert score.pvalue < 1e-6


@names
def test_pickle_round_trip_scores_identically(name: str) -> None:
    det = build(name)
    clone = pickle.loads(pickle.dumps(det))
    gen = np.random.default_rng(4)
    for shifted in (False, True):
        win = window(name, gen, shifted=shifted)
        assert clone.score(win) == det.score(win)


# KS and Wasserstein need the raw window (sorted values), so they have no histogram summary.
SUMMARIES = sorted(n for n, cls in REGISTRY.items() if hasattr(cls, "summary"))


@pytest.mark.parametrize("name", SUMMARIES)
def test_summary_scores_like_the_window(name: str) -> None:
    det = build(name)
    gen = np.random.default_rng(5)
    parts = [window(name, gen) for _ in range(3)]
    merged = det.summary().update(parts[0]) + det.summary().update(parts[1])
    merged = merged + det.summary().update(parts[2])
    assert det.score_summary(merged) == det.score(np.concatenate(parts))
    with pytest.raises(ValueError, match="summary must not be empty"):
        det.score_summary(det.summary())


@pytest.mark.parametrize("name", ["psi", "js"])
def test_binned_detectors_rebuild_from_counts(name: str) -> None:
    det = build(name)
    rebuilt = REGISTRY[name].from_counts(det.edges, det.reference_counts)  # type: ignore[attr-defined]
    win = window(name, np.random.default_rng(6))
    assert rebuilt.score(win) == det.score(win)


@pytest.mark.parametrize("name", ["linf", "psi_categorical"])
def test_categorical_detectors_rebuild_from_counts(name: str) -> None:
    det = build(name)
    labels = ["a", "b", "c", "d", "<other>"]
    rebuilt = REGISTRY[name].from_counts(det.reference_counts, labels=labels)  # type: ignore[attr-defined]
    score = rebuilt.score(window(name, np.random.default_rng(7), shifted=True))
    assert score.worst_label == labels[score.worst_bin]
