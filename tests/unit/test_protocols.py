"""Inference protocols: batches of rows in one record become one event per row.

Payloads are shaped as the KServe v1 and Open Inference Protocol v2 specs write them, bare and
inside CloudEvents (structured, and binary with ce_* headers as KServe's logger sends them).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftd.config.models import StreamConfig
from driftd.decoding import StreamDecoder
from driftd.errors import DecodeError
from driftd.protocols import MAX_ROWS, rows_of
from driftd.sources.base import Partition, Record

T0 = 1_700_000_000_000
CE_HEADERS = (
    ("ce_specversion", b"1.0"),
    ("ce_id", b"5f1c-req"),
    ("ce_type", b"org.kubeflow.serving.inference.request"),
    ("ce_source", b"http://localhost:9081/"),
    ("ce_inferenceservicename", b"fraud"),
)


def _decoder(protocol: str, fields: dict[str, Any]) -> StreamDecoder:
    cfg = StreamConfig.model_validate(
        {"name": "p", "topic": "t", "protocol": protocol, "fields": fields}
    )
    return StreamDecoder(cfg, clock=lambda: T0 / 1000)


def _records(*payloads: Any, headers: tuple[tuple[str, bytes], ...] = ()) -> list[Record]:
    return [
        Record(i, json.dumps(p).encode(), T0 + i, None, headers) for i, p in enumerate(payloads)
    ]


def test_kserve_v1_requests_in_binary_cloudevents() -> None:
    dec = _decoder(
        "kserve_v1",
        {"id": "id", "timestamp": "kafka.timestamp", "model": "ce.inferenceservicename",
         "features": {"sepal_length": "instance.0", "petal_width": "instance.3"}},
    )  # fmt: skip
    recs = _records({"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]},
                    {"instances": [[5.1, 3.5, 1.4, 0.2]]}, headers=CE_HEADERS)  # fmt: skip
    batch = dec.decode([r.value for r in recs], recs, Partition("t", 0))
    assert batch.rejected == []
    assert batch.index.tolist() == [0, 0, 1]
    assert batch.ids == ["5f1c-req/0", "5f1c-req/1", "5f1c-req/0"]
    assert batch.models == ["fraud"] * 3
    assert batch.features["sepal_length"] == [6.8, 6.0, 5.1]
    assert batch.features["petal_width"] == [1.4, 1.6, 0.2]
    assert batch.timestamps.tolist() == [T0 / 1000, T0 / 1000, (T0 + 1) / 1000]


def test_kserve_v1_named_instances_and_predictions_in_structured_cloudevents() -> None:
    dec = _decoder(
        "kserve_v1",
        {"id": "id", "prediction": "prediction",
         "features": {"amount": "instance.amount", "country": "instance.country"}},
    )  # fmt: skip
    event = {
        "specversion": "1.0", "id": "abc", "type": "org.kubeflow.serving.inference.response",
        "source": "fraud", "data": {"instances": [{"amount": 12.5, "country": "DE"},
                                                  {"amount": 99.0, "country": "PL"}],
                                    "predictions": [0.1, 0.9]},
    }  # fmt: skip
    batch = dec.decode([json.dumps(event).encode()])
    assert batch.ids == ["abc/0", "abc/1"]
    assert batch.features["country"] == ["DE", "PL"]
    assert batch.predictions == [0.1, 0.9]
    data = base64.b64encode(json.dumps(event["data"]).encode()).decode()
    b64 = {**{k: v for k, v in event.items() if k != "data"}, "data_base64": data}
    assert dec.decode([json.dumps(b64).encode()]).predictions == [0.1, 0.9]


def test_open_inference_v2_tensors_become_rows() -> None:
    dec = _decoder(
        "open_inference_v2",
        {"id": "id", "model_version": "model_version", "prediction": "outputs.proba",
         "features": {"x0": "inputs.dense.0", "x3": "inputs.dense.3",
                      "country": "inputs.country", "flag": "inputs.flag"}},
    )  # fmt: skip
    request = {
        "id": "42", "model_name": "fraud", "model_version": "3",
        "inputs": [
            {"name": "dense", "shape": [2, 4], "datatype": "FP32",
             "data": [1, 2, 3, 4, 5, 6, 7, 8]},
            {"name": "country", "shape": [2], "datatype": "BYTES", "data": ["DE", "FR"]},
            {"name": "flag", "shape": [2, 1], "datatype": "BOOL", "data": [[True], [False]]},
        ],
        "outputs": [{"name": "proba", "shape": [2], "datatype": "FP64", "data": [0.2, 0.7]}],
    }  # fmt: skip
    batch = dec.decode([json.dumps(request).encode()])
    assert batch.rejected == []
    assert batch.ids == ["42/0", "42/1"]
    assert batch.features["x0"] == [1, 5] and batch.features["x3"] == [4, 8]
    assert batch.features["country"] == ["DE", "FR"]
    assert batch.features["flag"] == [True, False]
    assert batch.predictions == [0.2, 0.7]
    assert batch.model_versions == ["3", "3"]


@pytest.mark.parametrize(
    ("protocol", "payload", "reason", "words"),
    [
        ("kserve_v1", [1, 2], "wrong_shape", "expected an object"),
        ("kserve_v1", {"foo": 1}, "wrong_shape", "no 'instances'"),
        ("kserve_v1", {"instances": {"a": 1}}, "wrong_shape", "must be an array"),
        ("kserve_v1", {"instances": [1, 2], "predictions": [1]}, "bad_tensor", "2 instances"),
        ("open_inference_v2", {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32",
                                           "data": [1, 2, 3]}]}, "bad_tensor", "holds 4"),
        ("open_inference_v2", {"inputs": [{"name": "x", "shape": [2], "data": [1, 2]},
                                          {"name": "y", "shape": [3], "data": [1, 2, 3]}]},
         "bad_tensor", "[2, 3] rows"),
        ("open_inference_v2", {"inputs": [{"name": "x", "shape": [1], "datatype": "FP32",
                                           "data": ["a"]}]}, "bad_tensor", "FP32 value"),
        ("open_inference_v2", {"inputs": [{"shape": [1], "data": [1]}]}, "wrong_shape", "no name"),
        ("open_inference_v2", {"inputs": [{"name": "x", "shape": [-1], "data": []}]},
         "bad_tensor", "shape"),
        ("kserve_v1", {"instances": [0] * (MAX_ROWS + 1)}, "too_many_rows", "max"),
    ],
)  # fmt: skip
def test_records_off_the_protocol_are_rejected_with_a_reason(
    protocol: str, payload: Any, reason: str, words: str
) -> None:
    dec = _decoder(protocol, {"features": {"a": "id"}})
    batch = dec.decode([json.dumps(payload).encode(), b"{not json"])
    assert [(r.index, r.error.reason) for r in batch.rejected] == [(0, reason), (1, "invalid_json")]
    assert words in batch.rejected[0].error.detail
    assert len(batch) == 0


def test_one_dead_letter_per_record_when_several_rows_fail() -> None:
    dec = _decoder("kserve_v1", {"timestamp": "instance.ts", "features": {"a": "instance.a"}})
    payload = {"instances": [{"a": 1, "ts": 1}, {"a": 2, "ts": 2}, {"a": 3, "ts": T0}]}
    batch = dec.decode([json.dumps(payload).encode()])
    assert [r.index for r in batch.rejected] == [0]
    assert batch.features["a"] == [3], "the good row stays"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.floats(allow_nan=False)
    | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["instances", "predictions", "inputs", "outputs", "name", "shape",
                         "datatype", "data", "id", "specversion"]), inner, max_size=4),
    max_leaves=16,
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(doc=_JSON, protocol=st.sampled_from(["kserve_v1", "open_inference_v2", "cloudevents"]))
def test_any_json_is_rows_or_a_decode_error(doc: Any, protocol: str) -> None:
    try:
        rows = rows_of(protocol)(json.dumps(doc).encode(), CE_HEADERS)
    except DecodeError:
        return
    assert all(isinstance(r, dict) and isinstance(r["ce"], dict) for r in rows)
    dec = _decoder(protocol, {"id": "id", "features": {"a": "instance.0", "b": "inputs.x"}})
    batch = dec.decode([json.dumps(doc).encode()])
    # Each row is an event or its record is rejected (once); an empty batch
    # ({"instances": []}) is consumed and gives nothing.
    assert len(batch) <= len(rows)
    assert len(batch) == len(rows) or [r.index for r in batch.rejected] == [0]
