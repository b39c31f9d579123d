"""detect_columns: by name, by content, overrides, and the errors a user can act on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.data.columns import ColumnDetection, detect_columns, is_known_column_name, name_score
from recsys_core.data.schema import ColumnMapping
from recsys_core.errors import ConfigError, DataError


def numeric_log(n: int = 300, seed: int = 0, *, names: list[str] | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {
        "a": rng.integers(1, 500, n),
        "b": rng.integers(1, 2_000, n),
        "c": rng.integers(1, 6, n),
        "d": rng.integers(880_000_000, 900_000_000, n),
    }
    frame = pd.DataFrame(data)
    frame.columns = names or [f"col_{k}" for k in range(1, 5)]
    return frame


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (["userId", "movieId", "rating", "timestamp"], ("userId", "movieId", "rating", "timestamp")),
        (
            ["customer_id", "product_id", "quantity", "event_time"],
            ("customer_id", "product_id", "quantity", "event_time"),
        ),
        (["visitorid", "itemid", "created_at"], ("visitorid", "itemid", None, "created_at")),
        (["User ID", "ISBN", "Book-Rating"], ("User ID", "ISBN", "Book-Rating", None)),
        (["userID", "artistID", "weight"], ("userID", "artistID", "weight", None)),
        (["session", "track", "plays", "ts"], ("session", "track", "plays", "ts")),
    ],
)
def test_detects_by_name(columns: list[str], expected: tuple) -> None:
    frame = pd.DataFrame({c: [1, 2, 3] for c in columns})
    frame[columns[0]] = [10, 11, 12]
    detection = detect_columns(frame)
    m = detection.mapping
    assert (m.user, m.item, m.rating, m.timestamp) == expected
    assert "name" in detection.reasons["user"]


def test_generic_numeric_columns_map_to_user_item_rating_timestamp() -> None:
    detection = detect_columns(numeric_log())
    assert detection.mapping == ColumnMapping("col_1", "col_2", "col_3", "col_4")
    assert "epoch" in detection.reasons["timestamp"]
    assert detection.candidates["timestamp"][0] == "col_4"


def test_content_recognises_milliseconds_dates_and_play_counts() -> None:
    rng = np.random.default_rng(1)
    n = 200
    frame = pd.DataFrame(
        {
            "col_1": rng.integers(1, 50, n),
            "col_2": [f"artist-{k}" for k in rng.integers(1, 80, n)],
            "col_3": rng.integers(1, 100_000, n),  # play counts
            "col_4": rng.integers(1_500_000_000_000, 1_600_000_000_000, n),  # epoch milliseconds
        }
    )
    assert detect_columns(frame).mapping == ColumnMapping("col_1", "col_2", "col_3", "col_4")
    frame["col_4"] = pd.date_range("2024-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M:%S")
    assert detect_columns(frame).mapping.timestamp == "col_4"


def test_implicit_headerless_log_has_no_rating() -> None:
    frame = numeric_log()[["col_1", "col_2", "col_4"]]
    assert detect_columns(frame).mapping == ColumnMapping("col_1", "col_2", None, "col_4")


def test_fractional_ratings_win_over_position() -> None:
    frame = pd.DataFrame({"col_1": [1, 2, 3, 4], "col_2": [3.5, 4.0, 0.5, 5.0], "col_3": [7, 8, 9, 7]})
    m = detect_columns(frame).mapping
    assert (m.user, m.item, m.rating) == ("col_1", "col_3", "col_2")


def test_unknown_names_are_not_promoted_to_rating() -> None:
    frame = pd.DataFrame({"user": [1, 2], "item": [3, 4], "price": [9.99, 5.0], "Unnamed: 0": [0, 1]})
    m = detect_columns(frame).mapping
    assert m.rating is None and m.timestamp is None


def test_meaningless_names_are_decided_by_content() -> None:
    assert detect_columns(numeric_log(names=["a", "b", "c", "d"])).mapping == ColumnMapping("a", "b", "c", "d")


def test_full_and_partial_overrides_win() -> None:
    frame = numeric_log(names=["u", "i", "r", "t"])
    full = ColumnMapping(user="i", item="u", rating=None, timestamp="t")
    detection = detect_columns(frame, override=full)
    assert detection.mapping == full and detection.reasons["user"] == "set by you"
    partial = detect_columns(frame, override={"rating": None, "user": "U"})  # case-insensitive name
    assert partial.mapping == ColumnMapping("u", "i", None, "t")


def test_override_with_unknown_column_lists_the_columns() -> None:
    with pytest.raises(DataError) as err:
        detect_columns(numeric_log(names=["u", "i", "r", "t"]), override={"item": "movie"}, file="f.csv")
    e = err.value
    assert e.code == "missing_column" and e.column == "movie" and "'u', 'i', 'r', 't'" in e.hint
    assert "f.csv" in e.message


def test_override_with_unknown_role_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        detect_columns(numeric_log(), override={"users": "col_1"})


def test_missing_item_column() -> None:
    frame = pd.DataFrame({"user_id": [1, 2, 3], "rating": [1.5, 2.5, 3.5]})
    with pytest.raises(DataError) as err:
        detect_columns(frame, file="x.csv")
    e = err.value
    assert e.code == "missing_column" and "item" in e.what and "'user_id'" in e.hint and "--item-col" in e.hint


def test_two_equally_good_user_columns_are_ambiguous() -> None:
    frame = pd.DataFrame({"user": [1, 2], "user_id": [3, 4], "item": [5, 6]})
    with pytest.raises(DataError) as err:
        detect_columns(frame)
    assert err.value.code == "ambiguous_column" and "'user'" in err.value.what and "'user_id'" in err.value.what


def test_domain_synonym_does_not_compete_with_primary_name() -> None:
    frame = pd.DataFrame({"user_id": [1, 2], "session_id": [3, 4], "item_id": [5, 6]})
    assert detect_columns(frame).mapping.user == "user_id"


def test_headerless_file_without_id_like_columns_is_no_header() -> None:
    frame = pd.DataFrame({"col_1": [0.5, 0.25, 0.75], "col_2": [0.1, 0.2, 0.3]})
    with pytest.raises(DataError) as err:
        detect_columns(frame)
    assert err.value.code == "no_header"


def test_detection_result_type_and_name_helpers() -> None:
    detection = detect_columns(numeric_log(names=["user", "item", "rating", "timestamp"]))
    assert isinstance(detection, ColumnDetection)
    assert detection.candidates["user"][0] == "user"
    assert name_score("movie_title", "item") == 0 and name_score("movieId", "item") > 0
    assert is_known_column_name("userId") and not is_known_column_name("user1")
