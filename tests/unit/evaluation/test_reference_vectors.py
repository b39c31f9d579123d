"""Our metrics reproduce the expected values of Microsoft Recommenders' and RecBole's own metric unit tests.

The fixtures and expected numbers below are copied as literals (small MIT-licensed test vectors) from the
reference snapshot described in ../shared/reference/README.md:

* recommenders-team/recommenders @ b02c95e2 — tests/unit/recommenders/evaluation/{conftest,test_python_evaluation}.py
* RUCAIBox/RecBole @ 7b02be5e — tests/metrics/test_{topk,loss,rank}_metrics.py

Nothing is read from ../shared at test time. Every upstream case id is listed below and must be either
checked here or named in ``NOT_APPLICABLE`` with the reason (``test_every_case_is_covered``).

Mapping of Recommenders' frames onto our arrays: users present in both frames become rows (ascending
id); item ids are used as item indices directly; each user's predictions are ranked by descending
prediction, ties in input order (stable), and the first k form the ``topk`` row (``-1`` padding); every
rating_true row is a relevant item (``truth`` stores its rating, used as gain only by ``gain="raw"``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys_core.evaluation import metrics as M

EXACT = {"abs": 1e-12}
REL4 = {"rel": 1e-4}

# ----------------------------------------------------------------------------------------------------------
# Microsoft Recommenders: case ids and fixtures
# ----------------------------------------------------------------------------------------------------------

RECOMMENDERS_CASE_IDS = [
    "rmse_self", "rmse_pred", "mae_self", "mae_pred", "rsquared_self", "rsquared_pred", "exp_var_self",
    "exp_var_pred", "merge_rating_true_pred", "merge_ranking_n_users", "get_top_k_items_k3",
    "get_top_k_items_k6", "precision_at_k_self_k10", "precision_at_k_nohit_k10", "precision_at_k_pred_k10",
    "recall_at_k_self_k10", "recall_at_k_nohit_k10", "recall_at_k_pred_k10", "ndcg_at_k_self_k10",
    "ndcg_at_k_nohit_k10", "ndcg_at_k_pred_k10", "map_self_k10", "map_nohit_k10", "map_pred_k10",
    "map_at_k_self_k10", "map_at_k_nohit_k10", "map_at_k_pred_k10", "ndcg_wiki_raw_log2_k6",
    "precision_single_user_k3", "precision_same_items_k3", "precision_same_items_k5", "r_precision_self_k10",
    "r_precision_nohit_k5", "r_precision_pred_k3", "r_precision_pred_k5", "r_precision_pred_k10", "auc_self",
    "auc_pred", "logloss_self", "logloss_pred", "catalog_coverage", "distributional_coverage",
    "historical_item_novelty", "historical_item_novelty_only_item3", "novelty", "novelty_only_item3",
    "user_diversity_cooccurrence", "diversity_cooccurrence", "user_item_serendipity_cooccurrence",
    "user_serendipity_cooccurrence", "serendipity_cooccurrence", "user_diversity_feature", "diversity_feature",
    "user_item_serendipity_feature", "user_serendipity_feature", "serendipity_feature",
]  # fmt: skip

RECBOLE_CASE_IDS = [
    "hit", "ndcg", "mrr", "map", "recall", "precision", "itemcoverage", "averagepopularity", "giniindex",
    "shannonentropy", "tailpercentage", "auc_case0", "auc_case1", "rmse_case0", "rmse_case1", "logloss_case0",
    "logloss_case1", "mae_case0", "mae_case1", "gauc_case0", "gauc_case1",
]  # fmt: skip

_FRAME_UTILITY = (
    "Recommenders' frame utility (join / per-user top-k of a DataFrame); RecLab's metrics take aligned "
    "arrays, so there is no library function. The test's own fixture conversion is checked against the "
    "expected value in test_fixture_conversion_matches_recommenders."
)
NOT_APPLICABLE: dict[str, str] = {
    "merge_rating_true_pred": _FRAME_UTILITY,
    "merge_ranking_n_users": _FRAME_UTILITY,
    "get_top_k_items_k3": _FRAME_UTILITY,
    "get_top_k_items_k6": _FRAME_UTILITY,
}

# (userID, itemID, rating)
RATING_TRUE = [
    [1, 3, 3], [2, 1, 5], [2, 4, 5], [2, 5, 3], [2, 6, 3], [2, 7, 1], [3, 2, 5], [3, 5, 5], [3, 6, 5],
    [3, 8, 4], [3, 9, 4], [3, 10, 3], [3, 11, 3], [3, 12, 3], [3, 13, 2], [3, 14, 1], [1, 1, 5], [1, 2, 4],
]  # fmt: skip
# (userID, itemID, prediction); upstream's unused copy of the rating column is left out
RATING_PRED = [
    [1, 12, 12], [2, 10, 14], [2, 3, 13], [2, 5, 12], [2, 11, 11], [2, 13, 10], [3, 4, 14], [3, 10, 13],
    [3, 7, 12], [3, 13, 11], [3, 1, 10], [3, 3, 9], [3, 5, 8], [3, 2, 7], [3, 11, 6], [3, 14, 5],
    [1, 3, 14], [1, 10, 13],
]  # fmt: skip
RATING_NOHIT = [
    [1, 100, 12], [2, 100, 14], [2, 100, 13], [2, 100, 12], [2, 100, 11], [2, 100, 10], [3, 100, 14],
    [3, 100, 13], [3, 100, 12], [3, 100, 11], [3, 100, 10], [3, 100, 9], [3, 100, 8], [3, 100, 7],
    [3, 100, 6], [3, 100, 5], [1, 100, 14], [1, 100, 13],
]  # fmt: skip
WIKI_NDCG_TRUE = [[0, 0, 3], [0, 1, 2], [0, 2, 3], [0, 3, 0], [0, 4, 1], [0, 5, 2], [0, 6, 3], [0, 7, 2]]
WIKI_NDCG_PRED = [[0, 0, 6], [0, 1, 5], [0, 2, 4], [0, 3, 3], [0, 4, 2], [0, 5, 1]]
SINGLE_USER = [[1, 1, 5], [1, 2, 4], [1, 3, 3]]
SAME_ITEMS = [[1, 1, 5], [1, 2, 4], [1, 3, 3], [2, 1, 5], [2, 2, 5], [2, 3, 3]]
# (UserId, ItemId)
DIVERSITY_TRAIN = [[1, 1], [1, 2], [1, 4], [2, 3], [2, 4], [3, 3], [3, 4], [3, 5]]
# (UserId, ItemId, Relevance), in list order
DIVERSITY_RECO = [[1, 3, 1], [1, 5, 0], [2, 2, 1], [2, 5, 1], [3, 1, 1], [3, 2, 0]]
DIVERSITY_ITEM_FEATURES = {
    1: [0.0, 1.0, 1.0, 0.0, 0.0],
    2: [0.0, 1.0, 0.0, 1.0, 0.0],
    3: [0.0, 0.0, 1.0, 1.0, 0.0],
    4: [0.0, 0.0, 1.0, 0.0, 1.0],
    5: [0.0, 0.0, 0.0, 1.0, 1.0],
}


def _true(rows: list[list[int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user", "item", "rating"])


def _pred(rows: list[list[int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user", "item", "prediction"])


def _self_pred(rows: list[list[int]]) -> pd.DataFrame:
    """Upstream's 'rating_pred = rating_true with col_prediction="rating"' cases."""
    return _true(rows).rename(columns={"rating": "prediction"})


def _binary_true() -> pd.DataFrame:
    # fixture rule: rating := 1.0 if rating >= 3 else 0.0
    df = _true(RATING_TRUE)
    return df.assign(rating=(df["rating"] >= 3).astype(float))


def _binary_pred() -> pd.DataFrame:
    # fixture rule: prediction min-max scaled over all 18 rows (min 5 -> 0, max 14 -> 1)
    df = _pred(RATING_PRED)
    p = df["prediction"].astype(float)
    return df.assign(prediction=(p - p.min()) / (p.max() - p.min()))


def _joined(true: pd.DataFrame, pred: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Inner join on (user, item), in rating_true's row order (upstream's merge_rating_true_pred)."""
    j = true.merge(pred, on=["user", "item"], how="inner")
    return j["rating"].to_numpy(float), j["prediction"].to_numpy(float)


def _ranked(pred: pd.DataFrame, k: int) -> pd.DataFrame:
    """Each user's first k rows by descending prediction, ties in input order, with rank 1..k."""
    df = pred.assign(_order=np.arange(len(pred)))
    df = df.sort_values(["user", "prediction", "_order"], ascending=[True, False, True])
    df = df.assign(rank=df.groupby("user").cumcount() + 1)
    return df[df["rank"] <= k]


def _topk_truth(true: pd.DataFrame, pred: pd.DataFrame, k: int) -> tuple[np.ndarray, sp.csr_matrix]:
    users = np.intersect1d(true["user"].unique(), pred["user"].unique())
    row_of = {u: i for i, u in enumerate(users)}
    n_items = int(max(true["item"].max(), pred["item"].max())) + 1
    ranked = _ranked(pred[pred["user"].isin(users)], k)
    topk = np.full((users.size, k), -1, dtype=np.int64)
    topk[ranked["user"].map(row_of).to_numpy(), ranked["rank"].to_numpy() - 1] = ranked["item"].to_numpy()
    t = true[true["user"].isin(users)]
    truth = sp.csr_matrix(
        (t["rating"].to_numpy(float), (t["user"].map(row_of).to_numpy(), t["item"].to_numpy())),
        shape=(users.size, n_items),
    )
    return topk, truth


PRED_FRAMES: dict[str, Callable[[], pd.DataFrame]] = {
    "self": lambda: _self_pred(RATING_TRUE),
    "nohit": lambda: _pred(RATING_NOHIT),
    "pred": lambda: _pred(RATING_PRED),
}


def _recommenders_ranking(metric: str, frame: str, k: int, true_rows: list[list[int]] = RATING_TRUE) -> float:
    topk, truth = _topk_truth(_true(true_rows), PRED_FRAMES[frame](), k)
    fn = {
        "precision_at_k": lambda: M.precision_at_k(topk, truth, k),
        "recall_at_k": lambda: M.recall_at_k(topk, truth, k),
        "ndcg_at_k": lambda: M.ndcg_at_k(topk, truth, k),
        "map": lambda: M.map_at_k(topk, truth, k, normaliser="n_rel"),
        "map_at_k": lambda: M.map_at_k(topk, truth, k, normaliser="min_k_rel"),
        "r_precision_at_k": lambda: M.r_precision_at_k(topk, truth, k),
    }[metric]
    values = fn()
    assert values.shape == (topk.shape[0],)
    return M.mean_over_users(values).mean


# id -> (metric, prediction frame, k, expected, tolerance)
RECOMMENDERS_RANKING = {
    "precision_at_k_self_k10": ("precision_at_k", "self", 10, 0.6, EXACT),
    "precision_at_k_nohit_k10": ("precision_at_k", "nohit", 10, 0.0, EXACT),
    "precision_at_k_pred_k10": ("precision_at_k", "pred", 10, 0.26666, REL4),
    "recall_at_k_self_k10": ("recall_at_k", "self", 10, 1, REL4),
    "recall_at_k_nohit_k10": ("recall_at_k", "nohit", 10, 0.0, EXACT),
    "recall_at_k_pred_k10": ("recall_at_k", "pred", 10, 0.37777, REL4),
    "ndcg_at_k_self_k10": ("ndcg_at_k", "self", 10, 1.0, REL4),
    "ndcg_at_k_nohit_k10": ("ndcg_at_k", "nohit", 10, 0.0, EXACT),
    "ndcg_at_k_pred_k10": ("ndcg_at_k", "pred", 10, 0.38172, REL4),
    "map_self_k10": ("map", "self", 10, 1, EXACT),
    "map_nohit_k10": ("map", "nohit", 10, 0.0, EXACT),
    "map_pred_k10": ("map", "pred", 10, 0.23613, REL4),
    "map_at_k_self_k10": ("map_at_k", "self", 10, 1, EXACT),
    "map_at_k_nohit_k10": ("map_at_k", "nohit", 10, 0.0, EXACT),
    "map_at_k_pred_k10": ("map_at_k", "pred", 10, 0.23613, REL4),
    "r_precision_self_k10": ("r_precision_at_k", "self", 10, 1, REL4),
    "r_precision_nohit_k5": ("r_precision_at_k", "nohit", 5, 0.0, EXACT),
    "r_precision_pred_k3": ("r_precision_at_k", "pred", 3, 0.21111, REL4),
    "r_precision_pred_k5": ("r_precision_at_k", "pred", 5, 0.24444, REL4),
    "r_precision_pred_k10": ("r_precision_at_k", "pred", 10, 0.37777, REL4),
}


def _rating_case(fn: Callable[[np.ndarray, np.ndarray], float], frame: str) -> float:
    true = _true(RATING_TRUE)
    pred = _self_pred(RATING_TRUE) if frame == "self" else _pred(RATING_PRED)
    return fn(*_joined(true, pred))


def _pair_case(fn: Callable[[np.ndarray, np.ndarray], float], frame: str) -> float:
    true = _binary_true()
    pred = true.rename(columns={"rating": "prediction"}) if frame == "self" else _binary_pred()
    return fn(*_joined(true, pred))


def _precision_small(rows: list[list[int]], k: int) -> float:
    topk, truth = _topk_truth(_true(rows), _self_pred(rows), k)
    return M.mean_over_users(M.precision_at_k(topk, truth, k)).mean


def _wiki_ndcg() -> float:
    topk, truth = _topk_truth(_true(WIKI_NDCG_TRUE), _pred(WIKI_NDCG_PRED), 6)
    return M.mean_over_users(M.ndcg_at_k(topk, truth, 6, gain="raw")).mean


# --- beyond accuracy (diversity fixtures); item ids are item indices 0..5 (0 unused) --------------------


def _train(rows: list[list[int]] = DIVERSITY_TRAIN) -> sp.csr_matrix:
    r = np.array(rows)
    return sp.csr_matrix((np.ones(len(r)), (r[:, 0] - 1, r[:, 1])), shape=(3, 6))


def _reco(rows: list[list[int]] = DIVERSITY_RECO) -> tuple[np.ndarray, np.ndarray]:
    """topk (users 1..3 as rows 0..2, in list order) and the relevance column as a matrix."""
    df = pd.DataFrame(rows, columns=["user", "item", "relevance"])
    df = df.assign(slot=df.groupby("user").cumcount())
    width = int(df["slot"].max()) + 1
    topk = np.full((3, width), -1, dtype=np.int64)
    rel = np.zeros((3, width))
    topk[df["user"] - 1, df["slot"]] = df["item"]
    rel[df["user"] - 1, df["slot"]] = df["relevance"]
    return topk, rel


def _features() -> np.ndarray:
    f = np.zeros((6, 5))
    for item, vec in DIVERSITY_ITEM_FEATURES.items():
        f[item] = vec
    return f


def _item_vectors(measure: str) -> np.ndarray | sp.csr_matrix:
    # co-occurrence similarity = cosine of the items' binary train-user vectors
    return _train().T.tocsr() if measure == "cooccurrence" else _features()


def _train_counts(rows: list[list[int]] = DIVERSITY_TRAIN) -> np.ndarray:
    return np.bincount(np.array(rows)[:, 1], minlength=6).astype(float)


def _user_diversity(measure: str) -> np.ndarray:
    return M.intra_list_diversity(_reco()[0], _item_vectors(measure))


def _user_item_serendipity(measure: str) -> np.ndarray:
    topk, rel = _reco()
    return M.user_item_serendipity(topk, _train(), _item_vectors(measure), rel).ravel()


def _user_serendipity(measure: str) -> np.ndarray:
    topk, rel = _reco()
    return M.serendipity(topk, _train(), _item_vectors(measure), rel)


def _item3_only() -> tuple[np.ndarray, np.ndarray]:
    train = [r for r in DIVERSITY_TRAIN if r[1] == 3]
    return _train_counts(train), np.array([[3]])  # the only reco row with item 3: user 1


# id -> (function computing our value, expected, tolerance)
RECOMMENDERS_VALUES: dict[str, tuple[Callable[[], object], object, dict]] = {
    "rmse_self": (lambda: _rating_case(M.rmse, "self"), 0, EXACT),
    "rmse_pred": (lambda: _rating_case(M.rmse, "pred"), 7.254309, REL4),
    "mae_self": (lambda: _rating_case(M.mae, "self"), 0, EXACT),
    "mae_pred": (lambda: _rating_case(M.mae, "pred"), 6.375, REL4),
    "rsquared_self": (lambda: _rating_case(M.r_squared, "self"), 1.0, REL4),
    "rsquared_pred": (lambda: _rating_case(M.r_squared, "pred"), -31.699029, REL4),
    "exp_var_self": (lambda: _rating_case(M.explained_variance, "self"), 1.0, REL4),
    "exp_var_pred": (lambda: _rating_case(M.explained_variance, "pred"), -6.4466, REL4),
    "ndcg_wiki_raw_log2_k6": (_wiki_ndcg, 0.785, REL4),
    "precision_single_user_k3": (lambda: _precision_small(SINGLE_USER, 3), 1, EXACT),
    "precision_same_items_k3": (lambda: _precision_small(SAME_ITEMS, 3), 1, EXACT),
    "precision_same_items_k5": (lambda: _precision_small(SAME_ITEMS, 5), 0.6, EXACT),
    "auc_self": (lambda: _pair_case(M.auc, "self"), 1.0, REL4),
    "auc_pred": (lambda: _pair_case(M.auc, "pred"), 0.75, REL4),
    "logloss_self": (lambda: _pair_case(M.logloss, "self"), 0, EXACT),
    "logloss_pred": (lambda: _pair_case(M.logloss, "pred"), 0.7835, REL4),
    "catalog_coverage": (
        lambda: M.catalog_coverage(_reco()[0], 6, denominator="train", item_counts=_train_counts()),
        0.8,
        REL4,
    ),
    "distributional_coverage": (lambda: M.distributional_coverage(_reco()[0]), 1.9183, REL4),
    # Recommenders' popularity is count / number of train interactions (8 rows)
    "historical_item_novelty": (
        lambda: M.item_novelty(_train_counts(), len(DIVERSITY_TRAIN))[1:],
        [3.0, 3.0, 2.0, 1.41504, 3.0],
        {"rel": 1e-5, "abs": 1e-8},
    ),
    "historical_item_novelty_only_item3": (lambda: M.item_novelty(_item3_only()[0], 2)[3], 0, EXACT),
    "novelty": (
        lambda: M.mean_over_users(M.novelty(_reco()[0], _train_counts(), len(DIVERSITY_TRAIN))).mean,
        2.83333,
        REL4,
    ),
    "novelty_only_item3": (
        lambda: M.mean_over_users(M.novelty(_item3_only()[1], _item3_only()[0], 2)).mean,
        0,
        EXACT,
    ),
    "user_diversity_cooccurrence": (
        lambda: _user_diversity("cooccurrence"),
        [0.29289, 1.0, 0.0],
        {"rel": 1e-5, "abs": 1e-4},
    ),
    "diversity_cooccurrence": (lambda: _user_diversity("cooccurrence").mean(), 0.43096, REL4),
    "user_item_serendipity_cooccurrence": (
        lambda: _user_item_serendipity("cooccurrence"),
        [0.72783, 0.0, 0.71132, 0.35777, 0.80755, 0.0],
        {"rel": 1e-5, "abs": 1e-8},
    ),
    "user_serendipity_cooccurrence": (
        lambda: _user_serendipity("cooccurrence"),
        [0.363915, 0.53455, 0.403775],
        {"rel": 1e-5, "abs": 1e-8},
    ),
    "serendipity_cooccurrence": (lambda: _user_serendipity("cooccurrence").mean(), 0.43408, REL4),
    "user_diversity_feature": (
        lambda: _user_diversity("feature"),
        [0.5, 0.5, 0.5],
        {"rel": 1e-5, "abs": 1e-8},
    ),
    "diversity_feature": (lambda: _user_diversity("feature").mean(), 0.5, REL4),
    "user_item_serendipity_feature": (
        lambda: _user_item_serendipity("feature"),
        [0.5, 0.0, 0.75, 0.5, 0.6667, 0.0],
        {"rel": 1e-5, "abs": 1e-4},
    ),
    "user_serendipity_feature": (
        lambda: _user_serendipity("feature"),
        [0.25, 0.625, 0.3333],
        {"rel": 1e-5, "abs": 1e-4},
    ),
    "serendipity_feature": (lambda: _user_serendipity("feature").mean(), 0.4028, REL4),
}


def test_every_case_is_covered() -> None:
    tested = set(RECOMMENDERS_RANKING) | set(RECOMMENDERS_VALUES)
    assert not tested & set(NOT_APPLICABLE)
    assert tested | set(NOT_APPLICABLE) == set(RECOMMENDERS_CASE_IDS)
    assert len(RECOMMENDERS_CASE_IDS) == 56
    assert all(reason.strip() for reason in NOT_APPLICABLE.values())
    assert set(RECBOLE_TOPK) | set(RECBOLE_VALUES) == set(RECBOLE_CASE_IDS)
    assert len(RECBOLE_CASE_IDS) == 21


@pytest.mark.parametrize("case_id", list(RECOMMENDERS_RANKING))
def test_recommenders_ranking_case(case_id: str) -> None:
    metric, frame, k, expected, tol = RECOMMENDERS_RANKING[case_id]
    assert _recommenders_ranking(metric, frame, k) == pytest.approx(expected, **tol)


@pytest.mark.parametrize("case_id", list(RECOMMENDERS_VALUES))
def test_recommenders_case(case_id: str) -> None:
    compute, expected, tol = RECOMMENDERS_VALUES[case_id]
    got = compute()
    if isinstance(expected, list):
        np.testing.assert_allclose(np.asarray(got, float), expected, rtol=tol["rel"], atol=tol.get("abs", 0))
    else:
        assert got == pytest.approx(expected, **tol)


def test_fixture_conversion_matches_recommenders() -> None:
    """The not-applicable frame-utility cases still pin down how this file maps frames to arrays."""
    # merge_rating_true_pred: 8 joined pairs in rating_true's order
    y_true, y_pred = _joined(_true(RATING_TRUE), _pred(RATING_PRED))
    assert y_true.tolist() == [3, 3, 5, 5, 3, 3, 2, 1]
    assert y_pred.tolist() == [14, 12, 7, 8, 13, 6, 11, 5]
    # merge_ranking_n_users: users in both frames
    topk, truth = _topk_truth(_true(RATING_TRUE), _pred(RATING_PRED), 10)
    assert topk.shape[0] == truth.shape[0] == 3
    # get_top_k_items(rating_true, k): expected users, ratings and ranks; items must carry that rating
    expected = {
        3: ([1, 1, 1, 2, 2, 2, 3, 3, 3], [5, 4, 3, 5, 5, 3, 5, 5, 5], [1, 2, 3, 1, 2, 3, 1, 2, 3]),
        6: (
            [1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3],
            [5, 4, 3, 5, 5, 3, 3, 1, 5, 5, 5, 4, 4, 3],
            [1, 2, 3, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 6],
        ),
    }
    true = _true(RATING_TRUE)
    for k, (users, ratings, ranks) in expected.items():
        top = _ranked(_self_pred(RATING_TRUE), k)
        assert top["user"].tolist() == users
        assert top["prediction"].tolist() == ratings
        assert top["rank"].tolist() == ranks
        back = top.merge(true, on=["user", "item"])
        assert (back["rating"] == back["prediction"]).all()
        assert not top.duplicated(["user", "item"]).any()
    # user 1's order is fully determined: items 1, 2, 3
    assert _ranked(_self_pred(RATING_TRUE), 3).query("user == 1")["item"].tolist() == [1, 2, 3]


# Values computed by the reference README's independent implementation of the same semantics; they are
# not upstream assertions, but pin k=3/5, one user alone and the exact (unrounded) numbers to 1e-12.
RECOMMENDERS_DERIVED = [
    (3, None, {"precision_at_k": 0.3333333333333333, "recall_at_k": 0.2111111111111111,
               "ndcg_at_k": 0.33333333333333326, "map": 0.15, "map_at_k": 0.2037037037037037}),
    (5, None, {"precision_at_k": 0.26666666666666666, "recall_at_k": 0.24444444444444446,
               "ndcg_at_k": 0.33297114774559944, "map": 0.16666666666666666, "map_at_k": 0.19999999999999998}),
    (10, None, {"precision_at_k": 0.26666666666666666, "recall_at_k": 0.37777777777777777,
                "ndcg_at_k": 0.38172659753071586, "map": 0.23613756613756612,
                "map_at_k": 0.23613756613756612}),
    (10, 3, {"precision_at_k": 0.6, "recall_at_k": 0.6, "ndcg_at_k": 0.5063209639325833,
             "map": 0.3084126984126984, "map_at_k": 0.3084126984126984}),
]  # fmt: skip


@pytest.mark.parametrize(("k", "only_user", "expected"), RECOMMENDERS_DERIVED)
def test_recommenders_derived_values(k: int, only_user: int | None, expected: dict[str, float]) -> None:
    true, pred = _true(RATING_TRUE), _pred(RATING_PRED)
    if only_user is not None:
        true, pred = true[true["user"] == only_user], pred[pred["user"] == only_user]
    topk, truth = _topk_truth(true, pred, k)
    got = M.ranking_metrics(topk, truth, ks=(k,), metrics=("precision", "recall", "ndcg", "map"))
    got_n_rel = M.map_at_k(topk, truth, k, normaliser="n_rel")
    assert M.mean_over_users(got[f"precision@{k}"]).mean == pytest.approx(expected["precision_at_k"], abs=1e-12)
    assert M.mean_over_users(got[f"recall@{k}"]).mean == pytest.approx(expected["recall_at_k"], abs=1e-12)
    assert M.mean_over_users(got[f"ndcg@{k}"]).mean == pytest.approx(expected["ndcg_at_k"], abs=1e-12)
    assert M.mean_over_users(got[f"map@{k}"]).mean == pytest.approx(expected["map_at_k"], abs=1e-12)
    assert M.mean_over_users(got_n_rel).mean == pytest.approx(expected["map"], abs=1e-12)


def test_recommenders_derived_wiki_dcg_exact() -> None:
    assert _wiki_ndcg() == pytest.approx(0.785002371969948, abs=1e-12)
    dcg6, idcg6 = 6.861126688593502, 8.740262365546284
    assert _wiki_ndcg() == pytest.approx(dcg6 / idcg6, abs=1e-12)


def test_recommenders_recall_matches_r_precision_quirk_comment() -> None:
    # Upstream comments r_precision@10 as "equivalent to precision"; on this fixture it equals recall@10.
    assert _recommenders_ranking("r_precision_at_k", "pred", 10) == pytest.approx(
        _recommenders_ranking("recall_at_k", "pred", 10), abs=1e-12
    )


# ----------------------------------------------------------------------------------------------------------
# RecBole
# ----------------------------------------------------------------------------------------------------------

# pos_index[u][j] = 1 iff the item at rank j+1 is a positive; pos_len = number of positives per user
RB_POS_INDEX = [[0, 0, 0], [1, 1, 1], [1, 0, 1], [0, 0, 1]]
RB_POS_LEN = [1, 3, 4, 2]
# top-3 item ids for 5 users; num_items = 8 (RecBole's count includes its padding id 0)
RB_ITEM_MATRIX = [[5, 7, 3], [4, 5, 2], [2, 3, 5], [1, 4, 6], [5, 3, 7]]
RB_NUM_ITEMS = 8
RB_ITEM_COUNT = {1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5}  # ids 0 and 7 count 0
RB_LOSS = {
    0: ([0.1, 0.9, 0.2, 0.3], [1, 0, 1, 1]),  # (preds, trues)
    1: ([0.7, 0.5, 0.6, 0.2], [0, 1, 1, 0]),
}
RB_RANK = {  # (pos_rank_sum, user_len_list, pos_len_list), ranks are descending (best = 1)
    0: ([1, 4, 9], [2, 3, 5], [1, 2, 3]),
    1: ([3, 0, 6], [3, 6, 4], [1, 0, 4]),
}

_L2 = np.log2
# id -> (our metric, per-user × cutoff matrix)
RECBOLE_TOPK: dict[str, tuple[str, list[list[float]]]] = {
    "hit": ("hit_rate", [[0, 0, 0], [1, 1, 1], [1, 1, 1], [0, 0, 1]]),
    "ndcg": (
        "ndcg",
        [
            [0, 0, 0],
            [1, 1, 1],
            [1, (1 / _L2(2)) / (1 / _L2(2) + 1 / _L2(3)),
             (1 / _L2(2) + 1 / _L2(4)) / (1 / _L2(2) + 1 / _L2(3) + 1 / _L2(4))],
            [0, 0, (1 / _L2(4)) / (1 / _L2(2) + 1 / _L2(3))],
        ],
    ),
    "mrr": ("mrr", [[0, 0, 0], [1, 1, 1], [1, 1, 1], [0, 0, 1 / 3]]),
    "map": ("map", [[0, 0, 0], [1, 1, 1], [1, 1 / 2, (1 / 3) * ((1 / 1) + (2 / 3))], [0, 0, (1 / 3) * (1 / 2)]]),
    "recall": ("recall", [[0, 0, 0], [1 / 3, 2 / 3, 1], [0.25, 0.25, 0.5], [0, 0, 0.5]]),
    "precision": ("precision", [[0, 0, 0], [1, 1, 1], [1, 0.5, 2 / 3], [0, 0, 1 / 3]]),
}  # fmt: skip
RECBOLE_MEANS = {  # derived_mean_over_users_at_k (what RecBole reports as metric@k)
    "hit": [0.5, 0.5, 0.75],
    "ndcg": [0.5, 0.4032867981913646, 0.5026229213542159],
    "mrr": [0.5, 0.5, 0.5833333333333334],
    "map": [0.5, 0.375, 0.4305555555555555],
    "recall": [0.14583333333333331, 0.22916666666666666, 0.5],
    "precision": [0.5, 0.375, 0.49999999999999994],
}


def _recbole_topk_truth() -> tuple[np.ndarray, sp.csr_matrix]:
    """Every user gets the list [0, 1, 2]; positives at the marked ranks plus extra relevant items 3, 4, ...
    (not recommended) up to pos_len."""
    pos = np.array(RB_POS_INDEX, dtype=bool)
    n_users, width = pos.shape
    n_items = width + max(RB_POS_LEN)
    rows, cols = [], []
    for u in range(n_users):  # building the fixture, not computing a metric
        in_list = np.flatnonzero(pos[u]).tolist()
        extra = list(range(width, width + RB_POS_LEN[u] - len(in_list)))
        rows += [u] * (len(in_list) + len(extra))
        cols += in_list + extra
    truth = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_users, n_items))
    topk = np.tile(np.arange(width, dtype=np.int64), (n_users, 1))
    return topk, truth


@pytest.mark.parametrize("case_id", list(RECBOLE_TOPK))
def test_recbole_topk_case(case_id: str) -> None:
    name, expected = RECBOLE_TOPK[case_id]
    topk, truth = _recbole_topk_truth()
    assert np.diff(truth.indptr).tolist() == RB_POS_LEN
    assert M.relevance_of(topk, truth).astype(int).tolist() == RB_POS_INDEX
    got = M.ranking_metrics(topk, truth, ks=(1, 2, 3), metrics=(name,), map_normaliser="min_k_rel")
    matrix = np.column_stack([got[f"{name}@{k}"] for k in (1, 2, 3)])
    np.testing.assert_allclose(matrix, np.array(expected, dtype=float), rtol=0, atol=1e-12)
    means = [M.mean_over_users(got[f"{name}@{k}"]).mean for k in (1, 2, 3)]
    np.testing.assert_allclose(means, RECBOLE_MEANS[case_id], rtol=0, atol=1e-12)


def _rb_counts() -> np.ndarray:
    counts = np.zeros(RB_NUM_ITEMS)
    counts[list(RB_ITEM_COUNT)] = list(RB_ITEM_COUNT.values())
    return counts


def _rb_cumulative(fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    topk = np.array(RB_ITEM_MATRIX)
    return np.column_stack([fn(topk[:, :k]) for k in (1, 2, 3)])


def _rb_gauc(case: int) -> float:
    rank_sum, user_len, pos_len = RB_RANK[case]
    per_user = M.auc_from_rank_sums(np.array(rank_sum), np.array(user_len), np.array(pos_len), descending=True)
    return M.gauc(per_user, np.array(pos_len))


RECBOLE_VALUES: dict[str, tuple[Callable[[], object], object, dict]] = {
    "itemcoverage": (lambda: M.catalog_coverage(np.array(RB_ITEM_MATRIX), RB_NUM_ITEMS), 7 / 8, EXACT),
    "averagepopularity": (
        lambda: _rb_cumulative(lambda t: M.average_popularity(t, _rb_counts())),
        [[4 / 1, 4 / 2, 6 / 3], [3 / 1, 7 / 2, 8 / 3], [1 / 1, 3 / 2, 7 / 3], [0 / 1, 3 / 2, 8 / 3],
         [4 / 1, 6 / 2, 6 / 3]],
        EXACT,
    ),
    "giniindex": (
        lambda: M.gini_index(np.array(RB_ITEM_MATRIX), RB_NUM_ITEMS),
        ((-7) * 0 + (-5) * 1 + (-3) * 1 + (-1) * 2 + 1 * 2 + 3 * 2 + 5 * 3 + 7 * 4) / (8 * (3 * 5)),
        EXACT,
    ),
    "shannonentropy": (
        lambda: M.shannon_entropy(np.array(RB_ITEM_MATRIX)),
        -np.mean([p * np.log(p) for p in np.array([1, 2, 3, 2, 4, 1, 2]) / 15]),
        EXACT,
    ),
    # RecBole ranks only the items of its training counter (ids 1..6) to pick the tail: here item 1
    "tailpercentage": (
        lambda: _rb_cumulative(lambda t: M.tail_percentage(t, _rb_counts(), among=list(RB_ITEM_COUNT))),
        [[0, 0, 0], [0, 0, 0], [0, 0, 0], [1 / 1, 1 / 2, 1 / 3], [0, 0, 0]],
        EXACT,
    ),
    "auc_case0": (lambda: M.auc(RB_LOSS[0][1], RB_LOSS[0][0]), 0.0, EXACT),
    "auc_case1": (lambda: M.auc(RB_LOSS[1][1], RB_LOSS[1][0]), 2 / (2 * 2), EXACT),
    "rmse_case0": (
        lambda: M.rmse(RB_LOSS[0][1], RB_LOSS[0][0]), np.sqrt((0.9**2 + 0.9**2 + 0.8**2 + 0.7**2) / 4), EXACT
    ),
    "rmse_case1": (
        lambda: M.rmse(RB_LOSS[1][1], RB_LOSS[1][0]), np.sqrt((0.7**2 + 0.5**2 + 0.4**2 + 0.2**2) / 4), EXACT
    ),
    "logloss_case0": (
        lambda: M.logloss(RB_LOSS[0][1], RB_LOSS[0][0]),
        (-np.log(0.1) - np.log(0.2) - np.log(0.3) - np.log(0.1)) / 4,
        {"abs": 5e-8},  # upstream: assertAlmostEqual, 7 places
    ),
    "logloss_case1": (
        lambda: M.logloss(RB_LOSS[1][1], RB_LOSS[1][0]),
        (-np.log(0.5) - np.log(0.6) - np.log(0.3) - np.log(0.8)) / 4,
        {"abs": 5e-8},
    ),
    "mae_case0": (lambda: M.mae(RB_LOSS[0][1], RB_LOSS[0][0]), (0.9 + 0.9 + 0.8 + 0.7) / 4, EXACT),
    "mae_case1": (lambda: M.mae(RB_LOSS[1][1], RB_LOSS[1][0]), (0.7 + 0.5 + 0.4 + 0.2) / 4, EXACT),
    "gauc_case0": (
        lambda: _rb_gauc(0),
        (1 * ((2 - (1 - 1) / 2 - 1 / 1) / (2 - 1)) + 2 * ((3 - (2 - 1) / 2 - 4 / 2) / (3 - 2))
         + 3 * ((5 - (3 - 1) / 2 - 9 / 3) / (5 - 3))) / (1 + 2 + 3),
        EXACT,
    ),
    # user 2 (no positives) and user 3 (no negatives) are dropped; user 1 alone has AUC 0
    "gauc_case1": (lambda: _rb_gauc(1), (3 - 0 - 3 / 1) / (3 - 1), EXACT),
}  # fmt: skip

# the floats the reference JSON lists for the expressions above, so a mistyped expression cannot hide
RECBOLE_FLOATS = {
    "giniindex": 0.3416666666666667,
    "shannonentropy": 0.26305576783513895,
    "rmse_case0": 0.82915619758885,
    "rmse_case1": 0.48476798574163293,
    "logloss_case0": 1.8546452256870318,
    "logloss_case1": 0.6577722899915204,
    "mae_case0": 0.825,
    "mae_case1": 0.45,
    "gauc_case0": 0.5833333333333334,
    "gauc_case1": 0.0,
}


@pytest.mark.parametrize("case_id", list(RECBOLE_VALUES))
def test_recbole_case(case_id: str) -> None:
    compute, expected, tol = RECBOLE_VALUES[case_id]
    got = compute()
    if isinstance(expected, list):
        np.testing.assert_allclose(np.asarray(got, float), expected, rtol=0, atol=tol["abs"])
    else:
        assert got == pytest.approx(expected, **tol)
    if case_id in RECBOLE_FLOATS:
        assert expected == pytest.approx(RECBOLE_FLOATS[case_id], abs=1e-12)
