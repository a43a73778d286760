"""Avro datums straight into columns: a writer schema compiled into a flat program that one
Numba kernel runs over a whole batch of record values.

A record's Avro encoding is its fields one after the other (nested records inline), so a
schema of records, primitives, enums, fixed and unions of those is a list of steps, each
reading one value and keeping it when a field path maps it. The kernel gives per mapped path a
tag (none, boolean, long, float, string, bytes, enum) and the value, with no Python object per
record; Python then builds only the columns the field mapping reads.

Anything the kernel is not sure of is not decided here: a schema with arrays or maps, a path
into a union of records, a record whose bytes do not read exactly (truncated, a varint past 64
bits, a union index out of range, bytes left over), text that is not UTF-8. The caller reads
such a batch with fastavro as before, which names the reason.
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

# Step kinds (union branches use the same kinds, except UNION).
NULL, BOOLEAN, LONG, FLOAT, DOUBLE, STRING, BYTES, ENUM, FIXED, UNION = range(10)
_PRIMITIVE = {
    "null": NULL,
    "boolean": BOOLEAN,
    "int": LONG,
    "long": LONG,
    "float": FLOAT,
    "double": DOUBLE,
    "string": STRING,
    "bytes": BYTES,
}


@dataclass(frozen=True)
class Program:
    """The compiled steps of one writer schema for one set of mapped struct paths.

    Step ``i`` reads a value of kind ``kind[i]`` (``size[i]`` bytes for fixed; for a union,
    branches ``branch[i] .. branch[i] + branches[i]`` of the branch tables) and keeps it in
    output slot ``slot[i]`` (-1: skipped). ``symbols[i]`` are an enum step's symbols, found
    through ``symbol_base``: a kept enum value is ``symbol_base[i] + index``.
    """

    kind: np.ndarray
    slot: np.ndarray
    size: np.ndarray
    branch: np.ndarray
    branches: np.ndarray
    branch_kind: np.ndarray
    branch_size: np.ndarray
    branch_symbols: np.ndarray
    symbol_base: np.ndarray
    symbols: tuple[str, ...]
    slots: int


def compile_schema(schema: Any, paths: list[str], named: dict[str, Any] | None = None) -> Program:
    """The program reading ``schema`` (fastavro-parsed) and keeping the values at ``paths``
    (dotted record field names); Unsupported when the kernel cannot read it exactly."""
    named = dict(named or {})
    slot_of = {p: i for i, p in enumerate(paths)}
    steps: list[tuple[int, int, int, list[tuple[int, int, tuple[str, ...]]], tuple[str, ...]]] = []

    def resolve(s: Any) -> Any:
        if isinstance(s, str):
            if s in _PRIMITIVE:
                return s
            if s not in named:
                raise UnsupportedError(f"unknown named type {s!r}")
            return named[s]
        if isinstance(s, dict) and s.get("type") in _PRIMITIVE and not s.get("logicalType"):
            return s["type"]
        return s

    def leaf(s: Any) -> tuple[int, int, tuple[str, ...]]:
        s = resolve(s)
        if isinstance(s, str):
            return _PRIMITIVE[s], 0, ()
        if isinstance(s, dict):
            if "logicalType" in s:
                # fastavro turns these into dates, decimals, UUIDs: not raw values.
                raise UnsupportedError(f"logical type {s['logicalType']!r}")
            if s.get("type") == "enum":  # size: the number of symbols
                return ENUM, len(s["symbols"]), tuple(s["symbols"])
            if s.get("type") == "fixed":
                return FIXED, int(s["size"]), ()
        raise UnsupportedError(f"type {s!r} is not a primitive, enum or fixed")

    def walk(s: Any, prefix: str) -> None:
        s = resolve(s)
        if isinstance(s, dict) and s.get("type") == "record":
            # A record defined here may be named again further on.
            if isinstance(s.get("name"), str):
                named.setdefault(s["name"], s)
            for f in s["fields"]:
                path = f"{prefix}{f['name']}"
                if path in slot_of or not _is_record(resolve(f["type"])):
                    add(f["type"], slot_of.get(path, -1), path)
                else:
                    walk(f["type"], path + ".")
            return
        raise UnsupportedError("the schema is not a record")

    def add(s: Any, slot: int, path: str) -> None:
        s = resolve(s)
        if isinstance(s, list):
            branches = [leaf(b) for b in s]
            steps.append((UNION, slot, 0, branches, ()))
            return
        if _is_record(s):
            if slot >= 0:
                raise UnsupportedError(f"{path!r} is a record, not a value")
            walk(s, path + ".")
            return
        kind, size, symbols = leaf(s)
        steps.append((kind, slot, size, [], symbols))

    walk(schema, "")
    if any(p.startswith(q + ".") for p in paths for q in paths):
        raise UnsupportedError("a path inside another")
    kinds, slots, sizes, first, count = [], [], [], [], []
    bkind: list[int] = []
    bsize: list[int] = []
    bsym: list[int] = []
    symbols: list[str] = []
    base: list[int] = []
    for kind, slot, size, branches, syms in steps:
        kinds.append(kind)
        slots.append(slot)
        sizes.append(size)
        first.append(len(bkind))
        count.append(len(branches))
        base.append(len(symbols))
        symbols.extend(syms)
        for bk, bs, bsy in branches:
            bkind.append(bk)
            bsize.append(bs)
            bsym.append(len(symbols))
            symbols.extend(bsy)
    return Program(
        kind=np.asarray(kinds, dtype=np.int8),
        slot=np.asarray(slots, dtype=np.int32),
        size=np.asarray(sizes, dtype=np.int64),
        branch=np.asarray(first, dtype=np.int64),
        branches=np.asarray(count, dtype=np.int64),
        branch_kind=np.asarray(bkind or [0], dtype=np.int8),
        branch_size=np.asarray(bsize or [0], dtype=np.int64),
        branch_symbols=np.asarray(bsym or [0], dtype=np.int64),
        symbol_base=np.asarray(base, dtype=np.int64),
        symbols=tuple(symbols),
        slots=len(paths),
    )


def _is_record(s: Any) -> bool:
    return isinstance(s, dict) and s.get("type") == "record"


@njit(cache=True, nogil=True)
def _varint(buf: np.ndarray, p: int, end: int) -> tuple[int, int, bool]:
    """A zigzag varint at ``p``: (value, next position, ok); not ok past ``end`` or 64 bits."""
    result = np.uint64(0)
    shift = 0
    while True:
        if p >= end or shift > 63:
            return 0, p, False
        b = np.uint64(buf[p])
        p += 1
        if shift == 63 and (b & np.uint64(0x7E)) != 0:
            return 0, p, False  # more than 64 bits
        result |= (b & np.uint64(0x7F)) << np.uint64(shift)
        if (b & np.uint64(0x80)) == 0:
            break
        shift += 7
    value = np.int64(result >> np.uint64(1)) ^ -np.int64(result & np.uint64(1))
    return value, p, True


@njit(cache=True, nogil=True)
def _read_one(  # noqa: PLR0917
    buf: np.ndarray,
    p: int,
    end: int,
    kind: int,
    size: int,
    symbols: int,
    slot: int,
    row: int,
    tags: np.ndarray,
    ints: np.ndarray,
    floats: np.ndarray,
    lengths: np.ndarray,
    scratch: np.ndarray,
) -> tuple[int, bool]:
    """Read one value of ``kind`` at ``p``, keeping it in ``slot`` (-1: skip)."""
    if kind == NULL:
        if slot >= 0:
            tags[slot, row] = T_NONE
        return p, True
    if kind == BOOLEAN:
        if p >= end or buf[p] > 1:
            return p, False
        if slot >= 0:
            tags[slot, row] = T_BOOL
            ints[slot, row] = buf[p]
        return p + 1, True
    if kind == LONG or kind == ENUM:  # noqa: PLR1714, SIM109 (Numba)
        value, p, ok = _varint(buf, p, end)
        if not ok:
            return p, False
        if kind == ENUM:
            if value < 0 or value >= size:  # size holds the number of symbols for an enum
                return p, False
            value += symbols
        if slot >= 0:
            tags[slot, row] = T_LONG if kind == LONG else T_ENUM
            ints[slot, row] = value
        return p, True
    if kind == FLOAT or kind == DOUBLE:  # noqa: PLR1714, SIM109
        width = 4 if kind == FLOAT else 8
        if p + width > end:
            return p, False
        if slot >= 0:
            for k in range(width):
                scratch[k] = buf[p + k]
            if kind == FLOAT:
                floats[slot, row] = scratch[:4].view(np.float32)[0]
            else:
                floats[slot, row] = scratch.view(np.float64)[0]
            tags[slot, row] = T_FLOAT
        return p + width, True
    if kind == STRING or kind == BYTES or kind == FIXED:  # noqa: PLR1714, SIM109
        if kind == FIXED:
            length = size
        else:
            length, p, ok = _varint(buf, p, end)
            if not ok or length < 0:
                return p, False
        if p + length > end:
            return p, False
        if slot >= 0:
            tags[slot, row] = T_STRING if kind == STRING else T_BYTES
            ints[slot, row] = p
            lengths[slot, row] = length
        return p + length, True
    return p, False


@njit(cache=True, nogil=True)
def read_batch(  # noqa: PLR0917
    buf: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    kind: np.ndarray,
    slot: np.ndarray,
    size: np.ndarray,
    branch: np.ndarray,
    branches: np.ndarray,
    branch_kind: np.ndarray,
    branch_size: np.ndarray,
    branch_symbols: np.ndarray,
    symbol_base: np.ndarray,
    slots: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run the program over the records ``buf[starts[r]:ends[r]]``: per slot and record a
    tag, an integer (long, boolean, enum symbol id, text start), a float and a text length;
    and per record whether it read exactly (every byte, nothing left over)."""
    n = starts.size
    tags = np.zeros((slots, n), dtype=np.int8)  # T_NONE: not in the writer schema
    ints = np.zeros((slots, n), dtype=np.int64)
    floats = np.zeros((slots, n), dtype=np.float64)
    lengths = np.zeros((slots, n), dtype=np.int64)
    ok = np.ones(n, dtype=np.bool_)
    scratch = np.zeros(8, dtype=np.uint8)
    for row in range(n):
        p = starts[row]
        end = ends[row]
        good = True
        for i in range(kind.size):
            k = kind[i]
            if k == UNION:
                index, p, good = _varint(buf, p, end)
                if not good or index < 0 or index >= branches[i]:
                    good = False
                    break
                b = branch[i] + index
                p, good = _read_one(
                    buf, p, end, branch_kind[b], branch_size[b], branch_symbols[b], slot[i], row,
                    tags, ints, floats, lengths, scratch,
                )  # fmt: skip
            else:
                p, good = _read_one(
                    buf, p, end, k, size[i], symbol_base[i], slot[i], row,
                    tags, ints, floats, lengths, scratch,
                )  # fmt: skip
            if not good:
                break
        ok[row] = good and p == end
    return tags, ints, floats, lengths, ok


class AvroColumns:
    """Reads batches of Avro values into columns for a fixed set of struct paths, compiling
    each writer schema once; ``read`` returns None for a batch the caller must read itself."""

    def __init__(self, paths: list[str], numbers: set[str]) -> None:
        self.paths = list(paths)
        self.numbers = numbers
        self._programs: dict[Any, Program | None] = {}

    def program(self, key: Any, schema: Any, named: dict[str, Any] | None) -> Program | None:
        """The compiled program of the writer schema known by ``key`` (None: unsupported)."""
        if key not in self._programs:
            try:
                self._programs[key] = compile_schema(schema, self.paths, named)
            except (UnsupportedError, KeyError, TypeError, ValueError):
                self._programs[key] = None
        return self._programs[key]

    def read(self, values: list[bytes | None], groups: list[tuple[Program, list[int], int]]) -> (
        Columns | None
    ):  # fmt: skip
        """Columns of ``values``, given which program reads which of them (``groups``: the
        program, the positions it reads, the offset of the datum in each value); None when
        any value is not read exactly."""
        n = len(values)
        out: dict[str, list[Any]] = {p: [None] * n for p in self.paths}
        floats_out = {p: np.full(n, np.nan) for p in self.paths if p in self.numbers}
        usable = set(floats_out)
        for program, positions, offset in groups:
            chosen = values if len(positions) == n else [values[i] for i in positions]
            if None in chosen:
                return None
            data, buf, starts, ends = spans(chosen, offset)  # type: ignore[arg-type]
            tags, ints, floats, text, ok = read_batch(
                buf, starts, ends, program.kind, program.slot, program.size, program.branch,
                program.branches, program.branch_kind, program.branch_size,
                program.branch_symbols, program.symbol_base, program.slots,
            )  # fmt: skip
            if not ok.all():
                return None
            whole = len(positions) == n
            for s, path in enumerate(self.paths):
                column = column_values(tags[s], ints[s], floats[s], text[s], data, program.symbols)
                if column is None:
                    return None
                if whole:
                    out[path] = column
                else:
                    target = out[path]
                    for j, v in zip(positions, column, strict=True):
                        target[j] = v
                if path in usable:
                    number = number_column(tags[s], ints[s], floats[s])
                    if number is None:
                        usable.discard(path)
                    else:
                        floats_out[path][positions] = number
        return Columns(out, {p: floats_out[p] for p in usable})
