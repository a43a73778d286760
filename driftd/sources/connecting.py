"""A source that comes up without its broker: the daemon starts, serves health, and keeps trying.

Creating a Kafka consumer waits for a broker to answer. With the brokers away at start-up
(a rollout during a Kafka outage, a wrong address) that used to end the process with exit 1
after 30 s of the client's own connection errors, and Kubernetes restarted it into the same
wait, never answering ``/healthz``. ``ConnectingSource`` is the ``Source`` the loop gets
instead: until the real one exists, polls return nothing after a short wait, ``connected``
is false (so ``/readyz`` answers 503), commits are refused (kept for later), and an attempt
is made every ``retry_s`` seconds, with one driftd line saying what is wrong (again each
minute while it lasts). Once created, every call goes to the real source.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from driftd.errors import SourceError
from driftd.sources.base import Batch, Partition, Source

log = logging.getLogger(__name__)

LOG_EVERY_S = 60.0


class ConnectingSource:
    """Wraps ``make`` (which raises ``SourceError`` while no broker answers)."""

    def __init__(
        self,
        make: Callable[[], Source],
        *,
        describe: str,
        retry_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._make = make
        self._describe = describe
        self._retry_s = retry_s
        self._clock = clock
        self._sleep = sleep
        self._source: Source | None = None
        self._next_try = -float("inf")
        self._logged_at = -float("inf")
        self._failures = 0
        self._paused = False
        # The first attempt is made by the first poll, once HTTP is up: not here.

    @property
    def ready(self) -> bool:
        """Whether the real source exists."""
        return self._source is not None

    def _try(self) -> Source | None:
        if self._source is not None or self._clock() < self._next_try:
            return self._source
        try:
            self._source = self._make()
        except SourceError as exc:
            self._failures += 1
            now = self._clock()
            self._next_try = now + self._retry_s
            if now - self._logged_at >= LOG_EVERY_S:
                self._logged_at = now
                log.error(
                    "cannot reach the Kafka brokers %s (%d attempt(s)): %s; retrying every "
                    "%.0fs, /readyz answers 503 meanwhile",
                    self._describe,
                    self._failures,
                    exc,
                    self._retry_s,
                )
            return None
        if self._failures:
            log.info(
                "connected to the Kafka brokers %s after %d failed attempt(s)",
                self._describe,
                self._failures,
            )
        if self._paused:
            self._source.pause(True)
        return self._source

    def poll(self, timeout_s: float) -> Batch:
        """The real source's poll; nothing (after up to ``timeout_s``) until it exists."""
        source = self._try()
        if source is not None:
            return source.poll(timeout_s)
        self._sleep(max(0.0, min(timeout_s, self._next_try - self._clock())))
        return {}

    def commit(self, offsets: dict[Partition, int]) -> None:
        """Commit through the real source; refused (the daemon retries) until it exists."""
        source = self._try()
        if source is None:
            raise SourceError(f"not connected to the Kafka brokers {self._describe} yet")
        source.commit(offsets)

    def caught_up(self) -> bool:
        """False until connected: nothing is known about the partitions yet."""
        return self._source is not None and self._source.caught_up()

    def pause(self, paused: bool) -> None:
        """Pause or resume; remembered and applied once the real source exists."""
        self._paused = paused
        if self._source is not None:
            self._source.pause(paused)

    def seek(self, partition: Partition, offset: int) -> None:
        """Seek on the real source (assignments only come from it)."""
        if self._source is None:
            raise SourceError("seek before the Kafka consumer exists")
        self._source.seek(partition, offset)

    def lag(self) -> dict[Partition, int]:
        """The real source's lag; none known until it exists."""
        return self._source.lag() if self._source is not None else {}

    def connected(self) -> bool:
        """False until the real source exists, then whatever it says."""
        return self._source is not None and self._source.connected()

    def close(self) -> None:
        """Close the real source if it was made."""
        if self._source is not None:
            self._source.close()
