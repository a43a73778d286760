"""A mistyped field path: the feature reads as missing everywhere, and the log names the path."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import msgspec
import pytest

from driftd.config import parse_config
from driftd.replay import replay
from driftd.synthetic import events

PROFILE = Path(__file__).resolve().parents[2] / "data" / "fraud.profile"


def test_a_feature_missing_from_every_event_is_named_with_its_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = parse_config(
        f"""
kafka: {{bootstrap_servers: ["127.0.0.1:9"], group_id: g}}
streams:
  - name: preds
    topic: t
    fields:
      id: request_id
      prediction: score
      features: {{amount: features.amount, age: features.aeg}}
monitors:
  - name: m
    streams: [preds]
    reference: {PROFILE}
    features: [amount, age]
    window: {{type: count, size: 1000}}
""",
        env={},
    )
    lines = tmp_path / "in.jsonl"
    lines.write_bytes(b"\n".join(msgspec.json.encode(e) for e in events(3000, seed=1)) + b"\n")
    with caplog.at_level(logging.WARNING, logger="driftd.monitoring.monitor"):
        replay(config, lines, output=tmp_path / "out.jsonl", out=io.StringIO())
    warnings = [r.getMessage() for r in caplog.records if "missing from all" in r.getMessage()]
    # Once, for the mistyped path only (amount and the prediction are present).
    assert warnings == [
        "monitor m: age was missing from all 1000 events of window #0: check "
        "streams[preds].fields.features.age = 'features.aeg'"
    ]
