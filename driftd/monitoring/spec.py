"""A monitor's definition compiled once from its config and profile.

What a monitor watches (features, the prediction), how raw values become columns, which
statistic runs on which column, and which threshold policy each (feature, statistic) gets, are
fixed for the life of the monitor; ``MonitorSpec`` works them out, and checks them, when the
monitor is built, so a bad config fails at start-up and in ``driftd check-config``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from driftd.config.models import (
    MULTIVARIATE,
    AdaptiveThreshold,
    CalibratedThreshold,
    CountWindow,
    MonitorConfig,
    StaticThreshold,
)
from driftd.errors import ConfigError
from driftd.monitoring.columns import CategoricalColumn, NumericColumn, VectorColumn
from driftd.monitoring.nulls import TailCache
from driftd.monitoring.statistics import FeatureStatistic, NullSettings, build_statistic
from driftd.monitoring.thresholds import AdaptiveLimit, CalibratedLimit, StaticLimit, Threshold
from driftd.reference.joint import restricted
from driftd.reference.profile import FeatureProfile, JointSummary, Profile

DEFAULT_SCHEMA_LIMIT = 0.05  # 5% of a window's events with a schema anomaly


@dataclass(frozen=True, slots=True)
class StatisticSpec:
    """One statistic on one column of a window: numeric column j or categorical column j; or,
    multivariate, on the complete rows of numeric ``columns`` together."""

    stat: FeatureStatistic
    numeric_col: int | None
    categorical_col: int | None
    kind: str
    columns: tuple[int, ...] | None = None


class MonitorSpec:
    """Features, columns, statistics and threshold policies of one monitor."""

    def __init__(
        self,
        cfg: MonitorConfig,
        profile: Profile,
        *,
        predictions_mapped: bool,
        cache: TailCache | None = None,
    ) -> None:
        self.cfg = cfg
        self._profile = profile
        self._cache = cache
        self.name = cfg.name
        self.features: list[FeatureProfile] = [
            profile.feature(n) for n in _select_features(cfg, profile)
        ]
        self.prediction: FeatureProfile | None = None
        if (
            cfg.prediction_drift
            and predictions_mapped
            and profile.prediction
            and profile.prediction in profile.features
        ):
            self.prediction = profile.feature(profile.prediction)
        watched = [*self.features, *([self.prediction] if self.prediction else [])]
        self.numeric = [f for f in watched if f.type == "numeric"]
        self.categorical = [f for f in watched if f.type == "categorical"]
        self.vectors = [f for f in watched if f.type == "vector"]
        # Numeric columns first, then categorical, then vectors: the order of a window's
        # schema columns. A vector's dimensions follow the numeric features in the window's
        # float matrix, from column vector_offsets[name].
        self.order = [*self.numeric, *self.categorical, *self.vectors]
        self.vector_offsets: dict[str, int] = {}
        width = len(self.numeric)
        for f in self.vectors:
            assert f.vector is not None
            self.vector_offsets[f.name] = width
            width += f.vector.dim
        self.width = width
        self.converters: dict[str, NumericColumn | CategoricalColumn | VectorColumn] = {
            f.name: NumericColumn(f)
            if f.type == "numeric"
            else VectorColumn(f)
            if f.type == "vector"
            else CategoricalColumn(f)
            for f in watched
        }
        self._check_threshold_features(watched)
        self.statistics = self._build_statistics()
        self.min_samples = _min_samples(cfg)
        self.needs_event_time = not isinstance(cfg.window, CountWindow)

    def _build_statistics(self) -> list[StatisticSpec]:
        out = []
        for j, feat in enumerate(self.numeric):
            kind = "prediction" if feat is self.prediction else "data"
            for name in self.cfg.statistics.numeric:
                stat = build_statistic(feat, name, self._null_settings(feat.name, name))
                out.append(StatisticSpec(stat, j, None, kind))
        for j, feat in enumerate(self.categorical):
            kind = "prediction" if feat is self.prediction else "data"
            for name in self.cfg.statistics.categorical:
                stat = build_statistic(feat, name, self._null_settings(feat.name, name))
                out.append(StatisticSpec(stat, None, j, kind))
        if self.cfg.statistics.multivariate or self.vectors:
            # Imported here: the classifier test brings scipy.stats, which check-config and
            # monitors without multivariate statistics do without.
            from driftd.monitoring.multivariate import build_multivariate
        if self.cfg.statistics.multivariate:
            joint, columns = self._joint()
            for name in self.cfg.statistics.multivariate:
                stat = build_multivariate(joint, name)
                out.append(StatisticSpec(stat, None, None, "data", columns))
        for feat in self.vectors:
            assert feat.vector is not None
            start = self.vector_offsets[feat.name]
            columns = tuple(range(start, start + feat.vector.dim))
            for name in self.cfg.statistics.vector:
                stat = build_multivariate(feat.vector.joint, name, feature=feat.name)
                out.append(StatisticSpec(stat, None, None, "data", columns))
        return out

    def _joint(self) -> tuple[JointSummary, tuple[int, ...]]:
        """The joint sample of the monitor's numeric features (not the prediction) and their
        numeric columns."""
        where = f"monitor {self.name!r}: statistics.multivariate"
        joint = self._profile.joint
        if joint is None:
            raise ConfigError(
                f"{where}: the profile {self.cfg.reference} has no joint sample; rebuild it "
                "with `driftd reference build` (joint_sample_size > 0, two or more numeric "
                "features)"
            )
        if MULTIVARIATE in self._profile.features:
            raise ConfigError(
                f"{where}: the profile has a feature named {MULTIVARIATE!r}, the name "
                "multivariate verdicts carry; rename that column"
            )
        names = [f.name for f in self.numeric if f is not self.prediction]
        missing = [n for n in names if n not in joint.features]
        if missing:
            raise ConfigError(f"{where}: features {missing} are not in the profile's joint sample")
        if len(names) < 2:
            raise ConfigError(
                f"{where}: needs two or more numeric features, the monitor has {len(names)}"
            )
        columns = tuple(j for j, f in enumerate(self.numeric) if f is not self.prediction)
        return restricted(joint, names), columns

    def _check_threshold_features(self, watched: list[FeatureProfile]) -> None:
        by_name = {f.name: f for f in watched}
        for name, by_statistic in self.cfg.thresholds.features.items():
            where = f"monitor {self.name!r}: thresholds.features.{name}"
            if name == MULTIVARIATE and self.cfg.statistics.multivariate:
                for statistic in by_statistic:
                    if statistic not in self.cfg.statistics.multivariate:
                        raise ConfigError(
                            f"{where}.{statistic}: this monitor computes "
                            f"{', '.join(self.cfg.statistics.multivariate)} over its features "
                            "together (statistics.multivariate)"
                        )
                continue
            feat = by_name.get(name)
            if feat is None:
                close = difflib.get_close_matches(name, sorted(by_name), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(
                    f"{where}: not a feature this monitor watches{hint}; it watches "
                    f"{', '.join(sorted(by_name))}"
                )
            allowed = {
                "numeric": self.cfg.statistics.numeric,
                "categorical": self.cfg.statistics.categorical,
                "vector": self.cfg.statistics.vector,
            }[feat.type]
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

    def _null_settings(self, feature: str, statistic: str) -> NullSettings:
        cfg = self._threshold_cfg(feature, statistic)
        base = cfg.base if isinstance(cfg, AdaptiveThreshold) else cfg
        # A full count window is the common size: calibrated exactly, not on the size grid.
        anchors = (self.cfg.window.size,) if isinstance(self.cfg.window, CountWindow) else ()
        if isinstance(base, CalibratedThreshold):
            return NullSettings(base.seed, base.max_draws, anchors, self._cache)
        return NullSettings(anchors=anchors, cache=self._cache)

    def threshold(self, stat: FeatureStatistic) -> Threshold:
        """A fresh threshold policy for one statistic of one segment."""
        return build_threshold(self._threshold_cfg(stat.feature, stat.statistic), stat)

    def schema_threshold(self, feat: FeatureProfile) -> Threshold:
        """A fresh threshold policy for one feature's schema-anomaly rate."""
        th = self.cfg.thresholds
        cfg = th.features.get(feat.name, {}).get("schema") or th.statistics.get("schema")
        return build_threshold(cfg, None) if cfg else StaticLimit(DEFAULT_SCHEMA_LIMIT)


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


def build_threshold(cfg: Any, stat: FeatureStatistic | None) -> Threshold:
    """The threshold policy a config asks for (``stat`` None: a schema rate)."""
    if isinstance(cfg, StaticThreshold):
        return StaticLimit(cfg.value, cfg.min_effect)
    if isinstance(cfg, CalibratedThreshold):
        if stat is None:
            raise ConfigError("schema thresholds cannot be calibrated; use static or adaptive")
        return CalibratedLimit(
            stat.null, cfg.windows_between_false_alarms, cfg.family_correction, cfg.min_effect
        )
    assert isinstance(cfg, AdaptiveThreshold)
    base = build_threshold(cfg.base, stat)
    assert isinstance(base, StaticLimit | CalibratedLimit)
    return AdaptiveLimit(
        base,
        history=cfg.history,
        warmup=cfg.warmup_windows,
        max_inflation=cfg.max_inflation,
        max_limit=cfg.max_limit,
        floor=cfg.floor,
        max_change=cfg.max_change,
        windows_between_false_alarms=cfg.windows_between_false_alarms,
        min_effect=cfg.min_effect,
    )
