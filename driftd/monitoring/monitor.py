"""A monitor: one model's events, windowed per segment, scored against its reference profile.

For each closed window, every (feature, statistic) pair gives a Verdict: the statistic, the
limit its threshold policy sets for this window size, and whether it crossed it. Schema
anomalies give one ``kind="schema"`` verdict per feature. Verdicts go to the injected ``emit``.

The definition is compiled once (``driftd.monitoring.spec``), each segment holds its own state
(``driftd.monitoring.segment``), and a closed window is scored by
``driftd.monitoring.evaluate``; this module routes events to segments and windows.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from driftd.config.models import CountWindow, MonitorConfig
from driftd.decoding import DecodedBatch
from driftd.monitoring.columns import NumericColumn
from driftd.monitoring.evaluate import evaluate
from driftd.monitoring.nulls import TailCache
from driftd.monitoring.segment import Segment, SegmentState
from driftd.monitoring.segments import Segmenter
from driftd.monitoring.spec import MonitorSpec
from driftd.monitoring.windows import ClosedWindow, Rows, TumblingWindows
from driftd.records import Verdict
from driftd.reference.profile import Profile

log = logging.getLogger(__name__)


class Monitor:
    """Evaluates the events of one monitor; thread-confined to the daemon loop."""

    def __init__(
        self,
        cfg: MonitorConfig,
        profile: Profile,
        emit: Callable[[list[Verdict]], None],
        *,
        predictions_mapped: bool = True,
        cache: TailCache | None = None,
    ) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.profile = profile
        self._emit = emit
        self.spec = MonitorSpec(cfg, profile, predictions_mapped=predictions_mapped, cache=cache)
        self.features = self.spec.features
        self.prediction = self.spec.prediction
        self.min_samples = self.spec.min_samples
        self.needs_event_time = self.spec.needs_event_time
        self._segmenter = Segmenter(cfg.segment_by, cfg.max_segments)
        self._segments: dict[Segment, SegmentState] = {}
        self.windows_closed = 0
        self.drift_streams: set[str] = set(cfg.streams)
        # Feature -> where its value is read from (set by the pipeline), for absent_fields.
        self.paths: dict[str, list[str]] = {}
        self.absent_fields: set[str] = set()
        # Build one segment's thresholds now: a threshold that cannot be built fails here,
        # at start-up and in check-config, not on the first event of a segment.
        self._new_segment()

    def _new_segment(self) -> SegmentState:
        return SegmentState.new(self.spec)

    def _segment(self, key: Segment) -> SegmentState:
        state = self._segments.get(key)
        if state is None:
            state = self._segments[key] = self._new_segment()
            family = len(self.spec.statistics) * len(self._segments)
            for seg in self._segments.values():
                seg.set_family_size(family)
        return state

    # -- the hot path ---------------------------------------------------------------------

    def add(self, batch: DecodedBatch) -> int:
        """Window the events of a decoded batch (closed windows are evaluated at once).

        Returns how many events this monitor took (after its model filter).
        """
        n = len(batch)
        if n == 0:
            return 0
        select: np.ndarray | None = None
        if self.cfg.model is not None:
            select = batch.of_model(self.cfg.model)
        data = batch.data_rows()
        if data.size != n:
            # Label-only records (one stream carrying predictions and labels) are not data
            # events: counted, they would halve every window and read as missing features.
            select = data if select is None else np.intersect1d(select, data, assume_unique=True)
        if select is not None and select.size == 0:
            return 0
        groups = self._segmenter.split(batch.segments, n)
        taken = 0
        for key, group in groups.items():
            rows = group if select is None else np.intersect1d(group, select, assume_unique=True)
            if rows.size:
                taken += int(rows.size)
                self._add_rows(key, batch, rows if rows.size != n else None)
        return taken

    def reset(self) -> None:
        """Forget every window and threshold state (its partition moved to another replica,
        or its checkpoint did not fit)."""
        self._segments = {}
        self._segmenter.known = set()
        self.windows_closed = 0

    def _add_rows(self, key: Segment, batch: DecodedBatch, rows: np.ndarray | None) -> None:
        spec = self.spec
        state = self._segment(key)
        count = batch.index.size if rows is None else rows.size
        numeric = np.empty((count, spec.width), dtype=np.float64)
        categorical = np.empty((count, len(spec.categorical)), dtype=np.int32)
        anomalies = np.empty((count, len(spec.order)), dtype=np.uint8)
        pick = None if rows is None else rows.tolist()
        n_num, n_cat = len(spec.numeric), len(spec.categorical)
        for j, feat in enumerate(spec.order):
            converter = spec.converters[feat.name]
            floats = self._floats(batch, feat.name) if j < n_num else None
            if floats is not None:  # decoded typed: already a float64 column
                assert isinstance(converter, NumericColumn)
                values, codes = converter.convert_floats(floats if rows is None else floats[rows])
            else:
                raw = self._raw(batch, feat.name)
                if pick is not None:
                    raw = [raw[i] for i in pick]
                values, codes = converter.convert(raw)
            if j < n_num:
                numeric[:, j] = values
            elif j < n_num + n_cat:
                categorical[:, j - n_num] = values
            else:
                start = spec.vector_offsets[feat.name]
                numeric[:, start : start + values.shape[1]] = values
            anomalies[:, j] = codes
        times = batch.timestamps if rows is None else batch.timestamps[rows]
        state.windows.add(
            Rows(numeric, categorical, times, anomalies),
            lambda w: self._evaluate(key, state, w),
        )

    def _floats(self, batch: DecodedBatch, name: str) -> np.ndarray | None:
        if self.prediction is not None and name == self.prediction.name:
            return None
        return batch.numbers.get(name)

    def _raw(self, batch: DecodedBatch, name: str) -> list[Any]:
        if self.prediction is not None and name == self.prediction.name:
            return batch.predictions
        return batch.features[name]

    def _evaluate(self, key: Segment, state: SegmentState, window: ClosedWindow) -> None:
        self.windows_closed += 1
        verdicts = evaluate(self.spec, key, state, window)
        for v in verdicts:
            state.last[(v.feature, v.statistic)] = v
        self._warn_absent(window)
        self._emit(verdicts)

    def _warn_absent(self, window: ClosedWindow) -> None:
        # A mistyped field path passes check-config (the field may be optional) and reads as
        # a feature missing from every event: say which path, once per feature.
        if not window.size:
            return
        for feat, counts in zip(self.spec.order, window.schema, strict=True):
            if counts.missing == window.size and feat.name not in self.absent_fields:
                self.absent_fields.add(feat.name)
                where = "; ".join(self.paths.get(feat.name, [])) or "its field mapping"
                log.warning(
                    "monitor %s: %s was missing from all %d events of window #%d: check %s",
                    self.name,
                    feat.name,
                    window.size,
                    window.index,
                    where,
                )

    # -- life cycle -----------------------------------------------------------------------

    def warm_up(self) -> None:
        """Calibrate every limit at the configured window size (count windows) for the
        family as it stands, so the first window costs no simulation."""
        if isinstance(self.cfg.window, CountWindow):
            probe = self._new_segment()
            probe.set_family_size(len(self.spec.statistics) * max(1, len(self._segments)))
            for test in probe.tests:
                test.threshold.limit(self.cfg.window.size)

    def flush(self) -> None:
        """Close open tumbling windows (on shutdown or replay end)."""
        for key, state in self._segments.items():
            if isinstance(state.windows, TumblingWindows) and state.windows.pending:
                state.windows.flush(lambda w, k=key, s=state: self._evaluate(k, s, w))

    def snapshot(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Open windows and adaptive threshold state of every segment, for a checkpoint."""
        meta: dict[str, Any] = {"windows_closed": self.windows_closed, "segments": []}
        arrays: dict[str, np.ndarray] = {}
        for i, (key, state) in enumerate(self._segments.items()):
            smeta, sarrays = state.snapshot(key)
            meta["segments"].append(smeta)
            arrays.update({f"s{i}.{name}": arr for name, arr in sarrays.items()})
        return meta, arrays

    def restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Continue from ``snapshot()``; raises ValueError/KeyError when it does not fit (the
        caller then resets the monitor)."""
        self.windows_closed = int(meta["windows_closed"])
        for i, seg in enumerate(meta["segments"]):
            key: Segment = tuple((str(k), str(v)) for k, v in seg["key"])
            self._segmenter.known.add(key)
            prefix = f"s{i}."
            own = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            self._segment(key).restore(seg, own)

    def status(self) -> dict[str, Any]:
        """Latest verdict per segment, feature and statistic (for /status)."""
        out: dict[str, Any] = {}
        for key, state in self._segments.items():
            seg = ",".join(f"{k}={v}" for k, v in key) or "all"
            windows = state.windows
            out[seg] = {
                "pending_events": windows.pending,
                "windows": windows.index,
                # Tumbling windows drop events of a window already closed, and beyond
                # max_events in one window: counted, never silent.
                "late_events": getattr(windows, "late", 0),
                "overflow_events": getattr(windows, "overflow", 0),
                "latest": [
                    {
                        "feature": v.feature,
                        "statistic": v.statistic,
                        "value": _num(v.value),
                        "limit": _num(v.limit),
                        "state": v.state.value,
                    }
                    for v in state.last.values()
                ],
            }
        return out


def _num(x: float) -> float | None:
    return None if math.isnan(x) else x
