"""Reports and the live page opened in real headless Chromium: every chart drawn with data.

Three pages: the report of ``driftd demo``'s stream, the report of a replay, and the live page
of a running ``driftd run`` on the real broker. Each is loaded with no network (assets must be
inline or served by the daemon), captured as a screenshot (kept next to the test's files) and
checked through the DOM: every chart has plotly's SVG surfaces and drawn marks, as many charts
as the page announced.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from driftd.config import parse_config
from driftd.replay import replay
from driftd.synthetic import events
from tests.browser import Browser, charts, chromium, looks_like_a_page
from tests.integration.test_consume import _free_port
from tests.integration.test_faults import DaemonProcess, Producer, Why, _encoded

pytestmark = pytest.mark.integration

PROFILE = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"


@pytest.fixture(scope="module")
def browser() -> Browser:
    binary = chromium()
    if binary is None:
        pytest.skip("no chromium (scripts/tools.sh installs the Debian package)")
    return Browser(binary)


def _check_page(browser: Browser, url: str, shot: Path, *, at_least: int) -> str:
    dom = browser.dom(url)
    announced = re.search(r"window\.driftdCharts = (\d+);", dom)
    assert announced is not None, dom[:2000]
    drawn = charts(dom)
    assert len(drawn) == int(announced.group(1)) >= at_least, (len(drawn), at_least)
    for i, chart in enumerate(drawn):
        assert chart.points > 0, f"chart {i} has no data"
        assert chart.surfaces >= 1, f"chart {i} was not drawn"
        assert chart.marks >= 1, f"chart {i} is an empty plot"
    assert looks_like_a_page(browser.screenshot(url, shot)), shot
    return dom


def test_the_report_of_the_demo_stream(browser: Browser, tmp_path: Path) -> None:
    report = tmp_path / "demo.html"
    done = subprocess.run(
        [sys.executable, "-m", "driftd", "demo", "--port", "0", "--rate", "200000",
         "--report", str(report)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    dom = _check_page(browser, report.as_uri(), tmp_path / "demo.png", at_least=20)
    # The summary names the injected covariate shift and the alerts it raised.
    assert re.search(r"<td>amount</td><td>ks</td>", dom)
    assert "DataDrift monitor=fraud feature=amount statistic=ks" in dom
    assert "Worst windows: reference vs live" in dom
    assert "Concept drift: model performance and detectors" in dom


def test_the_report_of_a_replay(browser: Browser, tmp_path: Path) -> None:
    rows = [*events(4000, seed=1), *events(3000, seed=2, shift=1.0, first_id=4000),
            *events(3000, seed=3, first_id=7000)]  # fmt: skip
    for r in rows[8000:8200]:
        r["features"]["age"] = "unknown"
    lines = tmp_path / "in.jsonl"
    lines.write_bytes(b"".join(msgspec.json.encode(r) + b"\n" for r in rows))
    config = parse_config(
        f"""
kafka: {{bootstrap_servers: ["k:1"]}}
streams:
  - name: p
    topic: t
    fields:
      id: request_id
      timestamp: ts
      prediction: score
      features: {{amount: features.amount, age: features.age, country: features.country}}
monitors:
  - {{name: fraud, streams: [p], reference: {PROFILE}, features: [amount, age, country],
      window: {{type: count, size: 1000}}}}
alerting:
  outbox_dir: {tmp_path / "outbox"}
  rules: [{{name: d, matchers: ['alertname="DataDrift"'], severity: critical, for_windows: 2}}]
  route: {{receiver: oncall, group_wait: 1s}}
  receivers: [{{name: oncall, type: webhook, url: "http://127.0.0.1:9/x"}}]
""",
        env={},
    )
    report = tmp_path / "replay.html"
    replay(config, lines, report=report, out=io.StringIO())
    dom = _check_page(browser, report.as_uri(), tmp_path / "replay.png", at_least=10)
    assert "<td>oncall</td>" in dom, "the alerts say to whom"
    assert "Schema anomalies per window" in dom


def test_the_live_page_of_a_running_daemon(
    browser: Browser, kafka_bootstrap: str, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    topic = make_topic("live")
    port = _free_port()
    cfg = tmp_path / "driftd.yaml"
    cfg.write_text(
        f"""
kafka:
  bootstrap_servers: ["{kafka_bootstrap}"]
  group_id: g-{topic}
  poll_timeout: 200ms
http: {{host: 127.0.0.1, port: {port}}}
streams:
  - name: predictions
    topic: {topic}
    fields:
      id: request_id
      timestamp: ts
      prediction: score
      features: {{amount: features.amount, age: features.age, country: features.country}}
monitors:
  - {{name: fraud, streams: [predictions], reference: {PROFILE},
      features: [amount, age, country], window: {{type: count, size: 1000}}}}
"""
    )
    daemon = DaemonProcess(cfg, port, tmp_path / "daemon.log")
    why = Why([daemon])
    try:
        why.wait(daemon.ready, 90, "ready")
        values = [*events(4000, seed=21), *events(3000, seed=22, shift=1.0, first_id=4000)]
        Producer(kafka_bootstrap, topic, _encoded(values), rate=20_000).join()
        why.wait(lambda: daemon.events("predictions") == len(values), 60, "all events read")
        url = f"http://127.0.0.1:{port}/"
        started = time.monotonic()
        dom = _check_page(browser, url, tmp_path / "live.png", at_least=8)
        assert time.monotonic() - started < 60
        assert "driftd · live" in dom
        assert re.search(r"<td>amount</td><td>ks</td><td>#4 ·", dom), "the shift, live"
        assert daemon.terminate() == 0
    finally:
        daemon.close()
    if os.environ.get("DRIFTD_KEEP_SCREENSHOTS"):
        print(f"screenshots in {tmp_path}")
