"""Messages that send the user to a Data-page option name the option as the page shows it."""

import socket
from pathlib import Path

import pytest

from recsys_core.data.movielens import download_movielens
from recsys_core.errors import DataError
from ui.sources import SOURCES


def test_offline_movielens_message_names_the_real_source_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DataError) as info:
        download_movielens("ml-100k", cache_dir=tmp_path, base_url=f"http://127.0.0.1:{port}", timeout=5)
    hint = info.value.hint
    assert f"'{SOURCES['path']}'" in hint  # "File or MovieLens folder on the server"
    assert f"'{SOURCES['upload']}'" in hint  # "Upload a file"
    assert "Load a local MovieLens folder" not in hint  # no such option on the page
