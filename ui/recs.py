"""Recommendations page pieces: cached loaders for a run's model and data, input groups, tables, downloads.

The heavy objects (a run's model, its prepared train/val/test parts) are ``st.cache_resource`` entries: shared,
never copied, bounded to 4 each. The prepared data is keyed by the run's data reference, so two runs on the
same data share one copy.
"""

from __future__ import annotations

import hashlib
import io
import json
import shlex
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from recsys_core.experiment import PreparedData
from recsys_core.inspection import find_user, history, recommendations, sample_users, what_if
from recsys_core.models.base import Recommender, load_model
from recsys_core.runs.store import rerun_command
from recsys_core.runs.worker import load_run_data, run_data_key
from ui import resources

SEGMENTS = {"heavy": "Heavy users (top 10%)", "light": "Light users", "cold": "Cold users (< 5 interactions)"}
# What user_ui returns for "New user (empty history)": a user with no training data, built up in What-if.
NEW_USER = "(new user)"
HOW = ["Random", "By id", "From a segment", "New user (empty history)"]


@dataclass
class LoadedRun:
    """A finished run ready to inspect: its store record, model (on the CPU), data parts and item metadata."""

    run: dict[str, Any]
    model: Recommender
    data: PreparedData
    items: pd.DataFrame | None

    @property
    def has_ratings(self) -> bool:
        """Whether the training part carries explicit ratings (what-if then edits them)."""
        return self.data.train.rating is not None

    @property
    def k(self) -> int:
        """The largest K the run was evaluated at (the length of its stored top-K lists); default 10."""
        ks = (self.run.get("spec") or {}).get("ks") or [10]
        return int(max(ks))


def finished_runs() -> list[dict[str, Any]]:
    """Finished runs with a saved model, newest first (store dicts without histories)."""
    return resources.run_store().list(status="finished")


OLDER_DATA = "older data version"


def current_fingerprint(dataset: str) -> str | None:
    """The fingerprint of the current version of the saved dataset ``dataset``; None when it no longer
    exists (deleted, or never a saved dataset)."""
    from recsys_core.data.store import DatasetStore
    from recsys_core.errors import RecLabError

    try:
        return DatasetStore().info(dataset).fingerprint
    except (RecLabError, OSError, ValueError):
        return None


def data_version_note(run: dict[str, Any], current: dict[str, str | None]) -> str | None:
    """The note "older data version" when ``run`` was trained on a saved dataset replaced since, or
    "dataset deleted" when that dataset is gone; None otherwise (also for runs on files). ``current``: dataset
    name → its current fingerprint (:func:`current_fingerprint`), filled on demand."""
    ref = run.get("data_ref") or {}
    if ref.get("kind") != "dataset" or not ref.get("name"):
        return None
    pinned = ref.get("fingerprint") or run.get("dataset_fingerprint")
    name = ref["name"]
    if name not in current:
        current[name] = current_fingerprint(name)
    if current[name] is None:
        return "dataset deleted"
    return OLDER_DATA if pinned and pinned != current[name] else None


def run_label(run: dict[str, Any], current: dict[str, str | None] | None = None) -> str:
    """``name · model · dataset · finished (UTC) · short id`` for a select box, so that two runs of the same
    name are told apart; followed by "older data version" when the dataset was replaced since the run."""
    finished = run.get("finished_at") or run.get("created_at")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(finished)) if finished else None
    parts = [run["name"], run["model"], run.get("dataset_name") or "?", when, run["id"][-6:]]
    parts.append(data_version_note(run, {} if current is None else current))
    return " · ".join(str(p) for p in parts if p)


@st.cache_resource(show_spinner=False, max_entries=4)
def _prepared(key: str) -> tuple[PreparedData, pd.DataFrame | None]:
    # The run's own data version, rebuilt by the worker's code path and checked against the run's stored data
    # fingerprint: a DataError (shown by guarded()) when that data changed since. Keyed by run_data_key(run).
    return load_run_data(json.loads(key))


@st.cache_resource(show_spinner=False, max_entries=4)
def _model(run_id: str, folder: str) -> Recommender:
    # On the CPU: one user at a time is fast there, and it never competes with training jobs for GPU memory.
    return load_model(folder, device="cpu")


def load_run(run_id: str) -> LoadedRun:
    """Load a finished run's model and data (cached). Raises ConfigError when it has no saved model."""
    from recsys_core.errors import ConfigError

    run = resources.run_store().get(run_id, with_history=False)
    folder = run["artifacts"].get("model")
    if not folder or not Path(folder).exists():
        raise ConfigError(f"Run '{run['name']}' has no saved model.", field="run", hint="Pick another run.")
    data, items = _prepared(run_data_key(run))
    return LoadedRun(run, _model(run_id, folder), data, items)


# ---------------------------------------------------------------------------------------------- inputs
def run_ui(runs: list[dict[str, Any]], *, key: str, label: str = "Run") -> str:
    """A select box over runs (labels from :func:`run_label`); returns the chosen run id."""
    ids = [r["id"] for r in runs]
    current: dict[str, str | None] = {}  # each dataset's current fingerprint, read once per draw
    labels = {r["id"]: run_label(r, current) for r in runs}
    return st.selectbox(label, ids, format_func=labels.get, key=key)


def is_new_user(user: Any) -> bool:
    """Whether ``user`` is the brand-new user of "New user (empty history)" rather than a training user."""
    return isinstance(user, str) and user == NEW_USER


def user_ui(loaded: LoadedRun, *, key: str = "recs.user") -> Any:
    """Pick a user: random (with a 'another' button), by id, from a segment, or a new user with an empty
    history. Returns an original id, :data:`NEW_USER`, or None while there is nothing to show yet."""
    train = loaded.data.train
    how = st.segmented_control("Pick a user", HOW, default="Random", required=True, key=f"{key}.how")
    c2, _ = st.columns([1, 1])  # the choice's own inputs, on a row below so that neither is squeezed
    if how == "By id":
        example = train.users.to_ids([0])[0] if len(train.users) else 42
        text = c2.text_input("User id", key=f"{key}.id", placeholder=f"e.g. {example}")
        if not text.strip():
            c2.caption("Type a user id to open their history and recommendations.")
            return None
        return find_user(train, text)
    if how == HOW[3]:
        c2.caption("Starts from an empty history: add items in the What-if tab and the list re-ranks at once.")
        return NEW_USER
    if how == "From a segment":
        s1, s2, _ = st.columns([2, 2, 1])
        segment = s1.selectbox("Segment", list(SEGMENTS), format_func=SEGMENTS.get, key=f"{key}.segment")
        users = sample_users(train, segment, n=20)
        if not len(users):
            s2.info("No users in this segment.")
            return None
        counts = train.user_counts()[train.users.to_index(users)]
        names = {u: f"{u} ({n} interactions)" for u, n in zip(users.tolist(), counts.tolist())}
        return s2.selectbox("User", list(names), format_func=names.get, key=f"{key}.segment_user")
    seed_key = f"{key}.seed"
    if c2.button("Another random user", key=f"{key}.another", icon=":material/casino:"):
        st.session_state[seed_key] = st.session_state.get(seed_key, 0) + 1
    users = sample_users(train, "random", n=1, seed=st.session_state.get(seed_key, 0))
    return users[0] if len(users) else None


def user_history(loaded: LoadedRun, user: Any) -> pd.DataFrame:
    """The user's training history (``recsys_core.inspection.history``); empty, same columns, for a new user."""
    train = loaded.data.train
    if not is_new_user(user):
        return history(train, user, loaded.items)
    columns: dict[str, pd.Series] = {
        "item": pd.Series(train.items.to_ids(np.arange(0))),
        "title": pd.Series([], dtype=object),
        "genres": pd.Series([], dtype=object),
    }
    if train.rating is not None:
        columns["rating"] = pd.Series([], dtype=np.float32)
    if train.timestamp is not None:
        columns["time"] = pd.Series([], dtype="datetime64[ns]")
    return pd.DataFrame(columns)


def top_k(loaded: LoadedRun, user: Any, k: int, *, model: Recommender | None = None) -> pd.DataFrame:
    """The top-``k`` of ``model`` (default: the run's) for ``user`` on the run's data: a training user through
    ``recommendations`` (test hits, reasons), a new user through ``fold_in`` of an empty history."""
    model = model or loaded.model
    train = loaded.data.train
    if is_new_user(user):
        ratings = [] if loaded.has_ratings else None
        return what_if(model, train, [], ratings=ratings, k=k, items=loaded.items).ranking.drop(columns="change")
    return recommendations(model, train, user, k=k, test=loaded.data.test, items=loaded.items)


def new_user_note(loaded: LoadedRun, top: pd.DataFrame) -> str:
    """What a brand-new user's top-K means, and what to do next."""
    model = loaded.run["model"]
    if len(top) and top["score"].nunique() <= 1:
        text = f"A new user with no history: {model} scores every item the same, so this list is arbitrary."
    else:
        text = f"A new user with no history: this is what {model} recommends to someone it knows nothing about."
    return text + " Add items in the What-if tab to build the user's history; the list re-ranks at once."


def similar_items_note(loaded: LoadedRun) -> str | None:
    """Why the run's model cannot list similar items (it has neither item vectors nor a ``similar_items`` of
    its own), or None when it can."""
    cls = type(loaded.model)
    if cls.similar_items is not Recommender.similar_items or cls.item_vectors is not Recommender.item_vectors:
        return None
    name = loaded.run.get("model") or cls.name
    return f"Similar items need item vectors; {name} has none. Pick a run of another model."


def item_labels(loaded: LoadedRun) -> dict[Any, str]:
    """``{item id: "title (id)"}`` over the run's whole catalogue (for searchable selects; cached per data)."""
    return _item_labels(run_data_key(loaded.run))


@st.cache_resource(show_spinner=False, max_entries=4)
def _item_labels(key: str) -> dict[Any, str]:
    data, items = _prepared(key)
    ids = data.items.to_ids(np.arange(len(data.items)))
    text = ids.astype(str)
    titles = text
    if items is not None and "title" in items:
        meta = items.drop_duplicates("item").set_index("item")["title"]
        meta.index = meta.index.astype(str)
        found = meta.reindex(text)
        titles = np.where(found.notna() & (found.astype(str) != ""), found.astype(str), text)
    labels = np.where(titles == text, text, pd.Series(titles).str.cat(text, sep=" (").add(")").to_numpy())
    return dict(zip(ids.tolist(), labels.tolist()))


@dataclass
class HistoryEdit:
    """An edited history: the items (original ids) and their ratings (None for implicit data), and the
    unedited history the what-if list is compared with (``what_if(..., original=, original_ratings=)``)."""

    items: list[Any]
    ratings: list[float] | None
    changed: bool
    original: list[Any] = field(default_factory=list)
    original_ratings: list[float] | None = None


WHAT_IF_NOTE = (
    "New, ↑/↓ and dropped compare with the list the model gives for the unedited history the same way "
    "(folding it in, without retraining), so no edit means no change. For models that learn a vector per user "
    "(bpr, biased_mf, mlp, ials) that list can differ a little from the trained top-K above."
)


EDITS = "recs.whatif.edits"  # {(run id, user, item): rating} typed in the what-if ratings table


def _user_token(user: Any) -> tuple[str, str]:
    # ids reach the page as numpy or Python scalars depending on how the user was picked: compare them as text
    return ("new", "") if is_new_user(user) else ("id", str(user))


def _rating_edits() -> dict[tuple[Any, ...], float]:
    return st.session_state.setdefault(EDITS, {})


def _reset_what_if(key: str, run_id: str, who: tuple[str, str]) -> None:
    """Back to the original history: no removals, additions or rating edits, and a fresh ratings table."""
    st.session_state[f"{key}.remove"] = []
    st.session_state[f"{key}.add"] = []
    edits = _rating_edits()
    for k in [k for k in edits if k[:2] == (run_id, who)]:
        del edits[k]
    st.session_state[f"{key}.generation"] = st.session_state.get(f"{key}.generation", 0) + 1


def what_if_ui(loaded: LoadedRun, hist: pd.DataFrame, *, user: Any, key: str = "recs.whatif") -> HistoryEdit:
    """Remove and add history items (searchable by title) and, with ratings, edit them in a table.

    Rating edits are kept in session state by (run, user, item): adding or removing other items keeps them,
    removing an item drops its edit, and "Reset" restores the original history. Another run or user starts
    from that user's own history (with the rating edits made for them earlier)."""
    run_id = str(loaded.run["id"])
    who = _user_token(user)
    scope = f"{run_id}|{who}"
    if st.session_state.get(f"{key}.scope") != scope:  # another run or user: no removals or additions yet
        st.session_state[f"{key}.remove"] = []
        st.session_state[f"{key}.add"] = []
        st.session_state[f"{key}.scope"] = scope
    labels = item_labels(loaded)
    current = hist["item"].tolist()
    if current:
        st.caption(WHAT_IF_NOTE)
    removed: list[Any] = []
    if current:
        removed = st.multiselect(
            "Remove from the history", current, format_func=labels.get, key=f"{key}.remove", placeholder="Type a title"
        )
    in_history = set(current)
    addable = [i for i in labels if i not in in_history]
    added = st.multiselect(
        "Add to the history", addable, format_func=labels.get, key=f"{key}.add", placeholder="Type a title"
    )
    st.button(
        "Reset to the original history" if current else "Start over (empty history)",
        key=f"{key}.reset",
        icon=":material/undo:",
        on_click=_reset_what_if,
        args=(key, run_id, who),
    )
    gone = set(removed)
    items = [i for i in current if i not in gone] + list(added)
    if not loaded.has_ratings:
        return HistoryEdit(items, None, bool(removed or added), current)

    edits = _rating_edits()
    keep = set(items)
    for k in [k for k in edits if k[:2] == (run_id, who) and k[2] not in keep]:
        del edits[k]  # the item left the history: its edit goes with it
    original = hist["rating"].astype(float).tolist()
    old = dict(zip(current, original))
    train_ratings = loaded.data.train.rating
    if len(hist):
        default = float(hist["rating"].max())  # an added item reads as "I liked this"
    else:
        default = float(np.max(train_ratings)) if len(train_ratings) else 5.0
    base = [old.get(i, default) for i in items]
    if not items:
        st.caption("The history is empty: add items above, then rate them here.")
        return HistoryEdit([], [], bool(removed or added), current, original)
    shown = [edits.get((run_id, who, i), b) for i, b in zip(items, base)]
    table = pd.DataFrame({"item": [labels[i] for i in items], "rating": shown})
    # One editor per row set (its edit state is by row position), starting from the stored edits.
    generation = st.session_state.get(f"{key}.generation", 0)
    digest = hashlib.sha1(repr((scope, generation, [str(i) for i in items])).encode()).hexdigest()[:12]
    edited = st.data_editor(
        table,
        key=f"{key}.ratings.{digest}",
        disabled=["item"],
        hide_index=True,
        width="stretch",
        height=300,
        column_config={"rating": st.column_config.NumberColumn("rating", help="Edit to re-rank", format="%.1f")},
    )
    typed = pd.to_numeric(edited["rating"], errors="coerce").to_numpy(dtype=float)
    ratings = [float(v) if np.isfinite(v) else b for v, b in zip(typed, base)]  # a cleared cell: the original
    for i, r, b in zip(items, ratings, base):
        if r != b:
            edits[(run_id, who, i)] = r
        else:
            edits.pop((run_id, who, i), None)
    changed = bool(removed or added) or ratings != base
    return HistoryEdit(items, ratings, changed, current, original)


# ---------------------------------------------------------------------------------------------- tables
def show_history(hist: pd.DataFrame) -> None:
    """The user's training history (newest last)."""
    st.dataframe(hist, hide_index=True, width="stretch", height=360, key="recs.history")


def show_recommendations(recs: pd.DataFrame, *, key: str, highlight: str | None = None) -> None:
    """A top-K table; rows where ``highlight`` (a boolean column) is true are tinted."""
    # What a reader scans first goes left; ids and genres (wide, secondary) go right.
    first = ["rank", "change", "title", "score", "in_test", "in_both", "because", "genres", "item"]
    view = recs[[c for c in first if c in recs] + [c for c in recs if c not in first]].copy()
    if "in_test" in view:
        view["in_test"] = np.where(view["in_test"], "✓ hit", "")
    config = {
        "score": st.column_config.NumberColumn("score", format="%.4f"),
        "in_test": st.column_config.TextColumn("test hit", help="The user interacted with it in the test part"),
        "because": st.column_config.TextColumn("because (history items)", width="large"),
    }
    if highlight and highlight in view:
        mask = view[highlight].to_numpy(bool)
        styled = view.style.apply(lambda col: ["background-color: #FFF3BF" if m else "" for m in mask], axis=0)
        st.dataframe(styled, hide_index=True, width="stretch", column_config=config, key=key)
    else:
        st.dataframe(view, hide_index=True, width="stretch", column_config=config, key=key)


# ---------------------------------------------------------------------------------------------- downloads
@st.cache_data(show_spinner=False, max_entries=4)
def recommendations_file(path: str, fmt: str) -> bytes:
    """Every user's top-K of a run (its ``recommendations`` artifact) as CSV or Parquet bytes."""
    if fmt == "parquet":
        return Path(path).read_bytes()
    return pd.read_parquet(path).to_csv(index=False).encode()


@st.cache_data(show_spinner=False, max_entries=4)
def model_zip(folder: str) -> bytes:
    """The run's model folder (safetensors weights + JSON config) zipped in memory."""
    buffer = io.BytesIO()
    root = Path(folder)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                z.write(path, Path(root.name) / path.relative_to(root))
    return buffer.getvalue()


def run_config(run_id: str) -> tuple[bytes, str]:
    """The run's config JSON (``RunStore.export``) and the CLI command that queues it again."""
    store = resources.run_store()
    with tempfile.TemporaryDirectory() as tmp:
        config = store.export(run_id, tmp)["config"].read_bytes()
    command = "python -m recsys_core " + shlex.join(rerun_command(store.get(run_id, with_history=False)))
    return config, command
