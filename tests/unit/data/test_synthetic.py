"""The synthetic generator: shapes, determinism, long tail, taste structure, ratings, timestamps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.data import synthetic
from recsys_core.data.synthetic import GENRE_NAMES, SyntheticData, builtin_default, generate_synthetic
from recsys_core.errors import ConfigError

SMALL = {"n_users": 400, "n_items": 300, "n_interactions": 12_000}


@pytest.fixture(scope="module")
def small() -> SyntheticData:
    return generate_synthetic(**SMALL, seed=7)


def test_shapes_and_dtypes(small: SyntheticData) -> None:
    df = small.interactions
    assert list(df.columns) == ["user", "item", "rating", "timestamp"]
    assert len(df) == SMALL["n_interactions"]
    assert df["user"].dtype == np.int64
    assert df["item"].dtype == np.int64
    assert df["rating"].dtype == np.float32
    assert df["timestamp"].dtype == np.int64
    assert set(df["user"]) == set(range(1, SMALL["n_users"] + 1))
    assert df["item"].between(1, SMALL["n_items"]).all()
    assert isinstance(df.index, pd.RangeIndex)

    assert small.user_factors.shape == (SMALL["n_users"], 8)
    assert small.item_factors.shape == (SMALL["n_items"], 8)
    assert small.user_factors.dtype == np.float32
    assert small.item_factors.dtype == np.float32
    assert small.config["seed"] == 7
    assert small.config["n_interactions"] == SMALL["n_interactions"]

    items = small.items
    assert list(items.columns) == ["item", "title", "genres", "text"]
    assert items["item"].tolist() == list(range(1, SMALL["n_items"] + 1))
    assert items["title"].is_unique
    allowed = set(GENRE_NAMES[:12])
    for genres, text in zip(items["genres"], items["text"]):
        assert 1 <= len(genres) <= 3
        assert len(set(genres)) == len(genres)
        assert set(genres) <= allowed
        for g in genres:  # the description names every genre
            assert g.lower() in text


def test_same_seed_same_data_other_seed_differs(small: SyntheticData) -> None:
    again = generate_synthetic(**SMALL, seed=7)
    pd.testing.assert_frame_equal(small.interactions, again.interactions)
    pd.testing.assert_frame_equal(small.items, again.items)
    np.testing.assert_array_equal(small.user_factors, again.user_factors)
    np.testing.assert_array_equal(small.item_factors, again.item_factors)

    other = generate_synthetic(**SMALL, seed=8)
    assert not small.interactions.equals(other.interactions)
    assert not np.array_equal(small.item_factors, other.item_factors)
    assert small.items["title"].tolist() != other.items["title"].tolist()


def test_every_user_has_five_and_no_duplicate_pairs(small: SyntheticData) -> None:
    df = small.interactions
    per_user = df.groupby("user").size()
    assert per_user.min() >= 5
    assert not df.duplicated(["user", "item"]).any()
    # activity is spread out (log-normal), not flat
    assert per_user.max() >= 4 * per_user.median()


@pytest.mark.parametrize(
    ("n_users", "n_items", "n_interactions"),
    [(50, 10, 250), (20, 10, 200), (30, 7, 180)],  # 5 per user; every pair; above 3/4 of the catalogue
)
def test_extreme_activity_sizes(n_users: int, n_items: int, n_interactions: int) -> None:
    df = generate_synthetic(n_users, n_items, n_interactions, seed=1).interactions
    assert len(df) == n_interactions
    assert df.groupby("user").size().min() >= 5
    assert not df.duplicated(["user", "item"]).any()


def test_popularity_long_tail() -> None:
    df = builtin_default().interactions
    counts = df["item"].value_counts().to_numpy()  # descending
    top_share = counts[: len(counts) // 10].sum() / counts.sum()
    assert top_share > 0.35
    # and popularity_skew=0 removes most of it
    flat = generate_synthetic(**SMALL, popularity_skew=0.0, seed=7).interactions
    flat_counts = flat["item"].value_counts().to_numpy()
    assert flat_counts[: len(flat_counts) // 10].sum() / flat_counts.sum() < top_share - 0.1


def _top_genre_match(data: SyntheticData, dominant: np.ndarray) -> float:
    """Share of users whose most-interacted genre is a genre of their given dominant factor."""
    genres = data.items.set_index("item")["genres"]
    exploded = data.interactions[["user", "item"]].assign(genre=lambda f: f["item"].map(genres)).explode("genre")
    counts = exploded.groupby(["user", "genre"]).size().rename("n").reset_index()
    counts = counts.sort_values(["user", "n", "genre"], ascending=[True, False, True])
    top = counts.drop_duplicates("user").set_index("user")["genre"]
    factor_of_genre = {g: f for f, names in enumerate(data.factor_genres) for g in names}
    top_factor = top.map(factor_of_genre).reindex(range(1, len(dominant) + 1)).to_numpy()
    return float(np.mean(top_factor == dominant))


def test_genres_reflect_tastes() -> None:
    data = builtin_default()
    dominant = np.argmax(data.user_factors, axis=1)
    match = _top_genre_match(data, dominant)
    shuffled = _top_genre_match(data, np.random.default_rng(0).permutation(dominant))
    assert match > 0.6
    assert match > shuffled + 0.4
    # items: the strongest factor's genre(s) come first
    first_genre_factor = data.items["genres"].map(
        lambda g: next(f for f, names in enumerate(data.factor_genres) if g[0] in names)
    )
    assert np.mean(first_genre_factor.to_numpy() == np.argmax(data.item_factors, axis=1)) > 0.95


def test_choices_follow_affinity(small: SyntheticData) -> None:
    df = small.interactions
    u, i = df["user"].to_numpy() - 1, df["item"].to_numpy() - 1
    chosen = np.einsum("ij,ij->i", small.user_factors[u], small.item_factors[i]).mean()
    everything = (small.user_factors @ small.item_factors.T).mean()
    assert chosen > everything + 0.2
    # ratings rise with affinity
    affinity = np.einsum("ij,ij->i", small.user_factors[u], small.item_factors[i])
    assert np.corrcoef(affinity, df["rating"].to_numpy())[0, 1] > 0.4


def test_sampling_probabilities_match_the_model() -> None:
    """One item per user among 4 with known logits: frequencies ≈ softmax(affinity / T + log popularity)."""
    n_users = 40_000
    user_factors = np.ones((n_users, 1), dtype=np.float32)
    item_factors = np.array([[0.0], [0.2], [0.4], [0.8]], dtype=np.float32)
    log_pop = np.log(np.array([0.4, 0.3, 0.2, 0.1]))
    counts = np.ones(n_users, dtype=np.int64)
    out_items = np.empty(n_users, dtype=np.int64)
    out_aff = np.empty(n_users, dtype=np.float32)
    rng = np.random.default_rng(3)
    synthetic._sample_items(rng, user_factors, item_factors, log_pop, counts, np.arange(n_users), out_items, out_aff)
    logits = item_factors[:, 0] / synthetic._TEMPERATURE + log_pop
    expected = np.exp(logits) / np.exp(logits).sum()
    observed = np.bincount(out_items, minlength=4) / n_users
    np.testing.assert_allclose(observed, expected, atol=0.01)
    np.testing.assert_allclose(out_aff, item_factors[out_items, 0])


@pytest.mark.parametrize("n", [7, 600, 1000])
def test_top_k_is_exact(n: int) -> None:
    rng = np.random.default_rng(n)
    keys = rng.standard_normal((300, n)).astype(np.float32)
    keys[0] = 0.0  # all tied
    k = rng.integers(1, n + 1, size=300)
    k[:5] = [n, 1, n // 2 + 1, 1, max(1, n - 1)]
    cols = synthetic._top_k_shuffled(rng, keys, k)
    starts = np.concatenate(([0], np.cumsum(k)))
    for r in range(300):
        got = cols[starts[r] : starts[r + 1]]
        assert len(set(got.tolist())) == k[r]
        assert np.sort(keys[r, got]).tolist() == np.sort(keys[r])[::-1][: k[r]][::-1].tolist()


def test_within_user_order_is_random() -> None:
    """The chosen items of a user come in random time order, not by preference or item id."""
    df = builtin_default().interactions
    pos = df.groupby("user").cumcount().to_numpy()
    size = df.groupby("user")["item"].transform("size").to_numpy()
    rel = pos / (size - 1)
    assert abs(np.corrcoef(rel, df["item"].to_numpy())[0, 1]) < 0.05
    data = builtin_default()
    u, i = df["user"].to_numpy() - 1, df["item"].to_numpy() - 1
    aff = np.einsum("ij,ij->i", data.user_factors[u], data.item_factors[i])
    assert abs(np.corrcoef(rel, aff)[0, 1]) < 0.05


def test_ratings_on_half_star_scale(small: SyntheticData) -> None:
    r = small.interactions["rating"].to_numpy()
    assert r.min() >= 1.0
    assert r.max() <= 5.0
    np.testing.assert_array_equal(r * 2, np.round(r * 2))
    assert len(np.unique(r)) == 9  # the whole scale is used
    assert 3.0 < r.mean() < 4.2


def test_implicit_variant(small: SyntheticData) -> None:
    implicit = generate_synthetic(**SMALL, seed=7, implicit=True)
    assert list(implicit.interactions.columns) == ["user", "item", "timestamp"]
    # the same world, only without ratings
    pd.testing.assert_frame_equal(implicit.interactions, small.interactions.drop(columns="rating"))
    pd.testing.assert_frame_equal(implicit.items, small.items)


def test_timestamps_in_range_and_sorted_per_user() -> None:
    data = generate_synthetic(**SMALL, start="2020-03-01", days=30, seed=5)
    ts = data.interactions["timestamp"]
    lo = int(pd.Timestamp("2020-03-01", tz="UTC").timestamp())
    assert ts.min() >= lo
    assert ts.max() < lo + 30 * 86_400
    assert (data.interactions.groupby("user")["timestamp"].diff().dropna() >= 0).all()
    # sessions: many consecutive interactions of a user within minutes of each other
    gaps = data.interactions.groupby("user")["timestamp"].diff().dropna()
    assert (gaps < 3600).mean() > 0.5
    # and the period is used, not one corner of it
    assert ts.max() - ts.min() > 20 * 86_400
    assert data.config["start"] == "2020-03-01 00:00:00"


def test_builtin_default_is_cached_and_sized() -> None:
    a = builtin_default()
    assert a is builtin_default()
    assert len(a.interactions) == 100_000
    assert a.interactions["user"].nunique() == 2_000
    assert a.interactions["item"].nunique() > 950
    assert len(a.items) == 1_000


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_interactions": 10}, "n_interactions"),
        ({"n_users": 10, "n_items": 10, "n_interactions": 101}, "n_interactions"),
        ({"n_genres": 99}, "n_genres"),
        ({"n_items": 3}, "n_items"),
        ({"popularity_skew": -1.0}, "popularity_skew"),
        ({"rating_noise": float("nan")}, "rating_noise"),
        ({"activity_skew": "1"}, "activity_skew"),
        ({"start": "not a date"}, "start"),
        ({"days": 0}, "days"),
    ],
)
def test_bad_options_raise_config_error(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        generate_synthetic(**kwargs)
    assert info.value.field == field


def test_more_genres_than_factors_use_every_genre() -> None:
    data = generate_synthetic(**SMALL, n_factors=4, n_genres=8, seed=2)
    assert sorted(g for names in data.factor_genres for g in names) == sorted(GENRE_NAMES[:8])
    used = {g for gs in data.items["genres"] for g in gs}
    assert used == set(GENRE_NAMES[:8])
