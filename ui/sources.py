"""The Data page's source step: choose where interactions come from and turn them into a canonical frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from recsys_core.data.columns import detect_columns
from recsys_core.data.metadata import check_metadata_coverage
from recsys_core.data.movielens import load_movielens, load_movielens_folder
from recsys_core.data.readers import read_table
from recsys_core.data.schema import ColumnMapping, ReadInfo
from recsys_core.data.validate import to_canonical
from recsys_core.errors import DataError, DataWarning
from ui import resources, state
from ui.inputs import column_mapping_ui
from ui.layout import show_error

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


@st.cache_data(show_spinner="Reading the file…", max_entries=8)
def _read(data: bytes | str, name: str) -> tuple[pd.DataFrame, ReadInfo]:
    return read_table(data, name=name)


@st.cache_data(show_spinner="Checking the data…", max_entries=8)
def _canonical(raw: pd.DataFrame, mapping: ColumnMapping, name: str) -> tuple[pd.DataFrame, list[DataWarning]]:
    return to_canonical(raw, mapping, file=name)


def source_ui() -> SourceData | None:
    """Draw the source choice and return the loaded data, or None (after showing why) when there is none."""
    kind = st.segmented_control("Source", list(SOURCES), format_func=SOURCES.get, default="active", key="data.source")
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
    active = resources.active_data(chosen)
    return SourceData(active.label, active.interactions, active.items, source={"kind": "saved", "name": chosen})


def _synthetic_ui() -> SourceData:
    c1, c2, c3, c4, c5 = st.columns(5)
    n_users = int(c1.number_input("Users", 20, 1_000_000, 2_000, step=500, key="data.syn.users"))
    n_items = int(c2.number_input("Items", 20, 200_000, 1_000, step=500, key="data.syn.items"))
    n_inter = int(c3.number_input("Interactions", 200, 20_000_000, 100_000, step=10_000, key="data.syn.n"))
    seed = int(c4.number_input("Seed", 0, 2**31 - 1, 42, key="data.syn.seed"))
    implicit = c5.toggle("Implicit (no ratings)", key="data.syn.implicit")
    syn = resources.synthetic_dataset(n_users, n_items, n_inter, seed, implicit)
    return SourceData(
        f"Synthetic ({n_inter:,} interactions, seed {seed})",
        syn.interactions,
        syn.items,
        source={"kind": "synthetic", **syn.config},
    )


def _map_and_validate(raw: pd.DataFrame, info: ReadInfo, name: str) -> SourceData | None:
    try:
        guess = detect_columns(raw, file=name).mapping
    except DataError as err:
        st.info(f"{err.message} Choose the columns below.")
        cols = list(raw.columns)
        guess = ColumnMapping(user=cols[0], item=cols[min(1, len(cols) - 1)])
    with st.expander(f"Columns of '{name}' ({info.format}, {info.n_rows:,} rows)", expanded=True):
        st.dataframe(raw.head(10), hide_index=True)
        mapping = column_mapping_ui([str(c) for c in raw.columns], guess, key="data.map")
    frame, warnings = _canonical(raw, mapping, name)
    return SourceData(name, frame, None, list(warnings), {"kind": "file", **info.to_dict(), **mapping.to_dict()})


def _with_metadata(data: SourceData, key: str) -> SourceData:
    meta_file = st.file_uploader(
        "Item metadata (optional): item id, title, genres, text",
        type=["csv", "tsv", "txt", "dat", "item", "parquet", "jsonl", "json", "gz", "zip"],
        key=key,
    )
    if meta_file is not None:
        items, meta_warnings = resources.read_metadata(meta_file.getvalue(), meta_file.name)
        data.items = items
        data.warnings += list(meta_warnings) + check_metadata_coverage(items, data.interactions)
    return data


def _upload_ui() -> SourceData | None:
    up = st.file_uploader(
        "Interaction log: CSV/TSV/other delimiters, Parquet, JSON Lines, gzip or zip, MovieLens layouts",
        type=["csv", "tsv", "txt", "dat", "data", "parquet", "jsonl", "json", "gz", "zip"],
        key="data.upload",
    )
    if up is None:
        st.info("Upload a file with one row per interaction: user, item, and optionally rating and timestamp.")
        return None
    try:
        raw, info = _read(up.getvalue(), up.name)
        data = _map_and_validate(raw, info, up.name)
        return _with_metadata(data, "data.upload_meta") if data else None
    except Exception as err:
        show_error(err)
        return None


def _path_ui() -> SourceData | None:
    path = st.text_input(
        "Path on the server",
        key="data.path",
        placeholder="/data/ml-1m  or  /data/events.parquet",
        help="For files too large to upload, or a MovieLens folder (ml-100k, ml-1m, ml-latest-small, ...).",
    ).strip()
    if not path:
        st.info("Enter the path of an interaction file or of a MovieLens folder on this server.")
        return None
    try:
        p = Path(path).expanduser()
        if p.is_dir():
            ml = load_movielens_folder(p)
            return SourceData(ml.name, ml.interactions, ml.items, source={"kind": "movielens", "path": str(p)})
        if not p.exists():
            raise DataError("No such file or folder", code="not_found", file=str(p), hint="Check the path")
        raw, info = _read(str(p), p.name)
        return _map_and_validate(raw, info, p.name)
    except Exception as err:
        show_error(err)
        return None


def _movielens_ui() -> SourceData | None:
    c1, c2 = st.columns([2, 1])
    name = c1.selectbox("Dataset", ["ml-100k", "ml-latest-small"], key="data.ml.name")
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
