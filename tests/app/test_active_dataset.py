"""The active dataset outlives the browser session (QA report item 3): a reload or a new tab is a new
Streamlit session, which starts on the dataset last made active, not on the built-in data. Each AppTest
instance is its own session, like a reload."""

from __future__ import annotations

import io

import pandas as pd

from recsys_core.data.store import DatasetStore, remember_active_dataset
from recsys_core.data.synthetic import generate_synthetic
from tests.app.conftest import open_app, open_page

DATA, TRAIN = "app_pages/data.py", "app_pages/train.py"


def sidebar_dataset(at) -> str:
    return next(m.value for m in at.sidebar.markdown if m.value.startswith("**Dataset:**"))


def save_small(name: str) -> None:
    syn = generate_synthetic(n_users=60, n_items=40, n_interactions=900, seed=2)
    DatasetStore().save(name, syn.interactions, items=syn.items)


def test_a_chosen_dataset_is_still_active_after_a_reload_and_on_train():
    save_small("qa_good")
    at = open_page(DATA)
    assert sidebar_dataset(at) == "**Dataset:** Built-in synthetic"
    at.selectbox(key="data.active").set_value("qa_good").run()
    assert not at.exception
    assert sidebar_dataset(at) == "**Dataset:** qa_good"  # at once: the page reruns after the choice

    reloaded = open_page(TRAIN)  # F5, or /train in a new tab: a new session
    assert sidebar_dataset(reloaded) == "**Dataset:** qa_good"
    assert any(m.value.startswith("**Data:** qa_good") for m in reloaded.markdown)
    data_page = open_page(DATA)
    assert data_page.selectbox(key="data.active").value == "qa_good"


def test_save_and_make_active_is_remembered_for_new_sessions():
    rows = [(u, (u * 7 + k) % 20, 1 + (u + k) % 5, 1_700_000_000 + 3600 * k) for u in range(30) for k in range(6)]
    buf = io.StringIO()
    pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"]).to_csv(buf, index=False)
    at = open_page(DATA)
    at.segmented_control(key="data.source").set_value("upload").run()
    at.file_uploader(key="data.upload").set_value(("events.csv", buf.getvalue().encode(), "text/csv")).run()
    [name] = [t for t in at.text_input if t.key and t.key.startswith("data.save.name")]
    name.set_value("my events").run()
    at.button(key="data.save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert DatasetStore().exists("my events")
    assert sidebar_dataset(open_app()) == "**Dataset:** my events"


def test_each_session_keeps_its_own_explicit_choice():
    save_small("a")
    save_small("b")
    first = open_page(DATA)
    first.selectbox(key="data.active").set_value("a").run()
    second = open_page(DATA)  # starts on "a", the last one made active
    assert second.selectbox(key="data.active").value == "a"
    second.selectbox(key="data.active").set_value("b").run()
    first.run().run()  # the first session still works on its own choice
    assert sidebar_dataset(first) == "**Dataset:** a"
    assert sidebar_dataset(open_app()) == "**Dataset:** b"  # new sessions: the latest choice
    second.selectbox(key="data.active").set_value("builtin:synthetic").run()
    assert sidebar_dataset(open_app()) == "**Dataset:** Built-in synthetic"


def test_a_remembered_dataset_that_no_longer_exists_falls_back_to_the_built_in_one():
    save_small("gone")
    remember_active_dataset("gone")
    DatasetStore().delete("gone", all_versions=True)
    at = open_app()
    assert sidebar_dataset(at) == "**Dataset:** Built-in synthetic"
    assert not at.error and not at.warning


def test_a_session_whose_dataset_is_deleted_elsewhere_is_told_once_and_moves_to_the_built_in_data():
    """QA round 2 #4: the tab used to switch to the built-in data silently, and Train then trained on it."""
    save_small("qa_implicit")
    at = open_page(DATA)
    at.selectbox(key="data.active").set_value("qa_implicit").run()
    at.switch_page(TRAIN).run()
    assert any(m.value.startswith("**Data:** qa_implicit") for m in at.markdown)

    DatasetStore().delete("qa_implicit", all_versions=True)  # `data delete qa_implicit` from the command line
    at.switch_page("app_pages/home.py").run()
    assert not at.exception, [e.value for e in at.exception]
    notice = (
        "Dataset 'qa_implicit' no longer exists (deleted in another session); using the built-in data. "
        "Pick another on the Data page."
    )
    assert [s.value for s in at.warning] == [notice]
    assert sidebar_dataset(at) == "**Dataset:** Built-in synthetic"

    at.switch_page(TRAIN).run()  # told once: the next page works on the built-in data without repeating it
    assert not at.exception, [e.value for e in at.exception]
    assert notice not in [s.value for s in at.warning]
    assert any(m.value.startswith("**Data:** Built-in synthetic") for m in at.markdown)
