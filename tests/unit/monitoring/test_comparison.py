"""Shadow and canary comparison: a candidate that diverges from production is caught (decisions,
scores, score distribution, label shares); one that does not keeps the promised false-alarm
rate; the verdicts do not depend on batching or on a checkpoint restore; any value is handled."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from driftd.alerting.rules import base_labels
from driftd.config import parse_config
from driftd.decoding import StreamDecoder
from driftd.errors import ConfigError
from driftd.monitoring.comparison import ks_limit, share_limit
from driftd.monitoring.pipeline import MonitoringProcessor
from driftd.records import State, Verdict
from tests.jsonvalues import JSON_VALUES
from tests.processing import Collect


def _config(comparison: str) -> Any:
    return parse_config(
        f"""
kafka: {{bootstrap_servers: ["127.0.0.1:9"], group_id: g}}
streams:
  - name: p
    topic: t
    fields: {{id: id, timestamp: ts, model_version: v, prediction: score}}
comparisons:
  - {comparison}
""",
        env={},
    )


SHADOW = (
    "{name: shadow, baseline: {stream: p, model_version: v3}, "
    "candidate: {stream: p, model_version: v4}, window: 500, max_score_difference: 0.03}"
)
CANARY = (
    "{name: canary, mode: canary, baseline: {stream: p, model_version: v3}, "
    "candidate: {stream: p, model_version: v4}, window: 500, alpha: 0.01}"
)


def _shadow_records(n: int, flip: float, seed: int) -> list[bytes]:
    """Both versions score every request; the candidate flips ``flip`` of the decisions."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        score = float(rng.beta(2, 5))
        candidate = score + float(rng.normal(0, 0.005))
        if rng.random() < flip:
            candidate = 1.0 - score
        for version, s in (("v3", score), ("v4", candidate)):
            out.append({"id": f"r{i}", "ts": 1_700_000_000_000 + i, "v": version, "score": s})
    return [json.dumps(o).encode() for o in out]


def _canary_records(n: int, shift: float, seed: int) -> list[bytes]:
    """Different traffic: each request served by one version (one in five by the canary)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        canary = rng.random() < 0.2
        a = 2.0 + (shift if canary else 0.0)
        out.append({"id": f"r{i}", "ts": 1_700_000_000_000 + i, "v": "v4" if canary else "v3",
                    "score": float(rng.beta(a, 5))})  # fmt: skip
    return [json.dumps(o).encode() for o in out]


def _records(spec: str, seed: int) -> list[bytes]:
    """A mildly diverging stream for ``spec``'s mode."""
    if "shadow" in spec:
        return _shadow_records(3000, flip=0.05, seed=seed)
    return _canary_records(12_000, shift=0.2, seed=seed)


def _run(config: Any, records: list[bytes], batch: int) -> tuple[list[Verdict], Any]:
    collect = Collect()
    processor = MonitoringProcessor(config, {}, [collect])
    stream = config.streams[0]
    decoder = StreamDecoder(stream)
    for lo in range(0, len(records), batch):
        processor.process(stream, decoder.decode(records[lo : lo + batch]))
    return collect.verdicts, processor


def _key(verdicts: list[Verdict]) -> list[tuple[Any, ...]]:
    return [(v.statistic, v.window_index, round(v.value, 12), v.state) for v in verdicts]


def _drifted(verdicts: list[Verdict], statistic: str) -> int:
    return sum(v.drifted for v in verdicts if v.statistic == statistic)


def test_a_shadow_that_agrees_raises_nothing_and_one_that_flips_decisions_is_caught() -> None:
    config = _config(SHADOW)
    calm, processor = _run(config, _shadow_records(5000, flip=0.0, seed=1), batch=20_000)
    assert len({v.window_index for v in calm}) == 10
    assert not any(v.drifted for v in calm), [v for v in calm if v.drifted][:3]
    status = processor.status()["comparisons"]["shadow"]
    assert status["pairs"] == 5000 and status["pending"] == 0
    diverged, _ = _run(config, _shadow_records(5000, flip=0.1, seed=2), batch=20_000)
    assert _drifted(diverged, "disagreement") == 10  # every window: ~10 % of decisions differ
    assert _drifted(diverged, "score_difference") == 10
    disagreement = [v for v in diverged if v.statistic == "disagreement"]
    assert all(0.06 < v.value < 0.14 for v in disagreement)
    assert {v.kind for v in diverged} == {"comparison"}
    assert base_labels(disagreement[0])["alertname"] == "ModelDivergence"


def test_a_canary_with_shifted_scores_is_caught_by_the_two_window_test() -> None:
    config = _config(CANARY)
    shifted, _ = _run(config, _canary_records(30_000, shift=0.6, seed=3), batch=20_000)
    ks = [v for v in shifted if v.statistic == "ks"]
    assert len(ks) >= 10 and sum(v.drifted for v in ks) >= len(ks) - 1
    assert all(v.pvalue is not None and v.pvalue < 0.01 for v in ks if v.drifted)


def test_a_canary_like_its_baseline_keeps_the_false_alarm_rate() -> None:
    # 1,000 windows of 200 candidate predictions against about 800 baseline ones at
    # alpha = 0.01: the 95 % binomial upper bound of 10 expected alarms is 16.
    config = _config(CANARY.replace("window: 500", "window: 200"))
    verdicts, _ = _run(config, _canary_records(1_000_000, shift=0.0, seed=4), batch=20_000)
    ks = [v for v in verdicts if v.statistic == "ks"]
    assert len(ks) >= 990
    upper = stats.binom.ppf(0.95, len(ks), 0.01)
    assert _drifted(ks, "ks") <= upper, (_drifted(ks, "ks"), upper)


def test_the_limits_match_their_distributions() -> None:
    # The KS limit is the asymptotic critical value: scipy's distribution puts at most alpha
    # beyond it at these sizes (conservative); the share limit bounds a simulated tail.
    for n, m in [(200, 800), (500, 500), (1000, 4000)]:
        d = ks_limit(n, m, 0.01)
        assert stats.kstwobign.sf(d * math.sqrt(n * m / (n + m))) == pytest.approx(0.01, rel=1e-6)
    rng = np.random.default_rng(5)
    p = np.array([0.5, 0.3, 0.2])
    a = rng.multinomial(300, p, size=20_000) / 300
    b = rng.multinomial(700, p, size=20_000) / 700
    over = np.mean(np.max(np.abs(a - b), axis=1) > share_limit(300, 700, 3, 0.01))
    assert over <= 0.01


def test_canary_labels_are_compared_by_their_shares() -> None:
    rng = np.random.default_rng(6)
    records = []
    for i in range(25_000):
        canary = rng.random() < 0.25
        p_fraud = 0.3 if canary else 0.1
        label = "fraud" if rng.random() < p_fraud else "ok"
        doc = {"id": f"r{i}", "v": "v4" if canary else "v3", "score": label}
        records.append(json.dumps(doc).encode())
    verdicts, _ = _run(_config(CANARY), records, batch=20_000)
    linf = [v for v in verdicts if v.statistic == "linf"]
    assert len(linf) >= 10 and all(v.drifted for v in linf)


@pytest.mark.parametrize("spec", [SHADOW, CANARY])
def test_the_verdicts_do_not_depend_on_batching(spec: str) -> None:
    config = _config(spec)
    records = _records(spec, seed=7)
    expected = _key(_run(config, records, batch=20_000)[0])
    assert expected
    for batch in (1, 100):
        assert _key(_run(config, records, batch=batch)[0]) == expected, batch


@pytest.mark.parametrize("spec", [SHADOW, CANARY])
def test_a_restore_mid_window_gives_the_uninterrupted_verdicts(spec: str) -> None:
    config = _config(spec)
    records = _records(spec, seed=8)
    expected = _key(_run(config, records, batch=20_000)[0])
    stream = config.streams[0]
    decoder = StreamDecoder(stream)
    cut = len(records) // 2 + 3
    collect = Collect()
    first = MonitoringProcessor(config, {}, [collect])
    first.process(stream, decoder.decode(records[:cut]))
    meta, arrays = first.snapshot()
    second = MonitoringProcessor(config, {}, [collect])
    second.restore(json.loads(json.dumps(meta)), arrays)
    second.process(stream, decoder.decode(records[cut:]))
    assert _key(collect.verdicts) == expected
    epochs = {v.window_epoch for v in collect.verdicts}
    assert len(epochs) == 1  # the same run of windows, continued


def test_shadow_predictions_without_a_pair_expire_and_are_bounded() -> None:
    config = _config(SHADOW.replace("window: 500", "window: 500, ttl: 30s, max_pending: 4"))
    clock = [0.0]
    processor = MonitoringProcessor(config, {}, [Collect()], clock=lambda: clock[0])
    stream = config.streams[0]
    decoder = StreamDecoder(stream)
    docs = [{"id": f"r{i}", "v": "v3", "score": 0.1} for i in range(6)]
    docs.append({"id": "r0", "v": "v3", "score": 0.2})  # r0 was evicted: waits again
    docs.append({"id": "r5", "v": "v3", "score": 0.2})  # a second baseline for r5: duplicate
    processor.process(stream, decoder.decode([json.dumps(d).encode() for d in docs]))
    status = processor.status()["comparisons"]["shadow"]
    assert status["pending"] == 4 and status["evicted"] == 3 and status["duplicates"] == 1
    clock[0] = 31.0
    processor.tick()
    status = processor.status()["comparisons"]["shadow"]
    assert status["pending"] == 0 and status["expired"] == 4


def test_a_comparison_is_checked_at_start_up() -> None:
    with pytest.raises(ConfigError, match="same predictions"):
        _config("{name: c, baseline: {stream: p}, candidate: {stream: p}}")
    with pytest.raises(ConfigError, match=r"candidate\.stream: no stream named 'q'"):
        _config("{name: c, baseline: {stream: p}, candidate: {stream: q}}")
    with pytest.raises(ConfigError, match=r"maps no fields\.model$"):
        _config("{name: c, baseline: {stream: p}, candidate: {stream: p, model: m2}}")


@settings(max_examples=150)
@given(
    docs=st.lists(
        st.fixed_dictionaries(
            {"v": st.sampled_from(["v3", "v4"])},
            optional={
                "id": JSON_VALUES | st.sampled_from(["a", "b"]),
                "ts": JSON_VALUES,
                "score": JSON_VALUES,
            },
        ),
        max_size=40,
    ),
    spec=st.sampled_from([SHADOW, CANARY]),
)
def test_any_json_as_a_prediction_or_id_is_handled(docs: list[Any], spec: str) -> None:
    config = _config(spec.replace("window: 500", "window: 10"))
    processor = MonitoringProcessor(config, {}, [Collect()])
    stream = config.streams[0]
    batch = StreamDecoder(stream).decode([json.dumps(d).encode() for d in docs])
    processor.process(stream, batch)
    meta, arrays = processor.snapshot()
    MonitoringProcessor(config, {}, [Collect()]).restore(json.loads(json.dumps(meta)), arrays)
    for v in processor.status()["comparisons"].values():
        assert v["baseline"] + v["candidate"] <= len(docs)
        assert all(s["state"] in {x.value for x in State} for s in v["last"].values())


def test_a_comparison_no_rule_alerts_on_is_pointed_out() -> None:
    from driftd.config.advice import unalerted

    text = """
kafka: {bootstrap_servers: ["127.0.0.1:9"], group_id: g}
streams:
  - name: p
    topic: t
    fields: {id: id, model_version: v, prediction: score}
comparisons:
  - name: shadow
    baseline: {stream: p, model_version: v3}
    candidate: {stream: p, model_version: v4}
alerting:
  rules: [{name: r, matchers: ['alertname="DataDrift"']}]
  route: {receiver: hook}
  receivers: [{name: hook, type: webhook, url: "http://127.0.0.1:9/h"}]
"""
    lines = unalerted(parse_config(text, env={}))
    assert any("ModelDivergence verdicts of comparison 'shadow'" in line for line in lines)
    fixed = text.replace('alertname="DataDrift"', 'alertname=~"DataDrift|ModelDivergence"')
    assert unalerted(parse_config(fixed, env={})) == []
