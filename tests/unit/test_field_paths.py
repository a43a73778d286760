"""Field paths beyond dotted object keys: array positions, the record key, headers, kafka.*."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from driftd.config.models import StreamConfig
from driftd.decoding import StreamDecoder
from driftd.sources.base import Partition, Record

T0 = 1_700_000_000_000


def _decoder(fields: dict[str, Any]) -> StreamDecoder:
    cfg = StreamConfig.model_validate({"name": "p", "topic": "t", "fields": fields})
    return StreamDecoder(cfg, clock=lambda: T0 / 1000)


def test_array_positions_read_kserve_style_rows() -> None:
    dec = _decoder(
        {
            "id": "id",
            "features": {"a": "instances.0.0", "c": "instances.0.2", "far": "instances.0.9",
                         "meta": "instances.meta.n", "x": "rows.1.x"},
        }
    )  # fmt: skip
    batch = dec.decode(
        [
            b'{"id": "r1", "instances": [[1.5, 2, 3]], "rows": [{"x": 1}, {"x": "b"}]}',
            b'{"id": "r2", "instances": "not an array", "rows": []}',
            b'{"id": "r3"}',
        ]
    )
    assert batch.rejected == []
    assert batch.features["a"] == [1.5, None, None]
    assert batch.features["c"] == [3, None, None]
    assert batch.features["far"] == [None, None, None], "past the end: missing"
    assert batch.features["meta"] == [None, None, None], "a list has no key 'meta'"
    assert batch.features["x"] == ["b", None, None]


def test_record_paths_read_key_headers_and_kafka_fields() -> None:
    dec = _decoder(
        {
            "id": "headers.ce_id",
            "timestamp": "kafka.timestamp",
            "model": "key",
            "features": {"age": "headers.age", "zip": "headers.zip", "p": "kafka.partition",
                         "raw": "headers.raw", "k": "value.key", "off": "kafka.offset"},
        }
    )  # fmt: skip
    records = [
        Record(7, b'{"key": "payload-key"}', T0, b"fraud-v3",
               (("ce_id", b"req-1"), ("age", b"41"), ("zip", b"007"), ("raw", b"\xff\x00"))),
        Record(8, b"{}", T0 + 5, None, ()),
    ]  # fmt: skip
    batch = dec.decode([r.value for r in records], records, Partition("t", 3))
    assert batch.ids == ["req-1", None]
    assert batch.timestamps.tolist() == [T0 / 1000, (T0 + 5) / 1000]
    assert batch.models == ["fraud-v3", None]
    f = batch.features
    assert f["age"] == [41, None], "a number header becomes a number"
    assert f["zip"] == ["007", None], "but only when it reads back the same"
    assert f["raw"] == [b"\xff\x00", None], "bytes that are not UTF-8 stay bytes"
    assert f["p"] == [3, 3] and f["off"] == [7, 8]
    assert f["k"] == ["payload-key", None]
    # Without records (a file replay) record paths are missing, not an error.
    assert dec.decode([r.value for r in records]).ids == [None, None]


def test_a_rejected_record_keeps_record_fields_aligned() -> None:
    dec = _decoder({"id": "key", "features": {"a": "a"}})
    records = [Record(0, b'{"a": 1}', T0, b"k0"), Record(1, b"{oops", T0, b"k1"),
               Record(2, b'{"a": 3}', T0, b"k2")]  # fmt: skip
    batch = dec.decode([r.value for r in records], records, Partition("t", 0))
    assert batch.ids == ["k0", "k2"] and batch.features["a"] == [1, 3]
    assert [r.index for r in batch.rejected] == [1]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("key.x", "the record key has no fields"),
        ("kafka.foo", "kafka.timestamp | kafka.partition"),
        ("headers", "name the header"),
        ("0.a", "a path starts with a key"),
        ("value", "value.<path>"),
        ("a..b", "dotted path"),
    ],
)
def test_bad_paths_are_config_errors(path: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        StreamConfig.model_validate({"name": "p", "topic": "t", "fields": {"id": path}})


def _reference(doc: Any, path: str) -> Any:
    """The slow twin: walk the parsed JSON by hand."""
    value = doc
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False,
    allow_infinity=False) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("ab0"), inner,
                                                              max_size=3),
    max_leaves=10,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(doc=st.dictionaries(st.sampled_from(["a", "b"]), _JSON, max_size=2))
def test_any_json_value_decodes_as_the_slow_walk_says(doc: dict[str, Any]) -> None:
    paths = {"p0": "a.0", "p1": "a.1.b", "p2": "b.0.0", "p3": "a.b", "p4": "b.a.1"}
    dec = _decoder({"features": paths})
    batch = dec.decode([json.dumps(doc).encode()])
    assert batch.rejected == []
    for name, path in paths.items():
        assert batch.features[name] == [_reference(doc, path)], (name, path)
