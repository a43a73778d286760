"""A blocking call with a deadline, for I/O Python cannot interrupt (a hung disk or NFS mount).

The call runs on a worker thread and the caller waits at most ``timeout``. A late call cannot be
killed: it is left to finish, the caller learns it is ``busy`` and must not start another (or
touch what the call reads) until it is done. A later ``run`` first waits for the late call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from driftd.errors import StateError

T = TypeVar("T")


class OverdueError(StateError):
    """A call that did not finish within its deadline; it is still running."""


class _Call(Generic[T]):
    def __init__(self, fn: Callable[[], T], name: str) -> None:
        self._fn = fn
        self._done = threading.Event()
        self._result: T | None = None
        self._error: BaseException | None = None
        # A daemon thread: a call stuck in the kernel must not keep the process from exiting.
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._fn()
        except BaseException as exc:  # handed to the caller, who decides
            self._error = exc
        finally:
            self._done.set()

    def wait(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    def outcome(self) -> T:
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]


class Deadlined(Generic[T]):
    """Runs one call at a time on a worker thread, waiting for each at most a deadline."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._late: _Call[T] | None = None

    @property
    def busy(self) -> bool:
        """True while a call that missed its deadline is still running."""
        if self._late is not None and self._late.wait(0):
            self._late = None
        return self._late is not None

    def settle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for a late call; True when none is running any more."""
        if self._late is not None and self._late.wait(timeout):
            self._late = None
        return self._late is None

    def run(self, fn: Callable[[], T], timeout: float) -> T:
        """``fn()``'s result or exception; ``OverdueError`` when it outlasts ``timeout``.

        A late call from before is waited for first, within the same deadline; what it
        returned is dropped, since the caller already treated it as failed.
        """
        end = time.monotonic() + timeout
        if not self.settle(timeout):
            raise OverdueError(f"{self._name}: the previous call is still running")
        call = _Call(fn, self._name)
        if not call.wait(max(0.0, end - time.monotonic())):
            self._late = call
            raise OverdueError(f"{self._name} did not finish within {timeout:g}s")
        return call.outcome()
