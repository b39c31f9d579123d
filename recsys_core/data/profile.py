"""Data-health profile of a canonical interactions frame: the numbers behind the Data page's charts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recsys_core.data.schema import ITEM, RATING, TIMESTAMP, USER, Counts


@dataclass
class DataProfile:
    """Summary statistics of an interaction log.

    Attributes:
        counts: distinct users, distinct items, interactions (rows, repeated pairs included).
        pairs: distinct (user, item) pairs; fewer than ``counts.interactions`` when pairs repeat.
        density: distinct (user, item) pairs / (users × items), in [0, 1]. Repeated pairs count once, so a
            log with many repeats never reads as more than full.
        rating_counts: rating value → number of interactions (None for implicit data).
        item_popularity: interactions per item, sorted descending (int64, length = items).
        user_activity: interactions per user (int64, length = users, in no particular order).
        over_time: interactions per period (columns ``period`` (Timestamp), ``interactions``), or None.
        period: the bucket width used for ``over_time`` ("D", "W" or "MS").
        facts: short named figures for display (share of interactions on the top 10% items, ...).
    """

    counts: Counts
    pairs: int
    density: float
    rating_counts: pd.Series | None
    item_popularity: np.ndarray
    user_activity: np.ndarray
    over_time: pd.DataFrame | None
    period: str | None
    facts: dict[str, float] = field(default_factory=dict)


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 = all equal, → 1 = all mass on one entry)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.size
    if n == 0 or x.sum() == 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float((2 * (ranks * x).sum()) / (n * x.sum()) - (n + 1) / n)


def profile(frame: pd.DataFrame) -> DataProfile:
    """Compute the data-health profile of a canonical frame (vectorised; ~0.1 s per million rows)."""
    user_codes, _ = pd.factorize(frame[USER])
    item_codes, _ = pd.factorize(frame[ITEM])
    user_activity = np.bincount(user_codes).astype(np.int64)
    item_counts = np.bincount(item_codes).astype(np.int64)
    n_users, n_items, n = len(user_activity), len(item_counts), len(frame)
    counts = Counts(users=n_users, items=n_items, interactions=n)
    # distinct (user, item) cells: one int64 per pair, counted with a hash (no sort)
    pair_keys = user_codes.astype(np.int64) * max(n_items, 1) + item_codes.astype(np.int64)
    n_pairs = int(pd.unique(pair_keys).size)

    rating_counts = None
    if RATING in frame.columns:
        rating_counts = frame[RATING].value_counts().sort_index()
        rating_counts.index.name = RATING

    over_time, period = None, None
    if TIMESTAMP in frame.columns and n:
        ts = frame[TIMESTAMP].to_numpy()
        span_days = (int(ts.max()) - int(ts.min())) / 86_400
        period = "D" if span_days <= 120 else ("W" if span_days <= 3 * 365 else "MS")
        when = pd.to_datetime(ts, unit="s", utc=True).tz_localize(None)
        buckets = pd.Series(1, index=when).resample(period).sum()
        over_time = pd.DataFrame({"period": buckets.index, "interactions": buckets.to_numpy()})

    popularity = np.sort(item_counts)[::-1]
    top10 = max(1, int(np.ceil(0.1 * n_items)))
    facts = {
        "top10pct_items_share": float(popularity[:top10].sum() / max(n, 1)),
        "item_gini": gini(item_counts),
        "median_user_activity": float(np.median(user_activity)) if n_users else 0.0,
        "users_under_5": float((user_activity < 5).sum()),
        "items_under_5": float((item_counts < 5).sum()),
    }
    return DataProfile(
        counts=counts,
        pairs=n_pairs,
        density=n_pairs / max(n_users * n_items, 1),
        rating_counts=rating_counts,
        item_popularity=popularity,
        user_activity=user_activity,
        over_time=over_time,
        period=period,
        facts=facts,
    )
