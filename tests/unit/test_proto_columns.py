"""The columnar Protobuf reader against its slow twin, the protobuf runtime plus
``driftd.protobuf.document``: the same values for every message it reads, and no value at all
(the caller reads the batch with the runtime) for anything it does not read exactly."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message import DecodeError as ProtoDecodeError
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftd.fieldpaths import walk
from driftd.protobuf import document
from driftd.protocolumns import ProtoColumns

T = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    "d": T.TYPE_DOUBLE, "f": T.TYPE_FLOAT, "i64": T.TYPE_INT64, "u64": T.TYPE_UINT64,
    "i32": T.TYPE_INT32, "u32": T.TYPE_UINT32, "s32": T.TYPE_SINT32, "s64": T.TYPE_SINT64,
    "fx32": T.TYPE_FIXED32, "fx64": T.TYPE_FIXED64, "sf32": T.TYPE_SFIXED32,
    "sf64": T.TYPE_SFIXED64, "b": T.TYPE_BOOL, "s": T.TYPE_STRING, "raw": T.TYPE_BYTES,
}  # fmt: skip


def _message_class() -> Any:
    fd = descriptor_pb2.FileDescriptorProto(name="cols/test.proto", package="cols")
    fd.syntax = "proto3"
    color = fd.enum_type.add(name="Color")
    for i, name in enumerate(["RED", "GREEN", "BLUE"]):
        color.value.add(name=name, number=i)
    inner = fd.message_type.add(name="Inner")
    number = 1
    for name, kind in SCALARS.items():
        inner.field.add(name=name, number=number, type=kind, label=T.LABEL_OPTIONAL)
        number += 1
    inner.field.add(name="color", number=number, type=T.TYPE_ENUM, type_name=".cols.Color",
                    label=T.LABEL_OPTIONAL)  # fmt: skip
    opt = inner.field.add(name="maybe", number=number + 1, type=T.TYPE_DOUBLE,
                          label=T.LABEL_OPTIONAL, proto3_optional=True, oneof_index=0)  # fmt: skip
    inner.oneof_decl.add(name="_maybe")
    assert opt.name == "maybe"
    inner.field.add(name="many", number=number + 2, type=T.TYPE_INT64, label=T.LABEL_REPEATED)
    inner.field.add(name="texts", number=number + 3, type=T.TYPE_STRING, label=T.LABEL_REPEATED)
    outer = fd.message_type.add(name="Outer")
    outer.field.add(name="id", number=1, type=T.TYPE_STRING, label=T.LABEL_OPTIONAL)
    outer.field.add(name="features", number=2, type=T.TYPE_MESSAGE, type_name=".cols.Inner",
                    label=T.LABEL_OPTIONAL)  # fmt: skip
    outer.field.add(name="other", number=3, type=T.TYPE_MESSAGE, type_name=".cols.Inner",
                    label=T.LABEL_OPTIONAL)  # fmt: skip
    outer.field.add(name="score", number=4, type=T.TYPE_DOUBLE, label=T.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return GetMessageClass(pool.FindMessageTypeByName("cols.Outer"))


OUTER = _message_class()
PATHS = ["id", "score", "absent_top", *[f"features.{n}" for n in [*SCALARS, "color", "maybe"]],
         "other.i32", "other.s"]  # fmt: skip
PATHS.remove("absent_top")
NUMBERS = {"score", "features.d", "features.i64", "features.maybe", "features.u32"}

INNER = st.fixed_dictionaries(
    {},
    optional={
        "d": st.floats(), "f": st.floats(width=32), "i64": st.integers(-(2**63), 2**63 - 1),
        "u64": st.integers(0, 2**63 - 1), "i32": st.integers(-(2**31), 2**31 - 1),
        "u32": st.integers(0, 2**32 - 1), "s32": st.integers(-(2**31), 2**31 - 1),
        "s64": st.integers(-(2**63), 2**63 - 1), "fx32": st.integers(0, 2**32 - 1),
        "fx64": st.integers(0, 2**63 - 1), "sf32": st.integers(-(2**31), 2**31 - 1),
        "sf64": st.integers(-(2**63), 2**63 - 1), "b": st.booleans(), "s": st.text(max_size=5),
        "raw": st.binary(max_size=5), "color": st.integers(0, 4), "maybe": st.floats(),
        "many": st.lists(st.integers(-(2**63), 2**63 - 1), max_size=3),
        "texts": st.lists(st.text(max_size=3), max_size=2),
    },
)  # fmt: skip
MESSAGES = st.fixed_dictionaries(
    {}, optional={"id": st.text(max_size=6), "features": INNER, "other": INNER,
                  "score": st.floats()}
)  # fmt: skip


def _build(spec: dict[str, Any]) -> bytes:
    message = OUTER()
    for key, value in spec.items():
        if key in ("features", "other"):
            sub = getattr(message, key)
            sub.SetInParent()
            for k, v in value.items():
                if isinstance(v, list):
                    getattr(sub, k).extend(v)
                else:
                    setattr(sub, k, v)
        else:
            setattr(message, key, value)
    return message.SerializeToString()


def _exactly(value: bytes) -> list[Any] | None:
    try:
        message = OUTER.FromString(value)
    except ProtoDecodeError:
        return None
    doc = document(message)
    return [walk(doc, tuple(p.split("."))) for p in PATHS]


def _read(values: list[bytes]) -> Any:
    reader = ProtoColumns(PATHS, NUMBERS)
    program = reader.program("k", OUTER.DESCRIPTOR)
    assert program is not None
    return reader.read(values, program, 0)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _agrees(value: bytes) -> bool:
    read = _read([value])
    if read is None:
        return False
    twin = _exactly(value)
    assert twin is not None, "the kernel read bytes the runtime refuses"
    for path, expected in zip(PATHS, twin, strict=True):
        assert _same(read.values[path][0], expected), (path, read.values[path][0], expected)
    return True


@settings(max_examples=200, deadline=None)
@given(st.lists(MESSAGES, min_size=1, max_size=10))
def test_every_message_reads_as_the_runtime_reads_it(specs: list[dict[str, Any]]) -> None:
    values = [_build(s) for s in specs]
    read = _read(values)
    assert read is not None
    for j, value in enumerate(values):
        twin = _exactly(value)
        assert twin is not None
        for path, expected in zip(PATHS, twin, strict=True):
            assert _same(read.values[path][j], expected), (path, read.values[path][j], expected)
    for path, column in read.numbers.items():
        expected = [np.nan if v is None else float(v) for v in read.values[path]]
        np.testing.assert_array_equal(column, expected)
        assert np.isfinite(column[~np.isnan(column)]).all()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MESSAGES, st.binary(max_size=8), st.integers(0, 80), st.booleans())
def test_bytes_it_reads_are_read_exactly_and_the_rest_are_left_to_the_runtime(
    spec: dict[str, Any], noise: bytes, cut: int, append: bool
) -> None:
    good = _build(spec)
    _agrees(good + noise if append else good[:cut] + noise + good[cut + len(noise) :])


def test_every_single_byte_change_is_read_exactly_or_left_to_the_runtime() -> None:
    inner = {"d": 2.5, "i64": -7, "u64": 2**62 + 5, "i32": -3, "s32": -9, "s": "hé",
             "raw": b"\xff", "color": 2, "maybe": 0.0, "many": [1, -1], "texts": ["a"],
             "fx64": 9, "f": 0.25}  # fmt: skip
    good = _build({"id": "r1", "features": inner, "other": {"i32": 4}, "score": 1.0})
    read = 0
    for at in range(len(good)):
        for byte in (0x00, 0x01, 0x02, 0x08, 0x7F, 0x80, 0xFF):
            read += _agrees(good[:at] + bytes([byte]) + good[at + 1 :])
        read += _agrees(good[:at])
    assert read > len(good)


def test_defaults_presence_and_absent_messages() -> None:
    read = _read([_build({}), _build({"features": {}}), _build({"features": {"maybe": 0.0}})])
    assert read is not None
    assert read.values["features.d"] == [None, 0.0, 0.0]  # absent message: none; else default
    assert read.values["features.maybe"] == [None, None, 0.0]  # presence: none unless set
    assert read.values["features.color"] == [None, "RED", "RED"]
    assert read.values["id"] == ["", "", ""]
    # A tag whose field number is past 2^29 - 1 is corrupt to the runtime, so to the kernel
    # (found by the byte-noise test: d1 ff ff ff ff 89 01 where a float's tag was).
    good = _build({"features": {"d": 1.0}})
    assert _read([good + bytes.fromhex("d1ffffffff8901") + b"\x00" * 4]) is None
    assert _read([good + bytes.fromhex("f8ffffff0f") + b"\x00"]) is not None  # 2^29 - 1
    # A uint64 past 2^63 does not fit the kernel's integers: left to the runtime.
    assert _read([_build({"features": {"u64": 2**63}})]) is None
    assert _read([_build({"features": {"fx64": 2**64 - 1}})]) is None
    unknown = _read([_build({"features": {"color": 4}})])
    assert unknown is not None and unknown.values["features.color"] == [4]  # open enum
