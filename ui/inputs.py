"""Input groups: each ``*_ui()`` draws a few widgets and returns plain values (configs), nothing else.

The Data page's groups keep their values for the whole session (``persist_state="session"``), so an analyst
can look at another page in the middle of preparing data and come back to the same settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import streamlit as st

from recsys_core.data.schema import ITEM, RATING, TIMESTAMP, USER, PreprocessConfig, SplitConfig

NONE = "(none)"

SPLIT_LABELS = {
    "user_random": "Per user, random",
    "random": "Global random",
    "temporal": "Global time cutoff",
    "user_temporal": "Per user, latest interactions",
}


def column_mapping_ui(columns: Sequence[str], guess: Mapping[str, str | None], *, key: str) -> dict[str, str | None]:
    """Four selects pre-filled with the detected guess; returns role -> chosen column (``None``: not chosen).

    A user or item the guess leaves open (``None``) starts empty with a "Choose ..." placeholder, so nothing
    is used that the user has not seen. Rating and timestamp may be '(none)', returned as ``None``. ``key``
    must identify the file: the widgets of another file start from that file's own guess. The choices are
    kept for the session, so they survive a visit to another page.
    """
    cols = list(columns)
    c1, c2, c3, c4 = st.columns(4)
    chosen: dict[str, str | None] = {}
    for box, role, label in ((c1, USER, "User column"), (c2, ITEM, "Item column")):
        default = guess.get(role)
        chosen[role] = box.selectbox(
            label,
            cols,
            index=cols.index(default) if default in cols else None,
            placeholder=f"Choose the {role} column",
            key=f"{key}.{role}",
            persist_state="session",
        )
    optional = [NONE, *cols]
    for box, role, label, help_text in (
        (c3, RATING, "Rating column", "Explicit ratings or counts. '(none)' for implicit feedback (clicks, plays)."),
        (c4, TIMESTAMP, "Timestamp column", "Epoch seconds, epoch milliseconds or date strings."),
    ):
        default = guess.get(role)
        value = box.selectbox(
            label,
            optional,
            index=optional.index(default) if default in cols else 0,
            key=f"{key}.{role}",
            help=help_text,
            persist_state="session",
        )
        chosen[role] = None if value in (None, NONE) else value
    return chosen


def preprocess_ui(*, has_rating: bool, key: str = "data.pre") -> PreprocessConfig:
    """Duplicate policy, implicit threshold, k-core, normalisation and user pseudonymisation controls."""
    c1, c2, c3 = st.columns(3)
    duplicates = c1.selectbox(
        "Duplicate (user, item) pairs",
        ["last", "first", "mean", "max", "sum"],
        key=f"{key}.duplicates",
        persist_state="session",
        help="Keep the first or last (by time) or merge the ratings by mean, max or sum.",
    )
    min_user = c2.number_input(
        "Min interactions per user (k-core)",
        0,
        1000,
        0,
        key=f"{key}.min_user",
        persist_state="session",
        help="Users with fewer are removed, repeatedly with the item rule until both hold.",
    )
    min_item = c3.number_input(
        "Min interactions per item (k-core)",
        0,
        1000,
        0,
        key=f"{key}.min_item",
        persist_state="session",
        help="Items with fewer are removed, repeatedly with the user rule until both hold.",
    )
    threshold, normalisation = None, "none"
    if has_rating:
        c4, c5 = st.columns(2)
        if c4.toggle("Turn ratings into implicit feedback", key=f"{key}.implicit", persist_state="session"):
            threshold = c4.number_input(
                "Keep ratings ≥",
                value=4.0,
                step=0.5,
                key=f"{key}.threshold",
                persist_state="session",
                help="Ratings at or above this become positive interactions; the others are dropped.",
            )
        else:
            normalisation = c5.selectbox(
                "Rating normalisation",
                ["none", "global", "user_mean", "user_zscore"],
                key=f"{key}.normalisation",
                persist_state="session",
                format_func={
                    "none": "none",
                    "global": "subtract the global mean",
                    "user_mean": "subtract each user's mean",
                    "user_zscore": "z-score per user",
                }.get,
            )
    pseudonymise = st.toggle(
        "Pseudonymise user ids",
        key=f"{key}.pseudonymise",
        persist_state="session",
        help="Replace every user id by 1..n (in order of first appearance) before saving. No mapping is kept, so "
        "the saved dataset, its runs, the Recommendations page and every export hold no original user id.",
    )
    return PreprocessConfig(
        duplicates=duplicates,
        implicit_threshold=threshold,
        min_user_interactions=int(min_user),
        min_item_interactions=int(min_item),
        normalisation=normalisation,
        pseudonymise_users=pseudonymise,
    )


def split_ui(*, has_timestamp: bool, key: str = "data.split") -> SplitConfig:
    """Split method, test/validation shares (or leave-last-N) and seed."""
    methods = ["user_random", "random"] + (["user_temporal", "temporal"] if has_timestamp else [])
    c1, c2, c3, c4 = st.columns(4)
    method = c1.selectbox("Split", methods, format_func=SPLIT_LABELS.get, key=f"{key}.method", persist_state="session")
    test_last_n = val_last_n = None
    if method == "user_temporal" and c1.toggle("Leave last N out", key=f"{key}.lastn", persist_state="session"):
        test_last_n = int(
            c2.number_input("Test items per user", 1, 100, 1, key=f"{key}.test_n", persist_state="session")
        )
        val_n = int(
            c3.number_input("Validation items per user", 0, 100, 0, key=f"{key}.val_n", persist_state="session")
        )
        val_last_n = val_n or None
        test_fraction, val_fraction = 0.2, 0.0
    else:
        test_fraction = c2.slider("Test share", 0.05, 0.5, 0.2, 0.05, key=f"{key}.test", persist_state="session")
        val_fraction = c3.slider("Validation share", 0.0, 0.3, 0.0, 0.05, key=f"{key}.val", persist_state="session")
    seed = int(c4.number_input("Seed", 0, 2**31 - 1, 42, key=f"{key}.seed", persist_state="session"))
    return SplitConfig(
        method=method,
        test_fraction=test_fraction,
        val_fraction=val_fraction,
        test_last_n=test_last_n,
        val_last_n=val_last_n,
        seed=seed,
    )
