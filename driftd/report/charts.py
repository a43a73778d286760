"""The report's charts as plotly figures: statistics against limits, reference vs live.

plotly draws them in the browser from the figure's JSON (its JavaScript is inlined in the
page, so nothing is fetched at view time) and gives zoom and hover for free, which a backtest
of thousands of windows needs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import plotly.graph_objects as go

from driftd.reference.profile import FeatureProfile
from driftd.report.data import AlertSpan, Point, Series

VALUE = "#1f77b4"
LIMIT = "#7f7f7f"
DRIFT = "#d62728"
ALERT = "#ff7f0e"
REFERENCE = "#9aa9b8"
LIVE = "#1f77b4"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def uses_time(series: Sequence[Series]) -> bool:
    """Whether every window has event times (else the x axis counts windows)."""
    return all(math.isfinite(p.end) for s in series for p in s.points) and any(
        s.points for s in series
    )


def _x(p: Point, timed: bool) -> str | int:
    return _when(p.end) if timed else p.index


def _layout(title: str, height: int, timed: bool, y: str) -> dict[str, object]:
    return {
        "title": {"text": title, "font": {"size": 14}, "x": 0.01},
        "height": height,
        "margin": {"l": 55, "r": 15, "t": 48, "b": 45},
        "legend": {
            "orientation": "h",
            "x": 1,
            "y": 1.0,
            "xanchor": "right",
            "yanchor": "bottom",
            "font": {"size": 11},
        },
        "xaxis": {"title": {"text": "window end (UTC)" if timed else "window"}},
        "yaxis": {"title": {"text": y}, "rangemode": "tozero"},
        "hovermode": "x unified",
        "template": "plotly_white",
    }


def statistic_figure(
    series: Series,
    alerts: Sequence[AlertSpan] = (),
    *,
    timed: bool = False,
    estimated: Series | None = None,
) -> go.Figure:
    """The statistic and its limit per window; drift windows marked and shaded, alert spans
    (from first firing to resolve) shaded behind them; with ``estimated``, the label-free
    estimate of the same metric as a dotted line beside the realized one."""
    pts = [p for p in series.points if math.isfinite(p.value)]
    xs = [_x(p, timed) for p in pts]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=[p.value for p in pts],
            mode="lines+markers",
            name=series.statistic,
            line={"color": VALUE, "width": 1.5},
            marker={"size": 4},
            customdata=[[p.index, p.detail] for p in pts],
            hovertemplate="window %{customdata[0]}: %{y:.4g}<br>%{customdata[1]}<extra></extra>",
        )
    )
    limits = [(x, p.limit) for x, p in zip(xs, pts, strict=True) if math.isfinite(p.limit)]
    if limits:
        fig.add_trace(
            go.Scatter(
                x=[x for x, _ in limits],
                y=[v for _, v in limits],
                mode="lines",
                name="limit",
                line={"color": LIMIT, "dash": "dash", "width": 1.2},
                hovertemplate="limit %{y:.4g}<extra></extra>",
            )
        )
    drift = [(x, p) for x, p in zip(xs, pts, strict=True) if p.state == "drift"]
    if drift:
        fig.add_trace(
            go.Scatter(
                x=[x for x, _ in drift],
                y=[p.value for _, p in drift],
                mode="markers",
                name="drift",
                marker={"color": DRIFT, "size": 7, "symbol": "circle"},
                hoverinfo="skip",
            )
        )
    for episode in series.episodes():
        x0, x1 = _span(episode.first, episode.last, timed)
        fig.add_vrect(x0=x0, x1=x1, fillcolor=DRIFT, opacity=0.10, line_width=0, layer="below")
    if timed and pts:
        last = _when(pts[-1].end)
        for alert in alerts:
            end = _when(alert.end) if alert.end is not None else last
            fig.add_vrect(
                x0=_when(alert.start),
                x1=end,
                fillcolor=ALERT,
                opacity=0.18,
                line_width=0,
                layer="below",
                annotation_text="alert " + ", ".join(alert.receivers),
                annotation_position="top left",
                annotation_font_size=10,
            )
    if estimated is not None:
        est = [p for p in estimated.points if math.isfinite(p.value)]
        fig.add_trace(
            go.Scatter(
                x=[_x(p, timed) for p in est],
                y=[p.value for p in est],
                mode="lines",
                name=estimated.statistic,
                line={"color": ALERT, "dash": "dot", "width": 1.5},
                customdata=[[p.detail] for p in est],
                hovertemplate="%{customdata[0]}<extra></extra>",
            )
        )
    fig.update_layout(**_layout(series.title, 280, timed, series.statistic))
    return fig


def _span(first: Point, last: Point, timed: bool) -> tuple[str | float, str | float]:
    if timed:
        start = first.start if math.isfinite(first.start) else first.end
        return _when(start), _when(last.end)
    return first.index - 0.5, last.index + 0.5


def bin_labels(feature: FeatureProfile) -> list[str]:
    """Readable names of a feature's reference bins (or categories, "other" last)."""
    if feature.numeric is not None:
        edges = [f"{e:.4g}" for e in feature.numeric.edges]
        if not edges:
            return ["all"]
        middle = [f"[{a}, {b})" for a, b in itertools.pairwise(edges)]
        return [f"< {edges[0]}", *middle, f"≥ {edges[-1]}"]
    assert feature.categorical is not None
    return [*feature.categorical.domain, "(other)"]


def histogram_figure(series: Series, point: Point, feature: FeatureProfile | None) -> go.Figure:
    """Reference vs live shares per bin (or category) in one window; the bin that moved most
    is marked."""
    live = np.asarray(point.histogram, dtype=np.float64)
    live_share = live / max(live.sum(), 1.0)
    if feature is not None:
        ref_counts = (
            feature.numeric.counts if feature.numeric is not None else feature.categorical.counts  # type: ignore[union-attr]
        )
        ref = np.asarray(ref_counts, dtype=np.float64)
        labels = bin_labels(feature)
    else:
        ref = np.zeros_like(live)
        labels = [f"bin {i}" for i in range(live.size)]
    if ref.size != live.size or len(labels) != live.size:  # a profile of another shape
        ref = np.zeros_like(live)
        labels = [f"bin {i}" for i in range(live.size)]
    ref_share = ref / max(ref.sum(), 1.0)
    worst = int(np.argmax(np.abs(live_share - ref_share))) if live.size else 0
    fig = go.Figure()
    if ref.any():
        fig.add_trace(go.Bar(x=labels, y=ref_share, name="reference", marker={"color": REFERENCE}))
    colors = [DRIFT if i == worst else LIVE for i in range(live.size)]
    fig.add_trace(
        go.Bar(
            x=labels,
            y=live_share,
            name=f"window {point.index}",
            marker={"color": colors},
            customdata=live,
            hovertemplate="%{x}: %{y:.2%} (%{customdata:.0f} events)<extra></extra>",
        )
    )
    if live.size:
        what = "category" if feature is not None and feature.categorical is not None else "bin"
        fig.add_annotation(
            x=labels[worst],
            y=float(max(live_share[worst], ref_share[worst])),
            text=f"most changed {what}",
            showarrow=True,
            arrowhead=2,
            font={"size": 11, "color": DRIFT},
        )
    title = (
        f"{series.feature}: reference vs window {point.index} "
        f"({series.statistic} {point.value:.4g}, limit {point.limit:.4g})"
    )
    layout = _layout(title, 320, False, "share of events")
    layout["xaxis"] = {"title": {"text": "bin" if feature is None or feature.numeric else ""}}
    layout["hovermode"] = "closest"
    fig.update_layout(**layout, barmode="group")
    return fig


def schema_figure(series: Sequence[Series], *, timed: bool) -> go.Figure:
    """Each feature's share of events with a schema anomaly per window, and its limit."""
    fig = go.Figure()
    for s in series:
        pts = [p for p in s.points if math.isfinite(p.value)]
        fig.add_trace(
            go.Scatter(
                x=[_x(p, timed) for p in pts],
                y=[p.value for p in pts],
                mode="lines+markers",
                name=s.feature,
                marker={
                    "size": [8 if p.state == "drift" else 3 for p in pts],
                    "symbol": ["x" if p.state == "drift" else "circle" for p in pts],
                },
                customdata=[p.detail or "-" for p in pts],
                hovertemplate=f"{s.feature}: %{{y:.2%}} %{{customdata}}<extra></extra>",
            )
        )
    limit = next((p.limit for s in series for p in s.points if math.isfinite(p.limit)), None)
    if limit is not None:
        fig.add_hline(y=limit, line_dash="dash", line_color=LIMIT, annotation_text="limit")
    fig.update_layout(**_layout("schema anomalies (share of events)", 300, timed, "share"))
    fig.update_yaxes(tickformat=".0%")
    return fig
