"""The label-delay join: predictions wait by id until their label arrives, within bounds.

Labels can come hours after their predictions and in any order, and now and then a label
overtakes its prediction (two topics, two consumers). So there are two
:class:`~driftd.concept.table.PendingTable` s: pending predictions, and a small buffer of
*early* labels that wait ``early_label_grace`` seconds for their prediction. A label that finds
neither counts as a label with no prediction (``unmatched_labels``).

Bounds: a prediction waits at most ``ttl`` seconds (then it counts as expired) and at most
``prediction_capacity`` predictions wait at once (beyond that the oldest are evicted).

**Time.** TTL and grace are measured in *arrival time*: the injected clock read when a batch is
handed to the join, not the event time carried by the record. Event time is at the mercy of
producer clocks, and after an outage the consumer reads a backlog whose event times are all
old: with an event-time TTL it would expire predictions whose labels are a few records behind.
With arrival time the join keeps what it has been given for ``ttl`` of its own time. Time spent
stopped does not count: :meth:`LabelJoin.load` shifts arrival times by the downtime, since
labels produced meanwhile are still waiting in Kafka. ``driftd replay`` injects a clock that
follows the replayed event time. Event times are kept only to report the label delay.

Expiry runs in sweeps (:meth:`LabelJoin.tick`, at most every ``sweep_interval`` seconds), so a
prediction is kept at least ``ttl`` and at most ``ttl + sweep_interval`` seconds.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from driftd.concept.config import JoinConfig
from driftd.concept.errors import ConceptStateError
from driftd.concept.ids import Ids, hash_ids
from driftd.concept.statefile import read_state, write_state
from driftd.concept.table import COLUMNS, PendingTable

JOIN_STATE_KIND = "label_join"
JOIN_STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class Matched:
    """Joined pairs, one per array element; ``delay`` is label minus prediction event time."""

    keys: np.ndarray
    prediction: np.ndarray
    score: np.ndarray
    label: np.ndarray
    prediction_time: np.ndarray
    delay: np.ndarray

    def __len__(self) -> int:
        return int(self.keys.shape[0])


@dataclass(slots=True)
class JoinCounts:
    """Cumulative counts of the join; saved with its state."""

    predictions: int = 0
    labels: int = 0
    matched: int = 0
    expired: int = 0
    evicted: int = 0
    unmatched_labels: int = 0
    duplicate_predictions: int = 0
    duplicate_labels: int = 0

    @property
    def join_rate(self) -> float:
        """Share of predictions that left the join matched rather than expired or evicted."""
        done = self.matched + self.expired + self.evicted
        return self.matched / done if done else float("nan")


class LabelJoin:
    """Joins predictions with their delayed labels by id (see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> from driftd.concept.config import JoinConfig
    >>> from driftd.concept.join import LabelJoin
    >>> now = [1000.0]
    >>> join = LabelJoin(JoinConfig(ttl=3600.0), clock=lambda: now[0])
    >>> _ = join.put_predictions(["a", "b"], [1, 0], [0.9, 0.2], np.array([10.0, 11.0]))
    >>> m = join.match_labels(["b", "zzz"], [1, 1], np.array([70.0, 71.0]))
    >>> m.prediction.tolist(), m.label.tolist(), m.delay.tolist()
    ([0.0], [1.0], [59.0])
    >>> now[0] += 7200.0
    >>> join.tick()
    >>> join.counts.expired, join.counts.unmatched_labels, join.pending
    (1, 1, 0)
    """

    def __init__(self, config: JoinConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = c = config
        self.clock = clock
        self.counts = JoinCounts()
        self._last_sweep = -np.inf
        self._predictions = PendingTable(c.prediction_capacity, c.initial_capacity)
        self._labels = (
            PendingTable(c.max_early_labels, min(c.initial_capacity, 1024))
            if c.early_label_grace > 0
            else None
        )

    @property
    def pending(self) -> int:
        """Predictions waiting for their label."""
        return len(self._predictions)

    @property
    def pending_labels(self) -> int:
        """Early labels waiting for their prediction."""
        return len(self._labels) if self._labels is not None else 0

    @property
    def nbytes(self) -> int:
        """Bytes held by both tables' arrays."""
        labels = self._labels.nbytes if self._labels is not None else 0
        return self._predictions.nbytes + labels

    def put_predictions(
        self,
        ids: Ids,
        preds: Sequence[float] | np.ndarray,
        scores: Sequence[float] | np.ndarray | None,
        times: np.ndarray | None,
    ) -> Matched:
        """Hold predictions until their labels come; return those matched with early labels."""
        keys = hash_ids(ids)
        n = keys.shape[0]
        values = _column(preds, n, "preds", np.float32)
        scores_ = _column(scores, n, "scores", np.float32)
        times_ = _column(times, n, "times", np.float64)
        self.counts.predictions += n
        if self._labels is not None and len(self._labels):
            early = self._labels.take(keys)
            hit = early.found
            matched = Matched(
                keys[hit],
                values[hit],
                scores_[hit],
                early.values,
                times_[hit],
                early.times - times_[hit],
            )
            keys, values, scores_, times_ = keys[~hit], values[~hit], scores_[~hit], times_[~hit]
        else:
            matched = _empty()
        result = self._predictions.put(keys, values, scores_, times_, self._now())
        self.counts.matched += len(matched)
        self.counts.duplicate_predictions += result.duplicates
        self.counts.evicted += result.evicted
        return matched

    def match_labels(
        self, ids: Ids, labels: Sequence[float] | np.ndarray, times: np.ndarray | None
    ) -> Matched:
        """Join labels with their pending predictions; hold the rest as early labels."""
        keys = hash_ids(ids)
        n = keys.shape[0]
        values = _column(labels, n, "labels", np.float32)
        times_ = _column(times, n, "times", np.float64)
        self.counts.labels += n
        taken = self._predictions.take(keys)
        hit = taken.found
        matched = Matched(
            keys[hit],
            taken.values,
            taken.scores,
            values[hit],
            taken.times,
            times_[hit] - taken.times,
        )
        self.counts.matched += len(matched)
        miss = ~hit
        if self._labels is None:
            self.counts.unmatched_labels += int(miss.sum())
        else:
            nan = np.full(int(miss.sum()), np.nan, np.float32)
            result = self._labels.put(keys[miss], values[miss], nan, times_[miss], self._now())
            self.counts.duplicate_labels += result.duplicates
            self.counts.unmatched_labels += result.evicted
        return matched

    def tick(self, now: float | None = None) -> None:
        """Run :meth:`expire` if ``sweep_interval`` has passed since the last sweep."""
        now = self._now() if now is None else now
        if now - self._last_sweep >= self.config.sweep_interval:
            self.expire(now)

    def expire(self, now: float | None = None) -> None:
        """Drop predictions older than ``ttl`` and early labels older than the grace, now."""
        now = self._now() if now is None else now
        self._last_sweep = now
        self.counts.expired += self._predictions.expire(now - self.config.ttl)
        if self._labels is not None:
            self.counts.unmatched_labels += self._labels.expire(now - self.config.early_label_grace)

    def state(self) -> tuple[dict[str, object], dict[str, np.ndarray]]:
        """JSON-able meta and arrays that :meth:`load_state` restores."""
        arrays = {f"p_{k}": v for k, v in self._predictions.rows().items()}
        if self._labels is not None:
            arrays.update({f"l_{k}": v for k, v in self._labels.rows().items()})
        last_sweep = self._last_sweep if np.isfinite(self._last_sweep) else None
        meta = {"saved_at": self._now(), "last_sweep": last_sweep, "counts": asdict(self.counts)}
        return meta, arrays

    def load_state(self, meta: dict[str, object], arrays: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state` returned, shifting clock times by the downtime."""
        try:
            counts = JoinCounts(**meta["counts"])  # type: ignore[arg-type]
            saved_at = float(meta["saved_at"])  # type: ignore[arg-type]
            last_sweep = meta["last_sweep"]
            predictions = {k: arrays[f"p_{k}"] for k in COLUMNS}
            labels = {k: arrays[f"l_{k}"] for k in COLUMNS} if f"l_{COLUMNS[0]}" in arrays else None
        except (KeyError, TypeError, ValueError) as exc:
            raise ConceptStateError(f"label join state is incomplete: {exc!r}") from exc
        downtime = max(0.0, self._now() - saved_at)
        for rows in (predictions, labels):
            if rows is not None:
                rows["arrivals"] = rows["arrivals"] + downtime
        try:
            counts.evicted += self._predictions.load_rows(predictions)
            if self._labels is not None and labels is not None:
                counts.unmatched_labels += self._labels.load_rows(labels)
            elif labels is not None:
                counts.unmatched_labels += int(labels["keys"].shape[0])
        except (TypeError, ValueError) as exc:
            raise ConceptStateError(f"label join state does not fit together: {exc}") from exc
        self.counts = counts
        self._last_sweep = -np.inf if last_sweep is None else float(last_sweep) + downtime

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the join's state to ``path`` atomically."""
        meta, arrays = self.state()
        write_state(path, JOIN_STATE_KIND, JOIN_STATE_VERSION, meta, arrays)

    def load(self, path: str | os.PathLike[str]) -> None:
        """Replace the join's state with the one saved at ``path``."""
        meta, arrays = read_state(path, JOIN_STATE_KIND, JOIN_STATE_VERSION)
        self.load_state(meta, arrays)

    def _now(self) -> float:
        now = float(self.clock())
        if not np.isfinite(now):
            raise ValueError(f"the clock returned {now}")
        return now


def _column(
    values: Sequence[float] | np.ndarray | None, n: int, name: str, dtype: type
) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan, dtype)
    if isinstance(values, list | tuple):
        values = [np.nan if v is None else v for v in values]
    array = np.asarray(values, dtype=dtype)
    if array.shape != (n,):
        raise ValueError(f"{name} has shape {array.shape}, expected ({n},) like ids")
    return array


def _empty() -> Matched:
    f4 = np.empty(0, np.float32)
    f8 = np.empty(0, np.float64)
    return Matched(np.empty(0, np.uint64), f4, f4, f4, f8, f8)
