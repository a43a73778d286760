"""Count-based and event-time tumbling windows on preallocated columnar buffers.

A window keeps numeric features as one float64 matrix and categorical features as one int32
matrix, filled a batch slice at a time; no per-event Python object is kept. A closed window is
handed to the evaluator as views into the buffers and evaluated before the buffers are reused.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftd.monitoring.columns import SchemaCounts


@dataclass(frozen=True)
class ClosedWindow:
    """The events of one closed window (views, valid only during evaluation)."""

    index: int
    numeric: np.ndarray
    categorical: np.ndarray
    schema: tuple[SchemaCounts, ...]
    start: float
    end: float

    @property
    def size(self) -> int:
        """Number of events in the window."""
        return int(self.numeric.shape[0])


@dataclass(frozen=True)
class Rows:
    """A slice of converted batch rows destined for one window buffer."""

    numeric: np.ndarray
    categorical: np.ndarray
    times: np.ndarray
    anomalies: np.ndarray  # uint8 (rows, features): a per-event code of driftd.monitoring.columns


OnClose = Callable[[ClosedWindow], None]


class _Buffer:
    def __init__(self, capacity: int, n_numeric: int, n_categorical: int, n_schema: int) -> None:
        self.numeric = np.empty((capacity, n_numeric), dtype=np.float64)
        self.categorical = np.empty((capacity, n_categorical), dtype=np.int32)
        self.anomalies = np.empty((capacity, n_schema), dtype=np.uint8)
        self.fill = 0
        self.start = math.inf
        self.end = -math.inf

    @property
    def capacity(self) -> int:
        return int(self.numeric.shape[0])

    def append(self, rows: Rows, lo: int, hi: int) -> None:
        n = hi - lo
        f = self.fill
        self.numeric[f : f + n] = rows.numeric[lo:hi]
        self.categorical[f : f + n] = rows.categorical[lo:hi]
        self.anomalies[f : f + n] = rows.anomalies[lo:hi]
        self.fill = f + n
        times = rows.times[lo:hi]
        if times.size and not np.isnan(times).all():
            self.start = min(self.start, float(np.nanmin(times)))
            self.end = max(self.end, float(np.nanmax(times)))

    def close(
        self, index: int, start: float | None = None, end: float | None = None
    ) -> ClosedWindow:
        return ClosedWindow(
            index=index,
            numeric=self.numeric[: self.fill],
            categorical=self.categorical[: self.fill],
            schema=tuple(
                SchemaCounts.of(self.anomalies[: self.fill, j])
                for j in range(self.anomalies.shape[1])
            ),
            start=self.start if start is None else start,
            end=self.end if end is None else end,
        )

    def snapshot(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta = {
            "fill": self.fill,
            "start": self.start,
            "end": self.end,
        }
        arrays = {
            "numeric": self.numeric[: self.fill].copy(),
            "categorical": self.categorical[: self.fill].copy(),
            "anomalies": self.anomalies[: self.fill].copy(),
        }
        return meta, arrays

    def restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        fill = int(meta["fill"])
        numeric, categorical = arrays["numeric"], arrays["categorical"]
        anomalies = arrays["anomalies"]
        if (
            fill > self.capacity
            or numeric.shape != (fill, *self.numeric.shape[1:])
            or categorical.shape != (fill, *self.categorical.shape[1:])
            or anomalies.shape != (fill, *self.anomalies.shape[1:])
        ):
            raise ValueError("window shape changed since the checkpoint")
        self.numeric[:fill] = numeric
        self.categorical[:fill] = categorical
        self.anomalies[:fill] = anomalies
        self.fill = fill
        self.start = float(meta["start"])
        self.end = float(meta["end"])

    def reset(self) -> None:
        self.fill = 0
        self.start = math.inf
        self.end = -math.inf


class CountWindows:
    """Closes a window every ``size`` events."""

    def __init__(self, size: int, n_numeric: int, n_categorical: int, n_schema: int) -> None:
        self._buf = _Buffer(size, n_numeric, n_categorical, n_schema)
        self.index = 0

    @property
    def pending(self) -> int:
        """Events in the open window."""
        return self._buf.fill

    def snapshot(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The open window and the window counter, for a checkpoint."""
        meta, arrays = self._buf.snapshot()
        return {"index": self.index, **meta}, arrays

    def restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Continue from ``snapshot()``."""
        self._buf.restore(meta, arrays)
        self.index = int(meta["index"])

    def add(self, rows: Rows, on_close: OnClose) -> None:
        """Append rows; every time the window fills, evaluate it and start the next."""
        n = rows.numeric.shape[0]
        lo = 0
        while lo < n:
            take = min(self._buf.capacity - self._buf.fill, n - lo)
            self._buf.append(rows, lo, lo + take)
            lo += take
            if self._buf.fill == self._buf.capacity:
                on_close(self._buf.close(self.index))
                self.index += 1
                self._buf.reset()


class TumblingWindows:
    """Closes a window per ``every`` seconds of event time.

    A window closes when the first event of a later window arrives; events for a window that
    is already closed are counted in ``late`` and dropped, and events beyond ``max_events`` in
    one window are counted in ``overflow`` and dropped. Kafka keeps a partition in order, so
    lateness comes only from producers' clocks.
    """

    def __init__(
        self,
        every: float,
        max_events: int,
        n_numeric: int,
        n_categorical: int,
        n_schema: int,
    ) -> None:
        self.every = every
        self._buf = _Buffer(max_events, n_numeric, n_categorical, n_schema)
        self._current: int | None = None
        self.index = 0
        self.late = 0
        self.overflow = 0

    @property
    def pending(self) -> int:
        """Events in the open window."""
        return self._buf.fill

    def snapshot(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The open window, its slot and the counters, for a checkpoint."""
        meta, arrays = self._buf.snapshot()
        extra = {
            "index": self.index,
            "current": self._current,
            "late": self.late,
            "overflow": self.overflow,
        }
        return {**extra, **meta}, arrays

    def restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Continue from ``snapshot()``."""
        self._buf.restore(meta, arrays)
        self.index = int(meta["index"])
        self._current = None if meta["current"] is None else int(meta["current"])
        self.late = int(meta["late"])
        self.overflow = int(meta["overflow"])

    def add(self, rows: Rows, on_close: OnClose) -> None:
        """Append rows by event time, closing windows whose end has passed."""
        times = rows.times
        if np.isnan(times).any():
            raise ValueError("tumbling windows need an event time on every event")
        slots = np.floor(times / self.every).astype(np.int64)
        n = slots.size
        lo = 0
        while lo < n:
            slot = int(slots[lo])
            hi = lo + 1
            while hi < n and slots[hi] == slot:
                hi += 1
            self._place(rows, lo, hi, slot, on_close)
            lo = hi

    def _place(self, rows: Rows, lo: int, hi: int, slot: int, on_close: OnClose) -> None:
        if self._current is None:
            self._current = slot
        if slot < self._current:
            self.late += hi - lo
            return
        if slot > self._current:
            self.flush(on_close)
            self._current = slot
        room = self._buf.capacity - self._buf.fill
        take = min(room, hi - lo)
        self.overflow += (hi - lo) - take
        if take:
            self._buf.append(rows, lo, lo + take)

    def flush(self, on_close: OnClose) -> None:
        """Close the open window now (at a slot boundary or on shutdown)."""
        if self._current is None:
            return
        start = self._current * self.every
        on_close(self._buf.close(self.index, start, start + self.every))
        self.index += 1
        self._buf.reset()
