"""The daemon loop over an in-memory source: failure policy, acknowledgements, crash points."""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftd.checkpoint import CheckpointStore
from driftd.config import parse_config
from driftd.daemon import Daemon
from driftd.errors import DecodeError
from driftd.health import Health
from driftd.metrics import build_metrics
from driftd.monitoring.pipeline import MonitoringProcessor, load_profiles
from driftd.producing import ProduceError
from driftd.records import Verdict
from driftd.sources.base import Partition
from driftd.sources.files import IterSource
from driftd.synthetic import events

PROFILE = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"


def _config(window: str, state: str = "", extra_kafka: str = "") -> Any:
    return parse_config(
        f"""
kafka: {{bootstrap_servers: ["127.0.0.1:9"], group_id: g, {extra_kafka}}}
{state}
streams:
  - name: p
    topic: t
    fields:
      id: request_id
      timestamp: ts
      features: {{amount: features.amount, age: features.age, country: features.country}}
monitors:
  - name: m
    streams: [p]
    reference: {PROFILE}
    features: [amount, age, country]
    prediction_drift: false
    window: {window}
""",
        env={},
    )


class Collect:
    def __init__(self) -> None:
        self.verdicts: list[Verdict] = []

    def publish(self, verdicts: list[Verdict]) -> None:
        self.verdicts.extend(verdicts)


class DeadLetterBox:
    """Records dead letters; ``fail`` makes the next flushes miss their acknowledgement."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, bytes | None, str]] = []
        self.acked: list[tuple[int, bytes | None, str]] = []
        self.fail = 0

    def send(
        self,
        partition: Partition,
        offset: int,
        value: bytes | None,
        error: DecodeError,
        key: bytes | None = None,
    ) -> None:
        self.sent.append((offset, value, error.reason))

    def flush(self, timeout: float) -> None:
        if self.fail:
            self.fail -= 1
            raise ProduceError("broker away")
        self.acked = list(self.sent)


def _values(n: int = 3000, seed: int = 5) -> list[bytes]:
    return [json.dumps(e).encode() for e in events(n, seed=seed)]


def _daemon(
    cfg: Any,
    batches: Sequence[Sequence[bytes | None]],
    *,
    committed: dict[Partition, int] | None = None,
    dead_letters: DeadLetterBox | None = None,
    processor: Any = None,
    clock: Callable[[], float] | None = None,
) -> tuple[Daemon, IterSource, Collect, Any]:
    collect = Collect()
    processor = processor or MonitoringProcessor(cfg, load_profiles(cfg), [collect])
    made: list[IterSource] = []

    def source(on_assignment: Any) -> IterSource:
        made.append(IterSource.of(batches, "t", on_assignment, committed))
        return made[0]

    daemon = Daemon(
        cfg,
        source,
        processor,
        build_metrics(),
        Health(),
        dead_letters=dead_letters,
        checkpoints=CheckpointStore(cfg.state.dir) if cfg.state.dir else None,
        **({"clock": clock} if clock else {}),
    )
    return daemon, made[0], collect, processor


def _drain(daemon: Daemon, source: IterSource) -> None:
    daemon.run(until=lambda: source.exhausted)


def test_a_tumbling_event_without_time_is_dead_lettered_and_the_loop_goes_on() -> None:
    cfg = _config("{type: tumbling, every: 5s, min_samples: 10}")
    values = _values(1000)
    poison = json.loads(values[500])
    del poison["ts"]
    values[500] = json.dumps(poison).encode()
    box = DeadLetterBox()
    daemon, source, _, processor = _daemon(cfg, [values], dead_letters=box)
    _drain(daemon, source)
    assert [(o, r) for o, _, r in box.acked] == [(500, "missing_timestamp")]
    assert box.acked[0][1] == values[500]  # byte for byte
    assert source.committed == {Partition("t", 0): 1000}
    assert processor.events["p"] == 999


class Exploding(MonitoringProcessor):
    """Raises on one event id, as an unknown bug would."""

    def process(self, stream: Any, batch: Any, partition: Any = None) -> None:
        if "r123" in batch.ids:
            raise RuntimeError("boom")
        super().process(stream, batch, partition)


def test_an_event_whose_processing_raises_goes_to_the_dead_letters_alone() -> None:
    cfg = _config("{type: count, size: 100}")
    values = _values(300)
    box = DeadLetterBox()
    collect = Collect()
    processor = Exploding(cfg, load_profiles(cfg), [collect])
    daemon, source, _, _ = _daemon(
        cfg, [values[:200], values[200:]], dead_letters=box, processor=processor
    )
    _drain(daemon, source)
    assert [(o, r) for o, _, r in box.acked] == [(123, "processing_error")]
    assert processor.events["p"] == 299
    assert source.committed == {Partition("t", 0): 300}


def test_the_stop_policy_ends_the_daemon_without_committing() -> None:
    cfg = _config("{type: count, size: 100}", extra_kafka="on_processing_error: stop")
    processor = Exploding(cfg, load_profiles(cfg), [])
    daemon, source, _, _ = _daemon(cfg, [_values(300)], processor=processor)
    with pytest.raises(RuntimeError, match="boom"):
        _drain(daemon, source)
    assert source.committed == {}


def test_nothing_is_committed_until_the_dead_letters_are_acknowledged() -> None:
    cfg = _config("{type: count, size: 100}")
    values = _values(200)
    values[10] = b"{not json"
    box = DeadLetterBox()
    box.fail = 2
    now = [0.0]
    daemon, source, _, _ = _daemon(cfg, [values], dead_letters=box, clock=lambda: now[0])
    daemon.run_once()
    assert source.committed == {}  # the flush failed: no commit
    assert "produced_records_acknowledged" in daemon.health.ready()[1]
    daemon.run_once()  # inside the backoff: not even tried
    assert box.fail == 1
    now[0] += 1.0
    daemon.run_once()  # the second try fails too
    assert source.committed == {}
    now[0] += 2.0
    daemon.run_once()
    assert source.committed == {Partition("t", 0): 200}
    assert [o for o, _, _ in box.acked] == [10]
    assert "produced_records_acknowledged" not in daemon.health.ready()[1]


def _key(v: Verdict) -> tuple[Any, ...]:
    return (v.window_index, v.feature, v.statistic)


def _value(v: Verdict) -> tuple[Any, ...]:
    return (None if math.isnan(v.value) else v.value, v.limit, v.state, v.detail)


@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    cuts=st.lists(st.integers(min_value=1, max_value=2999), max_size=12),
    crashes=st.lists(st.integers(min_value=0, max_value=14), max_size=4, unique=True),
    window=st.sampled_from(["{type: count, size: 400}", "{type: tumbling, every: 4s}"]),
)
def test_any_split_and_any_crash_points_give_the_verdicts_of_one_pass(
    tmp_path_factory: pytest.TempPathFactory, cuts: list[int], crashes: list[int], window: str
) -> None:
    values = _values(3000, seed=9)
    bounds = [0, *sorted(set(cuts)), len(values)]
    batches = [values[a:b] for a, b in itertools.pairwise(bounds) if b > a]

    straight_cfg = _config(window)
    daemon, source, straight, processor = _daemon(straight_cfg, [values])
    _drain(daemon, source)
    processor.flush()
    expected = {_key(v): _value(v) for v in straight.verdicts}

    state = tmp_path_factory.mktemp("state")
    cfg = _config(window, state=f"state: {{dir: {state}, checkpoint_interval: 1s}}")
    committed: dict[Partition, int] = {}
    seen: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    now = [0.0]
    turn = 0
    while True:
        daemon, source, collect, processor = _daemon(
            cfg, batches, committed=committed, clock=lambda: now[0]
        )
        crashed = False
        while not source.exhausted:
            daemon.run_once()
            now[0] += 0.6  # a checkpoint every second turn
            turn += 1
            if turn in crashes:
                crashes.remove(turn)
                crashed = True  # kill -9: no final checkpoint, no commit
                break
        if not crashed:
            processor.flush()  # the end of the stream closes the open tumbling window
        for v in collect.verdicts:
            assert seen.setdefault(_key(v), _value(v)) == _value(v)  # a replay gives the same
        if not crashed:
            break
    assert seen == expected


@pytest.mark.parametrize(
    "leftover",
    [
        # A crash while the temporary directory was written.
        lambda d: (d / ".ckpt-0000000002.tmp").mkdir(),
        # A crash after the rename, before CURRENT named the new checkpoint.
        lambda d: (d / "ckpt-0000000002").mkdir(),
        # A crash while CURRENT.tmp was written.
        lambda d: (d / "CURRENT.tmp").write_text("ckpt-0000000002\n"),
    ],
)
def test_every_checkpoint_crash_point_restarts_cleanly(
    tmp_path: Path, leftover: Callable[[Path], Any]
) -> None:
    cfg = _config("{type: count, size: 100}", state=f"state: {{dir: {tmp_path}}}")
    committed: dict[Partition, int] = {}
    values = _values(250)
    daemon, source, _, _ = _daemon(cfg, [values[:150]], committed=committed)
    _drain(daemon, source)
    assert (tmp_path / "CURRENT").read_text().strip() == "ckpt-0000000001"
    leftover(tmp_path)
    (tmp_path / "ckpt-0000000002").mkdir(exist_ok=True)
    (tmp_path / "ckpt-0000000002" / "junk").write_text("half written")
    daemon, source, _, processor = _daemon(cfg, [values], committed=committed)
    assert processor.events["p"] == 150  # the last good checkpoint, not the leftovers
    _drain(daemon, source)
    assert processor.events["p"] == 250 and committed == {Partition("t", 0): 250}
    names = sorted(p.name for p in tmp_path.iterdir() if p.name != "calibration")
    assert names == ["CURRENT", "ckpt-0000000002"]
    assert (tmp_path.stat().st_mode & 0o777) == 0o700


class FullDisk(MonitoringProcessor):
    """A state disk without space for the first ``fail`` checkpoints."""

    fail = 2

    def save_state(self, directory: Path) -> None:
        if self.fail:
            self.fail -= 1
            raise OSError(28, "No space left on device")
        super().save_state(directory)


def test_a_full_state_disk_degrades_and_nothing_is_lost_when_space_returns(
    tmp_path: Path,
) -> None:
    cfg = _config(
        "{type: count, size: 100}", state=f"state: {{dir: {tmp_path}, checkpoint_interval: 1s}}"
    )
    now = [0.0]
    processor = FullDisk(cfg, load_profiles(cfg), [])
    values = _values(300)
    daemon, source, _, _ = _daemon(
        cfg,
        [values[:100], values[100:200], values[200:]],
        processor=processor,
        clock=lambda: now[0],
    )
    now[0] += 1.0
    daemon.run_once()  # the checkpoint fails: no commit, not ready, no exit
    assert source.committed == {}
    assert "state_writable" in daemon.health.ready()[1]
    assert daemon.metrics.checkpoint_failures._value.get() == 1
    now[0] += 1.0
    daemon.run_once()  # the retry backs off (2 s after the second failure)
    now[0] += 1.0
    daemon.run_once()
    now[0] += 5.0
    while not source.exhausted:
        daemon.run_once()
        now[0] += 1.0
    daemon.run_once()
    assert source.committed == {Partition("t", 0): 300}
    assert "state_writable" not in daemon.health.ready()[1]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


class HungDisk(MonitoringProcessor):
    """A state disk whose first write hangs (a stuck network mount) until ``release``."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.release = threading.Event()
        self.hung = 0

    def save_state(self, directory: Path) -> None:
        if not self.release.is_set():
            self.hung += 1
            self.release.wait(30)
        super().save_state(directory)


def test_a_hung_state_disk_misses_its_deadline_and_the_loop_waits_alive(tmp_path: Path) -> None:
    cfg = _config(
        "{type: count, size: 100}",
        state=f"state: {{dir: {tmp_path}, checkpoint_interval: 1s, write_timeout: 0.2s}}",
    )
    now = [0.0]
    processor = HungDisk(cfg, load_profiles(cfg), [])
    values = _values(300)
    daemon, source, _, _ = _daemon(
        cfg,
        [values[:100], values[100:200], values[200:]],
        processor=processor,
        clock=lambda: now[0],
    )
    now[0] += 1.0
    started = time.monotonic()
    assert daemon.run_once() == 100  # reads, then the checkpoint write hangs past 0.2 s
    assert time.monotonic() - started < 5.0
    assert processor.hung == 1 and source.committed == {}
    assert "state_writable" in daemon.health.ready()[1]
    assert daemon.metrics.checkpoint_failures._value.get() == 1
    # While the late write runs the loop reads nothing and leaves the processor alone.
    for _ in range(3):
        now[0] += 5.0
        assert daemon.run_once() == 0
    assert processor.events["p"] == 100 and processor.hung == 1
    processor.release.set()
    while not source.exhausted:
        now[0] += 5.0
        daemon.run_once()
    now[0] += 5.0
    daemon.run_once()
    assert source.committed == {Partition("t", 0): 300}
    assert processor.events["p"] == 300
    assert "state_writable" not in daemon.health.ready()[1]
    assert CheckpointStore(tmp_path).load().offsets == {Partition("t", 0): 300}  # type: ignore[union-attr]


def test_sigterm_during_a_hung_state_write_stops_within_the_deadline(tmp_path: Path) -> None:
    cfg = _config(
        "{type: count, size: 100}",
        state=f"state: {{dir: {tmp_path}, checkpoint_interval: 1s, write_timeout: 0.3s}}",
    )
    processor = HungDisk(cfg, load_profiles(cfg), [])
    values = _values(200)
    now = [0.0]
    daemon, _, _, _ = _daemon(
        cfg, [values[:100], values[100:]], processor=processor, clock=lambda: now[0]
    )
    now[0] += 1.0
    daemon.run_once()  # the write hangs
    threading.Timer(0.2, daemon.stop).start()
    started = time.monotonic()
    assert daemon.run() == 0
    assert time.monotonic() - started < 3.0  # not the 30 s the disk would take
    assert not (tmp_path / "CURRENT").exists()  # nothing claimed that was not written
    processor.release.set()


def test_late_events_are_counted_in_status_and_metrics() -> None:
    from prometheus_client import CollectorRegistry

    from driftd.dropped import DroppedEvents

    cfg = _config("{type: tumbling, every: 5s, min_samples: 10}")
    events_ = [json.loads(v) for v in _values(1500)]  # 10 ms apart: 15 s
    late = dict(events_[100])  # an event of the first window, arriving after the third opened
    values = [json.dumps(e).encode() for e in events_] + [json.dumps(late).encode()]
    daemon, source, _, _ = _daemon(cfg, [values[:700], values[700:]])
    _drain(daemon, source)
    segment = daemon.status()["monitors"]["m"]["all"]
    assert (segment["late_events"], segment["overflow_events"]) == (1, 0)
    registry = CollectorRegistry()
    registry.register(DroppedEvents(daemon.status))
    sample = {"monitor": "m", "reason": "late"}
    assert registry.get_sample_value("driftd_window_dropped_events_total", sample) == 1


def test_a_reload_keeps_the_state_of_unchanged_monitors_and_resets_changed_ones() -> None:
    window = "{type: count, size: 100}"
    cfg = _config(window)
    daemon, source, collect, old = _daemon(cfg, [_values(250)])
    _drain(daemon, source)
    assert old.monitors[0].status()["all"]["pending_events"] == 50
    same = MonitoringProcessor(cfg, load_profiles(cfg), [collect])
    assert same.carry_over(old) == ["m"]
    assert same.monitors[0].status()["all"]["pending_events"] == 50  # the open window stays
    assert same.events == old.events
    changed_cfg = _config("{type: count, size: 200}")
    changed = MonitoringProcessor(changed_cfg, load_profiles(changed_cfg), [collect])
    assert changed.carry_over(old) == []
    assert changed.monitors[0].status() == {}  # a changed window starts empty


def test_rejected_records_leave_no_reference_cycles_holding_their_batch() -> None:
    import gc
    from collections import Counter

    cfg = _config("{type: count, size: 100}")
    values = _values(2000)
    for i in range(0, 2000, 50):  # 2 % garbage: a rejection in every batch
        values[i] = b'{"request_id": "x", "ts": nope'
    batches = [values[lo : lo + 100] for lo in range(0, 2000, 100)]
    gc.collect()
    gc.disable()
    try:
        daemon, source, _, _ = _daemon(cfg, batches, dead_letters=DeadLetterBox())
        _drain(daemon, source)
        del daemon, source
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        garbage = Counter(type(o).__name__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    # Before the fix each batch with a rejection stayed alive in an exception-frame cycle
    # until a full collection (which the daemon's GC thresholds make rare).
    assert garbage["DecodeError"] == 0 and garbage["frame"] == 0, garbage.most_common(8)


def test_a_whole_stream_in_microseconds_is_reported_with_the_unit_to_set(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = _config("{type: count, size: 100}")
    good = [json.loads(v) for v in _values(3000)]
    micro = [json.dumps({**e, "ts": e["ts"] * 1000}).encode() for e in good[:2000]]
    right = [json.dumps(e).encode() for e in good[2000:]]
    box = DeadLetterBox()
    daemon, source, _, _ = _daemon(
        cfg, [micro[lo : lo + 250] for lo in range(0, 2000, 250)], dead_letters=box
    )
    with caplog.at_level("WARNING"):
        _drain(daemon, source)
    assert len(box.acked) == 2000  # every one dead-lettered, as before
    warnings = [r.getMessage() for r in caplog.records if "look like" in r.getMessage()]
    assert len(warnings) == 1, warnings  # once, not per span or per record
    assert "100% of the last 1000 event times look like us, not ms" in warnings[0]
    assert "timestamp_unit: us" in warnings[0]
    gauge = daemon.metrics.registry.get_sample_value
    assert gauge("driftd_timestamp_unit_suspected", {"stream": "p", "unit": "us"}) == 1.0
    assert daemon.status()["suspected_timestamp_units"] == {"p": "us"}

    # The producer is fixed: the next span looks right, the gauge goes back to 0.
    more = IterSource.of([right], "t", lambda a, r: None)
    daemon._source = more
    daemon.run(until=lambda: more.exhausted)
    assert gauge("driftd_timestamp_unit_suspected", {"stream": "p", "unit": "us"}) == 0.0
    assert "suspected_timestamp_units" not in daemon.status()


def test_a_few_bad_times_in_a_good_stream_are_not_a_unit_mismatch() -> None:
    cfg = _config("{type: count, size: 100}")
    good = [json.loads(v) for v in _values(3000)]
    values = [
        json.dumps({**e, "ts": e["ts"] * 1000} if i % 20 == 0 else e).encode()
        for i, e in enumerate(good)
    ]
    daemon, source, _, _ = _daemon(cfg, [values[lo : lo + 500] for lo in range(0, 3000, 500)])
    _drain(daemon, source)
    assert (
        daemon.metrics.registry.get_sample_value(
            "driftd_timestamp_unit_suspected", {"stream": "p", "unit": "us"}
        )
        is None
    )
    assert "suspected_timestamp_units" not in daemon.status()
