"""MostPopular: counts, tie order, fold-in, explanation, persistence, and the ML-100K reference number."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core.data.interactions import Interactions
from recsys_core.errors import DataError
from recsys_core.evaluation.protocol import evaluate
from recsys_core.models.base import load_model
from recsys_core.models.popularity import MostPopular
from recsys_core.training.loop import fit


def _train() -> Interactions:
    # item 30 has 3 interactions, items 10 and 20 tie at 2 (20 is listed first), item 40 has 1
    frame = pd.DataFrame(
        {
            "user": [1, 1, 2, 2, 3, 3, 3, 4],
            "item": [20, 30, 20, 30, 10, 30, 10, 40],
            "rating": [5.0, 1.0, 4.0, 2.0, 3.0, 3.0, 3.0, 1.0],
        }
    )
    return Interactions.from_frame(frame)


def test_scores_are_interaction_counts_and_ties_go_to_the_lower_index() -> None:
    train = _train()
    model = MostPopular(device="cpu")
    result = fit(model, train)
    assert result.history[0].losses == {}
    # items are indexed by sorted id: 10 → 0, 20 → 1, 30 → 2, 40 → 3; user 3 rated item 10 twice
    np.testing.assert_array_equal(model.score(np.array([0, 3])).numpy(), [[2, 2, 3, 1], [2, 2, 3, 1]])
    idx, _ = model.recommend(np.array([3]), k=3)  # user 40's only item (index 3) is excluded
    np.testing.assert_array_equal(idx, [[2, 0, 1]])
    idx, vals = model.recommend(np.array([0]), k=3)  # user 1 saw items 1 and 2
    np.testing.assert_array_equal(idx, [[0, 3, -1]])
    assert vals[0, 2] == -np.inf


def test_score_returns_a_fresh_tensor() -> None:
    model = MostPopular(device="cpu")
    fit(model, _train())
    scores = model.score(np.array([0]))
    scores[0, 0] = -1.0
    assert float(model.score(np.array([0]))[0, 0]) == 2.0


def test_fold_in_is_the_popularity_row_and_explain_is_empty() -> None:
    model = MostPopular(device="cpu")
    fit(model, _train())
    np.testing.assert_array_equal(model.fold_in(np.array([0, 3])), [2, 2, 3, 1])
    assert model.fold_in(np.array([], dtype=np.int64)).dtype == np.float32
    assert model.explain(0, 0) == []
    with pytest.raises(DataError, match="outside the catalogue"):
        model.fold_in(np.array([4]))


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    model = MostPopular(device="cpu")
    fit(model, _train())
    model.save(tmp_path / "pop")
    loaded = load_model(tmp_path / "pop", device="cpu")
    assert isinstance(loaded, MostPopular)
    np.testing.assert_array_equal(loaded.score(np.arange(4)).numpy(), model.score(np.arange(4)).numpy())


@pytest.mark.shared_data
def test_reproduces_the_ml100k_reference(shared_data: Path) -> None:
    split = shared_data / "splits" / "ml-100k"
    train = Interactions.from_frame(pd.read_csv(split / "topn_train.csv"))
    test = Interactions.from_frame(
        pd.read_csv(split / "topn_test.csv"), users=train.users, items=train.items, unknown="drop"
    )
    model = MostPopular(device="cpu")
    fit(model, train)
    metrics = evaluate(model, train, test).metrics
    assert metrics["ndcg@10"] == pytest.approx(0.2142, abs=1e-4)
    assert metrics["precision@10"] == pytest.approx(0.1881, abs=1e-4)
    assert metrics["map@10"] == pytest.approx(0.1129, abs=1e-4)
    assert metrics["hit_rate@10"] == pytest.approx(0.7582, abs=1e-4)
