"""PendingTable against a slow dict twin, on seeded and hypothesis-generated operation sequences.

Keys are chosen to collide: most share a few home slots of a small table (``key % 8``), some
sit at the last slot so probe clusters wrap around, and the table starts at 8 slots so it
resizes up and down along the way.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftd.concept.sizing import MAX_LOAD, SLOT_BYTES, capacity_for, eviction_slack
from driftd.concept.table import COLUMNS, PendingTable


class DictTable:
    """The table's documented semantics, one row at a time in a dict."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.slack = eviction_slack(max_entries)
        self.rows: dict[int, tuple[float, float, float, float]] = {}

    def put(self, keys, values, scores, times, arrival) -> tuple[int, int, int]:
        inserted = evicted = 0
        for start in range(0, len(keys), self.slack):
            for j in range(start, min(len(keys), start + self.slack)):
                key = int(keys[j])
                if key not in self.rows:
                    row = (np.float32(values[j]), np.float32(scores[j]), float(times[j]), arrival)
                    self.rows[key] = row
                    inserted += 1
            if len(self.rows) > self.max_entries:
                evicted += self.evict_oldest(len(self.rows) - (self.max_entries - self.slack))
        return inserted, len(keys) - inserted, evicted

    def take(self, keys) -> tuple[list[bool], list[tuple[float, float, float]]]:
        found, rows = [], []
        for key in map(int, keys):
            row = self.rows.pop(key, None)
            found.append(row is not None)
            if row is not None:
                rows.append(row[:3])
        return found, rows

    def expire(self, cutoff: float) -> int:
        old = [k for k, r in self.rows.items() if r[3] < cutoff]
        for k in old:
            del self.rows[k]
        return len(old)

    def evict_oldest(self, k: int) -> int:
        victims = sorted(self.rows, key=lambda key: (self.rows[key][3], key))[:k]
        for key in victims:
            del self.rows[key]
        return len(victims)


def _row(values) -> tuple[object, ...]:
    # NaN scores would make equal rows compare unequal.
    return tuple("nan" if math.isnan(x) else float(x) for x in map(float, values))


def contents(table: PendingTable) -> dict[int, tuple[object, ...]]:
    rows = table.rows()
    cols = [rows[c].tolist() for c in COLUMNS]
    return {int(k): _row(r) for k, *r in zip(*cols, strict=True)}


def twin_contents(twin: DictTable) -> dict[int, tuple[object, ...]]:
    return {k: _row(r) for k, r in twin.rows.items()}


def check_probe_invariant(table: PendingTable) -> None:
    """Every key sits in its home slot or after it with no empty slot in between."""
    keys = table._arrays[0]
    mask = keys.shape[0] - 1
    for i in np.flatnonzero(keys):
        j = int(keys[i]) & mask
        while j != i:
            assert keys[j] != 0, f"hole at {j} breaks the probe of the key in slot {i}"
            j = (j + 1) & mask
    assert np.count_nonzero(keys) == len(table)
    assert len(table) <= MAX_LOAD * keys.shape[0]


def as_arrays(keys: list[int], base: float):
    n = len(keys)
    return (
        np.array(keys, np.uint64),
        np.arange(n, dtype=np.float32) + np.float32(base),
        np.where(np.arange(n) % 3 == 0, np.float32(np.nan), np.float32(0.25)),
        np.arange(n, dtype=np.float64) * 0.5 + base,
    )


def run_ops(ops, max_entries: int) -> None:
    table = PendingTable(max_entries, initial_capacity=8)
    twin = DictTable(max_entries)
    for step, (op, keys, t) in enumerate(ops):
        if op == "put":
            k, v, s, tt = as_arrays(keys, float(step))
            r = table.put(k, v, s, tt, arrival=t)
            assert (r.inserted, r.duplicates, r.evicted) == twin.put(k, v, s, tt, t)
        elif op == "take":
            taken = table.take(np.array(keys, np.uint64))
            found, rows = twin.take(keys)
            assert taken.found.tolist() == found
            got = zip(taken.values, taken.scores, taken.times, strict=True)
            assert [_row(r) for r in got] == [_row(r) for r in rows]
        elif op == "expire":
            assert table.expire(t) == twin.expire(t)
        else:
            assert table.evict_oldest(len(keys)) == twin.evict_oldest(len(keys))
        assert len(table) == len(twin.rows) <= max_entries
        assert contents(table) == twin_contents(twin)
        check_probe_invariant(table)


# Keys colliding in a small table: 8 home slots, with slot 7 making clusters wrap around.
POOL = [c + 8 * m for c in (1, 5, 7) for m in range(1, 14)] + [2**64 - 1, 2**63 + 7, 8]
keys_st = st.lists(st.sampled_from(POOL), max_size=40)
op_st = st.one_of(
    st.tuples(st.just("put"), keys_st, st.integers(0, 30).map(float)),
    st.tuples(st.just("take"), keys_st, st.just(0.0)),
    st.tuples(st.just("expire"), st.just([]), st.integers(0, 30).map(float)),
    st.tuples(st.just("evict"), st.lists(st.just(1), max_size=5), st.just(0.0)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(op_st, max_size=25), st.sampled_from([1, 3, 12, 30, 250]))
def test_matches_dict_twin_on_generated_operations(ops, max_entries: int) -> None:
    run_ops(ops, max_entries)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_dict_twin_on_long_seeded_streams(seed: int) -> None:
    rng = np.random.default_rng(seed)
    universe = rng.integers(1, 2**63, size=3000, dtype=np.uint64).tolist()
    ops = []
    clock = 0.0
    for _ in range(300):
        clock += float(rng.integers(0, 3))
        r = rng.random()
        keys = rng.choice(universe, size=int(rng.integers(0, 120))).tolist()
        if r < 0.5:
            ops.append(("put", keys, clock))
        elif r < 0.85:
            ops.append(("take", keys, 0.0))
        elif r < 0.95:
            ops.append(("expire", [], clock - 20.0))
        else:
            ops.append(("evict", [1] * int(rng.integers(1, 50)), 0.0))
    run_ops(ops, max_entries=int(rng.choice([150, 700, 5000])))


def test_grows_and_shrinks_with_its_contents() -> None:
    table = PendingTable(max_entries=100_000, initial_capacity=8)
    keys = np.arange(1, 50_001, dtype=np.uint64)
    zeros = np.zeros(keys.size, np.float32)
    table.put(keys, zeros, zeros, zeros.astype(np.float64), arrival=1.0)
    assert table.capacity == capacity_for(50_000)
    assert table.nbytes == table.capacity * SLOT_BYTES
    assert table.expire(cutoff=2.0) == 50_000
    assert table.capacity == 8


def test_a_batch_larger_than_the_cap_keeps_its_newest_rows() -> None:
    table = PendingTable(max_entries=1000, initial_capacity=8)
    keys = np.arange(1, 5001, dtype=np.uint64)
    values = np.arange(5000, dtype=np.float32)
    result = table.put(keys, values, values, values.astype(np.float64), arrival=0.0)
    assert result.inserted == 5000
    assert result.evicted == 5000 - len(table)
    assert len(table) <= 1000
    # Ties in arrival are broken by key, so the survivors are the largest keys.
    assert contents(table).keys() == set(range(5001 - len(table), 5001))
    assert table.capacity <= capacity_for(1000 + eviction_slack(1000))


def test_load_rows_round_trips_and_trims_to_a_lower_cap() -> None:
    big = PendingTable(max_entries=1000)
    keys = np.arange(1, 501, dtype=np.uint64)
    values = np.arange(500, dtype=np.float32)
    big.put(keys[:250], values[:250], values[:250], values[:250].astype(float), arrival=1.0)
    big.put(keys[250:], values[250:], values[250:], values[250:].astype(float), arrival=2.0)
    same = PendingTable(max_entries=1000)
    assert same.load_rows(big.rows()) == 0
    assert contents(same) == contents(big)
    small = PendingTable(max_entries=100)
    assert small.load_rows(big.rows()) == 400
    assert contents(small).keys() == set(range(401, 501))


@pytest.mark.parametrize(
    ("keys", "error"),
    [
        (np.array([1, 0], np.uint64), ValueError),  # 0 marks an empty slot
        (np.array([1, 2], np.int64), TypeError),  # keys are uint64 hashes
        ([1, 2], TypeError),
    ],
)
def test_rejects_bad_keys(keys, error) -> None:
    table = PendingTable(10)
    with pytest.raises(error):
        table.take(keys)


def test_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        PendingTable(0)
    with pytest.raises(ValueError, match="initial_capacity"):
        PendingTable(10, initial_capacity=0)
