"""Seldon Core 2's Open Inference Protocol protobuf records: bytes encoded by hand from the
.proto's field numbers (independently of driftd's descriptor) read as the JSON protocol does;
raw contents; hostile bytes are dead letters, never a crash."""

from __future__ import annotations

import struct
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftd.errors import DecodeError
from driftd.protocols import rows_of
from driftd.seldon import message_class


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes | int | float, kind: str = "bytes") -> bytes:
    """One protobuf field: a varint, a double (fixed64) or length-delimited bytes."""
    if kind == "varint":
        assert isinstance(payload, int)
        return _varint(number << 3 | 0) + _varint(payload)
    if kind == "double":
        return _varint(number << 3 | 1) + struct.pack("<d", payload)
    assert isinstance(payload, bytes)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _tensor(name: str, datatype: str, shape: list[int], contents: bytes = b"") -> bytes:
    body = _field(1, name.encode()) + _field(2, datatype.encode())
    body += _field(3, b"".join(_varint(s) for s in shape))  # packed repeated int64
    if contents:
        body += _field(5, contents)
    return body


def _request(rows: list[dict[str, Any]], rid: str = "req-1") -> bytes:
    """A ModelInferRequest: model_name 1, id 3, inputs 5 (InferInputTensor: name 1,
    datatype 2, shape 3, contents 5; InferTensorContents: fp64 7 packed, bytes 8)."""
    amounts = b"".join(struct.pack("<d", r["amount"]) for r in rows)
    countries = b"".join(_field(8, r["country"].encode()) for r in rows)
    msg = _field(1, b"fraud") + _field(3, rid.encode())
    msg += _field(5, _tensor("amount", "FP64", [len(rows)], _field(7, amounts)))
    msg += _field(5, _tensor("country", "BYTES", [len(rows)], countries))
    return msg


ROWS = [{"amount": 12.5, "country": "DE"}, {"amount": 0.0, "country": "FR"}]


def test_hand_encoded_requests_read_as_the_json_protocol_reads_them() -> None:
    got = rows_of("seldon_v2")(_request(ROWS), None)
    doc = {
        "id": "req-1",
        "model_name": "fraud",
        "inputs": [
            {"name": "amount", "datatype": "FP64", "shape": [2], "data": [12.5, 0.0]},
            {"name": "country", "datatype": "BYTES", "shape": [2], "data": ["DE", "FR"]},
        ],
    }
    want = rows_of("open_inference_v2")(msgspec.json.encode(doc), None)
    assert [(r["id"], r["inputs"], r["model_name"]) for r in got] == [
        (r["id"], r["inputs"], r["model_name"]) for r in want
    ]
    assert got[1]["inputs"]["amount"] == 0.0  # a proto3 zero is a value


def test_responses_and_raw_contents() -> None:
    response = message_class("ModelInferResponse")(model_name="fraud", id="r9")
    out = response.outputs.add(name="score", datatype="FP32", shape=[3, 1])
    del out  # raw contents instead of typed ones
    response.raw_output_contents.append(np.array([0.5, 0.25, 1.0], dtype="<f4").tobytes())
    rows = rows_of("seldon_v2_response")(response.SerializeToString(), None)
    assert [r["outputs"]["score"] for r in rows] == [0.5, 0.25, 1.0]
    assert [r["id"] for r in rows] == ["r9/0", "r9/1", "r9/2"]


def test_raw_bytes_tensors_and_the_request_id_header() -> None:
    request = message_class("ModelInferRequest")(model_name="m")
    request.inputs.add(name="city", datatype="BYTES", shape=[2])
    request.raw_input_contents.append(
        struct.pack("<I", 6) + b"Berlin" + struct.pack("<I", 5) + b"Paris"
    )
    rows = rows_of("seldon_v2")(request.SerializeToString(), [("x-request-id", b"gw-7")])
    assert [(r["id"], r["inputs"]["city"]) for r in rows] == [
        ("gw-7/0", "Berlin"),
        ("gw-7/1", "Paris"),
    ]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff\xff\xff", "invalid_protobuf"),
        (
            _field(1, b"m") + _field(5, _tensor("x", "FP64", [3], _field(7, b"\0" * 8))),
            "bad_tensor",
        ),
        (_field(5, _tensor("x", "COMPLEX", [1], _field(7, b"\0" * 8))), "bad_tensor"),
        (_field(5, _tensor("x", "FP64", [2**40, 2**40])), "bad_tensor"),
        (_field(5, _tensor("x", "FP64", [1])) + _field(7, b"\0\0"), "bad_tensor"),
        (b"", "wrong_shape"),  # no tensors at all
    ],
)
def test_broken_records_are_dead_letters_with_a_reason(value: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        rows_of("seldon_v2")(value, None)
    assert caught.value.reason == reason


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_any_bytes_are_rows_or_a_dead_letter(value: bytes) -> None:
    for protocol in ("seldon_v2", "seldon_v2_response"):
        try:
            rows = rows_of(protocol)(value, None)
        except DecodeError:
            continue
        assert isinstance(rows, list)
