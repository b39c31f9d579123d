"""to_canonical: the canonical frame, every data error with its rows, and the warnings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.data import validate
from recsys_core.data.schema import ColumnMapping
from recsys_core.data.validate import _duplicate_pairs, canonical_ids, to_canonical
from recsys_core.errors import DataError

FULL = ColumnMapping("u", "i", "r", "t")
NO_TIME = ColumnMapping("u", "i", "r")


def log(**columns: object) -> pd.DataFrame:
    base = {
        "u": [1, 2, 3, 1],
        "i": [10, 20, 10, 30],
        "r": [4.0, 3.5, 5.0, 1.0],
        "t": [1_600_000_000 + k for k in range(4)],
    }
    base.update(columns)
    return pd.DataFrame(base)


def codes(err: pytest.ExceptionInfo[DataError]) -> str:
    return err.value.code


# ---------------------------------------------------------------------------------------------- the frame


def test_canonical_frame_dtypes_order_and_index() -> None:
    raw = log()
    raw.index = [7, 5, 3, 1]
    frame, warnings = to_canonical(raw, FULL, file="x.csv")
    assert list(frame.columns) == ["user", "item", "rating", "timestamp"]
    assert [str(d) for d in frame.dtypes] == ["int64", "int64", "float32", "int64"]
    assert isinstance(frame.index, pd.RangeIndex) and frame.index[0] == 0
    assert frame["item"].tolist() == [10, 20, 10, 30] and warnings == []


def test_optional_columns_are_left_out() -> None:
    frame, _ = to_canonical(log(), ColumnMapping("u", "i"))
    assert list(frame.columns) == ["user", "item"]


def test_input_is_not_modified() -> None:
    raw = log(u=[" a", "b ", "a", "c"], t=["2024-01-01"] * 4)
    before = raw.copy()
    to_canonical(raw, FULL)
    pd.testing.assert_frame_equal(raw, before)


def test_id_rules() -> None:
    whole = canonical_ids(pd.Series([1.0, 2.0, 3.0]), column="u")
    assert whole.dtype == np.int64 and whole.tolist() == [1, 2, 3]
    text = canonical_ids(pd.Series([" a", "b ", "c"]), column="u")
    assert text.tolist() == ["a", "b", "c"] and pd.api.types.is_string_dtype(text)
    numeric_text = canonical_ids(pd.Series(["42", " 7", "1000"]), column="u")
    assert numeric_text.dtype == np.int64 and numeric_text.tolist() == [42, 7, 1000]
    codes_with_zeros = canonical_ids(pd.Series(["007", "7"]), column="u")
    assert codes_with_zeros.tolist() == ["007", "7"]
    mixed = canonical_ids(pd.Series([1, "x", 2], dtype=object), column="u")
    assert mixed.tolist() == ["1", "x", "2"]
    fractional = canonical_ids(pd.Series([1.5, 2.0]), column="u")
    assert fractional.tolist() == ["1.5", "2.0"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1_600_000_000, 1_600_000_060], [1_600_000_000, 1_600_000_060]),  # seconds
        ([1_600_000_000_123, 1_600_000_060_999], [1_600_000_000, 1_600_000_060]),  # milliseconds
        ([1_600_000_000_000_000, 1_600_000_060_000_000], [1_600_000_000, 1_600_000_060]),  # microseconds
        ([1.6e9 + 0.5, 1.6e9 + 60.9], [1_600_000_000, 1_600_000_060]),  # float seconds
        (["1600000000", "1600000060"], [1_600_000_000, 1_600_000_060]),  # numbers as text
        (["2020-09-13 12:26:40", "2020-09-13 12:27:40"], [1_600_000_000, 1_600_000_060]),  # naive = UTC
        (["2020-09-13T14:26:40+02:00", "2020-09-13T12:27:40Z"], [1_600_000_000, 1_600_000_060]),
        (["2020-09-13 12:26:40", "13 Sep 2020 12:27:40"], [1_600_000_000, 1_600_000_060]),  # mixed formats
    ],
)
def test_timestamps_become_epoch_seconds(values: list, expected: list[int]) -> None:
    raw = pd.DataFrame({"u": [1, 2], "i": [1, 2], "r": [1.0, 2.0], "t": values})
    frame, _ = to_canonical(raw, FULL)
    assert frame["timestamp"].dtype == np.int64 and frame["timestamp"].tolist() == expected


def test_datetime_columns_from_parquet() -> None:
    naive = pd.to_datetime(["2020-09-13 12:26:40", "2020-09-13 12:27:40"])
    aware = naive.tz_localize("Europe/Berlin")
    for values, expected in ((naive, 1_600_000_000), (aware, 1_600_000_000 - 7_200)):
        raw = pd.DataFrame({"u": [1, 2], "i": [1, 2], "r": [1.0, 2.0], "t": values})
        frame, _ = to_canonical(raw, FULL)
        assert frame["timestamp"].iloc[0] == expected


def test_decimal_commas_are_read() -> None:
    frame, _ = to_canonical(log(r=["3,5", "4,0", "1,5", "2,0"]), FULL)
    assert frame["rating"].tolist() == [3.5, 4.0, 1.5, 2.0]


# ---------------------------------------------------------------------------------------------- errors


def test_missing_ids_name_rows_and_column() -> None:
    with pytest.raises(DataError) as err:
        to_canonical(log(i=[10, None, 10, np.nan]), FULL, file="x.csv")
    e = err.value
    assert codes(err) == "missing_id" and e.column == "i" and e.rows == [2, 4] and e.n_rows == 2
    assert "rows 2, 4" in e.message and "x.csv" in e.message
    with pytest.raises(DataError) as err:
        to_canonical(log(u=["a", " ", "b", "c"]), FULL)
    assert codes(err) == "missing_id" and err.value.rows == [2]


def test_non_numeric_ratings_show_rows_and_values() -> None:
    with pytest.raises(DataError) as err:
        to_canonical(log(r=["4", "good", "5", "n/a?"]), FULL, file="x.csv")
    e = err.value
    assert codes(err) == "bad_rating" and e.rows == [2, 4] and e.column == "r"
    assert [s["r"] for s in e.sample] == ["good", "n/a?"] and e.sample[0]["row"] == 2
    assert "rows 2, 4" in e.message


def test_missing_ratings_are_named_with_the_non_numeric_ones() -> None:
    """One message for a file with both kinds of bad rating, so it is fixed in one go (not twice)."""
    with pytest.raises(DataError) as err:
        to_canonical(log(r=["five", "4", None, "??"]), FULL, file="x.csv")
    e = err.value
    assert codes(err) == "bad_rating" and e.rows == [1, 3, 4] and e.n_rows == 3
    assert "2 ratings are not a number and 1 row has no rating" in e.message


def test_nan_ratings() -> None:
    with pytest.raises(DataError) as err:
        to_canonical(log(r=[4.0, np.nan, 5.0, 1.0]), FULL)
    assert codes(err) == "missing_rating" and err.value.rows == [2]
    with pytest.raises(DataError) as err:
        to_canonical(log(r=["4", "", "5", None]), FULL)
    assert codes(err) == "missing_rating" and err.value.rows == [2, 4]


def test_unparseable_timestamps_show_rows_and_values() -> None:
    with pytest.raises(DataError) as err:
        to_canonical(log(t=["2024-01-01", "2024-01-02", "yesterday", "2024-01-04"]), FULL)
    e = err.value
    assert codes(err) == "bad_timestamp" and e.rows == [3] and e.sample[0]["t"] == "yesterday"
    with pytest.raises(DataError) as err:
        to_canonical(log(t=[1.6e9, np.nan, 1.6e9, 1.6e9]), FULL)
    assert codes(err) == "bad_timestamp" and err.value.rows == [2]


def test_single_user_and_single_item() -> None:
    with pytest.raises(DataError) as err:
        to_canonical(log(u=[5, 5, 5, 5]), FULL)
    assert codes(err) == "single_user" and "at least 2" in err.value.hint
    with pytest.raises(DataError) as err:
        to_canonical(log(i=["x", "x", "x", "x"]), FULL)
    assert codes(err) == "single_item"


def test_no_rows_and_missing_column() -> None:
    with pytest.raises(DataError) as err:
        to_canonical(log().iloc[:0], FULL)
    assert codes(err) == "no_rows"
    with pytest.raises(DataError) as err:
        to_canonical(log(), ColumnMapping("u", "item"))
    assert codes(err) == "missing_column" and err.value.column == "item" and "'i'" in err.value.hint


# ---------------------------------------------------------------------------------------------- warnings


def test_duplicates_warning_counts_and_rows() -> None:
    raw = log(u=[1, 2, 1, 1], i=[10, 20, 10, 10])
    _, warnings = to_canonical(raw, FULL)
    (w,) = [w for w in warnings if w.code == "duplicates"]
    assert w.n_rows == 2 and w.rows == (3, 4) and "duplicate policy" in w.hint


@pytest.mark.parametrize("layout", ["random", "threaded", "sorted", "strings"])
def test_duplicate_detection_matches_pandas(layout: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if layout == "threaded":  # big inputs hash in threads; exercise that path on a small one
        monkeypatch.setattr(validate, "_THREADED_ROWS", 1_000)
        monkeypatch.setattr(validate.os, "cpu_count", lambda: 3)
    rng = np.random.default_rng(7)
    n = 60_000
    users, items = rng.integers(0, 300, n), rng.integers(0, 400, n)  # ~25k repeated pairs
    frame = pd.DataFrame({"u": users, "i": items})
    if layout == "sorted":
        frame = frame.sort_values(["u", "i"], kind="stable", ignore_index=True)
    if layout == "strings":
        frame = frame.astype(str)
    expected = np.flatnonzero(frame.duplicated().to_numpy()) + 1
    count, rows = _duplicate_pairs(frame["u"], frame["i"])
    assert count == expected.size > 0 and rows == expected[:5].tolist()


@pytest.mark.parametrize(
    ("layout", "slots", "block_rows", "blocks"),
    [
        ("user_sorted", 1 << 20, 4096, True),  # one block: the whole key range fits the table
        ("user_sorted", 1 << 10, 64, True),  # many blocks of two users each
        ("user_sorted", 1 << 10, 1 << 20, False),  # too many blocks: falls back to the hash filter
        ("grouped", 1 << 10, 64, True),  # each user one run, users in no particular order
        ("user_sorted_wide_items", 1 << 10, 64, False),  # the item range is wider than the largest table
    ],
)
def test_duplicates_of_data_grouped_by_user_match_pandas(
    layout: str, slots: int, block_rows: int, blocks: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validate, "_GROUP_SLOTS", slots)
    monkeypatch.setattr(validate, "_MAX_GROUP_SLOTS", max(slots, 1 << 12))
    monkeypatch.setattr(validate, "_GROUP_BLOCK_ROWS", block_rows)
    calls: list[np.ndarray | None] = []
    grouped = validate._grouped_repeats

    def spy(*args: object) -> np.ndarray | None:
        calls.append(grouped(*args))  # type: ignore[arg-type]
        return calls[-1]

    monkeypatch.setattr(validate, "_grouped_repeats", spy)
    rng = np.random.default_rng(11)
    n = 40_000
    users = np.sort(rng.integers(-50, 250, n))  # negative ids too
    items = rng.integers(0, 400, n) * (20 if layout == "user_sorted_wide_items" else 1) - 7
    if layout == "grouped":  # relabel users so that their runs are in shuffled id order
        relabel = rng.permutation(10_000)[:300] * 1_000
        users = relabel[users + 50]
    frame = pd.DataFrame({"u": users, "i": items})
    expected = np.flatnonzero(frame.duplicated().to_numpy()) + 1
    count, rows = _duplicate_pairs(frame["u"], frame["i"])
    assert count == expected.size > 0 and rows == expected[:5].tolist()
    assert [r is not None for r in calls] == [blocks]  # the path under test was taken
    unique = frame.drop_duplicates(ignore_index=True)
    assert _duplicate_pairs(unique["u"], unique["i"]) == (0, [])


def test_users_that_come_back_are_not_taken_as_grouped() -> None:
    # user 1's rows in two runs (long ones, so that the grouping check runs), repeating item 3 in the second
    users = pd.Series([1] * 10 + [2] * 10 + [1] * 10)
    items = pd.Series(list(range(10)) * 2 + list(range(3, 13)))
    assert _duplicate_pairs(users, items) == (7, [21, 22, 23, 24, 25])


def test_no_duplicates_in_unsorted_data() -> None:
    rng = np.random.default_rng(3)
    pairs = rng.permutation(1_000_000)[:50_000]
    count, rows = _duplicate_pairs(pd.Series(pairs // 1000), pd.Series(pairs % 1000))
    assert (count, rows) == (0, [])


def test_rating_scale_warnings() -> None:
    counts = log(r=[1.0, 352_698.0, 17.0, 3.0])
    (w,) = to_canonical(counts, FULL)[1]
    assert w.code == "rating_scale" and "counts (1..352,698)" in w.what and "implicit" in w.hint
    (w,) = to_canonical(log(r=[-1.0, 1.0, 1.0, -1.0]), FULL)[1]
    assert w.code == "rating_scale" and "negative" in w.what
    many = pd.DataFrame({"u": np.arange(100) % 7, "i": np.arange(100), "r": np.linspace(0.1, 9.9, 100)})
    (w,) = to_canonical(many, NO_TIME)[1]
    assert w.code == "rating_scale" and "100 distinct values" in w.what


def test_constant_ratings_warn_implicit() -> None:
    (w,) = to_canonical(log(r=[1.0, 1.0, 1.0, 1.0]), FULL)[1]
    assert w.code == "constant_rating" and "implicit" in w.what
