import numpy as np
import pandas as pd
import pytest

from recsys_core.data.interactions import Interactions
from recsys_core.data.schema import SplitConfig
from recsys_core.data.split import split
from recsys_core.data.store import DatasetStore
from recsys_core.data.synthetic import generate_synthetic
from recsys_core.errors import ConfigError
from recsys_core.inspection import (
    find_user,
    history,
    item_metadata,
    list_overlap,
    recommendations,
    sample_users,
    similar,
    what_if,
)
from recsys_core.models import create
from recsys_core.training import fit


@pytest.fixture(scope="module")
def trained():
    syn = generate_synthetic(n_users=150, n_items=80, n_interactions=3000, seed=3)
    parts = split(Interactions.from_frame(syn.interactions), SplitConfig(seed=1))
    model = create("ease", l2=50.0, device="cpu")
    fit(model, parts.train)
    return model, parts, syn.items


def test_recommendations_show_titles_hits_and_reasons(trained):
    model, parts, items = trained
    user = parts.train.users.to_ids(np.array([0]))[0]
    recs = recommendations(model, parts.train, user, k=5, test=parts.test, items=items)
    assert list(recs["rank"]) == [1, 2, 3, 4, 5]
    assert recs["title"].str.len().gt(0).all() and "in_test" in recs
    seen = set(history(parts.train, user, items)["item"])
    assert not set(recs["item"]) & seen
    assert all(reason for reason in recs["because"])  # every item explained by history titles


def test_what_if_removing_history_changes_the_list_and_reports_moves(trained):
    model, parts, items = trained
    user = parts.train.users.to_ids(np.array([3]))[0]
    base = recommendations(model, parts.train, user, k=10, items=items, explain_top=0)
    hist = history(parts.train, user, items)["item"].tolist()
    same = what_if(model, parts.train, hist, baseline=base, k=10, items=items)
    assert list(same.ranking["item"]) == list(base["item"])  # exact fold-in: nothing moves
    assert set(same.ranking["change"]) == {"="}
    edited = what_if(model, parts.train, hist[: len(hist) // 2], baseline=base, k=10, items=items)
    assert list(edited.ranking["item"]) != list(base["item"])
    assert len(edited.dropped) == (edited.ranking["change"] == "new").sum()


def test_what_if_rejects_unknown_items(trained):
    model, parts, _ = trained
    with pytest.raises(ConfigError, match="Unknown item"):
        what_if(model, parts.train, [10**9])


def test_similar_items_and_sample_users(trained):
    model, parts, items = trained
    item = parts.train.items.to_ids(np.array([0]))[0]
    sims = similar(model, parts.train, item, k=5, items=items)
    assert len(sims) == 5 and item not in set(sims["item"])
    heavy = sample_users(parts.train, "heavy", n=5)
    light = sample_users(parts.train, "light", n=5)
    counts = dict(zip(parts.train.users.to_ids(np.arange(parts.train.n_users)), parts.train.user_counts()))
    assert min(counts[u] for u in heavy) >= max(counts[u] for u in light)


def test_find_user_matches_typed_ids_and_explains_unknown_ones(trained):
    _, parts, _ = trained
    user = parts.train.users.to_ids(np.array([2]))[0]
    assert find_user(parts.train, f" {user} ") == user
    with pytest.raises(ConfigError, match="not in this run's data"):
        find_user(parts.train, "nobody")
    with pytest.raises(ConfigError, match="Type a user id"):
        find_user(parts.train, "")


def test_list_overlap_marks_shared_items(trained):
    model, parts, _ = trained
    a = recommendations(model, parts.train, parts.train.users.to_ids(np.array([0]))[0], k=10, explain_top=0)
    b = recommendations(model, parts.train, parts.train.users.to_ids(np.array([1]))[0], k=10, explain_top=0)
    ma, mb = list_overlap(a, b)
    shared = set(a["item"]) & set(b["item"])
    assert set(ma.loc[ma["in_both"], "item"]) == shared == set(mb.loc[mb["in_both"], "item"])
    assert "in_both" not in a  # inputs untouched


def test_item_metadata_of_a_data_reference(tmp_path):

    syn = generate_synthetic(n_users=20, n_items=10, n_interactions=100, seed=1)
    DatasetStore().save("with-items", syn.interactions, items=syn.items)
    DatasetStore().save("bare", syn.interactions)
    assert item_metadata({"kind": "dataset", "name": "with-items"})["title"].tolist() == syn.items["title"].tolist()
    assert item_metadata({"kind": "dataset", "name": "bare"}) is None
    assert item_metadata({"kind": "files", "train": "t.csv", "test": "s.csv"}) is None
    path = tmp_path / "items.csv"
    pd.DataFrame({"item_id": [1, 2], "title": ["A", "B"]}).to_csv(path, index=False)
    assert item_metadata({"kind": "file", "data": "x.csv", "items": str(path)})["title"].tolist() == ["A", "B"]


def test_item_metadata_follows_the_pinned_dataset_version(reclab_home):
    """After a replace that changes titles, a run's reference still gets the titles of its own version."""
    syn = generate_synthetic(n_users=30, n_items=20, n_interactions=300, seed=4)
    store = DatasetStore()
    store.save("titled", syn.interactions, items=syn.items)
    old = store.info("titled").fingerprint
    renamed = syn.items.assign(title=[f"new {t}" for t in syn.items["title"]])
    store.save("titled", syn.interactions.iloc[:250], items=renamed, overwrite=True)
    pinned = item_metadata({"kind": "dataset", "name": "titled", "fingerprint": old})
    assert pinned["title"].tolist() == syn.items["title"].tolist()
    assert item_metadata({"kind": "dataset", "name": "titled"})["title"].str.startswith("new ").all()
    assert item_metadata({"kind": "dataset", "name": "titled", "fingerprint": "ab" * 32}) is None


@pytest.fixture(scope="module")
def factor_models():
    """Models whose fold-in re-learns a user vector: their fold-in of a history is not the trained vector."""
    syn = generate_synthetic(n_users=60, n_items=40, n_interactions=1200, seed=5)
    parts = split(Interactions.from_frame(syn.interactions), SplitConfig(seed=1))
    models = {}
    for name in ("bpr", "biased_mf", "mlp"):
        models[name] = create(name, device="cpu", seed=0, epochs=3)
        fit(models[name], parts.train)
    return models, parts, syn.items


@pytest.mark.parametrize("name", ["bpr", "biased_mf", "mlp"])
def test_what_if_without_edits_shows_no_change_for_every_model(factor_models, name):
    """QA round 2 #3: moves are measured against the fold-in of the unedited history, not the trained list."""
    models, parts, items = factor_models
    model, train = models[name], parts.train
    for u in range(0, 60, 6):
        user = train.users.to_ids(np.array([u]))[0]
        hist = history(train, user, items)
        ids, ratings = hist["item"].tolist(), hist["rating"].astype(float).tolist()
        same = what_if(model, train, ids, ratings=ratings, original=ids, original_ratings=ratings, k=10, items=items)
        assert set(same.ranking["change"]) == {"="} and same.dropped.empty
        pd.testing.assert_frame_equal(same.baseline, same.ranking.drop(columns="change"))
        assert not set(same.ranking["item"]) & set(ids)  # the history is excluded, as in the trained list
        # an edit is measured against that baseline: the fold-in of the original history, its items excluded
        kept, kept_ratings = ids[: len(ids) // 2], ratings[: len(ids) // 2]
        edited = what_if(
            model, train, kept, ratings=kept_ratings, original=ids, original_ratings=ratings, k=10, items=items
        )
        fresh = what_if(model, train, ids, ratings=ratings, k=10, items=items).ranking.drop(columns="change")
        pd.testing.assert_frame_equal(edited.baseline, fresh)
        old = dict(zip(fresh["item"], fresh["rank"]))
        for item, rank, change in zip(edited.ranking["item"], edited.ranking["rank"], edited.ranking["change"]):
            expected = "new" if item not in old else ("=" if old[item] == rank else None)
            assert expected is None or change == expected
        assert set(edited.dropped["item"]) == set(old) - set(edited.ranking["item"])


def test_what_if_takes_the_original_history_or_an_explicit_baseline_not_both(trained):
    model, parts, items = trained
    user = parts.train.users.to_ids(np.array([3]))[0]
    base = recommendations(model, parts.train, user, k=10, items=items, explain_top=0)
    hist = history(parts.train, user, items)["item"].tolist()
    with pytest.raises(ValueError, match="not both"):
        what_if(model, parts.train, hist, original=hist, baseline=base)
    assert what_if(model, parts.train, hist, k=10).baseline is None  # no comparison asked for


def test_because_gives_each_history_items_weight_and_the_kind_of_explanation():
    from recsys_core.inspection import explanation_kind

    syn = generate_synthetic(n_users=60, n_items=40, n_interactions=900, seed=2)
    data = Interactions.from_frame(syn.interactions)
    exact, approx = create("itemknn", device="cpu"), create("bpr", device="cpu", epochs=2)
    for model in (exact, approx):
        fit(model, data)
    user = data.users.to_ids([0])[0]
    top = recommendations(exact, data, user, k=3, items=syn.items, explain_top=2)
    first = top["because"].iloc[0]
    assert first.endswith(")") and "(" in first  # "Title (0.42), Title (0.31)"
    contributions = exact.explain(0, int(data.items.to_index([top["item"].iloc[0]])[0]), top=2)
    assert f"({contributions[0].weight:.3g})" in first
    assert "exact share" in explanation_kind(exact)
    assert "cosine similarity" in explanation_kind(approx)
    assert "ignores the history" in explanation_kind(create("popularity"))
