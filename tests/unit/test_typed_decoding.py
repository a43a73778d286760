"""Typed decoding (the monitors' feature kinds known to the decoder) changes nothing but speed.

The daemon hands each stream's decoder the kinds of its features, so numeric features arrive as
float64 columns and no value's type is checked again. Any value in any field must still give the
events, rejections, schema anomalies and verdicts of the untyped path, batch after batch.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftd.config import parse_config
from driftd.decoding import StreamDecoder
from driftd.monitoring.pipeline import MonitoringProcessor, load_profiles
from driftd.synthetic import events
from tests.jsonvalues import JSON_VALUES
from tests.processing import Collect

PROFILE = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"
CONFIG = parse_config(
    f"""
kafka: {{bootstrap_servers: ["127.0.0.1:9"], group_id: g}}
streams:
  - name: p
    topic: t
    fields:
      id: id
      timestamp: ts
      features: {{amount: features.amount, age: features.age, country: features.country}}
monitors:
  - name: m
    streams: [p]
    reference: {PROFILE}
    features: [amount, age, country]
    prediction_drift: false
    window: {{type: count, size: 50}}
""",
    env={},
)
CLEAN = [json.dumps(e).encode() for e in events(200, seed=5)]


def _processor() -> tuple[MonitoringProcessor, Collect]:
    collect = Collect()
    return MonitoringProcessor(CONFIG, load_profiles(CONFIG), [collect]), collect


def _outcome(values: list[bytes | None], typed: bool, batch: int) -> list[Any]:
    """What the daemon would make of ``values``: rejections by record and verdicts."""
    processor, collect = _processor()
    stream = CONFIG.streams[0]
    kinds = processor.feature_kinds("p") if typed else None
    decoder = StreamDecoder(stream, clock=lambda: 2e9, kinds=kinds)
    rejected: list[tuple[int, str]] = []
    for lo in range(0, len(values), batch):
        decoded = decoder.decode(values[lo : lo + batch])
        rejected += [(lo + r.index, r.error.reason) for r in decoded.rejected]
        refused = processor.check(stream, decoded)
        rejected += [(lo + int(decoded.index[r.index]), r.error.reason) for r in refused]
        keep = sorted(set(range(len(decoded))) - {r.index for r in refused})
        processor.process(stream, decoded.take(keep) if refused else decoded)
    processor.flush()
    verdicts = [
        (
            v.window_index,
            v.feature,
            v.statistic,
            None if math.isnan(v.value) else v.value,
            v.state,
            v.detail,
        )
        for v in collect.verdicts
    ]
    return [sorted(rejected), verdicts]


def test_the_decoder_reads_the_kinds_the_monitors_agree_on() -> None:
    processor, _ = _processor()
    kinds = processor.feature_kinds("p")
    assert kinds == {"amount": "numeric", "age": "numeric", "country": "categorical"}
    batch = StreamDecoder(CONFIG.streams[0], clock=lambda: 2e9, kinds=kinds).decode(CLEAN)
    assert sorted(batch.numbers) == ["age", "amount"]
    for name in ("amount", "age"):
        expected = np.array([math.nan if v is None else v for v in batch.features[name]])
        np.testing.assert_array_equal(batch.numbers[name], expected)
    # One hostile value anywhere and the batch is read untyped (no float columns).
    doc = json.loads(CLEAN[3])
    doc["features"]["age"] = "41"
    mixed = [*CLEAN[:3], json.dumps(doc).encode(), *CLEAN[4:]]
    assert StreamDecoder(CONFIG.streams[0], kinds=kinds).decode(mixed).numbers == {}


def test_clean_and_hostile_streams_give_the_untyped_outcome_in_every_batch_size() -> None:
    values: list[bytes | None] = list(CLEAN)
    hostile = ["7", True, 1e308 * 10, 10**400, None, [1.5], {"a": 1}, -0.0, 2**70, "DE", 3]
    for i, value in enumerate(hostile):
        doc = json.loads(CLEAN[10 + 7 * i])
        doc["features"]["amount" if i % 2 else "country"] = value
        doc["features"]["age"] = value if i % 3 == 0 else doc["features"]["age"]
        values[10 + 7 * i] = json.dumps(doc).encode()
    values[150] = None  # a tombstone
    values[151] = b"{not json"
    whole = _outcome(values, typed=False, batch=len(values))
    assert whole[0] and whole[1]  # something was rejected, and windows closed
    for batch in (1, 100, 20_000):
        assert _outcome(values, typed=True, batch=batch) == whole


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=JSON_VALUES,
    field=st.sampled_from(["amount", "age", "country", "id", "ts"]),
    at=st.integers(min_value=0, max_value=len(CLEAN) - 1),
)
def test_any_json_value_in_any_field_gives_the_untyped_outcome(
    value: Any, field: str, at: int
) -> None:
    doc = json.loads(CLEAN[at])
    if field in ("id", "ts"):
        doc[field] = value
    else:
        doc["features"][field] = value
    values: list[bytes | None] = [*CLEAN[:at], json.dumps(doc).encode(), *CLEAN[at + 1 :]]
    assert _outcome(values, typed=True, batch=64) == _outcome(values, typed=False, batch=64)
