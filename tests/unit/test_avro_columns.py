"""The columnar Avro reader against its slow twin, fastavro: the same values for every datum it
reads, and no value at all (the caller reads the batch with fastavro) for anything it does not
read exactly; a stream decoded through it gives the fastavro path's events and verdicts."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import fastavro
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftd.avrocolumns import AvroColumns, compile_schema
from driftd.config.models import StreamConfig
from driftd.decoding import StreamDecoder
from driftd.fieldpaths import walk

SCHEMA = fastavro.parse_schema(
    {
        "type": "record", "name": "E", "namespace": "t", "fields": [
            {"name": "id", "type": "string"},
            {"name": "ts", "type": "long"},
            {"name": "features", "type": {"type": "record", "name": "F", "fields": [
                {"name": "amount", "type": ["null", "double"]},
                {"name": "age", "type": "int"},
                {"name": "country", "type": {"type": "enum", "name": "C",
                                             "symbols": ["DE", "FR", "IT"]}},
                {"name": "flag", "type": "boolean"},
                {"name": "ratio", "type": "float"},
                {"name": "raw", "type": "bytes"},
                {"name": "code", "type": {"type": "fixed", "name": "K", "size": 3}},
                {"name": "mixed", "type": ["null", "long", "double", "string", "boolean"]},
            ]}},
            {"name": "again", "type": "t.F"},
            {"name": "score", "type": "double"},
        ],
    }
)  # fmt: skip
PATHS = [
    "id", "ts", "features.amount", "features.age", "features.country", "features.flag",
    "features.ratio", "features.raw", "features.code", "features.mixed", "score", "absent.x",
    "again.mixed", "again.country",
]  # fmt: skip
NUMBERS = {"features.amount", "features.age", "features.ratio", "features.mixed", "score"}

FEATURES = st.fixed_dictionaries(
    {
        "amount": st.none() | st.floats(allow_nan=True, allow_infinity=True),
        "age": st.integers(-(2**31), 2**31 - 1),
        "country": st.sampled_from(["DE", "FR", "IT"]),
        "flag": st.booleans(),
        "ratio": st.floats(width=32, allow_nan=False),
        "raw": st.binary(max_size=5),
        "code": st.binary(min_size=3, max_size=3),
        "mixed": st.none()
        | st.integers(-(2**63), 2**63 - 1)
        | st.floats(allow_nan=False)
        | st.text(max_size=4)
        | st.booleans(),
    }
)
RECORDS = st.fixed_dictionaries(
    {
        "id": st.text(max_size=6),
        "ts": st.integers(-(2**63), 2**63 - 1),
        "features": FEATURES,
        "again": FEATURES,
        "score": st.floats(allow_nan=False, allow_infinity=False),
    }
)


def _encode(record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, SCHEMA, record)
    return out.getvalue()


def _twin(value: bytes) -> list[Any]:
    """What fastavro reads at each path (the slow twin)."""
    datum = fastavro.schemaless_reader(io.BytesIO(value), SCHEMA, None)
    return [walk(datum, tuple(p.split("."))) for p in PATHS]


def _read(values: list[bytes]) -> Any:
    reader = AvroColumns(PATHS, NUMBERS)
    program = reader.program("k", SCHEMA, None)
    assert program is not None
    return reader.read(values, [(program, list(range(len(values))), 0)])


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@settings(max_examples=150, deadline=None)
@given(st.lists(RECORDS, min_size=1, max_size=20))
def test_every_datum_reads_as_fastavro_reads_it(records: list[dict[str, Any]]) -> None:
    values = [_encode(r) for r in records]
    read = _read(values)
    assert read is not None
    for j, value in enumerate(values):
        twin = _twin(value)
        for path, expected in zip(PATHS, twin, strict=True):
            assert _same(read.values[path][j], expected), (path, read.values[path][j], expected)
    for path, column in read.numbers.items():
        expected = np.array(
            [np.nan if v is None else float(v) for v in read.values[path]], dtype=np.float64
        )
        np.testing.assert_array_equal(column, expected)
        assert all((isinstance(v, int | float) and not isinstance(v, bool)) or v is None
                   for v in read.values[path])  # fmt: skip
        assert np.isfinite(column[~np.isnan(column)]).all()


def _exactly(value: bytes) -> list[Any] | None:
    """fastavro's values when it reads ``value`` as one datum with nothing left, else None."""
    buf = io.BytesIO(value)
    try:
        datum = fastavro.schemaless_reader(buf, SCHEMA, None)
    except Exception:
        return None
    if buf.tell() != len(value):
        return None
    return [walk(datum, tuple(p.split("."))) for p in PATHS]


def _agrees(value: bytes) -> bool:
    """Whether the kernel read ``value`` (else it left it to fastavro); when it did, that
    fastavro reads it exactly, to the same values."""
    read = _read([value])
    if read is None:
        return False
    twin = _exactly(value)
    assert twin is not None, "the kernel read bytes fastavro does not read exactly"
    for path, expected in zip(PATHS, twin, strict=True):
        assert _same(read.values[path][0], expected), (path, read.values[path][0], expected)
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RECORDS, st.binary(max_size=12), st.integers(0, 60), st.booleans())
def test_bytes_it_reads_are_read_exactly_and_the_rest_are_left_to_fastavro(
    record: dict[str, Any], noise: bytes, cut: int, append: bool
) -> None:
    good = _encode(record)
    _agrees(good + noise if append else good[:cut] + noise + good[cut + len(noise) :])


def test_every_single_byte_change_is_read_exactly_or_left_to_fastavro() -> None:
    features = {"amount": 2.5, "age": -7, "country": "IT", "flag": True, "ratio": 0.25,
                "raw": b"xy", "code": b"abc", "mixed": "hé"}  # fmt: skip
    good = _encode({"id": "r1", "ts": 300, "features": features, "again": features, "score": 1.0})
    read = 0
    for at in range(len(good)):
        for byte in (0x00, 0x01, 0x02, 0x7F, 0x80, 0xFF):
            read += _agrees(good[:at] + bytes([byte]) + good[at + 1 :])
        read += _agrees(good[:at])  # truncated
    assert read > len(good)  # many changes still read (other values), none read wrongly


def test_schemas_and_paths_it_does_not_read_are_left_to_fastavro() -> None:
    array = fastavro.parse_schema(
        {"type": "record", "name": "A", "fields": [
            {"name": "x", "type": "double"},
            {"name": "h", "type": {"type": "array", "items": "long"}}]}
    )  # fmt: skip
    reader = AvroColumns(["x"], set())
    assert reader.program("a", array, None) is None
    nested_union = fastavro.parse_schema(
        {"type": "record", "name": "U", "fields": [
            {"name": "x", "type": "double"},
            {"name": "r", "type": ["null", {"type": "record", "name": "R", "fields": [
                {"name": "y", "type": "long"}]}]}]}
    )  # fmt: skip
    assert reader.program("u", nested_union, None) is None
    with pytest.raises(Exception, match="record, not a value"):
        compile_schema(SCHEMA, ["features"])
    stamped = fastavro.parse_schema(
        {"type": "record", "name": "L", "fields": [
            {"name": "t", "type": {"type": "long", "logicalType": "timestamp-millis"}}]}
    )  # fmt: skip
    assert reader.program("l", stamped, None) is None
    # Not UTF-8 where the schema says string: left to fastavro (invalid_avro there).
    features = {"amount": 1.0, "age": 1, "country": "DE", "flag": True, "ratio": 0.5,
                "raw": b"", "code": b"abc", "mixed": None}  # fmt: skip
    bad = bytearray(
        _encode({"id": "ab", "ts": 1, "features": features, "again": features, "score": 0.5})
    )
    bad[1:3] = b"\xff\xfe"
    assert _read([bytes(bad)]) is None


FLAT = {
    "type": "record", "name": "P", "fields": [
        {"name": "request_id", "type": "string"}, {"name": "ts", "type": "long"},
        {"name": "model", "type": "string"},
        {"name": "features", "type": {"type": "record", "name": "Fe", "fields": [
            {"name": "amount", "type": ["null", "double", "string", "boolean"]},
            {"name": "age", "type": ["null", "long"]},
            {"name": "country", "type": ["null", "string", "long"]}]}},
        {"name": "score", "type": "double"},
    ],
}  # fmt: skip
FIELDS = {
    "id": "request_id", "timestamp": "ts", "model": "model", "prediction": "score",
    "features": {"amount": "features.amount", "age": "features.age",
                 "country": "features.country"},
}  # fmt: skip
KINDS = {"amount": "numeric", "age": "numeric", "country": "categorical"}


def _stream_values(seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    parsed = fastavro.parse_schema(FLAT)
    hostile: list[Any] = [None, math.nan, math.inf, "7", True, 1e300]
    out = []
    for i in range(400):
        amount: Any = float(rng.normal(50, 10))
        if i % 37 == 0:
            amount = hostile[(i // 37) % len(hostile)]
        record = {
            "request_id": f"r{i}", "ts": 1_700_000_000_000 + i, "model": "m",
            "features": {"amount": amount,
                         "age": None if i % 11 == 0 else int(rng.integers(18, 90)),
                         "country": ["DE", "FR", 3][i % 3]},
            "score": float(rng.random()),
        }  # fmt: skip
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, parsed, record)
        out.append(buf.getvalue())
    return out


def _batches(decoder: StreamDecoder, values: list[bytes], size: int) -> list[Any]:
    out = []
    for lo in range(0, len(values), size):
        b = decoder.decode(values[lo : lo + size])
        out.append((b.ids, b.timestamps.tolist(), b.features, b.predictions,
                    [(r.index, r.error.reason) for r in b.rejected]))  # fmt: skip
    return out


def test_a_stream_through_the_kernel_decodes_as_through_fastavro(tmp_path: Path) -> None:
    schema_file = tmp_path / "p.avsc"
    schema_file.write_text(json.dumps(FLAT))
    cfg = StreamConfig.model_validate(
        {"name": "a", "topic": "t", "format": "avro", "schema_file": str(schema_file),
         "fields": FIELDS}
    )  # fmt: skip
    values = _stream_values(3)
    fast = StreamDecoder(cfg, clock=lambda: 2e9, kinds=KINDS)
    slow = StreamDecoder(cfg, clock=lambda: 2e9, kinds=KINDS)
    slow._avro_columns = None  # the fastavro path, record by record
    for size in (1, 100, 20_000):
        assert repr(_batches(fast, values, size)) == repr(_batches(slow, values, size))
    batch = fast.decode(values[1:30])  # clean: float64 columns for the numeric features
    assert set(batch.numbers) == {"amount", "age"}
    np.testing.assert_array_equal(
        batch.numbers["age"], [np.nan if v is None else v for v in batch.features["age"]]
    )
    # A NaN among the amounts: no float64 column for it (the schema checks count NaN).
    assert "amount" not in fast.decode(values[0:40]).numbers
