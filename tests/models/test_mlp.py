"""mlp: the network's split first layer, blocked scoring, both objectives, fold-in, persistence."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import recsys_core.models.mlp as mlp_module
from recsys_core.data.interactions import Interactions
from recsys_core.errors import ConfigError, DataError
from recsys_core.models.base import load_model
from recsys_core.models.mlp import MLPNet, MLPRecommender
from recsys_core.training.loop import fit
from tests.models.conftest import rank3_ratings

pytestmark = pytest.mark.usefixtures("one_thread")


def _clicks(n_users: int = 100, n_items: int = 120, per_user: int = 12, seed: int = 0) -> pd.DataFrame:
    """Implicit data: each user clicks the ``per_user`` items of highest rank-2 affinity plus Gumbel noise."""
    rng = np.random.default_rng(seed)
    u_f, i_f = rng.normal(0, 1, (n_users, 2)), rng.normal(0, 1, (n_items, 2))
    items = np.argsort(-(2 * u_f @ i_f.T + rng.gumbel(size=(n_users, n_items))), axis=1)[:, :per_user]
    return pd.DataFrame({"user": np.repeat(np.arange(n_users), per_user) + 7, "item": items.ravel() + 500})


def _falls(history: list) -> bool:
    """Strictly falling training loss, epoch after epoch."""
    losses = [h.losses["loss"] for h in history]
    return all(b < a for a, b in itertools.pairwise(losses))


def _learns(history: list) -> bool:
    """On tiny data the epoch loss is noisy (fresh negatives, few batches): ask for a clear overall fall."""
    losses = [h.losses["loss"] for h in history]
    return losses[-1] < 0.8 * losses[0] and min(losses[-3:]) < min(losses[:3])


def test_the_split_first_layer_scores_like_the_plain_forward_pass() -> None:
    net = MLPNet(5, 7, factors=4, hidden=16, layers=3, dropout=0.5)
    net.reset_parameters(torch.Generator().manual_seed(0))
    net.eval()
    assert [layer.out_features for layer in net.hidden_layers] == [16, 8, 4]
    with torch.no_grad():
        block = net.score_block(net.user_embedding.weight, net.item_part())
        users, items = torch.meshgrid(torch.arange(5), torch.arange(7), indexing="ij")
        plain = net(users.reshape(-1), items.reshape(-1)).reshape(5, 7)
    torch.testing.assert_close(block, plain, atol=1e-5, rtol=1e-5)


def test_blocked_scoring_equals_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    train = Interactions.from_frame(rank3_ratings())
    model = MLPRecommender(device="cpu", epochs=2)
    fit(model, train)
    users = np.arange(train.n_users)
    whole = model.score(users)
    monkeypatch.setattr(mlp_module, "_SCORE_BLOCK_ELEMENTS", 1)  # one user per block
    torch.testing.assert_close(model.score(users), whole, atol=1e-5, rtol=1e-5)
    assert whole.shape == (train.n_users, train.n_items) and whole.dtype == torch.float32


def test_mse_on_ratings_predicts_clipped_ratings_and_its_loss_falls() -> None:
    frame = rank3_ratings()
    test = np.random.default_rng(1).random(len(frame)) < 0.2
    train = Interactions.from_frame(frame[~test])
    model = MLPRecommender(device="cpu", epochs=15, lr=0.01, batch_size=64)
    result = fit(model, train)
    assert model.objective_ == "mse" and model.predicts_ratings
    assert _learns(result.history)
    users = train.users.to_index(frame["user"][test], missing=-1)
    items = train.items.to_index(frame["item"][test], missing=-1)
    truth = frame["rating"][test].to_numpy()
    pred = model.predict(users, items)
    assert pred.dtype == np.float32 and pred.min() >= 1.0 and pred.max() <= 5.0
    baseline = np.sqrt(np.mean((model.offset_ - truth) ** 2))
    assert np.sqrt(np.mean((pred - truth) ** 2)) < 0.8 * baseline  # 0.71 here
    all_pairs = model.predict(np.repeat(np.arange(3), train.n_items), np.tile(np.arange(train.n_items), 3))
    np.testing.assert_allclose(all_pairs, model.score(np.arange(3)).clamp(1, 5).numpy().ravel(), atol=1e-4)


def test_bce_on_clicks_ranks_held_out_items_above_unseen_ones() -> None:
    frame = _clicks()
    test = np.random.default_rng(2).random(len(frame)) < 0.2
    train = Interactions.from_frame(frame[~test])
    model = MLPRecommender(device="cpu", epochs=15, lr=0.01, batch_size=128)
    result = fit(model, train)
    assert model.objective_ == "bce" and not model.predicts_ratings
    assert _learns(result.history)
    scores = model.score(np.arange(train.n_users)).numpy()
    held = np.zeros_like(scores, dtype=bool)
    users = train.users.to_index(frame["user"][test], missing=-1)
    items = train.items.to_index(frame["item"][test], missing=-1)
    known = (users >= 0) & (items >= 0)
    held[users[known], items[known]] = True
    unseen = ~held & (model._train().toarray() == 0)
    assert scores[held].mean() > scores[unseen].mean() + 0.5  # logits
    prob = model.predict(np.array([0, 1]), np.array([0, 1]))
    np.testing.assert_allclose(prob, torch.sigmoid(torch.from_numpy(scores[[0, 1], [0, 1]])).numpy(), atol=1e-5)


def test_loss_choice_follows_the_data_and_mse_needs_ratings() -> None:
    clicks = Interactions.from_frame(rank3_ratings().drop(columns="rating"))
    with pytest.raises(ConfigError):
        MLPRecommender(device="cpu", loss="mse").prepare(clicks)
    model = MLPRecommender(device="cpu", loss="bce", epochs=1)
    model.prepare(Interactions.from_frame(rank3_ratings()))
    assert model.objective_ == "bce"
    with pytest.raises(ConfigError):
        MLPRecommender(device="cpu", loss="hinge")


def test_same_seed_same_model_even_with_dropout() -> None:
    train = Interactions.from_frame(rank3_ratings())
    scores = []
    for seed in (4, 4, 5):
        model = MLPRecommender(device="cpu", seed=seed, epochs=2, dropout=0.3, loss="bce")
        torch.manual_seed(seed + 100)  # the global RNG must not matter
        fit(model, train)
        scores.append(model.score(np.arange(train.n_users)))
    assert torch.equal(scores[0], scores[1])
    assert not torch.equal(scores[0], scores[2])


def test_fold_in_fits_the_history_and_is_deterministic() -> None:
    train = Interactions.from_frame(rank3_ratings())
    model = MLPRecommender(device="cpu", epochs=10, lr=0.01, batch_size=64)
    fit(model, train)
    items, ratings = np.array([1, 4, 9, 16]), np.array([5.0, 1.0, 5.0, 1.0])
    folded = model.fold_in(items, ratings)
    assert folded.shape == (train.n_items,) and folded.dtype == np.float32
    np.testing.assert_array_equal(folded, model.fold_in(items, ratings))
    mean_user = model.fold_in(np.array([], dtype=np.int64), np.array([]))
    # the fitted vector moves the history's scores towards its ratings, away from the mean user's
    assert np.abs(folded[items] - ratings).mean() < np.abs(mean_user[items] - ratings).mean()
    assert folded[[1, 9]].mean() > folded[[4, 16]].mean()
    with pytest.raises(ConfigError):
        model.fold_in(items)
    with pytest.raises(DataError):
        model.fold_in(np.array([train.n_items]), np.array([3.0]))


def test_bce_fold_in_of_a_training_user_agrees_with_its_scores() -> None:
    train = Interactions.from_frame(_clicks())
    model = MLPRecommender(device="cpu", epochs=15, lr=0.01, batch_size=128)
    fit(model, train)
    for user in (0, 11, 40):
        history = model._train()[user].indices
        folded = model.fold_in(history)
        assert np.corrcoef(folded, model.score(np.array([user]))[0].numpy())[0, 1] > 0.8


def test_unknown_ids_use_the_mean_embedding() -> None:
    train = Interactions.from_frame(rank3_ratings())
    model = MLPRecommender(device="cpu", epochs=1)
    fit(model, train)
    net = model.net_
    with torch.no_grad():
        expected = net.forward_vectors(
            net.user_embedding.weight.mean(0, keepdim=True), net.item_embedding.weight[[3]]
        ) + float(model.offset_)
    np.testing.assert_allclose(model.predict(np.array([-1]), np.array([3])), expected.clamp(1, 5).numpy(), atol=1e-5)
    with pytest.raises(DataError):
        model.predict(np.array([-2]), np.array([3]))


def test_save_load_round_trip_keeps_the_objective(tmp_path: Path) -> None:
    train = Interactions.from_frame(rank3_ratings().drop(columns="rating"))
    model = MLPRecommender(device="cpu", epochs=2, layers=3)
    fit(model, train)
    loaded = load_model(model.save(tmp_path / "mlp"), device="cpu")
    assert isinstance(loaded, MLPRecommender) and loaded.objective_ == "bce"
    users = np.arange(train.n_users)
    assert torch.equal(loaded.score(users), model.score(users))
    np.testing.assert_array_equal(loaded.fold_in([1, 2]), model.fold_in([1, 2]))
    assert loaded.item_vectors().shape == (train.n_items, 32)
    assert loaded.explain(0, 5, top=2) == model.explain(0, 5, top=2)


def test_restore_best_reloads_the_network_in_place() -> None:
    train = Interactions.from_frame(rank3_ratings())
    model = MLPRecommender(device="cpu", epochs=4)
    values = iter([0.5, 0.9, 0.7, 0.6])  # best after epoch 2
    kept: dict[str, torch.Tensor] = {}

    def validate(m: MLPRecommender) -> dict[str, float]:
        value = next(values)
        if value == 0.9:
            kept.update({k: v.clone() for k, v in m.state_tensors().items()})
        return {"ndcg@10": value}

    result = fit(model, train, validate=validate)
    assert result.best_epoch == 2
    for name, value in model.state_tensors().items():
        assert torch.equal(value, kept[name]), name


@pytest.mark.shared_data
def test_ml100k_rating_split_loss_falls_and_rmse_is_sane(shared_data: Path) -> None:
    folder = shared_data / "splits" / "ml-100k"
    if not (folder / "rating_train.csv").exists():
        pytest.skip("ml-100k rating split not present")
    train_frame, test_frame = pd.read_csv(folder / "rating_train.csv"), pd.read_csv(folder / "rating_test.csv")
    train = Interactions.from_frame(train_frame)
    model = MLPRecommender(device="cpu", epochs=3)
    assert _falls(fit(model, train).history)
    pred = model.predict(
        train.users.to_index(test_frame["user"], missing=-1), train.items.to_index(test_frame["item"], missing=-1)
    )
    assert np.sqrt(np.mean((pred - test_frame["rating"].to_numpy()) ** 2)) < 0.95  # 0.934 after 3 epochs


@pytest.mark.gpu
def test_cuda_training_and_bf16_scoring() -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    train = Interactions.from_frame(rank3_ratings().drop(columns="rating"))
    for precision in ("fp32", "bf16"):
        model = MLPRecommender(device="cuda", precision=precision, epochs=3, dropout=0.2)
        result = fit(model, train)
        assert all(np.isfinite(h.losses["loss"]) for h in result.history)
        scores = model.score(np.arange(train.n_users))
        assert scores.device.type == "cuda" and scores.dtype == torch.float32
        assert model.fold_in([1, 2]).shape == (train.n_items,)
        assert model.predict(np.array([0, -1]), np.array([1, 2])).shape == (2,)
