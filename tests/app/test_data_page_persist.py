"""Data page: work in progress survives a visit to another page."""

import io

import pandas as pd

from tests.app.conftest import open_page

PAGE = "app_pages/data.py"
OTHER = "app_pages/home.py"


def _log() -> bytes:
    rows = [
        (u, (u * 7 + 3 * k) % 60, 1 + (u + k) % 5, 1_600_000_000 + 86_400 * k) for u in range(40) for k in range(12)
    ]
    buf = io.StringIO()
    pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"]).to_csv(buf, index=False)
    return buf.getvalue().encode()


LOG = _log()
META = b"item,title,genres\n" + b"".join(f"{i},Movie {i},Drama|Comedy\n".encode() for i in range(60))


def _select(at, label: str):
    return next(s for s in at.selectbox if s.label == label)


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _away_and_back(at):
    at.switch_page(OTHER).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value != "Data"
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _prepared():
    """Upload a log and metadata, change the mapping, cleaning and split settings."""
    at = open_page(PAGE)
    at.segmented_control(key="data.source").set_value("upload").run()
    at.file_uploader(key="data.upload").set_value(("events.csv", LOG, "text/csv")).run()
    at.file_uploader(key="data.upload_meta").set_value(("movies.csv", META, "text/csv")).run()
    _select(at, "Timestamp column").set_value("(none)").run()
    at.number_input(key="data.pre.min_user").set_value(3).run()
    at.selectbox(key="data.pre.duplicates").set_value("mean").run()
    at.slider(key="data.split.test").set_value(0.3).run()
    at.number_input(key="data.split.seed").set_value(7).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def test_upload_mapping_cleaning_split_and_metadata_survive_another_page():
    at = _prepared()
    before = _metrics(at)
    at = _away_and_back(at)
    assert at.segmented_control(key="data.source").value == "upload"
    infos = [i.value for i in at.info]
    assert f"Using the earlier upload 'events.csv' ({len(LOG):,} bytes). Upload another file to replace it." in infos
    assert f"Using the earlier upload 'movies.csv' ({len(META):,} bytes). Upload another file to replace it." in infos
    assert _select(at, "Timestamp column").value == "(none)"
    assert any("No timestamp column" in i for i in infos)  # and the page uses that mapping
    assert at.number_input(key="data.pre.min_user").value == 3
    assert at.selectbox(key="data.pre.duplicates").value == "mean"
    assert at.slider(key="data.split.test").value == 0.3
    assert at.number_input(key="data.split.seed").value == 7
    assert _metrics(at) == before
    assert not any("metadata" in w.value.lower() and "no" in w.value.lower() for w in at.warning)
    assert any(b.label == "Save and make active" for b in at.button)


def test_saving_after_coming_back_stores_the_kept_upload_and_settings(reclab_home):
    at = _away_and_back(_prepared())
    next(t for t in at.text_input if t.label == "Dataset name").set_value("kept").run()
    at.button(key="data.save").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    saved = pd.read_parquet(reclab_home / "datasets" / "kept" / "interactions.parquet")
    assert "timestamp" not in saved.columns  # the mapping chosen before the visit
    assert (reclab_home / "datasets" / "kept" / "items.parquet").exists()  # the metadata kept too


def test_discarding_the_kept_upload_forgets_it():
    at = _away_and_back(_prepared())
    at.button(key="data.upload.discard").click().run()
    assert not at.exception
    assert any(i.value.startswith("Upload a file with one row per interaction") for i in at.info)
    assert "Users" not in _metrics(at)
    at = _away_and_back(at)
    assert any(i.value.startswith("Upload a file with one row per interaction") for i in at.info)


def test_removing_the_file_from_the_uploader_forgets_it_too():
    at = open_page(PAGE)
    at.segmented_control(key="data.source").set_value("upload").run()
    at.file_uploader(key="data.upload").set_value(("events.csv", LOG, "text/csv")).run()
    assert "Users" in _metrics(at)
    at.number_input(key="data.pre.min_user").set_value(2).run()  # another rerun with the file held
    at.file_uploader(key="data.upload").clear().run()
    assert not any("Using the earlier upload" in i.value for i in at.info)
    assert "Users" not in _metrics(at)


def test_the_kept_upload_is_used_through_later_reruns_and_replaced_by_a_new_upload():
    at = _away_and_back(_prepared())
    at.number_input(key="data.pre.min_user").set_value(4).run()  # a rerun with the uploader empty
    assert any(i.value.startswith("Using the earlier upload 'events.csv'") for i in at.info)
    assert "Users" in _metrics(at)
    other = b"user,item\n" + b"".join(f"u{u},i{(u * 3 + k) % 9}\n".encode() for u in range(10) for k in range(5))
    at.file_uploader(key="data.upload").set_value(("other.csv", other, "text/csv")).run()
    assert not any(i.value.startswith("Using the earlier upload 'events.csv'") for i in at.info)
    assert _metrics(at)["Users"] == "10"
    # the new file starts from its own mapping: it has no rating or timestamp column
    assert _select(at, "Rating column").value == "(none)"
    assert at.session_state["data.upload.kept"].name == "other.csv"  # only the latest upload is kept


def test_the_server_path_and_synthetic_settings_survive_another_page(tmp_path, monkeypatch):
    monkeypatch.setenv("RECLAB_SERVER_PATHS", str(tmp_path))
    path = tmp_path / "events.csv"
    path.write_bytes(LOG)
    at = open_page(PAGE)
    at.segmented_control(key="data.source").set_value("path").run()
    at.text_input(key="data.path").set_value(str(path)).run()
    _select(at, "Rating column").set_value("(none)").run()
    at = _away_and_back(at)
    assert at.segmented_control(key="data.source").value == "path"
    assert at.text_input(key="data.path").value == str(path)
    assert _select(at, "Rating column").value == "(none)"
    assert any("No rating column" in i.value for i in at.info)

    at.segmented_control(key="data.source").set_value("synthetic").run()
    at.number_input(key="data.syn.users").set_value(50).run()
    at.number_input(key="data.syn.n").set_value(500).run()
    at = _away_and_back(at)
    assert at.segmented_control(key="data.source").value == "synthetic"
    assert at.number_input(key="data.syn.users").value == 50
    assert _metrics(at)["Interactions"] == "500"
