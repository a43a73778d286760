"""Inference-protocol payloads as rows: one record holding a batch of N rows gives N events.

A stream's ``protocol`` turns each record's value into row documents, and its field paths
address those::

    kserve_v1            {"instances": [...]} requests, {"predictions": [...]} responses
                         row: {"id", "index", "instance", "prediction", "ce": {...}}
    open_inference_v2    {"id", "inputs": [{"name", "shape", "datatype", "data"}], "outputs"}
                         row: {"id", "index", "model_name", "model_version", "parameters",
                               "inputs": {name: value}, "outputs": {name: value}, "ce": {...}}
    cloudevents          a CloudEvent carrying one JSON event
                         row: {"id", "index": 0, "data": <data>, "ce": {...}}
    seldon_v2            Seldon Core 2's ModelInferRequest protobuf (driftd.seldon); rows as
    seldon_v2_response   open_inference_v2's, from ModelInferResponse for the response

A tensor of shape ``[N]`` gives each row a scalar, ``[N, k]`` a list of k (``inputs.x.3``);
``data`` may be flat (row-major, as the protocol allows) or nested. BYTES tensors give text
(categorical features). The row's ``id`` is the request id and the row index
(``req-17/0``), the request id being the CloudEvent id when there is one, else the payload's
``id``. Every protocol also unwraps CloudEvents, structured (``{"specversion", "data", ...}``)
or binary (``ce_*`` headers): KServe's logger and Knative's Kafka sink write both.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from driftd.errors import DecodeError

# A batch larger than this in one record is refused: a hostile record cannot allocate
# millions of events.
MAX_ROWS = 100_000
_CE_HEADER = "ce_"
# Value types a tensor of each datatype may hold as they are (else each value is checked).
_NUMERIC = frozenset({int, float})
_CLEAN = {"BYTES": frozenset({str}), "BOOL": frozenset({bool})}
_decode = msgspec.json.Decoder().decode


def rows_of(protocol: str) -> Callable[[bytes | None, Any], list[dict[str, Any]]]:
    """The function from (record value, record headers) to row documents for ``protocol``;
    it raises DecodeError for a record that does not follow the protocol."""
    if protocol in ("seldon_v2", "seldon_v2_response"):
        return _seldon(protocol == "seldon_v2_response")
    body = {"kserve_v1": _kserve_v1, "open_inference_v2": _oip_v2, "cloudevents": _plain}[protocol]

    def rows(value: bytes | None, headers: Any) -> list[dict[str, Any]]:
        if value is None:
            raise DecodeError("empty", "record has no value (tombstone)")
        try:
            doc = _decode(value)
        except msgspec.DecodeError as exc:
            raise DecodeError("invalid_json", str(exc)) from None
        except (UnicodeDecodeError, RecursionError) as exc:
            raise DecodeError("invalid_json", f"{type(exc).__name__}: {exc}") from None
        ce, data = _unwrap(doc, headers)
        request = ce.get("id") or (data.get("id") if isinstance(data, dict) else None)
        return body(data, None if request is None else str(request), ce)

    return rows


def _seldon(response: bool) -> Callable[[bytes | None, Any], list[dict[str, Any]]]:
    from driftd.seldon import document

    def rows(value: bytes | None, headers: Any) -> list[dict[str, Any]]:
        if value is None:
            raise DecodeError("empty", "record has no value (tombstone)")
        doc = document(value, response, headers)
        return _oip_v2(doc, doc["id"], {})

    return rows


def _unwrap(doc: Any, headers: Any) -> tuple[dict[str, Any], Any]:
    """CloudEvent attributes and the data they carry (the document itself when there is no
    CloudEvent)."""
    if isinstance(doc, dict) and "specversion" in doc and ("data" in doc or "data_base64" in doc):
        ce = {k: v for k, v in doc.items() if k not in ("data", "data_base64")}
        if "data_base64" in doc:
            try:
                return ce, _decode(base64.b64decode(doc["data_base64"], validate=True))
            except (ValueError, TypeError, msgspec.DecodeError):
                raise DecodeError("wrong_shape", "data_base64 is not base64 JSON") from None
        return ce, doc["data"]
    ce = {}
    for key, raw in headers or ():
        if isinstance(key, str) and key.startswith(_CE_HEADER):
            ce[key[len(_CE_HEADER) :]] = (
                raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else raw
            )
    return ce, doc


def _ids(rid: str | None, n: int) -> list[str | None]:
    if n > MAX_ROWS:
        raise DecodeError("too_many_rows", f"{n} rows in one record (max {MAX_ROWS})")
    return [None] * n if rid is None else [f"{rid}/{i}" for i in range(n)]


def _plain(data: Any, rid: str | None, ce: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": None if rid is None else f"{rid}/0", "index": 0, "ce": ce, "data": data}]


def _kserve_v1(data: Any, rid: str | None, ce: dict[str, Any]) -> list[dict[str, Any]]:
    if not isinstance(data, dict):
        raise DecodeError("wrong_shape", "kserve_v1: expected an object")
    instances = data.get("instances", data.get("inputs"))
    predictions = data.get("predictions", data.get("outputs"))
    if instances is None and predictions is None:
        raise DecodeError("wrong_shape", "kserve_v1: no 'instances' or 'predictions'")
    for name, rows in (("instances", instances), ("predictions", predictions)):
        if rows is not None and not isinstance(rows, list):
            raise DecodeError("wrong_shape", f"kserve_v1: '{name}' must be an array")
    if instances is not None and predictions is not None and len(instances) != len(predictions):
        raise DecodeError(
            "bad_tensor",
            f"kserve_v1: {len(instances)} instances but {len(predictions)} predictions",
        )
    n = len(instances if instances is not None else predictions)  # type: ignore[arg-type]
    ids = _ids(rid, n)
    xs = instances if instances is not None else [None] * n
    ys = predictions if predictions is not None else [None] * n
    return [
        {"id": ids[i], "index": i, "ce": ce, "instance": xs[i], "prediction": ys[i]}
        for i in range(n)
    ]


def _oip_v2(data: Any, rid: str | None, ce: dict[str, Any]) -> list[dict[str, Any]]:
    if not isinstance(data, dict):
        raise DecodeError("wrong_shape", "open_inference_v2: expected an object")
    inputs = _tensors(data.get("inputs"), "inputs")
    outputs = _tensors(data.get("outputs"), "outputs")
    if not inputs and not outputs:
        raise DecodeError("wrong_shape", "open_inference_v2: no 'inputs' or 'outputs' tensors")
    sizes = {len(rows) for rows in (*inputs.values(), *outputs.values())}
    if len(sizes) != 1:
        raise DecodeError("bad_tensor", f"open_inference_v2: tensors of {sorted(sizes)} rows")
    (n,) = sizes
    ids = _ids(rid, n)
    params = data.get("parameters") if isinstance(data.get("parameters"), dict) else {}
    return [
        {
            "id": ids[i],
            "index": i,
            "ce": ce,
            "model_name": data.get("model_name"),
            "model_version": data.get("model_version"),
            "parameters": params,
            "inputs": {name: rows[i] for name, rows in inputs.items()},
            "outputs": {name: rows[i] for name, rows in outputs.items()},
        }
        for i in range(n)
    ]


def _tensors(raw: Any, what: str) -> dict[str, list[Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise DecodeError("wrong_shape", f"open_inference_v2: '{what}' must be an array")
    out = {}
    for t in raw:
        if not isinstance(t, dict) or not isinstance(t.get("name"), str):
            raise DecodeError("wrong_shape", f"open_inference_v2: a tensor in '{what}' has no name")
        out[t["name"]] = _rows(t)
    return out


def _rows(tensor: dict[str, Any]) -> list[Any]:
    """The tensor's rows along its first dimension, checked against shape and datatype."""
    name = tensor["name"]
    shape = tensor.get("shape")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise DecodeError("bad_tensor", f"tensor {name!r}: shape must be a list of sizes")
    data = tensor.get("data")
    if not isinstance(data, list):
        raise DecodeError("bad_tensor", f"tensor {name!r}: data must be an array")
    kinds = set(map(type, data))  # one C pass: most tensors are flat and of one type
    flat = data if list not in kinds else _flatten(data, name)
    size = math.prod(shape)
    if size != len(flat):
        raise DecodeError(
            "bad_tensor", f"tensor {name!r}: shape {shape} holds {size} values, data {len(flat)}"
        )
    if shape[0] > MAX_ROWS:
        raise DecodeError("too_many_rows", f"tensor {name!r}: {shape[0]} rows (max {MAX_ROWS})")
    datatype = str(tensor.get("datatype", "")).upper()
    if list in kinds:
        kinds = set(map(type, flat))
    if not kinds <= _CLEAN.get(datatype, _NUMERIC):
        flat = [_cast(v, datatype, name) for v in flat]
    width = size // shape[0] if shape[0] else 0
    if len(shape) == 1 or width == 1:
        return flat
    return [flat[i * width : (i + 1) * width] for i in range(shape[0])]


def _flatten(data: Any, name: str) -> list[Any]:
    if not isinstance(data, list):
        raise DecodeError("bad_tensor", f"tensor {name!r}: data must be an array")
    out: list[Any] = []
    # Iterative, so a deeply nested hostile array cannot exhaust the stack.
    pending: list[tuple[Sequence[Any], int]] = [(data, 0)]
    while pending:
        items, i = pending.pop()
        while i < len(items):
            item = items[i]
            i += 1
            if isinstance(item, list):
                pending.append((items, i))
                items, i = item, 0
                continue
            out.append(item)
    return out


def _cast(value: Any, datatype: str, name: str) -> Any:
    if datatype == "BYTES":
        return value if isinstance(value, str) else None
    if datatype == "BOOL":
        return value if isinstance(value, bool) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        if value is None:
            return None
        raise DecodeError("bad_tensor", f"tensor {name!r}: {datatype} value {value!r}")
    return value
