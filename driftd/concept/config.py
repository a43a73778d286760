"""Config of the concept-drift path: the label join, river detectors and performance windows.

Models are frozen and reject unknown keys, like the rest of the driftd config; durations are
strings like ``1d`` or ``60s``, or numbers of seconds. A monitor's ``concept:`` section looks
like this (every key optional)::

    concept:
      task: classification        # or regression
      positive_class: 1           # class counted as positive by precision/recall/f1/auc
      decision_threshold: 0.5     # numeric predictions are scores: class = score >= 0.5
      join:
        ttl: 1d                   # how long (arrival time) a prediction waits for its label
        max_pending: 10000000     # hard cap on waiting predictions; the oldest are evicted
        max_memory_bytes: 1073741824  # cap on the join's arrays; lowers max_pending if needed
        early_label_grace: 60s    # how long a label may wait for a prediction it overtook
        max_early_labels: 100000
        sweep_interval: 1m        # time between TTL sweeps
        initial_capacity: 1024
      detectors:                  # river detectors fed one error per joined pair
        - type: adwin             # on the 0/1 loss by default
          delta: 0.002
        - type: adwin
          name: adwin_brier
          error: squared          # (score - [label is positive])**2
        - type: page_hinkley
          name: ph_error
          threshold: 50.0
          mode: up
        - type: ddm               # binary: ddm, eddm, hddm_a, hddm_w
      performance:
        window: 1000              # joined pairs per window
        metrics: [accuracy, precision, recall, f1, auc]
        max_drop:                 # against the reference profile's performance
          accuracy: {absolute: 0.05}
          f1: {relative: 0.10}

For ``task: regression`` the metrics are ``mae`` and ``rmse`` (a rise is the "drop"), numeric
detectors default to the absolute error, and binary detectors are not allowed.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from driftd.concept.sizing import SLOT_BYTES, max_entries_within, table_bytes
from driftd.scalars import Duration, Name, PositiveDuration

ErrorSignal = Literal["zero_one", "absolute", "squared"]
ClassificationMetric = Literal["accuracy", "precision", "recall", "f1", "auc"]
RegressionMetric = Literal["mae", "rmse"]
Metric = Literal["accuracy", "precision", "recall", "f1", "auc", "mae", "rmse"]
CLASSIFICATION_METRICS: tuple[str, ...] = ("accuracy", "precision", "recall", "f1", "auc")
REGRESSION_METRICS: tuple[str, ...] = ("mae", "rmse")
LOWER_IS_BETTER = frozenset(REGRESSION_METRICS)
BINARY_DETECTORS = frozenset({"ddm", "eddm", "hddm_a", "hddm_w"})


class Section(BaseModel):
    """Base of every section: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class JoinConfig(Section):
    """How predictions wait for their labels, and the bounds on that wait."""

    ttl: PositiveDuration = 86400.0
    max_pending: int = Field(10_000_000, ge=1)
    max_memory_bytes: int = Field(1 << 30, gt=0)
    early_label_grace: Duration = 60.0
    max_early_labels: int = Field(100_000, ge=1)
    sweep_interval: PositiveDuration = 60.0
    initial_capacity: int = Field(1024, ge=8)

    @field_validator("initial_capacity")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value & (value - 1):
            raise ValueError(f"must be a power of two, got {value}")
        return value

    @model_validator(mode="after")
    def _fits(self) -> JoinConfig:
        if self.prediction_capacity < 1:
            raise ValueError(
                f"max_memory_bytes={self.max_memory_bytes} leaves no room for predictions once "
                f"the early-label buffer ({self.early_label_bytes} bytes) is set aside; "
                f"allow at least {self.early_label_bytes + 8 * SLOT_BYTES} bytes"
            )
        return self

    @property
    def early_label_bytes(self) -> int:
        """Most bytes the early-label buffer can take (0 when the grace is 0)."""
        return table_bytes(self.max_early_labels) if self.early_label_grace > 0 else 0

    @property
    def prediction_capacity(self) -> int:
        """The effective cap on pending predictions: ``max_pending`` or what the bytes allow."""
        by_bytes = max_entries_within(self.max_memory_bytes - self.early_label_bytes)
        return min(self.max_pending, by_bytes)


class _Detector(Section):
    name: Name | None = None


class AdwinConfig(_Detector):
    """river ``drift.ADWIN`` on the error; ``direction: increase`` ignores improvements."""

    type: Literal["adwin"]
    error: ErrorSignal | None = None
    direction: Literal["increase", "both"] = "increase"
    delta: float = Field(0.002, gt=0, lt=1)
    clock: int = Field(32, ge=1)
    max_buckets: int = Field(5, ge=2)
    min_window_length: int = Field(5, ge=1)
    grace_period: int = Field(10, ge=1)


class PageHinkleyConfig(_Detector):
    """river ``drift.PageHinkley`` on the error; ``mode: up`` alarms on rising error only.

    Defaults differ from river's (``alpha`` 0.9999, ``delta`` 0.005): with a forgetting factor
    the running minimum goes stale and the faded sum wanders back over it, 0.9-5.7 false alarms
    per 100,000 stationary 0/1 errors; ``alpha`` 1 and ``delta`` 0.01 give 0-0.6 and still find
    a 0.10 -> 0.20 error jump in a median 531 events (bench/concept_defaults.py).
    """

    type: Literal["page_hinkley"]
    error: ErrorSignal | None = None
    min_instances: int = Field(30, ge=1)
    delta: float = Field(0.01, ge=0)
    threshold: float = Field(50.0, gt=0)
    alpha: float = Field(1.0, gt=0, le=1)
    mode: Literal["up", "down", "both"] = "up"


class DDMConfig(_Detector):
    """river ``drift.binary.DDM`` on the 0/1 loss.

    ``warm_start`` 1000 (river: 30): after 30 events a lucky error-free stretch fixes the
    minimum the test compares with too low (at 5 % error, 31 clean events happen one time in
    five), giving misses and false alarms; with 1000 at most 0.6 per 100,000 and every
    0.10 -> 0.20 jump found within 5,000 events (bench/concept_defaults.py).
    """

    type: Literal["ddm"]
    warm_start: int = Field(1000, ge=1)
    warning_threshold: float = Field(2.0, gt=0)
    drift_threshold: float = Field(3.0, gt=0)

    @model_validator(mode="after")
    def _order(self) -> DDMConfig:
        if self.drift_threshold < self.warning_threshold:
            raise ValueError("drift_threshold must be at least warning_threshold")
        return self


class EDDMConfig(_Detector):
    """river ``drift.binary.EDDM`` on the 0/1 loss.

    ``warm_start`` 1000 (river: 30): river's default raised 20-89 false alarms per 100,000
    stationary events, 1000 gives 0.1-1.6. EDDM stays slow on small changes and slows with
    history; prefer adwin or hddm_w (bench/concept_defaults.py).
    """

    type: Literal["eddm"]
    warm_start: int = Field(1000, ge=1)
    alpha: float = Field(0.95, gt=0, lt=1)
    beta: float = Field(0.9, gt=0, lt=1)

    @model_validator(mode="after")
    def _order(self) -> EDDMConfig:
        if self.alpha < self.beta:
            raise ValueError("alpha (warning) must be at least beta (drift)")
        return self


class HDDMAConfig(_Detector):
    """river ``drift.binary.HDDMA`` on the 0/1 loss."""

    type: Literal["hddm_a"]
    drift_confidence: float = Field(0.001, gt=0, lt=1)
    warning_confidence: float = Field(0.005, gt=0, lt=1)
    two_sided_test: bool = False


class HDDMWConfig(_Detector):
    """river ``drift.binary.HDDMW`` on the 0/1 loss.

    ``lambda_val`` 0.002 (river: 0.05): at 0.05 the weighted mean spans about 40 events, its
    bound is about 0.4 in error rate, so it misses 0.03-0.10 rises and still alarms 40 times
    per 100,000 at 30 % error; 0.002 gives 0-0.2 false alarms up to 15 % error (2.2 at 30 %)
    and catches a 0.10 -> 0.20 jump in a median 488 events (bench/concept_defaults.py; 0.001
    halves the false alarms at 30 % error but reacts to large jumps twice as slowly).
    """

    type: Literal["hddm_w"]
    drift_confidence: float = Field(0.001, gt=0, lt=1)
    warning_confidence: float = Field(0.005, gt=0, lt=1)
    lambda_val: float = Field(0.002, gt=0, le=1)
    two_sided_test: bool = False


DetectorConfig = Annotated[
    AdwinConfig | PageHinkleyConfig | DDMConfig | EDDMConfig | HDDMAConfig | HDDMWConfig,
    Field(discriminator="type"),
]


class Drop(Section):
    """The largest tolerated fall of a metric below its reference, absolute or relative."""

    absolute: float | None = Field(None, ge=0)
    relative: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one(self) -> Drop:
        if (self.absolute is None) == (self.relative is None):
            raise ValueError("give exactly one of absolute or relative")
        return self

    def limit(self, reference: float, lower_is_better: bool) -> float:
        """The metric value at which a window is in drift."""
        if self.absolute is not None:
            return reference + self.absolute if lower_is_better else reference - self.absolute
        assert self.relative is not None
        factor = 1 + self.relative if lower_is_better else 1 - self.relative
        return reference * factor


class PerformanceConfig(Section):
    """Count windows of joined pairs and how far each metric may fall from the reference."""

    window: int = Field(1000, ge=10)
    metrics: tuple[Metric, ...] | None = None
    max_drop: dict[Metric, Drop] = Field(default_factory=dict)
    # Estimate the classification metrics from the scores alone (CBPE, driftd.concept.estimate)
    # on windows of `window` predictions, before any label arrives; judged by the same max_drop.
    estimate: bool = False


class ConceptConfig(Section):
    """The ``concept`` section of a monitor."""

    task: Literal["classification", "regression"] = "classification"
    positive_class: str | int | bool = 1
    decision_threshold: float | None = Field(
        default=0.5,
        description="classification: a numeric prediction is a score, and the predicted class "
        "is positive_class when score >= this (null: predictions are classes already)",
    )
    join: JoinConfig = JoinConfig()
    detectors: tuple[DetectorConfig, ...] = (AdwinConfig(type="adwin"),)
    performance: PerformanceConfig = PerformanceConfig()

    @model_validator(mode="after")
    def _check(self) -> ConceptConfig:
        allowed = CLASSIFICATION_METRICS if self.task == "classification" else REGRESSION_METRICS
        bad = [m for m in self.metrics if m not in allowed]
        if bad:
            raise ValueError(
                f"performance.metrics: {bad} do not apply to task {self.task}; use {allowed}"
            )
        missing = [m for m in self.performance.max_drop if m not in self.metrics]
        if missing:
            raise ValueError(f"performance.max_drop: {missing} not in performance.metrics")
        seen: set[str] = set()
        for i, det in enumerate(self.detectors):
            name = det.name or det.type
            if name in seen:
                raise ValueError(f"detectors[{i}]: a second detector named {name!r}; set name")
            seen.add(name)
            if self.task == "regression" and det.type in BINARY_DETECTORS:
                raise ValueError(f"detectors[{i}]: {det.type} needs task classification")
            error = getattr(det, "error", None)
            if self.task == "regression" and error == "zero_one":
                raise ValueError(f"detectors[{i}].error: zero_one needs task classification")
        if self.performance.estimate and (
            self.task != "classification" or self.decision_threshold is None
        ):
            raise ValueError(
                "performance.estimate needs task classification with a decision_threshold: "
                "the estimate reads calibrated scores"
            )
        return self

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics computed per window (the task's defaults when none are given)."""
        if self.performance.metrics is not None:
            return self.performance.metrics
        return CLASSIFICATION_METRICS if self.task == "classification" else REGRESSION_METRICS
