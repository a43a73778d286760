"""One stream, any batch size: the same verdicts and the same notifications.

A poll batch can hold many windows (20,000 records, windows of 500). Alerting must still see
the windows one at a time in event-time order; before, a batch's concept verdicts reached it
after all its data windows and as one window, so a concept alert that fired and resolved
inside one batch was never notified.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from driftd.config import parse_config
from driftd.replay import replay
from driftd.synthetic import events

PROFILE = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"


def _config(tmp: Path) -> Any:
    return parse_config(
        f"""
kafka: {{bootstrap_servers: ["k:1"]}}
streams:
  - name: predictions
    topic: preds
    fields:
      id: request_id
      timestamp: ts
      prediction: score
      label: label
      features: {{amount: features.amount, age: features.age, country: features.country}}
monitors:
  - name: fraud
    streams: [predictions]
    reference: {PROFILE}
    features: [amount, age, country]
    window: {{type: count, size: 500}}
    concept:
      decision_threshold: 0.5
      detectors: [{{type: adwin}}]
      performance: {{window: 500, metrics: [accuracy], max_drop: {{accuracy: {{absolute: 0.05}}}}}}
alerting:
  outbox_dir: {tmp / "outbox"}
  rules:
    - {{name: drift, matchers: ['alertname=~"DataDrift"'], severity: warning, for_windows: 2}}
    - {{name: concept, matchers: ['alertname="ConceptDrift"'], severity: critical}}
  route: {{receiver: hook, group_by: [alertname, monitor], group_wait: 2s,
           group_interval: 10s}}
  receivers:
    - {{name: hook, type: webhook, url: "http://127.0.0.1:9/hook"}}
""",
        env={},
    )


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 10 ms apart: calm, a covariate shift, a short concept flip (about two concept windows,
    # so its alert fires and resolves within one large batch), calm again.
    parts = [
        events(2500, seed=11),
        events(1500, seed=12, shift=1.0, first_id=2500),
        events(1000, seed=13, flip=True, first_id=4000),
        events(3000, seed=14, first_id=5000),
    ]
    path = tmp_path_factory.mktemp("batches") / "in.jsonl"
    path.write_bytes(b"".join(msgspec.json.encode(e) + b"\n" for p in parts for e in p))
    return path


def _run(stream: Path, tmp: Path, batch: int) -> tuple[list[Any], list[Any]]:
    out = tmp / f"v{batch}.jsonl"
    notes = tmp / f"n{batch}.jsonl"
    replay(
        _config(tmp), stream, output=out, notifications=notes, batch_size=batch,
        out=io.StringIO(),
    )  # fmt: skip
    verdicts = sorted(
        (d["monitor"], d["kind"], d["feature"], d["statistic"], d["window"]["index"],
         d["state"], d["value"])
        for d in map(json.loads, out.read_text().splitlines())
    )  # fmt: skip
    sent = []
    for note in map(json.loads, notes.read_text().splitlines()):
        sent.append(
            (note["receiver"], note["group_key"],
             sorted((a["fingerprint"], a["status"], a["starts_at"], a["ends_at"])
                    for a in note["alerts"]))
        )  # fmt: skip
    return verdicts, sent


def test_batches_of_1_100_and_20000_give_the_same_verdicts_and_notifications(
    stream: Path, tmp_path: Path
) -> None:
    big = _run(stream, tmp_path, 20_000)
    names = [a for _, key, _ in big[1] for a in [key]]
    assert any("ConceptDrift" in k for k in names), "the flip pages"
    assert any("DataDrift" in k for k in names), "the shift pages"
    for batch in (100, 1):
        verdicts, sent = _run(stream, tmp_path, batch)
        assert verdicts == big[0], f"verdicts differ at batch {batch}"
        assert sent == big[1], f"notifications differ at batch {batch}"
