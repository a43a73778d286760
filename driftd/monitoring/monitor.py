"""A monitor: one model's events, windowed per segment, scored against its reference profile.

For each closed window, every (feature, statistic) pair gives a Verdict: the statistic, the
limit its threshold policy sets for this window size, and whether it crossed it. Schema
anomalies give one ``kind="schema"`` verdict per feature. Verdicts go to the injected ``emit``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftd.config.models import (
    AdaptiveThreshold,
    CalibratedThreshold,
    CountWindow,
    MonitorConfig,
    StaticThreshold,
)
from driftd.decoding import DecodedBatch
from driftd.epochs import new_epoch
from driftd.errors import ConfigError
from driftd.monitoring.columns import CategoricalColumn, NumericColumn, SchemaCounts
from driftd.monitoring.segments import Segmenter
from driftd.monitoring.statistics import FeatureStatistic, build_statistic
from driftd.monitoring.thresholds import AdaptiveLimit, CalibratedLimit, StaticLimit, Threshold
from driftd.monitoring.windows import ClosedWindow, CountWindows, Rows, TumblingWindows
from driftd.records import State, Verdict
from driftd.reference.profile import FeatureProfile, Profile

Segment = tuple[tuple[str, str], ...]
DEFAULT_SCHEMA_LIMIT = 0.05  # 5% of a window's events with a schema anomaly


@dataclass
class _Test:
    """One statistic of one feature, with its threshold state for one segment."""

    stat: FeatureStatistic
    threshold: Threshold
    numeric_col: int | None
    categorical_col: int | None
    kind: str


@dataclass
class _SegmentState:
    windows: CountWindows | TumblingWindows
    tests: list[_Test]
    schema_limits: list[Threshold]
    epoch: str = field(default_factory=new_epoch)
    last: dict[tuple[str, str], Verdict] = field(default_factory=dict)


class Monitor:
    """Evaluates the events of one monitor; thread-confined to the daemon loop."""

    def __init__(
        self,
        cfg: MonitorConfig,
        profile: Profile,
        emit: Callable[[list[Verdict]], None],
        *,
        predictions_mapped: bool = True,
    ) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.profile = profile
        self._emit = emit
        names = _select_features(cfg, profile)
        self.features: list[FeatureProfile] = [profile.feature(n) for n in names]
        self.prediction: FeatureProfile | None = None
        if (
            cfg.prediction_drift
            and predictions_mapped
            and profile.prediction
            and profile.prediction in profile.features
        ):
            self.prediction = profile.feature(profile.prediction)
        watched = [*self.features, *([self.prediction] if self.prediction else [])]
        self._numeric = [f for f in watched if f.type == "numeric"]
        self._categorical = [f for f in watched if f.type == "categorical"]
        self._converters = {
            f.name: NumericColumn(f) if f.type == "numeric" else CategoricalColumn(f)
            for f in watched
        }
        self._order = [*self._numeric, *self._categorical]
        self._statistics = self._build_statistics()
        self._segmenter = Segmenter(cfg.segment_by, cfg.max_segments)
        self._segments: dict[Segment, _SegmentState] = {}
        self.min_samples = _min_samples(cfg)
        self.windows_closed = 0
        self.drift_streams: set[str] = set(cfg.streams)
        self.needs_event_time = not isinstance(cfg.window, CountWindow)
        self._check_threshold_features(watched)
        # Build one segment's thresholds now: a threshold that cannot be built fails here,
        # at start-up and in check-config, not on the first event of a segment.
        self._new_segment()

    # -- set-up ---------------------------------------------------------------------------

    def _build_statistics(self) -> list[tuple[FeatureStatistic, int | None, int | None, str]]:
        out = []
        for j, feat in enumerate(self._numeric):
            kind = "prediction" if feat is self.prediction else "data"
            for name in self.cfg.statistics.numeric:
                out.append(
                    (build_statistic(feat, name, self._bootstrap(feat.name, name)), j, None, kind)
                )
        for j, feat in enumerate(self._categorical):
            kind = "prediction" if feat is self.prediction else "data"
            for name in self.cfg.statistics.categorical:
                out.append(
                    (build_statistic(feat, name, self._bootstrap(feat.name, name)), None, j, kind)
                )
        return out

    def _check_threshold_features(self, watched: list[FeatureProfile]) -> None:
        by_name = {f.name: f for f in watched}
        for name, by_statistic in self.cfg.thresholds.features.items():
            where = f"monitor {self.name!r}: thresholds.features.{name}"
            feat = by_name.get(name)
            if feat is None:
                close = difflib.get_close_matches(name, sorted(by_name), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(
                    f"{where}: not a feature this monitor watches{hint}; it watches "
                    f"{', '.join(sorted(by_name))}"
                )
            allowed = (
                self.cfg.statistics.numeric
                if feat.type == "numeric"
                else self.cfg.statistics.categorical
            )
            for statistic in by_statistic:
                if statistic != "schema" and statistic not in allowed:
                    raise ConfigError(
                        f"{where}.{statistic}: {name} is {feat.type} and this monitor computes "
                        f"{', '.join(allowed)} for it (statistics.{feat.type})"
                    )

    def _threshold_cfg(self, feature: str, statistic: str) -> Any:
        th = self.cfg.thresholds
        return (
            th.features.get(feature, {}).get(statistic)
            or th.statistics.get(statistic)
            or (th.default)
        )

    def _bootstrap(self, feature: str, statistic: str) -> tuple[int, int]:
        cfg = self._threshold_cfg(feature, statistic)
        base = cfg.base if isinstance(cfg, AdaptiveThreshold) else cfg
        if isinstance(base, CalibratedThreshold):
            return base.bootstrap_samples, base.seed
        return 400, 0

    def _make_threshold(self, stat: FeatureStatistic) -> Threshold:
        cfg = self._threshold_cfg(stat.feature, stat.statistic)
        return _threshold(cfg, stat)

    def _new_segment(self) -> _SegmentState:
        tests = [
            _Test(stat, self._make_threshold(stat), ncol, ccol, kind)
            for stat, ncol, ccol, kind in self._statistics
        ]
        th = self.cfg.thresholds
        schema_limits: list[Threshold] = []
        for feat in self._order:
            schema_cfg = th.features.get(feat.name, {}).get("schema") or th.statistics.get("schema")
            schema_limits.append(
                _threshold(schema_cfg, None) if schema_cfg else StaticLimit(DEFAULT_SCHEMA_LIMIT)
            )
        window = self.cfg.window
        n_num, n_cat, n_schema = len(self._numeric), len(self._categorical), len(self._order)
        windows: CountWindows | TumblingWindows
        if isinstance(window, CountWindow):
            windows = CountWindows(window.size, n_num, n_cat, n_schema)
        else:
            windows = TumblingWindows(window.every, window.max_events, n_num, n_cat, n_schema)
        return _SegmentState(windows, tests, schema_limits)

    def _segment(self, key: Segment) -> _SegmentState:
        state = self._segments.get(key)
        if state is None:
            state = self._segments[key] = self._new_segment()
            family = len(self._statistics) * len(self._segments)
            for seg in self._segments.values():
                for test in seg.tests:
                    for limit in (test.threshold, getattr(test.threshold, "base", None)):
                        if isinstance(limit, CalibratedLimit):
                            limit.family_size = family
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
            model = self.cfg.model
            select = np.flatnonzero(np.fromiter((m == model for m in batch.models), bool, n))
            if select.size == 0:
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
        """Forget every window and threshold state (its partition moved to another replica)."""
        self._segments = {}
        self._segmenter.known = set()
        self.windows_closed = 0

    def _add_rows(self, key: Segment, batch: DecodedBatch, rows: np.ndarray | None) -> None:
        state = self._segment(key)
        count = batch.index.size if rows is None else rows.size
        numeric = np.empty((count, len(self._numeric)), dtype=np.float64)
        categorical = np.empty((count, len(self._categorical)), dtype=np.int32)
        anomalies = np.empty((count, len(self._order)), dtype=np.uint8)
        pick = None if rows is None else rows.tolist()
        for j, feat in enumerate(self._order):
            raw = self._raw(batch, feat.name)
            if pick is not None:
                raw = [raw[i] for i in pick]
            values, codes = self._converters[feat.name].convert(raw)
            if j < len(self._numeric):
                numeric[:, j] = values
            else:
                categorical[:, j - len(self._numeric)] = values
            anomalies[:, j] = codes
        times = batch.timestamps if rows is None else batch.timestamps[rows]
        state.windows.add(
            Rows(numeric, categorical, times, anomalies),
            lambda w: self._evaluate(key, state, w),
        )

    def _raw(self, batch: DecodedBatch, name: str) -> list[Any]:
        if self.prediction is not None and name == self.prediction.name:
            return batch.predictions
        return batch.features[name]

    # -- evaluation -----------------------------------------------------------------------

    def _evaluate(self, key: Segment, state: _SegmentState, window: ClosedWindow) -> None:
        self.windows_closed += 1
        verdicts: list[Verdict] = []
        base = {
            "monitor": self.name,
            "segment": key,
            "window_index": window.index,
            "window_epoch": state.epoch,
            "window_size": window.size,
            "window_start": window.start,
            "window_end": window.end,
        }
        for test in state.tests:
            if test.numeric_col is not None:
                values = window.numeric[:, test.numeric_col]
                values = values[~np.isnan(values)]
            else:
                assert test.categorical_col is not None
                values = window.categorical[:, test.categorical_col]
                values = values[values >= 0]
            n = int(values.size)
            stat = test.stat
            if n < self.min_samples:
                verdicts.append(
                    Verdict(
                        feature=stat.feature,
                        statistic=stat.statistic,
                        value=math.nan,
                        limit=math.nan,
                        state=State.INSUFFICIENT,
                        kind=test.kind,
                        **base,
                    )
                )
                continue
            score = stat.score(values)
            limit = test.threshold.limit(n)
            drifted = score.statistic > limit
            test.threshold.observe(score.statistic, drifted)
            verdicts.append(
                Verdict(
                    feature=stat.feature,
                    statistic=stat.statistic,
                    value=score.statistic,
                    limit=limit,
                    state=State.DRIFT if drifted else State.OK,
                    kind=test.kind,
                    pvalue=score.pvalue,
                    detail=stat.describe(score),
                    **base,
                )
            )
        if self.cfg.schema_checks and window.size:
            for feat, counts, limit_policy in zip(
                self._order, window.schema, state.schema_limits, strict=True
            ):
                rate = _schema_rate(counts, window.size, feat)
                limit = limit_policy.limit(window.size)
                drifted = rate > limit
                limit_policy.observe(rate, drifted)
                verdicts.append(
                    Verdict(
                        feature=feat.name,
                        statistic="schema",
                        value=rate,
                        limit=limit,
                        state=State.DRIFT if drifted else State.OK,
                        kind="schema",
                        detail=_schema_detail(counts),
                        **base,
                    )
                )
        for v in verdicts:
            state.last[(v.feature, v.statistic)] = v
        self._emit(verdicts)

    def warm_up(self) -> None:
        """Calibrate null models at the configured window size (count windows)."""
        if isinstance(self.cfg.window, CountWindow):
            for stat, *_ in self._statistics:
                stat.null.quantile(self.cfg.window.size, 0.01)

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
            wmeta, warrays = state.windows.snapshot()
            for name, arr in warrays.items():
                arrays[f"s{i}.{name}"] = arr
            thresholds = [
                t.threshold.state() if isinstance(t.threshold, AdaptiveLimit) else None
                for t in state.tests
            ]
            schema = [
                p.state() if isinstance(p, AdaptiveLimit) else None for p in state.schema_limits
            ]
            meta["segments"].append(
                {
                    "key": [list(kv) for kv in key],
                    "epoch": state.epoch,
                    "windows": wmeta,
                    "thresholds": thresholds,
                    "schema": schema,
                }
            )
        return meta, arrays

    def restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Continue from ``snapshot()``; a monitor whose shape changed starts afresh."""
        self.windows_closed = int(meta["windows_closed"])
        for i, seg in enumerate(meta["segments"]):
            key: Segment = tuple((str(k), str(v)) for k, v in seg["key"])
            self._segmenter.known.add(key)
            state = self._segment(key)
            state.windows.restore(
                seg["windows"],
                {
                    "numeric": arrays[f"s{i}.numeric"],
                    "categorical": arrays[f"s{i}.categorical"],
                    "anomalies": arrays[f"s{i}.anomalies"],
                },
            )
            if len(seg["thresholds"]) != len(state.tests):
                raise ValueError("the monitor's statistics changed since the checkpoint")
            for test, saved in zip(state.tests, seg["thresholds"], strict=True):
                if saved is not None and isinstance(test.threshold, AdaptiveLimit):
                    test.threshold.restore(saved)
            for policy, saved in zip(state.schema_limits, seg["schema"], strict=True):
                if saved is not None and isinstance(policy, AdaptiveLimit):
                    policy.restore(saved)
            state.epoch = str(seg["epoch"])

    def status(self) -> dict[str, Any]:
        """Latest verdict per segment, feature and statistic (for /status)."""
        out: dict[str, Any] = {}
        for key, state in self._segments.items():
            seg = ",".join(f"{k}={v}" for k, v in key) or "all"
            out[seg] = {
                "pending_events": state.windows.pending,
                "windows": state.windows.index,
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


def _schema_rate(counts: SchemaCounts, size: int, feat: FeatureProfile) -> float:
    # Missing values are only an anomaly beyond the rate the reference already had.
    excess_missing = max(0.0, counts.missing / size - feat.missing_rate)
    hard = counts.wrong_type + counts.not_finite + counts.unseen_category + counts.out_of_range
    # Each event carries at most one anomaly per feature, so the rate is at most 1.
    return min(1.0, hard / size + excess_missing)


def _schema_detail(counts: SchemaCounts) -> str:
    return ", ".join(f"{k}={v}" for k, v in counts.as_dict().items() if v)


def _min_samples(cfg: MonitorConfig) -> int:
    window = cfg.window
    if isinstance(window, CountWindow):
        return window.min_samples or max(2, window.size // 5)
    return window.min_samples


def _select_features(cfg: MonitorConfig, profile: Profile) -> list[str]:
    available = [n for n in profile.features if n not in {profile.prediction, profile.label}]
    if cfg.features == "all":
        return available
    missing = [n for n in cfg.features if n not in profile.features]
    if missing:
        raise ConfigError(
            f"monitor {cfg.name!r}: features {missing} are not in the reference profile "
            f"{cfg.reference} (it has: {', '.join(available)})"
        )
    return list(cfg.features)


def _threshold(cfg: Any, stat: FeatureStatistic | None) -> Threshold:
    if isinstance(cfg, StaticThreshold):
        return StaticLimit(cfg.value, cfg.min_effect)
    if isinstance(cfg, CalibratedThreshold):
        if stat is None:
            raise ConfigError("schema thresholds cannot be calibrated; use static or adaptive")
        return CalibratedLimit(
            stat.null, cfg.windows_between_false_alarms, cfg.family_correction, cfg.min_effect
        )
    assert isinstance(cfg, AdaptiveThreshold)
    base = _threshold(cfg.base, stat)
    assert isinstance(base, StaticLimit | CalibratedLimit)
    return AdaptiveLimit(
        base,
        method=cfg.method,
        alpha=cfg.alpha,
        k=cfg.k,
        quantile=cfg.quantile,
        history=cfg.history,
        warmup=cfg.warmup_windows,
        max_change=cfg.max_change,
        min_effect=cfg.min_effect,
    )
