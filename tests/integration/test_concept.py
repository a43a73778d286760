"""Concept drift through the real broker: delayed, shuffled labels; a restart mid-stream."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from driftd.app import Runtime
from driftd.config import parse_config
from driftd.synthetic import events
from tests.integration.helpers import Background, produce, wait_until

pytestmark = pytest.mark.integration

PROFILE = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"
MAX_BYTES = 16 * 1024 * 1024


def _config(bootstrap: str, preds: str, labels: str, state: Path):  # type: ignore[no-untyped-def]
    return parse_config(
        f"""
kafka:
  bootstrap_servers: ["{bootstrap}"]
  group_id: g-{preds}
  session_timeout: 6s
  heartbeat_interval: 1s
  poll_timeout: 200ms
http: {{host: 127.0.0.1, port: 0}}
state: {{dir: {state}, checkpoint_interval: 1s}}
streams:
  - name: predictions
    topic: {preds}
    fields: {{id: request_id, timestamp: ts, features: {{amount: features.amount}},
              prediction: score}}
  - name: labels
    topic: {labels}
    fields: {{id: request_id, label: label}}
monitors:
  - name: fraud
    streams: [predictions, labels]
    reference: {PROFILE}
    features: [amount]
    window: {{type: count, size: 2000}}
    concept:
      join: {{ttl: 3600, max_memory_bytes: {MAX_BYTES}}}
      detectors: [{{type: adwin}}, {{type: hddm_a}}]
      performance: {{window: 1000, metrics: [accuracy]}}
""",
        env={},
    )


def _split(evs: list[dict], rng: random.Random) -> tuple[list[dict], list[dict]]:
    labels = [{"request_id": e["request_id"], "label": e.pop("label")} for e in evs]
    rng.shuffle(labels)  # out of order
    return evs, labels


def _concept(runtime: Runtime) -> dict:  # type: ignore[type-arg]
    return runtime.daemon.processor.status()["concept"]["fraud"]


def _detections(runtime: Runtime) -> float:
    reg = runtime.metrics.registry
    return sum(
        reg.get_sample_value(
            "driftd_concept_drift_detections_total", {"monitor": "fraud", "detector": d}
        )
        or 0.0
        for d in ("adwin", "hddm_a")
    )


def test_concept_change_detected_after_flip_only_and_restart_keeps_pending(
    kafka_bootstrap: str, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    preds, labels = make_topic("preds"), make_topic("labels")
    cfg = _config(kafka_bootstrap, preds, labels, tmp_path / "state")
    rng = random.Random(5)

    clean, clean_labels = _split(list(events(8000, seed=31)), rng)
    produce(kafka_bootstrap, preds, clean)
    # Labels for the first 6,000 predictions only (shuffled); 2,000 stay pending over a restart.
    early = [x for x in clean_labels if int(x["request_id"][1:]) < 6000]
    late = [x for x in clean_labels if int(x["request_id"][1:]) >= 6000]
    produce(kafka_bootstrap, labels, early)

    first = Runtime(cfg)
    run = Background(first.run)
    try:
        wait_until(
            lambda: (
                _concept(first)["join"]["matched"] >= 6000
                and _concept(first)["join"]["pending"] == 2000
            ),
            90,
            "6,000 joined, 2,000 pending",
        )
    except AssertionError:
        raise AssertionError(str(first.daemon.processor.status())) from None
    assert _detections(first) == 0  # no concept drift before the change
    first.daemon.stop()
    run.join(60)

    # The same stream after a restart: the 2,000 pending predictions must still be waiting.
    flipped, flipped_labels = _split(list(events(8000, seed=32, flip=True, first_id=8000)), rng)
    produce(kafka_bootstrap, labels, late)
    produce(kafka_bootstrap, preds, flipped)
    produce(kafka_bootstrap, labels, flipped_labels)
    second = Runtime(cfg)
    run = Background(second.run)
    try:
        wait_until(lambda: _concept(second)["join"]["matched"] >= 16000, 90, "all 16,000 joined")
        join = _concept(second)["join"]
        assert join["matched"] == 16000  # restored count + every pending one + the new ones
        assert join["pending"] == 0
        assert join["expired"] == 0 and join["evicted"] == 0
        assert join["unmatched_labels"] == 0  # no label lost its prediction
        assert join["pending_bytes"] <= MAX_BYTES
        wait_until(lambda: _detections(second) > 0, 30, "a concept-drift detection")
        # The flipped labelling rule makes the model mostly wrong. The detectors may fire
        # before the first flipped performance window closes: wait for that window.
        wait_until(
            lambda: _concept(second)["performance"]["last"]["accuracy"] < 0.5,
            30,
            "a closed window of flipped labels with accuracy below 0.5",
        )
    finally:
        second.daemon.stop()
        run.join(60)
