"""Data: load interactions, check their health, preview cleaning and the split, save as a dataset."""

import pandas as pd
import streamlit as st

from recsys_core.data.store import suggest_dataset_name
from ui import figures, resources, state
from ui.inputs import preprocess_ui, split_ui
from ui.layout import guarded, page_header, show_warnings
from ui.sources import source_ui

page_header("Data", "Load an interaction log, check its health, clean it and choose a split, then save it.")

source = source_ui()
if source is None:
    st.stop()
show_warnings(source.warnings)
frame = source.interactions

st.subheader("Health")
prof = resources.data_profile(frame)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Users", f"{prof.counts.users:,}")
c2.metric("Items", f"{prof.counts.items:,}")
c3.metric("Interactions", f"{prof.counts.interactions:,}")
c4.metric(
    "Density (distinct pairs)",
    f"{prof.density:.3%}",
    help="Distinct (user, item) pairs / (users × items): a pair that occurs in several rows counts once.",
)
repeats = prof.counts.interactions - prof.pairs
st.caption(
    (f"{prof.pairs:,} distinct (user, item) pairs ({repeats:,} rows repeat a pair) · " if repeats else "")
    + f"Top 10% of items hold {prof.facts['top10pct_items_share']:.0%} of interactions · "
    f"median user has {prof.facts['median_user_activity']:.0f} interactions · "
    f"{prof.facts['users_under_5']:,.0f} users and {prof.facts['items_under_5']:,.0f} items "
    "have fewer than 5."
)
left, right = st.columns(2)
left.plotly_chart(figures.popularity_long_tail(prof), key="data.fig.pop")
right.plotly_chart(figures.user_activity_histogram(prof), key="data.fig.act")
if prof.rating_counts is not None:
    left.plotly_chart(figures.rating_histogram(prof), key="data.fig.rating")
else:
    left.info("No rating column: implicit feedback (every interaction is a positive).")
if prof.over_time is not None:
    right.plotly_chart(figures.interactions_over_time(prof), key="data.fig.time")
else:
    right.info("No timestamp column: temporal splits are not available.")

STEP_LABELS = {"duplicates": "Duplicates", "implicit_threshold": "Ratings → implicit", "k_core": "k-core filter",
               "normalisation": "Rating normalisation", "pseudonymise": "Pseudonymise users"}  # fmt: skip
st.subheader("Cleaning")
config = preprocess_ui(has_rating="rating" in frame.columns)
with guarded():
    cleaned = resources.preprocess_preview(frame, config)
    steps = pd.DataFrame(
        [
            {
                "step": STEP_LABELS.get(r.step, r.step),
                "users": f"{r.before.users:,} → {r.after.users:,}",
                "items": f"{r.before.items:,} → {r.after.items:,}",
                "interactions": f"{r.before.interactions:,} → {r.after.interactions:,}",
                "what it did": r.note,
            }
            for r in cleaned.reports
        ]
    )
    st.dataframe(steps, hide_index=True, width="stretch")

    st.subheader("Split")
    split_config = split_ui(has_timestamp="timestamp" in cleaned.frame.columns)
    counts = st.column_config.NumberColumn(format="localized")  # "799,992" like the Cleaning table, not "799992"
    st.dataframe(
        resources.split_preview(cleaned.frame, split_config),
        hide_index=True,
        column_config=dict.fromkeys(("users", "items", "interactions"), counts),
    )

    st.subheader("Save")
    c1, c2 = st.columns([3, 1])
    # keyed by the source, so another file gets its own suggested name (a shared key would keep the old
    # file's name on the server while the browser shows the new suggestion)
    name = c1.text_input(
        "Dataset name",
        value=suggest_dataset_name(source.label),
        key=f"data.save.name.{source.label}",
        persist_state="session",
    )
    replace = c2.checkbox("Replace if it exists", key="data.save.replace")
    used = resources.runs_using_dataset(name)
    if used:
        st.info(
            f"{used} run{'s were' if used > 1 else ' was'} trained on '{name}'. Replacing it keeps their data as "
            "an older version, so they still load exactly; `python -m recsys_core data prune` frees the versions "
            "no run needs.",
            icon=":material/history:",
        )
    if st.button("Save and make active", type="primary", key="data.save"):
        info = resources.dataset_store().save(
            name,
            cleaned.frame,
            items=source.items,
            source=source.source,
            preprocess=config.to_dict(),
            reports=[r.to_dict() for r in cleaned.reports],
            split=split_config.to_dict(),
            normaliser=cleaned.normaliser.to_dict() if cleaned.normaliser else None,
            overwrite=replace,
        )
        state.set_active_dataset(info.name)
        state.flash(f"Saved '{info.name}' ({info.n_interactions:,} interactions) and made it active.")
        st.rerun()
