"""Config advice: verdict kinds that no alerting rule can turn into an alert."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftd.cli import main
from driftd.config import parse_config
from driftd.config.advice import unalerted

PROFILE = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"


def _config(rules: str, concept: str = "", tmp: Path = Path("/tmp")) -> str:
    return f"""
kafka: {{bootstrap_servers: ["127.0.0.1:9092"]}}
streams:
  - name: predictions
    topic: preds
    fields: {{id: request_id, timestamp: ts, features: {{amount: features.amount}},
              prediction: score}}
  - name: labels
    topic: labels
    fields: {{id: request_id, label: label}}
monitors:
  - name: fraud
    streams: [predictions, labels]
    reference: {PROFILE}
    features: [amount]
    {concept}
alerting:
  outbox_dir: {tmp / "outbox"}
  {rules}
  route: {{receiver: hook}}
  receivers: [{{name: hook, type: webhook, url: "http://127.0.0.1:9/h"}}]
"""


def test_default_rule_covers_every_kind() -> None:
    concept = "concept: {detectors: [{type: adwin}]}"
    assert unalerted(parse_config(_config("", concept), env={})) == []


def test_kinds_left_out_by_the_rules_are_named() -> None:
    concept = "concept: {detectors: [{type: adwin}]}"
    rules = "rules: [{name: d, matchers: ['alertname=~\"DataDrift|PredictionDrift\"']}]"
    lines = unalerted(parse_config(_config(rules, concept), env={}))
    assert [line.split(" verdicts")[0].rsplit(" ", 1)[-1] for line in lines] == [
        "DataQuality",
        "ConceptDrift",
    ]
    assert all("monitor 'fraud'" in line for line in lines)


def test_rules_for_other_monitors_or_only_some_features() -> None:
    other = "rules: [{name: d, matchers: ['monitor=\"churn\"']}]"
    assert len(unalerted(parse_config(_config(other), env={}))) == 3  # data, prediction, schema
    # A rule on some features may fire for this monitor: no warning.
    some = "rules: [{name: d, matchers: ['feature=\"amount\"']}]"
    assert unalerted(parse_config(_config(some), env={})) == []


def test_check_config_prints_them_and_still_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "driftd.yaml"
    rules = "rules: [{name: d, matchers: ['alertname=\"DataDrift\"']}]"
    cfg.write_text(_config(rules, tmp=tmp_path))
    assert main(["check-config", "-c", str(cfg)]) == 0
    captured = capsys.readouterr()
    assert "warning: alerting.rules: no rule matches PredictionDrift verdicts" in captured.err
    assert "ok (2 stream(s), 1 monitor(s))" in captured.out
