"""AppTest for the Recommendations page: empty state, one user's lists, what-if, side by side, downloads."""

from __future__ import annotations

import io
import json
import zipfile

import pandas as pd
import pytest

from recsys_core.data.store import DatasetStore
from recsys_core.data.synthetic import generate_synthetic
from recsys_core.inspection import history
from tests.app.conftest import open_page, train_runs

PAGE = "app_pages/recommendations.py"


@pytest.fixture
def two_runs(reclab_home) -> dict:
    """Two finished runs (EASE, ItemKNN) on one small saved dataset with titles; returns ids and the data."""
    syn = generate_synthetic(n_users=120, n_items=60, n_interactions=2400, seed=5)
    DatasetStore().save("tiny", syn.interactions, items=syn.items)
    ids, data = train_runs("tiny", {"ease": {"l2": 20.0}, "itemknn": {}})
    return {"ids": list(ids.values()), "data": data, "items": syn.items}


def _by_id(at, user) -> None:
    at.segmented_control(key="recs.user.how").set_value("By id").run()
    at.text_input(key="recs.user.id").input(str(user)).run()
    assert not at.exception, [e.value for e in at.exception]


# Read-only dataframes carry no key in AppTest: each table is recognised by its columns.
TABLES = {
    "history": ({"item", "title", "genres"}, {"rank", "similarity"}),
    "top": ({"rank", "because", "in_test"}, {"change", "in_both"}),
    "whatif": ({"rank", "change"}, set()),
    "dropped": ({"old_rank"}, set()),
    "side": ({"rank", "in_both"}, set()),
    "similar": ({"similarity"}, set()),
}


def _frames(at, table: str) -> list[pd.DataFrame]:
    need, never = TABLES[table]
    frames = [d.value for d in at.dataframe if d.proto.editing_mode == 0]
    return [f for f in frames if need <= set(f.columns) and not never & set(f.columns)]


def _frame(at, table: str) -> pd.DataFrame:
    (frame,) = _frames(at, table)
    return frame


def test_empty_state_says_to_train_first():
    at = open_page(PAGE)
    assert "No finished runs yet" in at.info[0].value
    assert not at.dataframe


def test_user_history_top_k_with_hits_and_reasons(two_runs):
    at = open_page(PAGE)
    user = two_runs["data"].train.users.to_ids([0])[0]
    _by_id(at, user)
    hist = _frame(at, "history")
    expected = history(two_runs["data"].train, user, two_runs["items"])
    assert hist["item"].tolist() == expected["item"].tolist() and hist["title"].str.len().gt(0).all()
    top = _frame(at, "top")
    assert top["rank"].tolist() == [1, 2, 3, 4, 5]  # K defaults to the run's largest evaluation K
    assert not set(top["item"]) & set(hist["item"]) and top["because"].str.len().gt(0).all()
    assert set(top["in_test"]) <= {"✓ hit", ""}


def test_what_if_removing_history_items_changes_the_list(two_runs):
    at = open_page(PAGE)
    user = two_runs["data"].train.users.to_ids([3])[0]
    _by_id(at, user)
    before = _frame(at, "whatif")
    assert before["item"].tolist() == _frame(at, "top")["item"].tolist()  # no edits: same list
    hist_items = _frame(at, "history")["item"].tolist()
    titles = dict(zip(two_runs["items"]["item"], two_runs["items"]["title"]))
    options = at.multiselect(key="recs.whatif.add").options  # searchable as "title (id)"
    assert len(options) == 60 - len(hist_items)
    assert all(o.endswith(")") and o.split(" (")[0] in titles.values() for o in options)
    at.multiselect(key="recs.whatif.remove").set_value(hist_items[: len(hist_items) // 2]).run()
    assert not at.exception, [e.value for e in at.exception]
    after = _frame(at, "whatif")
    assert after["item"].tolist() != before["item"].tolist()
    assert (after["change"] != "=").any()
    assert len(_frame(at, "dropped")) == (after["change"] == "new").sum()


def test_side_by_side_highlights_the_overlap_of_two_runs(two_runs):
    at = open_page(PAGE)
    ease, knn = two_runs["ids"]
    at.selectbox(key="recs.run").set_value(knn).run()
    at.selectbox(key="recs.other").set_value(ease).run()
    assert not at.exception, [e.value for e in at.exception]
    a, b = _frames(at, "side")
    shared = set(a["item"]) & set(b["item"])
    assert set(a.loc[a["in_both"], "item"]) == shared == set(b.loc[b["in_both"], "item"])
    assert any(f"{len(shared)} of 5 items in both lists" in c.value for c in at.caption)


def test_bad_user_id_shows_a_message(two_runs):
    at = open_page(PAGE)
    _by_id(at, "no-such-user")
    assert any("not in this run's data" in e.value for e in at.error)
    assert not at.exception


def test_segments_and_similar_items(two_runs):
    at = open_page(PAGE)
    at.segmented_control(key="recs.user.how").set_value("From a segment").run()
    at.selectbox(key="recs.user.segment").set_value("heavy").run()
    assert not at.exception, [e.value for e in at.exception]
    counts = two_runs["data"].train.user_counts()
    user = at.selectbox(key="recs.user.segment_user").value
    idx = two_runs["data"].train.users.to_index([user])[0]
    assert counts[idx] >= pd.Series(counts[counts > 0]).quantile(0.9)
    assert _frame(at, "similar")["rank"].tolist() == [1, 2, 3, 4, 5]


def test_downloads_lists_model_and_config(two_runs):
    at = open_page(PAGE)
    run_id = at.selectbox(key="recs.run").value
    buttons = {b.proto.label: b for b in at.get("download_button")}
    assert {"Top-5 lists of all users (CSV)", "Model (zip)", "Config (JSON)"} <= set(buttons)
    code = at.code[0].value
    assert code.startswith("python -m recsys_core runs submit") and "--dataset tiny" in code
    from ui import recs

    store = recs.resources.run_store()
    run = store.get(run_id)
    csv = pd.read_csv(io.BytesIO(recs.recommendations_file(run["artifacts"]["recommendations"], "csv")))
    assert list(csv.columns) == ["user", "item", "score", "rank"] and csv["rank"].max() == 5
    names = zipfile.ZipFile(io.BytesIO(recs.model_zip(run["artifacts"]["model"]))).namelist()
    assert "model/model.safetensors" in names
    config, _ = recs.run_config(run_id)
    assert json.loads(config)["run_id"] == run_id


def test_run_picker_tells_runs_apart_and_marks_older_data(reclab_home):
    # QA round 2 #6: a rerun appeared twice as "qa ease · ease · qa_good"; runs on a replaced version of the
    # dataset were not marked
    syn = generate_synthetic(n_users=80, n_items=50, n_interactions=1600, seed=5)
    store = DatasetStore()
    store.save("tiny", syn.interactions)
    first = train_runs("tiny", {"ease": {"l2": 20.0}})[0]["ease"]
    again = train_runs("tiny", {"ease": {"l2": 20.0}})[0]["ease"]  # the same name, model and data
    store.save("tiny", syn.interactions.iloc[:1400], overwrite=True)
    newest = train_runs("tiny", {"ease": {"l2": 20.0}})[0]["ease"]
    at = open_page(PAGE)
    picker = at.selectbox(key="recs.run")
    labels = dict(zip(picker.options, [newest, again, first], strict=True))  # newest first
    assert len(labels) == 3  # no two labels alike
    for label, rid in labels.items():
        assert label.startswith("ease run · ease · tiny · ") and rid[-6:] in label
        assert ("older data version" in label) == (rid != newest), label
    store.delete("tiny")
    at.run()
    assert all("dataset deleted" in o for o in at.selectbox(key="recs.run").options)
    assert not at.exception
