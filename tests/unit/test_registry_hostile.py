"""Any bytes after a known schema id are an event or a dead letter with a reason, never a
crash, in every registry format (schemas from confluent-kafka's in-process mock registry)."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import (
    MockSchemaRegistryClient,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from driftd.config.models import SchemaRegistryConfig
from driftd.decoding import StreamDecoder
from driftd.errors import DecodeError, RegistryUnavailableError
from driftd.registry import Registry
from driftd.synthetic import events
from tests.registry.records import serializers, stream_config

FORMATS = ("avro", "protobuf", "json_schema")


def _decoders() -> tuple[dict[str, StreamDecoder], dict[str, bytes]]:
    client = MockSchemaRegistryClient({"url": "mock://hostile"})
    registry = Registry(SchemaRegistryConfig(url="http://mock"), client=client)
    write = serializers(client)
    event = next(iter(events(1, seed=3)))
    decoders, headers = {}, {}
    for fmt in FORMATS:
        value = write[fmt](event, f"hostile-{fmt}")
        decoder = StreamDecoder(stream_config(fmt, timed=False), registry=registry)
        decoder.prepare([value])
        decoders[fmt], headers[fmt] = decoder, value[:5]
    return decoders, headers


DECODERS, HEADERS = _decoders()


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=150)
@given(payload=st.binary(max_size=120))
def test_any_payload_is_an_event_or_a_reasoned_dead_letter(fmt: str, payload: bytes) -> None:
    decoder = DECODERS[fmt]
    values: list[bytes | None] = [HEADERS[fmt] + payload, payload, None]
    batch = decoder.decode(values)
    for rejected in batch.rejected:
        assert rejected.error.reason in {
            "not_wire_format", "unknown_schema_id", "invalid_avro", "invalid_protobuf",
            "invalid_json", "wrong_shape", "empty",
        }, rejected.error  # fmt: skip
    assert len(batch) + len({r.index for r in batch.rejected}) == len(values)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300)
@given(doc=JSON | st.fixed_dictionaries({"features": JSON, "score": JSON}))
def test_any_json_document_under_a_json_schema_id(doc: Any) -> None:
    import json

    value = HEADERS["json_schema"] + json.dumps(doc).encode()
    batch = DECODERS["json_schema"].decode([value])
    assert len(batch) + len(batch.rejected) == 1
    features = doc.get("features") if isinstance(doc, dict) else None
    if features is not None and not isinstance(features, dict):
        assert batch.rejected  # a path through a value that is not an object: wrong shape


def test_a_schema_that_does_not_parse_is_a_dead_letter_not_an_outage() -> None:
    from confluent_kafka.schema_registry import Schema

    client = MockSchemaRegistryClient({"url": "mock://broken"})
    avro_id = client.register_schema("broken-avro", Schema('{"type": "nonsense"', "AVRO"))
    proto_id = client.register_schema("broken-proto", Schema("not base64!", "PROTOBUF"))
    registry = Registry(SchemaRegistryConfig(url="http://mock"), client=client)
    for fmt, sid in (("avro", avro_id), ("protobuf", proto_id)):
        value = b"\x00" + sid.to_bytes(4, "big") + b"\x02"
        registry.prepare(fmt, [value])  # no RegistryUnavailableError: the registry answered
        assert registry.up
        with pytest.raises(DecodeError) as caught:
            registry.reader(fmt, value)
        assert caught.value.reason == "unusable_schema"


class _Down:
    """A registry client whose every request fails in the transport."""

    def get_schema(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionRefusedError(111, "Connection refused")


def test_a_transport_failure_is_an_outage_and_nothing_is_resolved() -> None:
    registry = Registry(SchemaRegistryConfig(url="http://down"), client=_Down())
    value = b"\x00\x00\x00\x00\x07{}"
    with pytest.raises(RegistryUnavailableError, match="Connection refused"):
        registry.prepare("json_schema", [value])
    assert not registry.up


@settings(max_examples=200)
@given(docs=st.lists(JSON | st.fixed_dictionaries({"features": JSON, "score": JSON}), max_size=5))
def test_json_schema_records_read_whole_give_what_the_rows_give(docs: list[Any]) -> None:
    import copy
    import json

    fast = DECODERS["json_schema"]
    slow = copy.copy(fast)
    slow._json_schema = False  # every record through the registry reader and its rows
    values: list[bytes | None] = [HEADERS["json_schema"] + json.dumps(d).encode() for d in docs]
    a, b = fast.decode(values), slow.decode(values)
    assert repr((a.ids, a.features, a.predictions, a.timestamps.tolist())) == repr(
        (b.ids, b.features, b.predictions, b.timestamps.tolist())
    )
    assert [(r.index, r.error.reason) for r in a.rejected] == [
        (r.index, r.error.reason) for r in b.rejected
    ]


@pytest.mark.parametrize("fmt", ["avro", "protobuf"])
@settings(max_examples=100, deadline=None)
@given(payloads=st.lists(st.binary(max_size=60), max_size=3), seed=st.integers(0, 1000))
def test_records_read_into_columns_give_what_the_runtime_gives(
    fmt: str, payloads: list[bytes], seed: int
) -> None:
    import copy

    client = DECODERS[fmt].registry._client  # type: ignore[union-attr]
    write = serializers(client)
    fast = DECODERS[fmt]
    slow = copy.copy(fast)
    slow._avro_columns = slow._proto_columns = None  # record by record, through the runtime
    clean: list[bytes | None] = [write[fmt](e, f"hostile-{fmt}") for e in events(20, seed=seed)]
    columnar = fast._read_avro_columns if fmt == "avro" else fast._read_proto_columns
    assert columnar(clean) is not None  # the clean batch is read by the kernel
    for values in (clean, [*clean, *(HEADERS[fmt] + p for p in payloads)]):
        a, b = fast.decode(values), slow.decode(values)
        assert repr((a.ids, a.features, a.predictions, a.timestamps.tolist(), a.models)) == repr(
            (b.ids, b.features, b.predictions, b.timestamps.tolist(), b.models)
        )
        assert [(r.index, r.error.reason) for r in a.rejected] == [
            (r.index, r.error.reason) for r in b.rejected
        ]
