"""Step 4 of the loop: every produced record acknowledged, within a deadline, or no commit.

``RetryGate`` is the shared shape of "a step that may fail and must not be hammered": it counts
consecutive failures, backs off from 1 s to 30 s, and reports a readiness condition. The
acknowledgements below use one; the daemon uses another for writing state to disk.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from prometheus_client import Counter

from driftd.health import Health
from driftd.metrics import Metrics
from driftd.producing import ProduceError

log = logging.getLogger(__name__)

CONDITION = "produced_records_acknowledged"


class RetryGate:
    """Consecutive failures of one step, its backoff, its readiness condition and counter."""

    def __init__(
        self,
        condition: str,
        counter: Counter,
        health: Health,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._condition = condition
        self._counter = counter
        self._health = health
        self._clock = clock
        self.failures = 0
        self._retry_at = 0.0
        health.set_condition(condition, True)

    @property
    def failing(self) -> bool:
        """True between a failure and the next success."""
        return self.failures > 0

    def due(self) -> bool:
        """Whether the step may be tried now (not inside a backoff)."""
        return self._clock() >= self._retry_at

    def failed(self, what: str, exc: Exception) -> None:
        """Count a failure, start the backoff, report not ready."""
        self.failures += 1
        delay = min(30.0, 2.0 ** min(self.failures - 1, 5))
        self._retry_at = self._clock() + delay
        self._counter.inc()
        self._health.set_condition(self._condition, False)
        log.warning("%s, not committing; retrying in %.0fs: %s", what, delay, exc)

    def succeeded(self, what: str) -> None:
        """The step worked: ready again, no backoff."""
        if self.failures:
            log.info("%s again after %d failed tries", what, self.failures)
            self._health.set_condition(self._condition, True)
        self.failures = 0
        self._retry_at = 0.0


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
        self._gate = RetryGate(CONDITION, metrics.produce_failures, health, clock)

    @property
    def failing(self) -> bool:
        """True between a failed flush and the next successful one."""
        return self._gate.failing

    def due(self) -> bool:
        """Whether a flush may be tried now (not inside a backoff)."""
        return self._gate.due()

    def flush(self, deadline: float | None = None) -> bool:
        """Flush every producer within the deadline; True when everything is acknowledged."""
        timeout = self._timeout if deadline is None else deadline
        try:
            for flush in self._flushes:
                flush(timeout)
        except ProduceError as exc:
            self._gate.failed("produced records not acknowledged", exc)
            return False
        self._gate.succeeded("produced records acknowledged")
        return True
