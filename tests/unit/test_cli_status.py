"""`driftd status` reads a running daemon's /status and /readyz."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from driftd.cli import main
from driftd.health import Health
from driftd.http import HttpServer

STATUS = {
    "events": {"predictions": 12000},
    "monitors": {
        "fraud": {
            "all": {
                "pending_events": 500,
                "windows": 5,
                "latest": [
                    {
                        "feature": "amount",
                        "statistic": "ks",
                        "value": 0.31,
                        "limit": 0.05,
                        "state": "drift",
                    },
                    {
                        "feature": "age",
                        "statistic": "ks",
                        "value": 0.01,
                        "limit": 0.05,
                        "state": "ok",
                    },
                ],
            }
        }
    },
    "concept": {"fraud": {"join": {"matched": 9000, "pending": 3000, "expired": 0}}},
    "alerting": {
        "alerts": [
            {
                "alertname": "DataDrift",
                "state": "firing",
                "labels": {"monitor": "fraud", "feature": "amount", "statistic": "ks"},
                "active_at": "2026-11-23T10:00:00Z",
            }
        ]
    },
}


def test_status_prints_drift_join_and_alerts(capsys: pytest.CaptureFixture[str]) -> None:
    health = Health()
    server = HttpServer("127.0.0.1", 0, CollectorRegistry(), health, lambda: STATUS).start()
    try:
        assert main(["status", "--url", f"http://127.0.0.1:{server.port}"]) == 0
        out = capsys.readouterr().out
        assert "NOT READY" in out  # still starting
        assert "stream predictions: 12,000 events" in out
        assert "DRIFT amount ks = 0.31 (limit 0.05)" in out
        assert "age" not in out
        assert "9,000 joined, 3,000 pending" in out
        assert "FIRING DataDrift monitor=fraud feature=amount statistic=ks" in out
        health.set_condition("starting", True)
        assert main(["status", "--url", f"http://127.0.0.1:{server.port}", "--json"]) == 0
        assert '"predictions": 12000' in capsys.readouterr().out
    finally:
        server.close()


def test_status_without_a_daemon_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--url", "http://127.0.0.1:9"]) == 1
    assert "cannot reach a daemon at http://127.0.0.1:9" in capsys.readouterr().err
