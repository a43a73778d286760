"""CBPE: estimated performance from calibrated scores, against a slow twin and realized labels."""

from __future__ import annotations

import io
import json
import re
from itertools import product
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftd.concept.estimate import estimate, expected_auc
from driftd.config import parse_config
from driftd.errors import ConfigError
from driftd.replay import replay
from driftd.synthetic import events

PROFILE = Path(__file__).resolve().parents[2] / "data" / "fraud.profile"


def _slow_expected_auc(p: np.ndarray) -> float:
    """Every ordered pair (i positive, j negative), i != j, by its probability."""
    num = den = 0.0
    for i, j in product(range(p.size), repeat=2):
        if i == j:
            continue
        w = p[i] * (1 - p[j])
        den += w
        num += w * (1.0 if p[i] > p[j] else 0.5 if p[i] == p[j] else 0.0)
    return num / den if den > 0 else float("nan")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.7, 0.9, 1.0]) | st.floats(1e-9, 1),
                min_size=2, max_size=12))  # fmt: skip
def test_expected_auc_equals_its_slow_twin(scores: list[float]) -> None:
    p = np.asarray(scores)
    fast, slow = expected_auc(p), _slow_expected_auc(p)
    assert (np.isnan(fast) and np.isnan(slow)) or fast == pytest.approx(slow, abs=1e-12)


def test_estimates_are_what_labels_drawn_from_the_scores_give_on_average() -> None:
    rng = np.random.default_rng(3)
    p = rng.beta(2, 5, size=2000)
    metrics = ("accuracy", "precision", "recall", "f1", "auc")
    est, band = estimate(metrics, p, 0.5)
    predicted = p >= 0.5
    realized = {m: [] for m in metrics}
    inside = 0
    for _ in range(2000):
        y = rng.random(p.size) < p
        tp = np.sum(predicted & y)
        fp = np.sum(predicted & ~y)
        fn = np.sum(~predicted & y)
        acc = np.mean(predicted == y)
        realized["accuracy"].append(acc)
        realized["precision"].append(tp / (tp + fp))
        realized["recall"].append(tp / (tp + fn))
        realized["f1"].append(2 * tp / (2 * tp + fp + fn))
        order = np.argsort(p)
        ranks = np.empty(p.size)
        ranks[order] = np.arange(1, p.size + 1)
        n_pos = y.sum()
        realized["auc"].append(
            (ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (p.size - n_pos))
        )
        inside += abs(acc - est["accuracy"]) <= band
    for m in metrics:
        assert est[m] == pytest.approx(np.mean(realized[m]), abs=0.004), m
    # The band holds the realized accuracy about 95 % of the time.
    assert 0.93 <= inside / 2000 <= 0.97, inside / 2000


def _config(tmp: Path) -> object:
    return parse_config(
        f"""
kafka: {{bootstrap_servers: ["k:1"]}}
streams:
  - name: p
    topic: t
    fields: {{id: request_id, timestamp: ts, prediction: score, label: label,
              features: {{amount: features.amount}}}}
monitors:
  - name: fraud
    streams: [p]
    reference: {PROFILE}
    features: [amount]
    window: {{type: count, size: 2000}}
    concept:
      decision_threshold: 0.5
      detectors: []
      performance: {{window: 2000, metrics: [accuracy], estimate: true,
                     max_drop: {{accuracy: {{absolute: 0.05}}}}}}
""",
        env={},
    )


def test_on_a_covariate_shift_the_estimate_tracks_the_realized_accuracy(tmp_path: Path) -> None:
    """The synthetic model is calibrated (labels drawn from the risk its score reports); the
    shift moves amounts, hence scores and accuracy, and leaves the concept as it was."""
    rows = [*events(16_000, seed=1), *events(16_000, seed=2, shift=1.0, first_id=16_000)]
    lines = tmp_path / "in.jsonl"
    lines.write_bytes(b"".join(msgspec.json.encode(r) + b"\n" for r in rows))
    out = tmp_path / "v.jsonl"
    page = tmp_path / "report.html"
    replay(_config(tmp_path), lines, output=out, report=page, out=io.StringIO())  # type: ignore[arg-type]
    docs = [json.loads(x) for x in out.read_text().splitlines()]
    est = {d["window"]["index"]: d for d in docs if d["statistic"] == "estimated_accuracy"}
    real = {d["window"]["index"]: d for d in docs if d["statistic"] == "accuracy"}
    assert sorted(est) == sorted(real) == list(range(16))
    within = 0
    for i in range(16):
        band = float(re.search(r"± ([0-9.e-]+)", est[i]["detail"]).group(1))  # type: ignore[union-attr]
        within += abs(est[i]["value"] - real[i]["value"]) <= band
        # Reported side by side: the realized verdict names the estimate and its error.
        assert f"estimated {est[i]['value']:.4g}" in real[i]["detail"]
    assert within >= 14, within
    before = np.mean([est[i]["value"] for i in range(8)])
    after = np.mean([est[i]["value"] for i in range(8, 16)])
    assert abs(after - before) > 0.02, "the shift moved the accuracy, and the estimate saw it"
    # The report draws the estimate on the realized accuracy's chart, not on one of its own.
    html = page.read_text(encoding="utf-8")
    concept = html.split("Concept drift: model performance and detectors")[1]
    assert concept.count('class="driftd-chart"') == 1
    assert '"name":"estimated_accuracy"' in concept and '"dash":"dot"' in concept


def test_estimate_needs_scores() -> None:
    with pytest.raises(ConfigError, match="estimate needs task classification"):
        parse_config(
            f"""
kafka: {{bootstrap_servers: ["k:1"]}}
streams: [{{name: p, topic: t, fields: {{id: i, prediction: s, label: y,
            features: {{amount: a}}}}}}]
monitors: [{{name: m, streams: [p], reference: {PROFILE}, features: [amount],
             concept: {{decision_threshold: null, performance: {{estimate: true}}}}}}]
""",
            env={},
        )


def test_a_restart_mid_window_gives_the_same_estimates(tmp_path: Path) -> None:
    from driftd.concept import ConceptMonitor
    from driftd.concept.config import ConceptConfig

    drop = {"absolute": 0.05}
    performance = {
        "window": 1000,
        "metrics": ["accuracy", "auc"],
        "estimate": True,
        "max_drop": {"accuracy": drop, "auc": drop},
    }
    config = ConceptConfig.model_validate({"detectors": [], "performance": performance})
    reference = {"accuracy": 0.8, "auc": 0.9}
    rng = np.random.default_rng(9)
    scores = rng.random(2500)
    ids = [f"r{i}" for i in range(2500)]
    times = np.arange(2500, dtype=np.float64)
    preds = (scores >= 0.5).astype(int)

    def estimated(verdicts: list[Any]) -> list[tuple[int, str, float]]:
        return [
            (v.window_index, v.statistic, v.value)
            for v in verdicts
            if v.statistic.startswith("estimated_")
        ]

    whole = ConceptMonitor("m", config, reference=reference)
    straight = estimated(whole.observe_predictions(ids, preds, scores, times))
    first = ConceptMonitor("m", config, reference=reference)
    cut = 1500
    got = estimated(first.observe_predictions(ids[:cut], preds[:cut], scores[:cut], times[:cut]))
    first.save(tmp_path)
    second = ConceptMonitor("m", config, reference=reference)
    assert second.restore(tmp_path)
    rest = second.observe_predictions(ids[cut:], preds[cut:], scores[cut:], times[cut:])
    got += estimated(rest)
    assert straight == got
    assert [(w, s) for w, s, _ in got] == [
        (0, "estimated_accuracy"),
        (0, "estimated_auc"),
        (1, "estimated_accuracy"),
        (1, "estimated_auc"),
    ]
