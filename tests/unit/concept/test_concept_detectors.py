"""river detectors behind ConceptDetector: detection, direction, and JSON state round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import TypeAdapter
from river import drift

from driftd.concept import riverstate
from driftd.concept.config import DetectorConfig
from driftd.concept.detectors import ConceptDetector
from driftd.concept.errors import ConceptStateError

ADAPTER = TypeAdapter(DetectorConfig)
TYPES = ["adwin", "page_hinkley", "ddm", "eddm", "hddm_a", "hddm_w"]


def make(type_: str, **params: object) -> ConceptDetector:
    return ConceptDetector(ADAPTER.validate_python({"type": type_, **params}))


def error_stream(seed: int, n_before: int = 1500, n_after: int = 1500) -> np.ndarray:
    """0/1 errors at a 10% rate, then 60%."""
    rng = np.random.default_rng(seed)
    return np.r_[rng.random(n_before) < 0.1, rng.random(n_after) < 0.6].astype(float)


# EDDM (warm_start 1000) cannot signal before 1000 errors since its last reset; HDDM_W's
# slower weighting (lambda 0.002, for few false alarms) takes a few hundred events more.
DELAY = {"eddm": 2000, "hddm_w": 700}


@pytest.mark.parametrize("type_", TYPES)
def test_each_detector_finds_a_rise_in_the_error_rate(type_: str) -> None:
    det = make(type_)
    found = det.update(error_stream(1, n_after=3000))
    hits = [d for d in found if 1500 <= d.index < 1500 + DELAY.get(type_, 300)]
    assert hits, f"{type_} missed the change: {found}"
    assert hits[0].recent_error > hits[0].baseline_error
    # With driftd's defaults none alarms before the change (river's DDM and EDDM did).
    assert found[0] is hits[0], f"{type_} alarmed before the change"
    assert det.detections == len(found)


@pytest.mark.parametrize("type_", TYPES)
def test_state_round_trip_continues_exactly(type_: str) -> None:
    errors = error_stream(2, 1200, 2500)
    straight = make(type_)
    expected = [d.index for d in straight.update(errors)]
    first = make(type_)
    got = [d.index for d in first.update(errors[:1400])]
    state = json.loads(json.dumps(first.state(), allow_nan=False))  # strict JSON, no pickle
    second = make(type_)
    second.load_state(state)
    got += [d.index + 1400 for d in second.update(errors[1400:])]
    assert got == expected
    assert second.detections == straight.detections
    assert second.warning == straight.warning


def test_adwin_ignores_an_improvement_unless_asked() -> None:
    improving = np.r_[np.ones(600), np.zeros(600)] * 1.0
    assert make("adwin").update(improving) == []
    assert make("adwin", direction="both").update(improving)


def test_page_hinkley_on_the_absolute_error_of_a_regressor() -> None:
    config = ADAPTER.validate_python({"type": "page_hinkley", "threshold": 20.0})
    det = ConceptDetector(config, task="regression")
    assert det.error == "absolute"
    rng = np.random.default_rng(0)
    label = rng.normal(size=1000)
    pred = label + np.r_[rng.normal(0, 0.1, 500), rng.normal(2.0, 0.1, 500)]
    found = det.update(det.signal(pred, label))
    assert found and 500 <= found[0].index < 560


def test_signals() -> None:
    pred, label = np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 1.0])
    assert make("ddm").signal(pred, label).tolist() == [0.0, 1.0, 1.0]
    regression = ADAPTER.validate_python({"type": "adwin", "error": "squared"})
    assert ConceptDetector(regression, "regression").signal(pred, label).tolist() == [0, 1, 9]
    # A classifier's absolute error is |score - [label is positive]| (code 1.0 positive here),
    # the hard prediction standing in for a missing score.
    det = ConceptDetector(
        ADAPTER.validate_python({"type": "adwin", "error": "absolute"}), positive=1.0
    )
    score = np.array([0.75, np.nan, 0.25])
    assert det.signal(pred, label, score).tolist() == [0.25, 0.0, 0.75]


def test_state_of_another_configuration_is_refused() -> None:
    state = make("adwin", delta=0.002).state()
    with pytest.raises(ConceptStateError, match="parameters"):
        make("adwin", delta=0.01).load_state(state)
    with pytest.raises(ConceptStateError, match="adwin"):
        make("ddm").load_state(state)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: s["river"]["attrs"].pop("_helper"),  # an attribute missing
        lambda s: s["river"]["attrs"].update(_helper={"$object": "os.system", "attrs": {}}),
        lambda s: s["river"]["attrs"].update(_drift_detected={"$float": "1e308"}),
        lambda s: s["river"].pop("params"),
        lambda s: s["river"]["attrs"]["_helper"].update(state="AAAA"),  # bytes Rust rejects
    ],
)
def test_tampered_state_is_refused_without_running_anything(tamper) -> None:
    det = make("adwin")
    det.update(error_stream(3, 100, 0))
    state = json.loads(json.dumps(det.state()))
    tamper(state)
    with pytest.raises(ConceptStateError):
        make("adwin").load_state(state)


def test_snapshot_refuses_unknown_objects() -> None:
    detector = drift.PageHinkley()
    detector._x_mean = object()  # not in the allow-list
    with pytest.raises(TypeError, match="cannot snapshot"):
        riverstate.snapshot(detector)
