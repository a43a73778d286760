"""Multivariate statistics in a monitor: a correlation change with unchanged marginals is caught
by PCA reconstruction and the classifier test and missed by every univariate statistic; the
verdicts do not depend on batching; a profile without a joint sample is refused clearly."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from driftd.config import parse_config
from driftd.decoding import StreamDecoder
from driftd.errors import ConfigError
from driftd.monitoring.pipeline import MonitoringProcessor, load_profiles
from driftd.records import State, Verdict
from driftd.reference.build import BuildOptions, build_profile
from driftd.reference.io import save_profile
from tests.processing import Collect, run_stream

FEATURES = ("a", "b", "c", "d")
WINDOW = 2000


def _cov(rho: float) -> np.ndarray:
    cov = np.eye(len(FEATURES))
    cov[0, 1] = cov[1, 0] = rho
    cov[2, 3] = cov[3, 2] = -0.5
    return cov


def _rows(rho: float, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).multivariate_normal(np.zeros(4), _cov(rho), size=n)


@pytest.fixture(scope="module")
def profile_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("multivariate")
    csv = where / "train.csv"
    rows = _rows(0.8, 40_000, seed=1)
    csv.write_text(
        ",".join(FEATURES) + "\n" + "\n".join(",".join(f"{v:.6f}" for v in r) for r in rows)
    )
    return save_profile(build_profile(csv, BuildOptions()), where / "train.profile")


def _config(profile: Path, multivariate: str = "[pca, classifier]") -> Any:
    features = ", ".join(f"{f}: x.{f}" for f in FEATURES)
    return parse_config(
        f"""
kafka: {{bootstrap_servers: ["127.0.0.1:9"], group_id: g}}
streams:
  - name: p
    topic: t
    fields:
      features: {{{features}}}
monitors:
  - name: m
    streams: [p]
    reference: {profile}
    prediction_drift: false
    window: {{type: count, size: {WINDOW}}}
    statistics: {{numeric: [ks, psi, js, wasserstein], multivariate: {multivariate}}}
""",
        env={},
    )


def _values(rows: np.ndarray) -> list[bytes]:
    out = []
    for r in rows:
        x: dict[str, Any] = {f: float(v) for f, v in zip(FEATURES, r, strict=True)}
        out.append(json.dumps({"x": x}).encode())
    return out


def _run(profile: Path, values: Sequence[bytes], batch: int) -> list[Verdict]:
    verdicts = run_stream(_config(profile), values, batch)
    return [v for v in verdicts if v.kind != "schema"]


def test_a_correlation_change_is_seen_only_by_the_multivariate_statistics(
    profile_path: Path,
) -> None:
    # Every feature stays standard normal; only the correlation of a and b changes.
    calm = _rows(0.8, WINDOW, seed=2)
    changed = _rows(0.2, WINDOW, seed=3)
    verdicts = _run(profile_path, _values(np.vstack([calm, changed])), batch=500)
    by_window: dict[int, dict[tuple[str, str], Verdict]] = {}
    for v in verdicts:
        by_window.setdefault(v.window_index, {})[(v.feature, v.statistic)] = v
    assert set(by_window) == {0, 1}
    first, second = by_window[0], by_window[1]
    assert {k for k, v in first.items() if v.state is State.DRIFT} == set()
    drifted = {k for k, v in second.items() if v.state is State.DRIFT}
    assert drifted == {("multivariate", "pca"), ("multivariate", "classifier")}
    univariate = [k for k in second if k[0] != "multivariate"]
    assert len(univariate) == 4 * len(FEATURES)
    pca, calm_pca = second[("multivariate", "pca")], first[("multivariate", "pca")]
    assert pca.window_size == WINDOW and pca.value > pca.limit > calm_pca.value
    assert math.isfinite(pca.limit)


def test_batches_of_1_100_and_20000_give_the_same_multivariate_verdicts(profile_path: Path) -> None:
    values = _values(np.vstack([_rows(0.8, 2100, seed=4), _rows(0.0, 2100, seed=5)]))

    def key(v: Verdict) -> tuple[Any, ...]:
        return (v.window_index, v.feature, v.statistic, v.value, v.limit, v.state)

    whole = [key(v) for v in _run(profile_path, values, 20_000) if v.feature == "multivariate"]
    assert len(whole) == 4  # two windows, a flushed third too small, two statistics
    for batch in (1, 100):
        got = [key(v) for v in _run(profile_path, values, batch) if v.feature == "multivariate"]
        assert got == whole


def test_rows_with_a_missing_feature_are_left_out(profile_path: Path) -> None:
    rows = _rows(0.8, WINDOW, seed=6)
    values = []
    for i, raw in enumerate(_values(rows)):
        event = json.loads(raw)
        if i % 4 == 0:
            del event["x"]["c"]
        values.append(json.dumps(event).encode())
    verdicts = _run(profile_path, values, batch=WINDOW)
    pca = next(v for v in verdicts if v.statistic == "pca")
    # The verdict counts events; the statistic was computed on the 1,500 complete rows.
    assert pca.state is State.OK and pca.window_size == WINDOW


def test_a_profile_without_a_joint_sample_is_refused(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    rows = _rows(0.8, 2000, seed=1)
    csv.write_text("a,b,c,d\n" + "\n".join(",".join(f"{v:.5f}" for v in r) for r in rows))
    path = save_profile(build_profile(csv, BuildOptions(joint_sample_size=0)), tmp_path / "p")
    config = _config(path)
    with pytest.raises(ConfigError, match="no joint sample; rebuild it"):
        MonitoringProcessor(config, load_profiles(config), [Collect()])


def test_a_monitor_on_fewer_features_refits_the_basis(profile_path: Path) -> None:
    config = _config(profile_path, multivariate="[pca]")
    monitor = config.monitors[0].model_copy(update={"features": ["a", "b", "c"]})
    config = config.model_copy(update={"monitors": [monitor]})
    rows = _rows(0.8, WINDOW, seed=9)
    stream = config.streams[0]
    collect = Collect()
    processor = MonitoringProcessor(config, load_profiles(config), [collect])
    processor.process(stream, StreamDecoder(stream).decode(_values(rows)))
    pca = [v for v in collect.verdicts if v.statistic == "pca"]
    assert len(pca) == 1 and pca[0].state is State.OK
    spec = processor.monitors[0].spec.statistics[-1]
    assert spec.columns == (0, 1, 2)


def test_per_feature_thresholds_name_the_multivariate_statistics(profile_path: Path) -> None:
    raw = _config(profile_path).monitors[0]
    assert raw.statistics.multivariate == ["pca", "classifier"]
    with pytest.raises(ConfigError, match=r"pcaa: unknown statistic \(did you mean 'pca'\?\)"):
        parse_config(
            f"""
kafka: {{bootstrap_servers: ["127.0.0.1:9"], group_id: g}}
streams: [{{name: p, topic: t, fields: {{features: {{a: a}}}}}}]
monitors:
  - name: m
    streams: [p]
    reference: {profile_path}
    thresholds: {{statistics: {{pcaa: {{type: static, value: 1}}}}}}
""",
            env={},
        )


@pytest.mark.parametrize("skewed", [False, True])
@pytest.mark.parametrize("adaptive", [False, True])
def test_pca_limits_keep_their_false_alarm_rate(skewed: bool, adaptive: bool) -> None:
    from scipy import stats

    from tests.nullwindows import multivariate_false_alarms

    alpha, references, windows = 1e-2, 4, 500
    alarms = multivariate_false_alarms(
        "pca", alpha, 1000, references=references, windows=windows, skewed=skewed,
        adaptive=adaptive,
    )  # fmt: skip
    # At or below the 95 % binomial interval of the target (bench/calibration.py: 1e-3, 1e-4).
    assert alarms <= stats.binom.ppf(0.975, references * windows, alpha)


def test_the_limit_is_taken_at_the_number_of_complete_rows(profile_path: Path) -> None:
    config = _config(profile_path)
    collect = Collect()
    processor = MonitoringProcessor(config, load_profiles(config), [collect])
    stream = config.streams[0]
    values = []
    for i, raw in enumerate(_values(_rows(0.8, WINDOW, seed=12))):
        event = json.loads(raw)
        if i % 4 == 0:
            event["x"]["a"] = None
        values.append(json.dumps(event).encode())
    processor.process(stream, StreamDecoder(stream).decode(values))
    (state,) = processor.monitors[0]._segments.values()
    limits = {t.spec.stat.statistic: t.threshold.limit(1500) for t in state.tests}
    got = {v.statistic: v.limit for v in collect.verdicts if v.feature == "multivariate"}
    # 1,500 complete rows of 4 features: the limit at 1,500 rows, not at 6,000 values.
    assert got == {"pca": limits["pca"], "classifier": limits["classifier"]}
