"""Whole streams whose event times are in another unit than configured (µs read as ms, ...).

Each out-of-range event is dead-lettered with a per-record hint already; this notices when it
is the stream rather than a few records: over every span of at least ``SPAN`` event times, if
``SHARE`` or more would be plausible in one other unit, it logs one warning naming the setting
to change and sets ``driftd_timestamp_unit_suspected{stream, unit}`` to that share (0 again
once a span looks right), so a rule can page on it.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from prometheus_client import Gauge

from driftd.decoding import StreamDecoder

log = logging.getLogger(__name__)

SPAN = 1000
SHARE = 0.9


@dataclass
class _Span:
    checked: int = 0
    looks_like: Counter[str] = field(default_factory=Counter)
    suspected: str | None = None


class UnitCheck:
    """Adds up the decoders' counts per span and reports a stream-wide unit mismatch."""

    def __init__(self, gauge: Gauge) -> None:
        self._gauge = gauge
        self._spans: dict[str, _Span] = {}

    def suspected(self) -> dict[str, str]:
        """Streams whose latest span looked like another unit, and that unit."""
        return {name: s.suspected for name, s in self._spans.items() if s.suspected}

    def observe(self, stream: str, decoder: StreamDecoder) -> str | None:
        """Take what ``decoder`` counted since the last call; returns the suspected unit."""
        span = self._spans.setdefault(stream, _Span())
        checked, looks_like = decoder.take_time_counts()
        span.checked += checked
        span.looks_like.update(looks_like)
        if span.checked < SPAN:
            return span.suspected
        unit, count = (span.looks_like.most_common(1) or [("", 0)])[0]
        share = count / span.checked
        if share >= SHARE:
            if span.suspected != unit:
                log.warning(
                    "stream %s: %.0f%% of the last %d event times look like %s, not %s; every "
                    "one is dead-lettered. Set streams[].timestamp_unit: %s",
                    stream,
                    100 * share,
                    span.checked,
                    unit,
                    decoder.stream.timestamp_unit,
                    unit,
                )
            self._gauge.labels(stream=stream, unit=unit).set(share)
            span.suspected = unit
        elif span.suspected is not None:
            log.info("stream %s: event times look right again", stream)
            self._gauge.labels(stream=stream, unit=span.suspected).set(0.0)
            span.suspected = None
        span.checked, span.looks_like = 0, Counter()
        return span.suspected
