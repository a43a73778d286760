"""``driftd_window_dropped_events_total``: events a tumbling window could not take.

Read from the ``/status`` snapshot the loop publishes, so the scrape never touches the loop's
state: late events (their window had closed) and overflow (beyond ``max_events``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


class DroppedEvents(Collector):
    """Exports the late and overflow counts of every monitor's segments."""

    def __init__(self, status: Callable[[], dict[str, Any]]) -> None:
        self._status = status

    def collect(self) -> Iterator[CounterMetricFamily]:
        """One sample per monitor and reason, summed over segments."""
        family = CounterMetricFamily(
            "driftd_window_dropped_events",
            "Events a window dropped, per monitor and reason (late, overflow)",
            labels=["monitor", "reason"],
        )
        for monitor, segments in (self._status().get("monitors") or {}).items():
            for reason in ("late", "overflow"):
                total = sum(int(s.get(f"{reason}_events", 0)) for s in segments.values())
                family.add_metric([monitor, reason], total)
        yield family
