"""The Data page's source step: choose where interactions come from and turn them into a canonical frame.

Work in progress survives a visit to another page: the widgets keep their values for the session
(``persist_state="session"``), and the latest uploaded file is kept in session state (an uploader cannot be
given a file back), with a note saying it is in use and a button to discard it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from recsys_core.config import check_server_path
from recsys_core.data.columns import ROLES, detect_columns, name_score
from recsys_core.data.metadata import check_metadata_coverage
from recsys_core.data.movielens import load_movielens, load_movielens_folder
from recsys_core.data.readers import read_table
from recsys_core.data.schema import ITEM, USER, ColumnMapping, ReadInfo
from recsys_core.data.validate import to_canonical
from recsys_core.errors import DataError, DataWarning
from ui import resources, state
from ui.inputs import column_mapping_ui
from ui.layout import show_error

# File types the uploaders accept. Excel workbooks are accepted so that the reader can say what to do with
# them (save the sheet as CSV) instead of the browser refusing them with a MIME-type tooltip.
INTERACTION_TYPES = ["csv", "tsv", "txt", "dat", "data", "parquet", "jsonl", "json", "gz", "zip", "xlsx", "xls"]
METADATA_TYPES = ["csv", "tsv", "txt", "dat", "item", "parquet", "jsonl", "json", "gz", "zip", "xlsx", "xls"]
MAPPING_KEY = "data.map"  # the mapping widgets are keyed "data.map.<file token>.<role>"
_MAPPING_TOKEN = "data.map.token"  # the file whose mapping choices are kept

SOURCES = {
    "active": "Active dataset",
    "synthetic": "Generate synthetic data",
    "upload": "Upload a file",
    "path": "File or MovieLens folder on the server",
    "movielens": "Download MovieLens",
}


@dataclass
class SourceData:
    """A canonical interactions frame plus what the page shows about where it came from."""

    label: str
    interactions: pd.DataFrame
    items: pd.DataFrame | None = None
    warnings: list[DataWarning] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)
    preview: pd.DataFrame | None = None


@dataclass(frozen=True)
class KeptUpload:
    """An uploaded file's name and bytes, kept in session state so the page can go on using it.

    ``token`` is a digest of the content (it identifies the file for caches and widget keys);
    ``file_id`` is the uploader's id for the upload it came from.
    """

    name: str
    data: bytes
    token: str
    file_id: str


def _digest(*parts: bytes | str) -> str:
    h = hashlib.blake2b(digest_size=10)
    for part in parts:
        h.update(part if isinstance(part, bytes) else part.encode())
        h.update(b"\0")
    return h.hexdigest()


# ``_data`` is not hashed (leading underscore): ``token`` identifies it, so a rerun does not rehash the bytes.
@st.cache_data(show_spinner="Reading the file…", max_entries=8)
def _read(_data: bytes | str, name: str, token: str) -> tuple[pd.DataFrame, ReadInfo]:
    return read_table(_data, name=name)


@st.cache_data(show_spinner="Checking the data…", max_entries=8)
def _canonical(
    _raw: pd.DataFrame, mapping: ColumnMapping, name: str, token: str
) -> tuple[pd.DataFrame, list[DataWarning]]:
    return to_canonical(_raw, mapping, file=name)


def kept_upload_ui(label: str, *, types: Sequence[str], key: str) -> KeptUpload | None:
    """A file uploader whose latest file outlives the widget (a visit to another page, another source).

    While the uploader holds a file, that file is used and kept (only the latest one). When the uploader is
    empty because it was not drawn for a while, the kept file is used, with a note naming it and a button to
    discard it. Removing the file from the uploader (its ✕) discards the kept copy too.
    """
    kept_key, held_key = f"{key}.kept", f"{key}.held"
    fresh = key not in st.session_state  # the uploader was not drawn on the last run
    up = st.file_uploader(label, type=list(types), key=key)
    kept: KeptUpload | None = st.session_state.get(kept_key)
    if up is not None:
        if kept is None or kept.file_id != up.file_id:
            data = up.getvalue()
            kept = KeptUpload(up.name, data, _digest(data), up.file_id)
            st.session_state[kept_key] = kept
        st.session_state[held_key] = True
        return kept
    if not fresh and st.session_state.get(held_key):
        st.session_state.pop(kept_key, None)  # the user removed the file from the uploader
        kept = None
    st.session_state[held_key] = False
    if kept is None:
        return None
    note, button = st.columns([5, 1], vertical_alignment="center")
    note.info(
        f"Using the earlier upload '{kept.name}' ({len(kept.data):,} bytes). Upload another file to replace it.",
        icon=":material/history:",
    )
    button.button("Discard it", key=f"{key}.discard", on_click=st.session_state.pop, args=(kept_key, None))
    return kept


def source_ui() -> SourceData | None:
    """Draw the source choice and return the loaded data, or None (after showing why) when there is none."""
    kind = st.segmented_control(
        "Source",
        list(SOURCES),
        format_func=SOURCES.get,
        default="active",
        key="data.source",
        persist_state="session",
    )
    kind = kind or "active"
    if kind == "active":
        return _active_ui()
    if kind == "synthetic":
        return _synthetic_ui()
    if kind == "upload":
        return _upload_ui()
    if kind == "path":
        return _path_ui()
    return _movielens_ui()


def _active_ui() -> SourceData:
    """The dataset the other pages use; switch it among the saved ones."""
    choices = [state.BUILTIN, *resources.dataset_store().names()]
    current = state.active_dataset_name()
    chosen = st.selectbox(
        "Active dataset",
        choices,
        index=choices.index(current) if current in choices else 0,
        format_func=lambda n: "Built-in synthetic (default)" if n == state.BUILTIN else n,
        key="data.active",
        help="Saved datasets live in RECLAB_HOME/datasets as Parquet.",
    )
    if chosen != current:
        state.set_active_dataset(chosen)
        st.rerun()  # the sidebar, drawn before the page, shows the new active dataset at once
    active = resources.active_data(chosen)
    return SourceData(active.label, active.interactions, active.items, source={"kind": "saved", "name": chosen})


def _synthetic_ui() -> SourceData:
    c1, c2, c3, c4, c5 = st.columns(5)
    keep = {"persist_state": "session"}
    n_users = int(c1.number_input("Users", 20, 1_000_000, 2_000, step=500, key="data.syn.users", **keep))
    n_items = int(c2.number_input("Items", 20, 200_000, 1_000, step=500, key="data.syn.items", **keep))
    n_inter = int(c3.number_input("Interactions", 200, 20_000_000, 100_000, step=10_000, key="data.syn.n", **keep))
    seed = int(c4.number_input("Seed", 0, 2**31 - 1, 42, key="data.syn.seed", **keep))
    implicit = c5.toggle("Implicit (no ratings)", key="data.syn.implicit", **keep)
    syn = resources.synthetic_dataset(n_users, n_items, n_inter, seed, implicit)
    return SourceData(
        f"Synthetic ({n_inter:,} interactions, seed {seed})",
        syn.interactions,
        syn.items,
        source={"kind": "synthetic", **syn.config},
    )


def _guess_by_name(columns: Sequence[str]) -> dict[str, str | None]:
    """The roles that column names alone settle (a unique best name per role); the rest left open."""
    guess: dict[str, str | None] = dict.fromkeys(ROLES)
    taken: set[str] = set()
    for role in ROLES:
        scores = {c: name_score(c, role) for c in columns if c not in taken}
        best = max(scores.values(), default=0.0)
        top = [c for c, score in scores.items() if score == best]
        if best > 0 and len(top) == 1:
            guess[role] = top[0]
            taken.add(top[0])
    if guess[USER] and guess[ITEM]:
        # detection failed for a reason the names do not show: let the user choose both
        guess[USER] = guess[ITEM] = None
    return guess


def _guess_mapping(raw: pd.DataFrame, name: str) -> tuple[dict[str, str | None], DataError | None]:
    """The detected mapping, or (when detection fails) what the names settle plus the reason it failed."""
    try:
        return detect_columns(raw, file=name).mapping.to_dict(), None
    except DataError as err:
        return _guess_by_name([str(c) for c in raw.columns]), err


def mapping_problem(
    chosen: Mapping[str, str | None], columns: Sequence[str], name: str, detection: DataError | None
) -> str | None:
    """Why the chosen columns cannot be used yet (a sentence saying what to choose), or None when they can."""
    open_roles = [r for r in (USER, ITEM) if not chosen.get(r)]
    if open_roles:
        if detection is None or detection.code in ("missing_column", "no_header"):
            what = f"No {' or '.join(open_roles)} column found"
        else:
            what = detection.what.rstrip(".")
        noun = "column" if len(open_roles) == 1 else "columns"
        return (
            f"{what} in '{name}' (columns: {', '.join(columns)}): choose the {' and '.join(open_roles)} {noun} below."
        )
    used: dict[str, list[str]] = {}
    for role in ROLES:
        if chosen.get(role):
            used.setdefault(str(chosen[role]), []).append(role)
    for column, roles in used.items():
        if len(roles) > 1:
            return (
                f"Column '{column}' of '{name}' is chosen as both {' and '.join(roles)}: "
                "choose a different column for each role below."
            )
    return None


def _forget_other_mappings(token: str) -> None:
    """Keep the mapping choices of the current file only (memory stays bounded, a new file starts fresh)."""
    previous = st.session_state.get(_MAPPING_TOKEN)
    if previous is not None and previous != token:
        for role in ROLES:
            st.session_state.pop(f"{MAPPING_KEY}.{previous}.{role}", None)
    st.session_state[_MAPPING_TOKEN] = token


def _map_and_validate(raw: pd.DataFrame, info: ReadInfo, name: str, token: str) -> SourceData | None:
    """Show the columns and the mapping form; return the canonical data, or None (after saying why)."""
    columns = [str(c) for c in raw.columns]
    if len(columns) < 2:
        found = f"only one column ({columns[0]})" if columns else "no columns"
        st.error(
            f"'{name}' has {found}; an interaction log needs at least a user and an item column. "
            "If the file does have more columns, their separator was not recognised: save it as a "
            "comma-separated CSV (UTF-8) and upload that.",
            icon=":material/error:",
        )
        return None
    guess, detection = _guess_mapping(raw, name)
    _forget_other_mappings(token)
    problem_slot = st.empty()  # above the form: the message says "choose ... below"
    with st.expander(f"Columns of '{name}' ({info.format}, {info.n_rows:,} rows)", expanded=True):
        st.dataframe(raw.head(10), hide_index=True)
        chosen = column_mapping_ui(columns, guess, key=f"{MAPPING_KEY}.{token}")
    problem = mapping_problem(chosen, columns, name, detection)
    if problem:
        problem_slot.warning(problem, icon=":material/table_chart:")
        return None
    mapping = ColumnMapping(
        user=str(chosen[USER]), item=str(chosen[ITEM]), rating=chosen["rating"], timestamp=chosen["timestamp"]
    )
    frame, warnings = _canonical(raw, mapping, name, token)
    return SourceData(name, frame, None, list(warnings), {"kind": "file", **info.to_dict(), **mapping.to_dict()})


def _with_metadata(data: SourceData, key: str) -> SourceData:
    meta = kept_upload_ui("Item metadata (optional): item id, title, genres, text", types=METADATA_TYPES, key=key)
    if meta is not None:
        items, meta_warnings = resources.read_metadata(meta.data, meta.name)
        data.items = items
        data.warnings += list(meta_warnings) + check_metadata_coverage(items, data.interactions)
    return data


def _upload_ui() -> SourceData | None:
    up = kept_upload_ui(
        "Interaction log: CSV/TSV/other delimiters, Parquet, JSON Lines, gzip or zip, MovieLens layouts",
        types=INTERACTION_TYPES,
        key="data.upload",
    )
    if up is None:
        st.info("Upload a file with one row per interaction: user, item, and optionally rating and timestamp.")
        return None
    try:
        raw, info = _read(up.data, up.name, up.token)
        data = _map_and_validate(raw, info, up.name, up.token)
        return _with_metadata(data, "data.upload_meta") if data else None
    except Exception as err:
        show_error(err)
        return None


def _path_ui() -> SourceData | None:
    path = st.text_input(
        "Path on the server",
        key="data.path",
        persist_state="session",
        placeholder="/data/ml-1m  or  /data/events.parquet",
        help="For files too large to upload, or a MovieLens folder (ml-100k, ml-1m, ml-latest-small, ...).",
    ).strip()
    if not path:
        st.info("Enter the path of an interaction file or of a MovieLens folder on this server.")
        return None
    try:
        p = check_server_path(path)  # only below the allowed folders: a browser is not a shell on the server
        if p.is_dir():
            ml = load_movielens_folder(p)
            return SourceData(ml.name, ml.interactions, ml.items, source={"kind": "movielens", "path": str(p)})
        if not p.exists():
            raise DataError("No such file or folder", code="not_found", file=str(p), hint="Check the path")
        stat = p.stat()
        token = _digest(str(p.resolve()), str(stat.st_size), str(stat.st_mtime_ns))
        raw, info = _read(str(p), p.name, token)
        return _map_and_validate(raw, info, p.name, token)
    except Exception as err:
        show_error(err)
        return None


def _movielens_ui() -> SourceData | None:
    c1, c2 = st.columns([2, 1])
    name = c1.selectbox("Dataset", ["ml-100k", "ml-latest-small"], key="data.ml.name", persist_state="session")
    c1.caption("Downloaded once from grouplens.org into the local cache. Research use only; see its licence.")
    if c2.button("Download", key="data.ml.download") or st.session_state.get("data.ml.loaded") == name:
        try:
            with st.spinner(f"Downloading {name}…"):
                ml = load_movielens(name)
            st.session_state["data.ml.loaded"] = name
            return SourceData(ml.name, ml.interactions, ml.items, source={"kind": "movielens", "name": name})
        except Exception as err:
            show_error(err)
    return None
