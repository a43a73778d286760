"""The shipped Prometheus rules pass promtool's checks and their unit tests."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.kafka.broker import free_port
from tests.tools import Prometheus, find

pytestmark = pytest.mark.integration

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


@pytest.fixture
def promtool() -> str:
    binary = find("DRIFTD_TEST_PROMTOOL", "promtool")
    if binary is None:
        pytest.skip("no promtool (scripts/tools.sh installs the prometheus package)")
    return binary


def _run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=RULES, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_rules_are_valid(promtool: str) -> None:
    out = _run(promtool, "check", "rules", "driftd-rules.yml")
    assert "SUCCESS: 16 rules found" in out, out


def test_rules_fire_and_resolve_as_their_unit_tests_say(promtool: str) -> None:
    # driftd-rules.test.yml: data drift pending, firing, resolved; concept drift from the
    # detector counter; down, not ready, outbox backlog, failing notifications, checkpoints,
    # reloads and lag, each at the minute it should fire.
    assert "SUCCESS" in _run(promtool, "test", "rules", "driftd-rules.test.yml")


def test_a_real_prometheus_scraping_driftd_raises_the_drift_alert(tmp_path: Path) -> None:
    """driftd's demo (its real pipeline, a covariate shift from event 24,000) scraped every
    second by a real Prometheus that loads the shipped rules, their ``for:`` shortened from
    1m to 3s so that the test need not wait a minute: DriftdDataDrift goes pending and then
    fires on the drifted feature, and the recording rule sees it."""
    binary = find("DRIFTD_TEST_PROMETHEUS", "prometheus")
    if binary is None:
        pytest.skip("no prometheus (scripts/tools.sh installs the prometheus package)")
    shipped = (RULES / "driftd-rules.yml").read_text(encoding="utf-8")
    assert shipped.count("for: 1m") >= 3
    rules = tmp_path / "driftd-rules.yml"
    rules.write_text(shipped.replace("for: 1m", "for: 3s"), encoding="utf-8")
    port = free_port()
    prom = Prometheus(binary, [f"127.0.0.1:{port}"], [rules]).start()
    log = (tmp_path / "demo.log").open("wb")
    demo = subprocess.Popen(
        [sys.executable, "-m", "driftd", "demo", "--port", str(port), "--rate", "3000"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    seen: set[str] = set()
    recorded = 0.0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and "amount/ks/firing" not in seen:
            for alert in prom.api("/api/v1/alerts")["alerts"]:
                labels = alert["labels"]
                if labels.get("alertname") == "DriftdDataDrift":
                    seen.add(f"{labels['feature']}/{labels['statistic']}/{alert['state']}")
            for sample in prom.api(
                "/api/v1/query?query=monitor_kind:driftd_drift_detected:sum%7Bkind%3D%22data%22%7D"
            )["result"]:
                recorded = max(recorded, float(sample["value"][1]))
            time.sleep(0.5)
    finally:
        if demo.poll() is None:
            demo.terminate()
        demo.wait(30)
        prom.stop()
    assert "amount/ks/pending" in seen, (seen, Path(log.name).read_text()[-2000:])
    assert "amount/ks/firing" in seen, (seen, Path(log.name).read_text()[-2000:])
    # The demo shifts amount and the country mix; age stays as in the reference.
    assert "country/linf/firing" in seen or "country/psi/firing" in seen, seen
    assert not {s for s in seen if s.startswith("age/")}, seen
    assert recorded >= 1
