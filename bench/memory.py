"""Memory over a long stream: RSS after 1 M and after 3 M events through the real daemon loop.

The stream is the one a production daemon sees: predictions with 2 % garbage records, labels
for every prediction arriving late (a label join with a TTL), a concept monitor with river
detectors, a data-drift monitor with a schema check, and alerting into a scratch outbox. It
runs through ``Daemon`` over an in-memory ``IterSource`` (no Kafka client, whose buffers are
not driftd's). Prints one JSON object per line; the ``rss_3m_over_1m`` row is the ratio the
README promises stays within 1.1 (flat memory).

    python bench/memory.py                # 3,000,000 events
    python bench/memory.py --events 600000
"""

from __future__ import annotations

import argparse
import gc
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
                gc.collect()
                marks[mark] = (rss_bytes(), time.perf_counter())
            if produced >= n:
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3_000_000)
    args = parser.parse_args()
    n = args.events
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
        (rss_1m, t_1m), (rss_3m, t_3m) = marks[first], marks[n]
        alerting.close(timeout=1.0)
    rows = [
        {"name": "rss_start", "n": 0, "value": round(before / 2**20, 1), "unit": "MiB"},
        {
            "name": "rss_after_first_third",
            "n": first,
            "value": round(rss_1m / 2**20, 1),
            "unit": "MiB",
            "events_per_s": round(first / (t_1m - started)),
        },
        {
            "name": "rss_at_end",
            "n": n,
            "value": round(rss_3m / 2**20, 1),
            "unit": "MiB",
            "events_per_s": round(n / (t_3m - started)),
        },
        {
            "name": "rss_3m_over_1m",
            "n": n,
            "value": round(rss_3m / rss_1m, 3),
            "unit": "ratio",
            "baseline": round(rss_1m / 2**20, 1),
            # Higher is better like every ratio here: 1 / growth.
            "ratio": round(rss_1m / rss_3m, 3),
        },
    ]
    for row in rows:
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
