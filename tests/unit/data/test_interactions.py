"""Interactions and IdIndex: encoding, decoding, sparse/tensor/history views, subsets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_core.data.interactions import IdIndex, Interactions
from recsys_core.data.schema import Counts
from recsys_core.errors import DataError


def frame(users, items, ratings=None, timestamps=None) -> pd.DataFrame:
    data = {"user": users, "item": items}
    if ratings is not None:
        data["rating"] = np.asarray(ratings, dtype=np.float32)
    if timestamps is not None:
        data["timestamp"] = np.asarray(timestamps, dtype=np.int64)
    return pd.DataFrame(data)


def random_frame(n: int = 500, seed: int = 0, *, string_ids: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 40, n) * 3 + 100
    items = rng.integers(0, 60, n) * 7
    f = frame(users, items, rng.integers(1, 6, n), rng.integers(0, 50, n))
    if string_ids:
        f["user"] = "u" + f["user"].astype(str)
        f["item"] = "item-" + f["item"].astype(str)
    return f


# ---------------------------------------------------------------------------------------------- IdIndex


def test_id_index_int_round_trip_and_lookup():
    index, codes = IdIndex.from_values(np.array([30, 10, 20, 10, 30], dtype=np.int64))
    assert index.kind == "int"
    assert index.ids.tolist() == [10, 20, 30]  # sorted
    assert codes.dtype == np.int32
    assert codes.tolist() == [2, 0, 1, 0, 2]
    assert len(index) == 3
    assert index.to_ids(codes).tolist() == [30, 10, 20, 10, 30]
    assert index.to_index([20, 30]).tolist() == [1, 2]
    assert index.to_index(np.array([20, 99]), missing=-1).tolist() == [1, -1]
    assert index.to_index(np.array([99, 20, 98]), missing="drop").tolist() == [1]
    assert index.to_index(20).tolist() == [1]
    back = IdIndex.from_dict(index.to_dict())
    assert back.kind == "int"
    assert back.equals(index)


def test_id_index_string_round_trip():
    index, codes = IdIndex.from_values(pd.Series(["b", "a", "c", "a"]))
    assert index.kind == "str"
    assert index.ids.tolist() == ["a", "b", "c"]
    assert codes.tolist() == [1, 0, 2, 0]
    d = index.to_dict()
    assert d == {"kind": "str", "ids": ["a", "b", "c"]}
    assert IdIndex.from_dict(d).equals(index)
    assert index.to_index(np.array(["c", "zz"], dtype=object), missing=-1).tolist() == [2, -1]


def test_id_index_matches_across_id_types():
    # One file read with integer ids, another with string ids: "42" and 42 are the same id.
    ints = IdIndex(np.array([7, 42], dtype=np.int64))
    assert ints.to_index(np.array(["42", "x", "7"], dtype=object), missing=-1).tolist() == [1, -1, 0]
    strs = IdIndex(np.array(["42", "abc"], dtype=object))
    assert strs.to_index(np.array([42, 5]), missing=-1).tolist() == [0, -1]


def test_id_index_unknown_ids_error_names_rows():
    index = IdIndex(np.array([1, 2, 3]))
    with pytest.raises(DataError) as exc:
        index.to_index(np.array([1, 9, 2, 8]))
    assert exc.value.code == "unknown_ids"
    assert exc.value.rows == [2, 4]
    assert exc.value.n_rows == 2


def test_id_index_rejects_duplicates_and_bad_types():
    with pytest.raises(DataError) as exc:
        IdIndex(np.array([1, 2, 1]))
    assert exc.value.code == "duplicate_ids"
    with pytest.raises(DataError) as exc:
        IdIndex.from_values(np.array([1.5, 2.5]))
    assert exc.value.code == "bad_id_dtype"
    with pytest.raises(DataError) as exc:
        IdIndex.from_dict({"kind": "float", "ids": [1.0]})
    assert exc.value.code == "bad_id_index"


def test_id_index_missing_ids_are_an_error():
    with pytest.raises(DataError) as exc:
        IdIndex.from_values(pd.Series(["a", None, "b"], dtype=object))
    assert exc.value.code == "missing_ids"
    assert exc.value.rows == [2]


# ---------------------------------------------------------------------------------------------- encoding


@pytest.mark.parametrize("string_ids", [False, True])
def test_encode_decode_round_trip(string_ids):
    f = random_frame(string_ids=string_ids)
    data = Interactions.from_frame(f)
    assert data.user_idx.dtype == np.int32
    assert data.item_idx.dtype == np.int32
    assert data.rating.dtype == np.float32
    assert data.timestamp.dtype == np.int64
    assert data.n_interactions == len(f)
    assert data.n_users == f["user"].nunique()
    assert data.n_items == f["item"].nunique()
    back = data.to_frame()
    assert list(back.columns) == ["user", "item", "rating", "timestamp"]
    for col in back.columns:
        assert back[col].tolist() == f[col].tolist()
    if string_ids:
        assert pd.api.types.is_string_dtype(back["user"])
    else:
        assert back["user"].dtype == np.int64


def test_encode_implicit_without_timestamps():
    data = Interactions.from_frame(frame([5, 6, 5], ["x", "y", "y"]))
    assert data.is_implicit
    assert not data.has_timestamps
    assert data.rating is None
    assert data.timestamp is None
    assert list(data.to_frame().columns) == ["user", "item"]
    assert data.density == pytest.approx(3 / 4)


def test_encode_does_not_share_memory_with_the_frame():
    f = frame([1, 2], [3, 4], [1.0, 2.0], [10, 20])
    data = Interactions.from_frame(f)
    assert not np.shares_memory(data.rating, f["rating"].to_numpy())
    assert not np.shares_memory(data.timestamp, f["timestamp"].to_numpy())


def test_encode_into_given_index_spaces():
    train = Interactions.from_frame(frame([1, 2, 3], [10, 20, 30]))
    test = Interactions.from_frame(frame([3, 1], [10, 30]), users=train.users, items=train.items)
    assert test.users is train.users
    assert test.items is train.items
    assert test.user_idx.tolist() == [2, 0]
    assert test.item_idx.tolist() == [0, 2]


def test_unknown_ids_raise_with_rows_and_sample():
    train = Interactions.from_frame(frame([1, 2, 3], [10, 20, 30]))
    with pytest.raises(DataError) as exc:
        Interactions.from_frame(frame([1, 9, 2, 3], [10, 10, 99, 30]), users=train.users, items=train.items)
    err = exc.value
    assert err.code == "unknown_ids"
    assert err.rows == [2, 3]
    assert err.n_rows == 2
    assert "user" in err.column
    assert "item" in err.column
    assert err.sample[0]["user"] == 9
    assert "unknown='drop'" in err.hint


def test_unknown_ids_can_be_dropped_and_counted():
    train = Interactions.from_frame(frame([1, 2, 3], [10, 20, 30]))
    test = Interactions.from_frame(
        frame([1, 9, 2, 3], [10, 10, 99, 30], [1, 2, 3, 4], [5, 6, 7, 8]),
        users=train.users,
        items=train.items,
        unknown="drop",
    )
    assert test.n_dropped_unknown == 2
    assert test.to_frame()["user"].tolist() == [1, 3]
    assert test.rating.tolist() == [1.0, 4.0]
    assert test.timestamp.tolist() == [5, 8]


def test_missing_columns_and_bad_values_are_data_errors():
    with pytest.raises(DataError) as exc:
        Interactions.from_frame(pd.DataFrame({"user": [1]}))
    assert exc.value.code == "missing_column"
    assert exc.value.column == "item"
    missing = pd.DataFrame({"user": [1, 2], "item": [1, 2], "timestamp": [1.0, np.nan]})
    with pytest.raises(DataError) as exc:
        Interactions.from_frame(missing)
    assert exc.value.code == "missing_values"
    assert exc.value.rows == [2]
    fractional = pd.DataFrame({"user": [1, 2, 3], "item": [1, 2, 3], "timestamp": [1.0, 2.0, 2.5]})
    with pytest.raises(DataError) as exc:
        Interactions.from_frame(fractional)
    assert exc.value.code == "bad_dtype"
    assert exc.value.rows == [3]
    text = pd.DataFrame({"user": [1], "item": [1], "rating": ["good"]})
    with pytest.raises(DataError) as exc:
        Interactions.from_frame(text)
    assert exc.value.code == "bad_dtype"
    assert exc.value.column == "rating"


# ---------------------------------------------------------------------------------------------- views


def test_csr_shape_values_and_cache():
    f = frame([1, 1, 2, 3], ["b", "a", "b", "c"], [4.0, 2.0, 5.0, 1.0])
    data = Interactions.from_frame(f)
    m = data.to_csr()
    assert m.shape == (3, 3)
    assert m.dtype == np.float32
    assert m.has_sorted_indices
    assert m.toarray().tolist() == [[2.0, 4.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 1.0]]
    assert data.to_csr("ones").toarray().tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    assert data.to_csr() is m  # cached


def test_csr_of_implicit_data_is_ones_and_covers_the_whole_id_space():
    train = Interactions.from_frame(frame([1, 2, 3], [10, 20, 30]))
    part = train.subset(np.array([True, False, False]))
    m = part.to_csr("rating")
    assert m.shape == (3, 3)
    assert m.toarray().tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 0]]


def test_histories_are_in_time_order_with_ties_in_file_order():
    f = frame(
        ["u2", "u1", "u1", "u1", "u2", "u1"],
        [1, 2, 3, 4, 5, 6],
        [1, 2, 3, 4, 5, 6],
        [50, 30, 10, 30, 40, 20],
    )
    data = Interactions.from_frame(f)
    indptr, items, ratings, stamps = data.histories()
    assert indptr.dtype == np.int64
    assert indptr.tolist() == [0, 4, 6]
    items_u1 = data.items.to_ids(items[indptr[0] : indptr[1]]).tolist()
    assert items_u1 == [3, 6, 2, 4]  # t = 10, 20, 30, 30 (item 2 before 4: file order)
    assert stamps[indptr[0] : indptr[1]].tolist() == [10, 20, 30, 30]
    assert ratings[indptr[0] : indptr[1]].tolist() == [3, 6, 2, 4]
    assert data.items.to_ids(data.history(1)).tolist() == [5, 1]
    assert data.histories() is data.histories()  # cached


def test_histories_without_timestamps_follow_file_order():
    data = Interactions.from_frame(frame([2, 1, 2, 1], [9, 8, 7, 6]))
    _indptr, items, ratings, stamps = data.histories()
    assert ratings is None
    assert stamps is None
    assert data.items.to_ids(items).tolist() == [8, 6, 9, 7]


def test_histories_match_a_brute_force_grouping():
    f = random_frame(2000, seed=3)
    data = Interactions.from_frame(f)
    indptr, items, _, stamps = data.histories()
    f = f.assign(u=data.user_idx, i=data.item_idx, row=np.arange(len(f)))
    expected = f.sort_values(["u", "timestamp", "row"], kind="stable")
    assert items.tolist() == expected["i"].tolist()
    assert stamps.tolist() == expected["timestamp"].tolist()
    assert np.diff(indptr).tolist() == data.user_counts().tolist()


def test_tensors_share_memory_on_cpu():
    data = Interactions.from_frame(random_frame(50))
    t = data.to_tensors()
    assert set(t) == {"user", "item", "rating", "timestamp"}
    assert t["user"].dtype == torch.int32
    assert t["rating"].dtype == torch.float32
    assert t["timestamp"].dtype == torch.int64
    assert t["user"].data_ptr() == data.user_idx.ctypes.data
    assert t["rating"].data_ptr() == data.rating.ctypes.data
    implicit = Interactions.from_frame(frame([1], [2]))
    assert set(implicit.to_tensors()) == {"user", "item"}


def test_subset_keeps_index_spaces_and_order():
    data = Interactions.from_frame(random_frame(100))
    mask = np.zeros(100, dtype=bool)
    mask[[5, 50, 7]] = True
    part = data.subset(mask)
    assert part.users is data.users
    assert part.items is data.items
    assert part.n_users == data.n_users
    assert part.n_items == data.n_items
    assert part.user_idx.tolist() == data.user_idx[[5, 7, 50]].tolist()
    by_index = data.subset([50, 5])
    assert by_index.timestamp.tolist() == data.timestamp[[50, 5]].tolist()
    with pytest.raises(ValueError, match="mask has shape"):
        data.subset(np.ones(3, dtype=bool))


def test_counts_are_of_present_users_and_items():
    data = Interactions.from_frame(frame([1, 1, 2, 3], [10, 20, 10, 30]))
    part = data.subset([0, 1])
    assert part.counts() == Counts(users=1, items=2, interactions=2)
    assert part.user_counts().tolist() == [2, 0, 0]
    assert part.item_counts().tolist() == [1, 1, 0]
    assert data.counts() == Counts(users=3, items=3, interactions=4)


def test_constructor_checks_shapes_and_bounds():
    users = IdIndex(np.array([1, 2]))
    items = IdIndex(np.array([1]))
    with pytest.raises(ValueError, match="outside"):
        Interactions(np.array([0, 2]), np.array([0, 0]), None, None, users, items)
    with pytest.raises(ValueError, match="shape"):
        Interactions(np.array([0, 1]), np.array([0]), None, None, users, items)


@pytest.mark.parametrize(
    "ids",
    [
        np.repeat(np.arange(1, 401), 3),  # sorted, 1..n: the run-length codes
        np.repeat(np.arange(-5, 2_000, 7), 2),  # sorted with gaps and negative ids
        np.random.default_rng(1).integers(0, 300, 1_500),  # unsorted, small range from 0: lookup table
        np.random.default_rng(2).integers(-(10**12), -(10**12) + 900, 1_500),  # small range far from 0
        np.random.default_rng(3).integers(0, 10**12, 1_500),  # wide range: pandas' hash
        np.array([7, 3, 3, 7, 1]),  # fewer rows than the sortedness probe
        np.array([5]),
    ],
)
def test_integer_id_codes_match_a_sorted_factorize(ids: np.ndarray) -> None:
    index, codes = IdIndex.from_values(pd.Series(ids))
    expected_codes, expected_ids = pd.factorize(ids, sort=True)
    assert codes.dtype == np.int32 and index.ids.dtype == np.int64 and index.kind == "int"
    assert np.array_equal(codes, expected_codes) and np.array_equal(index.ids, expected_ids)
