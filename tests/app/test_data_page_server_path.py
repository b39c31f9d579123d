"""The "File or MovieLens folder on the server" source reads only below the allowed folders (QA round 2):
a browser user must not read any file the server process can."""

from __future__ import annotations

from tests.app.conftest import open_page

PAGE = "app_pages/data.py"
LOG = b"user,item,rating\n1,10,4\n1,11,5\n2,10,3\n2,12,4\n3,11,2\n3,12,5\n"


def _read_path(at, path: str):
    at.segmented_control(key="data.source").set_value("path").run()
    at.text_input(key="data.path").set_value(path).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_file_outside_the_allowed_folders_is_refused_with_how_to_allow_it(tmp_path, monkeypatch):
    allowed = tmp_path / "data"
    allowed.mkdir()
    monkeypatch.setenv("RECLAB_SERVER_PATHS", str(allowed))
    at = _read_path(open_page(PAGE), "/etc/passwd")
    messages = " ".join(e.value for e in at.error)
    assert "outside the folders the dashboard reads from" in messages and str(allowed) in messages
    assert "RECLAB_SERVER_PATHS" in messages
    outside = tmp_path / "secret.csv"
    outside.write_bytes(LOG)
    link = allowed / "link.csv"
    link.symlink_to(outside)  # a link out of an allowed folder does not get around it
    at = _read_path(at, str(link))
    assert any("outside the folders" in e.value for e in at.error)


def test_a_file_in_an_allowed_folder_is_read(tmp_path, monkeypatch):
    monkeypatch.setenv("RECLAB_SERVER_PATHS", str(tmp_path))
    path = tmp_path / "events.csv"
    path.write_bytes(LOG)
    at = _read_path(open_page(PAGE), str(path))
    assert not at.error, [e.value for e in at.error]


def test_a_folder_whose_file_links_outside_is_refused(tmp_path, monkeypatch):
    # QA round 3: a MovieLens folder's ratings.csv linked to a file outside the allowed folders was read
    allowed = tmp_path / "data"
    folder = allowed / "ml-latest-small"
    folder.mkdir(parents=True)
    outside = tmp_path / "outside.csv"
    outside.write_bytes(b"userId,movieId,rating,timestamp\n1,1,4.0,1\n")
    (folder / "ratings.csv").symlink_to(outside)
    monkeypatch.setenv("RECLAB_SERVER_PATHS", str(allowed))
    at = _read_path(open_page(PAGE), str(folder))
    assert any("links to a file outside the folders" in e.value for e in at.error)
