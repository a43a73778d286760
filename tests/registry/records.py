"""Records as confluent-kafka's own serializers write them through a schema registry: the
schemas, a Protobuf message class built without protoc, and one serializer per format. Shared
by tests/integration/test_schema_registry.py and bench/decoding.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from confluent_kafka.schema_registry import topic_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message_factory import GetMessageClass

AVRO = {
    "type": "record",
    "name": "Prediction",
    "namespace": "shop",
    "fields": [
        {"name": "request_id", "type": "string"},
        {"name": "ts", "type": "long"},
        {"name": "model", "type": "string"},
        {"name": "score", "type": "double"},
        {
            "name": "features",
            "type": {
                "type": "record",
                "name": "Features",
                "fields": [
                    {"name": "amount", "type": "double"},
                    {"name": "age", "type": ["null", "long"], "default": None},
                    {"name": "country", "type": "string"},
                ],
            },
        },
    ],
}
# Version 2 adds a field: records of both versions on one topic read alike.
AVRO_V2 = json.loads(json.dumps(AVRO))
AVRO_V2["fields"][4]["type"]["fields"].append(
    {"name": "device", "type": "string", "default": "unknown"}
)

JSON_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Prediction",
    "type": "object",
    "properties": {
        "request_id": {"type": "string"},
        "ts": {"type": "integer"},
        "model": {"type": "string"},
        "score": {"type": "number"},
        "features": {"type": "object"},
    },
}


def prediction_class() -> Any:
    """A Protobuf message class built from a descriptor (no protoc here); the message is the
    file's second, so the wire format's message index is exercised."""
    fd = descriptor_pb2.FileDescriptorProto(name="shop/prediction.proto", package="shop")
    fd.syntax = "proto3"
    T = descriptor_pb2.FieldDescriptorProto
    features = fd.message_type.add(name="Features")
    for number, (name, kind) in enumerate(
        [("amount", T.TYPE_DOUBLE), ("age", T.TYPE_INT64), ("country", T.TYPE_STRING)], 1
    ):
        features.field.add(name=name, number=number, type=kind, label=T.LABEL_OPTIONAL)
    prediction = fd.message_type.add(name="Prediction")
    for number, (name, kind) in enumerate(
        [("request_id", T.TYPE_STRING), ("ts", T.TYPE_INT64), ("model", T.TYPE_STRING),
         ("score", T.TYPE_DOUBLE)], 1,
    ):  # fmt: skip
        prediction.field.add(name=name, number=number, type=kind, label=T.LABEL_OPTIONAL)
    prediction.field.add(
        name="features", number=5, type=T.TYPE_MESSAGE, type_name=".shop.Features",
        label=T.LABEL_OPTIONAL,
    )  # fmt: skip
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return GetMessageClass(pool.FindMessageTypeByName("shop.Prediction"))


PREDICTION = prediction_class()
STRATEGY = {"subject.name.strategy": topic_subject_name_strategy}


def serializers(client: Any) -> dict[str, Callable[[dict[str, Any], str], bytes]]:
    """Per format, a function from a synthetic event and a topic to the record value."""
    avro = AvroSerializer(client, json.dumps(AVRO), conf=STRATEGY)
    avro_v2 = AvroSerializer(client, json.dumps(AVRO_V2), conf=STRATEGY)
    proto = ProtobufSerializer(PREDICTION, client, conf=STRATEGY)
    js = JSONSerializer(json.dumps(JSON_SCHEMA), client, conf=STRATEGY)

    def ctx(topic: str) -> SerializationContext:
        return SerializationContext(topic, MessageField.VALUE)

    def as_proto(e: dict[str, Any], topic: str) -> bytes:
        message = PREDICTION(
            request_id=e["request_id"], ts=e["ts"], model=e["model"], score=e["score"]
        )
        f = e["features"]
        message.features.amount, message.features.age = f["amount"], f["age"]
        message.features.country = f["country"]
        return proto(message, ctx(topic))

    return {
        "avro": lambda e, t: avro(avro_event(e), ctx(t)),
        "avro_v2": lambda e, t: avro_v2(avro_event(e, device=True), ctx(t)),
        "protobuf": as_proto,
        "json_schema": lambda e, t: js(e, ctx(t)),
    }


def avro_event(e: dict[str, Any], device: bool = False) -> dict[str, Any]:
    f = e["features"]
    features = {"amount": f["amount"], "age": f["age"], "country": f["country"]}
    if device:
        features["device"] = f["device"]
    return {**{k: e[k] for k in ("request_id", "ts", "model", "score")}, "features": features}


def stream_config(fmt: str, *, timed: bool = True) -> Any:
    """A stream of ``format: fmt`` mapping the synthetic events' fields (the event time and
    model too when ``timed``), under a placeholder registry URL."""
    from driftd.config import parse_config

    time = "timestamp: ts, model: model, " if timed else ""
    cfg = parse_config(
        f"""
kafka: {{bootstrap_servers: ["127.0.0.1:9"], group_id: g}}
schema_registry: {{url: "http://127.0.0.1:9"}}
streams:
  - name: s
    topic: t
    format: {fmt}
    fields: {{id: request_id, {time}prediction: score,
              features: {{amount: features.amount, age: features.age, country: features.country}}}}
""",
        env={},
    )
    return cfg.streams[0]
