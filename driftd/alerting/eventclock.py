"""The alert clock: event time, so a backlog alerts exactly as the same data seen live.

Alert lifecycles (``for``, ``keep_firing_for``, stale series), aggregation group timers
(``group_wait``, ``group_interval``, ``repeat_interval``), retraining triggers and no-data
alerts all read this clock, never the wall clock. It is the newest window end seen, and it only
moves forward. While the consumer is caught up with the head of its partitions, it also flows at
wall-clock speed from there: a quiet live stream must still flush a group after ``group_wait``
and resolve after ``keep_firing_for``. While catching up it moves only with the events, so an
hour of backlog read in ten seconds still waits its ``group_wait`` in event time and sends the
notifications a live run would have sent, in the same order, with the same start times.

Monitors whose events carry no time (no ``fields.timestamp``) give windows without an end;
until a window with an event time arrives, the alert clock is the wall clock.

Receivers' retries, outbox ages and silences stay on the wall clock: they are about now.
"""

from __future__ import annotations

import math
from typing import Any


class EventClock:
    """Monotone event time in epoch seconds; ``None`` until the first window with a time."""

    def __init__(self) -> None:
        self._now: float | None = None
        self._wall: float | None = None

    @property
    def now(self) -> float | None:
        """The current event time, or None before anything was seen."""
        return self._now

    def observe(self, event_time: float) -> None:
        """A window ending at ``event_time`` was evaluated (NaN: its events carry no time)."""
        if math.isfinite(event_time) and (self._now is None or event_time > self._now):
            self._now = event_time

    def read(self, wall: float) -> float:
        """The alert clock: event time, or ``wall`` while no event time is known."""
        return wall if self._now is None else self._now

    def advance(self, wall: float, caught_up: bool) -> float:
        """Let event time flow with ``wall`` while caught up; returns the alert clock."""
        if caught_up and self._now is not None and self._wall is not None and wall > self._wall:
            self._now += wall - self._wall
        # Time spent catching up is not added later: only caught-up wall time flows in.
        self._wall = wall if caught_up else None
        return self.read(wall)

    def snapshot(self) -> dict[str, Any]:
        """The event time to persist with the alert state it produced."""
        return {"now": self._now}

    def restore(self, data: dict[str, Any]) -> None:
        """Continue from ``snapshot()`` (never backwards)."""
        saved = data.get("now")
        if saved is not None:
            self.observe(float(saved))
