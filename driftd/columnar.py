"""What the columnar readers (driftd.avrocolumns, driftd.protocolumns) share: the value tags
their kernels write per slot and record, and the step from those arrays to Python columns and
float64 number columns, as the record-by-record readers would give them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from driftd.errors import DriftdError

# Value tags in the kernel's output.
T_NONE, T_BOOL, T_LONG, T_FLOAT, T_STRING, T_BYTES, T_ENUM = range(7)


class UnsupportedError(DriftdError):
    """The schema (or a mapped path in it) is outside what the kernel reads (internal: the
    batch is then read record by record)."""


@dataclass(frozen=True)
class Columns:
    """What a batch read: per struct path its column of Python values, and for the paths
    asked for as numbers, the column as float64 (NaN where missing) when every value there is
    a finite number."""

    values: dict[str, list[Any]]
    numbers: dict[str, np.ndarray]


def spans(values: list[bytes], offset: int) -> tuple[bytes, np.ndarray, np.ndarray, np.ndarray]:
    """The values joined, as bytes and as a uint8 array, and where each one's payload starts
    (``offset`` bytes in) and ends in it: what a kernel reads a batch from."""
    data = b"".join(values)
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    ends = np.cumsum(lengths)
    return data, np.frombuffer(data, dtype=np.uint8), ends - lengths + offset, ends


def number_column(tags: np.ndarray, ints: np.ndarray, floats: np.ndarray) -> np.ndarray | None:
    """The column as float64 (NaN where none) when every value is a finite number or none."""
    is_long = tags == T_LONG
    if not np.all((tags == T_FLOAT) | is_long | (tags == T_NONE)):
        return None
    values = np.where(is_long, ints.astype(np.float64), floats)
    if not np.isfinite(values[tags == T_FLOAT]).all():
        return None  # NaN or infinity: the schema checks count it, from the values
    values[tags == T_NONE] = np.nan
    return values


def column_values(  # noqa: PLR0917
    tags: np.ndarray,
    ints: np.ndarray,
    floats: np.ndarray,
    lengths: np.ndarray,
    data: bytes,
    symbols: tuple[str, ...],
    bytes_as_text: bool = False,
) -> list[Any] | None:
    """Python values of one slot, as fastavro gives them (bytes as text with invalid UTF-8
    replaced, as driftd.protobuf gives them, when ``bytes_as_text``); None when some text
    is not UTF-8."""
    present = np.bincount(tags, minlength=7)
    n = tags.size
    if present[T_NONE] == n:
        return [None] * n
    kinds = int(np.count_nonzero(present[1:]))
    if kinds == 1:
        if present[T_FLOAT]:
            column = floats.tolist()
        elif present[T_LONG]:
            column = ints.tolist()
        elif present[T_BOOL]:
            column = (ints != 0).tolist()
        elif present[T_ENUM]:
            column = [symbols[i] for i in ints.tolist()]
        else:
            column = _texts(ints, lengths, data, as_text=bool(present[T_STRING]))
            if column is None:
                return None
            if bytes_as_text and present[T_BYTES]:
                column = [b.decode("utf-8", errors="replace") for b in column]
        if present[T_NONE]:
            for j in np.flatnonzero(tags == T_NONE).tolist():
                column[j] = None
        return column
    column = [None] * n
    starts, sizes, fl, it = ints.tolist(), lengths.tolist(), floats.tolist(), ints.tolist()
    for j, tag in enumerate(tags.tolist()):
        if tag == T_FLOAT:
            column[j] = fl[j]
        elif tag == T_LONG:
            column[j] = it[j]
        elif tag == T_BOOL:
            column[j] = it[j] != 0
        elif tag == T_ENUM:
            column[j] = symbols[it[j]]
        elif tag in (T_STRING, T_BYTES):
            raw = data[starts[j] : starts[j] + sizes[j]]
            if tag == T_STRING:
                try:
                    column[j] = raw.decode("utf-8")
                except UnicodeDecodeError:
                    return None
            else:
                column[j] = raw.decode("utf-8", errors="replace") if bytes_as_text else raw
    return column


def _texts(ints: np.ndarray, lengths: np.ndarray, data: bytes, *, as_text: bool) -> (
    list[Any] | None
):  # fmt: skip
    """Text (or bytes) slices of ``data``. Text is gathered into one buffer, a NUL after each,
    and decoded and split in two C calls, unless some text holds a NUL itself."""
    if as_text:
        buf = np.frombuffer(data, dtype=np.uint8)
        joined = _gather(buf, ints, lengths)
        if int(np.count_nonzero(joined == 0)) == ints.size:
            try:
                return joined.tobytes().decode("utf-8").split("\x00")[:-1]
            except UnicodeDecodeError:
                return None
    out: list[Any] = []
    for start, size in zip(ints.tolist(), lengths.tolist(), strict=True):
        raw = data[start : start + size]
        if as_text:
            try:
                out.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                return None
        else:
            out.append(raw)
    return out


@njit(cache=True, nogil=True)
def _gather(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The slices ``buf[starts[i]:starts[i] + lengths[i]]``, each followed by a zero byte."""
    out = np.empty(lengths.sum() + lengths.size, dtype=np.uint8)
    p = 0
    for i in range(starts.size):
        s = starts[i]
        for k in range(lengths[i]):
            out[p] = buf[s + k]
            p += 1
        out[p] = 0
        p += 1
    return out
