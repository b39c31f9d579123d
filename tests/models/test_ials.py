"""iALS (recsys_core.models.als): the batched solvers against brute-force float64 solves, the loss against
its dense definition, fold-in, determinism, persistence and a quality floor on ml-100k."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from recsys_core.data.interactions import Interactions
from recsys_core.errors import ConfigError, DataError
from recsys_core.models import als
from recsys_core.models.als import IALS, _Side, solve_cg, solve_cholesky, weighted_loss
from recsys_core.models.base import load_model
from recsys_core.models.registry import create


def _frame(n_users: int = 30, n_items: int = 40, density: float = 0.15, seed: int = 0, ratings: bool = True):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True  # every user has an item
    u, i = np.nonzero(mask)
    frame = pd.DataFrame({"user": u + 1, "item": i + 1})
    if ratings:
        frame["rating"] = rng.integers(1, 6, u.size).astype(np.float32)
    return frame


def _train(**kw) -> Interactions:
    return Interactions.from_frame(_frame(**kw))


def _brute_solve(R: np.ndarray, Y: np.ndarray, reg: float, alpha: float) -> np.ndarray:
    """Per-row float64 normal equations of the iALS objective (the reference)."""
    n, f = R.shape[0], Y.shape[1]
    out = np.zeros((n, f))
    for u in range(n):
        r = R[u]
        c = 1.0 + alpha * np.abs(r)
        p = (r > 0).astype(float)
        if not np.any(r != 0):
            continue
        A = (Y.T * c) @ Y + reg * np.eye(f)
        b = Y.T @ (c * p)
        out[u] = np.linalg.solve(A, b)
    return out


def _dense_loss(R: np.ndarray, X: np.ndarray, Y: np.ndarray, reg: float, alpha: float) -> float:
    c = 1.0 + alpha * np.abs(R)
    p = (R > 0).astype(float)
    total = (c * (p - X @ Y.T) ** 2).sum() + reg * ((X**2).sum() + (Y**2).sum())
    return total / c.sum()


@pytest.mark.parametrize("alpha", [1.0, 7.5])
def test_cholesky_step_matches_brute_force(alpha: float) -> None:
    rng = np.random.default_rng(1)
    R = sp.random(25, 35, density=0.2, random_state=2, format="csr", dtype=np.float32)
    R.data = rng.integers(1, 6, R.nnz).astype(np.float32)
    R.data[:3] = -2.0  # dislikes: p = 0 with confidence 1 + alpha·2
    Y = rng.normal(size=(35, 6)).astype(np.float32)
    side = _Side.build(R, alpha, "cpu")
    got = solve_cholesky(side, torch.from_numpy(Y), reg=0.3).numpy()
    want = _brute_solve(R.toarray(), Y.astype(np.float64), 0.3, alpha)
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)


def test_cholesky_chunking_gives_the_same_systems(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    R = sp.random(40, 30, density=0.25, random_state=4, format="csr", dtype=np.float32)
    Y = torch.from_numpy(rng.normal(size=(30, 8)).astype(np.float32))
    side = _Side.build(R, 2.0, "cpu")
    whole = solve_cholesky(side, Y, reg=0.5)
    monkeypatch.setattr(als, "_CHOLESKY_CHUNK_BYTES", 4 * 30 * 12)  # 3 blocks of 12 triangle entries, 5-row chunks
    chunked = solve_cholesky(side, Y, reg=0.5)
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-6)


def test_cg_converges_to_the_exact_solution() -> None:
    rng = np.random.default_rng(5)
    R = sp.random(20, 30, density=0.3, random_state=6, format="csr", dtype=np.float32)
    R.data[:] = 1.0
    Y = rng.normal(size=(30, 5)).astype(np.float32)
    side = _Side.build(R, 3.0, "cpu")
    x0 = torch.zeros(20, 5)
    got = solve_cg(side, x0, torch.from_numpy(Y), reg=0.2, steps=25)
    want = _brute_solve(R.toarray(), Y.astype(np.float64), 0.2, 3.0)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-3, atol=1e-4)
    # three warm-started steps already reduce the residual well below the cold start's
    few = solve_cg(side, x0, torch.from_numpy(Y), reg=0.2, steps=3).numpy()
    assert np.linalg.norm(few - want) < 0.5 * np.linalg.norm(want)


def test_empty_rows_get_zero_vectors() -> None:
    R = sp.csr_matrix(np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]], dtype=np.float32))
    Y = torch.ones(3, 2)
    side = _Side.build(R, 1.0, "cpu")
    for x in (solve_cholesky(side, Y, 0.1), solve_cg(side, torch.full((3, 2), 0.5), Y, 0.1, 3)):
        assert torch.all(x[1] == 0)
        assert torch.isfinite(x).all()


def test_weighted_loss_matches_dense_definition() -> None:
    rng = np.random.default_rng(7)
    R = sp.random(15, 12, density=0.3, random_state=8, format="csr", dtype=np.float32)
    R.data = rng.integers(1, 6, R.nnz).astype(np.float32)
    X = rng.normal(size=(15, 4)).astype(np.float32)
    Y = rng.normal(size=(12, 4)).astype(np.float32)
    got = weighted_loss(_Side.build(R, 2.0, "cpu"), torch.from_numpy(X), torch.from_numpy(Y), 0.7)
    want = _dense_loss(R.toarray(), X.astype(float), Y.astype(float), 0.7, 2.0)
    assert got == pytest.approx(want, rel=1e-4)


@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_training_lowers_the_loss_and_is_deterministic(solver: str) -> None:
    train = _train()

    def run(seed: int) -> tuple[list[float], torch.Tensor]:
        model = IALS(device="cpu", seed=seed, factors=8, iterations=4, reg=0.1, alpha=2.0, solver=solver)
        model.prepare(train)
        losses = [model.train_epoch(e + 1)["loss"] for e in range(model.n_epochs)]
        return losses, model.score(np.arange(train.n_users))

    losses, s1 = run(3)
    assert losses[-1] < losses[0]
    assert all(b <= a * (1 + 1e-3) for a, b in itertools.pairwise(losses))  # ALS never increases the objective
    _, s2 = run(3)
    assert torch.equal(s1, s2)
    _, s3 = run(4)
    assert not torch.equal(s1, s3)
    assert s1.dtype == torch.float32 and s1.shape == (train.n_users, train.n_items)


def test_fold_in_is_the_exact_user_step() -> None:
    train = _train(ratings=True)
    model = IALS(device="cpu", factors=6, iterations=4, reg=0.5, alpha=3.0, solver="cg")
    model.prepare(train)
    for e in range(4):
        model.train_epoch(e + 1)
    csr = train.to_csr("rating")
    exact_users = solve_cholesky(_Side.build(csr, 3.0, "cpu"), model.item_factors_, 0.5)
    for u in (0, 5, 17):
        row = csr[u]
        got = model.fold_in(row.indices, row.data)
        want = (exact_users[u] @ model.item_factors_.T).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5)
        assert got.dtype == np.float32 and got.shape == (train.n_items,)


def test_fold_in_of_a_training_user_matches_its_score_after_convergence() -> None:
    train = _train(ratings=False)
    model = IALS(device="cpu", factors=5, iterations=30, reg=1.0, alpha=1.0, solver="cholesky")
    model.prepare(train)
    for e in range(30):
        model.train_epoch(e + 1)
    u = 4
    got = model.fold_in(train.to_csr()[u].indices)
    want = model.score(np.array([u]))[0].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-2, atol=1e-3)


def test_fold_in_edge_cases_and_errors() -> None:
    train = _train()
    model = create("ials", device="cpu", factors=4, iterations=2)
    model.prepare(train)
    model.train_epoch(1)
    assert np.all(model.fold_in(np.array([], dtype=np.int64)) == 0)
    # repeated items are merged (values summed), like to_csr does for the training data
    np.testing.assert_allclose(model.fold_in([1, 1, 2], [1.0, 2.0, 1.0]), model.fold_in([1, 2], [3.0, 1.0]))
    with pytest.raises(DataError) as err:
        model.fold_in([0, train.n_items])
    assert err.value.code == "bad_history"
    with pytest.raises(DataError):
        model.fold_in([0, 1], [1.0])
    with pytest.raises(DataError):
        model.fold_in([0, 1], [1.0, np.nan])


def test_explain_terms_sum_to_the_fold_in_score() -> None:
    train = _train(ratings=True)
    model = IALS(device="cpu", factors=6, iterations=5, reg=0.5, alpha=2.0)
    model.prepare(train)
    for e in range(5):
        model.train_epoch(e + 1)
    csr = train.to_csr("rating")
    u, item = 7, 3
    terms = model.explain(u, item, top=10_000)
    row = csr[u]
    assert sorted(t.item for t in terms) == sorted(row.indices.tolist())
    total = sum(t.weight for t in terms)
    assert total == pytest.approx(float(model.fold_in(row.indices, row.data)[item]), rel=1e-4, abs=1e-6)
    weights = [t.weight for t in terms]
    assert weights == sorted(weights, reverse=True)
    assert len(model.explain(u, item, top=2)) == 2


def test_not_trained_and_bad_params_raise_config_errors() -> None:
    with pytest.raises(ConfigError):
        create("ials", solver="lu")
    with pytest.raises(ConfigError):
        create("ials", reg=-1)
    model = create("ials", device="cpu")
    with pytest.raises(ConfigError):
        model.score(np.array([0]))


def test_should_stop_skips_the_item_half() -> None:
    train = _train()
    model = IALS(device="cpu", factors=4)
    model.prepare(train)
    y0 = model.item_factors_.clone()
    out = model.train_epoch(1, should_stop=lambda: True)
    assert torch.equal(model.item_factors_, y0)
    assert np.isfinite(out["loss"])


def test_save_load_round_trip_and_item_vectors(tmp_path: Path) -> None:
    train = _train()
    model = IALS(device="cpu", factors=4, iterations=3)
    model.prepare(train)
    for e in range(3):
        model.train_epoch(e + 1)
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m", device="cpu")
    users = np.arange(train.n_users)
    assert torch.equal(loaded.score(users), model.score(users))
    assert loaded.item_vectors().shape == (train.n_items, 4)
    np.testing.assert_allclose(loaded.fold_in([0, 3]), model.fold_in([0, 3]))
    items, _ = loaded.similar_items(0, k=3)
    assert 0 not in items
    assert len(loaded.explain(0, 1, top=2)) <= 2
    loaded.train_epoch(4)  # training can continue after a restore (sparse structures rebuilt)


@pytest.mark.shared_data
@pytest.mark.usefixtures("one_thread")
def test_ml100k_defaults_reach_the_implicit_floor(shared_data: Path) -> None:
    split = shared_data / "splits" / "ml-100k"
    if not (split / "topn_train.csv").exists():
        pytest.skip("../shared/data/splits/ml-100k is not present")
    from recsys_core.evaluation.protocol import EvalProtocol, evaluate

    train_frame = pd.read_csv(split / "topn_train.csv").drop(columns="rating")
    test_frame = pd.read_csv(split / "topn_test.csv").drop(columns="rating")
    train = Interactions.from_frame(train_frame)
    test = Interactions.from_frame(test_frame, users=train.users, items=train.items, unknown="drop")
    model = create("ials", device="cpu")
    model.prepare(train)
    for e in range(model.n_epochs):
        model.train_epoch(e + 1)
    ndcg = evaluate(model, train, test, EvalProtocol(ks=(10,), beyond=())).metrics["ndcg@10"]
    assert ndcg >= 0.349  # implicit ALS with the same settings: 0.3488; ours gives 0.357


@pytest.mark.gpu
@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_cuda_matches_cpu_and_bf16_scores(solver: str, tmp_path: Path) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    train = _train()

    def fitted(device: str, precision: str = "fp32") -> IALS:
        model = IALS(device=device, precision=precision, factors=8, iterations=5, reg=0.1, alpha=2.0, solver=solver)
        model.prepare(train)
        for e in range(5):
            assert np.isfinite(model.train_epoch(e + 1)["loss"])
        return model

    users = np.arange(train.n_users)
    cpu, gpu = fitted("cpu"), fitted("cuda")
    scores = gpu.score(users)
    assert scores.device.type == "cuda" and scores.dtype == torch.float32
    torch.testing.assert_close(scores.cpu(), cpu.score(users), rtol=1e-3, atol=1e-3)  # same start, same math
    np.testing.assert_allclose(gpu.fold_in([0, 2, 5]), cpu.fold_in([0, 2, 5]), rtol=1e-3, atol=1e-3)
    assert len(gpu.explain(0, 1, top=3)) <= 3
    bf16 = fitted("cuda", "bf16").score(users)
    assert bf16.dtype == torch.float32
    torch.testing.assert_close(bf16.cpu(), cpu.score(users), rtol=5e-2, atol=5e-2)
    gpu.save(tmp_path / "m")
    assert torch.equal(load_model(tmp_path / "m", device="cpu").score(users), scores.cpu())
