"""Input groups: each ``*_ui()`` draws a few widgets and returns plain values (configs), nothing else."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from recsys_core.data.schema import ColumnMapping, PreprocessConfig, SplitConfig

NONE = "(none)"

SPLIT_LABELS = {
    "user_random": "Per user, random",
    "random": "Global random",
    "temporal": "Global time cutoff",
    "user_temporal": "Per user, latest interactions",
}


def column_mapping_ui(columns: Sequence[str], guess: ColumnMapping, *, key: str) -> ColumnMapping:
    """Four selects pre-filled with the detected guess; rating and timestamp may be '(none)'."""
    cols = list(columns)
    c1, c2, c3, c4 = st.columns(4)
    user = c1.selectbox("User column", cols, index=cols.index(guess.user), key=f"{key}.user")
    item = c2.selectbox("Item column", cols, index=cols.index(guess.item), key=f"{key}.item")
    optional = [NONE, *cols]
    rating = c3.selectbox(
        "Rating column",
        optional,
        index=optional.index(guess.rating or NONE),
        key=f"{key}.rating",
        help="Explicit ratings or counts. '(none)' for implicit feedback (clicks, plays).",
    )
    timestamp = c4.selectbox(
        "Timestamp column",
        optional,
        index=optional.index(guess.timestamp or NONE),
        key=f"{key}.timestamp",
        help="Epoch seconds, epoch milliseconds or date strings.",
    )
    return ColumnMapping(
        user=user,
        item=item,
        rating=None if rating == NONE else rating,
        timestamp=None if timestamp == NONE else timestamp,
    )


def preprocess_ui(*, has_rating: bool, key: str = "data.pre") -> PreprocessConfig:
    """Duplicate policy, implicit threshold, k-core and normalisation controls."""
    c1, c2, c3 = st.columns(3)
    duplicates = c1.selectbox(
        "Duplicate (user, item) pairs",
        ["last", "first", "mean", "max", "sum"],
        key=f"{key}.duplicates",
        help="Keep the first or last (by time) or merge the ratings by mean, max or sum.",
    )
    min_user = c2.number_input(
        "Min interactions per user (k-core)",
        0,
        1000,
        0,
        key=f"{key}.min_user",
        help="Users with fewer are removed, repeatedly with the item rule until both hold.",
    )
    min_item = c3.number_input("Min interactions per item (k-core)", 0, 1000, 0, key=f"{key}.min_item")
    threshold, normalisation = None, "none"
    if has_rating:
        c4, c5 = st.columns(2)
        if c4.toggle("Turn ratings into implicit feedback", key=f"{key}.implicit"):
            threshold = c4.number_input(
                "Keep ratings ≥",
                value=4.0,
                step=0.5,
                key=f"{key}.threshold",
                help="Ratings at or above this become positive interactions; the others are dropped.",
            )
        else:
            normalisation = c5.selectbox(
                "Rating normalisation",
                ["none", "global", "user_mean", "user_zscore"],
                key=f"{key}.normalisation",
                format_func={
                    "none": "none",
                    "global": "subtract the global mean",
                    "user_mean": "subtract each user's mean",
                    "user_zscore": "z-score per user",
                }.get,
            )
    return PreprocessConfig(
        duplicates=duplicates,
        implicit_threshold=threshold,
        min_user_interactions=int(min_user),
        min_item_interactions=int(min_item),
        normalisation=normalisation,
    )


def split_ui(*, has_timestamp: bool, key: str = "data.split") -> SplitConfig:
    """Split method, test/validation shares (or leave-last-N) and seed."""
    methods = ["user_random", "random"] + (["user_temporal", "temporal"] if has_timestamp else [])
    c1, c2, c3, c4 = st.columns(4)
    method = c1.selectbox("Split", methods, format_func=SPLIT_LABELS.get, key=f"{key}.method")
    test_last_n = val_last_n = None
    if method == "user_temporal" and c1.toggle("Leave last N out", key=f"{key}.lastn"):
        test_last_n = int(c2.number_input("Test items per user", 1, 100, 1, key=f"{key}.test_n"))
        val_n = int(c3.number_input("Validation items per user", 0, 100, 0, key=f"{key}.val_n"))
        val_last_n = val_n or None
        test_fraction, val_fraction = 0.2, 0.0
    else:
        test_fraction = c2.slider("Test share", 0.05, 0.5, 0.2, 0.05, key=f"{key}.test")
        val_fraction = c3.slider("Validation share", 0.0, 0.3, 0.0, 0.05, key=f"{key}.val")
    seed = int(c4.number_input("Seed", 0, 2**31 - 1, 42, key=f"{key}.seed"))
    return SplitConfig(
        method=method,
        test_fraction=test_fraction,
        val_fraction=val_fraction,
        test_last_n=test_last_n,
        val_last_n=val_last_n,
        seed=seed,
    )
