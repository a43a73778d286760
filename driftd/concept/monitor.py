"""The concept-drift path of one monitor: label join, river detectors, performance windows.

The daemon loop hands it batches of predictions and labels; every pair the join completes is
fed, in order, to each detector and to the current performance window. A detector's drift is a
verdict at once; a closed window yields one verdict per judged metric and an ``ok`` verdict for
each detector that stayed quiet during it, so alerts can resolve.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from driftd.concept.codec import ClassCodec
from driftd.concept.config import ConceptConfig
from driftd.concept.detectors import ConceptDetector, Detection
from driftd.concept.errors import ConceptStateError
from driftd.concept.estimate import EstimateWindow, describe, estimate
from driftd.concept.ids import Ids
from driftd.concept.join import LabelJoin, Matched
from driftd.concept.metrics import ConceptMetrics
from driftd.concept.performance import PerformanceWindow, WindowResult, judge
from driftd.concept.statefile import read_state, write_state
from driftd.epochs import new_epoch
from driftd.errors import ConfigError
from driftd.records import State, Verdict

log = logging.getLogger(__name__)

STATE_KIND = "concept_monitor"
STATE_VERSION = 1
_COUNTERS = ("matched", "expired", "evicted", "unmatched_labels")


class ConceptMonitor:
    """Joins one model's predictions with their labels and judges its performance over time.

    Examples
    --------
    >>> import numpy as np
    >>> from driftd.concept import ConceptConfig, ConceptMonitor
    >>> config = ConceptConfig.model_validate(
    ...     {"detectors": [], "performance": {"window": 10, "metrics": ["accuracy"],
    ...      "max_drop": {"accuracy": {"absolute": 0.1}}}})
    >>> mon = ConceptMonitor("fraud", config, reference={"accuracy": 0.9}, clock=lambda: 0.0)
    >>> ids = [f"tx{i}" for i in range(10)]
    >>> _ = mon.observe_predictions(ids, [1] * 10, None, np.arange(10.0))
    >>> [v] = mon.observe_labels(ids, [1] * 6 + [0] * 4, np.arange(10.0) + 60)
    >>> v.statistic, v.value, round(v.limit, 2), v.state.value
    ('accuracy', 0.6, 0.8, 'drift')
    """

    def __init__(
        self,
        name: str,
        config: ConceptConfig,
        *,
        reference: Mapping[str, float] | None = None,
        metrics: ConceptMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.config = config
        self.reference = dict(reference or {})
        missing = sorted(set(config.performance.max_drop) - set(self.reference))
        if missing:
            raise ConfigError(
                f"monitor {name}: concept.performance.max_drop names {missing}, "
                "which the reference performance does not have"
            )
        self._classification = config.task == "classification"
        self._codec = ClassCodec(config.positive_class) if self._classification else None
        self.join = LabelJoin(config.join, clock=clock)
        # The positive class is code 0 of the codec (see driftd.concept.codec).
        self.detectors = [ConceptDetector(d, config.task, positive=0.0) for d in config.detectors]
        self.window = PerformanceWindow(config.performance.window, config.metrics, positive=0.0)
        self.estimate: EstimateWindow | None = None
        if config.performance.estimate and config.decision_threshold is not None:
            self.estimate = EstimateWindow(
                config.performance.window, config.metrics, config.decision_threshold
            )
        self._metrics = metrics
        self._exported = dict.fromkeys(_COUNTERS, 0)
        self._last: dict[str, float] = {}
        self._fired: set[str] = set()
        self._window_errors = dict.fromkeys((d.name for d in self.detectors), 0.0)
        self.invalid_pairs = 0
        self.epoch = new_epoch()
        if metrics is not None:
            metrics.label_delay.observe_many(name, np.empty(0))
            for det in self.detectors:
                metrics.detections.labels(name, det.name)
        self._export(None)

    def observe_predictions(
        self,
        ids: Ids,
        preds: Sequence[object] | np.ndarray,
        scores: Sequence[float] | np.ndarray | None = None,
        times: np.ndarray | None = None,
    ) -> list[Verdict]:
        """Hold predictions for their labels; returns verdicts of pairs early labels completed."""
        matched = self.join.put_predictions(ids, self._encode(preds), scores, times)
        verdicts = self._consume(matched)
        if self.estimate is not None and scores is not None:
            s = np.asarray(scores, dtype=np.float64)
            t = np.full(s.shape[0], np.nan) if times is None else np.asarray(times, np.float64)
            for result, band in self.estimate.add(s, t):
                verdicts += self._estimated(result, band)
        return self._stamp(verdicts)

    def _estimated(self, result: WindowResult, band: float) -> list[Verdict]:
        """Verdicts of one window of estimated metrics, judged like realized ones."""
        drops = {m: d for m, d in self.config.performance.max_drop.items() if m in result.values}
        judged = judge(self.name, result, self.reference, drops)
        if self._metrics is not None:
            for metric, value in result.values.items():
                self._metrics.performance.labels(self.name, f"estimated_{metric}").set(value)
        out = []
        for v in judged:
            how = v.detail.split(" (allowed", 1)[-1]
            detail = describe(v.statistic, v.value, band, self.reference) + f" (allowed{how}"
            out.append(dataclasses.replace(v, statistic=f"estimated_{v.statistic}", detail=detail))
        return out

    def observe_labels(
        self, ids: Ids, labels: Sequence[object] | np.ndarray, times: np.ndarray | None = None
    ) -> list[Verdict]:
        """Join labels with their predictions; returns the verdicts the new pairs produced."""
        matched = self.join.match_labels(ids, self._encode(labels), times)
        return self._stamp(self._consume(matched))

    def _stamp(self, verdicts: list[Verdict]) -> list[Verdict]:
        return [dataclasses.replace(v, window_epoch=self.epoch) for v in verdicts]

    def tick(self, now: float | None = None) -> None:
        """Expire predictions past their TTL (at most once per ``sweep_interval``)."""
        self.join.tick(now)
        self._export(None)

    def _encode(self, values: Sequence[object] | np.ndarray) -> np.ndarray | Sequence[object]:
        return self._codec.encode(values) if self._codec is not None else values

    def _consume(self, matched: Matched) -> list[Verdict]:
        self._export(matched)
        if not len(matched):
            return []
        usable = ~np.isnan(matched.label)
        if not self._classification:
            usable &= ~np.isnan(matched.prediction)
        self.invalid_pairs += int(usable.size - np.count_nonzero(usable))
        pred, label = matched.prediction[usable], matched.label[usable]
        score, ptime = matched.score[usable], matched.prediction_time[usable]
        signals = [d.signal(pred, label, score) for d in self.detectors]
        verdicts: list[Verdict] = []
        start = 0
        while start < pred.shape[0]:
            # Cut the batch where the open window closes, so verdicts carry the right window.
            stop = min(pred.shape[0], start + self.window.size - self.window.filled)
            for det, signal in zip(self.detectors, signals, strict=True):
                seg = signal[start:stop]
                self._window_errors[det.name] += float(seg.sum())
                for d in det.update(seg):
                    verdicts.append(self._detected(det, d, ptime[start : start + d.index + 1]))
            sl = slice(start, stop)
            for result in self.window.add(pred[sl], label[sl], score[sl], ptime[sl]):
                verdicts.extend(self._closed(result))
            start = stop
        return verdicts

    def _detected(self, det: ConceptDetector, d: Detection, times: np.ndarray) -> Verdict:
        self._fired.add(det.name)
        if self._metrics is not None:
            self._metrics.detections.labels(self.name, det.name).inc()
        lo, hi = self.window.bounds()
        finite = times[~np.isnan(times)]
        if finite.size:
            lo = float(np.fmin(lo, finite.min()))
            hi = float(np.fmax(hi, finite.max()))
        return Verdict(
            monitor=self.name,
            feature="",
            statistic=det.name,
            value=d.recent_error,
            limit=d.baseline_error,
            state=State.DRIFT,
            kind="concept",
            window_index=self.window.index,
            window_size=self.window.filled + times.shape[0],
            window_start=lo,
            window_end=hi,
            detail=(
                f"{det.type} reported a drift in the {det.error} error: "
                f"{d.recent_error:.4g} over the latest pairs, {d.baseline_error:.4g} before"
            ),
        )

    def _closed(self, result: WindowResult) -> list[Verdict]:
        self._last = result.values
        if self._metrics is not None:
            for metric, value in result.values.items():
                self._metrics.performance.labels(self.name, metric).set(value)
        verdicts = judge(self.name, result, self.reference, self.config.performance.max_drop)
        if self.estimate is not None:
            # The estimate for these very pairs beside the realized value: its error, measured.
            estimated, _ = estimate(
                self.estimate.metrics, self.window.last_scores, self.estimate.threshold
            )
            verdicts = [
                dataclasses.replace(
                    v,
                    detail=f"{v.detail}; estimated {estimated[v.statistic]:.4g} "
                    f"(error {estimated[v.statistic] - v.value:+.3g})",
                )
                if v.statistic in estimated and np.isfinite(estimated[v.statistic])
                else v
                for v in verdicts
            ]
        for det in self.detectors:
            if det.name not in self._fired:
                verdicts.append(
                    Verdict(
                        monitor=self.name,
                        feature="",
                        statistic=det.name,
                        value=self._window_errors[det.name] / result.size,
                        limit=math.nan,
                        state=State.OK,
                        kind="concept",
                        window_index=result.index,
                        window_size=result.size,
                        window_start=result.start,
                        window_end=result.end,
                        detail=f"{det.type}: no drift; value is the mean {det.error} error",
                    )
                )
            self._window_errors[det.name] = 0.0
        self._fired.clear()
        return verdicts

    def _export(self, matched: Matched | None) -> None:
        m = self._metrics
        if m is None:
            return
        counts = self.join.counts
        for key in _COUNTERS:
            # labels() creates the series, so every counter shows up at 0 from the start.
            child = getattr(m, key).labels(self.name)
            now = getattr(counts, key)
            if now > self._exported[key]:
                child.inc(now - self._exported[key])
            self._exported[key] = now
        m.pending.labels(self.name).set(self.join.pending)
        m.pending_bytes.labels(self.name).set(self.join.nbytes)
        m.join_rate.labels(self.name).set(counts.join_rate)
        if matched is not None and len(matched):
            m.label_delay.observe_many(self.name, matched.delay)

    def state_path(self, directory: str | os.PathLike[str]) -> Path:
        """Where :meth:`save` writes in ``directory``."""
        return Path(directory) / f"concept-{self.name}.state"

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the whole state (join, detectors, open window) atomically to one file."""
        join_meta, arrays = self.join.state()
        window_meta, window_arrays = self.window.state()
        arrays.update(window_arrays)
        estimate_meta = None
        if self.estimate is not None:
            estimate_meta, estimate_arrays = self.estimate.state()
            arrays.update(estimate_arrays)
        meta = {
            "monitor": self.name,
            "task": self.config.task,
            "join": join_meta,
            "codec": self._codec.state() if self._codec is not None else None,
            "detectors": {d.name: d.state() for d in self.detectors},
            "fired": sorted(self._fired),
            "window_errors": self._window_errors,
            "window": window_meta,
            "estimate": estimate_meta,
            "last": {k: (None if math.isnan(v) else v) for k, v in self._last.items()},
            "invalid_pairs": self.invalid_pairs,
            "epoch": self.epoch,
        }
        path = self.state_path(directory)
        write_state(path, STATE_KIND, STATE_VERSION, meta, arrays)
        return path

    def restore(self, directory: str | os.PathLike[str]) -> bool:
        """Load the state :meth:`save` wrote; False (and a fresh start) when there is none.

        A corrupted file, or one of another monitor or task, raises :class:`ConceptStateError`.
        A detector whose configuration changed since the save starts afresh (logged).
        """
        path = self.state_path(directory)
        if not path.exists():
            return False
        meta, arrays = read_state(path, STATE_KIND, STATE_VERSION)
        if meta.get("monitor") != self.name or meta.get("task") != self.config.task:
            raise ConceptStateError(
                f"state file {path} is of monitor {meta.get('monitor')!r} ({meta.get('task')}), "
                f"not {self.name!r} ({self.config.task})"
            )
        try:
            if self._codec is not None:
                self._codec.load_state(meta["codec"])
            self.window.load_state(meta["window"], arrays)
            if self.estimate is not None and meta.get("estimate") is not None:
                self.estimate.load_state(meta["estimate"], arrays)
            self.join.load_state(meta["join"], arrays)
            saved = meta["detectors"]
            self._fired = set(meta["fired"]) & set(saved)
            self._last = {k: math.nan if v is None else float(v) for k, v in meta["last"].items()}
            self.invalid_pairs = int(meta["invalid_pairs"])
            self.epoch = str(meta.get("epoch", self.epoch))
            errors = meta["window_errors"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ConceptStateError(f"state file {path} cannot be restored: {exc}") from exc
        for det in self.detectors:
            self._window_errors[det.name] = float(errors.get(det.name, 0.0))
            try:
                det.load_state(saved[det.name])
            except (KeyError, ConceptStateError) as exc:
                log.warning("monitor %s: detector %s starts afresh: %s", self.name, det.name, exc)
        self._exported = {k: getattr(self.join.counts, k) for k in _COUNTERS}
        self._export(None)
        return True

    def status(self) -> dict[str, Any]:
        """JSON-able state for ``/status`` (NaN shown as None)."""
        counts = asdict(self.join.counts)
        rate = self.join.counts.join_rate
        return {
            "monitor": self.name,
            "task": self.config.task,
            "join": {
                "pending": self.join.pending,
                "pending_labels": self.join.pending_labels,
                "pending_bytes": self.join.nbytes,
                "max_pending": self.config.join.prediction_capacity,
                **counts,
                "join_rate": None if math.isnan(rate) else rate,
            },
            "detectors": {
                d.name: {
                    "type": d.type,
                    "error": d.error,
                    "detections": d.detections,
                    "warning": d.warning,
                }
                for d in self.detectors
            },
            "performance": {
                "windows_closed": self.window.index,
                "open_window_pairs": self.window.filled,
                "window": self.window.size,
                "last": {k: (None if math.isnan(v) else v) for k, v in self._last.items()},
                "reference": self.reference,
            },
            "invalid_pairs": self.invalid_pairs,
            "classes": len(self._codec.classes) if self._codec is not None else None,
        }
