"""LabelJoin: a dict twin, delayed and shuffled labels, TTL, caps, memory, restarts, corruption."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftd.concept.config import JoinConfig
from driftd.concept.errors import ConceptStateError
from driftd.concept.ids import hash_ids
from driftd.concept.join import LabelJoin, Matched
from driftd.concept.sizing import eviction_slack


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class DictJoin:
    """The join's documented semantics, one id at a time, on plain dicts."""

    def __init__(self, config: JoinConfig, clock: Clock) -> None:
        self.c, self.clock = config, clock
        self.preds: dict[str, tuple] = {}  # id -> (pred, score, time, arrival, key)
        self.labels: dict[str, tuple] = {}
        self.counts = dict.fromkeys(
            ("matched", "expired", "evicted", "unmatched_labels", "dup_p", "dup_l"), 0
        )

    def _trim(self, table: dict, cap: int, key: str) -> None:
        slack = eviction_slack(cap)
        if len(table) > cap:
            order = sorted(table, key=lambda i: (table[i][3], table[i][4]))
            for i in order[: len(table) - (cap - slack)]:
                del table[i]
                self.counts[key] += 1

    def _insert(self, table, cap, counter, dup, rows):
        slack = eviction_slack(cap)
        for start in range(0, len(rows), slack):
            for i, row in rows[start : start + slack]:
                if i in table:
                    self.counts[dup] += 1
                else:
                    table[i] = row
            self._trim(table, cap, counter)

    def put_predictions(self, ids, preds, scores, times) -> list[tuple]:
        out, rest = [], []
        now = self.clock()
        for raw, p, s, t, k in zip(ids, preds, scores, times, hash_ids(ids).tolist(), strict=True):
            i = str(raw)
            if self.c.early_label_grace > 0 and i in self.labels:
                label, _, lt, _, _ = self.labels.pop(i)
                out.append((p, s, label, lt - t))
            else:
                rest.append((i, (p, s, t, now, k)))
        self.counts["matched"] += len(out)
        self._insert(self.preds, self.c.prediction_capacity, "evicted", "dup_p", rest)
        return out

    def match_labels(self, ids, labels, times) -> list[tuple]:
        out, rest = [], []
        now = self.clock()
        for raw, y, t, k in zip(ids, labels, times, hash_ids(ids).tolist(), strict=True):
            i = str(raw)
            if i in self.preds:
                p, s, pt, _, _ = self.preds.pop(i)
                out.append((p, s, y, t - pt))
            else:
                rest.append((i, (y, None, t, now, k)))
        self.counts["matched"] += len(out)
        if self.c.early_label_grace > 0:
            self._insert(self.labels, self.c.max_early_labels, "unmatched_labels", "dup_l", rest)
        else:
            self.counts["unmatched_labels"] += len(rest)
        return out

    def expire(self, now: float) -> None:
        for table, ttl, key in (
            (self.preds, self.c.ttl, "expired"),
            (self.labels, self.c.early_label_grace, "unmatched_labels"),
        ):
            old = [i for i, r in table.items() if r[3] < now - ttl]
            for i in old:
                del table[i]
            self.counts[key] += len(old)


def _value(x: object, single: bool = True) -> object:
    # float32 columns round, and NaN would make equal pairs compare unequal.
    x = float(x)  # type: ignore[arg-type]
    if math.isnan(x):
        return "nan"
    return float(np.float32(x)) if single else x


def twin_pairs(rows) -> list[tuple]:
    return [(_value(p), _value(s), _value(y), _value(d, False)) for p, s, y, d in rows]


def pairs(m: Matched) -> list[tuple]:
    return twin_pairs(zip(m.prediction, m.score, m.label, m.delay, strict=True))


def counts_of(join: LabelJoin) -> dict[str, int]:
    c = join.counts
    return {
        "matched": c.matched,
        "expired": c.expired,
        "evicted": c.evicted,
        "unmatched_labels": c.unmatched_labels,
        "dup_p": c.duplicate_predictions,
        "dup_l": c.duplicate_labels,
    }


ID_POOL = [*range(12), *(f"id-{i}" for i in range(12))]
batch = st.lists(st.tuples(st.sampled_from(ID_POOL), st.integers(0, 3)), max_size=15)
op = st.one_of(
    st.tuples(st.just("pred"), batch, st.integers(0, 4)),
    st.tuples(st.just("label"), batch, st.integers(0, 4)),
    st.tuples(st.just("tick"), st.just([]), st.integers(0, 4)),
)


@settings(max_examples=120, deadline=None)
@given(
    st.lists(op, max_size=30),
    st.sampled_from([3, 8, 200]),
    st.sampled_from([0.0, 3.0]),
    st.sampled_from([2, 5]),
)
def test_matches_dict_twin(ops, max_pending: int, grace: float, max_early: int) -> None:
    config = JoinConfig(
        ttl=6.0,
        max_pending=max_pending,
        early_label_grace=grace,
        max_early_labels=max_early,
        initial_capacity=8,
        sweep_interval=1.0,
    )
    clock = Clock()
    join, twin = LabelJoin(config, clock=clock), DictJoin(config, clock)
    for step, (kind, rows, advance) in enumerate(ops):
        clock.now += advance
        ids = [i for i, _ in rows]
        values = [float(v) for _, v in rows]
        times = np.full(len(rows), float(step))
        if kind == "pred":
            scores = [v / 4 for v in values]
            got = join.put_predictions(ids, values, scores, times)
            want = twin.put_predictions(ids, values, scores, times)
        elif kind == "label":
            got = join.match_labels(ids, values, times)
            want = twin.match_labels(ids, [np.float32(v) for v in values], times)
        else:
            join.expire()
            twin.expire(clock.now)
            continue
        assert pairs(got) == twin_pairs(want)
        assert counts_of(join) == twin.counts
        assert join.pending == len(twin.preds)
        assert join.pending_labels == len(twin.labels)


def test_delayed_shuffled_labels_all_match_with_their_delays() -> None:
    rng = np.random.default_rng(7)
    clock = Clock(1000.0)
    join = LabelJoin(JoinConfig(ttl=7 * 86400.0), clock=clock)
    n = 20_000
    ids = [f"p{i}" for i in range(n)]
    pred_t = np.arange(n, dtype=np.float64)
    preds = rng.integers(0, 2, n)
    for s in range(0, n, 1000):
        join.put_predictions(ids[s : s + 1000], preds[s : s + 1000], None, pred_t[s : s + 1000])
        clock.now += 1.0
    delay = rng.exponential(3 * 3600.0, n)  # hours late
    order = rng.permutation(n)
    truth = rng.integers(0, 2, n)
    seen: dict[float, tuple[float, float]] = {}
    for s in range(0, n, 777):
        idx = order[s : s + 777]
        m = join.match_labels([ids[i] for i in idx], truth[idx], pred_t[idx] + delay[idx])
        clock.now += 60.0
        for t, p, y, d in zip(m.prediction_time, m.prediction, m.label, m.delay, strict=True):
            seen[float(t)] = (float(p), float(y), float(d))
    assert join.counts.matched == n and join.pending == 0
    assert join.counts.unmatched_labels == 0 and join.pending_labels == 0
    got = np.array([seen[float(i)] for i in range(n)])
    np.testing.assert_array_equal(got[:, 0], preds)
    np.testing.assert_array_equal(got[:, 1], truth)
    np.testing.assert_allclose(got[:, 2], delay)


def test_ttl_expiry_and_sweep_interval() -> None:
    clock = Clock(0.0)
    config = JoinConfig(ttl=100.0, sweep_interval=30.0, early_label_grace=10.0)
    join = LabelJoin(config, clock=clock)
    join.put_predictions(list(range(10)), [1] * 10, None, np.zeros(10))
    clock.now = 50.0
    join.put_predictions(list(range(10, 15)), [0] * 5, None, np.zeros(5))
    join.match_labels([0, 1], [1, 1], np.zeros(2))
    join.tick(90.0)  # nothing older than the TTL yet
    assert join.counts.expired == 0 and join.pending == 13
    join.tick(101.0)  # 11 s after the last sweep: skipped
    assert join.counts.expired == 0
    join.tick(121.0)
    assert join.counts.expired == 8 and join.pending == 5
    clock.now = 121.0
    assert len(join.match_labels([5, 12], [1, 1], np.zeros(2))) == 1  # 5 expired, 12 did not
    join.expire(200.0)
    assert join.counts.expired == 12 and join.pending == 0
    assert join.counts.unmatched_labels == 1  # the label of 5, after its grace
    assert join.counts.join_rate == pytest.approx(3 / 15)


def test_labels_before_their_prediction_wait_for_the_grace() -> None:
    clock = Clock(0.0)
    join = LabelJoin(JoinConfig(early_label_grace=30.0, sweep_interval=1.0), clock=clock)
    assert len(join.match_labels(["a", "b"], [1, 0], np.array([100.0, 100.0]))) == 0
    assert join.pending_labels == 2
    clock.now = 20.0
    m = join.put_predictions(["a", "c"], [1, 1], [0.7, 0.1], np.array([90.0, 95.0]))
    assert pairs(m) == [(1.0, pytest.approx(0.7), 1.0, 10.0)]
    assert join.pending == 1 and join.pending_labels == 1
    join.tick(31.0)  # "b" waited 31 s > 30 s
    assert join.counts.unmatched_labels == 1 and join.pending_labels == 0
    assert join.counts.matched == 1


def test_duplicates_keep_the_first_and_are_counted() -> None:
    join = LabelJoin(JoinConfig(), clock=Clock())
    join.put_predictions(["x", "x", "y"], [1, 0, 1], None, np.array([1.0, 2.0, 3.0]))
    join.put_predictions(["y"], [0], None, np.array([4.0]))
    assert join.counts.duplicate_predictions == 2 and join.pending == 2
    m = join.match_labels(["x", "x"], [1, 1], np.array([9.0, 9.0]))
    assert m.prediction.tolist() == [1.0] and m.delay.tolist() == [8.0]
    assert join.pending_labels == 1  # the second "x" label waits for a prediction


def test_cap_evicts_the_oldest_predictions() -> None:
    clock = Clock(0.0)
    join = LabelJoin(JoinConfig(max_pending=1000), clock=clock)
    for s in range(0, 3000, 100):
        join.put_predictions(list(range(s, s + 100)), [1] * 100, None, np.zeros(100))
        clock.now += 1.0
        assert join.pending <= 1000
    assert join.counts.evicted == 3000 - join.pending
    early = join.match_labels(list(range(100)), [1] * 100, np.zeros(100))
    late = join.match_labels(list(range(2900, 3000)), [1] * 100, np.zeros(100))
    assert len(early) == 0 and len(late) == 100


def test_memory_stays_under_the_byte_cap_as_the_stream_grows() -> None:
    limit = 256 * 1024
    config = JoinConfig(max_memory_bytes=limit, max_pending=10**9, max_early_labels=1000)
    clock = Clock(0.0)
    join = LabelJoin(config, clock=clock)
    rng = np.random.default_rng(3)
    sizes = []
    for step in range(200):
        ids = rng.integers(0, 2**62, 1000)
        join.put_predictions(ids, np.ones(1000), None, np.zeros(1000))
        join.match_labels(rng.integers(0, 2**62, 50), np.ones(50), np.zeros(50))
        clock.now = float(step)
        sizes.append(join.nbytes)
        assert join.nbytes <= limit
        assert join.pending <= config.prediction_capacity
    assert join.counts.evicted == 200_000 - join.pending - join.counts.matched
    assert sizes[-1] == sizes[100]  # flat once full


def run_stream(join: LabelJoin, clock: Clock, steps: range, rng_seed: int = 11) -> list:
    rng = np.random.default_rng(rng_seed)
    out = []
    for step in range(steps.stop):
        ids = [f"s{step}-{i}" for i in range(300)]
        label_ids = [f"s{max(0, step - 3)}-{i}" for i in rng.permutation(300)[:200]]
        early = [f"s{step + 1}-{i}" for i in range(5)]
        preds, labels = rng.integers(0, 3, 300), rng.integers(0, 3, 205)
        if step in steps:
            clock.now += 10.0
            out.append(pairs(join.put_predictions(ids, preds, preds / 3, np.full(300, step))))
            m = join.match_labels(label_ids + early, labels, np.full(205, step + 0.5))
            out.append(pairs(m))
            join.tick()
    return out


def test_save_and_restore_in_the_middle_loses_nothing(tmp_path) -> None:
    config = JoinConfig(ttl=45.0, max_pending=2000, sweep_interval=20.0)
    clock_a = Clock(0.0)
    straight = LabelJoin(config, clock=clock_a)
    expected = run_stream(straight, clock_a, range(30))

    clock_b = Clock(0.0)
    first = LabelJoin(config, clock=clock_b)
    got = run_stream(first, clock_b, range(15))
    first.save(tmp_path / "join.state")
    second = LabelJoin(config, clock=clock_b)
    second.load(tmp_path / "join.state")
    assert second.pending == first.pending and second.pending_labels == first.pending_labels
    got += run_stream(second, clock_b, range(15, 30))
    assert got == expected
    assert second.counts == straight.counts


def test_downtime_does_not_count_towards_the_ttl(tmp_path) -> None:
    clock = Clock(0.0)
    join = LabelJoin(JoinConfig(ttl=100.0), clock=clock)
    join.put_predictions(["a"], [1], None, np.zeros(1))
    clock.now = 50.0
    join.save(tmp_path / "j")
    clock.now = 5000.0  # down for 4950 s
    restored = LabelJoin(JoinConfig(ttl=100.0), clock=clock)
    restored.load(tmp_path / "j")
    restored.expire()
    assert restored.pending == 1
    restored.expire(5000.0 + 51.0)
    assert restored.pending == 0 and restored.counts.expired == 1


def corrupt(path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 0x40
    elif how == "truncate":
        data = data[: len(data) - 100]
    elif how == "magic":
        data[:8] = b"NOTDRIFT"
    else:
        data = bytearray(b"garbage")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["flip", "truncate", "magic", "garbage"])
def test_corrupted_state_raises_a_clear_error(tmp_path, how: str) -> None:
    join = LabelJoin(JoinConfig(), clock=Clock())
    join.put_predictions([f"i{k}" for k in range(500)], np.ones(500), None, np.zeros(500))
    path = tmp_path / "join.state"
    join.save(path)
    corrupt(path, how)
    fresh = LabelJoin(JoinConfig(), clock=Clock())
    with pytest.raises(ConceptStateError, match=r"join\.state"):
        fresh.load(path)
    assert fresh.pending == 0


def test_missing_or_foreign_state_raises(tmp_path) -> None:
    from driftd.concept.statefile import write_state

    join = LabelJoin(JoinConfig(), clock=Clock())
    with pytest.raises(ConceptStateError, match="cannot read"):
        join.load(tmp_path / "nope")
    write_state(tmp_path / "other", "something_else", 1, {}, {})
    with pytest.raises(ConceptStateError, match="something_else"):
        join.load(tmp_path / "other")
    write_state(tmp_path / "newer", "label_join", 99, {}, {})
    with pytest.raises(ConceptStateError, match="version 99"):
        join.load(tmp_path / "newer")
    write_state(tmp_path / "empty", "label_join", 1, {"saved_at": 0.0}, {})
    with pytest.raises(ConceptStateError, match="incomplete"):
        join.load(tmp_path / "empty")


def test_save_leaves_no_temporary_files(tmp_path) -> None:
    join = LabelJoin(JoinConfig(), clock=Clock())
    join.put_predictions(["a"], [1], None, None)
    join.save(tmp_path / "join.state")
    join.save(tmp_path / "join.state")
    assert [p.name for p in tmp_path.iterdir()] == ["join.state"]


def test_input_lengths_must_agree() -> None:
    join = LabelJoin(JoinConfig(), clock=Clock())
    with pytest.raises(ValueError, match="preds"):
        join.put_predictions(["a", "b"], [1], None, None)
    with pytest.raises(ValueError, match="times"):
        join.match_labels(["a"], [1], np.zeros(3))
