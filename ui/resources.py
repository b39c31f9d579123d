"""Cached, process-wide resources and loaders. Defined here (not in pages) so every page hits one cache."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from recsys_core.data.interactions import Interactions
from recsys_core.data.metadata import read_item_metadata
from recsys_core.data.preprocess import PreprocessResult, preprocess
from recsys_core.data.profile import DataProfile, profile
from recsys_core.data.schema import PreprocessConfig, SplitConfig
from recsys_core.data.split import split
from recsys_core.data.store import Dataset, DatasetStore
from recsys_core.data.synthetic import SyntheticData, builtin_default, generate_synthetic
from recsys_core.device import DeviceInfo, available_devices
from recsys_core.runs.jobs import JobRunner
from recsys_core.runs.store import RunStore
from ui.state import BUILTIN


@st.cache_resource(show_spinner=False)
def job_runner() -> JobRunner:
    """One job queue per server process; every page polls it (there is no scheduler daemon)."""
    return JobRunner(RunStore())


def run_store() -> RunStore:
    return job_runner().store


@st.cache_resource(show_spinner=False)
def device_infos() -> list[DeviceInfo]:
    """Devices torch sees (first call imports torch: a few seconds)."""
    return available_devices()


def dataset_store() -> DatasetStore:
    # Not cached: the store is a folder; creating the object is cheap and honours RECLAB_HOME changes.
    return DatasetStore()


def runs_using_dataset(name: str) -> int:
    """How many runs were trained on the saved dataset ``name`` (0 when it does not exist or the name is
    invalid: saving says what is wrong with a name)."""
    from recsys_core.errors import ConfigError
    from recsys_core.runs.jobs import runs_on_dataset

    try:
        if not dataset_store().exists(name):
            return 0
    except ConfigError:
        return 0
    return len(runs_on_dataset(name, run_store()))


@st.cache_data(show_spinner=False, max_entries=1)
def builtin_dataset() -> SyntheticData:
    return builtin_default()


@st.cache_data(show_spinner="Generating synthetic data…", max_entries=4)
def synthetic_dataset(n_users: int, n_items: int, n_interactions: int, seed: int, implicit: bool) -> SyntheticData:
    return generate_synthetic(
        n_users=n_users, n_items=n_items, n_interactions=n_interactions, seed=seed, implicit=implicit
    )


@st.cache_data(show_spinner="Reading item metadata…", max_entries=8)
def read_metadata(data: bytes, name: str) -> tuple[pd.DataFrame, list]:
    return read_item_metadata(data, name=name)


@st.cache_data(show_spinner=False, max_entries=16)
def data_profile(frame: pd.DataFrame) -> DataProfile:
    return profile(frame)


@st.cache_data(show_spinner=False, max_entries=16)
def preprocess_preview(frame: pd.DataFrame, config: PreprocessConfig) -> PreprocessResult:
    return preprocess(frame, config)


@st.cache_data(show_spinner=False, max_entries=16)
def split_preview(frame: pd.DataFrame, config: SplitConfig) -> pd.DataFrame:
    """Users, items and interactions in each part of the split (a small table)."""
    parts = split(Interactions.from_frame(frame), config)
    named = [("train", parts.train), ("validation", parts.val), ("test", parts.test)]
    return pd.DataFrame([{"part": n, **p.counts().to_dict()} for n, p in named if p is not None])


@dataclass
class ActiveData:
    """The dataset the pages work on, whatever its origin."""

    name: str
    label: str
    interactions: pd.DataFrame
    items: pd.DataFrame | None


@st.cache_data(show_spinner="Loading dataset…", max_entries=4)
def _saved_dataset(name: str, created_at: float) -> Dataset:
    return dataset_store().load(name)


def active_data(name: str) -> ActiveData:
    """Load the active dataset: the built-in default, or a saved one (falls back to the default if gone)."""
    store = dataset_store()
    if name != BUILTIN and store.exists(name):
        ds = _saved_dataset(name, store.info(name).created_at)
        return ActiveData(name, ds.info.name, ds.interactions, ds.items)
    data = builtin_dataset()
    return ActiveData(BUILTIN, "Built-in synthetic", data.interactions, data.items)
