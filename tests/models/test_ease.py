"""EASE against the float64 numpy closed form, its loss identity, fold-in, explain, the memory guard,
persistence and the ML-100K reference table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_core.data.interactions import Interactions
from recsys_core.errors import ConfigError, DataError
from recsys_core.evaluation.protocol import evaluate
from recsys_core.models import linear
from recsys_core.models.base import load_model
from recsys_core.models.linear import EASE, _spd_inverse, _spd_inverse_torch
from recsys_core.training.loop import fit


def _random_train(n_users: int = 60, n_items: int = 30, seed: int = 0) -> Interactions:
    rng = np.random.default_rng(seed)
    users, items = np.nonzero(rng.random((n_users, n_items)) < 0.25)
    ratings = rng.integers(1, 6, users.size).astype(np.float32)
    return Interactions.from_frame(pd.DataFrame({"user": users, "item": items, "rating": ratings}))


def _closed_form(x: np.ndarray, l2: float) -> np.ndarray:
    g = x.T @ x + l2 * np.eye(x.shape[1])
    p = np.linalg.inv(g)
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b


@pytest.mark.parametrize("l2", [0.5, 20.0, 500.0])
def test_weights_match_the_float64_closed_form(l2: float) -> None:
    train = _random_train()
    model = EASE(device="cpu", l2=l2)
    result = fit(model, train)
    x = (train.to_csr("ones").toarray() > 0).astype(np.float64)  # ratings are not used as weights
    expected = _closed_form(x, l2)
    b = model.state_tensors()["B"].numpy()
    assert b.dtype == np.float32
    np.testing.assert_allclose(b, expected, atol=2e-5 * max(1.0, np.abs(expected).max()))
    assert np.all(np.diag(b) == 0.0)
    np.testing.assert_allclose(model.score(np.arange(train.n_users)).numpy(), x @ expected, atol=1e-4)
    # the O(n²) loss identity equals the reconstruction error computed the long way
    direct = ((x - x @ expected) ** 2).sum() / x.sum()
    assert result.history[0].losses["loss"] == pytest.approx(direct, rel=1e-3)


def test_fold_in_explain_and_similar_items_are_exact() -> None:
    train = _random_train(seed=1)
    model = EASE(device="cpu", l2=10.0)
    fit(model, train)
    b = model.state_tensors()["B"].numpy()
    user = 4
    history = train.to_csr("ones")[user].indices
    scores = model.score(np.array([user]))[0].numpy()
    np.testing.assert_allclose(model.fold_in(history, np.full(history.size, 3.0)), scores, rtol=1e-5, atol=1e-6)
    assert np.all(model.fold_in(np.array([], dtype=np.int64)) == 0)
    target = int(np.argmax(np.where(np.isin(np.arange(train.n_items), history), -np.inf, scores)))
    terms = model.explain(user, target, top=len(history))
    assert {t.item for t in terms} == set(history.tolist())
    assert sum(t.weight for t in terms) == pytest.approx(float(scores[target]), rel=1e-4, abs=1e-6)
    assert [t.weight for t in terms] == sorted((t.weight for t in terms), reverse=True)
    for t in terms:
        assert t.weight == pytest.approx(float(b[t.item, target]), rel=1e-6)
    idx, vals = model.similar_items(0, k=5)
    assert 0 not in idx
    np.testing.assert_allclose(vals, np.sort(b[0, 1:])[::-1][:5], rtol=1e-6)
    with pytest.raises(DataError):
        model.fold_in(np.array([-1]))
    with pytest.raises(DataError, match="Item index"):
        model.explain(0, train.n_items)
    with pytest.raises(DataError, match="User index"):
        model.explain(train.n_users, 0)


def test_deterministic_and_round_trips(tmp_path: Path) -> None:
    train = _random_train(seed=2)
    users = np.arange(train.n_users)
    a, b = EASE(device="cpu"), EASE(device="cpu")
    fit(a, train)
    fit(b, train)
    assert torch.equal(a.score(users), b.score(users))
    a.save(tmp_path / "ease")
    loaded = load_model(tmp_path / "ease", device="cpu")
    assert isinstance(loaded, EASE)
    assert torch.equal(loaded.score(users), a.score(users))
    assert loaded.explain(1, 2) == a.explain(1, 2)


def test_refuses_a_catalogue_whose_matrices_do_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(linear, "available_memory", lambda device: 10 * 2**20)  # 10 MiB free
    ids = np.arange(2000)  # 2 × 2000² × 4 bytes ≈ 31 MiB needed
    train = Interactions.from_frame(pd.DataFrame({"user": ids % 7, "item": ids}))
    with pytest.raises(ConfigError, match=r"2,000 items needs about 31 MiB"):
        fit(EASE(device="cpu"), train)
    assert linear.ease_memory_bytes(30_000) == 2 * 30_000**2 * 4


def test_indefinite_matrices_are_reported() -> None:
    bad = torch.tensor([[1.0, 2.0], [2.0, 1.0]])
    assert _spd_inverse(bad.clone()) is None
    assert _spd_inverse_torch(bad.clone()) is None
    good = torch.tensor([[4.0, 1.0, 0.5], [1.0, 3.0, 0.0], [0.5, 0.0, 2.0]])
    np.testing.assert_allclose(_spd_inverse(good.clone()).numpy(), np.linalg.inv(good.numpy()), rtol=1e-5)


def test_untrained_model_says_so() -> None:
    with pytest.raises(ConfigError, match="not trained"):
        EASE(device="cpu").score(np.array([0]))


@pytest.mark.shared_data
def test_reproduces_the_ml100k_reference_table(shared_data: Path) -> None:
    split = shared_data / "splits" / "ml-100k"
    test_frame = pd.read_csv(split / "topn_test.csv")
    train = Interactions.from_frame(pd.read_csv(split / "topn_train.csv"))
    test = Interactions.from_frame(test_frame, users=train.users, items=train.items, unknown="drop")
    model = EASE(device="cpu", l2=500.0)
    fit(model, train)
    result = evaluate(model, train, test, keep_topk=True)
    m = result.metrics
    assert m["ndcg@10"] == pytest.approx(0.4381, abs=1e-4)
    assert m["precision@10"] == pytest.approx(0.3670, abs=1e-4)
    assert m["map@10"] == pytest.approx(0.2985, abs=1e-4)
    assert m["hit_rate@10"] == pytest.approx(0.9364, abs=1e-4)
    # the reference divides recall by all of a user's test items (also those unknown to training) and
    # coverage by the whole catalogue of the data set (train ∪ test items)
    hits = result.per_user["precision@10"].to_numpy() * 10
    n_test = test_frame.groupby("user").size().reindex(train.users.to_ids(result.per_user["user_index"])).to_numpy()
    assert float(np.mean(hits / n_test)) == pytest.approx(0.2362, abs=1e-4)
    catalogue = len(np.union1d(train.items.ids, test_frame["item"].unique()))
    recommended = np.unique(result.topk[result.topk >= 0]).size
    assert recommended / catalogue == pytest.approx(0.1849, abs=1e-4)
