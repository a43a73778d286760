"""Named time intervals (Alertmanager's ``time_intervals``) and the test "is it inside now?".

A route names some as ``mute_time_intervals`` (no notifications while inside one) or
``active_time_intervals`` (notifications only while inside one). An interval holds several
specs; a spec matches when every field it sets matches (``times`` within the day,
``weekdays``, ``days_of_month`` counted from the end when negative, ``months``, ``years``),
evaluated in its ``location`` (UTC by default), as Alertmanager does.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

# English names whatever the locale, as in Alertmanager's config.
WEEKDAYS = {
    d: i
    for i, d in enumerate(
        ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
    )
}
_MONTH_NAMES = (
    "january february march april may june july august september october november december"
)
MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_NAMES.split())}


def parse_ranges(
    items: Sequence[str | int], names: Mapping[str, int], low: int, high: int, what: str
) -> tuple[tuple[int, int], ...]:
    """``['monday:friday', 'sunday']`` or ``['1:5', '-1']`` as inclusive (start, end) pairs."""
    out = []
    for item in items:
        text = str(item).strip().lower()
        start_text, _, end_text = text.partition(":")
        start = _value(start_text, names, low, high, what)
        end = _value(end_text, names, low, high, what) if end_text else start
        if (start >= 0) == (end >= 0) and start > end:
            raise ValueError(f"{what}: {item!r} starts after it ends")
        out.append((start, end))
    return tuple(out)


def _value(text: str, names: Mapping[str, int], low: int, high: int, what: str) -> int:
    if text in names:
        return names[text]
    try:
        value = int(text)
    except ValueError:
        known = f" (or a name: {', '.join(names)})" if names else ""
        raise ValueError(f"{what}: {text!r} is not a number from {low} to {high}{known}") from None
    if what == "days_of_month" and -31 <= value <= -1:
        return value
    if not low <= value <= high:
        raise ValueError(f"{what}: {value} is outside {low}..{high}")
    return value


@dataclass(frozen=True, slots=True)
class IntervalSpec:
    """One spec of a time interval; empty fields match everything."""

    times: tuple[tuple[int, int], ...] = ()  # minutes of the day, [start, end)
    weekdays: tuple[tuple[int, int], ...] = ()
    days_of_month: tuple[tuple[int, int], ...] = ()
    months: tuple[tuple[int, int], ...] = ()
    years: tuple[tuple[int, int], ...] = ()
    location: str = "UTC"

    def contains(self, epoch: float) -> bool:
        """Whether the instant ``epoch`` (seconds) falls inside this spec."""
        t = dt.datetime.fromtimestamp(epoch, ZoneInfo(self.location))
        minute = t.hour * 60 + t.minute
        if self.times and not any(a <= minute < b for a, b in self.times):
            return False
        weekday = (t.weekday() + 1) % 7  # Python's Monday=0 to Alertmanager's Sunday=0
        if self.weekdays and not any(a <= weekday <= b for a, b in self.weekdays):
            return False
        if self.days_of_month:
            days = calendar.monthrange(t.year, t.month)[1]

            def day(v: int) -> int:
                return days + 1 + v if v < 0 else v

            if not any(day(a) <= t.day <= day(b) for a, b in self.days_of_month):
                return False
        if self.months and not any(a <= t.month <= b for a, b in self.months):
            return False
        return not self.years or any(a <= t.year <= b for a, b in self.years)


def any_contains(specs: Sequence[IntervalSpec], epoch: float) -> bool:
    """Whether any spec of an interval contains ``epoch``."""
    return any(s.contains(epoch) for s in specs)
