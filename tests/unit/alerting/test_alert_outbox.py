"""The outbox and its delivery worker: retries, Retry-After, 4xx, order per key, outages."""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from driftd.alerting.alert import Alert, as_labels
from driftd.alerting.metrics import build_alerting_metrics
from driftd.alerting.notification import Notification
from driftd.alerting.outbox import Item, Outbox
from driftd.alerting.receiver_config import WebhookReceiver
from driftd.alerting.transport import UrllibTransport
from driftd.alerting.webhook import WebhookNotifier
from driftd.alerting.worker import Backoff, DeliveryWorker
from tests.fakes.clock import FakeClock
from tests.fakes.http_apis import FakeApis

T0 = 1_700_000_000.0


def item(group: str, n: int, status: str = "firing") -> Item:
    """An entry for group ``group``; annotation ``n`` tells the deliveries apart."""
    alert = Alert.firing(
        as_labels({"alertname": "DataDrift", "monitor": group}), (("n", str(n)),), T0, T0
    )
    if status == "resolved":
        alert = alert.resolve(T0)
    note = Notification("hook", f"g:{group}", (("monitor", group),), (alert,), T0)
    return Item(f"hook|g:{group}", "hook", "webhook", note.to_json())


class Harness:
    """An outbox, a worker on a fake clock, and a webhook receiver pointing at the fake."""

    def __init__(self, tmp_path: Path, api: FakeApis, **worker: Any) -> None:
        self.clock = FakeClock(T0)
        self.registry = CollectorRegistry()
        self.metrics = build_alerting_metrics(self.registry)
        self.outbox = Outbox(tmp_path / "outbox.sqlite3")
        receiver = WebhookReceiver(name="hook", type="webhook", url=api.url + "/hook")
        options: dict[str, Any] = {
            "backoff": Backoff(1.0, 60.0, random.Random(7)),
            "max_age": 86400.0,
            **worker,
        }
        self.worker = DeliveryWorker(
            self.outbox,
            {"hook": WebhookNotifier(receiver, UrllibTransport(2.0))},
            self.metrics,
            **{"clock": self.clock, **options},
        )

    def enqueue(self, *items: Item) -> None:
        self.outbox.commit(list(items), {}, self.clock())

    def metric(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


def _sent(api: FakeApis) -> list[str]:
    return [
        f"{r.body['groupLabels']['monitor']}{r.body['alerts'][0]['annotations']['n']}"
        for r in api.requests
    ]


def test_retry_after_is_honoured(tmp_path: Path, api: FakeApis) -> None:
    h = Harness(tmp_path, api)
    h.enqueue(item("a", 1))
    api.rate_limit_next(1, retry_after=7)
    assert h.worker.run_once() == 1
    [entry] = h.outbox.entries()
    assert (entry.status, entry.attempts, entry.next_attempt_at) == ("pending", 1, T0 + 7)
    assert "HTTP 429" in entry.last_error
    h.clock.advance(6.9)
    assert h.worker.run_once() == 0
    h.clock.advance(0.1)
    assert h.worker.run_once() == 1
    assert [e.status for e in h.outbox.entries()] == ["done"]
    assert h.metric("driftd_notifications_total", receiver="hook", integration="webhook") == 2
    assert (
        h.metric(
            "driftd_notifications_failed_total",
            receiver="hook",
            integration="webhook",
            reason="rate_limited",
        )
        == 1
    )
    assert h.metric("driftd_outbox_pending") == 0
    assert (
        h.metric(
            "driftd_notification_latency_seconds_count", receiver="hook", integration="webhook"
        )
        == 2
    )


def test_server_errors_retry_with_capped_exponential_backoff(tmp_path: Path, api: FakeApis) -> None:
    h = Harness(tmp_path, api, backoff=Backoff(1.0, 4.0, random.Random(3)))
    h.enqueue(item("a", 1))
    api.fail_next(5, 503)
    delays = []
    for _ in range(5):
        h.worker.run_once()
        [entry] = h.outbox.entries()
        delays.append(entry.next_attempt_at - h.clock())
        h.clock.now = entry.next_attempt_at
    # Steps of 1, 2, 4, then capped at 4; each with half of it random ("equal jitter").
    for delay, step in zip(delays, [1, 2, 4, 4, 4], strict=True):
        assert step / 2 <= delay <= step
    assert len(set(delays)) == 5  # jittered
    h.worker.run_once()
    assert [(e.status, e.attempts) for e in h.outbox.entries()] == [("done", 6)]
    assert (
        h.metric(
            "driftd_notifications_failed_total",
            receiver="hook",
            integration="webhook",
            reason="retryable",
        )
        == 5
    )


def test_client_errors_are_not_retried_and_do_not_block_the_key(
    tmp_path: Path, api: FakeApis
) -> None:
    h = Harness(tmp_path, api)
    h.enqueue(item("a", 1), item("a", 2, "resolved"))
    api.fail_next(1, 400, body=b"bad payload")
    assert h.worker.run_once() == 2
    first, second = h.outbox.entries()
    assert (first.status, first.attempts) == ("failed", 1)
    assert "HTTP 400: bad payload" in first.last_error
    assert second.status == "done"
    assert _sent(api) == ["a1", "a2"]
    h.clock.advance(3600)
    assert h.worker.run_once() == 0  # never retried
    assert (
        h.metric(
            "driftd_notifications_failed_total",
            receiver="hook",
            integration="webhook",
            reason="rejected",
        )
        == 1
    )


def test_resolve_waits_behind_its_failed_trigger_while_other_keys_proceed(
    tmp_path: Path, api: FakeApis
) -> None:
    h = Harness(tmp_path, api)
    h.enqueue(item("a", 1), item("b", 1))
    h.enqueue(item("a", 2, "resolved"))
    api.fail_next(1, 503, path="/hook")  # the trigger of "a" fails once
    h.worker.run_once()
    assert _sent(api) == ["a1", "b1"]  # "a2" was not sent ahead of "a1"
    states = {(e.key, e.seq): e.status for e in h.outbox.entries()}
    assert states == {
        ("hook|g:a", 1): "pending",
        ("hook|g:a", 2): "pending",
        ("hook|g:b", 1): "done",
    }
    h.clock.advance(60)
    h.worker.run_once()
    assert _sent(api) == ["a1", "b1", "a1", "a2"]
    assert {e.status for e in h.outbox.entries()} == {"done"}


def test_outage_of_several_minutes_then_everything_in_order(tmp_path: Path, api: FakeApis) -> None:
    h = Harness(tmp_path, api, backoff=Backoff(1.0, 30.0, random.Random(11)))
    api.fail_next(10_000, 503)  # down until cleared
    for t in range(0, 300, 20):  # notifications keep coming during the outage
        h.clock.now = T0 + t
        h.enqueue(item(f"g{t % 3}", t, "firing" if t % 40 else "resolved"))
        h.worker.run_once()
    during = len(api.requests)
    # Backoff keeps the pressure low: a handful of attempts per key, not one per second.
    assert during < 40
    h.clock.now = T0 + 420
    api.clear_faults()
    while h.outbox.counts()["pending"]:
        h.clock.advance(5)
        h.worker.run_once()
    ok = _sent(api)[during:]
    for group in ("g0", "g1", "g2"):
        expected = [f"{group}{t}" for t in range(0, 300, 20) if f"g{t % 3}" == group]
        assert [s for s in ok if s.startswith(group)] == expected
    assert h.outbox.counts() == {"pending": 0, "done": 15, "failed": 0}
    # Done 30 s at most after the outage ended (the backoff cap).
    assert h.clock() <= T0 + 420 + 35


def test_too_old_entries_are_given_up(tmp_path: Path, api: FakeApis) -> None:
    h = Harness(tmp_path, api, max_age=600.0)
    h.enqueue(item("a", 1), item("a", 2))
    api.fail_next(10_000, 503)
    while h.clock() < T0 + 700:
        h.worker.run_once()
        h.clock.advance(10)
    api.clear_faults()
    h.worker.run_once()
    assert [e.status for e in h.outbox.entries()] == ["failed", "failed"]
    assert [e.last_error for e in h.outbox.entries()] == ["expired", "expired"]
    assert (
        h.metric(
            "driftd_notifications_failed_total",
            receiver="hook",
            integration="webhook",
            reason="expired",
        )
        == 2
    )


def test_sequence_keeps_growing_after_pruning(tmp_path: Path, api: FakeApis) -> None:
    h = Harness(tmp_path, api)
    h.enqueue(item("a", 1), item("a", 2))
    h.worker.run_once()
    assert h.outbox.prune(T0 + 1) == 2
    h.enqueue(item("a", 3))
    [entry] = h.outbox.entries()
    assert entry.seq == 3


def test_unknown_receiver_and_crashing_receiver_are_parked(
    tmp_path: Path, api: FakeApis, caplog: pytest.LogCaptureFixture
) -> None:
    h = Harness(tmp_path, api)
    gone = Item("old|g", "old", "slack", item("a", 1).payload)
    broken = Item("hook|bad", "hook", "webhook", '{"not": "a notification"}')
    h.enqueue(gone, broken, item("b", 1))
    h.worker.run_once()
    by_key = {e.key: (e.status, e.last_error) for e in h.outbox.entries()}
    assert by_key == {
        "old|g": ("failed", "receiver no longer configured"),
        "hook|bad": ("failed", "internal error"),
        "hook|g:b": ("done", ""),
    }
    assert "crashed on outbox entry" in caplog.text


def test_worker_thread_delivers_and_stops(tmp_path: Path, api: FakeApis) -> None:
    h = Harness(tmp_path, api, clock=time.time, idle_wait=5.0)
    h.worker.start()
    h.outbox.commit([item("a", 1), item("a", 2)], {}, time.time())
    h.worker.wake()  # without it the thread would look again only after idle_wait
    assert api.wait_for(2, timeout=2.0)
    assert h.worker.stop(timeout=2.0)
    assert _sent(api) == ["a1", "a2"]


class FullOutbox(Outbox):
    """An outbox on a disk that refuses the next ``full`` writes of an outcome."""

    full = 0

    def mark_done(self, entry_id: int, now: float) -> None:
        if self.full:
            self.full -= 1
            raise sqlite3.OperationalError("database or disk is full")
        super().mark_done(entry_id, now)


def test_an_outcome_the_full_disk_refuses_is_held_and_the_entry_not_sent_again(
    tmp_path: Path, api: FakeApis
) -> None:
    h = Harness(tmp_path, api)
    h.outbox = FullOutbox(tmp_path / "full.sqlite3")
    h.worker._outbox = h.outbox
    h.enqueue(item("a", 1), item("a", 2), item("b", 1))
    h.outbox.full = 3
    h.worker.run_once()  # a1 and b1 delivered; neither outcome can be written
    assert sorted(_sent(api)) == ["a1", "b1"]
    assert [e.status for e in h.outbox.entries()] == ["pending"] * 3
    h.clock.advance(60)
    h.worker.run_once()  # still full once: nothing sent twice, a2 waits behind its head
    assert sorted(_sent(api)) == ["a1", "b1"]
    h.clock.advance(60)
    h.worker.run_once()  # space is back: outcomes written first, then a2 goes out
    assert sorted(_sent(api)) == ["a1", "a2", "b1"]
    assert [e.status for e in h.outbox.entries()] == ["done"] * 3


def test_troubles_lists_given_up_and_retrying_entries_newest_first(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    items = [Item(f"k{i}", f"r{i}", "webhook", "{}") for i in range(3)]
    outbox.commit(items, {}, 100.0)
    first, second, third = outbox.due(200.0)
    outbox.mark_failed(first.id, "webhook r0: HTTP 400: bad", 201.0)
    outbox.retry_at(second.id, 260.0, "webhook r1: HTTP 503")
    outbox.mark_done(third.id, 202.0)
    assert outbox.troubles() == [
        {
            "receiver": "r1",
            "integration": "webhook",
            "state": "retrying",
            "attempts": 1,
            "error": "webhook r1: HTTP 503",
            "at": 260.0,
        },
        {
            "receiver": "r0",
            "integration": "webhook",
            "state": "gave_up",
            "attempts": 1,
            "error": "webhook r0: HTTP 400: bad",
            "at": 201.0,
        },
    ]
    outbox.close()
