"""Looking inside a trained model for one user: history, top-K with test hits and explanations, what-if
re-ranking through ``fold_in`` (measured against the fold-in of the unedited history), similar items, and
picking sample users by segment.

Frames use original ids; titles and genres come from item metadata when it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from recsys_core.errors import ConfigError, DataError
from recsys_core.models.base import Recommender
from recsys_core.ranking import top_k

Segment = Literal["random", "heavy", "light", "cold"]


def _titles(items: pd.DataFrame | None, ids: np.ndarray) -> tuple[list[str], list[str]]:
    if items is None or not len(ids):
        return [str(i) for i in ids], ["" for _ in ids]
    meta = items.drop_duplicates("item").set_index("item")
    key = pd.Index(ids)
    if meta.index.dtype != key.dtype:
        meta.index = meta.index.astype(str)
        key = key.astype(str)
    found = meta.reindex(key)
    titles = [t if isinstance(t, str) and t else str(i) for t, i in zip(found["title"], ids)]
    genres = ["|".join(g) if isinstance(g, (list, tuple, np.ndarray)) else "" for g in found.get("genres", [])]
    return titles, genres or ["" for _ in ids]


def _user_index(train: Any, user: Any) -> int:
    idx = train.users.to_index(np.asarray([user]), missing=-1)[0]
    if idx < 0:
        raise ConfigError(f"User '{user}' is not in the training data.", field="user", hint="Pick another user.")
    return int(idx)


def history(train: Any, user: Any, items: pd.DataFrame | None = None) -> pd.DataFrame:
    """The user's training interactions in time order: ``item, title, genres, [rating], [timestamp]``."""
    u = _user_index(train, user)
    indptr, hist_items, ratings, times = train.histories()
    sl = slice(indptr[u], indptr[u + 1])
    ids = train.items.to_ids(hist_items[sl])
    titles, genres = _titles(items, ids)
    frame = pd.DataFrame({"item": ids, "title": titles, "genres": genres})
    if ratings is not None:
        frame["rating"] = ratings[sl]
    if times is not None:
        frame["time"] = pd.to_datetime(times[sl], unit="s")
    return frame


def _rank_frame(
    model: Recommender, train: Any, scores: np.ndarray, exclude: np.ndarray, k: int, items: pd.DataFrame | None
) -> pd.DataFrame:
    import torch

    s = torch.from_numpy(np.asarray(scores, dtype=np.float32).copy()).unsqueeze(0)
    if len(exclude):
        s[0, torch.from_numpy(np.asarray(exclude, dtype=np.int64))] = -torch.inf
    idx, vals = top_k(s, k)
    idx, vals = idx[0].numpy(), vals[0].numpy()
    keep = np.isfinite(vals)
    idx, vals = idx[keep], vals[keep]
    ids = train.items.to_ids(idx)
    titles, genres = _titles(items, ids)
    return pd.DataFrame(
        {"rank": np.arange(1, len(idx) + 1), "item": ids, "title": titles, "genres": genres, "score": vals,
         "item_index": idx}
    )  # fmt: skip


def recommendations(
    model: Recommender,
    train: Any,
    user: Any,
    *,
    k: int = 10,
    test: Any = None,
    items: pd.DataFrame | None = None,
    explain_top: int = 3,
) -> pd.DataFrame:
    """Top-``k`` for a training user: ``rank, item, title, genres, score, in_test`` (a hit in the held-out
    part) and ``because`` (the history items that contributed most, from ``model.explain``, each with its weight:
    see :func:`explanation_kind` for what the weights are)."""
    u = _user_index(train, user)
    scores = model.score(np.array([u])).float().cpu().numpy()[0]
    seen = model.train_[u].indices if model.train_ is not None else np.array([], dtype=np.int64)
    frame = _rank_frame(model, train, scores, seen, k, items)
    if test is not None:
        test_items = set(test.item_idx[test.user_idx == u].tolist())
        frame["in_test"] = [int(i) in test_items for i in frame["item_index"]]
    because = []
    for i in frame["item_index"]:
        contributions = model.explain(u, int(i), top=explain_top) if explain_top else []
        ids = train.items.to_ids(np.array([c.item for c in contributions], dtype=np.int64))
        titles = _titles(items, ids)[0]
        because.append(", ".join(f"{t} ({c.weight:.3g})" for t, c in zip(titles, contributions)))
    frame["because"] = because
    return frame.drop(columns="item_index")


def explanation_kind(model: Recommender) -> str:
    """What ``model.explain``'s weights are, in one sentence for readers of a "because" column."""
    if model.name == "popularity":
        return "Popularity ignores the history: no history item contributes to its scores."
    if type(model).explain is Recommender.explain:
        return (
            f"{model.name}: the cosine similarity between the recommended item's and each history item's learned "
            "vectors (an approximation: the score is not a sum over history items)."
        )
    return f"{model.name}: each history item's exact share of the score (the shares add up to the score)."


@dataclass
class WhatIf:
    """A re-ranking after a history edit: the new list with each item's move, what dropped out, and the list
    the moves are measured against."""

    ranking: pd.DataFrame  # rank, item, title, genres, score, change ("new", "↑3", "↓2", "=")
    dropped: pd.DataFrame  # items of the baseline list no longer in the top-k: item, title, old_rank
    baseline: pd.DataFrame | None = None  # rank, item, title, genres, score; None: no comparison asked for


def _history_index(train: Any, history_items: Sequence[Any]) -> np.ndarray:
    ids = np.asarray(list(history_items))
    idx = train.items.to_index(ids, missing=-1) if len(ids) else np.array([], dtype=np.int64)
    if (idx < 0).any():
        unknown = ids[idx < 0][:3].tolist()
        raise ConfigError(f"Unknown item(s) {unknown} in the edited history.", field="items")
    return idx.astype(np.int64)


def _fold_in_ranking(
    model: Recommender,
    train: Any,
    history_items: Sequence[Any],
    ratings: Sequence[float] | None,
    k: int,
    items: pd.DataFrame | None,
) -> pd.DataFrame:
    """The top-``k`` of ``model.fold_in`` for a history, the history's items excluded."""
    idx = _history_index(train, history_items)
    r = None if ratings is None else np.asarray(list(ratings), dtype=np.float32)
    scores = model.fold_in(idx, r)
    return _rank_frame(model, train, scores, idx, k, items).drop(columns="item_index")


def _same_history(a: Sequence[Any], ra: Sequence[float] | None, b: Sequence[Any], rb: Sequence[float] | None) -> bool:
    a, b = list(a), list(b)
    if len(a) != len(b) or set(a) != set(b) or (ra is None) != (rb is None):
        return False
    if ra is None or rb is None:
        return True
    return dict(zip(a, map(float, ra))) == dict(zip(b, map(float, rb)))


def what_if(
    model: Recommender,
    train: Any,
    history_items: Sequence[Any],
    *,
    ratings: Sequence[float] | None = None,
    original: Sequence[Any] | None = None,
    original_ratings: Sequence[float] | None = None,
    baseline: pd.DataFrame | None = None,
    k: int = 10,
    items: pd.DataFrame | None = None,
) -> WhatIf:
    """Score an edited history (original item ids, optional ratings) with ``model.fold_in`` and compare the new
    top-``k`` with a baseline list: each item's move, and the baseline items that dropped out.

    The baseline is, given ``original`` (the unedited history, with ``original_ratings``), the same
    computation on it: the fold-in of the original history, its items excluded. So an unedited history
    shows no change, for every model. For models that learn a vector per user (bpr, biased_mf, mlp, ials)
    that list can differ a little from the trained top-K of :func:`recommendations`: the fold-in re-fits the
    user's vector against the trained items, where training fitted both together. ``baseline`` instead
    compares with a given list (a frame with ``item`` and ``rank``); give one or the other, or neither for no
    comparison (``WhatIf.baseline`` is then None).
    """
    if original is not None and baseline is not None:
        raise ValueError("what_if compares with the original history or with a baseline list, not both.")
    ranking = _fold_in_ranking(model, train, history_items, ratings, k, items)
    if original is not None:
        if _same_history(history_items, ratings, original, original_ratings):
            baseline = ranking.copy()  # no edit: the same list, by construction
        else:
            baseline = _fold_in_ranking(model, train, original, original_ratings, k, items)
    old = {} if baseline is None else dict(zip(baseline["item"].tolist(), baseline["rank"].tolist()))

    def change(item: Any, rank: int) -> str:
        if item not in old:
            return "new"
        moved = old[item] - rank
        return "=" if moved == 0 else (f"↑{moved}" if moved > 0 else f"↓{-moved}")

    ranking["change"] = [change(i, r) for i, r in zip(ranking["item"].tolist(), ranking["rank"].tolist())]
    now = set(ranking["item"].tolist())
    dropped = [] if baseline is None else [(i, r) for i, r in old.items() if i not in now]
    d_ids = np.array([i for i, _ in dropped])
    dropped_frame = pd.DataFrame(
        {"item": d_ids, "title": _titles(items, d_ids)[0], "old_rank": [r for _, r in dropped]}
    )
    return WhatIf(ranking, dropped_frame, baseline)


def similar(
    model: Recommender, train: Any, item: Any, *, k: int = 10, items: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The ``k`` items most similar to ``item`` under the model: ``rank, item, title, genres, similarity``."""
    i = train.items.to_index(np.asarray([item]), missing=-1)[0]
    if i < 0:
        raise ConfigError(f"Item '{item}' is not in the training data.", field="item")
    idx, sims = model.similar_items(int(i), k)
    keep = np.isfinite(sims) & (idx >= 0)
    ids = train.items.to_ids(idx[keep])
    titles, genres = _titles(items, ids)
    return pd.DataFrame(
        {"rank": np.arange(1, len(ids) + 1), "item": ids, "title": titles, "genres": genres, "similarity": sims[keep]}
    )


def sample_users(train: Any, segment: Segment = "random", *, n: int = 20, seed: int = 0) -> np.ndarray:
    """Original ids of up to ``n`` training users: ``random``, ``heavy`` (top 10% by activity), ``light``
    (bottom half of users with ≥ 5 interactions) or ``cold`` (fewer than 5 interactions)."""
    counts = train.user_counts()
    present = np.flatnonzero(counts > 0)
    if segment == "heavy":
        pool = present[counts[present] >= np.quantile(counts[present], 0.9)]
    elif segment == "light":
        warm = present[counts[present] >= 5]
        pool = warm[counts[warm] <= np.median(counts[warm])] if len(warm) else warm
    elif segment == "cold":
        pool = present[counts[present] < 5]
    elif segment == "random":
        pool = present
    else:
        raise ConfigError(f"segment must be random, heavy, light or cold; got {segment!r}.", field="segment")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(pool, size=min(n, len(pool)), replace=False) if len(pool) else pool
    return train.users.to_ids(np.sort(chosen))


def item_metadata(data_ref: dict[str, Any]) -> pd.DataFrame | None:
    """Item metadata (``item, title, genres, ...``) a run's data reference points to, or None without any.

    A saved dataset (``kind="dataset"``) carries its own items table, read from the version the reference pins
    (its ``fingerprint``) when that version is still kept; file references may name an ``items`` file. The data
    reference is the one stored with the run (see :mod:`recsys_core.runs.jobs`).
    """
    if data_ref.get("items"):
        from recsys_core.data.metadata import read_item_metadata

        items, _ = read_item_metadata(data_ref["items"])
        return items
    if data_ref.get("kind") == "dataset":
        from recsys_core.data.store import DatasetStore

        store = DatasetStore()
        name = str(data_ref.get("name", ""))
        try:
            return store.load(name, data_ref.get("fingerprint")).items
        except (DataError, ConfigError):  # the dataset, or its pinned version, is gone: no titles to show
            return None
    return None


def find_user(train: Any, text: str) -> Any:
    """The original user id typed as ``text`` (``"42"`` matches the integer id 42); ConfigError if unknown."""
    text = str(text).strip()
    if not text:
        raise ConfigError("Type a user id.", field="user")
    idx = train.users.to_index(np.asarray([text], dtype=object), missing=-1)[0]
    if idx < 0:
        sample = train.users.to_ids(np.arange(min(3, len(train.users)))).tolist()
        raise ConfigError(f"User '{text}' is not in this run's data.", field="user", hint=f"Ids look like {sample}.")
    return train.users.to_ids(np.array([idx]))[0]


def list_overlap(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mark the items two top-K lists share: copies of ``a`` and ``b`` with a boolean ``in_both`` column."""
    shared = set(a["item"].tolist()) & set(b["item"].tolist())
    a, b = a.copy(), b.copy()
    a["in_both"] = a["item"].isin(shared)
    b["in_both"] = b["item"].isin(shared)
    return a, b
