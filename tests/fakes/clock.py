"""A clock the test moves by hand."""

from __future__ import annotations


class FakeClock:
    """Callable returning epoch seconds; starts at 2023-11-14T22:13:20Z."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move forward and return the new time."""
        self.now += seconds
        return self.now
