"""A compact table of pending entries keyed by 64-bit id hashes, with TTL sweeps and a hard cap.

The label join keeps millions of predictions waiting for their labels, so entries are not Python
objects: they are rows of five parallel numpy arrays (32 bytes a slot, see
:mod:`driftd.concept.sizing`) behind an open-addressing hash table run by numba kernels.

Semantics, which the dict twin in the tests reproduces exactly:

* :meth:`PendingTable.put` inserts rows in order; a key already present keeps its first row and
  the new one counts as a duplicate (a redelivered prediction must not restart its TTL).
* A batch is inserted in chunks of :func:`~driftd.concept.sizing.eviction_slack` rows. After a
  chunk, if the table holds more than ``max_entries``, the oldest rows are evicted until it holds
  ``max_entries - slack``. Oldest means smallest arrival time, then smallest key.
* :meth:`PendingTable.expire` deletes every row that arrived before a cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from driftd.concept import _kernels
from driftd.concept.sizing import MAX_LOAD, capacity_for, eviction_slack

_NO_TIE = np.float64(np.nan)
COLUMNS = ("keys", "values", "scores", "times", "arrivals")
_DTYPES = (np.uint64, np.float32, np.float32, np.float64, np.float64)


@dataclass(frozen=True, slots=True)
class PutResult:
    """What one :meth:`PendingTable.put` did."""

    inserted: int
    duplicates: int
    evicted: int


@dataclass(frozen=True, slots=True)
class Taken:
    """Rows removed by :meth:`PendingTable.take`; ``found`` is aligned with the query keys."""

    found: np.ndarray
    values: np.ndarray
    scores: np.ndarray
    times: np.ndarray


class PendingTable:
    """Rows ``(value, score, event time, arrival time)`` held by key until taken or dropped.

    Parameters
    ----------
    max_entries
        Hard cap on the rows held; beyond it the oldest are evicted.
    initial_capacity
        Slots allocated at first (rounded up to a power of two, at least 8). The table doubles
        when it would exceed :data:`~driftd.concept.sizing.MAX_LOAD` and halves when a sweep
        leaves it under an eighth full, but never grows past what ``max_entries`` needs.

    Examples
    --------
    >>> import numpy as np
    >>> from driftd.concept.table import PendingTable
    >>> table = PendingTable(max_entries=100)
    >>> keys = np.array([11, 12, 13], np.uint64)
    >>> table.put(keys, np.array([1, 0, 1], np.float32), np.full(3, np.nan, np.float32),
    ...           np.array([5.0, 6.0, 7.0]), arrival=100.0)
    PutResult(inserted=3, duplicates=0, evicted=0)
    >>> taken = table.take(np.array([12, 99], np.uint64))
    >>> taken.found.tolist(), taken.values.tolist(), len(table)
    ([True, False], [0.0], 2)
    >>> table.expire(cutoff=101.0), len(table)
    (2, 0)
    """

    def __init__(self, max_entries: int, initial_capacity: int = 1024) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        if initial_capacity < 1:
            raise ValueError(f"initial_capacity must be at least 1, got {initial_capacity}")
        self.max_entries = max_entries
        self.slack = eviction_slack(max_entries)
        self._max_capacity = capacity_for(max_entries + self.slack)
        self._min_capacity = min(capacity_for(0, initial_capacity), self._max_capacity)
        self._count = 0
        # A lower bound on the arrival of every row held: sweeps with an older cutoff are no-ops.
        self._oldest = np.inf
        self._arrays = self._allocate(self._min_capacity)

    def __len__(self) -> int:
        return self._count

    @property
    def capacity(self) -> int:
        """Slots currently allocated."""
        return int(self._arrays[0].shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the table's arrays."""
        return sum(a.nbytes for a in self._arrays)

    def put(
        self,
        keys: np.ndarray,
        values: np.ndarray,
        scores: np.ndarray,
        times: np.ndarray,
        arrival: float,
    ) -> PutResult:
        """Insert rows that all arrived at clock time ``arrival``; see the module semantics."""
        n = _check_keys(keys)
        arrivals = np.full(n, arrival, np.float64)
        return self._put(keys, values, scores, times, arrivals)

    def take(self, keys: np.ndarray) -> Taken:
        """Remove the rows of ``keys`` that are present, in query order, and return them."""
        n = _check_keys(keys)
        found = np.zeros(n, np.bool_)
        out_v = np.empty(n, np.float32)
        out_s = np.empty(n, np.float32)
        out_t = np.empty(n, np.float64)
        removed = _kernels.take(*self._arrays, keys, found, out_v, out_s, out_t)
        self._count -= removed
        return Taken(found, out_v[found], out_s[found], out_t[found])

    def expire(self, cutoff: float) -> int:
        """Delete every row that arrived before ``cutoff``; return how many."""
        if self._count == 0 or not cutoff > self._oldest:
            return 0
        removed, oldest = _kernels.sweep(*self._arrays, cutoff, _NO_TIE, np.uint64(0))
        self._count -= removed
        self._oldest = oldest
        self._maybe_shrink()
        return int(removed)

    def evict_oldest(self, k: int) -> int:
        """Delete the ``k`` oldest rows (by arrival time, then key); return how many."""
        k = min(k, self._count)
        if k <= 0:
            return 0
        keys, arrivals = self._arrays[0], self._arrays[4]
        live = keys != 0
        live_arrivals = arrivals[live]
        tie_arrival = np.partition(live_arrivals, k - 1)[k - 1]
        older = int(np.count_nonzero(live_arrivals < tie_arrival))
        tied_keys = keys[live & (arrivals == tie_arrival)]
        tie_key = np.partition(tied_keys, k - older - 1)[k - older - 1]
        removed, oldest = _kernels.sweep(
            *self._arrays, tie_arrival, tie_arrival, np.uint64(tie_key)
        )
        self._count -= removed
        self._oldest = oldest
        return int(removed)

    def rows(self) -> dict[str, np.ndarray]:
        """Every row held, as compact column arrays named by :data:`COLUMNS` (copies)."""
        live = self._arrays[0] != 0
        return {name: a[live] for name, a in zip(COLUMNS, self._arrays, strict=True)}

    def load_rows(self, rows: dict[str, np.ndarray]) -> int:
        """Replace the contents with ``rows`` (as from :meth:`rows`); return rows evicted.

        When there are more rows than ``max_entries`` (the cap was lowered between runs), the
        oldest are dropped first, as eviction would have done.
        """
        cols = [
            np.ascontiguousarray(rows[name], dtype=dtype)
            for name, dtype in zip(COLUMNS, _DTYPES, strict=True)
        ]
        n = _check_keys(cols[0])
        if any(c.shape != (n,) for c in cols):
            raise ValueError("all columns must have the same length")
        dropped = 0
        if n > self.max_entries:
            dropped = n - self.max_entries
            order = np.lexsort((cols[0], cols[4]))[dropped:]
            cols = [c[order] for c in cols]
        self._count = 0
        self._oldest = np.inf
        self._arrays = self._allocate(max(self._min_capacity, capacity_for(len(cols[0]))))
        self._put(*cols)
        if self._count != len(cols[0]):
            raise ValueError("rows hold duplicate keys")
        return dropped

    def _put(
        self,
        keys: np.ndarray,
        values: np.ndarray,
        scores: np.ndarray,
        times: np.ndarray,
        arrivals: np.ndarray,
    ) -> PutResult:
        n = keys.shape[0]
        if not (values.shape[0] == scores.shape[0] == times.shape[0] == n):
            raise ValueError("keys, values, scores and times must have the same length")
        values = np.ascontiguousarray(values, dtype=np.float32)
        scores = np.ascontiguousarray(scores, dtype=np.float32)
        times = np.ascontiguousarray(times, dtype=np.float64)
        inserted = evicted = 0
        for start in range(0, n, self.slack):
            stop = min(n, start + self.slack)
            self._reserve(stop - start)
            got = _kernels.put(
                *self._arrays,
                keys[start:stop],
                values[start:stop],
                scores[start:stop],
                times[start:stop],
                arrivals[start:stop],
            )
            inserted += got
            self._count += got
            self._oldest = min(self._oldest, float(arrivals[start:stop].min()))
            if self._count > self.max_entries:
                evicted += self.evict_oldest(self._count - (self.max_entries - self.slack))
        return PutResult(inserted, n - inserted, evicted)

    def _reserve(self, extra: int) -> None:
        need = self._count + extra
        if need > MAX_LOAD * self.capacity:
            self._resize(min(self._max_capacity, capacity_for(need, self.capacity)))

    def _maybe_shrink(self) -> None:
        capacity = self.capacity
        if capacity > self._min_capacity and self._count < capacity // 8:
            # Leave room to double before the next resize, so sweeps do not thrash.
            self._resize(max(self._min_capacity, capacity_for(2 * self._count)))

    def _resize(self, capacity: int) -> None:
        if capacity == self.capacity:
            return
        new = self._allocate(capacity)
        _kernels.rehash(*self._arrays, *new)
        self._arrays = new

    @staticmethod
    def _allocate(capacity: int) -> tuple[np.ndarray, ...]:
        return tuple(np.zeros(capacity, d) for d in _DTYPES)


def _check_keys(keys: np.ndarray) -> int:
    if not isinstance(keys, np.ndarray) or keys.dtype != np.uint64 or keys.ndim != 1:
        raise TypeError("keys must be a one-dimensional uint64 array")
    if keys.shape[0] and not keys.all():
        raise ValueError("0 is not a valid key (it marks an empty slot)")
    return int(keys.shape[0])
