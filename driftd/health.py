"""Liveness and readiness as the daemon reports them to /healthz, /readyz and systemd."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Health:
    """Liveness (the loop is turning) and readiness (named conditions all true).

    Examples
    --------
    >>> now = [100.0]
    >>> h = Health(stall_after=30.0, clock=lambda: now[0])
    >>> h.alive(), h.ready()
    (True, (False, ['starting']))
    >>> h.set_condition("starting", True); h.ready()
    (True, [])
    >>> now[0] += 31; h.alive()
    False
    """

    def __init__(self, stall_after: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._stall_after = stall_after
        self._last_beat = clock()
        self._lock = threading.Lock()
        self._conditions: dict[str, bool] = {"starting": False}

    def beat(self) -> None:
        """Called by the main loop on every turn."""
        self._last_beat = self._clock()

    def alive(self) -> bool:
        """False when the loop has not turned for ``stall_after`` seconds."""
        return self._clock() - self._last_beat <= self._stall_after

    def set_condition(self, name: str, ok: bool) -> None:
        """Set one readiness condition (e.g. ``partitions_assigned``)."""
        with self._lock:
            self._conditions[name] = ok

    def condition(self, name: str) -> bool | None:
        """One readiness condition as last set (None: never set)."""
        with self._lock:
            return self._conditions.get(name)

    def ready(self) -> tuple[bool, list[str]]:
        """Whether every condition holds, and the names of those that do not."""
        with self._lock:
            failing = sorted(k for k, ok in self._conditions.items() if not ok)
        return not failing, failing
