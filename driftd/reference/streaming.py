"""Numeric columns summarised while the training file is read, in memory that does not grow with
its rows.

Each numeric column keeps exact running statistics (count, minimum, maximum, mean and variance
by Chan's pairwise update) and a uniform reservoir sample of at most ``QUANTILE_SAMPLE``
finite values. When the column has no more values than that, the reservoir holds every one of
them in file order and the summary is exactly what a whole column gives. Beyond, the quantile
bin edges come from the reservoir (the rank of an edge is off by about ``0.5 / sqrt(500,000)``,
0.07 %, of the rows) and the bin counts from a second pass over the file, exact. The KS sample
is drawn from the reservoir, uniform over all rows either way.

The rows of the joint sample (multivariate statistics) are kept the same way: a reservoir of
complete rows, enough for the sample and the rows its basis is fitted on.
"""

from __future__ import annotations

import numpy as np

QUANTILE_SAMPLE = 500_000


class Reservoir:
    """A uniform sample of at most ``capacity`` rows (Algorithm R, vectorized per batch);
    until it overflows it holds every row in the order they came."""

    def __init__(self, capacity: int, width: int | None, rng: np.random.Generator) -> None:
        self.capacity = capacity
        self.seen = 0
        shape = (capacity,) if width is None else (capacity, width)
        self._kept = np.empty(shape, dtype=np.float64)
        self._rng = rng

    @property
    def overflowed(self) -> bool:
        """Whether rows were left out (the sample is no longer every row)."""
        return self.seen > self.capacity

    def values(self) -> np.ndarray:
        """The kept rows."""
        return self._kept[: min(self.seen, self.capacity)]

    def add(self, rows: np.ndarray) -> None:
        """Take the next rows."""
        n = rows.shape[0]
        start = self.seen
        fill = max(0, min(n, self.capacity - start))
        if fill:
            self._kept[start : start + fill] = rows[:fill]
        if n > fill:
            # Row t (0-based over all rows) replaces a random kept row with probability
            # capacity / (t + 1); a later row wins a slot two share, as in sequence.
            seen = np.arange(start + fill, start + n) + 1
            slots = self._rng.integers(0, seen)
            take = slots < self.capacity
            self._kept[slots[take]] = rows[fill:][take]
        self.seen += n


class NumericStream:
    """Exact running statistics of one numeric column's finite values, and their reservoir."""

    def __init__(self, rng: np.random.Generator, capacity: int | None = None) -> None:
        self.reservoir = Reservoir(capacity or QUANTILE_SAMPLE, None, rng)
        self.count = 0
        self.missing = 0  # null, NaN or infinite
        self.minimum = np.inf
        self.maximum = -np.inf
        self._mean = 0.0
        self._m2 = 0.0

    def add(self, values: np.ndarray) -> None:
        """Take the next batch's values (NaN where missing)."""
        finite = values[np.isfinite(values)]
        self.missing += int(values.size - finite.size)
        n = int(finite.size)
        if not n:
            return
        self.minimum = min(self.minimum, float(finite.min()))
        self.maximum = max(self.maximum, float(finite.max()))
        mean = float(finite.mean())
        m2 = float(((finite - mean) ** 2).sum())
        total = self.count + n
        delta = mean - self._mean
        self._mean += delta * n / total
        self._m2 += m2 + delta * delta * self.count * n / total
        self.count = total
        self.reservoir.add(finite)

    @property
    def exact(self) -> bool:
        """Whether the reservoir holds every finite value (the summary is then exact)."""
        return not self.reservoir.overflowed

    @property
    def mean(self) -> float:
        return self._mean

    @property
    def std(self) -> float:
        """Population standard deviation."""
        return float(np.sqrt(self._m2 / self.count)) if self.count else 0.0
