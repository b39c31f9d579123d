"""biased_mf: the SGD step against a float64 hand computation, exact fold-in, fallbacks, persistence."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_core.data.interactions import Interactions
from recsys_core.errors import ConfigError, DataError
from recsys_core.models.base import load_model
from recsys_core.models.mf import BiasedMF
from recsys_core.training.loop import fit
from tests.models.conftest import rank3_ratings

pytestmark = pytest.mark.usefixtures("one_thread")


def _split(frame: pd.DataFrame, seed: int = 1) -> tuple[Interactions, pd.DataFrame]:
    test = np.random.default_rng(seed).random(len(frame)) < 0.2
    return Interactions.from_frame(frame[~test]), frame[test]


def _trained(**params: object) -> tuple[BiasedMF, Interactions]:
    train = Interactions.from_frame(rank3_ratings())
    model = BiasedMF(device="cpu", seed=3, **{"epochs": 30, **params})
    fit(model, train)
    return model, train


def test_one_batch_equals_the_summed_sgd_step_in_float64() -> None:
    train = Interactions.from_frame(rank3_ratings(20, 15))
    lr, reg = 0.01, 0.05
    model = BiasedMF(device="cpu", factors=4, lr=lr, reg=reg, batch_size=100_000, epochs=1)
    model.prepare(train)
    assert model.effective_batch_size_ >= train.n_interactions  # one batch: the step is order-free
    p0 = model.user_factors_.double().numpy().copy()
    q0 = model.item_factors_.double().numpy().copy()
    losses = model.train_epoch(1)

    u, i = train.user_idx, train.item_idx
    r = train.rating.astype(np.float64) - model.global_mean_
    err = r - (p0[u] * q0[i]).sum(1)
    p1, q1 = p0.copy(), q0.copy()
    np.add.at(p1, u, lr * (err[:, None] * q0[i] - reg * p0[u]))
    np.add.at(q1, i, lr * (err[:, None] * p0[u] - reg * q0[i]))
    p1[:, 4 + 1], q1[:, 4] = 1.0, 1.0  # the constant columns (after the 4 factors and a bias) stay 1
    np.testing.assert_allclose(model.user_factors_.numpy(), p1, atol=1e-5)
    np.testing.assert_allclose(model.item_factors_.numpy(), q1, atol=1e-5)
    assert losses["loss"] == pytest.approx(np.mean(err**2), rel=1e-5)
    assert model.global_mean_ == pytest.approx(float(train.rating.astype(np.float64).mean()))


def test_factor_tables_are_padded_to_whole_cache_lines_with_zeros_that_stay_zero(tmp_path: Path) -> None:
    model, _ = _trained(factors=5)
    p, q = model.user_factors_, model.item_factors_
    assert p.shape[1] == q.shape[1] == 16  # 5 factors + 2 bias columns, rounded up to 16
    assert torch.count_nonzero(p[:, 7:]) == 0 and torch.count_nonzero(q[:, 7:]) == 0
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.user_factors_.shape == p.shape  # the saved state has no padding; loading restores it
    np.testing.assert_allclose(loaded.user_factors_.numpy(), p.numpy())


def test_learns_the_ratings_and_the_training_loss_falls() -> None:
    train, test = _split(rank3_ratings())
    model = BiasedMF(device="cpu", epochs=40, factors=8, lr=0.02, reg=0.05, batch_size=128)
    history = fit(model, train).history
    losses = [h.losses["loss"] for h in history]
    assert all(b < a for a, b in itertools.pairwise(losses))
    users = train.users.to_index(test["user"], missing=-1)
    items = train.items.to_index(test["item"], missing=-1)
    truth = test["rating"].to_numpy()
    rmse = np.sqrt(np.mean((model.predict(users, items) - truth) ** 2))
    baseline = np.sqrt(np.mean((model.global_mean_ - truth) ** 2))
    assert rmse < 0.8 * baseline


def test_score_is_the_biased_dot_product_and_predict_clips_it() -> None:
    model, train = _trained()
    st = {k: v.double().numpy() for k, v in model.state_tensors().items()}
    expected = (
        st["global_mean"][0]
        + st["user_bias"][:, None]
        + st["item_bias"][None, :]
        + st["user_factors"] @ st["item_factors"].T
    )
    users = np.arange(train.n_users)
    np.testing.assert_allclose(model.score(users).numpy(), expected, atol=1e-4)
    uu, ii = np.meshgrid(users, np.arange(train.n_items), indexing="ij")
    pred = model.predict(uu.ravel(), ii.ravel())
    assert pred.dtype == np.float32
    np.testing.assert_allclose(pred, np.clip(expected.ravel(), 1.0, 5.0), atol=1e-4)
    assert model.rating_range_ == (1.0, 5.0)


def test_unknown_users_and_items_fall_back_to_the_known_biases() -> None:
    model, _ = _trained()
    st = {k: v.double().numpy() for k, v in model.state_tensors().items()}
    mu = st["global_mean"][0]
    pred = model.predict(np.array([2, -1, -1]), np.array([-1, 5, -1]))
    np.testing.assert_allclose(pred, [mu + st["user_bias"][2], mu + st["item_bias"][5], mu], atol=1e-5)
    with pytest.raises(DataError) as err:
        model.predict(np.array([0, model.n_users_]), np.array([0, 0]))
    assert err.value.code == "bad_pairs" and err.value.rows == [2]
    with pytest.raises(DataError):
        model.predict(np.array([0, 1]), np.array([0]))


def test_fold_in_solves_the_regularised_least_squares_exactly() -> None:
    model, _ = _trained(reg=0.05)
    st = {k: v.double().numpy() for k, v in model.state_tensors().items()}
    q, b_i, mu = st["item_factors"], st["item_bias"], st["global_mean"][0]
    items = np.array([3, 7, 7, 20, 31])  # a repeat counts twice
    ratings = np.array([5.0, 1.0, 2.0, 4.0, 3.0])
    z = np.hstack([q[items], np.ones((items.size, 1))])
    y = ratings - mu - b_i[items]
    x = np.linalg.solve(z.T @ z + 0.05 * items.size * np.eye(z.shape[1]), z.T @ y)
    expected = mu + b_i + q @ x[:-1] + x[-1]
    got = model.fold_in(items, ratings)
    assert got.dtype == np.float32 and got.shape == (model.n_items_,)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    np.testing.assert_allclose(model.fold_in(np.array([], dtype=np.int64), np.array([])), mu + b_i, atol=1e-5)


def test_fold_in_of_a_training_user_matches_its_trained_scores() -> None:
    model, _ = _trained(epochs=200, lr=0.01)
    train = model._train()
    for user in (0, 17, 42):
        row = train[user]
        folded = model.fold_in(row.indices, row.data)
        scores = model.score(np.array([user]))[0].numpy()
        assert np.corrcoef(folded, scores)[0, 1] > 0.99
        assert np.abs(folded - scores).max() < 0.15


def test_fold_in_needs_ratings_and_valid_items() -> None:
    model, _ = _trained(epochs=1)
    with pytest.raises(ConfigError):
        model.fold_in(np.array([1, 2]))
    with pytest.raises(DataError) as err:
        model.fold_in(np.array([1, model.n_items_]), np.array([3.0, 4.0]))
    assert err.value.code == "bad_history"
    with pytest.raises(DataError):
        model.fold_in(np.array([1, 2]), np.array([3.0]))
    with pytest.raises(DataError):
        model.fold_in(np.array([1, 2]), np.array([3.0, np.nan]))


def test_same_seed_same_model_and_another_seed_differs() -> None:
    train = Interactions.from_frame(rank3_ratings())
    scores = []
    for seed in (5, 5, 6):
        model = BiasedMF(device="cpu", seed=seed, epochs=3)
        fit(model, train)
        scores.append(model.score(np.arange(train.n_users)))
    assert torch.equal(scores[0], scores[1])
    assert not torch.equal(scores[0], scores[2])


def test_save_and_load_give_the_same_predictions(tmp_path: Path) -> None:
    model, train = _trained(epochs=3)
    loaded = load_model(model.save(tmp_path / "mf"), device="cpu")
    assert isinstance(loaded, BiasedMF)
    users = np.arange(train.n_users)
    assert torch.equal(loaded.score(users), model.score(users))
    pairs = (np.array([0, 3, -1]), np.array([1, -1, 2]))
    np.testing.assert_array_equal(loaded.predict(*pairs), model.predict(*pairs))
    np.testing.assert_array_equal(loaded.fold_in([1, 2], [4, 5]), model.fold_in([1, 2], [4, 5]))
    assert loaded.similar_items(0, k=3)[0].tolist() == model.similar_items(0, k=3)[0].tolist()
    assert loaded.explain(0, 5, top=3) == model.explain(0, 5, top=3)


def test_should_stop_ends_the_epoch_between_batches() -> None:
    train = Interactions.from_frame(rank3_ratings())
    model = BiasedMF(device="cpu", batch_size=50)
    model.prepare(train)
    before = model.user_factors_.clone()
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) >= 2

    losses = model.train_epoch(1, stop)
    assert len(calls) == 2 and np.isfinite(losses["loss"])  # two batches done, then stopped
    assert not torch.equal(before, model.user_factors_)


def test_large_batches_are_capped_so_training_stays_stable() -> None:
    # one item takes every other rating: 10k summed steps of lr 0.1 on its bias would overshoot
    n = 20_000
    frame = pd.DataFrame(
        {
            "user": np.arange(n) % 500,
            "item": np.where(np.arange(n) % 2 == 0, 0, 1 + np.arange(n) % 300),
            "rating": np.random.default_rng(0).integers(1, 6, n).astype(np.float32),
        }
    )
    model = BiasedMF(device="cpu", lr=0.1, batch_size=1_000_000, epochs=5)
    history = fit(model, Interactions.from_frame(frame)).history
    assert model.effective_batch_size_ <= 20  # 1 / (0.1 · 0.5)
    assert all(np.isfinite(h.losses["loss"]) and h.losses["loss"] < 5 for h in history)


def test_implicit_data_is_refused() -> None:
    train = Interactions.from_frame(rank3_ratings().drop(columns="rating"))
    with pytest.raises(ConfigError):
        BiasedMF(device="cpu").prepare(train)


@pytest.mark.shared_data
def test_ml100k_rating_split_meets_the_default_target(shared_data: Path) -> None:
    folder = shared_data / "splits" / "ml-100k"
    if not (folder / "rating_train.csv").exists():
        pytest.skip("ml-100k rating split not present")
    train_frame, test_frame = pd.read_csv(folder / "rating_train.csv"), pd.read_csv(folder / "rating_test.csv")
    train = Interactions.from_frame(train_frame)
    model = BiasedMF(device="cpu")
    fit(model, train)
    users = train.users.to_index(test_frame["user"], missing=-1)
    items = train.items.to_index(test_frame["item"], missing=-1)
    pred = model.predict(users, items)
    rmse = float(np.sqrt(np.mean((pred - test_frame["rating"].to_numpy()) ** 2)))
    assert rmse <= 0.925  # defaults: 0.916 (seed 42); Surprise SVD 0.9389


@pytest.mark.gpu
def test_cuda_training_matches_the_cpu_closely() -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    train, test = _split(rank3_ratings())
    users = train.users.to_index(test["user"], missing=-1)
    items = train.items.to_index(test["item"], missing=-1)
    truth = test["rating"].to_numpy()
    rmse = {}
    for device in ("cpu", "cuda"):
        model = BiasedMF(device=device, epochs=20, factors=8, batch_size=128)
        fit(model, train)
        rmse[device] = np.sqrt(np.mean((model.predict(users, items) - truth) ** 2))
        assert model.score(np.arange(3)).device.type == device
        assert model.fold_in([1, 2], [4, 5]).shape == (train.n_items,)
    # the shuffles differ between devices (device generators), so compare quality, not values
    assert abs(rmse["cpu"] - rmse["cuda"]) < 0.05
