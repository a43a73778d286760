"""Plain Avro record values (no registry): each record is one datum of a schema file.

``format: avro`` with ``schema_file: prediction.avsc``. The datum becomes a row document the
field paths address as they address JSON (nested records by dotted names, arrays by
position); a value that does not read as exactly one datum of the schema, with nothing left
over, is refused with reason ``invalid_avro``.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from driftd.errors import ConfigError, DecodeError

# What fastavro raises on bytes that are not a datum of the schema (it has no error type of its
# own for that): truncated input, bad varints, invalid UTF-8, indices out of range.
_UNREADABLE = (EOFError, ValueError, IndexError, KeyError, TypeError, OverflowError, struct.error)


def load_schema(path: Path) -> Any:
    """The parsed schema of an ``.avsc`` file; ConfigError naming the file otherwise."""
    import fastavro

    try:
        return fastavro.parse_schema(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise ConfigError(f"schema_file {str(path)!r}: {exc.strerror}") from None
    except (ValueError, TypeError, KeyError, fastavro.schema.SchemaParseException) as exc:
        raise ConfigError(f"schema_file {str(path)!r} is not an Avro schema: {exc}") from None


def read_datum(value: bytes, schema: Any, start: int = 0) -> Any:
    """The one datum of ``schema`` in ``value`` from byte ``start``, nothing left over; else a
    DecodeError with reason ``invalid_avro``. (Also the registry's Avro reader.)"""
    from fastavro import schemaless_reader

    buf = io.BytesIO(value)
    buf.seek(start)
    try:
        datum = schemaless_reader(buf, schema, None)
    except _UNREADABLE as exc:
        raise DecodeError("invalid_avro", f"not a datum of the schema: {exc!r}") from None
    left = len(value) - buf.tell()
    if left:
        raise DecodeError("invalid_avro", f"{left} byte(s) left after the datum")
    return datum


def as_rows(datum: Any) -> list[dict[str, Any]]:
    """One datum as the one row document field paths address (a non-record as ``value``)."""
    return [datum] if isinstance(datum, dict) else [{"value": datum}]


def rows_of(schema: Any) -> Callable[[bytes | None, Any], list[dict[str, Any]]]:
    """The function from a record value to its one row document."""

    def rows(value: bytes | None, headers: Any) -> list[dict[str, Any]]:
        if value is None:
            raise DecodeError("empty", "record has no value (tombstone)")
        return as_rows(read_datum(value, schema))

    return rows
