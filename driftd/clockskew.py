"""A warning when a live stream's event times are far from the wall clock.

Alert time is event time, so a producer whose clock is hours off (or a timestamp field that
means something else, such as the request's creation day) shifts every alert and group timer
by as much, silently. While the consumer reads at the head of its partitions the newest event
time should be close to now; a backlog is legitimately behind, so nothing is said while
catching up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

THRESHOLD_S = 3600.0
REPEAT_S = 3600.0


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    return f"{seconds / 3600:.1f} h"


class ClockSkew:
    """Logs once an hour per stream while its newest event time is over an hour off."""

    def __init__(
        self,
        threshold_s: float = THRESHOLD_S,
        repeat_s: float = REPEAT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._threshold = threshold_s
        self._repeat = repeat_s
        self._clock = clock
        self._warned: dict[str, float] = {}

    def observe(self, stream: str, newest: float, *, live: bool) -> bool:
        """Look at a batch's newest event time; True when it logged a warning."""
        if not live:
            return False
        now = self._clock()
        gap = now - newest
        if abs(gap) < self._threshold:
            self._warned.pop(stream, None)
            return False
        if now - self._warned.get(stream, -float("inf")) < self._repeat:
            return False
        self._warned[stream] = now
        where = "behind" if gap > 0 else "ahead of"
        log.warning(
            "stream %s: reading at the head of its topics, yet its newest event time is %s %s "
            "the wall clock: a producer's clock or the timestamp field (fields.timestamp, "
            "timestamp_unit) may be off, and alert timers follow event time",
            stream,
            _span(gap),
            where,
        )
        return True
