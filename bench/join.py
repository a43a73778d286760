"""Benchmark of the label join: joins per second and memory per pending prediction.

Prints one JSON object per line: ``{"name", "n", "value", "unit", "baseline", "ratio"}``. Each
baseline is measured in the same run on the same data: a plain Python dict join (id -> tuple),
which is what the join replaces. ``ratio`` is a speed-up or a memory saving, so higher is
better. Targets (DESIGN.md): 10 million pending predictions in under 1 GiB, and at least
200,000 joins/s.

    python bench/join.py            # 1e6 joins, 1e7 pending
    python bench/join.py --full     # also 1e7 joins
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from driftd.concept import ConceptConfig, ConceptMonitor, JoinConfig, LabelJoin

BATCH = 10_000


def emit(name: str, n: int, value: float, unit: str, *, baseline: float, ratio: float) -> None:
    line = {"name": name, "n": n, "value": round(value, 2), "unit": unit}
    line |= {"baseline": round(baseline, 2), "ratio": round(ratio, 2)}
    print(json.dumps(line), flush=True)


def rss_bytes() -> int:
    """Resident set size of this process, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class Data:
    """n predictions with string ids, and their labels in a shuffled order."""

    def __init__(self, n: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.n = n
        self.ids = [f"req-{i:012d}" for i in range(n)]
        self.preds = rng.integers(0, 2, n).astype(np.float32)
        self.scores = rng.random(n, dtype=np.float32)
        self.times = np.arange(n, dtype=np.float64)
        order = rng.permutation(n)
        self.label_ids = [self.ids[i] for i in order]
        self.labels = rng.integers(0, 2, n).astype(np.float32)
        self.label_times = self.times[order] + rng.exponential(3600.0, n)


def dict_join(d: Data) -> float:
    """Seconds for the plain-Python join of the same batches."""
    start = time.perf_counter()
    pending: dict[str, tuple[float, float, float]] = {}
    for s in range(0, d.n, BATCH):
        ids = d.ids[s : s + BATCH]
        rows = zip(d.preds[s : s + BATCH].tolist(), d.scores[s : s + BATCH].tolist(),
                   d.times[s : s + BATCH].tolist(), strict=True)  # fmt: skip
        for i, row in zip(ids, rows, strict=True):
            pending.setdefault(i, row)
    matched = 0
    for s in range(0, d.n, BATCH):
        out = []
        labels = d.labels[s : s + BATCH].tolist()
        times = d.label_times[s : s + BATCH].tolist()
        for i, y, t in zip(d.label_ids[s : s + BATCH], labels, times, strict=True):
            row = pending.pop(i, None)
            if row is not None:
                out.append((row[0], row[1], y, t - row[2]))
        matched += len(out)
    assert matched == d.n
    return time.perf_counter() - start


def array_join(d: Data) -> float:
    """Seconds for LabelJoin on the same batches (id hashing included)."""
    join = LabelJoin(JoinConfig(max_pending=max(d.n, 1)), clock=lambda: 0.0)
    start = time.perf_counter()
    for s in range(0, d.n, BATCH):
        sl = slice(s, s + BATCH)
        join.put_predictions(d.ids[sl], d.preds[sl], d.scores[sl], d.times[sl])
    matched = 0
    for s in range(0, d.n, BATCH):
        sl = slice(s, s + BATCH)
        matched += len(join.match_labels(d.label_ids[sl], d.labels[sl], d.label_times[sl]))
    assert matched == d.n
    assert join.pending == 0
    return time.perf_counter() - start


def monitor_join(d: Data) -> float:
    """Seconds for ConceptMonitor (join, ADWIN, performance windows) on the same batches."""
    config = ConceptConfig.model_validate({"join": {"max_pending": max(d.n, 1)}})
    monitor = ConceptMonitor("bench", config, clock=lambda: 0.0)
    start = time.perf_counter()
    for s in range(0, d.n, BATCH):
        sl = slice(s, s + BATCH)
        monitor.observe_predictions(d.ids[sl], d.preds[sl], d.scores[sl], d.times[sl])
    for s in range(0, d.n, BATCH):
        sl = slice(s, s + BATCH)
        monitor.observe_labels(d.label_ids[sl], d.labels[sl], d.label_times[sl])
    assert monitor.join.counts.matched == d.n
    return time.perf_counter() - start


def bench_throughput(n: int, with_monitor: bool) -> None:
    d = Data(n)
    array_join(Data(BATCH))  # load the numba kernels before timing
    base = dict_join(d)
    gc.collect()
    ours = array_join(d)
    emit("label_join_joins_per_s", n, n / ours, "joins/s", baseline=n / base, ratio=base / ours)
    if with_monitor:
        gc.collect()
        mon = monitor_join(d)
        rate = n / mon
        emit("concept_monitor_joins_per_s", n, rate, "joins/s", baseline=n / base, ratio=base / mon)


def fill_join(n: int) -> tuple[LabelJoin, int]:
    """A join holding n pending predictions (integer ids), and the RSS it added."""
    gc.collect()
    before = rss_bytes()
    join = LabelJoin(JoinConfig(max_pending=n), clock=lambda: 0.0)
    rng = np.random.default_rng(1)
    for s in range(0, n, 1_000_000):
        m = min(1_000_000, n - s)
        ids = np.arange(s, s + m, dtype=np.int64)
        join.put_predictions(ids, rng.integers(0, 2, m), rng.random(m), np.zeros(m))
    assert join.pending == n
    gc.collect()
    return join, rss_bytes() - before


def fill_dict(n: int) -> tuple[dict[int, tuple[float, float, float]], int]:
    """The dict baseline holding n pending predictions, and the RSS it added."""
    gc.collect()
    before = rss_bytes()
    rng = np.random.default_rng(1)
    pending: dict[int, tuple[float, float, float]] = {}
    for s in range(0, n, 100_000):
        m = min(100_000, n - s)
        rows = zip(rng.integers(0, 2, m).astype(float).tolist(), rng.random(m).tolist(),
                   [0.0] * m, strict=True)  # fmt: skip
        pending.update(zip(range(s, s + m), rows, strict=True))
    gc.collect()
    return pending, rss_bytes() - before


def bench_memory(n_pending: int, n_dict: int) -> None:
    join, join_rss = fill_join(n_pending)
    arrays = join.nbytes
    del join
    gc.collect()
    pending, dict_rss = fill_dict(n_dict)
    del pending
    dict_per = dict_rss / n_dict
    per = arrays / n_pending
    emit("label_join_bytes_per_pending", n_pending, per, "bytes", baseline=dict_per,
         ratio=dict_per / per)  # fmt: skip
    rss_per = join_rss / n_pending
    emit("label_join_rss_bytes_per_pending", n_pending, rss_per, "bytes", baseline=dict_per,
         ratio=dict_per / rss_per)  # fmt: skip
    # The whole table at 1e7 against the dict baseline scaled from 1e6: the 1 GiB target.
    dict_total = dict_per * n_pending
    emit("label_join_pending_mib", n_pending, arrays / 2**20, "MiB", baseline=dict_total / 2**20,
         ratio=dict_total / arrays)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also time 1e7 joins")
    args = parser.parse_args(argv)
    bench_memory(10_000_000, 1_000_000)
    bench_throughput(1_000_000, with_monitor=True)
    if args.full:
        bench_throughput(10_000_000, with_monitor=False)


if __name__ == "__main__":
    main()
