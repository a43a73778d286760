"""Limits on drift statistics: static, calibrated, and adaptive, with a minimum effect size.

Every policy answers ``limit(n)`` for a window of ``n`` events and is told each evaluated
value with ``observe(value, drifted)``; only the adaptive policy learns, and never from a
window beyond its creep guard.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from typing import Any, Protocol

import numpy as np
from scipy.special import ndtri  # the normal quantile, without importing scipy.stats (0.5 s)

from driftd.monitoring.nulls import NullModel, family_alpha

log = logging.getLogger(__name__)


class Threshold(Protocol):
    """A limit on one statistic of one feature."""

    def limit(self, n: int) -> float: ...
    def observe(self, value: float, drifted: bool) -> None: ...


class StaticLimit:
    """A fixed limit."""

    def __init__(self, value: float, min_effect: float | None = None) -> None:
        self.value = value
        self.min_effect = min_effect

    def limit(self, n: int) -> float:
        """The configured value (raised to ``min_effect`` when that is larger)."""
        return max(self.value, self.min_effect or -math.inf)

    def observe(self, value: float, drifted: bool) -> None:
        """Static limits do not learn."""


class CalibratedLimit:
    """The null distribution's quantile for a family-wise false-alarm target.

    ``family_size`` (features × statistics × segments) is kept current by the monitor, so
    adding a segment tightens every test of the family.
    """

    def __init__(
        self,
        null: NullModel,
        windows_between_false_alarms: float,
        correction: str,
        min_effect: float | None = None,
    ) -> None:
        self.null = null
        self.windows_between_false_alarms = windows_between_false_alarms
        self.correction = correction
        self.min_effect = min_effect
        self.family_size = 1

    @property
    def alpha(self) -> float:
        """The per-test false-alarm probability per window."""
        return family_alpha(self.windows_between_false_alarms, self.family_size, self.correction)

    def limit(self, n: int) -> float:
        """The null quantile at window size ``n``."""
        return max(self.null.quantile(n, self.alpha), self.min_effect or -math.inf)

    def observe(self, value: float, drifted: bool) -> None:
        """Calibrated limits do not learn."""


class AdaptiveLimit:
    """A base limit widened by how much more the statistic varies in production than under
    the null, learned from recent no-drift windows.

    Production windows are often more variable than windows drawn from the reference
    (seasonality, clustered traffic, a reference a little off): the calibrated limit then
    alarms more often than it promises. The adaptive limit models the no-drift statistic as a
    location-scale transform of its null: each no-drift window's value is standardized by
    the base's null median ``m`` and 90th percentile ``h`` at its size, ``t = (v - m) / (h -
    m)`` (median 0 and 90th percentile 1 under the null); over the last ``history`` no-drift
    windows, ``c = median(t)`` and ``d = q90(t) - c``, and the limit is the null's ``alpha``
    quantile ``q`` carried through the same transform, ``m + c·(h - m) + d·(q - m)``. So it
    targets the same tail probability ``alpha`` as the base. On a static base (no null) the
    tail is extrapolated from the history as normal (median plus the robust spread times
    the normal quantile of ``alpha``).

    Bounds: the limit is at least the base limit unless ``floor`` is off (so no-drift windows
    alarm at most as often as the base promises), at most ``max_inflation`` times it (and at
    most ``max_limit``), and its ratio to the base moves by at most ``max_change`` (relative)
    per window. Windows in drift are never learned from, so a drift cannot raise its own
    limit past ``max_inflation`` times the base, and a slow creep cannot drag it along.
    """

    def __init__(
        self,
        base: StaticLimit | CalibratedLimit,
        *,
        history: int = 200,
        warmup: int = 20,
        max_inflation: float = 2.0,
        max_limit: float | None = None,
        floor: bool = True,
        max_change: float = 0.5,
        windows_between_false_alarms: float = 1000.0,
        min_effect: float | None = None,
    ) -> None:
        self.base = base
        self.warmup = warmup
        self.max_inflation = max_inflation
        self.max_limit = max_limit
        self.floor = floor
        self.max_change = max_change
        self.windows_between_false_alarms = windows_between_false_alarms
        self.min_effect = min_effect
        self.family_size = 1
        self.seen = 0
        self.values: deque[float] = deque(maxlen=history)  # standardized no-drift values
        self.factor = 1.0
        self._last_n = 0
        self._guard = math.inf

    @property
    def alpha(self) -> float:
        """The tail probability the limit targets (the base's, when it is calibrated)."""
        if isinstance(self.base, CalibratedLimit):
            return self.base.alpha
        return family_alpha(self.windows_between_false_alarms, self.family_size, "sidak")

    def limit(self, n: int) -> float:
        """The base limit at ``n`` times the learned factor (the base limit until warm)."""
        self._last_n = n
        base = self.base.limit(n)
        value = base * self.factor if self.seen >= self.warmup else base
        self._guard = base * self.max_inflation
        if self.max_limit is not None:
            ceiling = max(self.max_limit, base if self.floor else -math.inf)
            value = min(value, ceiling)
            self._guard = min(self._guard, ceiling)
        return max(value, self.min_effect or -math.inf)

    def _null_points(self, n: int) -> tuple[float, float, float]:
        # The base's null median, 90th percentile and alpha quantile at n.
        assert isinstance(self.base, CalibratedLimit)
        null = self.base.null
        return null.quantile(n, 0.5), null.quantile(n, 0.1), null.quantile(n, self.alpha)

    def observe(self, value: float, drifted: bool) -> None:
        """Learn from a window within the creep guard, in drift or not (leaving out the
        windows over the current limit would truncate exactly the tail being estimated)."""
        n = self._last_n
        if not math.isfinite(value) or n <= 0 or value > self._guard:
            return
        if isinstance(self.base, CalibratedLimit):
            mid, high, _ = self._null_points(n)
            if not high > mid:
                return
            standardized = (value - mid) / (high - mid)
        else:
            if not self.base.value > 0.0:
                return
            standardized = value / self.base.value
        self.seen += 1
        self.values.append(standardized)
        if self.seen < self.warmup:
            return
        target = self._target(n)
        lowest = 1.0 if self.floor else 1.0 / self.max_inflation
        target = min(max(target, lowest), self.max_inflation)
        step = self.factor * self.max_change
        self.factor = min(max(target, self.factor - step), self.factor + step)

    def _target(self, n: int) -> float:
        # The learned tail at n over the base's tail at n.
        values = np.fromiter(self.values, float, len(self.values))
        centre = float(np.median(values))
        spread = float(np.quantile(values, 0.9)) - centre
        if isinstance(self.base, CalibratedLimit):
            mid, high, tail = self._null_points(n)
            learned = mid + centre * (high - mid) + max(spread, 0.0) * (tail - mid)
            return learned / tail if tail > 0.0 else 1.0
        # Static: values over the static limit; a normal tail at alpha from median and spread.
        sigma = max(spread, 0.0) / float(-ndtri(0.1))
        return centre + sigma * float(-ndtri(self.alpha))

    def state(self) -> dict[str, Any]:
        """What a checkpoint needs to resume adapting where it left off."""
        return {
            "version": 2,
            "seen": self.seen,
            "values": list(self.values),
            "factor": self.factor,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Resume from ``state()`` (a state of the earlier mean + k-sigma method starts the
        warm-up again: its numbers do not translate)."""
        if state.get("version") != 2:
            log.info("adaptive threshold state from an earlier version: warming up again")
            return
        self.seen = int(state["seen"])
        self.values.clear()
        self.values.extend(float(v) for v in state["values"])
        self.factor = float(state["factor"])
