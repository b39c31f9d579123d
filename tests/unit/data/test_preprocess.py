"""Preprocessing steps: duplicates, implicit threshold, k-core, normalisation, and the pipeline's reports."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from recsys_core.data.preprocess import (
    RatingNormaliser,
    binarize,
    k_core,
    merge_duplicates,
    normalise_ratings,
    preprocess,
)
from recsys_core.data.schema import Counts, PreprocessConfig
from recsys_core.errors import ConfigError, DataError


def frame(users, items, ratings=None, timestamps=None) -> pd.DataFrame:
    data = {"user": users, "item": items}
    if ratings is not None:
        data["rating"] = np.asarray(ratings, dtype=np.float32)
    if timestamps is not None:
        data["timestamp"] = np.asarray(timestamps, dtype=np.int64)
    return pd.DataFrame(data)


# Rows: the pair (1, "a") three times (timestamps 20, 10, 20: a tie at 20), (2, "b") twice, (3, "c") once.
DUPES = frame(
    [1, 2, 1, 3, 1, 2],
    ["a", "b", "a", "c", "a", "b"],
    [4.0, 1.0, 2.0, 5.0, 3.0, 2.0],
    [20, 7, 10, 1, 20, 5],
)


def as_records(f: pd.DataFrame) -> list[tuple]:
    return list(f.itertuples(index=False, name=None))


# ---------------------------------------------------------------------------------------------- duplicates


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        # first in time: (1,a) t=10 r=2 (row 2), (2,b) t=5 r=2 (row 5); kept rows stay in file order
        ("first", [(1, "a", 2.0, 10), (3, "c", 5.0, 1), (2, "b", 2.0, 5)]),
        # last in time: (1,a) tie at t=20 -> the later row (row 4, r=3); (2,b) t=7 (row 1, r=1)
        ("last", [(2, "b", 1.0, 7), (3, "c", 5.0, 1), (1, "a", 3.0, 20)]),
        # aggregates stand where the pair was last seen, with the latest timestamp
        ("mean", [(2, "b", 1.5, 7), (3, "c", 5.0, 1), (1, "a", 3.0, 20)]),
        ("max", [(2, "b", 2.0, 7), (3, "c", 5.0, 1), (1, "a", 4.0, 20)]),
        ("sum", [(2, "b", 3.0, 7), (3, "c", 5.0, 1), (1, "a", 9.0, 20)]),
    ],
)
def test_duplicate_policies_with_timestamps(policy, expected):
    out, report = merge_duplicates(DUPES, policy)
    assert as_records(out) == expected
    assert out["rating"].dtype == np.float32
    assert out["timestamp"].dtype == np.int64
    assert report.step == "duplicates"
    assert report.before == Counts(users=3, items=3, interactions=6)
    assert report.after == Counts(users=3, items=3, interactions=3)
    assert "3 rows removed" in report.note
    assert "5 rows of 2 repeated (user, item) pairs" in report.note


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("first", [(1, "a", 4.0), (2, "b", 1.0), (3, "c", 5.0)]),  # file order
        ("last", [(3, "c", 5.0), (1, "a", 3.0), (2, "b", 2.0)]),
        ("mean", [(3, "c", 5.0), (1, "a", 3.0), (2, "b", 1.5)]),
    ],
)
def test_duplicate_policies_without_timestamps_use_file_order(policy, expected):
    out, _ = merge_duplicates(DUPES.drop(columns="timestamp"), policy)
    assert as_records(out) == expected


@pytest.mark.parametrize("policy", ["mean", "max", "sum"])
def test_aggregates_on_implicit_data_keep_the_latest_row(policy):
    implicit = DUPES.drop(columns="rating")
    out, report = merge_duplicates(implicit, policy)
    assert as_records(out) == [(2, "b", 7), (3, "c", 1), (1, "a", 20)]
    assert "rating" not in out.columns
    assert "implicit" in report.note


def test_no_duplicates_is_reported_and_keeps_the_frame():
    f = frame([1, 2], [1, 1], [3.0, 4.0])
    out, report = merge_duplicates(f, "mean")
    assert as_records(out) == as_records(f)
    assert report.note == "no duplicates"
    assert report.before == report.after


def test_string_ids_keep_their_dtype():
    f = frame(pd.Series(["u1", "u2", "u1"], dtype="string"), ["i", "j", "i"], [1, 2, 3])
    out, _ = merge_duplicates(f, "last")
    assert out["user"].dtype == f["user"].dtype
    assert out["user"].tolist() == ["u2", "u1"]


# ---------------------------------------------------------------------------------------------- threshold


def test_threshold_keeps_high_ratings_as_implicit_positives():
    f = frame([1, 1, 2, 3], [1, 2, 1, 3], [4.0, 3.5, 5.0, 1.0], [1, 2, 3, 4])
    out, report = binarize(f, 4)
    assert "rating" not in out.columns  # implicit feedback now
    assert as_records(out) == [(1, 1, 1), (2, 1, 3)]
    assert report.before == Counts(users=3, items=3, interactions=4)
    assert report.after == Counts(users=2, items=1, interactions=2)
    assert "dropped 2" in report.note


def test_threshold_off_and_errors():
    f = frame([1, 2], [1, 2], [1.0, 2.0])
    out, report = binarize(f, None)
    assert report.note == "off"
    assert report.before == report.after
    assert as_records(out) == as_records(f)
    with pytest.raises(ConfigError, match="no rating column") as exc:
        binarize(f.drop(columns="rating"), 3)
    assert exc.value.field == "implicit_threshold"
    with pytest.raises(DataError) as err:
        binarize(f, 4.5)
    assert err.value.code == "empty_after_preprocessing"
    assert "highest rating is 2" in err.value.message
    with pytest.raises(ConfigError):
        binarize(f, float("nan"))


# ---------------------------------------------------------------------------------------------- k-core


def brute_force_k_core(rows: list[tuple], min_user: int, min_item: int) -> list[tuple]:
    while True:
        users = Counter(u for u, _ in rows)
        items = Counter(i for _, i in rows)
        kept = [(u, i) for u, i in rows if users[u] >= min_user and items[i] >= min_item]
        if len(kept) == len(rows):
            return kept
        rows = kept


@pytest.mark.parametrize(("min_user", "min_item", "seed"), [(3, 3, 0), (5, 2, 1), (2, 6, 2), (4, 0, 3)])
def test_k_core_reaches_the_brute_force_fixed_point(min_user, min_item, seed):
    rng = np.random.default_rng(seed)
    n = 400
    f = frame(rng.integers(0, 80, n), rng.zipf(1.5, n) % 50)
    out, report = k_core(f, min_user, min_item)
    expected = brute_force_k_core(as_records(f), min_user, min_item)
    assert as_records(out) == expected
    assert out["user"].value_counts().min() >= min_user
    assert out["item"].value_counts().min() >= min_item
    assert report.after == Counts(
        users=len({u for u, _ in expected}), items=len({i for _, i in expected}), interactions=len(expected)
    )
    assert report.before.interactions == n
    assert "iteration" in report.note


def test_k_core_cascades_over_several_iterations():
    # User 4 (1 interaction) goes first; that leaves item 9 with 1, then user 3 with 1.
    f = frame([1, 1, 2, 2, 3, 3, 4], [7, 8, 7, 8, 8, 9, 9])
    out, report = k_core(f, 2, 2)
    assert as_records(out) == [(1, 7), (1, 8), (2, 7), (2, 8)]
    assert report.after == Counts(users=2, items=2, interactions=4)
    assert "in 3 iterations" in report.note


def test_k_core_off_and_empty():
    f = frame([1, 2, 3], [1, 2, 3])
    _, report = k_core(f, 0, 0)
    assert report.note == "off"
    with pytest.raises(DataError) as exc:
        k_core(f, 2, 0)
    assert exc.value.code == "empty_after_preprocessing"
    assert "Lower" in exc.value.hint
    assert "most active user has 1 interaction," in exc.value.hint
    with pytest.raises(ConfigError):
        k_core(f, -1, 0)


# ---------------------------------------------------------------------------------------------- normalisation


RATED = frame(["a", "a", "a", "b", "b", "c"], [1, 2, 3, 1, 2, 3], [1.0, 3.0, 5.0, 4.0, 4.0, 2.0])


@pytest.mark.parametrize("method", ["global", "user_mean", "user_zscore"])
def test_normaliser_inverse_round_trips(method):
    out, report, norm = normalise_ratings(RATED, method)
    assert out["rating"].dtype == np.float32
    back = norm.inverse(out["user"].to_numpy(), out["rating"].to_numpy())
    np.testing.assert_allclose(back, RATED["rating"].to_numpy(), atol=1e-6)
    assert report.before == report.after
    stored = RatingNormaliser.from_dict(norm.to_dict())
    np.testing.assert_allclose(stored.transform(RATED)["rating"], out["rating"], atol=1e-6)


def test_normalisation_values():
    out, _, norm = normalise_ratings(RATED, "global")
    assert norm.global_mean == pytest.approx(19 / 6)
    np.testing.assert_allclose(out["rating"], RATED["rating"] - 19 / 6, atol=1e-6)
    out, _, _ = normalise_ratings(RATED, "user_mean")
    np.testing.assert_allclose(out["rating"], [-2, 0, 2, 0, 0, 0], atol=1e-6)
    out, report, norm = normalise_ratings(RATED, "user_zscore")
    std_a = np.std([1.0, 3.0, 5.0])
    np.testing.assert_allclose(out["rating"], [-2 / std_a, 0, 2 / std_a, 0, 0, 0], atol=1e-6)
    # users b (constant) and c (one rating) have std 0 -> divided by 1
    assert norm.user_std.tolist()[1:] == [1.0, 1.0]
    assert "2 with constant ratings" in report.note


def test_normaliser_unknown_users_and_broadcasting():
    _, _, norm = normalise_ratings(RATED, "user_mean")
    # unknown user "z" falls back to the global mean
    assert norm.inverse(np.array(["z"], dtype=object), np.array([0.5])).tolist() == pytest.approx([19 / 6 + 0.5])
    # one user id for many predictions
    np.testing.assert_allclose(norm.inverse("a", np.array([0.0, 1.0], dtype=np.float32)), [3.0, 4.0])


def test_normalisation_off_and_without_ratings():
    _out, report, norm = normalise_ratings(RATED, "none")
    assert norm is None
    assert report.note == "off"
    with pytest.raises(ConfigError, match="no rating"):
        normalise_ratings(RATED.drop(columns="rating"), "global")


# ---------------------------------------------------------------------------------------------- pipeline


def test_pipeline_reports_every_step_in_order():
    rng = np.random.default_rng(7)
    n = 3000
    f = frame(rng.integers(0, 100, n), rng.integers(0, 60, n), rng.integers(1, 6, n), rng.integers(0, 10**6, n))
    config = PreprocessConfig(duplicates="mean", min_user_interactions=5, min_item_interactions=5)
    result = preprocess(f, config)
    steps = [r.step for r in result.reports]
    assert steps == ["duplicates", "implicit_threshold", "k_core", "normalisation", "pseudonymise"]
    assert [r.note for r in result.reports][1:4:2] == ["off", "off"]
    # each step starts where the previous one ended
    for prev, nxt in zip(result.reports, result.reports[1:]):
        assert prev.after == nxt.before
    assert result.reports[0].before == Counts(users=f["user"].nunique(), items=f["item"].nunique(), interactions=n)
    out = result.frame
    assert result.counts == Counts(users=out["user"].nunique(), items=out["item"].nunique(), interactions=len(out))
    assert not out.duplicated(["user", "item"]).any()
    assert result.normaliser is None
    # the pipeline equals the public steps run one after another
    step1, _ = merge_duplicates(f, "mean")
    step3, _ = k_core(step1, 5, 5)
    assert as_records(out) == as_records(step3)


def test_pipeline_threshold_then_k_core():
    f = frame([1, 1, 2, 2, 3], [1, 2, 1, 2, 1], [5, 4, 5, 5, 1])
    result = preprocess(f, PreprocessConfig(implicit_threshold=4, min_user_interactions=2))
    assert "rating" not in result.frame.columns
    assert as_records(result.frame) == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert result.reports[1].after.interactions == 4


def test_pipeline_errors():
    f = frame([1, 2], [1, 2], [3.0, 4.0])
    with pytest.raises(ConfigError) as exc:
        preprocess(f, PreprocessConfig(implicit_threshold=3, normalisation="global"))
    assert exc.value.field == "normalisation"
    with pytest.raises(ConfigError):
        preprocess(f.drop(columns="rating"), PreprocessConfig(normalisation="user_mean"))
    with pytest.raises(DataError) as err:
        preprocess(f, PreprocessConfig(min_item_interactions=3))
    assert err.value.code == "empty_after_preprocessing"
    with pytest.raises(DataError) as err:
        preprocess(pd.DataFrame({"user": [1]}))
    assert err.value.code == "missing_column"


def test_pipeline_normaliser_is_returned():
    result = preprocess(RATED, PreprocessConfig(normalisation="user_zscore"))
    assert result.normaliser is not None
    assert result.normaliser.method == "user_zscore"
    assert result.reports[-2].step == "normalisation"


@pytest.mark.shared_data
def test_movielens_100k_has_no_duplicates_and_is_a_5_core(shared_data):
    path = shared_data / "ml-100k" / "u.data"
    if not path.exists():
        pytest.skip("ml-100k/u.data is not present")
    raw = pd.read_csv(path, sep="\t", names=["user", "item", "rating", "timestamp"])
    f = raw.astype({"user": np.int64, "item": np.int64, "rating": np.float32, "timestamp": np.int64})
    result = preprocess(f, PreprocessConfig(min_user_interactions=5, min_item_interactions=1))
    assert result.reports[0].note == "no duplicates"
    assert result.counts == Counts(users=943, items=1682, interactions=100_000)  # every user has >= 20 ratings


def test_pseudonymised_users_are_1_to_n_in_first_appearance_order_and_nothing_else_changes():
    f = frame(["alice", "bob", "alice", "carol", "bob"], [10, 11, 12, 10, 13], [5, 4, 3, 2, 1], [1, 2, 3, 4, 5])
    plain = preprocess(f, PreprocessConfig()).frame
    result = preprocess(f, PreprocessConfig(pseudonymise_users=True))
    out = result.frame
    assert out["user"].tolist() == [1, 2, 1, 3, 2] and out["user"].dtype == np.int64
    assert not set(map(str, out["user"])) & {"alice", "bob", "carol"}
    assert out.drop(columns="user").equals(plain.drop(columns="user"))  # items, ratings, times untouched
    report = result.reports[-1]
    assert report.step == "pseudonymise" and "3 user ids replaced by 1..3" in report.note
    assert report.before == report.after
