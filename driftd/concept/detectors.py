"""river drift detectors fed one error per joined pair.

Each configured detector wraps one river detector as it is (``update(x)``, ``drift_detected``);
the wrapper only turns a joined pair into the error signal the detector expects, keeps the
numbers a verdict reports, and snapshots state for restarts (:mod:`driftd.concept.riverstate`).

Signals: ``zero_one`` is 1 when the prediction differs from the label (binary detectors always
use it). ``absolute`` is ``|prediction - label|`` for a regressor; for a classifier it is
``|score - [label is positive]|``, with the hard prediction standing in for a missing score
(class codes are arbitrary numbers, so their difference would mean nothing). ``squared`` is
the square of ``absolute`` (the Brier score for a classifier). The default is ``zero_one`` for
classification and ``absolute`` for regression.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from river import drift
from river.base import DriftDetector

from driftd.concept import riverstate
from driftd.concept.config import BINARY_DETECTORS, DetectorConfig
from driftd.concept.errors import ConceptStateError

# Errors averaged into a verdict's value: enough to be stable, short enough to be "now".
RECENT = 100


@dataclass(frozen=True, slots=True)
class Detection:
    """One drift reported by a detector.

    ``index`` is the position of the pair within the batch given to :meth:`update`;
    ``recent_error`` the mean error of the last :data:`RECENT` pairs and ``baseline_error`` the
    mean error from the previous detection (or the start) up to those pairs.
    """

    index: int
    recent_error: float
    baseline_error: float


def build_river(config: DetectorConfig) -> DriftDetector:
    """The river detector a config describes."""
    params = config.model_dump(exclude={"type", "name", "error", "direction"})
    match config.type:
        case "adwin":
            return drift.ADWIN(**params)
        case "page_hinkley":
            return drift.PageHinkley(**params)
        case "ddm":
            return drift.binary.DDM(**params)
        case "eddm":
            return drift.binary.EDDM(**params)
        case "hddm_a":
            return drift.binary.HDDMA(**params)
        case "hddm_w":
            return drift.binary.HDDMW(**params)
    raise ValueError(f"unknown detector type {config.type!r}")


class ConceptDetector:
    """One configured river detector and the error signal it watches.

    Examples
    --------
    >>> import numpy as np
    >>> from driftd.concept.config import PageHinkleyConfig
    >>> from driftd.concept.detectors import ConceptDetector
    >>> det = ConceptDetector(PageHinkleyConfig(type="page_hinkley", threshold=20.0))
    >>> labels = np.zeros(400)
    >>> preds = np.r_[np.zeros(200), np.ones(200)]  # always right, then always wrong
    >>> [d.index for d in det.update(det.signal(preds, labels))]
    [221]
    """

    def __init__(
        self, config: DetectorConfig, task: str = "classification", positive: float = 0.0
    ) -> None:
        self.config = config
        self.task = task
        self.positive = positive
        self.name: str = config.name or config.type
        self.type: str = config.type
        default = "zero_one" if task == "classification" else "absolute"
        configured = getattr(config, "error", None)
        self.error: str = "zero_one" if config.type in BINARY_DETECTORS else configured or default
        self._increase_only = getattr(config, "direction", "both") == "increase"
        self.river = build_river(config)
        self.detections = 0
        self._recent: deque[float] = deque(maxlen=RECENT)
        self._since_sum = 0.0
        self._since_n = 0

    @property
    def warning(self) -> bool:
        """True while a binary detector is in its warning zone."""
        return bool(getattr(self.river, "warning_detected", False))

    def signal(
        self, prediction: np.ndarray, label: np.ndarray, score: np.ndarray | None = None
    ) -> np.ndarray:
        """The error of each joined pair, as this detector expects it (see the module doc)."""
        if self.error == "zero_one":
            return (prediction != label).astype(np.float64)
        if self.task == "classification":
            hard = (prediction == self.positive).astype(np.float64)
            p = hard if score is None else np.where(np.isnan(score), hard, score)
            diff = np.abs(p - (label == self.positive))
        else:
            diff = np.abs(prediction.astype(np.float64) - label.astype(np.float64))
        return diff if self.error == "absolute" else diff * diff

    def update(self, errors: np.ndarray) -> list[Detection]:
        """Feed the errors in order; return the drifts reported along the way."""
        detector = self.river
        adwin = self._increase_only and isinstance(detector, drift.ADWIN)
        binary = self.error == "zero_one" and self.type in BINARY_DETECTORS
        found: list[Detection] = []
        for i, e in enumerate(errors.tolist()):
            # river's binary detectors test x == 1, so they must see ints, not 1.0.
            x = int(e) if binary else e
            before = detector.estimation if adwin else 0.0
            detector.update(x)
            self._recent.append(e)
            self._since_sum += e
            self._since_n += 1
            if not detector.drift_detected:
                continue
            # ADWIN flags any change of the mean; a model that got better is not an alarm.
            if adwin and detector.estimation <= before:
                self._reset_levels()
                continue
            found.append(self._detection(i))
        return found

    def _detection(self, index: int) -> Detection:
        recent_sum = math.fsum(self._recent)
        recent_n = len(self._recent)
        rest_n = self._since_n - recent_n
        baseline = (self._since_sum - recent_sum) / rest_n if rest_n else math.nan
        self.detections += 1
        self._reset_levels()
        return Detection(index, recent_sum / recent_n, baseline)

    def _reset_levels(self) -> None:
        # river resets a detector on the update after a drift; the levels start over with it.
        self._recent.clear()
        self._since_sum = 0.0
        self._since_n = 0

    def state(self) -> dict[str, Any]:
        """JSON-able state for :meth:`load_state`."""
        return {
            "type": self.type,
            "error": self.error,
            "river": riverstate.snapshot(self.river),
            "detections": self.detections,
            "recent": list(self._recent),
            "since_sum": self._since_sum,
            "since_n": self._since_n,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state` of a detector configured the same way."""
        if state.get("type") != self.type or state.get("error") != self.error:
            raise ConceptStateError(
                f"detector {self.name!r}: saved as {state.get('type')}/{state.get('error')}, "
                f"configured as {self.type}/{self.error}"
            )
        fresh = build_river(self.config)
        riverstate.restore(fresh, state["river"])
        try:
            recent = [float(x) for x in state["recent"]]
            detections = int(state["detections"])
            since_sum = float(state["since_sum"])
            since_n = int(state["since_n"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConceptStateError(f"detector {self.name!r}: malformed state: {exc!r}") from exc
        self.river = fresh
        self.detections = detections
        self._recent = deque(recent, maxlen=RECENT)
        self._since_sum = since_sum
        self._since_n = since_n
