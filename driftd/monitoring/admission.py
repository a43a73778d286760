"""Which decoded events a monitor can take: per-event checks run before any state changes.

An event a monitor cannot use (a tumbling window without an event time, a concept monitor's id
that is an object, a label that is a list, a score of 400 digits) is refused here with a reason
and goes the way of an undecodable record: counted and dead-lettered. Checking first keeps the
monitors' state untouched by the events they refuse, whatever the batch holds.
"""

from __future__ import annotations

import math
from typing import Any

from driftd.errors import DecodeError

# An integer at least this large cannot become a float64.
_FLOAT_MAX = 2**1023 * (2 - 2**-52)


def id_problem(value: Any) -> DecodeError | None:
    """Why ``value`` cannot join a prediction with its label (None: it can, or is missing)."""
    if value is None or isinstance(value, str):
        return None
    if isinstance(value, bool):
        return DecodeError("bad_id", "an id cannot be a boolean")
    if isinstance(value, int):
        return None
    if isinstance(value, float) and value.is_integer():
        return None
    return DecodeError("bad_id", f"an id must be a string or an integer, got {_show(value)}")


def scalar_problem(role: str, value: Any, numeric: bool) -> DecodeError | None:
    """Why ``value`` cannot be a prediction or label (``numeric``: it must be a number)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return None if not numeric else DecodeError(f"bad_{role}", f"{role} must be a number")
    if isinstance(value, int):
        if abs(value) > _FLOAT_MAX:
            return DecodeError(f"bad_{role}", f"{role} is an integer beyond float range")
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return DecodeError(f"bad_{role}", f"{role} is not finite")
        return None
    if isinstance(value, str) and not numeric:
        return None
    kind = "a number" if numeric else "a string, number or boolean"
    return DecodeError(f"bad_{role}", f"{role} must be {kind}, got {_show(value)}")


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"
