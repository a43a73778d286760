"""Limits on drift statistics: static, calibrated, and adaptive, with a minimum effect size.

Every policy answers ``limit(n)`` for a window of ``n`` events and is told each evaluated
value with ``observe(value, drifted)``; only the adaptive policy learns, and never from a
window that was in drift.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Protocol

import numpy as np

from driftd.monitoring.nulls import NullModel, family_alpha


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
    """A base limit that follows the statistic on recent no-drift windows.

    After ``warmup`` no-drift windows the limit moves towards ``mean + k·sigma`` of an EWMA of
    the statistic (``method="ewma"``) or towards the ``quantile`` of the last ``history``
    no-drift values (``method="quantile"``), by at most ``max_change`` (relative) per window, so
    a slow creep cannot drag the limit along with it. Windows in drift are never learned from.
    """

    def __init__(
        self,
        base: StaticLimit | CalibratedLimit,
        *,
        method: str = "ewma",
        alpha: float = 0.05,
        k: float = 4.0,
        quantile: float = 0.999,
        history: int = 200,
        warmup: int = 20,
        max_change: float = 0.5,
        min_effect: float | None = None,
    ) -> None:
        self.base = base
        self.method = method
        self.alpha = alpha
        self.k = k
        self.quantile = quantile
        self.warmup = warmup
        self.max_change = max_change
        self.min_effect = min_effect
        self.mean = 0.0
        self.var = 0.0
        self.seen = 0
        self.history: deque[float] = deque(maxlen=history)
        self.current: float | None = None
        self._last_base = math.nan

    def limit(self, n: int) -> float:
        """The adapted limit (the base limit until warm)."""
        base = self.base.limit(n)
        self._last_base = base
        value = base if self.seen < self.warmup or self.current is None else self.current
        return max(value, self.min_effect or -math.inf)

    def observe(self, value: float, drifted: bool) -> None:
        """Learn from a no-drift window; ignore windows in drift."""
        if drifted or not math.isfinite(value):
            return
        self.seen += 1
        self.history.append(value)
        if self.seen == 1:
            self.mean, self.var = value, 0.0
        else:
            delta = value - self.mean
            self.mean += self.alpha * delta
            self.var = (1.0 - self.alpha) * (self.var + self.alpha * delta * delta)
        if self.seen < self.warmup:
            return
        if self.method == "quantile":
            target = float(np.quantile(np.fromiter(self.history, float), self.quantile))
        else:
            target = self.mean + self.k * math.sqrt(self.var)
        # limit() runs before observe() for the same window, so _last_base is this window's.
        previous = self.current if self.current is not None else self._last_base
        step = abs(previous) * self.max_change
        self.current = min(max(target, previous - step), previous + step)

    def state(self) -> dict[str, Any]:
        """What a checkpoint needs to resume adapting where it left off."""
        return {
            "mean": self.mean,
            "var": self.var,
            "seen": self.seen,
            "history": list(self.history),
            "current": self.current,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Resume from ``state()``."""
        self.mean = float(state["mean"])
        self.var = float(state["var"])
        self.seen = int(state["seen"])
        self.history.clear()
        self.history.extend(float(v) for v in state["history"])
        self.current = None if state["current"] is None else float(state["current"])
