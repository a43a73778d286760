"""StreamDecoder: batches of any JSON, event times within a plausible range."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftd.config.models import StreamConfig
from driftd.decoding import StreamDecoder

NOW = 1_800_000_000.0  # 2027-01-15


def _decoder(unit: str = "ms") -> StreamDecoder:
    cfg = StreamConfig.model_validate(
        {
            "name": "p",
            "topic": "t",
            "timestamp_unit": unit,
            "fields": {"id": "id", "timestamp": "ts", "features": {"a": "x.a"}},
        }
    )
    return StreamDecoder(cfg, clock=lambda: NOW)


def test_a_stream_in_microseconds_read_as_milliseconds_is_refused_with_the_likely_unit() -> None:
    values = [json.dumps({"id": i, "ts": int(1.7e15) + i}).encode() for i in range(3)]
    batch = _decoder("ms").decode(values)
    assert len(batch) == 0
    assert {r.error.reason for r in batch.rejected} == {"timestamp_out_of_range"}
    assert "looks like us, not ms" in batch.rejected[0].error.detail


@pytest.mark.parametrize("ts", [1e18, -1e15, 0, NOW * 1000 + 2 * 86_400_000])
def test_implausible_event_times_are_refused_one_by_one(ts: float) -> None:
    values = [
        json.dumps({"id": 1, "ts": 1_700_000_000_000}).encode(),
        json.dumps({"id": 2, "ts": ts}).encode(),
        json.dumps({"id": 3, "ts": 1_700_000_000_010}).encode(),
    ]
    batch = _decoder().decode(values)
    assert batch.ids == [1, 3]
    assert [(r.index, r.error.reason) for r in batch.rejected] == [(1, "timestamp_out_of_range")]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=8,
)


@given(
    st.lists(
        st.fixed_dictionaries(
            {"id": json_values, "ts": json_values, "x": st.fixed_dictionaries({"a": json_values})}
        ),
        max_size=20,
    )
)
def test_any_json_in_any_field_is_decoded_or_rejected_never_raised(events: list[dict]) -> None:
    values = [json.dumps(e).encode() for e in events]
    batch = _decoder().decode(values)
    # Every record is accounted for exactly once, in order.
    assert sorted([*batch.index.tolist(), *(r.index for r in batch.rejected)]) == list(
        range(len(values))
    )
