"""Item-KNN against a brute-force float64 numpy implementation, plus fold-in, explain, persistence and the
ML-100K quality floors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from recsys_core.data.interactions import Interactions
from recsys_core.errors import ConfigError, DataError
from recsys_core.evaluation.protocol import evaluate
from recsys_core.models.base import load_model
from recsys_core.models.neighbors import ItemKNN, bm25_weights, item_gram_blocks, top_k_sets
from recsys_core.ranking import top_k
from recsys_core.training.loop import fit


def _random_train(n_users: int = 40, n_items: int = 25, density: float = 0.2, seed: int = 0) -> Interactions:
    rng = np.random.default_rng(seed)
    dense = rng.random((n_users, n_items)) < density
    dense[:, -1] = False  # an item nobody interacted with (norm 0)
    users, items = np.nonzero(dense)
    frame = pd.DataFrame({"user": users, "item": items, "rating": rng.integers(1, 6, users.size).astype(np.float32)})
    # keep the empty item in the id space: encode against a catalogue of all item ids
    full = Interactions.from_frame(pd.DataFrame({"user": [0] * n_items, "item": np.arange(n_items)}))
    return Interactions.from_frame(frame, items=full.items)


def _brute_force_similarity(x: np.ndarray, weighting: str, k: int, shrinkage: float, k1: float, b: float) -> np.ndarray:
    """Dense float64 S (rows = items, k largest other items kept, ties → lower index)."""
    n_items = x.shape[1]
    if weighting == "bm25":
        item_len = x.sum(axis=0)
        idf = np.log(n_items) - np.log1p(x.sum(axis=1))
        length_norm = (1 - b) + b * item_len / item_len.mean()
        w = x * (k1 + 1.0) / (k1 * length_norm[None, :] + 1.0) * idf[:, None]
    else:
        w = x
    dots = w.T @ w
    if weighting == "cosine":
        norms = np.sqrt((w * w).sum(axis=0))
        denom = np.outer(norms, norms) + shrinkage
        sims = np.divide(dots, denom, out=np.zeros_like(dots), where=denom > 0)
    else:
        sims = dots / (1.0 + shrinkage)
    out = np.zeros_like(sims)
    for i in range(n_items):
        row = sims[i].copy()
        row[i] = -np.inf
        order = np.lexsort((np.arange(n_items), -row))[:k]
        out[i, order] = np.maximum(row[order], 0.0)
    return out


@pytest.mark.parametrize(
    ("weighting", "k", "shrinkage"),
    [("cosine", 5, 0.0), ("cosine", 3, 4.0), ("bm25", 6, 0.0), ("none", 4, 2.0), ("cosine", 100, 1.0)],
)
def test_similarity_and_scores_match_brute_force(weighting: str, k: int, shrinkage: float) -> None:
    train = _random_train()
    model = ItemKNN(device="cpu", k=k, shrinkage=shrinkage, weighting=weighting, bm25_k1=1.5, bm25_b=0.6)
    fit(model, train)
    x = (train.to_csr("ones").toarray() > 0).astype(np.float64)
    expected = _brute_force_similarity(x, weighting, min(k, x.shape[1] - 1), shrinkage, 1.5, 0.6)
    np.testing.assert_allclose(model.similarity_matrix().toarray(), expected, rtol=1e-5, atol=1e-6)
    users = np.arange(train.n_users)
    np.testing.assert_allclose(model.score(users).numpy(), x @ expected, rtol=1e-5, atol=1e-5)


def test_ratings_do_not_change_the_model() -> None:
    train = _random_train()
    implicit = Interactions(train.user_idx, train.item_idx, None, None, train.users, train.items)
    a, b = ItemKNN(device="cpu"), ItemKNN(device="cpu")
    fit(a, train)
    fit(b, implicit)
    assert torch.equal(a.score(np.arange(train.n_users)), b.score(np.arange(train.n_users)))


def test_ties_between_neighbours_go_to_the_lower_index() -> None:
    # item 0 co-occurs once with each of items 1..4, all with the same norms: every similarity ties
    frame = pd.DataFrame({"user": [0, 0, 1, 1, 2, 2, 3, 3], "item": [0, 1, 0, 2, 0, 3, 0, 4]})
    model = ItemKNN(device="cpu", k=2, shrinkage=0.0)
    fit(model, Interactions.from_frame(frame))
    assert model.similarity_matrix()[0].indices.tolist() == [1, 2]


def test_top_k_sets_are_those_of_ranking_top_k() -> None:
    rng = np.random.default_rng(3)
    values = torch.from_numpy(rng.integers(-3, 4, (50, 40)).astype(np.float32) / 2)  # many ties, negatives
    values[0, :] = 0.0
    values[1, ::2] = -0.0
    values[2, 5] = -torch.inf
    values[3] = torch.from_numpy(rng.permutation(40).astype(np.float32))  # no ties
    for k in (1, 7, 39, 40):
        idx, vals = top_k_sets(values, k)
        ref_idx, _ = top_k(values, k)
        assert torch.equal(idx, torch.sort(ref_idx, dim=1).values)
        assert torch.equal(vals, torch.gather(values, 1, idx))


def test_gram_blocks_cover_the_matrix() -> None:
    x = sp.random(30, 17, density=0.3, format="csr", random_state=1, dtype=np.float32)
    blocks = list(item_gram_blocks(x, "cpu", block_cells=60))
    assert len(blocks) > 1
    gram = torch.cat([block for _, _, block in blocks]).numpy()
    np.testing.assert_allclose(gram, (x.T @ x).toarray(), rtol=1e-6)


def test_bm25_weights_follow_the_formula() -> None:
    x = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1]], dtype=np.float32))
    w = bm25_weights(x, k1=1.2, b=0.75).toarray()
    item_len = np.array([3.0, 2.0, 1.0])
    idf = np.log(3) - np.log1p(np.array([2.0, 1.0, 3.0]))
    norm = 0.25 + 0.75 * item_len / 2.0
    expected = x.toarray() * 2.2 / (1.2 * norm[None, :] + 1.0) * idf[:, None]
    np.testing.assert_allclose(w, expected, rtol=1e-6)


def test_fold_in_explain_and_similar_items_are_exact() -> None:
    train = _random_train()
    model = ItemKNN(device="cpu", k=6, shrinkage=1.0)
    fit(model, train)
    s = model.similarity_matrix().toarray()
    user = 3
    history = train.to_csr("ones")[user].indices
    scores = model.score(np.array([user]))[0].numpy()
    np.testing.assert_allclose(model.fold_in(history, np.ones(history.size)), scores, rtol=1e-6)
    np.testing.assert_allclose(model.fold_in(np.concatenate([history, history])), scores, rtol=1e-6)
    target = int(np.argmax(np.where(np.isin(np.arange(train.n_items), history), -1, scores)))
    terms = model.explain(user, target, top=100)
    assert sum(t.weight for t in terms) == pytest.approx(float(scores[target]), rel=1e-5)
    for t in terms:
        assert t.item in history
        assert t.weight == pytest.approx(float(s[t.item, target]), rel=1e-6)
    assert [t.weight for t in terms] == sorted((t.weight for t in terms), reverse=True)
    assert len(model.explain(user, target, top=1)) == 1
    idx, vals = model.similar_items(2, k=3)
    assert 2 not in idx
    np.testing.assert_allclose(vals, np.sort(np.delete(s[2], 2))[::-1][:3], rtol=1e-6)
    with pytest.raises(DataError):
        model.fold_in(np.array([train.n_items]))
    with pytest.raises(DataError, match="Item index"):
        model.explain(0, train.n_items)
    with pytest.raises(DataError, match="User index"):
        model.explain(train.n_users, 0)
    with pytest.raises(DataError):
        model.fold_in(history, np.ones(history.size + 1))


def test_deterministic_and_round_trips(tmp_path: Path) -> None:
    train = _random_train(seed=5)
    users = np.arange(train.n_users)
    a, b = ItemKNN(device="cpu", weighting="bm25"), ItemKNN(device="cpu", weighting="bm25")
    fit(a, train)
    fit(b, train)
    assert torch.equal(a.score(users), b.score(users))
    a.save(tmp_path / "knn")
    loaded = load_model(tmp_path / "knn", device="cpu")
    assert isinstance(loaded, ItemKNN)
    assert loaded.params == a.params
    assert torch.equal(loaded.score(users), a.score(users))
    assert loaded.explain(0, 1) == a.explain(0, 1)


def test_untrained_model_says_so() -> None:
    with pytest.raises(ConfigError, match="not trained"):
        ItemKNN(device="cpu").fold_in(np.array([0]))


@pytest.mark.shared_data
def test_ml100k_quality_floors(shared_data: Path) -> None:
    split = shared_data / "splits" / "ml-100k"
    train = Interactions.from_frame(pd.read_csv(split / "topn_train.csv"))
    test = Interactions.from_frame(
        pd.read_csv(split / "topn_test.csv"), users=train.users, items=train.items, unknown="drop"
    )

    def ndcg(**params: object) -> float:
        model = ItemKNN(device="cpu", **params)
        fit(model, train)
        return evaluate(model, train, test).metrics["ndcg@10"]

    assert ndcg() >= 0.356  # defaults
    assert ndcg(k=19, shrinkage=0.0) == pytest.approx(0.3565, abs=2e-4)  # implicit's CosineRecommender(K=20)
    assert ndcg(k=400, weighting="bm25", bm25_k1=1.2, bm25_b=0.5) >= 0.38  # tuned
