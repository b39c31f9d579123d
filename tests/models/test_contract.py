"""One behavioural suite run over every registered model (scikit-learn's check_estimator idea).

The data has a known right answer: users and items fall into 4 taste blocks; users interact mostly inside
their block and rate those items high. Any model that learns anything must beat popularity on it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_core.data.interactions import Interactions
from recsys_core.data.schema import SplitConfig
from recsys_core.data.split import split
from recsys_core.errors import ConfigError
from recsys_core.evaluation.protocol import EvalProtocol, evaluate
from recsys_core.models import create, get_model_class, load_model, model_names
from recsys_core.training import fit

N_USERS, N_ITEMS, BLOCKS = 400, 80, 4
# Small settings so the whole suite stays fast; names not in a model's schema are ignored.
FAST = {"iterations": 8, "k": 10, "batch_size": 256}


def block_data(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    per_block = N_ITEMS // BLOCKS
    for u in range(N_USERS):
        b = u % BLOCKS
        own = rng.choice(np.arange(b * per_block, (b + 1) * per_block), size=15, replace=False)
        other = rng.choice(np.setdiff1d(np.arange(N_ITEMS), own), size=3, replace=False)
        rows += [(u, int(i), float(rng.choice([4.0, 5.0])), 1000 + len(rows)) for i in own]
        rows += [(u, int(i), float(rng.choice([1.0, 2.0])), 1000 + len(rows)) for i in other]
    frame = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    return frame.astype({"rating": "float32", "timestamp": "int64"})


@pytest.fixture(scope="module")
def parts():
    data = Interactions.from_frame(block_data())
    return split(data, SplitConfig(method="user_random", test_fraction=0.2, seed=1))


def fast_params(name: str) -> dict:
    schema = {p.name for p in get_model_class(name).schema}
    return {k: v for k, v in FAST.items() if k in schema}


_trained: dict[str, object] = {}


def trained(name: str, parts):
    if name not in _trained:
        model = create(name, device="cpu", seed=7, **fast_params(name))
        result = fit(model, parts.train)
        _trained[name] = (model, result)
    return _trained[name]


def ndcg(model_or_scorer, parts) -> float:
    return evaluate(model_or_scorer, parts.train, parts.test, EvalProtocol(ks=(5,), beyond=())).metrics["ndcg@5"]


MODELS = model_names()


def test_every_issue_model_is_registered():
    assert {"popularity", "itemknn", "ease", "ials", "bpr", "biased_mf", "mlp"} <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_training_loss_decreases(name, parts):
    _, result = trained(name, parts)
    losses = [r.losses.get("loss") for r in result.history]
    if len(losses) < 2 or losses[0] is None:
        pytest.skip(f"{name} trains in one closed-form step")
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("name", [n for n in MODELS if n != "popularity"])
def test_recommendations_beat_popularity(name, parts):
    model, _ = trained(name, parts)
    popularity, _ = trained("popularity", parts)
    assert ndcg(model, parts) > ndcg(popularity, parts) + 0.05


@pytest.mark.parametrize("name", MODELS)
def test_seen_items_are_excluded(name, parts):
    model, _ = trained(name, parts)
    users = np.arange(N_USERS)
    items, scores = model.recommend(users, k=10)
    assert items.shape == (N_USERS, 10)
    train = parts.train.to_csr()
    for u in users:
        assert not set(items[u][items[u] >= 0]) & set(train[u].indices)
        assert np.all(np.diff(scores[u][np.isfinite(scores[u])]) <= 0)  # best first


@pytest.mark.parametrize("name", MODELS)
def test_save_and_load_give_identical_scores(name, parts, tmp_path):
    model, _ = trained(name, parts)
    model.save(tmp_path / name)
    assert not list((tmp_path / name).glob("*.pkl"))
    loaded = load_model(tmp_path / name, device="cpu")
    users = np.arange(0, N_USERS, 7)
    torch.testing.assert_close(loaded.score(users), model.score(users))
    assert loaded.params == model.params


@pytest.mark.parametrize("name", MODELS)
def test_fold_in_of_a_training_user_ranks_like_score(name, parts):
    """Scoring a training user's own history by fold-in must recommend about as well as the trained scores
    (exactly the same for EASE, item-KNN and popularity; approximately for the factor and neural models)."""
    model, _ = trained(name, parts)
    train = parts.train.to_csr()
    users = np.arange(0, N_USERS, 8)

    def folded(batch: np.ndarray) -> torch.Tensor:
        rows = [model.fold_in(train[u].indices, train[u].data) for u in batch]
        return torch.from_numpy(np.stack(rows).astype(np.float32))

    def direct(batch: np.ndarray) -> torch.Tensor:
        return model.score(batch).float().cpu()

    one = folded(users[:1])
    assert one.shape == (1, N_ITEMS)
    sub = parts.test.subset(np.flatnonzero(np.isin(parts.test.user_idx, users)))
    protocol = EvalProtocol(ks=(5,), beyond=())
    by_fold_in = evaluate(folded, parts.train, sub, protocol).metrics["ndcg@5"]
    by_score = evaluate(direct, parts.train, sub, protocol).metrics["ndcg@5"]
    assert by_fold_in >= by_score - 0.1, (by_fold_in, by_score)
    if name in ("popularity", "itemknn", "ease"):  # exact fold-in
        torch.testing.assert_close(folded(users[:5]), direct(users[:5]), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_explain_returns_history_items(name, parts):
    model, _ = trained(name, parts)
    if name == "popularity":
        assert model.explain(0, 0) == []  # popularity is not personal
        return
    train = parts.train.to_csr()
    u = 3
    top_item = int(model.recommend(np.array([u]), k=1)[0][0, 0])
    contributions = model.explain(u, top_item, top=3)
    assert 1 <= len(contributions) <= 3
    assert {c.item for c in contributions} <= set(train[u].indices)
    weights = [c.weight for c in contributions]
    assert weights == sorted(weights, reverse=True)


@pytest.mark.parametrize("name", MODELS)
def test_invalid_hyperparameters_are_rejected_with_the_field_named(name):
    cls = get_model_class(name)
    with pytest.raises(ConfigError) as err:
        create(name, no_such_param=1)
    assert "no_such_param" in str(err.value)
    for p in cls.schema:
        bad = {"int": (p.high or 0) + 1, "float": (p.high or 0) * 10 + 1, "bool": "maybe", "choice": "no-such-choice"}
        if p.kind in ("int", "float") and p.high is None:
            bad[p.kind] = (p.low or 0) - 1
        with pytest.raises(ConfigError) as err:
            create(name, **{p.name: bad[p.kind]})
        assert err.value.field == p.name
        assert p.name in str(err.value)
    with pytest.raises(ConfigError) as err:
        create(name, device="cpu", precision="bf16")
    assert err.value.field == "precision" and "CUDA" in str(err.value)
    with pytest.raises(ConfigError) as err:
        create(name, device="cpu", precision="fp16")
    assert err.value.field == "precision"


@pytest.mark.parametrize("name", MODELS)
def test_training_is_deterministic_on_cpu(name, parts):
    a = create(name, device="cpu", seed=3, **fast_params(name))
    b = create(name, device="cpu", seed=3, **fast_params(name))
    fit(a, parts.train, epochs=2)
    fit(b, parts.train, epochs=2)
    users = np.arange(10)
    torch.testing.assert_close(a.score(users), b.score(users))


@pytest.mark.parametrize("name", MODELS)
def test_cancel_stops_between_epochs(name, parts):
    model = create(name, device="cpu", seed=3, **fast_params(name))
    calls = {"n": 0}

    def stop_after_first_epoch() -> bool:
        return calls["n"] >= 1

    result = fit(model, parts.train, callbacks=[lambda record, m: calls.__setitem__("n", calls["n"] + 1)],
                 should_stop=stop_after_first_epoch)  # fmt: skip
    assert len(result.history) == 1
    assert result.cancelled == (model.n_epochs > 1)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", MODELS)
def test_cuda_training_matches_the_cpu_ranking(name, parts):
    cpu = create(name, device="cpu", seed=5, **fast_params(name))
    gpu = create(name, device="cuda", seed=5, **fast_params(name))
    fit(cpu, parts.train)
    fit(gpu, parts.train)
    assert gpu.score(np.arange(5)).device.type == "cuda"
    assert abs(ndcg(gpu, parts) - ndcg(cpu, parts)) < 0.1


# Models whose scores are dense factor/network products, which bf16 autocast rounds. EASE's bf16 scoring is on
# CUDA only (its CPU scoring is a scipy sparse product); item-KNN and popularity never use bf16.
DENSE_BF16_SCORING = {"ials", "bpr", "biased_mf", "mlp"}


def bf16_on_cpu(name: str, seed: int = 5):
    """A CPU model switched to ``precision="bf16"`` after construction.

    Users get bf16 on CUDA only, and ``__init__`` refuses it elsewhere. The models enter autocast for the
    model's own device type, so on the CPU this runs every bf16 code path (training under autocast, scoring,
    the float32 casts back) under torch's CPU autocast: dtype mistakes in those paths show up here without a GPU.
    """
    model = create(name, device="cpu", seed=seed, **fast_params(name))
    model.precision = "bf16"
    return model


@pytest.mark.parametrize("name", MODELS)
def test_bf16_paths_keep_float32_outputs_and_the_ranking(name, parts, tmp_path):
    cpu, _ = trained(name, parts)
    model = bf16_on_cpu(name, seed=7)
    result = fit(model, parts.train)
    assert all(np.isfinite(v) for record in result.history for v in record.losses.values())
    users = np.arange(20)
    scores = model.score(users)
    assert scores.dtype == torch.float32 and scores.shape == (20, model.n_items_)
    assert torch.isfinite(scores).all()
    assert abs(ndcg(model, parts) - ndcg(cpu, parts)) < 0.1
    model.precision = "fp32"
    in_fp32 = model.score(users)
    model.precision = "bf16"
    if name in DENSE_BF16_SCORING:  # the autocast really ran: bf16 products round differently, and only slightly
        assert 0 < float((scores - in_fp32).abs().max()) < 0.1 * float(in_fp32.abs().max())
    else:  # sparse or counting scores stay exact
        torch.testing.assert_close(scores, in_fp32, rtol=0, atol=0)
    items, item_scores = model.recommend(users, k=5)
    assert items.shape == (20, 5) and item_scores.dtype == np.float32
    row = parts.train.to_csr()[0]
    folded = model.fold_in(row.indices, row.data)
    assert folded.dtype == np.float32 and np.isfinite(folded).all()
    if model.task == "rating":
        predicted = model.predict(np.array([0, 1]), np.array([0, 1]))
        assert np.isfinite(predicted).all()
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m", device="cpu")
    assert loaded.precision == "fp32"
    assert torch.isfinite(loaded.score(users)).all()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", MODELS)
def test_cuda_bf16_training_matches_the_cpu_ranking(name, parts):
    cpu, _ = trained(name, parts)
    gpu = create(name, device="cuda", seed=7, precision="bf16", **fast_params(name))
    fit(gpu, parts.train)
    scores = gpu.score(np.arange(5))
    assert scores.device.type == "cuda" and scores.dtype == torch.float32
    assert abs(ndcg(gpu, parts) - ndcg(cpu, parts)) < 0.1


SPARSE_KERNEL_MODELS = [n for n in MODELS if hasattr(get_model_class(n), "sparse_kernels")]


@pytest.mark.parametrize("name", SPARSE_KERNEL_MODELS)
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_torch_sparse_kernels_give_the_scipy_results(name, precision, parts):
    """The torch sparse path (the one CUDA takes: cuSPARSE products, torch Cholesky) forced on the CPU must
    train and score like the scipy path the CPU normally takes; bf16 is tried on it as CUDA would run it."""
    cpu, _ = trained(name, parts)
    model = create(name, device="cpu", seed=7, **fast_params(name))
    model.sparse_kernels = "torch"
    model.precision = precision
    fit(model, parts.train)
    for key, value in cpu.state_tensors().items():
        torch.testing.assert_close(model.state_tensors()[key], value, rtol=1e-4, atol=1e-5)
    users = np.arange(40)
    tol = 1e-4 if precision == "fp32" else 2e-2
    torch.testing.assert_close(model.score(users), cpu.score(users), rtol=tol, atol=tol)
    if precision == "fp32":
        np.testing.assert_array_equal(model.recommend(users, k=5)[0], cpu.recommend(users, k=5)[0])
