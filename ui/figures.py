"""Plotly figure builders (pure functions: data in, figure out; no streamlit calls)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from recsys_core.data.profile import DataProfile

PALETTE = ["#4C6EF5", "#F76707", "#12B886", "#E64980", "#7950F2", "#FAB005", "#15AABF", "#82C91E"]


def chart_layout(
    fig: go.Figure,
    *,
    title: str,
    x_title: str,
    y_title: str,
    key: str,
    height: int = 340,
    legend: bool = True,
    log_y: bool = False,
) -> go.Figure:
    """The one layout of RecLab's charts: small title, axis titles, tight margins, the legend below (or none).
    ``key`` is the chart's ``uirevision``: zoom and legend toggles survive reruns while it stays the same."""
    if log_y:
        fig.update_yaxes(type="log")  # otherwise the axis type a caller set stays
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        xaxis_title=x_title,
        yaxis_title=y_title,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        height=height,
        showlegend=legend,
        legend={"orientation": "h", "y": -0.25},
        uirevision=key,
    )
    return fig


def _style(fig: go.Figure, x_title: str, y_title: str, title: str) -> go.Figure:
    return chart_layout(fig, title=title, x_title=x_title, y_title=y_title, key=title, height=300, legend=False)


def rating_histogram(p: DataProfile) -> go.Figure:
    """Bar per rating value (requires explicit ratings)."""
    assert p.rating_counts is not None
    x = p.rating_counts.index.to_numpy(dtype=np.float64)
    y = p.rating_counts.to_numpy()
    fig = go.Figure(go.Bar(x=x, y=y, marker_color=PALETTE[0], hovertemplate="rating %{x}: %{y:,}<extra></extra>"))
    return _style(fig, "rating", "interactions (count)", "Rating distribution")


def popularity_long_tail(p: DataProfile, max_points: int = 2000) -> go.Figure:
    """Interactions per item against the item's popularity rank, log-scaled y (the long tail)."""
    y = p.item_popularity
    x = np.arange(1, len(y) + 1)
    if len(y) > max_points:  # keep the shape, drop points: geometric ranks
        idx = np.unique(np.geomspace(1, len(y), max_points).astype(np.int64) - 1)
        x, y = x[idx], y[idx]
    fig = go.Figure(
        go.Scatter(
            x=x,
            y=y,
            mode="lines",
            line={"color": PALETTE[1]},
            fill="tozeroy",
            hovertemplate="rank %{x:,}: %{y:,} interactions<extra></extra>",
        )
    )
    fig.update_yaxes(type="log", dtick=1)  # labels at powers of ten only (minor labels crowd)
    return _style(fig, "item popularity rank", "interactions per item (log scale)", "Item popularity (long tail)")


def user_activity_histogram(p: DataProfile, bins: int = 40) -> go.Figure:
    """Histogram of interactions per user on log-spaced bins."""
    a = p.user_activity
    edges = np.unique(np.geomspace(max(a.min(), 1), max(a.max(), 2), bins + 1).round())
    counts, edges = np.histogram(a, bins=edges)
    centers = np.sqrt(edges[:-1] * edges[1:])
    fig = go.Figure(
        go.Bar(
            x=centers,
            y=counts,
            width=np.diff(edges),
            marker_color=PALETTE[2],
            customdata=np.stack([edges[:-1], edges[1:]], axis=1),
            hovertemplate="%{customdata[0]:.0f}–%{customdata[1]:.0f} interactions: %{y:,} users<extra></extra>",
        )
    )
    fig.update_xaxes(type="log", dtick=1)  # labels at powers of ten only (minor labels crowd)
    return _style(fig, "interactions per user (log scale)", "users (count)", "User activity")


def interactions_over_time(p: DataProfile) -> go.Figure:
    assert p.over_time is not None
    unit = {"D": "day", "W": "week", "MS": "month"}.get(p.period or "", "period")
    fig = go.Figure(
        go.Scatter(
            x=p.over_time["period"],
            y=p.over_time["interactions"].to_numpy(),
            mode="lines",
            line={"color": PALETTE[3]},
            hovertemplate="%{x}: %{y:,}<extra></extra>",
        )
    )
    return _style(fig, f"time ({unit})", f"interactions per {unit}", "Interactions over time")


# Colours of runs: Plotly's D3 palette (the ten Tableau colours, distinct at a glance) and then ten more from
# Plotly's Dark24 and Alphabet palettes, chosen to differ from those and from each other.
RUN_PALETTE = (
    *qualitative.D3,
    "#222A2A", "#FB00D1", "#511CFB", "#B68100", "#00A08B", "#862A16", "#FC0080", "#6C7C32", "#B2828D", "#750D86",
)  # fmt: skip


def run_colours(run_ids: Sequence[str], previous: Mapping[str, str] | None = None) -> dict[str, str]:
    """The colour of each run (in the order given), distinct within ``run_ids`` up to ``len(RUN_PALETTE)``
    runs; beyond that colours repeat, in palette order.

    ``previous`` (an earlier assignment, e.g. kept in the session) is honoured for every run it covers as long
    as its colour is still distinct, so a run keeps its colour while others are added to or removed from a
    selection; the other runs get the first colours not in use, in the order given. The same arguments give
    the same answer, so every chart drawn from one assignment shows a run in one colour.
    """
    ids = list(dict.fromkeys(run_ids))
    previous = previous or {}
    out: dict[str, str] = {}
    used: set[str] = set()
    for rid in ids:
        colour = previous.get(rid)
        if colour in RUN_PALETTE and colour not in used:
            out[rid] = colour
            used.add(colour)
    free = iter(c for c in RUN_PALETTE if c not in used)
    for i, rid in enumerate(ids):
        if rid not in out:
            out[rid] = next(free, RUN_PALETTE[i % len(RUN_PALETTE)])
    return {rid: out[rid] for rid in ids}


def _downsample(x: np.ndarray, y: np.ndarray, max_points: int = 500) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= max_points:
        return x, y
    keep = np.unique(np.r_[np.linspace(0, len(x) - 1, max_points).astype(np.int64), len(x) - 1])
    return x[keep], y[keep]


def _smooth(y: np.ndarray, weight: float) -> np.ndarray:
    """Exponential moving average (TensorBoard-style); ``weight`` in [0, 1), 0 = raw."""
    if weight <= 0 or len(y) < 2:
        return y
    out = np.empty_like(y, dtype=np.float64)
    acc = y[0]
    for i, v in enumerate(y):
        acc = weight * acc + (1 - weight) * v
        out[i] = acc
    return out


def curves(
    series: dict[str, tuple[str, np.ndarray, np.ndarray]],
    *,
    title: str,
    x_title: str,
    y_title: str,
    log_y: bool = False,
    smoothing: float = 0.0,
    key: str = "curves",
    colours: Mapping[str, str] | None = None,
) -> go.Figure:
    """One line per run: ``series`` maps run id → (label, x, y). ``colours`` (run id → colour, from
    :func:`run_colours` of the whole selection) keeps each run's colour the same in every chart; runs it
    does not cover get distinct free colours. Legend toggles and zoom survive live refreshes (constant
    ``uirevision``); long curves are downsampled."""
    fig = go.Figure()
    colours = run_colours(list(series), colours)
    for run_id, (label, x, y) in series.items():
        x, y = _downsample(np.asarray(x, dtype=np.float64), _smooth(np.asarray(y, dtype=np.float64), smoothing))
        fig.add_trace(
            go.Scatter(
                x=x, y=y, mode="lines+markers" if len(x) <= 30 else "lines", name=label, legendgroup=run_id,
                line={"color": colours[run_id]}, marker={"size": 5},
                hovertemplate=f"{label}<br>{x_title} %{{x}}<br>{y_title} %{{y:.4f}}<extra></extra>",
            )
        )  # fmt: skip
    return chart_layout(fig, title=title, x_title=x_title, y_title=y_title, key=key, log_y=log_y)


def scatter_runs(
    points: dict[str, tuple[str, float, float]],
    *,
    x_title: str,
    y_title: str,
    title: str,
    key: str = "scatter",
    colours: Mapping[str, str] | None = None,
) -> go.Figure:
    """One marker per run at (x, y): e.g. NDCG against coverage or novelty, or a hyperparameter against a
    metric. ``colours`` as in :func:`curves`."""
    fig = go.Figure()
    colours = run_colours(list(points), colours)
    for run_id, (label, x, y) in points.items():
        fig.add_trace(
            go.Scatter(
                x=[x], y=[y], mode="markers+text", name=label, text=[label], textposition="top center",
                marker={"size": 12, "color": colours[run_id]},
                hovertemplate=f"{label}<br>{x_title} %{{x:.4g}}<br>{y_title} %{{y:.4f}}<extra></extra>",
            )
        )  # fmt: skip
    return chart_layout(fig, title=title, x_title=x_title, y_title=y_title, key=key, legend=False)
