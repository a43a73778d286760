"""A real full disk: the state directory on a 2 MiB tmpfs, filled under load, then emptied.

Checkpoints and the outbox live on the tmpfs. While it is full the daemon must stay alive,
commit nothing, answer /readyz 503 and count the failures; once space returns every event is
counted once, the offsets reach the end of the topic and the drift episode pages exactly once.
Mounting needs root (as CI runs); elsewhere the test is skipped unless ``CI=true``.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from driftd.synthetic import events
from tests.fakes.http_apis import FakeApis
from tests.integration.test_consume import _free_port
from tests.integration.test_faults import DaemonProcess, Producer, Why, _committed, _encoded

pytestmark = pytest.mark.integration

PROFILE = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"
WINDOW = 2000


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted under ``tmp_path``."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        why = f"cannot mount a tmpfs ({done.stderr.strip()}); needs root"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _config(bootstrap: str, topic: str, port: int, disk: Path, api: FakeApis) -> str:
    return f"""
kafka:
  bootstrap_servers: ["{bootstrap}"]
  group_id: g-{topic}
  session_timeout: 6s
  heartbeat_interval: 1s
  poll_timeout: 200ms
  max_poll_records: 1000
http: {{host: 127.0.0.1, port: {port}}}
state: {{dir: {disk / "state"}, checkpoint_interval: 1s}}
logging: {{format: json}}
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
    window: {{type: count, size: {WINDOW}}}
alerting:
  outbox_dir: {disk / "outbox"}
  rules:
    - {{name: drift, matchers: ['alertname=~"DataDrift"'], severity: critical, for_windows: 2}}
  route: {{receiver: pagerduty, group_by: [monitor], group_wait: 1s, group_interval: 5s}}
  receivers:
    - {{name: pagerduty, type: pagerduty, routing_key: "R0UT1NGKEY00000000000000000000",
        base_url: "{api.url}"}}
  delivery: {{initial_backoff: 0.2s, max_backoff: 1s}}
"""


def _fill(disk: Path) -> Path:
    """Write a file until the disk refuses another byte; returns it."""
    filler = disk / "filler"
    chunk = b"\0" * 4096
    with filler.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass
        try:
            while True:
                f.write(b"\0")
        except OSError:
            pass
    return filler


def test_a_full_state_disk_degrades_and_nothing_is_lost_when_space_returns(
    kafka_bootstrap: str,
    make_topic: Callable[..., str],
    tmp_path: Path,
    small_disk: Path,
) -> None:
    topic = make_topic("preds")
    calm = list(events(4 * WINDOW, seed=61))
    drifted = list(events(3 * WINDOW, seed=62, shift=1.0, first_id=len(calm)))
    after = list(events(4 * WINDOW, seed=63, first_id=len(calm) + len(drifted)))
    port = _free_port()
    with FakeApis() as api:
        cfg = tmp_path / "driftd.yaml"
        cfg.write_text(_config(kafka_bootstrap, topic, port, small_disk, api))
        daemon = DaemonProcess(cfg, port, tmp_path / "daemon.log")
        why = Why([daemon])
        try:
            why.wait(daemon.ready, 90, "ready")
            Producer(kafka_bootstrap, topic, _encoded(calm), rate=4000).join()
            why.wait(lambda: daemon.events("predictions") == len(calm), 60, "the calm part")
            why.wait(
                lambda: _committed(kafka_bootstrap, f"g-{topic}", topic, 1) == len(calm),
                30,
                "the calm part committed",
            )

            filler = _fill(small_disk)
            Producer(kafka_bootstrap, topic, _encoded(drifted + after), rate=4000).join()
            total = len(calm) + len(drifted) + len(after)
            # /status answers while not ready (daemon.events waits for readiness).
            why.wait(
                lambda: daemon.status().get("events", {}).get("predictions") == total,
                60,
                "events read, disk full",
            )
            why.wait(
                lambda: daemon.metric("driftd_checkpoint_failures_total") >= 2,
                30,
                "failed checkpoints counted",
            )
            code, body = daemon.get("/readyz")
            assert code == 503 and "state_writable" in body, body
            # Full for a while: alive, nothing committed past what the last checkpoint covers.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                assert daemon.alive(), why("the daemon exited on a full disk")
                time.sleep(0.5)
            assert _committed(kafka_bootstrap, f"g-{topic}", topic, 1) == len(calm)

            filler.unlink()
            why.wait(daemon.ready, 60, "ready again once space returned")
            why.wait(
                lambda: _committed(kafka_bootstrap, f"g-{topic}", topic, 1) == total,
                60,
                "every offset committed once space returned",
            )
            why.wait(lambda: _actions(api) == ["trigger", "resolve"], 30, "paged and resolved once")
            time.sleep(3.0)  # and not again
            assert daemon.events("predictions") == total
            assert daemon.metric("driftd_records_consumed_total") == total
            assert _actions(api) == ["trigger", "resolve"]
            failures = daemon.metric("driftd_checkpoint_failures_total")
            assert daemon.terminate() == 0, why("a clean exit")
        finally:
            daemon.close()
    for path in (small_disk / "state").rglob("*"):
        assert path.stat().st_mode & 0o077 == 0, path  # nothing readable by others
    print(f"{failures:.0f} checkpoint writes failed on the full disk; nothing lost")


def _actions(api: FakeApis) -> list[Any]:
    return [r.body["event_action"] for r in api.requests if r.path == "/v2/enqueue"]
