"""End-to-end throughput from a real Kafka broker: driftd's pipeline vs a raw kafka-python consume.

Produces N JSON events with 20 features (15 numeric, 5 categorical) and a prediction, builds a
reference profile for them, then in the same run measures

- ``raw_consume``: a plain kafka-python consumer group reading the N records (the baseline);
- ``pipeline``: driftd's loop (KafkaSource -> batch decoding -> schema checks -> windows ->
  3 statistics per feature -> verdicts -> offset commits) over the same records;
- ``processor_only``: decoding and monitoring of the same bytes with no Kafka at all.

Rates are timed from the first record received to the N-th, so group joins are excluded.
Prints one JSON object per line: name, n, value, unit, baseline, ratio (value / baseline).

    python bench/pipeline.py [--events 300000] [--quick]
    DRIFTD_BENCH_BOOTSTRAP=host:port python bench/pipeline.py   # use an existing broker
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

N_NUMERIC = 15
N_CATEGORICAL = 5
CATEGORIES = [f"c{i}" for i in range(12)]


def _columns(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {}
    for j in range(N_NUMERIC):
        cols[f"x{j}"] = rng.normal(j, 1 + j / 10, size=n).round(4)
    for j in range(N_CATEGORICAL):
        cols[f"k{j}"] = rng.choice(CATEGORIES, size=n)
    cols["score"] = rng.random(n).round(4)
    return cols


def _events(n: int, seed: int) -> list[bytes]:
    cols = _columns(n, seed)
    encode = msgspec.json.Encoder().encode
    out = []
    for i in range(n):
        features = {f"x{j}": float(cols[f"x{j}"][i]) for j in range(N_NUMERIC)}
        features.update({f"k{j}": str(cols[f"k{j}"][i]) for j in range(N_CATEGORICAL)})
        out.append(
            encode(
                {
                    "id": f"e{i}",
                    "ts": 1_700_000_000_000 + i,
                    "model": "m",
                    "features": features,
                    "score": float(cols["score"][i]),
                }
            )
        )
    return out


def _config_text(bootstrap: str, topic: str, profile: Path) -> str:
    features = "\n".join(
        f"        {name}: features.{name}"
        for name in [*(f"x{j}" for j in range(N_NUMERIC)), *(f"k{j}" for j in range(N_CATEGORICAL))]
    )
    return f"""
kafka:
  bootstrap_servers: ["{bootstrap}"]
  group_id: bench-{uuid.uuid4().hex[:8]}
  session_timeout: 6s
  heartbeat_interval: 1s
streams:
  - name: events
    topic: {topic}
    fields:
      id: id
      timestamp: ts
      model: model
      features:
{features}
      prediction: score
monitors:
  - name: bench
    streams: [events]
    reference: {profile}
    window: {{type: count, size: 5000}}
    statistics:
      numeric: [ks, psi, js]
      categorical: [linf, psi, js]
"""


def _raw_consume(bootstrap: str, topic: str, n: int) -> float:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"raw-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=20_000,
        fetch_max_bytes=64 << 20,
        max_partition_fetch_bytes=8 << 20,
    )
    seen = 0
    first = None
    while seen < n:
        for records in consumer.poll(timeout_ms=500).values():
            if first is None:
                first = time.perf_counter()
            seen += len(records)
    elapsed = time.perf_counter() - (first or time.perf_counter())
    consumer.close()
    return n / elapsed


def _pipeline(bootstrap: str, topic: str, n: int, profile: Path) -> float:
    from driftd.config import parse_config
    from driftd.daemon import Daemon
    from driftd.health import Health
    from driftd.metrics import build_metrics
    from driftd.monitoring.pipeline import MonitoringProcessor, load_profiles
    from driftd.monitoring.sinks import MetricsSink
    from driftd.sources.kafka import KafkaSource

    cfg = parse_config(_config_text(bootstrap, topic, profile), env={})
    metrics = build_metrics()
    processor = MonitoringProcessor(cfg, load_profiles(cfg), [MetricsSink(metrics.registry)])
    processor.warm_up()
    daemon = Daemon(
        cfg, lambda cb: KafkaSource(cfg.kafka, [topic], cb), processor, metrics, Health()
    )
    seen = 0
    first = None
    while seen < n:
        got = daemon.run_once()
        if got and first is None:
            first = time.perf_counter()
        seen += got
    elapsed = time.perf_counter() - (first or time.perf_counter())
    daemon.stop()
    daemon._shutdown()
    assert processor.monitors[0].windows_closed >= n // 5000 - 1
    return n / elapsed


def _daemon_file(values: list[bytes], profile: Path) -> float:
    """The real daemon loop over an in-memory source: everything but the Kafka client."""
    from driftd.config import parse_config
    from driftd.daemon import Daemon
    from driftd.health import Health
    from driftd.metrics import build_metrics
    from driftd.monitoring.pipeline import MonitoringProcessor, load_profiles
    from driftd.monitoring.sinks import MetricsSink
    from driftd.sources.files import IterSource

    cfg = parse_config(_config_text("127.0.0.1:1", "t", profile), env={})
    metrics = build_metrics()
    processor = MonitoringProcessor(cfg, load_profiles(cfg), [MetricsSink(metrics.registry)])
    processor.warm_up()
    made: list[IterSource] = []
    batches = [values[lo : lo + 20_000] for lo in range(0, len(values), 20_000)]

    def source(on_assignment: Any) -> IterSource:
        made.append(IterSource.of(batches, "t", on_assignment))
        return made[0]

    daemon = Daemon(cfg, source, processor, metrics, Health())
    started = time.perf_counter()
    daemon.run(until=lambda: made[0].exhausted)
    return len(values) / (time.perf_counter() - started)


def _processor_only(values: list[bytes], profile: Path) -> float:
    from driftd.config import parse_config
    from driftd.decoding import StreamDecoder
    from driftd.monitoring.pipeline import MonitoringProcessor, load_profiles

    cfg = parse_config(_config_text("127.0.0.1:1", "t", profile), env={})
    processor = MonitoringProcessor(cfg, load_profiles(cfg), [])
    processor.warm_up()
    decoder = StreamDecoder(cfg.streams[0])
    started = time.perf_counter()
    for lo in range(0, len(values), 5000):
        processor.process(cfg.streams[0], decoder.decode(values[lo : lo + 5000]))
    return len(values) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--quick", action="store_true", help="100,000 events")
    args = parser.parse_args()
    n = 100_000 if args.quick else args.events
    from driftd.app import tune_gc

    # driftd run tunes the garbage collector at start-up; the baseline consumer runs in the
    # same process under the same settings, so the ratio compares the code, not GC policy.
    tune_gc()

    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient

    from driftd.reference import BuildOptions, build_profile, save_profile

    broker = None
    bootstrap = os.environ.get("DRIFTD_BENCH_BOOTSTRAP")
    if not bootstrap:
        from tests.kafka.broker import KafkaBroker

        broker = KafkaBroker().start()
        bootstrap = broker.bootstrap
    try:
        with tempfile.TemporaryDirectory() as tmp:
            train = Path(tmp) / "train.parquet"
            pq.write_table(pa.table(_columns(50_000, seed=1)), train)
            profile = save_profile(
                build_profile(train, BuildOptions(prediction="score")), Path(tmp) / "bench.profile"
            )
            values = _events(n, seed=2)
            topic = f"bench-{uuid.uuid4().hex[:8]}"
            admin = KafkaAdminClient(bootstrap_servers=bootstrap)
            admin.create_topics(
                {topic: {"num_partitions": 1, "replication_factor": 1}}, wait_for_metadata=True
            )
            admin.close()
            producer = KafkaProducer(
                bootstrap_servers=bootstrap, linger_ms=20, batch_size=1 << 20, compression_type=None
            )
            for v in values:
                producer.send(topic, v)
            producer.flush()
            producer.close()
            size = sum(len(v) for v in values) / n

            raw = _raw_consume(bootstrap, topic, n)
            pipe = _pipeline(bootstrap, topic, n, profile)
            only = _processor_only(values, profile)
            loop = _daemon_file(values, profile)
            rows = [
                {
                    "name": "raw_consume",
                    "n": n,
                    "value": round(raw),
                    "unit": "events/s",
                    "baseline": round(raw),
                    "ratio": 1.0,
                    "bytes_per_event": round(size),
                },
                {
                    "name": "pipeline",
                    "n": n,
                    "value": round(pipe),
                    "unit": "events/s",
                    "baseline": round(raw),
                    "ratio": round(pipe / raw, 3),
                    "features": N_NUMERIC + N_CATEGORICAL,
                    "statistics_per_feature": 3,
                },
                {
                    "name": "daemon_in_memory_source",
                    "n": n,
                    "value": round(loop),
                    "unit": "events/s",
                    "baseline": round(raw),
                    "ratio": round(loop / raw, 3),
                },
                {
                    "name": "processor_only",
                    "n": n,
                    "value": round(only),
                    "unit": "events/s",
                    "baseline": round(raw),
                    "ratio": round(only / raw, 3),
                },
            ]
            for row in rows:
                print(json.dumps(row), flush=True)
    finally:
        if broker is not None:
            broker.cleanup()


if __name__ == "__main__":
    main()
