"""One stream carrying predictions and labels; one topic carrying several models' records."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import msgspec

from driftd.config import parse_config
from driftd.replay import replay
from driftd.synthetic import events

PROFILE = Path(__file__).resolve().parents[2] / "data" / "fraud.profile"


def _config(model: str | None = None) -> Any:
    only = f"model: {model}" if model else ""
    return parse_config(
        f"""
kafka: {{bootstrap_servers: ["127.0.0.1:9"], group_id: g}}
streams:
  - name: both
    topic: t
    fields:
      id: request_id
      timestamp: ts
      model: model
      prediction: score
      label: label
      features: {{amount: features.amount, age: features.age, country: features.country}}
monitors:
  - name: m
    {only}
    streams: [both]
    reference: {PROFILE}
    features: [amount, age, country]
    window: {{type: count, size: 1000}}
    concept:
      decision_threshold: 0.5
      performance: {{window: 500, metrics: [accuracy], max_drop: {{accuracy: {{absolute: 0.05}}}}}}
      detectors: []
""",
        env={},
    )


def _run(tmp_path: Path, records: list[dict[str, Any]], model: str | None = None) -> list[Any]:
    lines = tmp_path / "in.jsonl"
    lines.write_bytes(b"\n".join(msgspec.json.encode(r) for r in records) + b"\n")
    out = tmp_path / "verdicts.jsonl"
    replay(_config(model), lines, output=out, out=io.StringIO())
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_label_only_records_on_the_prediction_stream_are_not_data_events(tmp_path: Path) -> None:
    records: list[dict[str, Any]] = []
    for e in events(10_000, seed=3):
        label = {"request_id": e["request_id"], "ts": e["ts"], "label": e.pop("label")}
        records += [e, label]
    verdicts = _run(tmp_path, records)
    data = [v for v in verdicts if v["kind"] == "data"]
    windows = {v["window"]["index"] for v in data}
    assert len(windows) == 10  # 10,000 predictions in windows of 1,000, not 20 half-empty ones
    assert {v["window"]["size"] for v in data} == {1000}
    schema = [v for v in verdicts if v["kind"] == "schema" and v["state"] == "drift"]
    assert schema == [], schema[:2]  # no feature reads as missing
    concept = [v for v in verdicts if v["kind"] == "concept"]
    assert concept, "the labels still complete the pairs"


def test_the_model_filter_applies_to_the_concept_path(tmp_path: Path) -> None:
    mine = list(events(2000, seed=4))
    other = [
        {**e, "model": "other", "request_id": f"o{i}", "score": 1.0 - e["score"]}
        for i, e in enumerate(events(3000, seed=5))
    ]
    records = sorted(mine + other, key=lambda r: r["ts"])
    verdicts = _run(tmp_path, records, model="fraud-v3")
    performance = [v for v in verdicts if v["kind"] == "concept" and v["statistic"] == "accuracy"]
    # Windows of 500 pairs: fraud-v3's 2,000 pairs make 4, the other model's 3,000 none.
    assert len({v["window"]["index"] for v in performance}) == 4, performance
    assert sum(v["window"]["size"] for v in performance) == 2000
