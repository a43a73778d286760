"""`driftd replay` as a user meets it: a useless input is an error, not "no drift"."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from driftd.cli import main
from driftd.synthetic import events

PROFILE = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"


def _config(tmp: Path, unit: str = "ms", reference: Path = PROFILE) -> Path:
    cfg = tmp / "driftd.yaml"
    cfg.write_text(
        f"""
kafka: {{bootstrap_servers: ["k:1"]}}
streams:
  - {{name: p, topic: t, timestamp_unit: {unit},
      fields: {{id: request_id, timestamp: ts, features: {{amount: features.amount}}}}}}
monitors: [{{name: m, streams: [p], reference: {reference}, features: [amount]}}]
"""
    )
    return cfg


def _input(tmp: Path) -> Path:
    lines = tmp / "in.jsonl"
    lines.write_bytes(b"".join(msgspec.json.encode(e) + b"\n" for e in events(1500, seed=1)))
    return lines


def test_every_record_refused_exits_1_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The events carry milliseconds; a config saying microseconds puts them in 1970.
    code = main(["replay", "-c", str(_config(tmp_path, "us")), "--input", str(_input(tmp_path))])
    captured = capsys.readouterr()
    assert code == 1
    assert "1,500 record(s) could not be decoded (timestamp_out_of_range 1,500)" in captured.out
    assert "no record of the input could be used" in captured.err
    assert main(["replay", "-c", str(_config(tmp_path)), "--input", str(_input(tmp_path))]) == 0


def test_a_missing_input_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["replay", "-c", str(_config(tmp_path)), "--input", str(tmp_path / "nope")])
    assert code == 2
    assert "--input" in capsys.readouterr().err


def test_a_missing_profile_names_its_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path, reference=tmp_path / "missing.profile")
    assert main(["check-config", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "monitors[0].reference (m): reference profile" in err
    assert "driftd reference build" in err
