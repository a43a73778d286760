"""End-to-end throughput from a real Kafka broker, on both Kafka clients, in one run.

Produces N JSON events with 20 features (15 numeric, 5 categorical) and a prediction, builds a
reference profile for them, then measures, interleaved over ``--rounds`` rounds (best kept):

- ``raw_kafka_python`` / ``raw_librdkafka``: a plain consumer group reading the N records;
- ``decode_kafka_python`` / ``decode_librdkafka``: the same plus driftd's batch decoding of
  every record (StreamDecoder): the client-plus-decoding floor;
- ``pipeline_kafka_python`` / ``pipeline_librdkafka``: driftd's loop (source -> decoding ->
  schema checks -> windows -> 3 statistics per feature -> verdicts -> offset commits);
- ``daemon_in_memory_source`` and ``processor_only``: the loop and the processing with no Kafka.

``value`` is events/s from the first record received to the N-th (group joins excluded),
``with_startup`` from creating the client, ``cpu_us_per_event`` the process CPU (all threads)
per event. Prints one JSON object per line: name, n, value, unit, baseline (named by
``baseline_name``), ratio (value / baseline).

    python bench/pipeline.py [--events 300000] [--quick] [--rounds 2]
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
from dataclasses import dataclass
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


def _config_text(bootstrap: str, topic: str, profile: Path, client: str = "kafka-python") -> str:
    features = "\n".join(
        f"        {name}: features.{name}"
        for name in [*(f"x{j}" for j in range(N_NUMERIC)), *(f"k{j}" for j in range(N_CATEGORICAL))]
    )
    return f"""
kafka:
  bootstrap_servers: ["{bootstrap}"]
  client: {client}
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


@dataclass(frozen=True)
class Timing:
    """One measured read of the topic: wall rates with and without start-up, CPU per event."""

    rate: float  # events/s from the first record to the N-th
    rate_with_startup: float  # events/s from creating the client to the N-th record
    cpu_us: float  # process CPU (every thread) per event, first record to the N-th


class _Clock:
    def __init__(self, n: int) -> None:
        self.n = n
        self.started = (time.perf_counter(), time.process_time())
        self.first: tuple[float, float] | None = None

    def saw_first(self) -> None:
        if self.first is None:
            self.first = (time.perf_counter(), time.process_time())

    def done(self) -> Timing:
        end = (time.perf_counter(), time.process_time())
        assert self.first is not None
        wall = end[0] - self.first[0]
        return Timing(
            rate=self.n / wall,
            rate_with_startup=self.n / (end[0] - self.started[0]),
            cpu_us=(end[1] - self.first[1]) / self.n * 1e6,
        )


def _kafka_python_read(bootstrap: str, topic: str, n: int, decode: Any = None) -> Timing:
    """A plain kafka-python consumer group reading the N records (decoding each batch with
    ``decode`` when given: the client-plus-decoding floor)."""
    from kafka import KafkaConsumer

    clock = _Clock(n)
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
    while seen < n:
        for records in consumer.poll(timeout_ms=500).values():
            clock.saw_first()
            seen += len(records)
            if decode is not None:
                decode([r.value for r in records])
    timing = clock.done()
    consumer.close()
    return timing


def _librdkafka_read(bootstrap: str, topic: str, n: int, decode: Any = None) -> Timing:
    """The same on confluent-kafka's consumer (librdkafka), polled as RdKafkaSource does."""
    from confluent_kafka import Consumer

    clock = _Clock(n)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"raw-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.max.bytes": 64 << 20,
            "max.partition.fetch.bytes": 8 << 20,
            "queued.min.messages": 100_000,  # as RdKafkaSource sets them
            "fetch.queue.backoff.ms": 10,
        }
    )
    consumer.subscribe([topic])
    seen = 0
    while seen < n:
        first = consumer.poll(0.5)
        if first is None:
            continue
        messages = [first, *consumer.consume(19_999, 0)]
        clock.saw_first()
        values = [m.value() for m in messages if m.error() is None]
        seen += len(values)
        if decode is not None:
            decode(values)
    timing = clock.done()
    consumer.close()
    return timing


def _pipeline(bootstrap: str, topic: str, n: int, profile: Path, client: str) -> Timing:
    """driftd's loop on ``client``: source -> decoding -> schema checks -> windows -> 3
    statistics per feature -> verdicts -> offset commits."""
    from driftd.app import make_source
    from driftd.config import parse_config
    from driftd.daemon import Daemon
    from driftd.health import Health
    from driftd.metrics import build_metrics
    from driftd.monitoring.pipeline import MonitoringProcessor, load_profiles
    from driftd.monitoring.sinks import MetricsSink

    cfg = parse_config(_config_text(bootstrap, topic, profile, client), env={})
    metrics = build_metrics()
    processor = MonitoringProcessor(cfg, load_profiles(cfg), [MetricsSink(metrics.registry)])
    processor.warm_up()
    clock = _Clock(n)
    daemon = Daemon(
        cfg, lambda cb: make_source(cfg.kafka, [topic], cb), processor, metrics, Health()
    )
    seen = 0
    while seen < n:
        got = daemon.run_once()
        if got:
            clock.saw_first()
        seen += got
    timing = clock.done()
    daemon.stop()
    daemon._shutdown()
    assert processor.monitors[0].windows_closed >= n // 5000 - 1
    return timing


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
    decoder = StreamDecoder(cfg.streams[0], kinds=processor.feature_kinds("events"))
    started = time.perf_counter()
    for lo in range(0, len(values), 5000):
        processor.process(cfg.streams[0], decoder.decode(values[lo : lo + 5000]))
    return len(values) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--quick", action="store_true", help="100,000 events")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (best kept)")
    args = parser.parse_args()
    n = 100_000 if args.quick else args.events
    from driftd.app import tune_gc

    # driftd run tunes the garbage collector at start-up; the baseline consumer runs in the
    # same process under the same settings, so the ratio compares the code, not GC policy.
    tune_gc()

    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient

    from driftd.config import parse_config
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

            from driftd.decoding import StreamDecoder
            from driftd.monitoring.pipeline import MonitoringProcessor, load_profiles

            # The decoder the daemon builds: typed by the kinds of the monitors' features.
            floor_cfg = parse_config(_config_text(bootstrap, topic, profile), env={})
            kinds = MonitoringProcessor(floor_cfg, load_profiles(floor_cfg), []).feature_kinds(
                "events"
            )
            decoder = StreamDecoder(floor_cfg.streams[0], kinds=kinds)
            runs: dict[str, list[Timing]] = {}
            for _ in range(args.rounds):  # interleaved: every reader once per round
                for name, run in [
                    ("raw_kafka_python", lambda: _kafka_python_read(bootstrap, topic, n)),
                    ("raw_librdkafka", lambda: _librdkafka_read(bootstrap, topic, n)),
                    (
                        "decode_kafka_python",
                        lambda: _kafka_python_read(bootstrap, topic, n, decoder.decode),
                    ),
                    (
                        "decode_librdkafka",
                        lambda: _librdkafka_read(bootstrap, topic, n, decoder.decode),
                    ),
                    (
                        "pipeline_kafka_python",
                        lambda: _pipeline(bootstrap, topic, n, profile, "kafka-python"),
                    ),
                    (
                        "pipeline_librdkafka",
                        lambda: _pipeline(bootstrap, topic, n, profile, "librdkafka"),
                    ),
                ]:
                    runs.setdefault(name, []).append(run())
            best = {name: max(t, key=lambda t: t.rate) for name, t in runs.items()}
            only = _processor_only(values, profile)
            loop = _daemon_file(values, profile)

            def row(name: str, baseline: str, **extra: Any) -> dict[str, Any]:
                t, b = best[name], best[baseline]
                return {
                    "name": name,
                    "n": n,
                    "value": round(t.rate),
                    "unit": "events/s",
                    "baseline": round(b.rate),
                    "baseline_name": baseline,
                    "ratio": round(t.rate / b.rate, 3),
                    "cpu_us_per_event": round(t.cpu_us, 2),
                    "with_startup": round(t.rate_with_startup),
                    **extra,
                }

            rows = [
                row("raw_kafka_python", "raw_kafka_python", bytes_per_event=round(size)),
                row("raw_librdkafka", "raw_kafka_python"),
                row("decode_kafka_python", "raw_kafka_python"),
                row("decode_librdkafka", "raw_librdkafka"),
                row(
                    "pipeline_kafka_python",
                    "raw_kafka_python",
                    features=N_NUMERIC + N_CATEGORICAL,
                    statistics_per_feature=3,
                ),
                row(
                    "pipeline_librdkafka",
                    "decode_librdkafka",
                    ratio_to_raw=round(
                        best["pipeline_librdkafka"].rate / best["raw_librdkafka"].rate, 3
                    ),
                ),
            ]
            raw = best["raw_kafka_python"].rate
            rows += [
                {
                    "name": "daemon_in_memory_source",
                    "n": n,
                    "value": round(loop),
                    "unit": "events/s",
                    "baseline": round(raw),
                    "baseline_name": "raw_kafka_python",
                    "ratio": round(loop / raw, 3),
                },
                {
                    "name": "processor_only",
                    "n": n,
                    "value": round(only),
                    "unit": "events/s",
                    "baseline": round(raw),
                    "baseline_name": "raw_kafka_python",
                    "ratio": round(only / raw, 3),
                },
            ]
            for r in rows:
                print(json.dumps(r), flush=True)
    finally:
        if broker is not None:
            broker.cleanup()


if __name__ == "__main__":
    main()
