"""Splits: every method conserves interactions, shares id spaces, is seeded, and keeps its promises."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.data.interactions import Interactions
from recsys_core.data.schema import SplitConfig
from recsys_core.data.split import TEST, TRAIN, VAL, split
from recsys_core.errors import ConfigError, DataError

METHODS = ["random", "user_random", "temporal", "user_temporal"]
PER_USER = ["user_random", "user_temporal"]


def make_data(n: int = 3000, seed: int = 0, *, timestamps: bool = True) -> Interactions:
    """Skewed users (some with a single interaction), timestamps with many ties; the rating is the row id, so
    every interaction can be traced through a split."""
    rng = np.random.default_rng(seed)
    users = rng.zipf(1.6, n) % 150
    singles = np.arange(150, 160)  # ten users with exactly one interaction
    users[-singles.size :] = singles
    data = {
        "user": users.astype(np.int64),
        "item": rng.integers(0, 200, n).astype(np.int64),
        "rating": np.arange(n, dtype=np.float32),
    }
    if timestamps:
        data["timestamp"] = rng.integers(0, 400, n).astype(np.int64)  # ~7 rows per timestamp: ties
    return Interactions.from_frame(pd.DataFrame(data))


def config(method: str, with_val: bool, **kw) -> SplitConfig:
    return SplitConfig(method=method, test_fraction=0.2, val_fraction=0.1 if with_val else 0.0, **kw)


def row_ids(part: Interactions | None) -> np.ndarray:
    return np.zeros(0, dtype=np.int64) if part is None else part.rating.astype(np.int64)


@pytest.mark.parametrize("with_val", [False, True])
@pytest.mark.parametrize("method", METHODS)
def test_no_interaction_is_lost_or_duplicated(method, with_val):
    data = make_data()
    s = split(data, config(method, with_val))
    all_ids = np.concatenate([row_ids(s.train), row_ids(s.val), row_ids(s.test)])
    assert np.sort(all_ids).tolist() == list(range(data.n_interactions))
    assert (s.val is not None) == with_val
    for _, part in s.parts():
        assert part.users is data.users
        assert part.items is data.items
        assert np.all(np.diff(row_ids(part)) > 0)  # each part keeps the original row order
    # the stored assignment rebuilds the parts
    assert row_ids(data.subset(s.assignment == TEST)).tolist() == row_ids(s.test).tolist()
    assert set(np.unique(s.assignment).tolist()) == ({TRAIN, VAL, TEST} if with_val else {TRAIN, TEST})


@pytest.mark.parametrize("with_val", [False, True])
@pytest.mark.parametrize("method", METHODS)
def test_part_sizes_follow_the_fractions(method, with_val):
    data = make_data()
    s = split(data, config(method, with_val))
    n = data.n_interactions
    assert s.test.n_interactions == pytest.approx(0.2 * n, rel=0.1)
    if with_val:
        assert s.val.n_interactions == pytest.approx(0.1 * n, rel=0.15)
    report = s.report
    assert report.train == s.train.counts()
    assert report.test == s.test.counts()
    assert (report.val is None) == (not with_val)
    assert report.rows()[0]["part"] == "train"
    assert method in report.note


@pytest.mark.parametrize("with_val", [False, True])
@pytest.mark.parametrize("method", PER_USER)
def test_per_user_methods_keep_every_user_in_train(method, with_val):
    data = make_data()
    s = split(data, config(method, with_val))
    counts = data.user_counts()
    train, test = s.train.user_counts(), s.test.user_counts()
    present = counts > 0
    assert np.all(train[present] >= 1)
    assert np.all(test[counts >= 2] >= 1)  # everyone with 2+ interactions is evaluated
    assert np.all(test[counts == 1] == 0)  # single-interaction users stay in train
    expected_test = np.clip(np.round(0.2 * counts), 1, np.maximum(counts - 1, 1))
    np.testing.assert_array_equal(test[counts >= 2], expected_test[counts >= 2])
    assert s.report.test_users_without_train == 0


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_split(method):
    data = make_data()
    a = split(data, config(method, True, seed=3))
    b = split(data, config(method, True, seed=3))
    np.testing.assert_array_equal(a.assignment, b.assignment)


@pytest.mark.parametrize("method", ["random", "user_random"])
def test_different_seed_different_split(method):
    data = make_data()
    a = split(data, config(method, True, seed=1))
    b = split(data, config(method, True, seed=2))
    assert not np.array_equal(a.assignment, b.assignment)
    assert a.test.n_interactions == b.test.n_interactions  # only which rows, not how many


@pytest.mark.parametrize("with_val", [False, True])
def test_temporal_test_is_later_than_train_globally(with_val):
    data = make_data()
    s = split(data, config("temporal", with_val))
    assert s.test.timestamp.min() >= s.train.timestamp.max()
    if with_val:
        assert s.val.timestamp.min() >= s.train.timestamp.max()
        assert s.test.timestamp.min() >= s.val.timestamp.max()
    # The last test row by time is the latest; cold-start users are counted.
    users_only_in_test = np.count_nonzero((s.test.user_counts() > 0) & (s.train.user_counts() == 0))
    assert s.report.test_users_without_train == users_only_in_test


@pytest.mark.parametrize("with_val", [False, True])
def test_user_temporal_test_is_later_than_train_per_user(with_val):
    data = make_data()
    s = split(data, config("user_temporal", with_val))
    parts = {"train": s.train, "val": s.val, "test": s.test}
    frames = {name: pd.DataFrame({"u": p.user_idx, "t": p.timestamp}) for name, p in parts.items() if p is not None}
    last_train = frames["train"].groupby("u")["t"].max()
    first_test = frames["test"].groupby("u")["t"].min()
    common = first_test.index
    assert np.all(first_test.to_numpy() >= last_train.loc[common].to_numpy())
    if with_val:
        first_val = frames["val"].groupby("u")["t"].min()
        last_val = frames["val"].groupby("u")["t"].max()
        assert np.all(first_val.to_numpy() >= last_train.loc[first_val.index].to_numpy())
        both = first_test.index.intersection(last_val.index)
        assert np.all(first_test.loc[both].to_numpy() >= last_val.loc[both].to_numpy())


def test_leave_last_out_gives_exactly_one_test_interaction_per_user():
    data = make_data()
    s = split(data, SplitConfig(method="user_temporal", test_last_n=1, val_last_n=1))
    counts = data.user_counts()
    test, val = s.test.user_counts(), s.val.user_counts()
    assert np.all(test[counts >= 2] == 1)
    assert np.all(test[counts < 2] == 0)
    assert np.all(val[counts >= 3] == 1)
    assert np.all(val[counts < 3] == 0)
    # the test interaction is the user's latest, ties going to the later row
    f = pd.DataFrame({"u": data.user_idx, "t": data.timestamp, "row": np.arange(data.n_interactions)})
    latest = f.sort_values(["u", "t", "row"]).groupby("u").tail(1)
    latest = latest[counts[latest["u"]] >= 2]
    assert sorted(row_ids(s.test).tolist()) == sorted(latest["row"].tolist())


def test_temporal_ties_are_broken_by_row_order():
    n = 10
    f = pd.DataFrame({"user": np.arange(n) % 3, "item": np.arange(n), "timestamp": np.zeros(n, dtype=np.int64)})
    f["rating"] = np.arange(n, dtype=np.float32)
    data = Interactions.from_frame(f)
    s = split(data, SplitConfig(method="temporal", test_fraction=0.3))
    assert row_ids(s.test).tolist() == [7, 8, 9]
    s = split(data, SplitConfig(method="user_temporal", test_last_n=1))
    assert row_ids(s.test).tolist() == [7, 8, 9]  # each user's last row in file order


@pytest.mark.parametrize("method", ["temporal", "user_temporal"])
def test_temporal_methods_need_timestamps(method):
    data = make_data(timestamps=False)
    with pytest.raises(ConfigError) as exc:
        split(data, SplitConfig(method=method))
    assert exc.value.field == "method"


def test_random_methods_work_without_timestamps():
    data = make_data(timestamps=False)
    s = split(data, SplitConfig(method="user_random"))
    assert s.test.timestamp is None
    assert s.test.n_interactions > 0


def test_too_few_interactions():
    data = Interactions.from_frame(pd.DataFrame({"user": [1], "item": [2]}))
    with pytest.raises(DataError) as exc:
        split(data, SplitConfig(method="random"))
    assert exc.value.code == "too_few_interactions"


def test_two_interactions_split_into_one_and_one():
    data = Interactions.from_frame(pd.DataFrame({"user": [1, 1], "item": [2, 3]}))
    for method in ["random", "user_random"]:
        s = split(data, SplitConfig(method=method, test_fraction=0.9 - 0.05))
        assert s.train.n_interactions == 1
        assert s.test.n_interactions == 1


def test_report_counts_cold_start_items():
    # Leave-last-out: user 1's test item 5 is in user 2's training data; user 2's test item 9 is nowhere else.
    f = pd.DataFrame({"user": [1, 1, 2, 2], "item": [6, 5, 5, 9], "timestamp": [1, 2, 1, 2]})
    s = split(Interactions.from_frame(f), SplitConfig(method="user_temporal", test_last_n=1))
    assert s.report.test_items_without_train == 1
    assert s.report.test_users_without_train == 0
    assert s.report.to_dict()["test"] == {"users": 2, "items": 2, "interactions": 2}
