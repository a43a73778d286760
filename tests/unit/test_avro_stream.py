"""Plain Avro records (a schema file, no registry): the same events as the same JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from driftd.config import parse_config
from driftd.config.models import StreamConfig
from driftd.decoding import StreamDecoder
from driftd.errors import ConfigError
from driftd.synthetic import events

SCHEMA = {
    "type": "record", "name": "Prediction", "fields": [
        {"name": "request_id", "type": "string"},
        {"name": "ts", "type": "long"},
        {"name": "model", "type": "string"},
        {"name": "features", "type": {"type": "record", "name": "F", "fields": [
            {"name": "amount", "type": "double"},
            {"name": "age", "type": "long"},
            {"name": "tenure_days", "type": ["null", "long"]},
            {"name": "country", "type": "string"},
        ]}},
        {"name": "score", "type": "double"},
        {"name": "history", "type": {"type": "array", "items": "double"}},
    ],
}  # fmt: skip
FIELDS = {
    "id": "request_id", "timestamp": "ts", "model": "model", "prediction": "score",
    "features": {"amount": "features.amount", "age": "features.age",
                 "tenure": "features.tenure_days", "country": "features.country",
                 "last": "history.0"},
}  # fmt: skip


def _encode(record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(SCHEMA), record)
    return out.getvalue()


def _record(e: dict[str, Any]) -> dict[str, Any]:
    f = e["features"]
    return {
        "request_id": e["request_id"], "ts": e["ts"], "model": e["model"], "score": e["score"],
        "features": {k: f[k] for k in ("amount", "age", "tenure_days", "country")},
        "history": [f["amount"] / 2],
    }  # fmt: skip


@pytest.fixture(scope="module")
def schema_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("avro") / "prediction.avsc"
    path.write_text(json.dumps(SCHEMA))
    return path


def _decoders(schema_file: Path) -> tuple[StreamDecoder, StreamDecoder]:
    avro = StreamConfig.model_validate(
        {
            "name": "a",
            "topic": "t",
            "format": "avro",
            "schema_file": str(schema_file),
            "fields": FIELDS,
        }
    )
    flat = StreamConfig.model_validate({"name": "j", "topic": "t", "fields": FIELDS})
    return StreamDecoder(avro, clock=lambda: 2e9), StreamDecoder(flat, clock=lambda: 2e9)


def test_avro_records_decode_as_the_same_json(schema_file: Path) -> None:
    avro, flat = _decoders(schema_file)
    records = [_record(e) for e in events(500, seed=2)]
    a = avro.decode([_encode(r) for r in records])
    j = flat.decode([json.dumps(r).encode() for r in records])
    assert a.rejected == j.rejected == []
    assert a.ids == j.ids and a.models == j.models and a.predictions == j.predictions
    assert a.timestamps.tolist() == j.timestamps.tolist()
    assert a.features == j.features
    assert a.features["tenure"].count(None) == j.features["tenure"].count(None) > 0


def test_bytes_that_are_not_a_datum_are_rejected(schema_file: Path) -> None:
    avro, _ = _decoders(schema_file)
    good = _encode(_record(next(events(1, seed=1))))
    batch = avro.decode([good, good[:-3], good + b"\x00\x01", b"", None, b'{"json": 1}'])
    assert len(batch) == 1
    assert [(r.index, r.error.reason) for r in batch.rejected] == [
        (1, "invalid_avro"), (2, "invalid_avro"), (3, "invalid_avro"), (4, "empty"),
        (5, "invalid_avro"),
    ]  # fmt: skip
    assert "left after the datum" in batch.rejected[1].error.detail


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_are_an_event_or_a_rejection(schema_file: Path, raw: bytes) -> None:
    avro, _ = _decoders(schema_file)
    batch = avro.decode([raw])
    assert len(batch) + len(batch.rejected) == 1


def test_schema_problems_are_config_errors(tmp_path: Path, schema_file: Path) -> None:
    base = {"name": "a", "topic": "t", "fields": FIELDS}
    # Without schema_file, avro is the Confluent wire format: it needs a registry.
    with pytest.raises(ConfigError, match="needs the schema_registry section"):
        parse_config(
            "kafka: {bootstrap_servers: ['k:1']}\n"
            "streams: [{name: a, topic: t, format: avro, fields: {features: {x: x}}}]\n",
            env={},
        )
    (tmp_path / "bad.avsc").write_text('{"type": "no-such-type"}')
    with pytest.raises(ValidationError, match="is not an Avro schema"):
        StreamConfig.model_validate({**base, "format": "avro",
                                     "schema_file": str(tmp_path / "bad.avsc")})  # fmt: skip
    with pytest.raises(ValidationError, match="set protocol none"):
        StreamConfig.model_validate({**base, "format": "avro", "protocol": "kserve_v1",
                                     "schema_file": str(schema_file)})  # fmt: skip
