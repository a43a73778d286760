"""What a report shows, gathered from verdict documents and would-be notifications.

The inputs are the JSON documents driftd already writes (``replay --output`` lines, the
drift-events topic, ``--notifications`` lines), so a report can be made from any of them, in
the same run or later. Everything here is plain data; charts and HTML come after.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftd.errors import DriftdError


@dataclass(frozen=True)
class Point:
    """One window's value of one statistic."""

    index: int
    start: float
    end: float
    size: int
    value: float
    limit: float
    state: str
    detail: str
    histogram: tuple[int, ...] = ()

    @property
    def ratio(self) -> float:
        """How far past its limit (1.0 at the limit); NaN without both numbers."""
        if not (math.isfinite(self.value) and math.isfinite(self.limit)) or self.limit <= 0:
            return math.nan
        return self.value / self.limit


@dataclass(frozen=True)
class Episode:
    """A run of consecutive windows in drift."""

    first: Point
    last: Point
    windows: int


@dataclass(frozen=True)
class Series:
    """One statistic of one feature of one monitor and segment, window by window."""

    monitor: str
    segment: str
    feature: str
    statistic: str
    kind: str
    points: tuple[Point, ...]

    @property
    def title(self) -> str:
        """``feature · statistic`` (the segment when there is one)."""
        seg = "" if self.segment == "all" else f" [{self.segment}]"
        name = f"{self.feature} · {self.statistic}" if self.feature else self.statistic
        return name + seg

    def episodes(self) -> list[Episode]:
        """Runs of drift windows, in order."""
        runs: list[Episode] = []
        current: list[Point] = []
        for p in [*self.points, None]:
            if p is not None and p.state == "drift":
                current.append(p)
                continue
            if current:
                runs.append(Episode(current[0], current[-1], len(current)))
                current = []
        return runs

    def worst(self) -> Point | None:
        """The drift window furthest past its limit."""
        drifted = [p for p in self.points if p.state == "drift" and not math.isnan(p.ratio)]
        return max(drifted, key=lambda p: p.ratio) if drifted else None


@dataclass(frozen=True)
class AlertSpan:
    """One alert from its first firing notification to its resolve (``end`` None: still on)."""

    fingerprint: str
    labels: Mapping[str, str]
    start: float
    end: float | None
    receivers: tuple[str, ...]

    @property
    def name(self) -> str:
        """The alert's name and its identifying labels."""
        keys = ("monitor", "segment", "feature", "statistic")
        shown = " ".join(f"{k}={self.labels[k]}" for k in keys if self.labels.get(k))
        return f"{self.labels.get('alertname', 'alert')} {shown}".strip()


@dataclass(frozen=True)
class ReportData:
    """Every series, grouped by monitor, and the alerts that fired."""

    series: tuple[Series, ...]
    alerts: tuple[AlertSpan, ...] = ()
    source: str = ""
    skipped: int = 0
    monitors: tuple[str, ...] = field(default=())

    def of(self, monitor: str) -> list[Series]:
        """The series of one monitor."""
        return [s for s in self.series if s.monitor == monitor]


def gather(
    verdicts: Iterable[Mapping[str, Any]],
    notifications: Iterable[Mapping[str, Any]] = (),
    *,
    source: str = "",
) -> ReportData:
    """Group verdict documents into series and notifications into alert spans. Documents that
    do not have a verdict's shape are counted in ``skipped``, not fatal."""
    grouped: dict[tuple[str, str, str, str, str], list[Point]] = {}
    skipped = 0
    for doc in verdicts:
        try:
            key, point = _point(doc)
        except (KeyError, TypeError, ValueError):
            skipped += 1
            continue
        grouped.setdefault(key, []).append(point)
    series = tuple(
        Series(*key, points=tuple(sorted(points, key=lambda p: p.index)))
        for key, points in grouped.items()
    )
    monitors = tuple(dict.fromkeys(s.monitor for s in series))
    return ReportData(series, _spans(notifications), source, skipped, monitors)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines file (blank lines skipped)."""
    docs = []
    try:
        with Path(path).open("rb") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    doc = json.loads(line)
                except ValueError as exc:
                    raise DriftdError(f"{path}:{n}: not JSON ({exc})") from None
                if isinstance(doc, dict):
                    docs.append(doc)
    except OSError as exc:
        raise DriftdError(f"cannot read {path}: {exc.strerror}") from None
    return docs


def _num(x: Any) -> float:
    return math.nan if x is None else float(x)


def _point(doc: Mapping[str, Any]) -> tuple[tuple[str, str, str, str, str], Point]:
    window = doc["window"]
    segment = doc.get("segment") or {}
    label = ",".join(f"{k}={v}" for k, v in segment.items()) or "all"
    key = (str(doc["monitor"]), label, str(doc["feature"]), str(doc["statistic"]),
           str(doc.get("kind", "data")))  # fmt: skip
    point = Point(
        index=int(window["index"]),
        start=_num(window.get("start")),
        end=_num(window.get("end")),
        size=int(window.get("size") or 0),
        value=_num(doc.get("value")),
        limit=_num(doc.get("limit")),
        state=str(doc["state"]),
        detail=str(doc.get("detail") or ""),
        histogram=tuple(int(c) for c in doc.get("histogram") or ()),
    )
    return key, point


def _spans(notifications: Iterable[Mapping[str, Any]]) -> tuple[AlertSpan, ...]:
    """Alert spans in order of their start; an alert that fires again after its resolve
    opens a new span."""
    spans: dict[str, list[dict[str, Any]]] = {}
    for note in notifications:
        receiver = str(note.get("receiver", ""))
        for alert in note.get("alerts") or ():
            try:
                fp = str(alert["fingerprint"])
                start = float(alert["starts_at"])
                end = None if alert.get("ends_at") is None else float(alert["ends_at"])
            except (KeyError, TypeError, ValueError):
                continue
            runs = spans.setdefault(fp, [])
            if not runs or (runs[-1]["end"] is not None and start >= runs[-1]["end"]):
                labels = dict(alert.get("labels") or {})
                runs.append({"labels": labels, "start": start, "end": None, "receivers": []})
            run = runs[-1]
            if receiver and receiver not in run["receivers"]:
                run["receivers"].append(receiver)
            run["end"] = end if alert.get("status") == "resolved" else None
    flat = [
        AlertSpan(fp, r["labels"], r["start"], r["end"], tuple(r["receivers"]))
        for fp, runs in spans.items()
        for r in runs
    ]
    return tuple(sorted(flat, key=lambda a: a.start))
