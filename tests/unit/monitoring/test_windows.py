"""Count and tumbling windows close at the right events and keep every value."""

from __future__ import annotations

import numpy as np
import pytest

from driftd.monitoring.columns import MISSING, OK
from driftd.monitoring.windows import ClosedWindow, CountWindows, Rows, TumblingWindows


def _rows(values: np.ndarray, times: np.ndarray | None = None) -> Rows:
    n = values.size
    return Rows(
        numeric=values.reshape(n, 1).astype(float),
        categorical=(values.reshape(n, 1) % 3).astype(np.int32),
        times=np.full(n, np.nan) if times is None else times,
        anomalies=np.where(np.arange(n) == 0, MISSING, OK).astype(np.uint8).reshape(n, 1),
    )


def test_count_windows_split_batches_exactly() -> None:
    closed: list[tuple[int, list[float]]] = []

    def on_close(w: ClosedWindow) -> None:
        closed.append((w.index, w.numeric[:, 0].tolist()))

    windows = CountWindows(4, 1, 1, 1)
    windows.add(_rows(np.arange(3)), on_close)
    assert closed == [] and windows.pending == 3
    windows.add(_rows(np.arange(3, 13)), on_close)
    assert [i for i, _ in closed] == [0, 1, 2]
    assert [v for _, v in closed] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert windows.pending == 1


def test_tumbling_windows_by_event_time_with_late_events() -> None:
    closed: list[ClosedWindow] = []
    windows = TumblingWindows(10.0, 100, 1, 1, 1)
    times = np.array([0.0, 3.0, 9.9, 10.0, 15.0, 4.0, 31.0])
    windows.add(
        _rows(np.arange(7), times),
        lambda w: closed.append(
            ClosedWindow(w.index, w.numeric.copy(), w.categorical.copy(), w.schema, w.start, w.end)
        ),
    )
    assert [c.numeric[:, 0].tolist() for c in closed] == [[0, 1, 2], [3, 4]]
    assert (closed[0].start, closed[0].end) == (0.0, 10.0)
    assert windows.late == 1  # the event at t=4 arrived after its window closed
    windows.flush(closed.append)
    assert closed[-1].numeric[:, 0].tolist() == [6] and closed[-1].start == 30.0


def test_tumbling_overflow_is_counted() -> None:
    windows = TumblingWindows(10.0, 3, 1, 1, 1)
    windows.add(_rows(np.arange(5), np.zeros(5)), lambda w: None)
    assert windows.pending == 3 and windows.overflow == 2


def test_tumbling_requires_event_time() -> None:
    with pytest.raises(ValueError, match="event time"):
        TumblingWindows(10.0, 10, 1, 1, 1).add(_rows(np.arange(2)), lambda w: None)
