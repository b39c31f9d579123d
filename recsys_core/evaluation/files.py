"""Evaluate recommendations and predictions given as files/frames (the ``evaluate`` command's engine).

Recommendations: columns ``user, item`` and ``score`` (higher first) or ``rank`` (1 first); ties in score are
broken by the lower item id, as everywhere. Truth: ``user, item`` (and ``rating`` for RMSE/MAE or a relevance
threshold). Training interactions, when given, are excluded from the lists before cutting at K — so seen items
can never leak into the ranking — and define the popularity used by novelty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from recsys_core.data.interactions import IdIndex, Interactions
from recsys_core.errors import DataError
from recsys_core.evaluation.metrics import mae, rmse
from recsys_core.evaluation.protocol import EvalProtocol, EvalResult, evaluate


def _require(frame: pd.DataFrame, columns: list[str], file: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"Missing column {', '.join(repr(c) for c in missing)}",
            code="missing_column",
            file=file,
            column=missing[0],
            hint=f"The file needs the columns {', '.join(columns)}; it has {', '.join(map(str, frame.columns))}",
        )


def _ids(values: pd.Series) -> pd.Series:
    """Ids normalised like canonical frames: int64 when all are whole numbers, else stripped strings."""
    if pd.api.types.is_integer_dtype(values):
        return values.astype(np.int64)
    num = pd.to_numeric(values, errors="coerce")
    if num.notna().all() and (num == np.floor(num)).all():
        return num.astype(np.int64)
    return values.astype(str).str.strip()


def _common_ids(*columns: pd.Series) -> IdIndex:
    values = pd.concat([c for c in columns if c is not None], ignore_index=True)
    if not pd.api.types.is_integer_dtype(values):
        values = values.astype(str)
    index, _ = IdIndex.from_values(values)
    return index


@dataclass
class RecommendationEval:
    result: EvalResult
    n_seen_removed: int  # recommended items that were in the user's training data (removed)
    n_users_without_recommendations: int  # evaluated users with no list at all (count as zero hits)


def evaluate_recommendations(
    recommendations: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    train: pd.DataFrame | None = None,
    protocol: EvalProtocol | None = None,
    files: tuple[str, str] = ("recommendations", "truth"),
) -> RecommendationEval:
    """Top-K metrics of given recommendation lists against truth interactions (full-ranking semantics).

    The catalogue (coverage denominator) is every item seen in the training, truth or recommendation data.
    """
    protocol = protocol or EvalProtocol()
    rec_file, truth_file = files
    _require(recommendations, ["user", "item"], rec_file)
    order_col = "score" if "score" in recommendations.columns else "rank" if "rank" in recommendations.columns else None
    if order_col is None:
        raise DataError(
            "Recommendations need a 'score' (higher is better) or a 'rank' (1 is best) column",
            code="missing_column",
            file=rec_file,
            hint="Add a score or rank column",
        )
    _require(truth, ["user", "item"], truth_file)
    recs = pd.DataFrame({"user": _ids(recommendations["user"]), "item": _ids(recommendations["item"])})
    order = pd.to_numeric(recommendations[order_col], errors="coerce")
    bad = np.flatnonzero(order.isna().to_numpy())
    if len(bad):
        raise DataError(
            f"Non-numeric {order_col} values",
            code="bad_value",
            file=rec_file,
            column=order_col,
            rows=(bad[:5] + 1).tolist(),
            n_rows=len(bad),
        )
    recs["order"] = -order.to_numpy(np.float64) if order_col == "score" else order.to_numpy(np.float64)
    truth = truth.assign(user=_ids(truth["user"]), item=_ids(truth["item"]))
    if train is not None:
        train = train.assign(user=_ids(train["user"]), item=_ids(train["item"]))
    users = _common_ids(recs["user"], truth["user"], None if train is None else train["user"])
    items = _common_ids(recs["item"], truth["item"], None if train is None else train["item"])
    n_users, n_items = len(users), len(items)

    test = Interactions.from_frame(truth, users=users, items=items)
    empty = pd.DataFrame({"user": truth["user"].iloc[:0], "item": truth["item"].iloc[:0]})
    train_i = Interactions.from_frame(train if train is not None else empty, users=users, items=items)

    u = users.to_index(recs["user"].to_numpy())
    i = items.to_index(recs["item"].to_numpy())
    n_seen = 0
    if train is not None and len(train_i):
        seen_keys = np.unique(train_i.user_idx.astype(np.int64) * n_items + train_i.item_idx)
        keys = u.astype(np.int64) * n_items + i
        seen = np.isin(keys, seen_keys)
        n_seen = int(seen.sum())
        u, i, ordv = u[~seen], i[~seen], recs["order"].to_numpy()[~seen]
    else:
        ordv = recs["order"].to_numpy()
    # position of each recommendation within its user's list: by order, then lower item index
    pos_order = np.lexsort((i, ordv, u))
    u, i = u[pos_order], i[pos_order]
    starts = np.searchsorted(u, u, side="left")
    position = np.arange(len(u)) - starts
    # a dense score table for the evaluated users: -position for listed items, -inf elsewhere
    listed_users = np.unique(u)

    def scorer(batch: np.ndarray) -> torch.Tensor:
        out = torch.full((len(batch), n_items), -torch.inf)
        row_of = np.full(n_users, -1, dtype=np.int64)
        row_of[batch] = np.arange(len(batch))
        sel = row_of[u] >= 0
        out[torch.from_numpy(row_of[u[sel]]), torch.from_numpy(i[sel].astype(np.int64))] = torch.from_numpy(
            -position[sel].astype(np.float32)
        )
        return out

    result = evaluate(scorer, train_i, test, protocol)
    evaluated = result.per_user["user_index"].to_numpy()
    n_without = len(np.setdiff1d(evaluated, listed_users))
    return RecommendationEval(result, n_seen, n_without)


def evaluate_predictions(predictions: pd.DataFrame, truth: pd.DataFrame, *, files=("predictions", "truth")) -> dict:
    """RMSE and MAE of ``user, item, prediction`` rows against ``user, item, rating`` truth (inner join).

    Returns ``{"rmse", "mae", "n_pairs", "n_missing"}``; ``n_missing`` counts truth pairs with no prediction.
    """
    _require(predictions, ["user", "item", "prediction"], files[0])
    _require(truth, ["user", "item", "rating"], files[1])
    p = pd.DataFrame(
        {
            "user": _ids(predictions["user"]),
            "item": _ids(predictions["item"]),
            "prediction": pd.to_numeric(predictions["prediction"], errors="coerce"),
        }
    )
    t = pd.DataFrame({"user": _ids(truth["user"]), "item": _ids(truth["item"]), "rating": truth["rating"]})
    if p["prediction"].isna().any():
        bad = np.flatnonzero(p["prediction"].isna().to_numpy())
        raise DataError(
            "Non-numeric predictions",
            code="bad_value",
            file=files[0],
            column="prediction",
            rows=(bad[:5] + 1).tolist(),
            n_rows=len(bad),
        )
    for col in ("user", "item"):
        if p[col].dtype != t[col].dtype:  # e.g. int ids in one file, strings in the other
            p[col], t[col] = p[col].astype(str), t[col].astype(str)
    joined = t.merge(p.drop_duplicates(["user", "item"], keep="last"), on=["user", "item"], how="left")
    has = joined["prediction"].notna().to_numpy()
    y, yhat = joined["rating"].to_numpy(np.float64)[has], joined["prediction"].to_numpy(np.float64)[has]
    return {"rmse": rmse(y, yhat), "mae": mae(y, yhat), "n_pairs": int(has.sum()), "n_missing": int((~has).sum())}
