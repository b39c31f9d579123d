"""AppTest for Recommendations → What-if and the user picker (QA #7, #13): rating edits survive adding and
removing other items, a reset restores the history, "By id" prompts instead of erroring, and a brand-new user
starts from an empty history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.data.store import DatasetStore
from recsys_core.data.synthetic import generate_synthetic
from recsys_core.inspection import what_if
from recsys_core.models.base import load_model
from tests.app.conftest import open_page, train_runs
from ui import recs

PAGE = "app_pages/recommendations.py"


@pytest.fixture
def rated(reclab_home) -> dict:
    """A biased_mf and a popularity run on one small rated dataset with titles."""
    syn = generate_synthetic(n_users=80, n_items=50, n_interactions=1600, seed=5)
    DatasetStore().save("rated", syn.interactions, items=syn.items)
    ids, data = train_runs("rated", {"biased_mf": {"epochs": 3}, "popularity": {}})
    return {"ids": ids, "data": data, "items": syn.items}


def _ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _open(run_id: str, user=None):
    at = open_page(PAGE)
    at.selectbox(key="recs.run").set_value(run_id).run()
    if user is not None:
        _by_id(at, user)
    _ok(at)
    return at


def _by_id(at, user) -> None:
    at.segmented_control(key="recs.user.how").set_value("By id").run()
    at.text_input(key="recs.user.id").input(str(user)).run()


def _read_only(at) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe if d.proto.editing_mode == 0]


def _history(at) -> pd.DataFrame:
    (frame,) = [f for f in _read_only(at) if {"item", "title", "genres"} <= set(f) and "rank" not in f]
    return frame


def _whatif(at) -> pd.DataFrame:
    (frame,) = [f for f in _read_only(at) if {"rank", "change"} <= set(f)]
    return frame


def _editor(at):
    (editor,) = at.data_editor
    return editor


def _edit_rating(at, row: int, rating: float) -> None:
    """What a browser does when a rating cell is typed in (AppTest seeds a keyed editor's edit state)."""
    key = _editor(at).key
    at.session_state[key] = {"edited_rows": {str(row): {"rating": rating}}, "added_rows": [], "deleted_rows": []}
    at.run()
    _ok(at)


def _expected(run_id: str, data, items: list, ratings: list[float], k: int = 5) -> list:
    run = recs.resources.run_store().get(run_id, with_history=False)
    model = load_model(run["artifacts"]["model"], device="cpu")
    return what_if(model, data.train, items, ratings=ratings, k=k).ranking["item"].tolist()


def _label_ids(at) -> list[str]:
    return [label.rsplit(" (", 1)[1].rstrip(")") for label in _editor(at).value["item"]]


def test_rating_edits_survive_adding_and_removing_other_items(rated):
    run_id, data = rated["ids"]["biased_mf"], rated["data"]
    user = data.train.users.to_ids([3])[0]
    at = _open(run_id, user)
    hist = _history(at)
    items, ratings = hist["item"].tolist(), hist["rating"].astype(float).tolist()
    assert len(items) >= 4 and _editor(at).value["rating"].tolist() == ratings
    initial = _whatif(at)
    row = next(i for i, r in enumerate(ratings) if r != 1.0)
    edited_item = items[row]

    _edit_rating(at, row, 1.0)  # e.g. item 44: 3.0 → 1.0
    with_edit = [*ratings[:row], 1.0, *ratings[row + 1 :]]
    assert _whatif(at)["item"].tolist() == _expected(run_id, data, items, with_edit)

    # add an item: the edit stays, in the table and in the re-ranking; the new item reads as "liked"
    new = next(i for i in data.train.items.to_ids(np.arange(data.train.n_items)).tolist() if i not in items)
    at.multiselect(key="recs.whatif.add").set_value([new]).run()
    _ok(at)
    table = _editor(at).value
    assert _label_ids(at) == [str(i) for i in [*items, new]]
    assert table["rating"].tolist() == [*with_edit, max(ratings)]
    assert _whatif(at)["item"].tolist() == _expected(run_id, data, [*items, new], [*with_edit, max(ratings)])

    # remove another item: the edit still stays
    other = next(i for i in items if i != edited_item)
    at.multiselect(key="recs.whatif.remove").set_value([other]).run()
    _ok(at)
    kept = [i for i in items if i != other]
    kept_ratings = [r for i, r in zip(items, with_edit) if i != other]
    assert _editor(at).value["rating"].tolist() == [*kept_ratings, max(ratings)]
    assert _whatif(at)["item"].tolist() == _expected(run_id, data, [*kept, new], [*kept_ratings, max(ratings)])

    # removing the edited item drops its edit: put back, it has its original rating
    at.multiselect(key="recs.whatif.remove").set_value([other, edited_item]).run()
    _ok(at)
    at.multiselect(key="recs.whatif.remove").set_value([other]).run()
    _ok(at)
    restored = [r for i, r in zip(items, ratings) if i != other]
    assert _editor(at).value["rating"].tolist() == [*restored, max(ratings)]

    # reset: the original history, no edits, the original list
    _edit_rating(at, 0, 2.5)
    at.button(key="recs.whatif.reset").click().run()
    _ok(at)
    assert at.multiselect(key="recs.whatif.remove").value == [] and at.multiselect(key="recs.whatif.add").value == []
    assert _editor(at).value["rating"].tolist() == ratings
    pd.testing.assert_frame_equal(_whatif(at), initial)
    assert "no edits yet" in " ".join(m.value for m in at.markdown)


def test_rating_edits_belong_to_their_user(rated):
    run_id, data = rated["ids"]["biased_mf"], rated["data"]
    alice, bob = data.train.users.to_ids([3, 4]).tolist()
    at = _open(run_id, alice)
    alice_ratings = _editor(at).value["rating"].tolist()
    _edit_rating(at, 0, 1.5 if alice_ratings[0] != 1.5 else 2.5)
    at.run()  # the table passed to the editor shows the stored edit from the next run on
    edited = _editor(at).value["rating"].tolist()
    assert edited != alice_ratings

    _by_id(at, bob)
    _ok(at)
    assert _editor(at).value["rating"].tolist() == _history(at)["rating"].astype(float).tolist()
    assert at.multiselect(key="recs.whatif.remove").value == []

    _by_id(at, alice)
    _ok(at)
    assert _editor(at).value["rating"].tolist() == edited


def test_by_id_prompts_before_anything_is_typed(rated):
    at = open_page(PAGE)
    at.segmented_control(key="recs.user.how").set_value("By id").run()
    _ok(at)
    assert any("Type a user id to open" in c.value for c in at.caption)
    assert not _read_only(at)  # nothing drawn until there is an id
    at.text_input(key="recs.user.id").input("   ").run()
    _ok(at)
    at.text_input(key="recs.user.id").input("no-such-user").run()
    assert any("not in this run's data" in e.value for e in at.error)


def test_new_user_starts_from_an_empty_history(rated):
    run_id, data = rated["ids"]["biased_mf"], rated["data"]
    at = _open(run_id)
    at.segmented_control(key="recs.user.how").set_value("New user (empty history)").run()
    _ok(at)
    assert at.subheader[0].value == "New user (empty history)"
    assert "A new user with no history" in at.info[0].value
    assert _history(at).empty
    top = next(f for f in _read_only(at) if "rank" in f and "change" not in f and "in_both" not in f)
    assert top["item"].tolist() == _expected(run_id, data, [], [])
    # nothing to remove; add two items and the list re-ranks from them
    assert not [m for m in at.multiselect if m.key == "recs.whatif.remove"]
    a, b = top["item"].tolist()[:2]
    at.multiselect(key="recs.whatif.add").set_value([a, b]).run()
    _ok(at)
    top_rating = float(np.max(data.train.rating))
    assert _editor(at).value["rating"].tolist() == [top_rating, top_rating]
    ranking = _whatif(at)
    assert ranking["item"].tolist() == _expected(run_id, data, [a, b], [top_rating, top_rating])
    assert not {a, b} & set(ranking["item"])
    _edit_rating(at, 1, 1.0)
    assert _whatif(at)["item"].tolist() == _expected(run_id, data, [a, b], [top_rating, 1.0])
    # side by side with the popularity run works for a new user too
    side = [f for f in _read_only(at) if "in_both" in f]
    assert len(side) == 2 and all(len(f) == 5 for f in side)
    at.button(key="recs.whatif.reset").click().run()
    _ok(at)
    assert at.multiselect(key="recs.whatif.add").value == [] and not at.data_editor


@pytest.fixture
def factor_runs(reclab_home) -> dict:
    """bpr and biased_mf runs (their fold-in re-fits the user vector, so it differs from the trained one)."""
    syn = generate_synthetic(n_users=80, n_items=50, n_interactions=1600, seed=5)
    DatasetStore().save("rated", syn.interactions, items=syn.items)
    ids, data = train_runs("rated", {"bpr": {"epochs": 5}, "biased_mf": {"epochs": 3}})
    return {"ids": ids, "data": data}


def _what_if_script(run_id: str, user: int, k: int) -> None:
    """What-if as the Recommendations page draws it: the edit widgets, then the re-ranking against the
    fold-in of the unedited history the edit carries."""
    import streamlit as st

    from recsys_core.inspection import what_if
    from ui import recs

    loaded = recs.load_run(run_id)
    hist = recs.user_history(loaded, user)
    edit = recs.what_if_ui(loaded, hist, user=user)
    result = what_if(
        loaded.model,
        loaded.data.train,
        edit.items,
        ratings=edit.ratings,
        original=edit.original,
        original_ratings=edit.original_ratings,
        k=k,
    )
    moved = int((result.ranking["change"] != "=").sum())
    st.markdown(f"moved {moved} · dropped {len(result.dropped)} · changed {edit.changed}")


@pytest.mark.parametrize("model", ["bpr", "biased_mf"])
def test_what_if_without_edits_shows_no_change_and_says_what_it_compares_with(factor_runs, model):
    """QA round 2 #3: bpr showed "4 new, 4 dropped · no edits yet" (the trained list was the baseline)."""
    from streamlit.testing.v1 import AppTest

    run_id, train = factor_runs["ids"][model], factor_runs["data"].train
    for u in range(0, 80, 8):
        user = train.users.to_ids(np.array([u]))[0].item()
        at = AppTest.from_function(_what_if_script, args=(run_id, user, 10), default_timeout=120).run()
        _ok(at)
        assert [m.value for m in at.markdown] == ["moved 0 · dropped 0 · changed False"]
        assert recs.WHAT_IF_NOTE in [c.value for c in at.caption]
    # an edit moves the list against that baseline
    first = _history_items(train, user)[0]
    at.multiselect(key="recs.whatif.remove").set_value([first]).run()
    _ok(at)
    line = at.markdown[0].value
    assert line.endswith("changed True") and line != "moved 0 · dropped 0 · changed True"


def _history_items(train, user) -> list:
    from recsys_core.inspection import history

    return history(train, user)["item"].tolist()


def test_the_page_shows_the_what_if_note_for_a_user_with_a_history_only(factor_runs):
    run_id, train = factor_runs["ids"]["bpr"], factor_runs["data"].train
    at = _open(run_id, train.users.to_ids([3])[0])
    assert recs.WHAT_IF_NOTE in [c.value for c in at.caption]
    at.segmented_control(key="recs.user.how").set_value("New user (empty history)").run()
    _ok(at)
    assert recs.WHAT_IF_NOTE not in [c.value for c in at.caption]  # its trained list is the fold-in of nothing


def test_the_page_shows_no_change_before_any_edit_for_bpr(factor_runs):
    run_id, train = factor_runs["ids"]["bpr"], factor_runs["data"].train
    at = _open(run_id, train.users.to_ids([0])[0])
    for u in range(0, 80, 8):
        _by_id(at, train.users.to_ids([u])[0])
        _ok(at)
        heading = next(m.value for m in at.markdown if m.value.startswith("**Re-ranked top"))
        assert heading.endswith("· 0 new, 0 dropped · no edits yet"), (u, heading)
        assert set(_whatif(at)["change"]) == {"="}
