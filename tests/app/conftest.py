"""AppTest helpers: the entry point path, a generous timeout (pages import torch), isolated caches."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 120  # seconds per run(): the first page load imports torch and generates the default dataset


@pytest.fixture(autouse=True)
def _clear_streamlit_caches():
    # st.cache_data / st.cache_resource are process-wide and shared between AppTest instances.
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def open_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_page(page: str) -> AppTest:
    at = open_app()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def train_runs(dataset: str, models: dict[str, dict], *, split_seed: int = 1) -> tuple[dict[str, str], object]:
    """Finished runs of ``models`` (name → params, trained in order: the last is the newest) on the saved
    dataset ``dataset``; returns ``({model: run id}, prepared data)``."""
    from recsys_core.data.schema import SplitConfig
    from recsys_core.experiment import ExperimentSpec
    from recsys_core.runs.jobs import dataset_ref
    from recsys_core.runs.worker import load_data, train_and_record

    ref = dataset_ref(dataset, split=SplitConfig(seed=split_seed))
    data, about = load_data(ref)
    ids = {}
    for model, params in models.items():
        spec = ExperimentSpec(model=model, params=params, device="cpu", ks=(5,))
        ids[model], _ = train_and_record(spec, data, ref, name=f"{model} run", about=about)
    return ids, data
