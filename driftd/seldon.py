"""Seldon Core 2 inference logs: Open Inference Protocol protobuf on Kafka.

Seldon Core 2 writes each model's traffic to topics such as ``seldon.<namespace>.model.<name>
.inputs`` (``inference.ModelInferRequest``) and ``...outputs`` (``inference.ModelInferResponse``),
the messages of the Open Inference Protocol's ``grpc_predict_v2.proto`` (as Seldon's
``v2_dataplane.proto`` defines them), serialized as they are (no schema registry framing).
``protocol: seldon_v2`` reads requests, ``seldon_v2_response`` responses. Each message becomes
the protocol's JSON document (``{"id", "model_name", "inputs": [{"name", "datatype", "shape",
"data"}]}``) and is split into rows as ``open_inference_v2`` splits it, so the field paths are
the same (``inputs.<tensor>.<column>``, ``outputs.<tensor>``).

Tensor data comes from the typed contents that match the datatype, or from the raw contents
(``raw_input_contents`` / ``raw_output_contents``: little-endian, row-major; BYTES elements
each after a 4-byte little-endian length). The request id is the message's ``id``, else the
record's ``x-request-id`` header (what Seldon's gateway sets).

The message types are built here from a descriptor that follows the .proto field by field
(driftd ships no generated code and needs no protoc).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from driftd.errors import DecodeError

_CONTENTS = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
_RAW = {
    "BOOL": "<?",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}
MAX_ELEMENTS = 10_000_000  # a hostile shape cannot make a record allocate more


def _file() -> Any:
    from google.protobuf import descriptor_pb2

    fd = descriptor_pb2.FileDescriptorProto(name="driftd/v2_dataplane.proto", package="inference")
    fd.syntax = "proto3"
    f = descriptor_pb2.FieldDescriptorProto
    optional, repeated = f.LABEL_OPTIONAL, f.LABEL_REPEATED

    def message(parent: Any, name: str, fields: list[tuple[str, int, int, int, str]]) -> Any:
        msg = parent.add(name=name)
        for field_name, number, kind, label, type_name in fields:
            entry = msg.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                entry.type_name = type_name
        return msg

    param = message(fd.message_type, "InferParameter", [
        ("bool_param", 1, f.TYPE_BOOL, optional, ""),
        ("int64_param", 2, f.TYPE_INT64, optional, ""),
        ("string_param", 3, f.TYPE_STRING, optional, ""),
        ("double_param", 4, f.TYPE_DOUBLE, optional, ""),  # KServe's extension
        ("uint64_param", 5, f.TYPE_UINT64, optional, ""),  # KServe's extension
    ])  # fmt: skip
    param.oneof_decl.add(name="parameter_choice")
    for entry in param.field:
        entry.oneof_index = 0
    message(fd.message_type, "InferTensorContents", [
        ("bool_contents", 1, f.TYPE_BOOL, repeated, ""),
        ("int_contents", 2, f.TYPE_INT32, repeated, ""),
        ("int64_contents", 3, f.TYPE_INT64, repeated, ""),
        ("uint_contents", 4, f.TYPE_UINT32, repeated, ""),
        ("uint64_contents", 5, f.TYPE_UINT64, repeated, ""),
        ("fp32_contents", 6, f.TYPE_FLOAT, repeated, ""),
        ("fp64_contents", 7, f.TYPE_DOUBLE, repeated, ""),
        ("bytes_contents", 8, f.TYPE_BYTES, repeated, ""),
    ])  # fmt: skip

    def params_map(owner: Any, full: str) -> None:
        entry = owner.nested_type.add(name="ParametersEntry")
        entry.options.map_entry = True
        entry.field.add(name="key", number=1, type=f.TYPE_STRING, label=optional)
        entry.field.add(name="value", number=2, type=f.TYPE_MESSAGE, label=optional,
                        type_name=".inference.InferParameter")  # fmt: skip
        owner.field.add(name="parameters", number=4 if full != "requested" else 2,
                        type=f.TYPE_MESSAGE, label=repeated,
                        type_name=f".{full}.ParametersEntry")  # fmt: skip

    def tensor(owner: Any, name: str, full: str) -> None:
        t = message(owner.nested_type, name, [
            ("name", 1, f.TYPE_STRING, optional, ""),
            ("datatype", 2, f.TYPE_STRING, optional, ""),
            ("shape", 3, f.TYPE_INT64, repeated, ""),
            ("contents", 5, f.TYPE_MESSAGE, optional, ".inference.InferTensorContents"),
        ])  # fmt: skip
        params_map(t, f"{full}.{name}")

    request = message(fd.message_type, "ModelInferRequest", [
        ("model_name", 1, f.TYPE_STRING, optional, ""),
        ("model_version", 2, f.TYPE_STRING, optional, ""),
        ("id", 3, f.TYPE_STRING, optional, ""),
        ("inputs", 5, f.TYPE_MESSAGE, repeated, ".inference.ModelInferRequest.InferInputTensor"),
        ("raw_input_contents", 7, f.TYPE_BYTES, repeated, ""),
    ])  # fmt: skip
    tensor(request, "InferInputTensor", "inference.ModelInferRequest")
    params_map(request, "inference.ModelInferRequest")
    response = message(fd.message_type, "ModelInferResponse", [
        ("model_name", 1, f.TYPE_STRING, optional, ""),
        ("model_version", 2, f.TYPE_STRING, optional, ""),
        ("id", 3, f.TYPE_STRING, optional, ""),
        ("outputs", 5, f.TYPE_MESSAGE, repeated, ".inference.ModelInferResponse.InferOutputTensor"),
        ("raw_output_contents", 6, f.TYPE_BYTES, repeated, ""),
    ])  # fmt: skip
    tensor(response, "InferOutputTensor", "inference.ModelInferResponse")
    params_map(response, "inference.ModelInferResponse")
    return fd


_CLASSES: dict[str, Any] = {}


def message_class(name: str) -> Any:
    """The message class ``ModelInferRequest`` or ``ModelInferResponse`` (also for tests and
    benchmarks that write Seldon's records)."""
    if not _CLASSES:
        from google.protobuf import descriptor_pool
        from google.protobuf.message_factory import GetMessageClass

        pool = descriptor_pool.DescriptorPool()
        pool.Add(_file())
        for kind in ("ModelInferRequest", "ModelInferResponse"):
            _CLASSES[kind] = GetMessageClass(pool.FindMessageTypeByName(f"inference.{kind}"))
    return _CLASSES[name]


def document(value: bytes, response: bool, headers: Any) -> dict[str, Any]:
    """The Open Inference Protocol JSON document of one Seldon record."""
    from google.protobuf.message import DecodeError as ProtoDecodeError

    message = message_class("ModelInferResponse" if response else "ModelInferRequest")()
    try:
        message.ParseFromString(value)
    except ProtoDecodeError as exc:
        raise DecodeError("invalid_protobuf", f"not an inference message: {exc}") from None
    tensors = message.outputs if response else message.inputs
    raw = list(message.raw_output_contents if response else message.raw_input_contents)
    if raw and len(raw) != len(tensors):
        raise DecodeError("bad_tensor", f"{len(raw)} raw contents for {len(tensors)} tensors")
    out = []
    for i, t in enumerate(tensors):
        shape = [int(s) for s in t.shape]
        count = int(np.prod(shape)) if shape else 1
        if any(s < 0 for s in shape) or count > MAX_ELEMENTS:
            raise DecodeError("bad_tensor", f"tensor {t.name!r}: shape {shape}")
        data = _raw(raw[i], t.datatype, count, t.name) if raw else _typed(t)
        out.append({"name": t.name, "datatype": t.datatype, "shape": shape, "data": data})
    rid = message.id or _header(headers, "x-request-id")
    doc: dict[str, Any] = {
        "id": rid or None,
        "model_name": message.model_name,
        "model_version": message.model_version or None,
        "parameters": {k: _param(v) for k, v in message.parameters.items()},
    }
    doc["outputs" if response else "inputs"] = out
    return doc


def _typed(t: Any) -> list[Any]:
    field = _CONTENTS.get(t.datatype)
    if field is None:
        raise DecodeError("bad_tensor", f"tensor {t.name!r}: datatype {t.datatype!r}")
    values = list(getattr(t.contents, field))
    if t.datatype == "BYTES":
        return [v.decode("utf-8", errors="replace") for v in values]
    return values


def _raw(raw: bytes, datatype: str, count: int, name: str) -> list[Any]:
    if datatype == "BYTES":
        out, at = [], 0
        while at < len(raw):
            if at + 4 > len(raw):
                raise DecodeError("bad_tensor", f"tensor {name!r}: truncated BYTES element")
            (size,) = struct.unpack_from("<I", raw, at)
            at += 4
            if at + size > len(raw):
                raise DecodeError("bad_tensor", f"tensor {name!r}: truncated BYTES element")
            out.append(raw[at : at + size].decode("utf-8", errors="replace"))
            at += size
        return out
    dtype = _RAW.get(datatype)
    if dtype is None:
        raise DecodeError("bad_tensor", f"tensor {name!r}: datatype {datatype!r}")
    if len(raw) != count * np.dtype(dtype).itemsize:
        raise DecodeError(
            "bad_tensor", f"tensor {name!r}: {len(raw)} raw bytes for {count} x {datatype}"
        )
    return np.frombuffer(raw, dtype=dtype).tolist()


def _param(p: Any) -> Any:
    kind = p.WhichOneof("parameter_choice")
    return getattr(p, kind) if kind else None


def _header(headers: Any, name: str) -> str | None:
    for key, raw in headers or ():
        if key == name:
            return raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else raw
    return None
