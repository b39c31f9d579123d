"""Train: pick a model and its hyperparameters, launch jobs on the queue, watch them live."""

import streamlit as st

from recsys_core.experiment import ExperimentSpec
from recsys_core.models.registry import describe_models, get_model_class
from recsys_core.runs.jobs import dataset_ref
from ui import resources, state
from ui.layout import guarded, page_header
from ui.train import (
    ACTIVE,
    data_summary,
    describe_split,
    gpu_memory_caption,
    hyperparams_ui,
    model_ui,
    options_ui,
    progress_panel,
    recent_runs_ui,
    spec_check_ui,
    training_data,
)

page_header("Train", "Choose a model and its hyperparameters; training runs in the background, one job per device.")
runner = resources.job_runner()

dataset, split = training_data(state.active_dataset_name())
st.markdown(f"**Data:** {dataset} · split: {describe_split(split)}")

chosen = model_ui(describe_models())
problem_slot = st.container()  # why this model cannot train on this data, right under the picker
with st.expander("Hyperparameters", expanded=True):
    params = hyperparams_ui(list(get_model_class(chosen["name"]).schema), key=f"train.p.{chosen['name']}")
options = options_ui(
    resources.device_infos(), model=chosen["name"], has_validation=bool(split.val_fraction or split.val_last_n)
)
c_name, c_tags = st.columns(2)
name = c_name.text_input("Run name (optional)", key="train.name", placeholder=f"{chosen['name']} on {dataset}")
tags_text = c_tags.text_input(
    "Tags (optional)",
    key="train.tags",
    placeholder="e.g. baseline, sweep-3",
    help="Comma-separated. Filter by them on Compare, where tags can also be changed later.",
)
spec = ExperimentSpec(model=chosen["name"], params=params, **options)
with problem_slot:
    # Checked before queueing: a run that can only fail is never started.
    problem = spec_check_ui(spec, data_summary(dataset, split))

if st.button(
    "Train",
    type="primary",
    key="train.launch",
    disabled=problem is not None,
    help="Fix the problem shown under Model first" if problem is not None else None,
):
    with guarded():
        tags = [t.strip() for t in tags_text.split(",") if t.strip()]
        run_id = runner.submit(spec, dataset_ref(dataset, split=split), name=name or None, tags=tags)
        runner.poll()
        state.flash(f"Queued run {run_id}: follow it below.")
        st.rerun()  # redraw the page (and the sidebar) with the new job polling

active = resources.run_store().list(status=ACTIVE)


@st.fragment(run_every=1.0 if active else None)
def live_panel() -> None:
    runner.poll()
    store = runner.store
    runs = store.list(status=ACTIVE)
    if not runs:
        if active:  # jobs ended since the page was drawn: redraw once so polling stops
            st.rerun()
        st.info("No jobs running. Launch one above; finished runs appear on the Compare page.")
        return
    for caption in filter(None, (gpu_memory_caption(d) for d in resources.device_infos())):
        st.caption(caption)
    histories = store.histories([r["id"] for r in runs])
    for run in runs:
        if progress_panel(run, store.progress(run["id"]), histories.get(run["id"], [])):
            runner.cancel(run["id"])
            st.rerun(scope="fragment")


st.subheader("Jobs")
live_panel()

st.subheader("Recent runs")
recent = [r for r in resources.run_store().list(limit=10) if r["status"] not in ACTIVE]
if recent:
    recent_runs_ui(recent)
    st.page_link("app_pages/compare.py", label="Compare runs", icon=":material/compare_arrows:")
else:
    st.caption("Finished runs will be listed here.")
