"""The daemon's HTTP surface under abuse, against a real `driftd run` on the real broker.

The daemon runs with the open-file limit the issue saw (1,024, soft and hard, so driftd cannot
raise it), HTTPS and basic auth. curl, the client operators use, talks to it. While 500 idle
connections are held open and a 100 MB body is pushed at the silences API, the daemon keeps
serving /metrics and keeps checkpointing; silences are refused without credentials and accepted
with them; out-of-range times get 400 and the API answers afterwards.
"""

from __future__ import annotations

import json
import os
import re
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import bcrypt
import pytest
import trustme
from prometheus_client.parser import text_string_to_metric_families

from driftd.synthetic import events
from tests.integration.test_consume import _free_port
from tests.integration.test_faults import Producer, _encoded

pytestmark = pytest.mark.integration

PROFILE = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"
PASSWORD = "correct horse battery staple"


class Https:
    """curl against the daemon: TLS verified against the test CA, optional basic auth."""

    def __init__(self, port: int, ca: Path) -> None:
        self.base = f"https://127.0.0.1:{port}"
        self.ca = ca

    def call(
        self,
        path: str,
        *,
        method: str = "GET",
        user: str | None = None,
        body: bytes | Path | None = None,
        timeout: float = 10.0,
    ) -> tuple[int, str]:
        """HTTP status (0 when nothing answered) and body."""
        argv = ["curl", "-sS", "--cacert", str(self.ca), "-m", str(timeout), "-X", method]
        argv += ["-o", "-", "-w", "\n%{http_code}"]
        if user is not None:
            argv += ["-u", user]
        if isinstance(body, Path):
            argv += ["-H", "Content-Type: application/json", "--data-binary", f"@{body}"]
        elif body is not None:
            argv += ["-H", "Content-Type: application/json", "--data-binary", "@-"]
        done = subprocess.run(
            [*argv, self.base + path],
            input=body if isinstance(body, bytes) else None,
            capture_output=True,
            check=False,
            timeout=timeout + 5,
        )
        out, _, code = done.stdout.decode("utf-8", "replace").rpartition("\n")
        return int(code or 0), out

    def metric(self, name: str) -> float:
        code, text = self.call("/metrics", timeout=5)
        assert code == 200, f"/metrics answered {code}"
        return sum(
            s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == name
        )


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(tmp_path / "srv.pem")
    ca.cert_pem.write_to_path(tmp_path / "ca.pem")
    return tmp_path / "srv.pem", tmp_path / "ca.pem"


@pytest.fixture
def many_files() -> Iterator[None]:
    """Let this test process hold 500 sockets whatever its own limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _config(bootstrap: str, topic: str, port: int, tmp: Path, cert: Path) -> str:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
    return f"""
kafka:
  bootstrap_servers: ["{bootstrap}"]
  group_id: g-{topic}
  session_timeout: 6s
  heartbeat_interval: 1s
  poll_timeout: 200ms
http:
  host: 127.0.0.1
  port: {port}
  tls: {{cert_file: {cert}, key_file: {cert}}}
  auth: {{basic_auth_users: {{ops: "{hashed}"}}}}
state: {{dir: {tmp / "state"}, checkpoint_interval: 1s}}
streams:
  - name: predictions
    topic: {topic}
    fields:
      id: request_id
      timestamp: ts
      features: {{amount: features.amount, age: features.age, country: features.country}}
monitors:
  - name: fraud
    streams: [predictions]
    reference: {PROFILE}
    features: [amount, age, country]
    prediction_drift: false
    window: {{type: count, size: 1000}}
alerting:
  outbox_dir: {tmp / "outbox"}
  rules:
    - {{name: drift, matchers: ['alertname=~"DataDrift"'], severity: warning}}
  route: {{receiver: log}}
  receivers:
    - {{name: log, type: webhook, url: "http://127.0.0.1:9/unused"}}
"""


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _events(web: Https) -> int:
    code, body = web.call("/status", timeout=5)
    return int(json.loads(body).get("events", {}).get("predictions", 0)) if code == 200 else 0


def _until(predicate: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"{what}\n--- daemon log:\n{log.read_text()[-6000:]}")


def test_abuse_leaves_the_daemon_serving_and_checkpointing(
    kafka_bootstrap: str,
    make_topic: Callable[..., str],
    tmp_path: Path,
    tls_files: tuple[Path, Path],
    many_files: None,
) -> None:
    cert, ca = tls_files
    topic = make_topic("abuse")
    port = _free_port()
    cfg = tmp_path / "driftd.yaml"
    cfg.write_text(_config(kafka_bootstrap, topic, port, tmp_path, cert))
    log = tmp_path / "daemon.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            # util-linux's prlimit sets the limit before driftd starts (no preexec_fn in a
            # threaded test process).
            [
                "prlimit",
                "--nofile=1024:1024",
                sys.executable,
                "-m",
                "driftd",
                "run",
                "-c",
                str(cfg),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
    web = Https(port, ca)
    idle: list[socket.socket] = []
    try:
        _until(lambda: web.call("/readyz", timeout=2)[0] == 200, 90, "ready", log)
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
        assert re.search(r"Max open files\s+1024\s+1024", limits), limits
        # Traffic throughout, so that there is always something to checkpoint.
        producer = Producer(kafka_bootstrap, topic, _encoded(events(20_000, seed=5)), rate=1000)

        # Plain HTTP on the TLS port gets nothing useful; silences need credentials.
        silence = {
            "matchers": ['alertname=~".*"'],
            "duration": 600,
            "createdBy": "mallory",
            "comment": "shh",
        }
        raw = json.dumps(silence).encode()
        assert web.call("/api/silences", method="POST", body=raw)[0] == 401
        assert web.call("/api/silences", method="POST", body=raw, user="ops:guess")[0] == 401
        assert web.call("/api/silences", method="POST", body=raw, user="mallory:x")[0] == 401
        code, answer = web.call("/api/silences", method="POST", body=raw, user=f"ops:{PASSWORD}")
        assert code == 200, answer
        sid = json.loads(answer)["silenceID"]
        assert web.call(f"/api/silences/{sid}", method="DELETE")[0] == 401
        assert web.call(f"/api/silences/{sid}", method="DELETE", user=f"ops:{PASSWORD}")[0] == 200
        assert json.loads(web.call("/api/silences")[1]) == []
        plain = subprocess.run(
            [
                "curl",
                "-sS",
                "-m",
                "5",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                f"http://127.0.0.1:{port}/metrics",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert plain.stdout in {"000", "400"}, plain

        # Out-of-range times: 400, and the API and /status keep answering.
        for times in (
            {"endsAt": 1e300},
            {"endsAt": "+275760-01-01T00:00:00Z"},
            {"duration": 1e300},
            {"startsAt": -1e20, "endsAt": 2e9},
        ):
            body = json.dumps({**silence, "duration": None, **times}).encode()
            code, answer = web.call(
                "/api/silences", method="POST", body=body, user=f"ops:{PASSWORD}"
            )
            assert code == 400, (times, answer)
        assert web.call("/api/silences")[0] == 200
        assert web.call("/status")[0] == 200

        # The attack: 500 idle connections, then a 100 MB body with valid credentials. Memory
        # is measured once the monitor has closed windows (its kernels are compiled by then).
        _until(lambda: _events(web) >= 3000, 60, "three windows", log)
        rss_before = _rss_kib(proc.pid)
        checkpoints_before = web.metric("driftd_checkpoints_total")
        for _ in range(500):
            idle.append(socket.create_connection(("127.0.0.1", port)))
        big = tmp_path / "big.json"
        with big.open("wb") as f:
            f.write(b'{"matchers": ["a=b"], "comment": "')
            f.write(b"x" * (100 * 1024 * 1024))
            f.write(b'"}')
        started = time.monotonic()
        code, answer = web.call(
            "/api/silences", method="POST", body=big, user=f"ops:{PASSWORD}", timeout=30
        )
        assert code == 413, answer
        assert "max_body_bytes" in answer
        assert time.monotonic() - started < 15
        # Serving: /metrics, /healthz and /status answer while the idle sockets are held.
        for _ in range(5):
            assert web.call("/healthz", timeout=5)[0] == 200
            assert web.call("/status", timeout=5)[0] == 200
            assert web.metric("driftd_http_connections_open") <= 256
        # Checkpointing: more checkpoints are written during the attack, none failed.
        _until(
            lambda: web.metric("driftd_checkpoints_total") >= checkpoints_before + 3,
            30,
            "checkpoints during the attack",
            log,
        )
        assert web.metric("driftd_checkpoint_failures_total") == 0
        assert web.metric("driftd_http_connections_dropped_total") >= 244, "evicted, not stuck"
        grown = _rss_kib(proc.pid) - rss_before
        # 500 idle sockets cost about 1 MiB (no stream or TLS buffers before a first byte).
        assert grown < 24 * 1024, f"RSS grew {grown} KiB with 500 idle clients and a 100 MB body"
        assert proc.poll() is None, "the daemon is alive"
        producer.join()
        assert producer.error is None
    finally:
        for sock in idle:
            sock.close()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert proc.returncode == 0, log.read_text()[-4000:]
    assert "Too many open files" not in log.read_text()
    assert "by ops from 127.0.0.1" in log.read_text(), "the write was audited"
