"""SIGHUP reload on a running daemon: a good config is applied, a bad one rejected and kept."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.helpers import wait_until
from tests.integration.test_consume import _free_port, _get
from tests.kafka.client import driftd_command

pytestmark = pytest.mark.integration

PROFILE = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"


def _config(bootstrap: str, topic: str, port: int, size: int, extra: str = "") -> str:
    return f"""
kafka:
  bootstrap_servers: ["{bootstrap}"]
  group_id: g-{topic}
  session_timeout: 6s
  heartbeat_interval: 1s
http: {{host: 127.0.0.1, port: {port}}}
streams:
  - name: predictions
    topic: {topic}
    fields:
      features: {{amount: features.amount, country: features.country}}
monitors:
  - name: fraud
    streams: [predictions]
    reference: {PROFILE}
    features: [amount, country]
    window: {{type: count, size: {size}}}
{extra}"""


def _metric(port: int, name: str) -> str | None:
    for line in _get(f"http://127.0.0.1:{port}/metrics")[1].splitlines():
        if line.startswith(name + " "):
            return line.split()[1]
    return None


def test_sighup_applies_good_config_and_keeps_old_on_bad(
    kafka_bootstrap: str, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    topic = make_topic("preds")
    port = _free_port()
    cfg = tmp_path / "driftd.yaml"
    cfg.write_text(_config(kafka_bootstrap, topic, port, 1000))
    proc = subprocess.Popen(
        [*driftd_command(), "run", "-c", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )
    try:
        wait_until(lambda: _get(f"http://127.0.0.1:{port}/readyz")[0] == 200, 60, "ready")
        assert _metric(port, "driftd_config_last_reload_successful") == "1.0"

        cfg.write_text(_config(kafka_bootstrap, topic, port, 1000, "    window_size: oops\n"))
        proc.send_signal(signal.SIGHUP)
        wait_until(
            lambda: _metric(port, "driftd_config_last_reload_successful") == "0.0",
            20,
            "bad reload rejected",
        )
        assert proc.poll() is None  # still running on the old config
        assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200

        cfg.write_text(_config(kafka_bootstrap, topic, port, 2000))
        proc.send_signal(signal.SIGHUP)
        wait_until(
            lambda: _metric(port, "driftd_config_last_reload_successful") == "1.0",
            30,
            "good reload applied",
        )
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = out.decode()
    assert proc.returncode == 0, text
    assert "config reload rejected, keeping the running config" in text
    assert "monitors[0].window_size: unknown key" in text
    assert "config reloaded: 1 stream(s), 1 monitor(s)" in text
