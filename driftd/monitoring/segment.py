"""The state of one segment of a monitor: its windows, its thresholds, its latest verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftd.config.models import CountWindow
from driftd.epochs import new_epoch
from driftd.monitoring.spec import MonitorSpec, StatisticSpec
from driftd.monitoring.thresholds import AdaptiveLimit, CalibratedLimit, Threshold
from driftd.monitoring.windows import CountWindows, TumblingWindows
from driftd.records import Verdict

Segment = tuple[tuple[str, str], ...]


@dataclass
class Test:
    """One statistic of one feature, with its threshold state for one segment."""

    spec: StatisticSpec
    threshold: Threshold


@dataclass
class SegmentState:
    """Open windows, threshold states, window epoch and latest verdicts of one segment."""

    windows: CountWindows | TumblingWindows
    tests: list[Test]
    schema_limits: list[Threshold]
    epoch: str = field(default_factory=new_epoch)
    last: dict[tuple[str, str], Verdict] = field(default_factory=dict)

    @classmethod
    def new(cls, spec: MonitorSpec) -> SegmentState:
        """Empty windows and fresh thresholds for ``spec``."""
        tests = [Test(s, spec.threshold(s.stat)) for s in spec.statistics]
        schema_limits = [spec.schema_threshold(f) for f in spec.order]
        window = spec.cfg.window
        n_num, n_cat, n_schema = spec.width, len(spec.categorical), len(spec.order)
        windows: CountWindows | TumblingWindows
        if isinstance(window, CountWindow):
            windows = CountWindows(window.size, n_num, n_cat, n_schema)
        else:
            windows = TumblingWindows(window.every, window.max_events, n_num, n_cat, n_schema)
        return cls(windows, tests, schema_limits)

    def set_family_size(self, family: int) -> None:
        """How many tests share the false-alarm budget (calibrated limits correct for it)."""
        for test in self.tests:
            for limit in (test.threshold, getattr(test.threshold, "base", None)):
                if isinstance(limit, CalibratedLimit | AdaptiveLimit):
                    limit.family_size = family

    def snapshot(self, key: Segment) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON metadata and arrays of this segment, for a checkpoint."""
        wmeta, arrays = self.windows.snapshot()
        meta = {
            "key": [list(kv) for kv in key],
            "epoch": self.epoch,
            "windows": wmeta,
            "thresholds": [
                t.threshold.state() if isinstance(t.threshold, AdaptiveLimit) else None
                for t in self.tests
            ],
            "schema": [
                p.state() if isinstance(p, AdaptiveLimit) else None for p in self.schema_limits
            ],
        }
        return meta, arrays

    def restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Continue from ``snapshot()``; raises ValueError/KeyError when it does not fit."""
        self.windows.restore(meta["windows"], arrays)
        if len(meta["thresholds"]) != len(self.tests):
            raise ValueError("the monitor's statistics changed since the checkpoint")
        for test, saved in zip(self.tests, meta["thresholds"], strict=True):
            if saved is not None and isinstance(test.threshold, AdaptiveLimit):
                test.threshold.restore(saved)
        for policy, saved in zip(self.schema_limits, meta["schema"], strict=True):
            if saved is not None and isinstance(policy, AdaptiveLimit):
                policy.restore(saved)
        self.epoch = str(meta["epoch"])
