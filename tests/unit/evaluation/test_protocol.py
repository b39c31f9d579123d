import numpy as np
import pandas as pd
import pytest
import torch

from recsys_core.data.interactions import Interactions
from recsys_core.errors import ConfigError
from recsys_core.evaluation.protocol import EvalProtocol, auto_batch_size, evaluate


def _parts(seed: int = 0, n_users: int = 40, n_items: int = 30):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        items = rng.choice(n_items, size=rng.integers(4, 12), replace=False)
        rows += [(u, int(i), float(rng.integers(1, 6))) for i in items]
    frame = pd.DataFrame(rows, columns=["user", "item", "rating"]).astype({"rating": "float32"})
    full = Interactions.from_frame(frame)
    rng2 = np.random.default_rng(seed + 1)
    is_test = rng2.random(len(frame)) < 0.3
    train = Interactions.from_frame(frame[~is_test], users=full.users, items=full.items)
    test = Interactions.from_frame(frame[is_test], users=full.users, items=full.items)
    return train, test


def test_training_items_never_appear_in_the_lists():
    train, test = _parts()
    x = torch.from_numpy(train.to_csr("ones").toarray())

    def prefers_seen(users):  # scores the user's own training items highest
        return x[torch.from_numpy(users)] * 100 + torch.rand(len(users), train.n_items)

    result = evaluate(prefers_seen, train, test, EvalProtocol(ks=(5,)), keep_topk=True)
    seen = train.to_csr("ones")
    for row, u in zip(result.topk, result.per_user["user_index"]):
        assert not set(row[row >= 0]) & set(seen[u].indices)


def test_ties_are_broken_by_lower_item_index():
    train, test = _parts()
    result = evaluate(lambda u: torch.zeros(len(u), train.n_items), train, test, EvalProtocol(ks=(3,)), keep_topk=True)
    seen = train.to_csr("ones")
    for row, u in zip(result.topk, result.per_user["user_index"]):
        unseen = [i for i in range(train.n_items) if i not in set(seen[u].indices)]
        assert list(row) == unseen[:3]


def test_users_without_test_items_are_skipped_and_counted():
    train, test = _parts()
    drop_user = int(test.user_idx[0])
    keep = test.user_idx != drop_user
    test2 = test.subset(np.flatnonzero(keep))
    result = evaluate(lambda u: torch.rand(len(u), train.n_items), train, test2, EvalProtocol())
    assert drop_user not in set(result.per_user["user_index"])
    assert result.n_skipped >= 1
    assert result.n_users == len(np.unique(test2.user_idx))


def test_results_do_not_depend_on_the_batch_size():
    train, test = _parts(3)
    gen = torch.Generator().manual_seed(0)
    table = torch.rand(train.n_users, train.n_items, generator=gen)

    def scorer(users):
        return table[torch.from_numpy(users)]

    for candidates in ("full", "sampled"):
        protocol = EvalProtocol(ks=(1, 5), candidates=candidates, n_negatives=5)
        a = evaluate(scorer, train, test, protocol, batch_size=7)
        b = evaluate(scorer, train, test, protocol, batch_size=1000)
        assert a.metrics == pytest.approx(b.metrics, nan_ok=True)


def test_sampled_ranking_is_labelled_and_easier_than_full():
    train, test = _parts(5, n_users=60, n_items=200)
    gen = torch.Generator().manual_seed(1)
    table = torch.rand(train.n_users, train.n_items, generator=gen)
    full = evaluate(lambda u: table[torch.from_numpy(u)], train, test, EvalProtocol(ks=(10,)))
    sampled = evaluate(
        lambda u: table[torch.from_numpy(u)], train, test, EvalProtocol(ks=(10,), candidates="sampled", n_negatives=3)
    )
    assert sampled.protocol.label.startswith("sampled")
    assert full.protocol.label == "full ranking"
    assert sampled.metrics["recall@10"] > full.metrics["recall@10"]


def test_relevance_threshold_restricts_relevant_items():
    train, test = _parts(7)
    result = evaluate(lambda u: torch.rand(len(u), train.n_items), train, test, EvalProtocol(relevance_threshold=4.0))
    expected = pd.Series(test.rating >= 4.0).groupby(test.user_idx).sum()
    n_rel = dict(zip(result.per_user["user_index"], result.per_user["n_relevant"]))
    assert all(n_rel[u] == n for u, n in expected.items() if n > 0)


def test_protocol_mismatches_name_the_difference():
    a = EvalProtocol(data_fingerprint="abc", split={"method": "user_random"})
    assert a.mismatches(EvalProtocol(data_fingerprint="abc", split={"method": "user_random"})) == []
    reasons = a.mismatches(EvalProtocol(data_fingerprint="xyz", candidates="sampled"))
    assert any("data" in r for r in reasons) and any("sampled" in r for r in reasons)
    assert EvalProtocol.from_dict(a.to_dict()) == a


def test_invalid_protocols_are_rejected():
    with pytest.raises(ConfigError, match="ks"):
        EvalProtocol(ks=(0,))
    with pytest.raises(ConfigError, match="Unknown metric"):
        EvalProtocol(metrics=("accuracy",))


def test_batch_size_is_bounded_by_memory():
    small = auto_batch_size(1_000)
    large = auto_batch_size(5_000_000)
    assert 1 <= large <= small <= 8192


def test_a_data_description_from_before_a_cleaning_option_existed_is_still_the_same_split():
    old = {"kind": "split", "split": {"method": "user_random"}, "preprocess": {"duplicates": "last"}}
    new = {**old, "preprocess": {"duplicates": "last", "pseudonymise_users": False}}
    a, b = EvalProtocol(split=old), EvalProtocol(split=new)
    assert a.mismatches(b) == []
    private = EvalProtocol(split={**old, "preprocess": {"duplicates": "last", "pseudonymise_users": True}})
    assert a.mismatches(private) == ["different split"]
