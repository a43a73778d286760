"""Field paths: where in a Kafka record a value is read from.

::

    features.age          a key of the JSON value (dotted for nested objects)
    instances.0.3         array positions: row 0, column 3 (KServe v1 ``instances``)
    value.key             a payload field named like a record root below
    key                   the record key (UTF-8 text)
    kafka.timestamp       the record's timestamp (milliseconds), kafka.partition, kafka.offset,
                          kafka.topic
    headers.ce_id         a header's value: UTF-8 text, or a number when the text is one exactly
                          (``41``, ``0.5``; not ``007``); bytes that are not UTF-8 stay bytes

A path is split once, at start-up, into what msgspec decodes (the object keys down to the first
array position) and what is walked afterwards (positions and keys below it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RECORD_ROOTS = ("key", "kafka", "headers")
KAFKA_FIELDS = ("timestamp", "partition", "offset", "topic")
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")


@dataclass(frozen=True)
class PayloadPath:
    """A path into the JSON value: ``keys`` are decoded by msgspec, ``rest`` walked after."""

    keys: tuple[str, ...]
    rest: tuple[str | int, ...]

    @property
    def struct_path(self) -> str:
        """The dotted object-key part (what the decoder's structs hold)."""
        return ".".join(self.keys)


def check(path: str) -> str | None:
    """Why ``path`` is not a valid field path, or None."""
    parts = path.split(".")
    if not path or any(not p for p in parts):
        return f"{path!r} is not a dotted path like 'features.age'"
    root = parts[0]
    if root == "key" and len(parts) > 1:
        return f"{path!r}: the record key has no fields (write value.key for a payload field)"
    if root == "kafka" and (len(parts) != 2 or parts[1] not in KAFKA_FIELDS):
        return f"{path!r}: write kafka.{' | kafka.'.join(KAFKA_FIELDS)}"
    if root == "headers" and len(parts) < 2:
        return f"{path!r}: name the header, e.g. headers.ce_id"
    if root == "value" and len(parts) < 2:
        return f"{path!r}: value.<path> names a field of the payload"
    if parts[0].isdigit() or (root == "value" and parts[1].isdigit()):
        return f"{path!r}: the payload is an object; a path starts with a key"
    return None


def payload_path(path: str) -> PayloadPath | None:
    """The payload part of ``path``, or None when it reads the record (key, kafka, headers)."""
    parts = path.split(".")
    if parts[0] in RECORD_ROOTS:
        return None
    if parts[0] == "value":
        parts = parts[1:]
    keys: list[str] = []
    for i, part in enumerate(parts):
        if part.isdigit():
            return PayloadPath(tuple(keys), tuple(_step(p) for p in parts[i:]))
        keys.append(part)
    return PayloadPath(tuple(keys), ())


def _step(part: str) -> str | int:
    return int(part) if part.isdigit() else part


def merged(paths: dict[str, PayloadPath]) -> dict[str, PayloadPath]:
    """The same paths, each decoded down to the shortest struct path that is a prefix of its
    own (``instances`` for both ``instances.0`` and ``instances.meta.n``): the decoder's
    structs hold leaves only, and a leaf holds the whole value below it."""
    leaves = {p.keys for p in paths.values()}
    out = {}
    for name, p in paths.items():
        cut = min(
            (len(leaf) for leaf in leaves if leaf and p.keys[: len(leaf)] == leaf),
            default=len(p.keys),
        )
        out[name] = PayloadPath(p.keys[:cut], tuple(p.keys[cut:]) + p.rest)
    return out


def walk(value: Any, rest: tuple[str | int, ...]) -> Any:
    """Follow array positions and object keys below a decoded value; None when absent."""
    for step in rest:
        if isinstance(step, int) and isinstance(value, list):
            value = value[step] if step < len(value) else None
        elif isinstance(value, dict):
            value = value.get(str(step))
        else:
            return None
    return value


def record_reader(path: str, topic: str, partition: int) -> Callable[[Any], Any]:
    """A function of a record giving what ``path`` (a record path) reads from it."""
    parts = path.split(".", 1)
    if parts[0] == "key":
        return lambda record: _text(record.key)
    if parts[0] == "kafka":
        field = parts[1]
        if field == "partition":
            return lambda record: partition
        if field == "topic":
            return lambda record: topic
        if field == "timestamp":
            # kafka-python gives -1 for "no timestamp" (old message formats).
            return lambda record: record.timestamp if record.timestamp >= 0 else None
        return lambda record: record.offset
    name = parts[1]
    return lambda record: _header(getattr(record, "headers", None), name)


def _header(headers: Any, name: str) -> Any:
    if not headers:
        return None
    for key, value in headers:
        if key == name:
            return _scalar(value)
    return None


def _text(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _scalar(raw: Any) -> Any:
    text = _text(raw) if isinstance(raw, bytes | bytearray) else raw
    if not isinstance(text, str) or not _NUMBER.fullmatch(text):
        return text
    if text.lstrip("-").isdigit():
        return int(text)
    number = float(text)
    return number if math.isfinite(number) else text
