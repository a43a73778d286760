"""Aligner: which partitions run ahead in record time, and that reading never waits forever."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from driftd.sources.alignment import Aligner
from driftd.sources.base import Partition

P, L, S = Partition("preds", 0), Partition("labels", 0), Partition("scores", 0)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_only_what_is_ahead_by_more_than_the_skew_is_held() -> None:
    a = Aligner(skew_ms=1000, stall_s=30.0, clock=Clock())
    a.observe({P: 10_000, L: 10_900})
    assert a.held({P, L}) == set()  # 900 ms apart: within the skew
    a.observe({L: 11_001})
    assert a.held({P, L}) == {L}
    a.observe({P: 10_500})
    assert a.held({P, L}) == set()


def test_a_caught_up_partition_never_holds_the_others() -> None:
    a = Aligner(skew_ms=1000, stall_s=30.0, clock=Clock())
    a.observe({P: 0, L: 500_000})
    assert a.held({P, L}) == {L}
    assert a.held({L}) == set()  # preds has nothing left to read
    assert a.held(set()) == set()


def test_a_partition_that_stopped_moving_stops_holding_the_others() -> None:
    clock = Clock()
    a = Aligner(skew_ms=1000, stall_s=30.0, clock=clock)
    a.observe({P: 0, L: 500_000})
    clock.now = 29.0
    assert a.held({P, L}) == {L}
    clock.now = 30.0
    assert a.held({P, L}) == set()
    a.observe({P: 1000})  # it moves again: it holds again
    assert a.held({P, L}) == {L}


def test_an_unread_partition_holds_every_read_one_until_its_first_records() -> None:
    clock = Clock()
    a = Aligner(skew_ms=1000, stall_s=30.0, clock=clock)
    a.observe({P: 5000})
    assert a.held({P, L}) == {P}  # labels not read yet: their time is unknown
    a.observe({L: 4800})
    assert a.held({P, L}) == set()
    a.observe({S: 100})
    a.forget([S])
    assert a.held({P, L}) == set()


def test_an_unread_partition_that_never_delivers_is_given_up_after_the_stall() -> None:
    clock = Clock()
    a = Aligner(skew_ms=1000, stall_s=30.0, clock=clock)
    a.observe({P: 5000})
    assert a.held({P, S}) == {P}
    clock.now = 31.0
    assert a.held({P, S}) == set()


def test_records_without_timestamps_hold_nothing_back() -> None:
    a = Aligner(skew_ms=1000, stall_s=30.0, clock=Clock())
    a.observe({P: -1, L: 900_000})
    assert a.held({P, L}) == set()


def _read(streams: list[list[int]], skew: int, batch: int) -> tuple[list[int], int]:
    """Simulate kafka-python: each poll drains up to ``batch`` records of the first unpaused
    partition with records left (one in-line batch at a time), then the aligner decides."""
    clock = Clock()
    a = Aligner(skew_ms=skew, stall_s=30.0, clock=clock)
    parts = [Partition(f"t{i}", 0) for i in range(len(streams))]
    positions = [0] * len(streams)
    held: set[Partition] = set()
    order: list[int] = []
    polls = 0
    while any(pos < len(s) for pos, s in zip(positions, streams, strict=True)):
        polls += 1
        assert polls < 10 * sum(len(s) for s in streams) + 100, "reading stalled"
        clock.now += 0.01
        got = {}
        for i, part in enumerate(parts):
            if part in held or positions[i] >= len(streams[i]):
                continue
            taken = streams[i][positions[i] : positions[i] + batch]
            positions[i] += len(taken)
            order.extend(taken)
            got[part] = taken[-1]
            break
        a.observe(got)
        behind = {p for i, p in enumerate(parts) if positions[i] < len(streams[i])}
        held = a.held(behind)
    return order, polls


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(0, 100_000), min_size=0, max_size=300).map(sorted),
        min_size=1,
        max_size=4,
    ),
    st.integers(0, 5000),
    st.integers(1, 50),
)
def test_reading_finishes_and_stays_within_the_skew(
    streams: list[list[int]], skew: int, batch: int
) -> None:
    order, _ = _read(streams, skew, batch)
    assert sorted(order) == sorted(ts for s in streams for ts in s)  # all read, none twice
    gaps = [b - a for s in streams for a, b in itertools.pairwise(s)]
    overshoot = batch * max(gaps, default=0)  # one poll of the partition that ran ahead
    # Before a partition's first records nothing is known of its time: the first poll of each
    # partition may be out of order by as much as those first batches span.
    started = [s for s in streams if s]
    first = max(s[:batch][-1] for s in started) - min(s[0] for s in started) if started else 0
    latest, worst = -1, 0
    for ts in order:
        latest = max(latest, ts)
        worst = max(worst, latest - ts)
    assert worst <= skew + overshoot + first
