"""RFC 3339 timestamps for payloads and the silences API (epoch seconds inside driftd)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

# Alertmanager writes Go's zero time for "no end yet"; webhook consumers expect that exact string.
ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(ts: float | None) -> str:
    """``2025-01-31T12:00:00.250Z`` for epoch seconds; Go's zero time for None, NaN or an
    infinite time (no start)."""
    if ts is None or not math.isfinite(ts):
        return ZERO_TIME
    text = datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


# The times a silence or a payload may carry: 1970-01-01 to 9999-12-31 (what RFC 3339 and
# Python's datetime can write; a time outside would fail every later rendering of it).
EARLIEST = 0.0
LATEST = 253402300799.0


def parse_time(value: object) -> float:
    """Epoch seconds from an RFC 3339 string, a datetime or a number (naive means UTC),
    between 1970 and 9999; raises ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("a time must be an RFC 3339 string or epoch seconds")
    if isinstance(value, int | float):
        return _in_range(float(value), value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"invalid time {value!r}: use RFC 3339, e.g. 2025-01-31T12:00:00Z"
            ) from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return _in_range(value.timestamp(), value)
    raise ValueError("a time must be an RFC 3339 string or epoch seconds")


def _in_range(ts: float, given: object) -> float:
    if not (EARLIEST <= ts <= LATEST):  # also false for NaN
        raise ValueError(f"time {given!r} is out of range: give one between 1970 and 9999")
    return ts
