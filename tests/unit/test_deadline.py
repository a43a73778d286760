"""Deadlined: a blocking call given up on after its deadline, waited for before the next."""

from __future__ import annotations

import threading
import time

import pytest

from driftd.deadline import Deadlined, OverdueError
from driftd.errors import StateError


def test_a_call_within_its_deadline_returns_its_result_or_raises_its_error() -> None:
    calls: Deadlined[int] = Deadlined("write")
    assert calls.run(lambda: 7, timeout=1.0) == 7

    def fail() -> int:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        calls.run(fail, timeout=1.0)
    assert not calls.busy


def test_a_late_call_is_overdue_busy_until_done_and_blocks_the_next_one() -> None:
    release = threading.Event()
    ran: list[str] = []

    def hung() -> int:
        release.wait(10)
        ran.append("hung")
        return 1

    calls: Deadlined[int] = Deadlined("write")
    started = time.monotonic()
    with pytest.raises(OverdueError, match=r"did not finish within 0\.1s") as info:
        calls.run(hung, timeout=0.1)
    assert isinstance(info.value, StateError)  # the loop's state-failure path handles it
    assert time.monotonic() - started < 2.0
    assert calls.busy
    # The next call does not start while the late one runs: it would read the same state.
    with pytest.raises(OverdueError, match="previous call is still running"):
        calls.run(lambda: ran.append("second") or 2, timeout=0.1)
    assert ran == []
    assert not calls.settle(0.05)
    release.set()
    assert calls.settle(5.0)
    assert not calls.busy
    assert calls.run(lambda: ran.append("third") or 3, timeout=1.0) == 3
    assert ran == ["hung", "third"]


def test_the_next_call_gets_only_what_is_left_of_its_deadline() -> None:
    release = threading.Event()
    calls: Deadlined[None] = Deadlined("write")
    with pytest.raises(OverdueError):
        calls.run(lambda: release.wait(10) and None, timeout=0.05)
    threading.Timer(0.3, release.set).start()
    started = time.monotonic()
    # The late call ends after 0.3 s of a 0.5 s deadline; the next may use the 0.2 s left.
    with pytest.raises(OverdueError, match="did not finish"):
        calls.run(lambda: time.sleep(1.0), timeout=0.5)
    assert 0.4 < time.monotonic() - started < 0.9
