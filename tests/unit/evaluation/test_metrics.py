"""Vectorised metrics against brute-force per-user Python implementations, plus properties and hand cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_core.errors import ConfigError, DataError
from recsys_core.evaluation import metrics as M

# ----------------------------------------------------------------------------------------------------------
# random data: users with 0, 1 and many (> K) relevant items, padded lists, graded truth values
# ----------------------------------------------------------------------------------------------------------


def _random_case(seed: int, n_users: int = 60, n_items: int = 40, width: int = 10):
    rng = np.random.default_rng(seed)
    n_rel = rng.integers(0, min(25, n_items + 1), size=n_users)
    n_rel[:3] = [0, 1, min(20, n_items)]  # always cover the edge cases
    rows, cols, vals = [], [], []
    for u in range(n_users):  # building fixtures, not computing metrics
        items = rng.choice(n_items, size=n_rel[u], replace=False)
        rows += [u] * len(items)
        cols += items.tolist()
        vals += rng.integers(1, 6, size=len(items)).tolist()
    truth = sp.csr_matrix((np.array(vals, float), (rows, cols)), shape=(n_users, n_items))
    topk = np.array([rng.permutation(n_items)[:width] for _ in range(n_users)], dtype=np.int64)
    # some lists are short: -1 padding at the end
    n_valid = rng.integers(0, width + 1, size=n_users)
    n_valid[rng.random(n_users) < 0.6] = width
    topk[np.arange(width)[None, :] >= n_valid[:, None]] = -1
    # plant hits so that metrics are not all zero
    for u in range(n_users):
        rel = truth.indices[truth.indptr[u] : truth.indptr[u + 1]]
        slots = np.flatnonzero(topk[u] >= 0)
        if rel.size and slots.size:
            take = rng.choice(slots, size=min(slots.size, rel.size, int(rng.integers(0, 5))), replace=False)
            chosen = rng.choice(rel, size=take.size, replace=False)
            others = [i for i in topk[u] if i >= 0 and i not in chosen]
            row = topk[u].copy()
            row[take] = chosen
            free = [s for s in slots if s not in take]
            row[free] = others[: len(free)]
            topk[u] = row
    return topk, truth


def _rel_set(truth: sp.csr_matrix, u: int) -> dict[int, float]:
    lo, hi = truth.indptr[u], truth.indptr[u + 1]
    return dict(zip(truth.indices[lo:hi].tolist(), truth.data[lo:hi].tolist()))


def _brute(topk: np.ndarray, truth: sp.csr_matrix, k: int, metric: str, **kw) -> np.ndarray:
    out = []
    for u in range(topk.shape[0]):
        rel = _rel_set(truth, u)
        lst = topk[u, :k].tolist()
        hits = [i >= 0 and i in rel for i in lst]
        n = len(rel)
        if n == 0:
            out.append(math.nan)
            continue
        if metric == "precision":
            v = sum(hits) / k
        elif metric == "recall":
            v = sum(hits) / n
        elif metric == "hit_rate":
            v = float(any(hits))
        elif metric == "mrr":
            v = next((1 / (r + 1) for r, h in enumerate(hits) if h), 0.0)
        elif metric == "map":
            s, c = 0.0, 0
            for r, h in enumerate(hits):
                if h:
                    c += 1
                    s += c / (r + 1)
            v = s / (min(k, n) if kw.get("normaliser", "min_k_rel") == "min_k_rel" else n)
        elif metric == "ndcg":
            gain = kw.get("gain", "binary")

            def g(x: float, gain: str = gain) -> float:
                return 1.0 if gain == "binary" else (x if gain == "raw" else 2.0**x - 1)

            dcg = sum(g(rel[i]) / math.log2(r + 2) for r, i in enumerate(lst) if i >= 0 and i in rel)
            ideal = sorted((g(x) for x in rel.values()), reverse=True)[:k]
            idcg = sum(x / math.log2(r + 2) for r, x in enumerate(ideal))
            v = dcg / idcg if idcg > 0 else math.nan
        elif metric == "r_precision":
            v = sum(hits[: min(k, n)]) / n
        else:
            raise AssertionError(metric)
        out.append(v)
    return np.array(out)


SEEDS = (0, 1, 2, 3)
KS = (1, 3, 5, 10)


@pytest.mark.parametrize("seed", SEEDS)
def test_ranking_metrics_match_brute_force(seed: int) -> None:
    topk, truth = _random_case(seed)
    names = M.RANKING_METRICS
    got = M.ranking_metrics(topk, truth, ks=KS, metrics=names)
    assert list(got) == [f"{m}@{k}" for m in names for k in KS]
    for m in names:
        for k in KS:
            np.testing.assert_allclose(got[f"{m}@{k}"], _brute(topk, truth, k, m), rtol=0, atol=1e-12)
            assert got[f"{m}@{k}"].dtype == np.float64


@pytest.mark.parametrize("seed", SEEDS)
def test_single_metric_functions_match_brute_force(seed: int) -> None:
    topk, truth = _random_case(seed, width=7)
    fns = {
        "precision": M.precision_at_k,
        "recall": M.recall_at_k,
        "hit_rate": M.hit_rate_at_k,
        "mrr": M.mrr_at_k,
        "ndcg": M.ndcg_at_k,
        "map": M.map_at_k,
        "r_precision": M.r_precision_at_k,
    }
    for k in (1, 4, 7):
        for name, fn in fns.items():
            np.testing.assert_allclose(fn(topk, truth, k), _brute(topk, truth, k, name), rtol=0, atol=1e-12)
        for norm in ("min_k_rel", "n_rel"):
            np.testing.assert_allclose(
                M.map_at_k(topk, truth, k, normaliser=norm),
                _brute(topk, truth, k, "map", normaliser=norm),
                rtol=0,
                atol=1e-12,
            )
        for gain in ("binary", "raw", "exp"):
            np.testing.assert_allclose(
                M.ndcg_at_k(topk, truth, k, gain=gain),
                _brute(topk, truth, k, "ndcg", gain=gain),
                rtol=0,
                atol=1e-12,
            )


def test_batches_concatenate_to_the_whole() -> None:
    topk, truth = _random_case(7, n_users=90)
    whole = M.ranking_metrics(topk, truth, ks=(5, 10))
    parts = [M.ranking_metrics(topk[s:e], truth[s:e], ks=(5, 10)) for s, e in ((0, 31), (31, 32), (32, 90))]
    for name, values in whole.items():
        np.testing.assert_array_equal(np.concatenate([p[name] for p in parts]), values)


def test_relevance_of_and_values() -> None:
    truth = sp.csr_matrix(np.array([[0, 3.0, 0, 5.0], [0, 0, 0, 0], [1.0, 0, 0, 0]]))
    topk = np.array([[1, 2, 3], [0, 1, -1], [-1, -1, 0]])
    assert M.relevance_of(topk, truth).tolist() == [[True, False, True], [False] * 3, [False, False, True]]
    assert M.relevance_of(topk, truth, values=True).tolist() == [[3, 0, 5], [0, 0, 0], [0, 0, 1]]


def test_non_canonical_and_array_inputs_are_accepted() -> None:
    topk, truth = _random_case(11)
    expected = M.ranking_metrics(topk, truth)
    coo = truth.tocoo()
    perm = np.random.default_rng(0).permutation(coo.nnz)
    shuffled = sp.csr_matrix((coo.data[perm], (coo.row[perm], coo.col[perm])), shape=truth.shape)
    shuffled.has_sorted_indices = False
    for other in (shuffled, sp.csr_array(truth), truth.tocoo(), truth.tocsc()):
        got = M.ranking_metrics(topk, other)
        for name in expected:
            np.testing.assert_array_equal(got[name], expected[name])
    # a user-supplied truth is not modified in place
    assert not shuffled.has_sorted_indices


# ----------------------------------------------------------------------------------------------------------
# properties
# ----------------------------------------------------------------------------------------------------------


def test_perfect_list_scores_one_and_no_hits_score_zero() -> None:
    truth = sp.csr_matrix(np.array([[1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 1, 1]], dtype=float))
    perfect = np.array([[0, 1, 2, 3], [2, 3, 4, 5]])
    res = M.ranking_metrics(perfect, truth, ks=(2, 4), metrics=M.RANKING_METRICS)
    for m in ("ndcg", "map", "mrr", "hit_rate", "r_precision"):
        np.testing.assert_array_equal(res[f"{m}@4"], [1.0, 1.0])
        if m != "r_precision":
            np.testing.assert_array_equal(res[f"{m}@2"], [1.0, 1.0])
    np.testing.assert_array_equal(res["r_precision@2"], [1.0, 0.5])  # only 2 of R = 4 slots looked at
    np.testing.assert_array_equal(res["recall@4"], [1.0, 1.0])
    np.testing.assert_array_equal(res["precision@4"], [0.5, 1.0])  # always ÷ k
    useless = np.array([[2, 3, 4, 5], [0, 1, -1, -1]])
    res = M.ranking_metrics(useless, truth, ks=(4,), metrics=M.RANKING_METRICS)
    for values in res.values():
        np.testing.assert_array_equal(values, [0.0, 0.0])


@pytest.mark.parametrize("seed", SEEDS)
def test_bounds_and_nan_for_users_without_relevant_items(seed: int) -> None:
    topk, truth = _random_case(seed)
    n_rel = np.diff(truth.indptr)
    res = M.ranking_metrics(topk, truth, ks=KS, metrics=M.RANKING_METRICS)
    for values in res.values():
        assert np.isnan(values[n_rel == 0]).all()
        ok = values[n_rel > 0]
        assert not np.isnan(ok).any()
        assert (ok >= 0).all()
        assert (ok <= 1 + 1e-12).all()


def test_map_normalisers_differ_only_when_n_rel_exceeds_k() -> None:
    topk, truth = _random_case(5)
    n_rel = np.diff(truth.indptr)
    for k in (3, 10):
        a = M.map_at_k(topk, truth, k, normaliser="min_k_rel")
        b = M.map_at_k(topk, truth, k, normaliser="n_rel")
        small = (n_rel > 0) & (n_rel <= k)
        np.testing.assert_array_equal(a[small], b[small])
        big = (n_rel > k) & (a > 0)
        assert big.any()
        assert (b[big] < a[big]).all()
        np.testing.assert_allclose(b[big], a[big] * k / n_rel[big], rtol=1e-12)


def test_mean_over_users_counts_skipped_users() -> None:
    got = M.mean_over_users(np.array([1.0, np.nan, 0.0, np.nan]))
    assert got == M.UserMean(mean=0.5, n_users=2, n_skipped=2)
    empty = M.mean_over_users(np.array([np.nan]))
    assert math.isnan(empty.mean)
    assert (empty.n_users, empty.n_skipped) == (0, 1)
    assert M.average_metrics({"a@1": np.array([1.0, 3.0])}) == {"a@1": 2.0}


# ----------------------------------------------------------------------------------------------------------
# input errors
# ----------------------------------------------------------------------------------------------------------


def test_bad_inputs_raise_reclab_errors() -> None:
    truth = sp.csr_matrix(np.eye(3))
    with pytest.raises(DataError, match="integer") as e:
        M.ranking_metrics(np.zeros((3, 2)), truth)
    assert e.value.code == "bad_topk"
    with pytest.raises(DataError, match="outside") as e:
        M.ranking_metrics(np.array([[0, 1], [2, 3], [0, -2]]), truth, ks=(1,))
    assert e.value.rows == [2, 3]
    with pytest.raises(DataError, match="user rows"):
        M.ranking_metrics(np.zeros((2, 2), dtype=int), truth, ks=(1,))
    with pytest.raises(DataError, match="2-D"):
        M.precision_at_k(np.zeros(3, dtype=int), truth, 1)
    with pytest.raises(DataError, match=r"scipy\.sparse"):
        M.precision_at_k(np.zeros((3, 1), dtype=int), np.eye(3), 1)
    with pytest.raises(ConfigError, match="exceeds"):
        M.ranking_metrics(np.zeros((3, 2), dtype=int), truth, ks=(3,))
    with pytest.raises(ConfigError, match="Unknown ranking metric"):
        M.ranking_metrics(np.zeros((3, 2), dtype=int), truth, ks=(1,), metrics=("ndgc",))
    with pytest.raises(ConfigError, match="normaliser"):
        M.map_at_k(np.zeros((3, 2), dtype=int), truth, 1, normaliser="k")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="k must be"):
        M.recall_at_k(np.zeros((3, 2), dtype=int), truth, 0)
    with pytest.raises(DataError, match="0 or 1"):
        M.auc([0, 2], [0.1, 0.2])
    with pytest.raises(DataError, match="NaN"):
        M.rmse([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(DataError, match="NaN"):
        M.auc_from_scores(np.array([[np.nan, 1.0]]), sp.csr_matrix(np.array([[1.0, 0.0]])))


# ----------------------------------------------------------------------------------------------------------
# AUC, GAUC, rating metrics
# ----------------------------------------------------------------------------------------------------------


def _brute_auc(scores: np.ndarray, truth: sp.csr_matrix, exclude: sp.csr_matrix | None) -> np.ndarray:
    out = []
    for u in range(scores.shape[0]):
        pos = set(_rel_set(truth, u))
        ex = set(_rel_set(exclude, u)) if exclude is not None else set()
        neg = [j for j in range(scores.shape[1]) if j not in pos and j not in ex]
        if not pos or not neg:
            out.append(math.nan)
            continue
        wins = sum(
            1.0 if scores[u, p] > scores[u, n] else 0.5 if scores[u, p] == scores[u, n] else 0.0
            for p in pos
            for n in neg
        )
        out.append(wins / (len(pos) * len(neg)))
    return np.array(out)


@pytest.mark.parametrize("seed", SEEDS)
def test_auc_from_scores_matches_brute_force_with_ties_and_exclusions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_users, n_items = 25, 30
    scores = rng.integers(0, 6, size=(n_users, n_items)).astype(float)  # many ties
    scores[0, :5] = -np.inf
    dense_truth = (rng.random((n_users, n_items)) < 0.15).astype(float)
    dense_truth[1, 0] = 1.0
    dense_truth[2] = 0.0  # user 2: no positive -> NaN
    dense_exclude = (rng.random((n_users, n_items)) < 0.3).astype(float)
    dense_exclude[1] = 1.0  # user 1: every non-positive is excluded -> NaN
    truth, exclude = sp.csr_matrix(dense_truth), sp.csr_matrix(dense_exclude)
    for ex in (None, exclude):
        got = M.auc_from_scores(scores, truth, ex)
        np.testing.assert_allclose(got, _brute_auc(scores, truth, ex), rtol=0, atol=1e-12)
        np.testing.assert_array_equal(M.auc_from_scores(scores.astype(np.float32), truth, ex), got)
    assert np.isnan(M.auc_from_scores(scores, truth, exclude)[[1, 2]]).all()


def test_gauc_weights_by_positives_and_matches_scores_route() -> None:
    scores = np.array([[3.0, 2.0, 1.0, 0.0], [0.0, 1.0, 2.0, 3.0], [1.0, 1.0, 1.0, 1.0]])
    truth = sp.csr_matrix(np.array([[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]], dtype=float))
    per_user = M.auc_from_scores(scores, truth)
    np.testing.assert_allclose(per_user[:2], [1.0, 0.0])
    assert np.isnan(per_user[2])
    assert M.gauc(per_user, np.diff(truth.indptr)) == pytest.approx((1 * 1.0 + 2 * 0.0) / 3, abs=1e-12)
    assert math.isnan(M.gauc(np.array([np.nan]), np.array([0])))


def test_pair_auc_matches_sklearn_on_ties() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    p = rng.integers(0, 10, 200) / 10
    assert M.auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert math.isnan(M.auc([1, 1], [0.2, 0.3]))


def test_rating_metrics_and_per_user_versions() -> None:
    rng = np.random.default_rng(0)
    t = rng.integers(1, 6, 300).astype(float)
    p = t + rng.normal(0, 1, 300)
    users = rng.integers(0, 12, 300)
    users[users == 4] = 5  # user 4 has no ratings
    assert M.rmse(t, p) == pytest.approx(np.sqrt(np.mean((t - p) ** 2)), abs=1e-12)
    assert M.mae(t, p) == pytest.approx(np.mean(np.abs(t - p)), abs=1e-12)
    per_rmse = M.rmse_per_user(t, p, users, 12)
    per_mae = M.mae_per_user(t, p, users, 12)
    for u in range(12):
        sel = users == u
        if not sel.any():
            assert np.isnan(per_rmse[u])
            assert np.isnan(per_mae[u])
            continue
        assert per_rmse[u] == pytest.approx(np.sqrt(np.mean((t[sel] - p[sel]) ** 2)), abs=1e-12)
        assert per_mae[u] == pytest.approx(np.mean(np.abs(t[sel] - p[sel])), abs=1e-12)
    from sklearn.metrics import explained_variance_score, r2_score

    assert M.r_squared(t, p) == pytest.approx(r2_score(t, p), abs=1e-12)
    assert M.explained_variance(t, p + 3) == pytest.approx(explained_variance_score(t, p + 3), abs=1e-12)
    with pytest.raises(DataError, match=r"0\.\.11"):
        M.rmse_per_user(t, p, users + 1, 12)


# ----------------------------------------------------------------------------------------------------------
# beyond accuracy: hand cases and brute force
# ----------------------------------------------------------------------------------------------------------


def test_coverage_gini_entropy_hand_cases() -> None:
    topk = np.array([[0, 1], [0, 2], [0, -1]])  # exposure: item0 x3, item1 x1, item2 x1, items 3-4 never
    assert M.exposure_counts(topk, 5).tolist() == [3, 1, 1, 0, 0]
    assert M.catalog_coverage(topk, 5) == pytest.approx(3 / 5)
    counts = np.array([4, 0, 2, 1, 0])
    assert M.catalog_coverage(topk, 5, denominator="train", item_counts=counts) == pytest.approx(3 / 3)
    with pytest.raises(ConfigError):
        M.catalog_coverage(topk, 5, denominator="train")
    x = np.array([3, 1, 1, 0, 0], dtype=float)
    mad = np.abs(x[:, None] - x[None, :]).sum() / (2 * 5 * x.sum())  # mean-absolute-difference form
    assert M.gini_index(topk, 5) == pytest.approx(mad, abs=1e-12)
    assert M.gini_index(np.array([[0, 1, 2, 3]]), 4) == pytest.approx(0.0, abs=1e-12)
    assert M.gini_index(np.array([[2], [2]]), 4) == pytest.approx(3 / 4, abs=1e-12)
    uniform = np.array([[0, 1], [2, 3]])
    assert M.distributional_coverage(uniform) == pytest.approx(2.0, abs=1e-12)
    assert M.shannon_entropy(uniform) == pytest.approx(math.log(4) / 4, abs=1e-12)
    p = np.array([3, 1, 1]) / 5
    assert M.distributional_coverage(topk) == pytest.approx(-(p * np.log2(p)).sum(), abs=1e-12)
    assert math.isnan(M.gini_index(np.full((2, 2), -1), 3))


def test_novelty_popularity_tail_hand_cases() -> None:
    counts = np.array([8.0, 4.0, 2.0, 1.0, 0.0])  # item 4 never seen in training
    topk = np.array([[0, 1], [2, 3], [4, -1], [-1, -1]])
    # self-information in bits with 8 training users: 0, 1, 2, 3, and 0 for the unseen item
    np.testing.assert_allclose(M.item_novelty(counts, 8), [0, 1, 2, 3, 0])
    np.testing.assert_allclose(M.novelty(topk, counts, 8), [0.5, 2.5, 0.0, np.nan])
    np.testing.assert_allclose(M.average_popularity(topk, counts), [6.0, 1.5, 0.0, np.nan])
    assert M.tail_item_mask(counts, 0.4).tolist() == [False, False, False, True, True]
    assert M.tail_item_mask(counts, 2).tolist() == [False, False, True, True, True]
    assert M.tail_item_mask(counts, 0.01).tolist() == [False, False, False, False, True]
    np.testing.assert_allclose(M.tail_percentage(topk, counts, tail_ratio=2), [0.0, 1.0, 1.0, np.nan])
    np.testing.assert_allclose(
        M.tail_percentage(topk, counts, tail_ratio=0.5, among=[0, 1, 2, 3]), [0.0, 1.0, 0.0, np.nan]
    )  # tail = the 2 least popular of items 0-3: items 3 and 2; item 4 is not a candidate


def _brute_ild(topk: np.ndarray, vecs: np.ndarray) -> np.ndarray:
    out = []
    for row in topk:
        items = sorted({int(i) for i in row if i >= 0})
        if len(items) < 2:
            out.append(math.nan)
            continue
        sims = []
        for i, j in itertools.combinations(items, 2):
            ni, nj = np.linalg.norm(vecs[i]), np.linalg.norm(vecs[j])
            sims.append(0.0 if ni == 0 or nj == 0 else float(vecs[i] @ vecs[j]) / (ni * nj))
        out.append(1 - np.mean(sims))
    return np.array(out)


@pytest.mark.parametrize("seed", SEEDS)
def test_intra_list_diversity_matches_brute_force_dense_and_sparse(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_items = 25
    vecs = (rng.random((n_items, 6)) < 0.4).astype(float) * rng.random((n_items, 6))
    vecs[3] = 0.0  # an item without features
    topk, _ = _random_case(seed, n_items=n_items, width=6)
    topk[0] = [3, 1, 1, -1, -1, -1]  # duplicates count once
    expected = _brute_ild(topk, vecs)
    np.testing.assert_allclose(M.intra_list_diversity(topk, vecs), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(M.intra_list_diversity(topk, sp.csr_matrix(vecs)), expected, rtol=0, atol=1e-12)


def test_personalisation_matches_all_pairs_brute_force() -> None:
    topk, _ = _random_case(2, n_users=40, n_items=15, width=5)
    n_users, width = topk.shape
    overlaps = [
        len({i for i in topk[u] if i >= 0} & {i for i in topk[v] if i >= 0}) / width
        for u, v in itertools.permutations(range(n_users), 2)
    ]
    assert M.personalisation(topk, 15) == pytest.approx(1 - np.mean(overlaps), abs=1e-12)
    assert M.personalisation(np.array([[0, 1], [0, 1]]), 3) == pytest.approx(0.0, abs=1e-12)
    assert M.personalisation(np.array([[0, 1], [2, 3]]), 4) == pytest.approx(1.0, abs=1e-12)
    assert math.isnan(M.personalisation(np.array([[0, 1]]), 3))


@pytest.mark.parametrize("sparse_vectors", [False, True])
def test_serendipity_matches_brute_force(sparse_vectors: bool) -> None:
    rng = np.random.default_rng(4)
    n_users, n_items = 20, 18
    vecs = rng.random((n_items, 4)) * (rng.random((n_items, 4)) < 0.6)
    dense_train = (rng.random((n_users, n_items)) < 0.25).astype(float)
    dense_train[0] = 0.0  # a user without training items
    train = sp.csr_matrix(dense_train)
    topk, _ = _random_case(4, n_users=n_users, n_items=n_items, width=4)
    rel = rng.integers(0, 2, size=topk.shape)

    def cos(i: int, j: int) -> float:
        ni, nj = np.linalg.norm(vecs[i]), np.linalg.norm(vecs[j])
        return 0.0 if ni == 0 or nj == 0 else float(vecs[i] @ vecs[j]) / (ni * nj)

    expected = np.full(topk.shape, np.nan)
    for u in range(n_users):
        hist = train.indices[train.indptr[u] : train.indptr[u + 1]]
        for s, i in enumerate(topk[u]):
            if i >= 0 and hist.size:
                expected[u, s] = (1 - np.mean([cos(i, j) for j in hist])) * rel[u, s]
    v = sp.csr_matrix(vecs) if sparse_vectors else vecs
    got = M.user_item_serendipity(topk, train, v, rel)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    per_user = M.serendipity(topk, train, v, rel)
    np.testing.assert_allclose(per_user, _row_nanmean(expected), rtol=0, atol=1e-12)
    assert np.isnan(per_user[0])


def _row_nanmean(a: np.ndarray) -> np.ndarray:
    ok = ~np.isnan(a)
    n = ok.sum(axis=1)
    return np.where(n > 0, np.where(ok, a, 0).sum(axis=1) / np.maximum(n, 1), np.nan)


def test_registry_lists_every_metric_once_with_a_direction() -> None:
    assert set(M.RANKING_METRICS) <= set(M.METRICS)
    for name, info in M.METRICS.items():
        assert info.name == name
        assert callable(info.fn)
        assert info.description
        assert len(info.description) < 90
        assert info.higher_is_better in (True, False, None)
        assert info.kind in ("ranking", "rating", "pairs", "beyond")
    assert M.METRICS["gini_index"].higher_is_better is False
    assert M.METRICS["ndcg"].higher_is_better is True
