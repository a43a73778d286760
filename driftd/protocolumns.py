"""Protobuf messages straight into columns: a message type compiled into field tables that one
Numba kernel walks over a whole batch of record values.

The kernel reads every field the message types know (so that bytes the protobuf runtime would
refuse are refused here too: malformed varints and lengths, text that is not UTF-8, packed
numbers that do not fill their length, messages nested in known fields) and keeps the values at
the mapped paths, last one winning as in the runtime; a message field seen twice is merged.
Afterwards a mapped scalar that was not on the wire gets its proto3 default, or none when the
field has presence or a message above it is absent, as ``driftd.protobuf.document`` gives it.

It is stricter than the runtime, never looser: groups, a known field on another wire type,
nesting past 64 levels, a uint64 past 2^63, required fields, closed enums or oneofs on a mapped
path, and repeated or map fields as mapped values all make it decline, and the caller reads
the batch with the runtime, which names the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from driftd.columnar import (
    T_BOOL,
    T_BYTES,
    T_ENUM,
    T_FLOAT,
    T_LONG,
    T_NONE,
    T_STRING,
    Columns,
    UnsupportedError,
    column_values,
    number_column,
    spans,
)
from driftd.protobuf import is_repeated

# Value kinds of a field (after its wire type).
(K_DOUBLE, K_FLOAT, K_INT64, K_UINT64, K_INT32, K_UINT32, K_SINT32, K_SINT64, K_FIXED32,
 K_FIXED64, K_SFIXED32, K_SFIXED64, K_BOOL, K_ENUM, K_STRING, K_BYTES,
 K_MESSAGE) = range(17)  # fmt: skip
_KIND_OF_TYPE = {
    1: K_DOUBLE, 2: K_FLOAT, 3: K_INT64, 4: K_UINT64, 5: K_INT32, 6: K_FIXED64, 7: K_FIXED32,
    8: K_BOOL, 9: K_STRING, 11: K_MESSAGE, 12: K_BYTES, 13: K_UINT32, 14: K_ENUM,
    15: K_SFIXED32, 16: K_SFIXED64, 17: K_SINT32, 18: K_SINT64,
}  # fmt: skip
_WIRE = {
    K_DOUBLE: 1, K_FIXED64: 1, K_SFIXED64: 1, K_FLOAT: 5, K_FIXED32: 5, K_SFIXED32: 5,
    K_STRING: 2, K_BYTES: 2, K_MESSAGE: 2,
}  # fmt: skip
MAX_DEPTH = 64
# The wire type of each kind (0 varint, 1 64-bit, 2 length-delimited, 5 32-bit).
_WIRE_OF = np.array([_WIRE.get(k, 0) for k in range(17)], dtype=np.int64)


@dataclass(frozen=True)
class Program:
    """Field tables of the message types reachable from the root (node 0).

    Entries ``first[n] .. first[n] + count[n]`` belong to node ``n``: field ``number``, value
    ``kind``, ``repeated``, child node (messages), output ``slot`` (-1: read, not kept). Slot
    ``s`` has its ``default`` tag and value (when the field has no presence) and the ``parent``
    node whose presence decides between that default and none.
    """

    first: np.ndarray
    count: np.ndarray
    number: np.ndarray
    kind: np.ndarray
    repeated: np.ndarray
    child: np.ndarray
    slot: np.ndarray
    default_tag: np.ndarray
    default_int: np.ndarray
    parent: np.ndarray
    symbol_of: dict[tuple[int, int], int]  # (slot, enum number) -> symbol id
    enum_slots: tuple[int, ...]
    symbols: tuple[str, ...]
    slots: int


def compile_message(descriptor: Any, paths: list[str]) -> Program:
    """The program reading messages of ``descriptor`` and keeping the values at ``paths``
    (dotted field names); UnsupportedError when the kernel cannot read them exactly."""
    # Nodes: one per message on a mapped path (its fields' slots differ by path), one per
    # message type elsewhere (read only to be validated).
    leaf_of: dict[str, tuple[str, Any, int]] = {}  # path -> (message prefix, field, slot)
    prefixes = {""}
    for s, path in enumerate(paths):
        d, parts = descriptor, path.split(".")
        for depth, name in enumerate(parts):
            field = d.fields_by_name.get(name)
            if field is None:
                raise UnsupportedError(f"{path!r}: no field {name!r}")
            if is_repeated(field) or (field.containing_oneof is not None and not _synthetic(field)):
                raise UnsupportedError(f"{path!r} goes through a repeated or oneof field")
            last = depth == len(parts) - 1
            if last == (field.type == _MESSAGE_TYPE):
                raise UnsupportedError(f"{path!r} ends at a message or goes through a value")
            prefix = ".".join(parts[:depth])
            if last:
                leaf_of[path] = (prefix, field, s)
            else:
                prefixes.add(".".join(parts[: depth + 1]))
                d = field.message_type
    keys: dict[Any, int] = {}
    order: list[tuple[Any, Any]] = []  # (key, descriptor)

    def node(key: Any, d: Any) -> int:
        if key not in keys:
            keys[key] = len(order)
            order.append((key, d))
        return keys[key]

    node(("path", ""), descriptor)
    slot_at = {(prefix, field.number): s for prefix, field, s in leaf_of.values()}
    tables: list[list[tuple[int, int, int, int, int]]] = []
    i = 0
    while i < len(order):
        (tag, where), d = order[i]
        rows = []
        for field in d.fields:
            if _required(field):
                raise UnsupportedError("required fields")
            kind = _KIND_OF_TYPE.get(field.type)
            if kind is None:
                raise UnsupportedError(f"field type {field.type} (groups)")
            child = -1
            if kind == K_MESSAGE:
                sub = f"{where}.{field.name}" if where else field.name
                on_path = tag == "path" and sub in prefixes
                key = ("path", sub) if on_path else ("type", field.message_type.full_name)
                child = node(key, field.message_type)
            slot = slot_at.get((where, field.number), -1) if tag == "path" else -1
            rows.append((field.number, kind, int(is_repeated(field)), child, slot))
        tables.append(rows)
        i += 1
    parent = [0] * len(paths)
    default_tag = [T_NONE] * len(paths)
    default_int = [0] * len(paths)
    symbols: list[str] = []
    symbol_of: dict[tuple[int, int], int] = {}
    enum_slots: list[int] = []
    for prefix, field, s in leaf_of.values():
        parent[s] = keys[("path", prefix)]
        kind = _KIND_OF_TYPE[field.type]
        if kind == K_ENUM:
            if getattr(field.enum_type, "is_closed", False):
                raise UnsupportedError("a closed enum")
            enum_slots.append(s)
            # The name document() gives a number (values_by_number: one name per number).
            for number, value in field.enum_type.values_by_number.items():
                symbol_of[(s, number)] = len(symbols)
                symbols.append(value.name)
        if not field.has_presence:
            default_tag[s], default_int[s] = _default(kind)
    first, count, flat = [], [], []
    for rows in tables:
        first.append(len(flat))
        count.append(len(rows))
        flat.extend(rows)
    cols = list(zip(*flat, strict=True)) if flat else [(), (), (), (), ()]
    return Program(
        first=np.asarray(first, dtype=np.int64),
        count=np.asarray(count, dtype=np.int64),
        number=np.asarray(cols[0] or [0], dtype=np.int64),
        kind=np.asarray(cols[1] or [0], dtype=np.int64),
        repeated=np.asarray(cols[2] or [0], dtype=np.int64),
        child=np.asarray(cols[3] or [0], dtype=np.int64),
        slot=np.asarray(cols[4] or [-1], dtype=np.int64),
        default_tag=np.asarray(default_tag or [0], dtype=np.int8),
        default_int=np.asarray(default_int or [0], dtype=np.int64),
        parent=np.asarray(parent or [0], dtype=np.int64),
        symbol_of=symbol_of,
        enum_slots=tuple(enum_slots),
        symbols=tuple(symbols),
        slots=len(paths),
    )


_MESSAGE_TYPE = 11


def _default(kind: int) -> tuple[int, int]:
    """The tag and integer of a proto3 scalar's default (an enum's is number 0)."""
    if kind in (K_DOUBLE, K_FLOAT):
        return T_FLOAT, 0
    if kind == K_BOOL:
        return T_BOOL, 0
    if kind == K_STRING:
        return T_STRING, 0
    if kind == K_BYTES:
        return T_BYTES, 0
    if kind == K_ENUM:
        return T_ENUM, 0
    return T_LONG, 0


def _required(field: Any) -> bool:
    required = getattr(field, "is_required", None)
    if required is not None:
        return bool(required)
    return bool(field.label == field.LABEL_REQUIRED)


def _synthetic(field: Any) -> bool:
    """A proto3 ``optional`` field's own oneof (not a real choice between fields)."""
    oneof = field.containing_oneof
    return oneof is not None and len(oneof.fields) == 1 and field.has_presence


@njit(cache=True, nogil=True)
def _varint(buf: np.ndarray, p: int, end: int) -> tuple[np.uint64, int, bool]:
    result = np.uint64(0)
    for i in range(10):
        if p >= end:
            return np.uint64(0), p, False
        b = np.uint64(buf[p])
        p += 1
        if i == 9 and b > np.uint64(1):
            return np.uint64(0), p, False
        result |= (b & np.uint64(0x7F)) << np.uint64(7 * i)
        if (b & np.uint64(0x80)) == 0:
            return result, p, True
    return np.uint64(0), p, False


@njit(cache=True, nogil=True)
def _utf8(buf: np.ndarray, p: int, end: int) -> bool:
    """Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF)."""
    while p < end:
        b = buf[p]
        if b < 0x80:
            p += 1
            continue
        if 0xC2 <= b <= 0xDF:
            need, low, high = 1, 0x80, 0xBF
        elif b == 0xE0:
            need, low, high = 2, 0xA0, 0xBF
        elif 0xE1 <= b <= 0xEC or 0xEE <= b <= 0xEF:
            need, low, high = 2, 0x80, 0xBF
        elif b == 0xED:
            need, low, high = 2, 0x80, 0x9F
        elif b == 0xF0:
            need, low, high = 3, 0x90, 0xBF
        elif 0xF1 <= b <= 0xF3:
            need, low, high = 3, 0x80, 0xBF
        elif b == 0xF4:
            need, low, high = 3, 0x80, 0x8F
        else:
            return False
        if p + need >= end:
            return False
        if not (low <= buf[p + 1] <= high):
            return False
        for k in range(2, need + 1):
            if not (0x80 <= buf[p + k] <= 0xBF):
                return False
        p += need + 1
    return True


@njit(cache=True, nogil=True)
def _find(number: np.ndarray, first: int, count: int, wanted: int) -> int:
    for e in range(first, first + count):
        if number[e] == wanted:
            return e
    return -1


@njit(cache=True, nogil=True)
def read_batch(  # noqa: PLR0917
    buf: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    first: np.ndarray,
    count: np.ndarray,
    number: np.ndarray,
    kind: np.ndarray,
    repeated: np.ndarray,
    child: np.ndarray,
    slot: np.ndarray,
    default_tag: np.ndarray,
    default_int: np.ndarray,
    parent: np.ndarray,
    slots: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Walk every record's message; per slot a tag, an integer (long, bool, enum number, text
    start), a float and a text length, and per record whether it read exactly."""
    n = starts.size
    tags = np.full((slots, n), -1, dtype=np.int8)  # -1: not on the wire
    ints = np.zeros((slots, n), dtype=np.int64)
    floats = np.zeros((slots, n), dtype=np.float64)
    lengths = np.zeros((slots, n), dtype=np.int64)
    ok = np.ones(n, dtype=np.bool_)
    present = np.zeros(first.size, dtype=np.bool_)
    stack_node = np.zeros(MAX_DEPTH, dtype=np.int64)
    stack_end = np.zeros(MAX_DEPTH, dtype=np.int64)
    scratch = np.zeros(8, dtype=np.uint8)
    for row in range(n):
        present[:] = False
        present[0] = True
        depth = 0
        stack_node[0] = 0
        stack_end[0] = ends[row]
        p = starts[row]
        good = True
        while good:
            if p == stack_end[depth]:
                if depth == 0:
                    break
                depth -= 1
                continue
            end = stack_end[depth]
            node = stack_node[depth]
            key, p, good = _varint(buf, p, end)
            if not good:
                break
            field = np.int64(key >> np.uint64(3))
            wire = np.int64(key & np.uint64(7))
            # Field numbers run from 1 to 2^29 - 1; the runtime calls any other corrupt.
            if field == 0 or field > 536_870_911 or wire == 3 or wire == 4 or wire > 5:  # noqa: PLR1714
                good = False
                break
            e = _find(number, first[node], count[node], field)
            if wire == 2:
                size, p, good = _varint(buf, p, end)
                if not good or size > np.uint64(end - p):
                    good = False
                    break
                stop = p + np.int64(size)
                if e < 0:
                    p = stop
                    continue
                k = kind[e]
                if k == K_MESSAGE:
                    if depth + 1 >= MAX_DEPTH:
                        good = False
                        break
                    depth += 1
                    stack_node[depth] = child[e]
                    stack_end[depth] = stop
                    present[child[e]] = True
                    continue
                if k == K_STRING or k == K_BYTES:  # noqa: PLR1714, SIM109
                    if k == K_STRING and not _utf8(buf, p, stop):
                        good = False
                        break
                    s = slot[e]
                    if s >= 0:
                        tags[s, row] = T_STRING if k == K_STRING else T_BYTES
                        ints[s, row] = p
                        lengths[s, row] = stop - p
                    p = stop
                    continue
                if repeated[e] == 0:
                    good = False  # a singular number on the wire as a packed run
                    break
                # A packed run: every element must read, and fill it exactly.
                width = 8 if _WIRE_OF[k] == 1 else 4 if _WIRE_OF[k] == 5 else 0
                if width:
                    if (stop - p) % width:
                        good = False
                        break
                    p = stop
                    continue
                while p < stop and good:
                    _, p, good = _varint(buf, p, stop)
                continue
            if e < 0:  # an unknown field: skipped
                if wire == 0:
                    _, p, good = _varint(buf, p, end)
                else:
                    width = 8 if wire == 1 else 4
                    if p + width > end:
                        good = False
                        break
                    p += width
                continue
            k = kind[e]
            expected = _WIRE_OF[k]
            if expected != wire:
                good = False
                break
            s = slot[e]
            if wire == 0:
                u, p, good = _varint(buf, p, end)
                if not good or s < 0:
                    continue
                if k == K_BOOL:
                    tags[s, row] = T_BOOL
                    ints[s, row] = 1 if u != np.uint64(0) else 0
                    continue
                if k == K_INT32 or k == K_ENUM:  # noqa: PLR1714, SIM109
                    low = np.int64(u & np.uint64(0xFFFFFFFF))
                    value = low - (np.int64(1) << 32) if low >= (np.int64(1) << 31) else low
                elif k == K_UINT32:
                    value = np.int64(u & np.uint64(0xFFFFFFFF))
                elif k == K_SINT32:
                    low = u & np.uint64(0xFFFFFFFF)
                    value = np.int64(low >> np.uint64(1)) ^ -np.int64(low & np.uint64(1))
                elif k == K_SINT64:
                    value = np.int64(u >> np.uint64(1)) ^ -np.int64(u & np.uint64(1))
                elif k == K_UINT64:
                    if u >= np.uint64(1) << np.uint64(63):
                        good = False
                        break
                    value = np.int64(u)
                else:  # K_INT64
                    value = np.int64(u)
                tags[s, row] = T_ENUM if k == K_ENUM else T_LONG
                ints[s, row] = value
                continue
            width = 8 if wire == 1 else 4
            if p + width > end:
                good = False
                break
            if s >= 0:
                for b in range(8):
                    scratch[b] = buf[p + b] if b < width else 0
                if k == K_DOUBLE:
                    tags[s, row] = T_FLOAT
                    floats[s, row] = scratch.view(np.float64)[0]
                elif k == K_FLOAT:
                    tags[s, row] = T_FLOAT
                    floats[s, row] = scratch[:4].view(np.float32)[0]
                elif k == K_FIXED64:
                    u = scratch.view(np.uint64)[0]
                    if u >= np.uint64(1) << np.uint64(63):
                        good = False
                        break
                    tags[s, row] = T_LONG
                    ints[s, row] = np.int64(u)
                elif k == K_SFIXED64:
                    tags[s, row] = T_LONG
                    ints[s, row] = scratch.view(np.int64)[0]
                elif k == K_FIXED32:
                    tags[s, row] = T_LONG
                    ints[s, row] = np.int64(scratch[:4].view(np.uint32)[0])
                else:  # K_SFIXED32
                    tags[s, row] = T_LONG
                    ints[s, row] = np.int64(scratch[:4].view(np.int32)[0])
            p += width
        ok[row] = good and depth == 0 and p == ends[row]
        if not ok[row]:
            continue
        for s in range(slots):
            if tags[s, row] == -1:
                if present[parent[s]] and default_tag[s] != T_NONE:
                    tags[s, row] = default_tag[s]
                    ints[s, row] = default_int[s]
                    lengths[s, row] = 0
                else:
                    tags[s, row] = T_NONE
    return tags, ints, floats, lengths, ok


class ProtoColumns:
    """Reads batches of Protobuf messages into columns for a fixed set of struct paths,
    compiling each message type once; ``read`` returns None for a batch the caller must read
    with the protobuf runtime."""

    def __init__(self, paths: list[str], numbers: set[str]) -> None:
        self.paths = list(paths)
        self.numbers = numbers
        self._programs: dict[Any, Program | None] = {}

    def program(self, key: Any, descriptor: Any) -> Program | None:
        """The compiled program of the message type known by ``key`` (None: unsupported)."""
        if key not in self._programs:
            try:
                self._programs[key] = compile_message(descriptor, self.paths)
            except (UnsupportedError, KeyError, TypeError, ValueError, AttributeError):
                self._programs[key] = None
        return self._programs[key]

    def read(self, values: list[bytes], program: Program, offset: int) -> Columns | None:
        """Columns of ``values``, each a message of ``program`` from byte ``offset``; None
        when any value is not read exactly."""
        data, buf, starts, ends = spans(values, offset)
        tags, ints, floats, text, ok = read_batch(
            buf, starts, ends, program.first, program.count,
            program.number, program.kind, program.repeated, program.child, program.slot,
            program.default_tag, program.default_int, program.parent, program.slots,
        )  # fmt: skip
        if not ok.all():
            return None
        for s in program.enum_slots:
            at = np.flatnonzero(tags[s] == T_ENUM)
            known = [program.symbol_of.get((s, n), -1) for n in ints[s][at].tolist()]
            ids = np.asarray(known, dtype=np.int64)
            tags[s][at[ids < 0]] = T_LONG  # a number the enum does not name: the number
            ints[s][at[ids >= 0]] = ids[ids >= 0]
        out: dict[str, list[Any]] = {}
        numbers: dict[str, np.ndarray] = {}
        for s, path in enumerate(self.paths):
            column = column_values(
                tags[s], ints[s], floats[s], text[s], data, program.symbols, bytes_as_text=True
            )
            if column is None:
                return None
            out[path] = column
            if path in self.numbers:
                number = number_column(tags[s], ints[s], floats[s])
                if number is not None:
                    numbers[path] = number
        return Columns(out, numbers)
