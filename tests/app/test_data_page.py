import io

import pandas as pd

from tests.app.conftest import open_page

PAGE = "app_pages/data.py"


def _csv(n_users: int = 30, n_items: int = 20) -> bytes:
    rows = [
        (u, (u * 7 + k) % n_items, 1 + (u + k) % 5, 1_700_000_000 + 3600 * k) for u in range(n_users) for k in range(6)
    ]
    frame = pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode()


def _upload(at, data: bytes, name: str = "events.csv"):
    at.segmented_control(key="data.source").set_value("upload").run()
    at.file_uploader(key="data.upload").set_value((name, data, "text/csv")).run()
    return at


def _select(at, label: str):
    """The selectbox with this label (mapping widgets are keyed by file, so look them up by label)."""
    return next(s for s in at.selectbox if s.label == label)


def _text_input(at, label: str):
    return next(t for t in at.text_input if t.label == label)


def test_data_page_shows_health_of_the_active_dataset():
    at = open_page(PAGE)
    assert at.title[0].value == "Data"
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Interactions"].replace(",", "")) > 50_000
    charts = at.get("plotly_chart")
    assert len(charts) == 4  # long tail, activity, ratings, over time
    assert "log" in charts[0].proto.spec  # the long tail uses a log axis
    # the cleaning report table is there, one row per step
    steps = at.dataframe[0].value
    assert list(steps["step"])[:1] and len(steps) >= 3


def test_upload_maps_columns_and_profiles_the_file():
    at = _upload(open_page(PAGE), _csv())
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert _select(at, "User column").value == "userId"
    assert _select(at, "Item column").value == "movieId"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Users"] == "30"
    assert metrics["Interactions"] == "180"


def test_bad_upload_shows_a_message_not_a_traceback():
    at = _upload(open_page(PAGE), b"userId,movieId,rating\n1,10,4\n2,11,abc\n3,12,5\n")
    assert not at.exception
    messages = " ".join(e.value for e in at.error)
    assert "rating" in messages and "row 2" in messages


def test_empty_upload_is_reported():
    at = _upload(open_page(PAGE), b"")
    assert not at.exception
    assert any("empty" in e.value.lower() for e in at.error)


def _steps(at) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "step" in d.value.columns)


def test_cleaning_controls_change_the_preview_before_saving():
    at = _upload(open_page(PAGE), _csv(n_users=30))
    at.number_input(key="data.pre.min_item").set_value(10).run()
    kcore = _steps(at).set_index("step").loc["k-core filter"]
    assert kcore["interactions"].startswith("180 → ")
    assert kcore["interactions"] != "180 → 180"  # items with fewer than 10 interactions are removed
    # asking for more than any user has empties the data: a message says what to do, nothing crashes
    at.number_input(key="data.pre.min_user").set_value(7).run()
    assert not at.exception
    assert any("lower" in e.value.lower() for e in at.error), [e.value for e in at.error]


def test_save_makes_the_dataset_active(reclab_home):
    at = _upload(open_page(PAGE), _csv())
    _text_input(at, "Dataset name").set_value("my events").run()
    at.button(key="data.save").click().run()
    assert not at.exception
    assert (reclab_home / "datasets" / "my events" / "interactions.parquet").exists()
    assert any("Saved 'my events'" in s.value for s in at.success)
    assert any("my events" in m.value for m in at.sidebar.markdown)


def test_replacing_a_dataset_that_runs_use_says_their_data_is_kept(reclab_home):
    from recsys_core.runs.store import RunStore

    at = _upload(open_page(PAGE), _csv())
    _text_input(at, "Dataset name").set_value("my events").run()
    assert not any("trained on" in i.value for i in at.info)  # no such dataset yet
    at.button(key="data.save").click().run()
    RunStore(home=reclab_home).create(
        model="ease", data_ref={"kind": "dataset", "name": "my events"}, dataset_name="my events"
    )
    at.run()
    notes = [i.value for i in at.info if "trained on 'my events'" in i.value]
    assert notes and "1 run was trained" in notes[0] and "older version" in notes[0]


def test_pseudonymised_users_are_what_gets_saved(reclab_home):
    from recsys_core.data.store import DatasetStore

    at = _upload(open_page(PAGE), _csv(n_users=30))
    at.toggle(key="data.pre.pseudonymise").set_value(True).run()
    assert not at.exception
    steps = _steps(at).set_index("step")
    assert "30 user ids replaced" in steps.loc["Pseudonymise users", "what it did"]
    _text_input(at, "Dataset name").set_value("private").run()
    at.button(key="data.save").click().run()
    saved = DatasetStore().load("private")
    assert sorted(saved.interactions["user"].unique()) == list(range(1, 31))
    assert saved.info.preprocess["pseudonymise_users"] is True
