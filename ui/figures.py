"""Plotly figure builders (pure functions: data in, figure out; no streamlit calls)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from recsys_core.data.profile import DataProfile

PALETTE = ["#4C6EF5", "#F76707", "#12B886", "#E64980", "#7950F2", "#FAB005", "#15AABF", "#82C91E"]


def _style(fig: go.Figure, x_title: str, y_title: str, title: str) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        xaxis_title=x_title,
        yaxis_title=y_title,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        height=300,
        showlegend=False,
        uirevision=title,
    )
    return fig


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
    fig.update_yaxes(type="log")
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
    fig.update_xaxes(type="log")
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
