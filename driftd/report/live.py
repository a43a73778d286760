"""The daemon's live page at ``/``: the recent windows held in memory, drawn as a report.

For an operator without Grafana: the same charts as ``driftd report`` over the last ``keep``
windows of every statistic, the firing alerts, and the page reloading itself. It is a verdict
sink (fed on the poll thread, memory only) and renders on an HTTP worker thread, at most once
per ``cache_for`` seconds however many browsers are open.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from driftd.monitoring.sinks import segment_label, verdict_document
from driftd.records import Verdict
from driftd.reference.profile import Profile

PLOTLY_PATH = "/assets/plotly.min.js"


class LivePage:
    """Recent verdicts per series, and the page drawn from them."""

    def __init__(
        self,
        profiles: Callable[[], Mapping[str, Profile]],
        alerts: Callable[[], list[dict[str, Any]]] | None = None,
        *,
        keep: int = 120,
        cache_for: float = 5.0,
        refresh: int = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._profiles = profiles
        self._alerts = alerts
        self._keep = keep
        self._cache_for = cache_for
        self._refresh = refresh
        self._clock = clock
        self._lock = threading.Lock()
        self._render_lock = threading.Lock()
        self._series: dict[tuple[str, str, str, str, str], deque[dict[str, Any]]] = {}
        self._cached: tuple[float, bytes] | None = None

    def publish(self, verdicts: list[Verdict]) -> None:
        """Keep the window's verdicts (poll thread: memory only)."""
        with self._lock:
            for v in verdicts:
                key = (v.monitor, segment_label(v), v.kind, v.feature, v.statistic)
                held = self._series.get(key)
                if held is None:
                    held = self._series[key] = deque(maxlen=self._keep)
                held.append(verdict_document(v))

    def documents(self) -> list[dict[str, Any]]:
        """The verdict documents held, series by series."""
        with self._lock:
            return [d for held in self._series.values() for d in held]

    def html(self) -> bytes:
        """The page (rendered again when the cached one is older than ``cache_for``)."""
        with self._render_lock:
            now = self._clock()
            if self._cached is not None and now - self._cached[0] < self._cache_for:
                return self._cached[1]
            from driftd.report.data import gather
            from driftd.report.page import render

            docs = self.documents()
            data = gather(docs, _firing(self._alerts() if self._alerts else []), source="live")
            page = render(
                data,
                self._profiles(),
                title="driftd · live",
                plotly_src=PLOTLY_PATH,
                refresh=self._refresh,
            ).encode("utf-8")
            self._cached = (now, page)
            return page


def _firing(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Firing alerts from ``/status`` as notification-shaped documents for ``gather``."""
    out = []
    for a in alerts:
        if a.get("state") != "firing":
            continue
        try:
            start = datetime.fromisoformat(str(a["active_at"]).replace("Z", "+00:00"))
        except (KeyError, ValueError):
            continue
        alert = {
            "fingerprint": a.get("fingerprint", ""),
            "labels": a.get("labels", {}),
            "status": "firing",
            "starts_at": start.timestamp(),
            "ends_at": None,
        }
        out.append({"receiver": "", "alerts": [alert]})
    return out
