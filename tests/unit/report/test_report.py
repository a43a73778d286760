"""Reports: verdicts and notifications become series, episodes and alert spans, and one page."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from driftd.cli import main
from driftd.config import parse_config
from driftd.replay import replay
from driftd.report.data import gather, read_jsonl
from driftd.synthetic import events

PROFILE = Path(__file__).resolve().parents[2] / "data" / "fraud.profile"


def _doc(index: int, state: str, value: float, **kw: Any) -> dict[str, Any]:
    return {
        "monitor": kw.get("monitor", "m"),
        "segment": kw.get("segment", {}),
        "feature": kw.get("feature", "amount"),
        "statistic": kw.get("statistic", "ks"),
        "kind": kw.get("kind", "data"),
        "state": state,
        "value": value,
        "limit": 0.1,
        "pvalue": None,
        "window": {"index": index, "size": 100, "start": 1000.0 + index, "end": 1001.0 + index},
        "detail": "",
        "histogram": kw.get("histogram", [50, 50]),
    }


def test_series_episodes_and_the_worst_window() -> None:
    states = ["ok", "drift", "drift", "ok", "insufficient_data", "drift", "ok"]
    values = [0.05, 0.3, 0.5, 0.05, None, 0.2, 0.01]
    docs = [_doc(i, s, v) for i, (s, v) in enumerate(zip(states, values, strict=True))]
    docs.reverse()  # order of arrival does not matter
    data = gather([*docs, {"not": "a verdict"}, {"window": None}])
    (series,) = data.series
    assert [p.index for p in series.points] == list(range(7))
    assert [(e.first.index, e.last.index, e.windows) for e in series.episodes()] == [
        (1, 2, 2),
        (5, 5, 1),
    ]
    worst = series.worst()
    assert worst is not None and worst.index == 2 and worst.ratio == pytest.approx(5.0)
    assert data.skipped == 2


def test_alert_spans_follow_fire_resolve_and_refire() -> None:
    def note(receiver: str, status: str, start: float, end: float | None) -> dict[str, Any]:
        alert = {"fingerprint": "f1", "labels": {"alertname": "DataDrift", "monitor": "m"},
                 "status": status, "starts_at": start, "ends_at": end}  # fmt: skip
        return {"receiver": receiver, "alerts": [alert]}

    data = gather(
        [],
        [
            note("slack", "firing", 10.0, None),
            note("pagerduty", "firing", 10.0, None),
            note("slack", "resolved", 10.0, 50.0),
            note("slack", "firing", 80.0, None),
        ],
    )
    first, second = data.alerts
    assert (first.start, first.end, first.receivers) == (10.0, 50.0, ("slack", "pagerduty"))
    assert (second.start, second.end) == (80.0, None)
    assert first.name == "DataDrift monitor=m"


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
    window: {{type: count, size: 1000}}
    concept:
      decision_threshold: 0.5
      performance: {{window: 1000, metrics: [accuracy], max_drop: {{accuracy: {{absolute: 0.05}}}}}}
alerting:
  outbox_dir: {tmp / "outbox"}
  rules:
    - {{name: drift, matchers: ['alertname=~"DataDrift"'], severity: critical, for_windows: 2}}
  route: {{receiver: oncall, group_by: [monitor, feature]}}
  receivers:
    - {{name: oncall, type: webhook, url: "http://127.0.0.1:9/hook"}}
""",
        env={},
    )


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A replay of 6 calm, 5 shifted and 5 calm windows with a burst of wrong-typed ages,
    writing verdicts, notifications and the report."""
    tmp = tmp_path_factory.mktemp("report")
    rows = [
        *events(6000, seed=1),
        *events(5000, seed=2, shift=1.0, first_id=6000),
        *events(5000, seed=3, first_id=11000),
    ]
    for r in rows[12_000:12_300]:
        r["features"]["age"] = "unknown"
    lines = tmp / "in.jsonl"
    lines.write_bytes(b"\n".join(msgspec.json.encode(r) for r in rows) + b"\n")
    replay(
        _config(tmp),
        lines,
        output=tmp / "verdicts.jsonl",
        notifications=tmp / "notes.jsonl",
        report=tmp / "report.html",
        out=io.StringIO(),
    )
    return tmp


def test_a_replay_writes_a_self_contained_report(replayed: Path) -> None:
    page = (replayed / "report.html").read_text(encoding="utf-8")
    # Self-contained: plotly.js is inline and nothing is loaded from elsewhere.
    assert "Plotly.newPlot" in page and len(page) > 3_000_000
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"""<link[^>]+href=["']https?:""", page)
    summary = page.split("<h2>Monitor fraud</h2>")[0]
    # What drifted: the shifted features and the score, the schema burst, never age's values.
    for feature, statistic in [("amount", "ks"), ("country", "linf"), ("score", "psi")]:
        assert re.search(rf"<td>{feature}</td><td>{statistic}</td><td>#6 ·", summary), feature
    assert re.search(r"<td>schema</td><td>age</td><td>schema</td>", summary)
    assert not re.search(r"<td>data</td><td>age</td>", summary)
    # Which alerts would have fired, to whom.
    assert "DataDrift monitor=fraud feature=amount statistic=ks" in summary
    assert "<td>oncall</td>" in summary
    charts = re.findall(r'<div class="driftd-chart" data-points="(\d+)">', page)
    # 8 statistics (3 features and the score, 2 each), the worst window of each of the 3 that
    # drifted (amount, country, score), schema, 2 concept (accuracy, adwin).
    assert len(charts) == 14, len(charts)
    assert all(int(n) > 0 for n in charts)
    assert f"window.driftdCharts = {len(charts)};" in page


def test_report_command_redraws_the_same_page_from_the_files(
    replayed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = replayed / "driftd.yaml"
    config.write_text(
        "kafka: {bootstrap_servers: [k:1]}\n"
        "streams: [{name: s, topic: t, fields: {features: {amount: a}}}]\n"
        f"monitors: [{{name: fraud, streams: [s], reference: {PROFILE}, features: [amount]}}]\n"
    )
    out = replayed / "again.html"
    code = main([
        "report", str(replayed / "verdicts.jsonl"), "-o", str(out), "-c", str(config),
        "--notifications", str(replayed / "notes.jsonl"),
    ])  # fmt: skip
    assert code == 0
    assert "report written to" in capsys.readouterr().out
    first = (replayed / "report.html").read_text(encoding="utf-8")
    again = out.read_text(encoding="utf-8")
    pattern = r'<div class="driftd-chart" data-points="(\d+)">'
    assert re.findall(pattern, again) == re.findall(pattern, first)
    # Histograms use the profile's bins: category names, not "bin 3".
    assert '"DE"' in again and "bin 3" not in again
    docs = read_jsonl(replayed / "verdicts.jsonl")
    assert all("histogram" in d for d in docs if d["kind"] in {"data", "prediction"})
    assert sum(json.loads(json.dumps(d))["histogram"][0] >= 0 for d in docs if "histogram" in d)


def test_report_of_a_missing_or_broken_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "r.html")]) == 1
    assert "cannot read" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"monitor": "m"}\nnot json\n')
    assert main(["report", str(bad), "-o", str(tmp_path / "r.html")]) == 1
    assert "bad.jsonl:2: not JSON" in capsys.readouterr().err


def test_the_live_page_keeps_the_recent_windows_and_caches_its_render() -> None:
    from driftd.records import State, Verdict
    from driftd.reference.io import load_profile
    from driftd.report.live import LivePage

    now = [0.0]
    profile = load_profile(PROFILE)
    page = LivePage(lambda: {"fraud": profile}, keep=5, cache_for=5.0, clock=lambda: now[0])
    for i in range(8):
        state = State.DRIFT if i >= 6 else State.OK
        value = 0.3 if i >= 6 else 0.02
        verdict = Verdict("fraud", "amount", "ks", value, 0.07, state, window_index=i,
                          window_end=1e9 + i, histogram=(1,) * 11)  # fmt: skip
        page.publish([verdict])
    docs = page.documents()
    assert [d["window"]["index"] for d in docs] == [3, 4, 5, 6, 7], "the last 5 windows"
    first = page.html()
    assert b'src="/assets/plotly.min.js"' in first and b'http-equiv="refresh"' in first
    assert b"<td>amount</td><td>ks</td><td>#6" in first
    page.publish([Verdict("fraud", "amount", "ks", 0.01, 0.07, State.OK, window_index=8)])
    assert page.html() is first, "cached for 5 s"
    now[0] = 6.0
    assert page.html() is not first
