"""One HTML page from report data: a summary at the top, then each monitor's charts.

The same page serves two uses: a backtest report written to a file (plotly's JavaScript
inlined: the file opens anywhere, offline) and the daemon's live page at ``/`` (the script
served by the daemon itself, the page reloading itself).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import plotly.io as pio

from driftd.reference.profile import Profile
from driftd.report.charts import histogram_figure, schema_figure, statistic_figure, uses_time
from driftd.report.data import AlertSpan, ReportData, Series

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #222; background: #fafafa; }
header { background: #24292f; color: #fff; padding: 14px 24px; }
header h1 { margin: 0; font-size: 20px; } header p { margin: 4px 0 0; color: #c9d1d9; }
main { padding: 8px 24px 40px; max-width: 1500px; }
h2 { border-bottom: 2px solid #d0d7de; padding-bottom: 4px; margin-top: 32px; }
h3 { margin: 22px 0 6px; font-size: 16px; color: #444; }
table { border-collapse: collapse; background: #fff; font-size: 13px; margin: 6px 0 12px; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; }
th { background: #f0f3f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.drift td:first-child { border-left: 4px solid #d62728; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 10px; }
.driftd-chart { background: #fff; border: 1px solid #d0d7de; border-radius: 4px; }
.note { color: #57606a; font-size: 13px; }
"""


def render(
    data: ReportData,
    profiles: Mapping[str, Profile] | None = None,
    *,
    title: str = "driftd report",
    plotly_src: str | None = None,
    refresh: int | None = None,
) -> str:
    """The whole page. ``plotly_src`` None inlines plotly.js; else the page loads it from that
    URL (the live page). ``refresh`` reloads the page every so many seconds."""
    profiles = profiles or {}
    charts: list[str] = []

    def chart(fig: object, points: int) -> str:
        div = f"chart-{len(charts)}"
        body = pio.to_html(
            fig,
            include_plotlyjs=False,
            full_html=False,
            div_id=div,
            config={"displaylogo": False, "responsive": True},
        )
        charts.append(div)
        return f'<div class="driftd-chart" data-points="{points}">{body}</div>'

    sections = [_summary(data)]
    for monitor in data.monitors:
        sections.append(_monitor(monitor, data, profiles.get(monitor), chart))
    if not data.series:
        sections.append('<p class="note">No windows have been evaluated yet.</p>')
    script = (
        f'<script src="{html.escape(plotly_src)}"></script>'
        if plotly_src is not None
        else f"<script>{_plotly_js()}</script>"
    )
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    windows = sum(len(s.points) for s in data.series if s.kind != "schema")
    subtitle = html.escape(
        f"{data.source + ' · ' if data.source else ''}{len(data.monitors)} monitor(s), "
        f"{windows:,} statistic window(s) · made {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">{meta}'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>{script}</head><body>"
        f"<header><h1>{html.escape(title)}</h1><p>{subtitle}</p></header><main>"
        + "\n".join(sections)
        + f"</main><script>window.driftdCharts = {len(charts)};</script></body></html>\n"
    )


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    # A literal "</script>" inside the bundle would end the tag early.
    return get_plotlyjs().replace("</script>", "<\\/script>")


def plotly_js() -> bytes:
    """plotly.js itself, for the live page's ``/assets/plotly.min.js``."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode("utf-8")


def _when(ts: float) -> str:
    if not math.isfinite(ts):
        return "-"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _esc(value: object) -> str:
    return html.escape(str(value))


def _summary(data: ReportData) -> str:
    rows = []
    for s in data.series:
        episodes = s.episodes()
        if not episodes:
            continue
        first = episodes[0].first
        worst = s.worst()
        drift_windows = sum(e.windows for e in episodes)
        ratio = f"{worst.ratio:.2f}×" if worst is not None else "-"
        rows.append(
            '<tr class="drift">'
            f"<td>{_esc(s.monitor)}</td><td>{_esc(s.segment)}</td><td>{_esc(s.kind)}</td>"
            f"<td>{_esc(s.feature)}</td><td>{_esc(s.statistic)}</td>"
            f"<td>#{first.index} · {_when(first.end)}</td>"
            f'<td class="num">{drift_windows} / {len(s.points)}</td>'
            f'<td class="num">{len(episodes)}</td>'
            f'<td class="num">{max(e.windows for e in episodes)}</td>'
            f'<td class="num">{ratio}</td></tr>'
        )
    total = sum(len(s.points) for s in data.series)
    if rows:
        drift = (
            "<table><tr><th>monitor</th><th>segment</th><th>kind</th><th>feature</th>"
            "<th>statistic</th><th>first drift (window · end)</th><th>windows in drift</th>"
            "<th>episodes</th><th>longest (windows)</th><th>worst / limit</th></tr>"
            + "".join(rows)
            + "</table>"
        )
    else:
        drift = f'<p class="note">No drift in {total:,} evaluated statistic windows.</p>'
    parts = ["<h2>Summary</h2>", "<h3>What drifted</h3>", drift, "<h3>Alerts</h3>"]
    parts.append(_alerts(data.alerts))
    if data.skipped:
        parts.append(f'<p class="note">{data.skipped} line(s) were not verdicts; skipped.</p>')
    return "\n".join(parts)


def _alerts(alerts: Sequence[AlertSpan]) -> str:
    if not alerts:
        return '<p class="note">No alert would have fired (or no notifications were given).</p>'
    rows = []
    for a in alerts:
        lasted = "still firing" if a.end is None else _duration(a.end - a.start)
        rows.append(
            f"<tr><td>{_esc(a.name)}</td><td>{_esc(a.labels.get('severity', ''))}</td>"
            f"<td>{_when(a.start)}</td>"
            f"<td>{_when(a.end) if a.end is not None else '-'}</td><td>{lasted}</td>"
            f"<td>{_esc(', '.join(a.receivers))}</td></tr>"
        )
    return (
        "<table><tr><th>alert</th><th>severity</th><th>fired (event time)</th><th>resolved</th>"
        "<th>lasted</th><th>sent to</th></tr>" + "".join(rows) + "</table>"
    )


def _duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _alerts_of(series: Series, alerts: Sequence[AlertSpan]) -> list[AlertSpan]:
    out = []
    for a in alerts:
        labels = a.labels
        if labels.get("monitor") != series.monitor:
            continue
        if labels.get("feature") not in (None, "", series.feature):
            continue
        if labels.get("statistic") not in (None, "", series.statistic):
            continue
        out.append(a)
    return out


def _monitor(monitor: str, data: ReportData, profile: Profile | None, chart: object) -> str:
    make = chart  # (figure, points) -> html
    all_series = data.of(monitor)
    timed = uses_time(all_series)
    stats = [s for s in all_series if s.kind in {"data", "prediction"}]
    schema = [s for s in all_series if s.kind == "schema"]
    concept = [s for s in all_series if s.kind == "concept"]
    # Drifting series first, then by name: what needs a look is at the top.
    stats.sort(key=lambda s: (not s.episodes(), s.feature, s.statistic))
    parts = [f"<h2>Monitor {_esc(monitor)}</h2>"]
    if stats:
        parts.append("<h3>Statistics against their limits</h3>")
        parts.append('<div class="grid">')
        for s in stats:
            fig = statistic_figure(s, _alerts_of(s, data.alerts), timed=timed)
            parts.append(make(fig, len(s.points)))  # type: ignore[operator]
        parts.append("</div>")
    worst = _worst_windows(stats)
    if worst:
        parts.append("<h3>Worst windows: reference vs live</h3>")
        parts.append('<div class="grid">')
        for s, point in worst:
            feature = profile.features.get(s.feature) if profile is not None else None
            fig = histogram_figure(s, point, feature)
            parts.append(make(fig, len(point.histogram)))  # type: ignore[operator]
        parts.append("</div>")
    if schema:
        parts.append("<h3>Schema anomalies per window</h3>")
        flagged = [s for s in schema if s.episodes()]
        note = ", ".join(f"{s.feature} ({sum(e.windows for e in s.episodes())})" for s in flagged)
        if note:
            parts.append(f'<p class="note">Windows over the limit: {_esc(note)}</p>')
        points = sum(len(s.points) for s in schema)
        parts.append(make(schema_figure(schema, timed=timed), points))  # type: ignore[operator]
    if concept:
        parts.append("<h3>Concept drift: model performance and detectors</h3>")
        if profile is not None and profile.performance:
            ref = ", ".join(f"{k} {v:.4g}" for k, v in sorted(profile.performance.items()))
            parts.append(f'<p class="note">Reference performance: {_esc(ref)}</p>')
        parts.append('<div class="grid">')
        # An estimated metric (CBPE) is drawn on its realized metric's chart when both exist.
        by_name = {s.statistic: s for s in concept}
        for s in concept:
            base = s.statistic.removeprefix("estimated_")
            if s.statistic != base and base in by_name:
                continue
            companion = by_name.get(f"estimated_{s.statistic}")
            fig = statistic_figure(s, _alerts_of(s, data.alerts), timed=timed, estimated=companion)
            points = len(s.points) + (len(companion.points) if companion else 0)
            parts.append(make(fig, points))  # type: ignore[operator]
        parts.append("</div>")
    return "\n".join(parts)


def _worst_windows(stats: Sequence[Series], limit: int = 12) -> list[tuple[Series, object]]:
    """Per drifted feature, its worst window (by the statistic furthest past its limit)."""
    best: dict[str, tuple[Series, object, float]] = {}
    for s in stats:
        point = s.worst()
        if point is None or not point.histogram:
            continue
        held = best.get(s.feature)
        if held is None or point.ratio > held[2]:
            best[s.feature] = (s, point, point.ratio)
    ranked = sorted(best.values(), key=lambda t: -t[2])[:limit]
    return [(s, p) for s, p, _ in ranked]
