"""Protobuf records of the Confluent wire format, read without generated code.

The registry serves the writer's schema as a serialized ``FileDescriptorProto`` (the client
asks with ``format=serialized``); its imports come from the schema's references (fetched the
same way) or, for ``google/protobuf/*.proto``, from the protobuf runtime. After the 5-byte
header come the message indexes (a zigzag varint count, then that many zigzag varints; a count
of 0 means the first message) that pick the message type in the file, then the message.

A message becomes a document field by field: every scalar is present with its value (proto3
defaults included), a field with presence (``optional``, proto2, oneof members, messages) that
is unset is None, repeated fields are lists, maps are objects, enums are their names, bytes are
text (UTF-8, invalid bytes replaced).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from driftd.errors import DecodeError


class UnusableSchemaError(ValueError):
    """The registry answered with a schema driftd cannot build a message type from."""


def message_reader(schema: Any, client: Any, sid: int) -> Any:
    """The reader of values written with registry schema ``schema`` (id ``sid``)."""
    from google.protobuf import descriptor_pool
    from google.protobuf.message import DecodeError as ProtoDecodeError
    from google.protobuf.message_factory import GetMessageClass

    pool = descriptor_pool.DescriptorPool()
    file = _add(pool, schema, client, set())
    classes: dict[tuple[int, ...], Any] = {}

    def message_class(indexes: tuple[int, ...]) -> Any:
        cls = classes.get(indexes)
        if cls is None:
            cls = classes[indexes] = GetMessageClass(_descriptor(file, indexes, sid))
        return cls

    def read(value: bytes) -> Any:
        indexes, at = _indexes(value, 5)
        message = message_class(indexes)()
        try:
            message.ParseFromString(value[at:])
        except ProtoDecodeError as exc:
            raise DecodeError("invalid_protobuf", f"not a message of schema {sid}: {exc}") from None
        return document(message)

    return MessageReader(read, lambda indexes: message_class(indexes).DESCRIPTOR)


class MessageReader:
    """Reads one wire-format value into its document; ``descriptor`` gives the message type
    of a message-index path (DecodeError when the schema has none there), for the columnar
    reader (driftd.protocolumns)."""

    def __init__(self, read: Any, descriptor: Any) -> None:
        self._read = read
        self.descriptor = descriptor

    def __call__(self, value: bytes) -> Any:
        return self._read(value)


def wire_prefix(value: bytes) -> tuple[tuple[int, ...], int]:
    """The message indexes of a wire-format value and where its message starts."""
    return _indexes(value, 5)


def _add(pool: Any, schema: Any, client: Any, seen: set[str]) -> Any:
    from google.protobuf import descriptor_pb2, descriptor_pool
    from google.protobuf.message import DecodeError as ProtoDecodeError

    try:
        raw = base64.b64decode(schema.schema_str, validate=True)
        proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
    except (binascii.Error, ValueError, TypeError, ProtoDecodeError) as exc:
        raise UnusableSchemaError(f"not a serialized FileDescriptorProto: {exc}") from None
    refs = {ref.name: ref for ref in (schema.references or [])}
    for dep in proto.dependency:
        if dep in seen:
            continue
        seen.add(dep)
        if dep in refs:
            ref = refs[dep]
            registered = client.get_version(ref.subject, ref.version, fmt="serialized")
            _add(pool, registered.schema, client, seen)
        elif dep.startswith("google/protobuf/"):
            builtin = descriptor_pb2.FileDescriptorProto()
            descriptor_pool.Default().FindFileByName(dep).CopyToProto(builtin)
            pool.Add(builtin)
        else:
            raise UnusableSchemaError(f"imports {dep!r}, which is not among its references")
    if not proto.name:
        proto.name = f"schema-{id(schema)}.proto"
    try:
        pool.Add(proto)
        return pool.FindFileByName(proto.name)
    except (TypeError, ValueError, KeyError) as exc:  # what the pool raises on a bad file
        raise UnusableSchemaError(f"the descriptor does not build: {exc}") from None


def _descriptor(file: Any, indexes: tuple[int, ...], sid: int) -> Any:
    messages = list(file.message_types_by_name.values())
    ordered = {m.name: m for m in messages}
    # message_types_by_name keeps declaration order; nested types by their nested_types.
    current = None
    for depth, index in enumerate(indexes):
        choices = list(ordered.values()) if depth == 0 else list(current.nested_types)
        if not 0 <= index < len(choices):
            raise DecodeError(
                "invalid_protobuf", f"message index {list(indexes)} is not in schema {sid}"
            )
        current = choices[index]
    return current


def _varint(value: bytes, at: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if at >= len(value) or shift > 63:
            raise DecodeError("invalid_protobuf", "truncated message indexes")
        byte = value[at]
        at += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), at  # zigzag
        shift += 7


def _indexes(value: bytes, at: int) -> tuple[tuple[int, ...], int]:
    count, at = _varint(value, at)
    if count == 0:
        return (0,), at
    if not 0 < count <= 64:
        raise DecodeError("invalid_protobuf", f"bad message index count {count}")
    out = []
    for _ in range(count):
        index, at = _varint(value, at)
        out.append(index)
    return tuple(out), at


def document(message: Any) -> dict[str, Any]:
    """A message as the document field paths address (see the module docstring)."""
    plan = _PLANS.get(message.DESCRIPTOR)
    if plan is None:
        plan = _PLANS[message.DESCRIPTOR] = _plan(message.DESCRIPTOR)
    out: dict[str, Any] = {}
    for name, how, field in plan:
        value = getattr(message, name)
        if how == _PLAIN:
            out[name] = value
        elif how == _PRESENCE:
            out[name] = _value(field, value) if message.HasField(name) else None
        elif how == _LIST:
            out[name] = [_value(field, v) for v in value]
        elif how == _PLAIN_LIST:
            out[name] = list(value)
        elif how == _MAP:
            out[name] = {str(k): _value(field, v) for k, v in value.items()}
        else:
            out[name] = _value(field, value)
    return out


# How each field of a message type becomes a document value, worked out once per type: the
# descriptor walk and its attribute lookups cost more than reading the values.
_PLAIN, _PRESENCE, _LIST, _PLAIN_LIST, _MAP, _CONVERT = range(6)
_PLANS: dict[Any, list[tuple[str, int, Any]]] = {}


def _plan(descriptor: Any) -> list[tuple[str, int, Any]]:
    plan = []
    for field in descriptor.fields:
        converts = field.message_type is not None or field.enum_type is not None
        converts = converts or field.type == field.TYPE_BYTES
        if is_repeated(field):
            entry = field.message_type
            if entry is not None and entry.GetOptions().map_entry:
                plan.append((field.name, _MAP, entry.fields_by_name["value"]))
            else:
                plan.append((field.name, _LIST if converts else _PLAIN_LIST, field))
        elif field.message_type is not None or field.has_presence:
            plan.append((field.name, _PRESENCE, field))
        else:
            plan.append((field.name, _CONVERT if converts else _PLAIN, field))
    return plan


def is_repeated(field: Any) -> bool:
    """Whether a field descriptor is repeated (on every protobuf runtime version)."""
    repeated = getattr(field, "is_repeated", None)
    if repeated is not None:
        return bool(repeated)
    return bool(field.label == field.LABEL_REPEATED)


def _value(field: Any, value: Any) -> Any:
    if field.message_type is not None:
        return document(value)
    if field.enum_type is not None:
        known = field.enum_type.values_by_number.get(value)
        return known.name if known is not None else value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value
