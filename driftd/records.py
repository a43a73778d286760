"""Frozen records that flow between the stages of the daemon."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class State(enum.StrEnum):
    """The outcome of evaluating one statistic on one window."""

    OK = "ok"
    DRIFT = "drift"
    INSUFFICIENT = "insufficient_data"


@dataclass(frozen=True, slots=True)
class Verdict:
    """One statistic of one feature of one monitor (and segment) on one closed window.

    ``kind`` is ``data`` (covariate drift), ``prediction``, ``schema`` (data quality),
    ``comparison`` (a candidate model against its baseline: shadow, canary) or
    ``concept`` (performance after the label join). ``window_start``/``window_end`` are event
    times in seconds (NaN when events carry none). ``window_epoch`` names the run of windows
    ``window_index`` counts in: it changes whenever a monitor's windows start over (a new
    monitor, a reset, a checkpoint that did not fit) and is kept across a restore, so
    ``(window_epoch, window_index)`` identifies a window even when it is replayed after a crash.
    """

    monitor: str
    feature: str
    statistic: str
    value: float
    limit: float
    state: State
    kind: str = "data"
    segment: tuple[tuple[str, str], ...] = ()
    window_index: int = 0
    window_epoch: str = ""
    window_size: int = 0
    window_start: float = float("nan")
    window_end: float = float("nan")
    pvalue: float | None = None
    detail: str = ""
    labels: tuple[tuple[str, str], ...] = field(default=())
    # The window's counts on the reference bins (numeric) or categories (+ "other" last), for
    # data and prediction verdicts: what reports draw against the reference.
    histogram: tuple[int, ...] = ()

    @property
    def drifted(self) -> bool:
        """True when the statistic crossed its limit."""
        return self.state is State.DRIFT
