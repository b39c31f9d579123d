"""Home: what RecLab is, the active dataset, the device, and how to start."""

import streamlit as st

from ui import resources, state
from ui.layout import page_header

page_header(
    "RecLab",
    "An experimentation dashboard for recommender systems: load interaction logs, clean and split them, "
    "train models, compare runs and inspect recommendations, with no code.",
)

data = resources.active_data(state.active_dataset_name())
frame = data.interactions
c1, c2, c3, c4 = st.columns(4)
c1.metric("Active dataset", data.label)
c2.metric("Interactions", f"{len(frame):,}")
c3.metric("Users", f"{frame['user'].nunique():,}")
c4.metric("Items", f"{frame['item'].nunique():,}")

device = resources.device_infos()[0]
st.markdown(f"**Compute device:** {device.label}")

st.subheader("Start here")
s1, s2, s3 = st.columns(3)
with s1.container(border=True):
    st.markdown("**1 · Pick data**")
    st.caption("Upload a log, load MovieLens, or generate synthetic data; check its health; clean and split it.")
    st.page_link("app_pages/data.py", label="Open Data", icon=":material/database:")
with s2.container(border=True):
    st.markdown("**2 · Train**")
    st.caption("Choose a model and its hyperparameters and train it on the CPU or a GPU.")
with s3.container(border=True):
    st.markdown("**3 · Compare**")
    st.caption("Overlay loss curves, compare metrics like for like, and inspect users' recommendations.")
