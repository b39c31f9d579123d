"""Recommendations page pieces: cached loaders for a run's model and data, input groups, tables, downloads.

The heavy objects (a run's model, its prepared train/val/test parts) are ``st.cache_resource`` entries: shared,
never copied, bounded to 4 each. The prepared data is keyed by the run's data reference, so two runs on the
same data share one copy.
"""

from __future__ import annotations

import io
import json
import shlex
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from recsys_core.experiment import PreparedData
from recsys_core.inspection import find_user, item_metadata, sample_users
from recsys_core.models.base import Recommender, load_model
from recsys_core.runs.store import rerun_command
from recsys_core.runs.worker import load_data
from ui import resources

SEGMENTS = {"heavy": "Heavy users (top 10%)", "light": "Light users", "cold": "Cold users (< 5 interactions)"}


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


def run_label(run: dict[str, Any]) -> str:
    """``name · model · dataset`` for a select box."""
    return f"{run['name']} · {run['model']} · {run.get('dataset_name') or '?'}"


@st.cache_resource(show_spinner=False, max_entries=4)
def _prepared(ref_json: str) -> tuple[PreparedData, pd.DataFrame | None]:
    # Rebuilt deterministically from the reference (the same code path the worker trained on).
    ref = json.loads(ref_json)
    data, _ = load_data(ref)
    return data, item_metadata(ref)


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
    data, items = _prepared(json.dumps(run["data_ref"], sort_keys=True))
    return LoadedRun(run, _model(run_id, folder), data, items)


# ---------------------------------------------------------------------------------------------- inputs
def run_ui(runs: list[dict[str, Any]], *, key: str, label: str = "Run") -> str:
    """A select box over runs; returns the chosen run id."""
    ids = [r["id"] for r in runs]
    labels = {r["id"]: run_label(r) for r in runs}
    return st.selectbox(label, ids, format_func=labels.get, key=key)


def user_ui(loaded: LoadedRun, *, key: str = "recs.user") -> Any:
    """Pick a user: random (with a 'another' button), by id, or from a segment. Returns an original id."""
    train = loaded.data.train
    c1, c2 = st.columns([2, 3])
    how = c1.segmented_control(
        "Pick a user", ["Random", "By id", "From a segment"], default="Random", required=True, key=f"{key}.how"
    )
    if how == "By id":
        return find_user(train, c2.text_input("User id", key=f"{key}.id", placeholder="e.g. 42"))
    if how == "From a segment":
        s1, s2 = c2.columns(2)
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


def item_labels(loaded: LoadedRun) -> dict[Any, str]:
    """``{item id: "title (id)"}`` over the run's whole catalogue (for searchable selects; cached per data)."""
    return _item_labels(json.dumps(loaded.run["data_ref"], sort_keys=True))


@st.cache_resource(show_spinner=False, max_entries=4)
def _item_labels(ref_json: str) -> dict[Any, str]:
    data, items = _prepared(ref_json)
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
    """An edited history: the items (original ids) and their ratings (None for implicit data)."""

    items: list[Any]
    ratings: list[float] | None
    changed: bool


def what_if_ui(loaded: LoadedRun, hist: pd.DataFrame, *, key: str = "recs.whatif") -> HistoryEdit:
    """Remove and add history items (searchable by title) and, with ratings, edit them in a table."""
    labels = item_labels(loaded)
    current = hist["item"].tolist()
    removed = st.multiselect(
        "Remove from the history", current, format_func=labels.get, key=f"{key}.remove", placeholder="Type a title"
    )
    in_history = set(current)
    addable = [i for i in labels if i not in in_history]
    added = st.multiselect(
        "Add to the history", addable, format_func=labels.get, key=f"{key}.add", placeholder="Type a title"
    )
    gone = set(removed)
    items = [i for i in current if i not in gone] + list(added)
    if not loaded.has_ratings:
        return HistoryEdit(items, None, bool(removed or added))
    old = dict(zip(current, hist["rating"].astype(float).tolist()))
    default = float(hist["rating"].max()) if len(hist) else 5.0  # an added item reads as "I liked this"
    table = pd.DataFrame({"item": [labels[i] for i in items], "rating": [old.get(i, default) for i in items]})
    # Keyed by the row set so edits made for one set of rows are never applied to another.
    digest = abs(hash(tuple(str(i) for i in items))) % 10**8
    edited = st.data_editor(
        table,
        key=f"{key}.ratings.{digest}",
        disabled=["item"],
        hide_index=True,
        width="stretch",
        height=300,
        column_config={"rating": st.column_config.NumberColumn("rating", help="Edit to re-rank", format="%.1f")},
    )
    ratings = pd.to_numeric(edited["rating"], errors="coerce").fillna(default).astype(float).tolist()
    changed = bool(removed or added) or ratings != [old.get(i, default) for i in items]
    return HistoryEdit(items, ratings, changed)


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
