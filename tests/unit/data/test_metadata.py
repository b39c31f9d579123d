"""read_item_metadata (MovieLens layouts and generic tables) and check_metadata_coverage."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from recsys_core.data.metadata import U_ITEM_GENRES, check_metadata_coverage, read_item_metadata, split_genres
from recsys_core.errors import DataError


def u_item_line(item: int, title: str, genres: set[str]) -> str:
    flags = "|".join("1" if g in genres else "0" for g in U_ITEM_GENRES)
    return f"{item}|{title}|01-Jan-1995||http://us.imdb.com/M/title-exact?x|{flags}"


def test_u_item_latin1_with_genre_flags(tmp_path: Path) -> None:
    lines = [
        u_item_line(1, "Toy Story (1995)", {"Animation", "Children's", "Comedy"}),
        u_item_line(2, "Amélie (2001)", {"Comedy", "Romance"}),
        u_item_line(3, "Unknown Film (1990)", set()),
    ]
    path = tmp_path / "u.item"
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    meta, warnings = read_item_metadata(path)
    assert list(meta.columns) == ["item", "title", "genres", "text"] and warnings == []
    assert meta["item"].tolist() == [1, 2, 3] and meta["title"][1] == "Amélie (2001)"
    assert meta["genres"].tolist() == [["Animation", "Children's", "Comedy"], ["Comedy", "Romance"], []]
    assert meta["text"].tolist() == ["", "", ""]


def test_movies_dat_double_colon_latin1() -> None:
    data = "1::Toy Story (1995)::Animation|Children's|Comedy\n2::Léon (1994)::Crime|Drama\n3::Heat (1995)::Action\n"
    meta, _ = read_item_metadata(data.encode("latin-1"), name="movies.dat")
    assert meta["title"].tolist() == ["Toy Story (1995)", "Léon (1994)", "Heat (1995)"]
    assert meta["genres"].tolist() == [["Animation", "Children's", "Comedy"], ["Crime", "Drama"], ["Action"]]


def test_movies_csv_with_quotes_and_no_genres() -> None:
    data = (
        b"movieId,title,genres\n"
        b'1,"American President, The (1995)",Comedy|Drama|Romance\n'
        b"2,Some Doc (2010),(no genres listed)\n"
    )
    meta, _ = read_item_metadata(data, name="movies.csv")
    assert meta["title"][0] == "American President, The (1995)"
    assert meta["genres"].tolist() == [["Comedy", "Drama", "Romance"], []]


def test_generic_csv_with_comma_separated_categories_and_description() -> None:
    data = (
        b"sku,product_name,category,description\n"
        b'A-1,Blue Mug,"kitchen, gifts",A mug that is blue\n'
        b"A-2,Red Pan,kitchen,\n"
    )
    meta, _ = read_item_metadata(data, name="products.csv")
    assert meta["item"].tolist() == ["A-1", "A-2"] and meta["title"].tolist() == ["Blue Mug", "Red Pan"]
    assert meta["genres"].tolist() == [["kitchen", "gifts"], ["kitchen"]]
    assert meta["text"].tolist() == ["A mug that is blue", ""]


def test_parquet_with_list_genres_and_jsonl(tmp_path: Path) -> None:
    frame = pd.DataFrame({"item_id": [5, 6], "title": ["A", "B"], "tags": [["x", "y"], []]})
    path = tmp_path / "items.parquet"
    frame.to_parquet(path)
    meta, _ = read_item_metadata(path)
    assert meta["item"].tolist() == [5, 6] and meta["genres"].tolist() == [["x", "y"], []]
    rows = [{"id": "7", "name": "C", "genre": "Jazz;Blues"}, {"id": "8", "name": "D", "genre": "Rock"}]
    meta, _ = read_item_metadata("\n".join(json.dumps(r) for r in rows).encode(), name="items.jsonl")
    assert meta["item"].tolist() == [7, 8] and meta["genres"].tolist() == [["Jazz", "Blues"], ["Rock"]]


def test_explicit_columns_win() -> None:
    data = b"code,label,kind,notes\n1,One,a|b,first\n2,Two,c,second\n"
    meta, _ = read_item_metadata(data, name="x.csv", item_col="code", title_col="notes", genres_col="kind")
    assert meta["title"].tolist() == ["first", "second"] and meta["genres"].tolist() == [["a", "b"], ["c"]]


def test_missing_item_column_errors() -> None:
    with pytest.raises(DataError) as err:
        read_item_metadata(b"title,genres\nA,x\nB,y\n", name="m.csv")
    assert err.value.code == "missing_column" and "'title'" in err.value.hint
    with pytest.raises(DataError) as err:
        read_item_metadata(b"movieId,title\n1,A\n2,B\n", name="m.csv", genres_col="genres")
    assert err.value.code == "missing_column" and err.value.column == "genres"


def test_duplicate_items_keep_first_with_warning() -> None:
    meta, warnings = read_item_metadata(b"movieId,title\n1,A\n2,B\n1,C\n", name="m.csv")
    assert meta["title"].tolist() == ["A", "B"]
    (w,) = warnings
    assert w.code == "duplicate_items" and w.rows == (3,) and w.n_rows == 1


def test_split_genres_variants() -> None:
    assert split_genres(pd.Series(["a|b", None, "(no genres listed)"])) == [["a", "b"], [], []]
    assert split_genres(pd.Series(["a, b", "c"])) == [["a", "b"], ["c"]]


def test_coverage_warnings_and_id_kind_normalisation() -> None:
    meta = pd.DataFrame({"item": [1, 2, 3, 4]})
    interactions = pd.DataFrame({"user": [1, 1, 2], "item": [2, 3, 99]})
    warnings = {w.code: w for w in check_metadata_coverage(meta, interactions)}
    assert warnings["metadata_unmatched"].n_rows == 2 and "e.g. 1, 4" in warnings["metadata_unmatched"].what
    assert warnings["items_without_metadata"].n_rows == 1 and "99" in warnings["items_without_metadata"].what
    as_text = pd.DataFrame({"item": ["1", "2", "3", "4"]})
    warnings = {w.code: w for w in check_metadata_coverage(as_text, interactions)}
    assert warnings["metadata_unmatched"].n_rows == 2
    assert check_metadata_coverage(meta, pd.DataFrame({"user": [1] * 4, "item": [4, 3, 2, 1]})) == []


@pytest.mark.shared_data
def test_shared_ml100k_u_item(shared_data: Path) -> None:
    path = shared_data / "ml-100k" / "u.item"
    if not path.exists():
        pytest.skip("ml-100k/u.item not present")
    meta, warnings = read_item_metadata(path)
    assert len(meta) == 1_682 and meta["item"].nunique() == 1_682 and warnings == []
    assert meta["title"][0] == "Toy Story (1995)" and meta["genres"][0] == ["Animation", "Children's", "Comedy"]
    assert (meta["genres"].map(len) > 0).all()
