"""Home: what RecLab is, the active dataset, the device, and how to start."""

import re

import streamlit as st

from ui import resources, state
from ui.layout import page_header
from ui.train import gpu_memory_caption

page_header(
    "RecLab",
    "An experimentation dashboard for recommender systems: load interaction logs, clean and split them, "
    "train models, compare runs and inspect recommendations, with no code.",
)

data = resources.active_data(state.active_dataset_name())
frame = data.interactions
with st.container(border=True):
    # the name as text, not a metric: st.metric cuts long values off ("Built-in sy…")
    st.markdown("**Active dataset:** " + re.sub(r"([\\`*_\[\]<>$~|])", r"\\\1", data.label))
    c1, c2, c3 = st.columns(3)
    c1.metric("Interactions", f"{len(frame):,}")
    c2.metric("Users", f"{frame['user'].nunique():,}")
    c3.metric("Items", f"{frame['item'].nunique():,}")

devices = resources.device_infos()
gpus = [d for d in devices if d.kind == "cuda"]
st.markdown(f"**Compute device:** {devices[0].label}" + (f" · {len(gpus)} GPU(s)" if len(gpus) > 1 else ""))
for caption in filter(None, (gpu_memory_caption(d) for d in gpus)):
    st.caption(caption)

st.subheader("Start here")
s1, s2, s3 = st.columns(3)
with s1.container(border=True):
    st.markdown("**1 · Pick data**")
    st.caption("Upload a log, load MovieLens, or generate synthetic data; check its health; clean and split it.")
    st.page_link("app_pages/data.py", label="Open Data", icon=":material/database:")
with s2.container(border=True):
    st.markdown("**2 · Train**")
    st.caption("Choose a model and its hyperparameters and train it on the CPU or a GPU.")
    st.page_link("app_pages/train.py", label="Open Train", icon=":material/model_training:")
with s3.container(border=True):
    st.markdown("**3 · Compare**")
    st.caption("Overlay loss curves, compare metrics like for like, and inspect users' recommendations.")
    st.page_link("app_pages/compare.py", label="Open Compare", icon=":material/compare_arrows:")
    st.page_link("app_pages/recommendations.py", label="Open Recommendations", icon=":material/recommend:")

st.subheader("Recent runs")
runs = resources.run_store().list(limit=8)
if runs:
    st.dataframe(
        [
            {
                "run": r.get("name") or r["id"],
                "model": r["model"],
                "dataset": r.get("dataset_name"),
                "status": r["status"],
                "ndcg@10": (r.get("metrics") or {}).get("ndcg@10"),
                "rmse": (r.get("metrics") or {}).get("rmse"),
            }
            for r in runs
        ],
        hide_index=True,
        width="stretch",
    )
else:
    st.info("No runs yet: train a model on the Train page and it will be listed here.")
