"""Memory over a long stream: RSS after 1 M and after 3 M events through the real daemon loop.

The stream is the one a production daemon sees: predictions with 2 % garbage records, labels
for every prediction arriving late (a label join with a TTL), a concept monitor with river
detectors, a data-drift monitor with a schema check, and alerting into a scratch outbox. It
runs through ``Daemon`` over an in-memory ``IterSource`` (no Kafka client, whose buffers are
not driftd's). Prints one JSON object per line; the ``rss_3m_over_1m`` row is the ratio the
README promises stays within 1.1 (flat memory).

With ``--kafka`` the same stream is produced to a real broker (the test harness's, or
``--bootstrap``) and read by ``python -m driftd run`` as a subprocess, with a dead-letter topic,
a verdict topic, checkpoints and alerting: the RSS of that process is what a Kubernetes limit
sees, kafka-python's buffers included.

    python bench/memory.py                # 3,000,000 events
    python bench/memory.py --events 600000
    python bench/memory.py --kafka        # the daemon process on a real broker
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROFILE = Path(__file__).resolve().parents[1] / "tests" / "data" / "fraud.profile"
BATCH = 5000


def rss_bytes() -> int:
    """Resident set size of this process, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _config(outbox: Path) -> str:
    return f"""
kafka: {{bootstrap_servers: ["127.0.0.1:9"], group_id: bench}}
streams:
  - name: predictions
    topic: predictions
    fields: {{id: request_id, timestamp: ts, prediction: score,
              features: {{amount: features.amount, age: features.age,
                          country: features.country, device: features.device}}}}
  - name: labels
    topic: labels
    fields: {{id: request_id, label: label}}
monitors:
  - name: fraud
    streams: [predictions, labels]
    reference: {PROFILE}
    features: [amount, age, country, device]
    window: {{type: count, size: 5000}}
    concept:
      join: {{ttl: 1h}}
      detectors: [{{type: adwin}}, {{type: page_hinkley}}]
      performance: {{window: 5000, metrics: [accuracy]}}
alerting:
  outbox_dir: {outbox}
  route: {{receiver: hook, group_by: [monitor], group_wait: 0s, group_interval: 1m}}
  receivers: [{{name: hook, type: webhook, url: "http://127.0.0.1:9/hook"}}]
"""


def _stream(n: int, marks: dict[int, Any]) -> Iterator[tuple[str, list[bytes]]]:
    """Predictions (2 % garbage), then their labels 20,000 events later, in batches."""
    from driftd.synthetic import events

    encode = msgspec.json.Encoder().encode
    rng = random.Random(5)
    pending: list[bytes] = []
    produced = 0
    seed = 0
    while produced < n:
        seed += 1
        chunk = list(events(50_000, seed=seed, first_id=produced))
        for lo in range(0, len(chunk), BATCH):
            batch = []
            for event in chunk[lo : lo + BATCH]:
                label = {"request_id": event["request_id"], "label": event.pop("label")}
                pending.append(encode(label))
                batch.append(
                    b'{"request_id": "x", "ts": nope' if rng.random() < 0.02 else encode(event)
                )
            produced += len(batch)
            yield "predictions", batch
            if len(pending) > 20_000:
                yield "labels", pending[:BATCH]
                del pending[:BATCH]
            for mark in [m for m in marks if m <= produced and marks[m] is None]:
                # No gc.collect() here: garbage only a full collection frees is memory the
                # daemon holds too, and must show.
                marks[mark] = (rss_bytes(), time.perf_counter())
            if produced >= n:
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--kafka", action="store_true", help="the daemon process on a broker")
    parser.add_argument("--bootstrap", help="a broker to use instead of starting one")
    args = parser.parse_args()
    if args.kafka or args.bootstrap:
        rows = on_kafka(args.events, args.bootstrap)
    else:
        rows = in_memory(args.events)
    for row in rows:
        print(json.dumps(row), flush=True)


def _rows(
    n: int,
    first: int,
    before: int,
    *,
    mid: tuple[int, float],
    end: tuple[int, float],
    started: float,
    prefix: str = "",
) -> list[dict[str, Any]]:
    (rss_1m, t_1m), (rss_3m, t_3m) = mid, end
    return [
        {"name": f"{prefix}rss_start", "n": 0, "value": round(before / 2**20, 1), "unit": "MiB"},
        {
            "name": f"{prefix}rss_after_first_third",
            "n": first,
            "value": round(rss_1m / 2**20, 1),
            "unit": "MiB",
            "events_per_s": round(first / (t_1m - started)),
        },
        {
            "name": f"{prefix}rss_at_end",
            "n": n,
            "value": round(rss_3m / 2**20, 1),
            "unit": "MiB",
            "events_per_s": round(n / (t_3m - started)),
        },
        {
            "name": f"{prefix}rss_3m_over_1m",
            "n": n,
            "value": round(rss_3m / rss_1m, 3),
            "unit": "ratio",
            "baseline": round(rss_1m / 2**20, 1),
            # Higher is better like every ratio here: 1 / growth.
            "ratio": round(rss_1m / rss_3m, 3),
        },
    ]


def _kafka_config(bootstrap: str, topics: dict[str, str], port: int, tmp: Path) -> str:
    base = _config(tmp / "outbox")
    base = base.replace(
        'kafka: {bootstrap_servers: ["127.0.0.1:9"], group_id: bench}',
        f"""kafka:
  bootstrap_servers: ["{bootstrap}"]
  group_id: bench-{topics["predictions"]}
  auto_offset_reset: earliest
  dead_letter_topic: {topics["dlq"]}
http: {{host: 127.0.0.1, port: {port}}}
state: {{dir: {tmp / "state"}, checkpoint_interval: 5s}}
events: {{topic: {topics["verdicts"]}}}
logging: {{level: warning}}""",
    )
    return base.replace("topic: predictions", f"topic: {topics['predictions']}").replace(
        "topic: labels", f"topic: {topics['labels']}"
    )


def _pid_rss(pid: int) -> tuple[int, int]:
    """VmRSS and VmHWM (peak) of process ``pid``, in bytes."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) * 1024
    return found["VmRSS"], found["VmHWM"]


def _consumed(port: int) -> int:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return -1
    return int(
        sum(
            s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.name == "driftd_records_consumed_total"
        )
    )


def on_kafka(n: int, bootstrap: str | None) -> list[dict[str, Any]]:
    """The stream through ``python -m driftd run`` on a real broker; RSS of that process."""
    import os
    import subprocess
    import uuid

    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    from tests.kafka.broker import KafkaBroker, free_port

    broker = None
    if bootstrap is None:
        broker = KafkaBroker().start()
        bootstrap = broker.bootstrap
    suffix = uuid.uuid4().hex[:8]
    topics = {k: f"mem-{k}-{suffix}" for k in ("predictions", "labels", "dlq", "verdicts")}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(t, 1, 1) for t in topics.values()])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=1 << 20)
    marks: dict[int, Any] = {}
    records = 0
    started = time.perf_counter()
    for kind, batch in _stream(n, marks):
        for value in batch:
            producer.send(topics[kind], value)
        records += len(batch)
    producer.flush()
    producer.close()
    print(
        json.dumps(
            {
                "name": "produced",
                "value": records,
                "unit": "records",
                "seconds": round(time.perf_counter() - started, 1),
            }
        ),
        file=sys.stderr,
        flush=True,
    )
    port = free_port()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Path(tmp) / "driftd.yaml"
            cfg.write_text(_kafka_config(bootstrap, topics, port, Path(tmp)))
            log = (Path(tmp) / "daemon.log").open("wb")
            proc = subprocess.Popen(
                [sys.executable, "-m", "driftd", "run", "-c", str(cfg)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=os.environ.copy(),
            )
            try:
                while _consumed(port) < 0:
                    if proc.poll() is not None:
                        raise RuntimeError(Path(log.name).read_text()[-3000:])
                    time.sleep(0.2)
                before = _pid_rss(proc.pid)[0]
                started = time.perf_counter()
                first = records // 3
                mid = None
                last, still = -1, 0
                while True:
                    consumed = _consumed(port)
                    if mid is None and consumed >= first:
                        mid = (_pid_rss(proc.pid)[0], time.perf_counter())
                    if consumed >= records:
                        break
                    # A stall of 60 s ends the run with what was read (printed, not hidden).
                    still = still + 1 if consumed == last else 0
                    if still > 120 or proc.poll() is not None:
                        raise RuntimeError(f"stalled at {consumed} of {records} records")
                    last = consumed
                    time.sleep(0.5)
                rss_end, peak = _pid_rss(proc.pid)
                end = (rss_end, time.perf_counter())
            finally:
                proc.terminate()
                proc.wait(60)
                log.close()
    finally:
        if broker is not None:
            broker.cleanup()
    assert mid is not None
    rows = _rows(records, first, before, mid=mid, end=end, started=started, prefix="kafka_")
    rows.append(
        {"name": "kafka_rss_peak", "n": records, "value": round(peak / 2**20, 1), "unit": "MiB"}
    )
    return rows


def in_memory(n: int) -> list[dict[str, Any]]:
    """The stream through the daemon loop over an in-memory source, in this process."""
    first = n // 3

    from driftd.app import tune_gc
    from driftd.config import parse_config
    from driftd.daemon import Daemon
    from driftd.health import Health
    from driftd.metrics import build_metrics
    from driftd.monitoring.pipeline import MonitoringProcessor, load_profiles
    from driftd.monitoring.sinks import AlertingSink, MetricsSink
    from driftd.sources.files import IterSource

    tune_gc()
    with tempfile.TemporaryDirectory() as tmp:
        from driftd.alerting import build_alerting

        config = parse_config(_config(Path(tmp) / "outbox"), env={})
        metrics = build_metrics()
        assert config.alerting is not None
        alerting = build_alerting(config.alerting, metrics.registry)
        alert_sink = AlertingSink(alerting)
        processor = MonitoringProcessor(
            config, load_profiles(config), [MetricsSink(metrics.registry), alert_sink]
        )
        processor.warm_up()
        marks: dict[int, Any] = {first: None, n: None}
        made: list[IterSource] = []

        def source(on_assignment: Any) -> IterSource:
            made.append(IterSource(_stream(n, marks), ["labels", "predictions"], on_assignment))
            return made[0]

        daemon = Daemon(
            config,
            source,
            processor,
            metrics,
            Health(),
            before_commit=[alert_sink.before_commit],
            on_turn=[alert_sink.on_turn],
        )
        started = time.perf_counter()
        before = rss_bytes()
        daemon.run(until=lambda: made[0].exhausted)
        alerting.close(timeout=1.0)
    return _rows(n, first, before, mid=marks[first], end=marks[n], started=started)


if __name__ == "__main__":
    main()
