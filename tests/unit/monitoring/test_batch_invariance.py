"""The same stream split into batches of any size gives the same verdicts, schema rates included."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftd.config import parse_config
from driftd.decoding import StreamDecoder
from driftd.monitoring.pipeline import MonitoringProcessor, load_profiles
from driftd.records import Verdict
from driftd.synthetic import events

PROFILE = Path(__file__).resolve().parents[2] / "data" / "fraud.profile"
WINDOW = 100


def _config(window: str) -> Any:
    return parse_config(
        f"""
kafka: {{bootstrap_servers: ["127.0.0.1:9"], group_id: g}}
streams:
  - name: p
    topic: t
    fields:
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


class _Collect:
    def __init__(self) -> None:
        self.verdicts: list[Verdict] = []

    def publish(self, verdicts: list[Verdict]) -> None:
        self.verdicts.extend(verdicts)


def _stream() -> list[bytes]:
    """100 clean events, 300 with a wrong-typed or missing feature, then clean again."""
    out = []
    for i, event in enumerate(events(700, seed=3)):
        if 100 <= i < 400:
            event["features"]["amount"] = "not a number"
            del event["features"]["country"]
        if i % 97 == 0:
            event["features"]["age"] = 500  # out of the reference range
        out.append(json.dumps(event).encode())
    return out


STREAM = _stream()


def _run(
    values: Sequence[bytes], cuts: Sequence[int], window: str, typed: bool = True
) -> list[tuple[Any, ...]]:
    """Verdicts over ``values`` cut at ``cuts``; decoded typed from the monitors' kinds, as
    the daemon decodes, or (``typed=False``) every value as it is."""
    config = _config(window)
    collect = _Collect()
    processor = MonitoringProcessor(config, load_profiles(config), [collect])
    stream = config.streams[0]
    decoder = StreamDecoder(stream, kinds=processor.feature_kinds("p") if typed else None)
    bounds = [0, *sorted(set(cuts)), len(values)]
    for lo, hi in itertools.pairwise(bounds):
        if hi > lo:
            processor.process(stream, decoder.decode(values[lo:hi]))
    processor.flush()
    return [
        (
            v.window_index,
            v.feature,
            v.statistic,
            None if math.isnan(v.value) else round(v.value, 12),
            v.state,
            v.detail,
            v.window_size,
        )
        for v in collect.verdicts
    ]


COUNT = f"{{type: count, size: {WINDOW}}}"
TUMBLING = "{type: tumbling, every: 1s, min_samples: 10}"


def _schema(verdicts: list[tuple[Any, ...]]) -> list[tuple[int, str, float]]:
    return [(v[0], v[1], v[3]) for v in verdicts if v[2] == "schema"]


def test_schema_rates_are_per_window_for_batches_of_1_100_and_20000() -> None:
    n = len(STREAM)
    whole = _run(STREAM, [], COUNT)
    for size in (1, 100, 20_000):
        assert _run(STREAM, list(range(size, n, size)), COUNT) == whole
        assert _run(STREAM, list(range(size, n, size)), COUNT, typed=False) == whole
    rates = _schema(whole)
    amount = [rate for _, feature, rate in rates if feature == "amount"]
    # Window 0 is clean; windows 1-3 are all wrong-typed; nothing is ever above 1.
    assert amount[0] == 0.0 and amount[1:4] == [1.0, 1.0, 1.0] and amount[4] == 0.0
    country = [rate for _, feature, rate in rates if feature == "country"]
    assert all(r > 0.9 for r in country[1:4]) and country[0] == 0.0
    assert max(rate for *_, rate in rates) <= 1.0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cuts=st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=30),
    window=st.sampled_from([COUNT, TUMBLING]),
)
def test_any_split_gives_the_verdicts_of_one_pass(cuts: list[int], window: str) -> None:
    assert _run(STREAM, cuts, window) == _run(STREAM, [], window)


def test_the_rate_never_exceeds_one_even_with_missing_beyond_the_reference() -> None:
    verdicts = _run(STREAM, [7, 150, 333], COUNT)
    assert all(0.0 <= v[3] <= 1.0 for v in verdicts if v[2] == "schema")
    assert np.isfinite([v[3] for v in verdicts if v[2] == "schema"]).all()
