"""Step 4 of the loop: every produced record acknowledged, within a deadline, or no commit."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from driftd.health import Health
from driftd.metrics import Metrics
from driftd.producing import ProduceError

log = logging.getLogger(__name__)

CONDITION = "produced_records_acknowledged"


class Acknowledgements:
    """Flushes every producer with a deadline; on a miss, backs off and reports not ready.

    ``flushes`` are the producers' ``flush(timeout)`` (dead letters, drift events, handovers).
    While a flush fails the daemon does not commit, keeps the records to send again, pauses
    consumption and answers ``/readyz`` with 503; retries back off from 1 s to 30 s.
    """

    def __init__(
        self,
        flushes: Sequence[Callable[[float], None]],
        timeout: float,
        metrics: Metrics,
        health: Health,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._flushes = list(flushes)
        self._timeout = timeout
        self._metrics = metrics
        self._health = health
        self._clock = clock
        self._failures = 0
        self._retry_at = 0.0
        health.set_condition(CONDITION, True)

    @property
    def failing(self) -> bool:
        """True between a failed flush and the next successful one."""
        return self._failures > 0

    def due(self) -> bool:
        """Whether a flush may be tried now (not inside a backoff)."""
        return self._clock() >= self._retry_at

    def flush(self, deadline: float | None = None) -> bool:
        """Flush every producer within the deadline; True when everything is acknowledged."""
        timeout = self._timeout if deadline is None else deadline
        try:
            for flush in self._flushes:
                flush(timeout)
        except ProduceError as exc:
            self._failures += 1
            delay = min(30.0, 2.0 ** min(self._failures - 1, 5))
            self._retry_at = self._clock() + delay
            self._metrics.produce_failures.inc()
            self._health.set_condition(CONDITION, False)
            log.warning("not committing, retrying in %.0fs: %s", delay, exc)
            return False
        if self._failures:
            log.info("produced records acknowledged again after %d failed tries", self._failures)
        self._failures = 0
        self._retry_at = 0.0
        self._health.set_condition(CONDITION, True)
        return True
