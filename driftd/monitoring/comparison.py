"""Shadow and canary comparison: a candidate model version judged against the one in production.

``comparisons[]`` entries name a baseline and a candidate, each a stream with an optional
``model`` / ``model_version`` filter (the same stream for both when one topic carries every
version's predictions). Two modes:

- ``shadow``: both versions score the same requests. Predictions are joined by id (bounded:
  ``ttl`` of arrival time, ``max_pending``, as the other joins) and every ``window`` pairs
  give three verdicts: ``disagreement`` (the share of pairs whose decisions differ, against
  ``max_disagreement``), ``score_difference`` (the mean absolute score difference, against
  ``max_score_difference`` when set) and the two-window ``ks`` test of the two score samples.
- ``canary``: the versions serve different traffic. Every ``window`` candidate predictions
  are tested against the baseline predictions that came since the last window (``ks`` for
  scores, ``linf`` of the class shares for labels).

The two-window tests hold ``alpha`` per window: KS rejects when D exceeds the asymptotic
critical value ``sqrt(-ln(alpha / 2) / 2 * (n + m) / (n m))`` (conservative at these sizes),
the class-share test when the largest share difference exceeds the Hoeffding bound with a
Bonferroni split over the classes. Paired samples (shadow) are not independent, which makes
the KS test conservative: identical models give D = 0. Verdicts have kind ``comparison``
(alert name ``ModelDivergence``), monitor the comparison's name and feature ``prediction``.

Numbers are scores (they feed the KS test) and text or booleans labels. A decision is
``score >= decision_threshold`` for a score (the score itself with ``decision_threshold:
null``, for a classifier that writes class numbers) and the label itself. Values that are
neither (null, NaN, objects) are counted as ``unusable`` and skipped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import msgspec
import numpy as np

from detectors.ks import ks_2samp
from driftd.config.models import ComparisonConfig, ComparisonSide
from driftd.decoding import DecodedBatch
from driftd.epochs import new_epoch
from driftd.records import State, Verdict

STATE_VERSION = 1
KIND = "comparison"
BASELINE, CANDIDATE = 0, 1
# Canary: at most twice this many windows' worth of baseline predictions wait between windows
# (then the newest half is kept); a quiet candidate must not let the sample grow unbounded.
BASELINE_WINDOWS_KEPT = 20

_encode = msgspec.msgpack.Encoder(enc_hook=str).encode
_decode = msgspec.msgpack.Decoder().decode


@dataclass(slots=True)
class ComparisonCounts:
    """Cumulative counts of one comparison; saved with its state."""

    baseline: int = 0
    candidate: int = 0
    pairs: int = 0
    expired: int = 0
    evicted: int = 0
    duplicates: int = 0
    unusable: int = 0
    windows: int = 0


def _usable(value: Any) -> Any:
    """A score as a float, a label as it is, or None for a value that is neither."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return float(value) if abs(value) < 2**53 else None
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


def ks_limit(n: int, m: int, alpha: float) -> float:
    """The asymptotic two-sample KS critical value of D at ``alpha``."""
    return math.sqrt(-math.log(alpha / 2.0) / 2.0 * (n + m) / (n * m))


def share_limit(n: int, m: int, classes: int, alpha: float) -> float:
    """Largest class-share difference two samples of one distribution exceed with probability
    at most ``alpha`` (Hoeffding for each sample's shares, Bonferroni over the classes)."""
    per = alpha / (2.0 * max(classes, 1))
    return math.sqrt(math.log(2.0 / per) / 2.0) * (1.0 / math.sqrt(n) + 1.0 / math.sqrt(m))


class ComparisonMonitor:
    """One baseline/candidate comparison (see the module docstring)."""

    def __init__(self, cfg: ComparisonConfig, clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self._clock = clock
        self.streams = {cfg.baseline.stream, cfg.candidate.stream}
        self.counts = ComparisonCounts()
        self.epoch = new_epoch()
        self.index = 0
        self._pending: dict[str, tuple[int, float, Any]] = {}  # id -> (side, arrived, value)
        self._pairs: list[tuple[Any, Any]] = []  # shadow: (baseline, candidate) per pair
        self._window_start = math.nan
        self._window_end = math.nan
        self._samples: list[list[Any]] = [[], []]  # canary: baseline, candidate predictions
        self.last: list[Verdict] = []

    # -- input ------------------------------------------------------------------------------

    def _rows(self, side: ComparisonSide, batch: DecodedBatch) -> list[int]:
        return [
            j
            for j in range(len(batch))
            if batch.predictions[j] is not None
            and (side.model is None or batch.models[j] == side.model)
            and (side.model_version is None or batch.model_versions[j] == side.model_version)
        ]

    def observe(self, stream: str, batch: DecodedBatch) -> list[Verdict]:
        """Take one batch of ``stream``; the verdicts of the windows it closes, in order."""
        sides = [
            (k, s)
            for k, s in ((BASELINE, self.cfg.baseline), (CANDIDATE, self.cfg.candidate))
            if s.stream == stream
        ]
        if not sides:
            return []
        now = self._clock()
        # Both sides may read one stream: rows are taken in record order whichever side.
        rows: list[tuple[int, int]] = sorted(
            (j, k) for k, side in sides for j in self._rows(side, batch)
        )
        verdicts: list[Verdict] = []
        for j, k in rows:
            value = batch.predictions[j]
            if k == BASELINE:
                self.counts.baseline += 1
            else:
                self.counts.candidate += 1
            value = _usable(value)
            if value is None:
                self.counts.unusable += 1
                continue
            t = float(batch.timestamps[j])
            if self.cfg.mode == "shadow":
                verdicts += self._pair(k, batch.ids[j], value, t, now)
            else:
                verdicts += self._sample(k, value, t)
        return verdicts

    def _stamp(self, t: float) -> None:
        if not math.isnan(t):
            self._window_start = t if math.isnan(self._window_start) else min(self._window_start, t)
            self._window_end = t if math.isnan(self._window_end) else max(self._window_end, t)

    def _pair(self, side: int, key: Any, value: Any, t: float, now: float) -> list[Verdict]:
        if key is None:
            self.counts.unusable += 1
            return []
        ident = str(key)
        waiting = self._pending.get(ident)
        if waiting is None:
            self._pending[ident] = (side, now, value)
            if len(self._pending) > self.cfg.max_pending:
                # Per arrival, not per batch: which prediction goes must not depend on batching.
                del self._pending[next(iter(self._pending))]
                self.counts.evicted += 1
            return []
        if waiting[0] == side:
            self.counts.duplicates += 1
            return []
        del self._pending[ident]
        self.counts.pairs += 1
        pair = (waiting[2], value) if side == CANDIDATE else (value, waiting[2])
        self._pairs.append(pair)
        self._stamp(t)
        if len(self._pairs) < self.cfg.window:
            return []
        baseline = [b for b, _ in self._pairs]
        candidate = [c for _, c in self._pairs]
        verdicts = self._judge(baseline, candidate, paired=True)
        self._pairs = []
        return verdicts

    def _sample(self, side: int, value: Any, t: float) -> list[Verdict]:
        self._samples[side].append(value)
        keep = BASELINE_WINDOWS_KEPT * self.cfg.window
        if side == BASELINE and len(self._samples[BASELINE]) > 2 * keep:
            # Trimmed by arrival count (the newest kept), so batching cannot change the sample.
            del self._samples[BASELINE][:-keep]
        if side == CANDIDATE:
            self._stamp(t)
        if side == BASELINE or len(self._samples[CANDIDATE]) < self.cfg.window:
            return []
        baseline, candidate = self._samples
        verdicts = self._judge(baseline, candidate, paired=False)
        self._samples = [[], []]
        return verdicts

    def sweep(self) -> int:
        """Expire shadow predictions that waited longer than the TTL for their pair."""
        cutoff = self._clock() - self.cfg.ttl
        gone = []
        for ident, (_, arrived, _) in self._pending.items():
            if arrived > cutoff:
                break
            gone.append(ident)
        for ident in gone:
            del self._pending[ident]
        self.counts.expired += len(gone)
        return len(gone)

    # -- judging ----------------------------------------------------------------------------

    def _decision(self, value: Any) -> Any:
        threshold = self.cfg.decision_threshold
        if isinstance(value, float) and threshold is not None:
            return value >= threshold
        return value

    def _judge(self, baseline: list[Any], candidate: list[Any], *, paired: bool) -> list[Verdict]:
        n, m = len(baseline), len(candidate)
        out: list[tuple[str, float, float, State, float | None, str]] = []
        scores_b = [v for v in baseline if isinstance(v, float)]
        scores_c = [v for v in candidate if isinstance(v, float)]
        if paired:
            differ = sum(
                self._decision(b) != self._decision(c)
                for b, c in zip(baseline, candidate, strict=True)
            )
            share = differ / n
            limit = self.cfg.max_disagreement
            state = State.DRIFT if share > limit else State.OK
            out.append(("disagreement", share, limit, state, None, f"{differ} of {n} pairs differ"))
            if self.cfg.max_score_difference is not None:
                both = [(b, c) for b, c in zip(baseline, candidate, strict=True)
                        if isinstance(b, float) and isinstance(c, float)]  # fmt: skip
                if both:
                    mean = float(np.mean([abs(b - c) for b, c in both]))
                    limit = self.cfg.max_score_difference
                    state = State.DRIFT if mean > limit else State.OK
                    detail = f"mean |candidate - baseline| over {len(both)} scored pairs"
                    out.append(("score_difference", mean, limit, state, None, detail))
        if len(scores_b) >= 2 and len(scores_c) >= 2:
            result = ks_2samp(np.asarray(scores_c), np.asarray(scores_b))
            limit = ks_limit(len(scores_c), len(scores_b), self.cfg.alpha)
            state = State.DRIFT if result.statistic > limit else State.OK
            detail = f"candidate {len(scores_c)} vs baseline {len(scores_b)} scores"
            out.append(("ks", result.statistic, limit, state, result.pvalue, detail))
        else:
            labels_b = [str(v) for v in baseline if not isinstance(v, float)]
            labels_c = [str(v) for v in candidate if not isinstance(v, float)]
            if labels_b and labels_c:
                classes = sorted(set(labels_b) | set(labels_c))
                shares_b = np.array([labels_b.count(c) for c in classes]) / len(labels_b)
                shares_c = np.array([labels_c.count(c) for c in classes]) / len(labels_c)
                value = float(np.max(np.abs(shares_c - shares_b)))
                limit = share_limit(len(labels_c), len(labels_b), len(classes), self.cfg.alpha)
                state = State.DRIFT if value > limit else State.OK
                detail = f"candidate {len(labels_c)} vs baseline {len(labels_b)} labels"
                out.append(("linf", value, limit, state, None, detail))
        if not paired and m and not n:
            out.append(
                ("ks", math.nan, math.nan, State.INSUFFICIENT, None, "no baseline predictions")
            )
        verdicts = [
            Verdict(
                monitor=self.name,
                feature="prediction",
                statistic=stat,
                value=value,
                limit=limit,
                state=state,
                kind=KIND,
                window_index=self.index,
                window_epoch=self.epoch,
                window_size=m,
                window_start=self._window_start,
                window_end=self._window_end,
                pvalue=pvalue,
                detail=detail,
                labels=(("mode", self.cfg.mode),),
            )
            for stat, value, limit, state, pvalue, detail in out
        ]
        self.index += 1
        self.counts.windows += 1
        self._window_start = self._window_end = math.nan
        self.last = verdicts
        return verdicts

    # -- state ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Counts, what waits, and the last window's verdicts, for /status."""
        return {
            "mode": self.cfg.mode,
            "pending": len(self._pending),
            **asdict(self.counts),
            "last": {
                v.statistic: {"value": v.value, "limit": v.limit, "state": v.state.value}
                for v in self.last
            },
        }

    def snapshot(self) -> tuple[dict[str, Any], np.ndarray]:
        """Everything a restart needs (waiting predictions with their age, open windows)."""
        now = self._clock()
        body = {
            "pending": [
                [k, side, now - arrived, v] for k, (side, arrived, v) in self._pending.items()
            ],
            "pairs": self._pairs,
            "samples": self._samples,
        }
        meta = {
            "version": STATE_VERSION,
            "config": self.cfg.model_dump(mode="json"),
            "counts": asdict(self.counts),
            "epoch": self.epoch,
            "index": self.index,
            "window": [self._window_start, self._window_end],
        }
        return meta, np.frombuffer(_encode(body), dtype=np.uint8)

    def restore(self, meta: dict[str, Any], data: np.ndarray) -> None:
        """Continue from ``snapshot()``; raises ValueError for another config's state."""
        if meta.get("version") != STATE_VERSION or meta.get("config") != self.cfg.model_dump(
            mode="json"
        ):
            raise ValueError("the comparison's checkpoint is of another version or config")
        body = _decode(data.tobytes())
        now = self._clock()
        self._pending = {
            str(k): (int(side), now - float(age), v) for k, side, age, v in body["pending"]
        }
        self._pairs = [(b, c) for b, c in body["pairs"]]
        self._samples = [list(body["samples"][0]), list(body["samples"][1])]
        self.counts = ComparisonCounts(**meta["counts"])
        self.epoch = str(meta["epoch"])
        self.index = int(meta["index"])
        start, end = meta["window"]
        self._window_start = math.nan if start is None else float(start)
        self._window_end = math.nan if end is None else float(end)
