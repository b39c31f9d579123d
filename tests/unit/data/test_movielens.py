"""MovieLens: the three folder layouts, download through a local HTTP server, cache, offline, zip slip."""

from __future__ import annotations

import functools
import http.server
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from recsys_core.data.movielens import (
    MovieLensData,
    default_cache_dir,
    download_movielens,
    load_movielens,
    load_movielens_folder,
)
from recsys_core.errors import ConfigError, DataError

# ------------------------------------------------------------------------------------------ tiny folders
# 4 users, 4 items, 8 ratings; the same content in every layout.
RATINGS = [
    (1, 10, 4.0, 881250949),
    (1, 20, 3.0, 881250950),
    (2, 10, 5.0, 881250951),
    (2, 30, 1.0, 881250952),
    (3, 20, 2.0, 881250953),
    (3, 40, 4.0, 881250954),
    (4, 30, 3.0, 881250955),
    (4, 40, 5.0, 881250956),
]
MOVIES = [
    (10, "Toy Story (1995)", ["Animation", "Children's", "Comedy"]),
    (20, "GoldenEye (1995)", ["Action", "Adventure", "Thriller"]),
    (30, "Café Society (1995)", ["Drama"]),  # latin-1 é in the .item / .dat files
    (40, "Heat (1995)", ["Action", "Crime", "Thriller"]),
]
ML100K_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
]  # fmt: skip


def write_100k(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text("".join(f"{u}\t{i}\t{int(r)}\t{t}\n" for u, i, r, t in RATINGS))
    lines = []
    for item, title, genres in MOVIES:
        flags = "|".join("1" if g in genres else "0" for g in ML100K_GENRES)
        lines.append(f"{item}|{title}|01-Jan-1995||http://us.imdb.com/M/title-exact?x|{flags}\n")
    (folder / "u.item").write_bytes("".join(lines).encode("latin-1"))
    return folder


def write_dat(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.dat").write_text("".join(f"{u}::{i}::{int(r)}::{t}\n" for u, i, r, t in RATINGS))
    text = "".join(f"{i}::{title}::{'|'.join(g)}\n" for i, title, g in MOVIES)
    (folder / "movies.dat").write_bytes(text.encode("latin-1"))
    (folder / "users.dat").write_text("1::F::1::10::48067\n")
    return folder


def write_csv(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{u},{i},{r:.1f},{t}\n" for u, i, r, t in RATINGS)
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + rows)
    movies = "".join(f'{i},"{title}",{"|".join(g)}\n' for i, title, g in MOVIES)
    (folder / "movies.csv").write_text("movieId,title,genres\n" + movies, encoding="utf-8")
    return folder


def check_loaded(data: MovieLensData) -> None:
    df = data.interactions
    assert list(df.columns) == ["user", "item", "rating", "timestamp"]
    assert len(df) == len(RATINGS)
    assert df["user"].dtype == np.int64
    assert df["item"].dtype == np.int64
    assert df["rating"].dtype == np.float32
    assert df["timestamp"].dtype == np.int64
    assert df["user"].tolist() == [r[0] for r in RATINGS]
    assert df["rating"].tolist() == [r[2] for r in RATINGS]
    assert df["timestamp"].tolist() == [r[3] for r in RATINGS]
    assert data.items is not None
    items = data.items.set_index("item")
    assert items.loc[30, "title"] == "Café Society (1995)"
    assert list(items.loc[20, "genres"]) == ["Action", "Adventure", "Thriller"]
    assert sorted(items.index) == [10, 20, 30, 40]


def test_load_ml100k_folder(tmp_path: Path) -> None:
    data = load_movielens_folder(write_100k(tmp_path / "ml-100k"))
    check_loaded(data)
    assert data.name == "ml-100k"
    assert data.info.format == "movielens-100k"
    assert data.folder == tmp_path / "ml-100k"


def test_load_dat_folder(tmp_path: Path) -> None:
    data = load_movielens_folder(write_dat(tmp_path / "ml-1m"))
    check_loaded(data)
    assert data.name == "ml-1m"
    assert data.info.format == "movielens-dat"


def test_load_csv_folder(tmp_path: Path) -> None:
    data = load_movielens_folder(write_csv(tmp_path / "ml-latest-small"))
    check_loaded(data)
    assert data.name == "ml-latest-small"
    assert data.info.format == "movielens-csv"


def test_dataset_in_a_single_subfolder_is_found(tmp_path: Path) -> None:
    write_100k(tmp_path / "download" / "ml-100k")
    data = load_movielens_folder(tmp_path / "download")
    assert data.name == "ml-100k"
    assert len(data.interactions) == len(RATINGS)


def test_missing_movies_file_gives_a_warning(tmp_path: Path) -> None:
    folder = write_csv(tmp_path / "mine")
    (folder / "movies.csv").unlink()
    data = load_movielens_folder(folder)
    assert data.items is None
    assert data.name == "MovieLens (ratings.csv)"
    assert any(w.code == "movies_missing" for w in data.warnings)


def test_not_movielens_lists_what_it_found(tmp_path: Path) -> None:
    folder = tmp_path / "stuff"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    (folder / "movies.dat").write_text("1::Toy Story (1995)::Comedy\n")
    (folder / "sub").mkdir()
    with pytest.raises(DataError) as info:
        load_movielens_folder(folder)
    err = info.value
    assert err.code == "not_movielens"
    assert "movies.dat" in err.message
    assert "notes.txt" in err.message
    assert "u.data" in err.message
    assert err.hint


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_movielens_folder(tmp_path / "nope")
    assert info.value.code == "not_found"


# ------------------------------------------------------------------------------------- download (local)
def zip_folder(folder: Path, root: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{root}/{path.relative_to(folder).as_posix()}")
    return buf.getvalue()


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path, list[str]]]:
    """A local HTTP server in a thread, serving ``tmp_path/www``; yields (base_url, www, requested paths)."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    www = tmp_path / "www"
    www.mkdir()
    requested: list[str] = []

    class Handler(_Handler):
        def do_GET(self) -> None:
            requested.append(self.path)
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/datasets", www, requested
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_download_then_cache_hit(tmp_path: Path, server: tuple[str, Path, list[str]]) -> None:
    base_url, www, requested = server
    (www / "datasets").mkdir()
    (www / "datasets" / "ml-100k.zip").write_bytes(zip_folder(write_100k(tmp_path / "src"), "ml-100k"))
    cache = tmp_path / "cache"

    folder = download_movielens("ml-100k", cache_dir=cache, base_url=base_url)
    assert folder == cache / "ml-100k"
    assert (folder / "u.data").is_file()
    assert requested == ["/datasets/ml-100k.zip"]
    # nothing left behind but the dataset folder (no zip, no temp files)
    assert sorted(p.name for p in cache.iterdir()) == ["ml-100k"]

    again = download_movielens("ml-100k", cache_dir=cache, base_url=base_url)
    assert again == folder
    assert requested == ["/datasets/ml-100k.zip"]  # no second request

    data = load_movielens("ml-100k", cache_dir=cache)  # cached: works without any server
    check_loaded(data)


def test_download_default_cache_dir_under_reclab_home(
    tmp_path: Path, server: tuple[str, Path, list[str]], reclab_home: Path
) -> None:
    base_url, www, _ = server
    (www / "datasets").mkdir()
    (www / "datasets" / "ml-latest-small.zip").write_bytes(zip_folder(write_csv(tmp_path / "s"), "ml-latest-small"))
    assert default_cache_dir() == reclab_home / "cache" / "movielens"
    folder = download_movielens("ml-latest-small", base_url=base_url)
    assert folder == reclab_home / "cache" / "movielens" / "ml-latest-small"
    assert (folder / "ratings.csv").is_file()


def test_server_error_is_download_failed(tmp_path: Path, server: tuple[str, Path, list[str]]) -> None:
    base_url, _, _ = server  # serves nothing: 404
    with pytest.raises(DataError) as info:
        download_movielens("ml-100k", cache_dir=tmp_path / "cache", base_url=base_url)
    err = info.value
    assert err.code == "download_failed"
    assert "404" in err.message
    assert "File or MovieLens folder on the server" in err.hint
    assert not (tmp_path / "cache" / "ml-100k").exists()


def test_offline_is_download_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as info:
        download_movielens("ml-100k", cache_dir=cache, base_url=f"http://127.0.0.1:{port}", timeout=5)
    err = info.value
    assert err.code == "download_failed"
    assert err.message.startswith(f"could not reach http://127.0.0.1:{port}/ml-100k.zip: ")
    assert "upload the zip" in err.hint
    assert list(cache.iterdir()) == []  # no partial files


def test_not_a_zip_is_download_failed(tmp_path: Path, server: tuple[str, Path, list[str]]) -> None:
    base_url, www, _ = server
    (www / "datasets").mkdir()
    (www / "datasets" / "ml-100k.zip").write_bytes(b"<html>maintenance</html>")
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as info:
        download_movielens("ml-100k", cache_dir=cache, base_url=base_url)
    assert info.value.code == "download_failed"
    assert "not a valid zip" in info.value.message
    assert list(cache.iterdir()) == []


def test_zip_slip_member_is_rejected(tmp_path: Path, server: tuple[str, Path, list[str]]) -> None:
    base_url, www, _ = server
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ml-100k/u.data", "1\t1\t5\t881250949\n")
        zf.writestr("ml-100k/../../evil.txt", "gotcha")
    (www / "datasets").mkdir()
    (www / "datasets" / "ml-100k.zip").write_bytes(buf.getvalue())
    cache = tmp_path / "deep" / "cache"
    with pytest.raises(DataError) as info:
        download_movielens("ml-100k", cache_dir=cache, base_url=base_url)
    assert info.value.code == "unsafe_archive"
    assert "evil.txt" in info.value.message
    assert not list(tmp_path.rglob("evil.txt"))
    assert not (cache / "ml-100k").exists()


def test_absolute_member_is_rejected(tmp_path: Path, server: tuple[str, Path, list[str]]) -> None:
    base_url, www, _ = server
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ml-100k/u.data", "1\t1\t5\t881250949\n")
        zf.writestr(zipfile.ZipInfo("/tmp/evil.txt"), "gotcha")
    (www / "datasets").mkdir()
    (www / "datasets" / "ml-100k.zip").write_bytes(buf.getvalue())
    with pytest.raises(DataError) as info:
        download_movielens("ml-100k", cache_dir=tmp_path / "cache", base_url=base_url)
    assert info.value.code == "unsafe_archive"


def test_zip_without_movielens_folder(tmp_path: Path, server: tuple[str, Path, list[str]]) -> None:
    base_url, www, _ = server
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("something/readme.txt", "hi")
    (www / "datasets").mkdir()
    (www / "datasets" / "ml-100k.zip").write_bytes(buf.getvalue())
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as info:
        download_movielens("ml-100k", cache_dir=cache, base_url=base_url)
    assert info.value.code == "not_movielens"
    assert list(cache.iterdir()) == []


def test_unknown_dataset_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        download_movielens("ml-999", cache_dir=tmp_path)
    assert info.value.field == "name"


# ------------------------------------------------------------------------------------ the real datasets
@pytest.mark.shared_data
def test_real_ml100k(shared_data: Path) -> None:
    folder = shared_data / "ml-100k"
    if not folder.is_dir():
        pytest.skip("ml-100k is not in ../shared/data")
    data = load_movielens_folder(folder)
    df = data.interactions
    assert len(df) == 100_000
    assert df["user"].nunique() == 943
    assert df["item"].nunique() == 1_682
    assert data.items is not None
    assert len(data.items) == 1_682
    assert data.items["title"].notna().all()
    assert data.items.set_index("item").loc[1, "title"] == "Toy Story (1995)"
    assert float(df["rating"].mean()) == pytest.approx(3.52986, abs=1e-5)
    assert data.warnings == []


@pytest.mark.shared_data
def test_real_ml_latest_small(shared_data: Path) -> None:
    folder = shared_data / "ml-latest-small"
    if not folder.is_dir():
        pytest.skip("ml-latest-small is not in ../shared/data")
    data = load_movielens_folder(folder)
    df = data.interactions
    assert len(df) == 100_836
    assert df["user"].nunique() == 610
    assert df["item"].nunique() == 9_724
    assert data.items is not None
    assert len(data.items) == 9_742
    assert data.info.format == "movielens-csv"
    # 18 movies in movies.csv were never rated
    unmatched = [w for w in data.warnings if w.code == "metadata_unmatched"]
    assert len(unmatched) == 1
    assert "18" in unmatched[0].message


@pytest.mark.shared_data
def test_real_ml1m_without_ratings_is_not_movielens(shared_data: Path) -> None:
    folder = shared_data / "ml-1m"
    if not folder.is_dir() or (folder / "ratings.dat").exists():
        pytest.skip("needs ../shared/data/ml-1m without ratings.dat")
    with pytest.raises(DataError) as info:
        load_movielens_folder(folder)
    assert info.value.code == "not_movielens"
    assert "movies.dat" in info.value.message
