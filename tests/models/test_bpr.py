"""BPR (recsys_core.models.bpr): hand-written gradients against autograd, negative sampling, the Adam step,
fold-in as the minimiser of the one-user objective, determinism, persistence and a quality floor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_core.data.interactions import Interactions
from recsys_core.errors import ConfigError, DataError
from recsys_core.models import bpr
from recsys_core.models.base import load_model
from recsys_core.models.bpr import BPR
from recsys_core.models.registry import create


def _train(n_users: int = 40, n_items: int = 60, density: float = 0.15, seed: int = 0) -> Interactions:
    """Two taste groups (first/second half of the catalogue) so there is something to learn."""
    rng = np.random.default_rng(seed)
    group = np.arange(n_users) % 2
    liked = (np.arange(n_items)[None, :] < n_items // 2) == (group[:, None] == 0)
    p = np.where(liked, 2.0 * density, 0.2 * density)
    mask = rng.random((n_users, n_items)) < p
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    u, i = np.nonzero(mask)
    return Interactions.from_frame(pd.DataFrame({"user": u + 1, "item": i + 1}))


def _trained(train: Interactions, epochs: int = 30, **params) -> BPR:
    params = {"factors": 8, "batch_size": 128, "lr": 0.05, **params}
    model = BPR(device="cpu", **params)
    model.prepare(train)
    for e in range(epochs):
        model.train_epoch(e + 1)
    return model


def test_gradient_matches_autograd_and_first_adam_step_is_sign_descent() -> None:
    train = _train()
    reg, lr = 0.05, 0.01
    model = BPR(device="cpu", factors=5, reg=reg, lr=lr, batch_size=64)
    model.prepare(train)
    gen = torch.Generator().manual_seed(0)
    n = 64
    u = torch.randint(0, train.n_users, (n,), generator=gen)
    i = torch.randint(0, train.n_items, (n,), generator=gen)
    j = torch.randint(0, train.n_items, (n,), generator=gen)
    ok = torch.rand(n, generator=gen) > 0.1

    flat = model._flat.clone().requires_grad_(True)
    n_u, n_i, f = train.n_users, train.n_items, 5
    X = flat[: n_u * f].view(n_u, f)
    Y = flat[n_u * f : (n_u + n_i) * f].view(n_i, f)
    b = flat[(n_u + n_i) * f :]
    z = (X[u] * (Y[i] - Y[j])).sum(1) + b[i] - b[j]
    penalty = (X[u] ** 2).sum() + (Y[i] ** 2).sum() + (Y[j] ** 2).sum() + (b[i] ** 2).sum() + (b[j] ** 2).sum()
    loss = (torch.nn.functional.softplus(-z) * ok).sum() / n + 0.5 * reg * penalty / n
    loss.backward()

    before = model._flat.clone()
    loss_sum = model._step_batch(u, i, j, ok)
    torch.testing.assert_close(model._grad, flat.grad, rtol=1e-5, atol=1e-7)
    assert float(loss_sum) == pytest.approx(float((torch.nn.functional.softplus(-z.detach()) * ok).sum()), rel=1e-5)
    moved = model._flat - before
    touched = flat.grad.abs() > 1e-4  # well above Adam's eps (1e-8) relative to |g|
    torch.testing.assert_close(moved[touched], -lr * torch.sign(flat.grad[touched]), rtol=1e-3, atol=1e-6)
    assert torch.all(moved[flat.grad == 0] == 0)


@pytest.mark.parametrize("bitmap", [True, False])
def test_negatives_are_never_positives(monkeypatch: pytest.MonkeyPatch, bitmap: bool) -> None:
    if not bitmap:
        monkeypatch.setattr(bpr, "_BITMAP_MAX_CELLS", 0)  # force the searchsorted path
    train = _train(density=0.35)
    model = BPR(device="cpu", factors=4)
    model.prepare(train)
    assert (model._pos_bits is not None) == bitmap
    users = torch.randint(0, train.n_users, (20_000,), generator=torch.Generator().manual_seed(1))
    neg, ok = model._negatives(users)
    dense = train.to_csr().toarray() > 0
    hit = dense[users.numpy(), neg.numpy()]
    assert not np.any(hit & ok.numpy())  # a sample marked valid is never a positive
    np.testing.assert_array_equal(hit, ~ok.numpy())  # and every leftover positive is marked invalid
    assert ok.float().mean() > 0.999
    assert neg.min() >= 0 and neg.max() < train.n_items


def test_training_is_deterministic_and_lowers_the_loss() -> None:
    train = _train()

    def run(seed: int) -> tuple[list[float], torch.Tensor]:
        model = BPR(device="cpu", seed=seed, factors=8, batch_size=128, lr=0.05)
        model.prepare(train)
        losses = [model.train_epoch(e + 1)["loss"] for e in range(15)]
        return losses, model.score(np.arange(train.n_users))

    losses, s1 = run(7)
    assert losses[-1] < 0.6 * losses[0]
    _, s2 = run(7)
    assert torch.equal(s1, s2)
    _, s3 = run(8)
    assert not torch.equal(s1, s3)
    assert s1.dtype == torch.float32 and s1.shape == (train.n_users, train.n_items)


def test_learns_the_taste_groups() -> None:
    train = _train()
    model = _trained(train)
    scores = model.score(np.arange(train.n_users)).numpy()
    half = train.n_items // 2
    first, second = scores[:, :half].mean(1), scores[:, half:].mean(1)
    in_first_group = train.users.ids % 2 == 1  # user ids are 1-based: id 1 is row 0, group 0
    prefers_own = np.where(in_first_group, first > second, second > first)
    assert prefers_own.mean() > 0.9


def test_should_stop_is_checked_between_minibatches() -> None:
    train = _train()
    model = BPR(device="cpu", factors=4, batch_size=64)
    model.prepare(train)
    out = model.train_epoch(1, should_stop=lambda: True)
    assert int(model._opt.step_count) == 1  # the first minibatch ran, the rest did not
    assert np.isfinite(out["loss"])


def test_chunked_gradient_gives_the_same_steps_as_the_whole_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    train = _train()
    factors = []
    for cells in (1 << 30, 8 * 40):  # the whole batch in one chunk; chunks of 40 samples at 8 factors
        monkeypatch.setattr("recsys_core.models.bpr._CPU_CHUNK_CELLS", cells)
        model = BPR(device="cpu", factors=8, batch_size=256, seed=3)
        model.prepare(train)
        losses = [model.train_epoch(epoch)["loss"] for epoch in range(3)]
        factors.append((model.user_factors_.clone(), model.item_factors_.clone(), losses))
    np.testing.assert_allclose(factors[0][0], factors[1][0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(factors[0][1], factors[1][1], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(factors[0][2], factors[1][2], rtol=1e-5)


def test_fused_adam_matches_the_plain_adam_arithmetic() -> None:
    train = _train()
    models = []
    for fused in (True, False):
        model = BPR(device="cpu", factors=8, batch_size=64, seed=3)
        model.prepare(train)
        model._opt.fused = fused
        for epoch in range(3):
            model.train_epoch(epoch)
        models.append(model)
    assert models[0]._opt.fused is True and models[1]._opt.fused is False
    np.testing.assert_allclose(models[0].item_factors_, models[1].item_factors_, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(models[0].user_factors_, models[1].user_factors_, rtol=1e-4, atol=1e-5)


def _fold_in_objective(model: BPR, x: torch.Tensor, pos: np.ndarray) -> torch.Tensor:
    Y, b = model.item_factors_.double(), model.item_bias_.double()
    s = Y @ x + b
    neg = np.setdiff1d(np.arange(Y.shape[0]), pos)
    z = s[pos][:, None] - s[neg][None, :]
    return torch.nn.functional.softplus(-z).mean() + 0.5 * model.params["reg"] * (x @ x)


def test_fold_in_minimises_the_one_user_objective() -> None:
    train = _train()
    model = _trained(train, reg=0.05)
    hist = train.to_csr()[3].indices
    scores = model.fold_in(hist)
    Y, b = model.item_factors_.double().numpy(), model.item_bias_.double().numpy()
    x = torch.from_numpy(np.linalg.lstsq(Y, scores - b, rcond=None)[0]).requires_grad_(True)
    _fold_in_objective(model, x, hist).backward()
    assert float(x.grad.norm()) < 1e-4
    # and the scores of that user agree with the trained ones on what matters: the ranking
    trained = model.score(np.array([3]))[0].numpy()
    assert np.corrcoef(scores, trained)[0, 1] > 0.8


def test_fold_in_edge_cases_subsampling_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    train = _train()
    model = _trained(train, epochs=3)
    np.testing.assert_array_equal(model.fold_in([]), model.item_bias_.numpy())
    # a dislike (rating <= 0) is not a positive
    np.testing.assert_allclose(model.fold_in([1, 2, 5], [1.0, 1.0, -1.0]), model.fold_in([1, 2]))
    monkeypatch.setattr(bpr, "_FOLD_IN_PAIRS", 50)  # few negatives: seeded subsample, still deterministic
    a, b = model.fold_in([1, 2, 3]), model.fold_in([1, 2, 3])
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == (train.n_items,)
    with pytest.raises(DataError) as err:
        model.fold_in([-1])
    assert err.value.code == "bad_history"


def test_config_errors() -> None:
    with pytest.raises(ConfigError):
        create("bpr", batch_size=10)
    with pytest.raises(ConfigError):
        create("bpr", lr=0)
    with pytest.raises(ConfigError):
        create("bpr", device="cpu").score(np.array([0]))


def test_save_load_round_trip(tmp_path: Path) -> None:
    train = _train()
    model = _trained(train, epochs=3)
    state = model.state_tensors()
    assert state["user_factors"].data_ptr() != model.user_factors_.data_ptr()  # copies, not views
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m", device="cpu")
    users = np.arange(train.n_users)
    assert torch.equal(loaded.score(users), model.score(users))
    np.testing.assert_array_equal(loaded.fold_in([0, 4]), model.fold_in([0, 4]))
    assert loaded.item_vectors().shape == (train.n_items, 8)
    items, _ = loaded.similar_items(2, k=4)
    assert 2 not in items
    idx, _ = loaded.recommend(np.array([0, 1]), k=5)
    seen = train.to_csr()[[0, 1]].toarray() > 0
    assert not np.any(np.take_along_axis(seen, idx, axis=1))


@pytest.mark.shared_data
@pytest.mark.usefixtures("one_thread")
def test_ml100k_defaults_beat_implicit_bpr(shared_data: Path) -> None:
    split = shared_data / "splits" / "ml-100k"
    if not (split / "topn_train.csv").exists():
        pytest.skip("../shared/data/splits/ml-100k is not present")
    from recsys_core.evaluation.protocol import EvalProtocol, evaluate

    train = Interactions.from_frame(pd.read_csv(split / "topn_train.csv").drop(columns="rating"))
    test_frame = pd.read_csv(split / "topn_test.csv").drop(columns="rating")
    test = Interactions.from_frame(test_frame, users=train.users, items=train.items, unknown="drop")
    model = create("bpr", device="cpu")
    model.prepare(train)
    for e in range(model.n_epochs):
        model.train_epoch(e + 1)
    ndcg = evaluate(model, train, test, EvalProtocol(ks=(10,), beyond=())).metrics["ndcg@10"]
    assert ndcg >= 0.36  # implicit BPR, same epochs: 0.2797; LightFM WARP: 0.3624; ours about 0.40


@pytest.mark.gpu
def test_cuda_training_fold_in_and_bf16_scores() -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    train = _train()
    for precision in ("fp32", "bf16"):
        model = BPR(device="cuda", precision=precision, factors=8, batch_size=128, lr=0.05)
        model.prepare(train)
        losses = [model.train_epoch(e + 1)["loss"] for e in range(10)]
        assert all(np.isfinite(losses)) and losses[-1] < losses[0]
        scores = model.score(np.arange(train.n_users))
        assert scores.device.type == "cuda" and scores.dtype == torch.float32
        assert model.fold_in([1, 2, 3]).shape == (train.n_items,)
        neg, ok = model._negatives(torch.zeros(1000, dtype=torch.int64, device="cuda"))
        assert not np.any((train.to_csr()[0].toarray()[0] > 0)[neg.cpu().numpy()] & ok.cpu().numpy())
