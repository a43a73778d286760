"""The outbox survives a SIGKILL of the delivering process in the middle of a request."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from driftd.alerting.alert import Alert, as_labels
from driftd.alerting.notification import Notification
from driftd.alerting.outbox import Item, Outbox
from tests.fakes.http_apis import FakeApis

ROOT = Path(__file__).resolve().parents[3]
T0 = 1_700_000_000.0
GROUPS = ("a", "b", "c")
PER_GROUP = 8


def _item(group: str, n: int) -> Item:
    alert = Alert.firing(
        as_labels({"alertname": "DataDrift", "monitor": group}), (("n", str(n)),), T0, T0
    )
    note = Notification("hook", f"g:{group}", (("monitor", group),), (alert,), T0)
    return Item(f"hook|g:{group}", "hook", "webhook", note.to_json())


def _n(payload: str) -> int:
    return int(json.loads(payload)["alerts"][0]["annotations"]["n"])


def _worker(outbox: Path, api: FakeApis) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.outbox_worker", str(outbox), api.url + "/hook"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )


def test_kill_mid_delivery_then_restart_delivers_everything_once_in_order(
    tmp_path: Path, api: FakeApis
) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path)
    # Interleaved across groups, in order within each: n = group index + 3 * position.
    items = [_item(g, i * len(GROUPS) + k) for i in range(PER_GROUP) for k, g in enumerate(GROUPS)]
    outbox.commit(items, {}, time.time())  # the worker process runs on the real clock
    outbox.close()

    # The 10th request gets no answer: the kill lands while the worker waits for it.
    api.stall(10)
    first = _worker(path, api)
    assert api.wait_for(10, timeout=15.0), "the worker did not start delivering"
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=5)
    before = [_n(r.raw.decode()) for r in api.requests]
    assert len(before) == 10

    outbox = Outbox(path)
    done_before = {_n(e.payload) for e in outbox.entries() if e.status == "done"}
    in_flight = before[-1]
    # The request in flight was never acknowledged, so it is still pending...
    assert in_flight not in done_before
    # ...and everything acknowledged before the kill is marked done.
    assert done_before == set(before[:-1])

    api.release()
    second = _worker(path, api)
    assert second.wait(timeout=15) == 0
    after = [_n(r.raw.decode()) for r in api.requests][len(before) :]

    # Nothing marked delivered was sent again; the in-flight one was resent (at-least-once).
    assert not done_before & set(after)
    assert in_flight in after
    # Every notification was delivered, each group's in order.
    everything = before + after
    assert sorted(set(everything)) == list(range(len(items)))
    for k in range(len(GROUPS)):
        sequence = [n for n in everything if n % len(GROUPS) == k]
        deduped = [n for i, n in enumerate(sequence) if i == 0 or sequence[i - 1] != n]
        assert deduped == sorted(deduped) == list(range(k, len(items), len(GROUPS)))
    # The only duplicate is the one in flight at the kill.
    assert len(everything) == len(items) + 1
    assert {e.status for e in outbox.entries()} == {"done"}
