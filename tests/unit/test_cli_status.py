"""`driftd status` reads a running daemon's /status and /readyz."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from driftd.cli import main
from driftd.config.models import HttpConfig
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
        ],
        "outbox": {"pending": 2, "done": 10, "failed": 1},
        "failed_notifications": [
            {
                "receiver": "pd",
                "integration": "pagerduty",
                "state": "gave_up",
                "attempts": 1,
                "error": "pagerduty pd: HTTP 400: invalid routing key",
                "at": "2026-11-23T10:01:00Z",
            },
            {
                "receiver": "slack",
                "integration": "slack",
                "state": "retrying",
                "attempts": 4,
                "error": "slack: HTTP 503",
                "at": "2026-11-23T10:02:00Z",
            },
        ],
    },
}


def test_status_prints_drift_join_and_alerts(capsys: pytest.CaptureFixture[str]) -> None:
    health = Health()
    server = HttpServer(
        HttpConfig(host="127.0.0.1", port=0), CollectorRegistry(), health, lambda: STATUS
    ).start()
    try:
        assert main(["status", "--url", f"http://127.0.0.1:{server.port}"]) == 0
        out = capsys.readouterr().out
        assert "NOT READY" in out  # still starting
        assert "stream predictions: 12,000 events" in out
        assert "DRIFT amount ks = 0.31 (limit 0.05)" in out
        assert "DRIFT age" not in out  # age is not drifting
        assert "9,000 joined, 3,000 pending" in out
        assert "FIRING DataDrift monitor=fraud feature=amount statistic=ks" in out
        assert "notifications: 2 pending, 1 given up" in out
        assert "GAVE UP pd (pagerduty) after 1 attempt(s): pagerduty pd: HTTP 400" in out
        assert "RETRYING slack (slack) after 4 attempt(s): slack: HTTP 503" in out
        health.set_condition("starting", True)
        assert main(["status", "--url", f"http://127.0.0.1:{server.port}", "--json"]) == 0
        assert '"predictions": 12000' in capsys.readouterr().out
    finally:
        server.close()


def test_status_without_a_daemon_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--url", "http://127.0.0.1:9"]) == 1
    assert "cannot reach a daemon at http://127.0.0.1:9" in capsys.readouterr().err


def test_status_with_a_broken_config_still_asks_the_daemon(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "driftd.yaml"
    broken.write_text("kafka: {bootstrap_servers: [nope]}\nstreams: 7\n")
    # Nothing listens on 9108 here: the point is that it tries instead of refusing.
    code = main(["status", "-c", str(broken)])
    err = capsys.readouterr().err
    assert f"{broken} does not load" in err
    assert "trying http://127.0.0.1:9108" in err
    assert code in (0, 1)


def test_status_over_https_with_credentials(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import bcrypt
    import trustme

    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(tmp_path / "s.pem")
    ca.cert_pem.write_to_path(tmp_path / "ca.pem")
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    http = HttpConfig.model_validate(
        {
            "host": "127.0.0.1",
            "port": 0,
            "tls": {"cert_file": str(tmp_path / "s.pem"), "key_file": str(tmp_path / "s.pem")},
            "auth": {"basic_auth_users": {"ops": hashed}, "protect_reads": True},
        }
    )
    server = HttpServer(http, CollectorRegistry(), Health(), lambda: STATUS).start()
    url = f"https://127.0.0.1:{server.port}"
    try:
        assert main(["status", "--url", url, "--cacert", str(tmp_path / "ca.pem")]) == 1
        assert "answered 401 (give --user or --token-file)" in capsys.readouterr().err
        ok = main(["status", "--url", url, "--cacert", str(tmp_path / "ca.pem"), "-u", "ops:pw"])
        assert ok == 0
        assert "stream predictions: 12,000 events" in capsys.readouterr().out
        assert main(["status", "--url", url]) == 1, "an unknown CA is refused"
        assert "CERTIFICATE_VERIFY_FAILED" in capsys.readouterr().err
    finally:
        server.close()
