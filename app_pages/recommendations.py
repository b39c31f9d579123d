"""Recommendations: one user's history beside a run's top-K, side by side with another run, what-if edits,
similar items and downloads."""

import streamlit as st

from recsys_core.inspection import explanation_kind, list_overlap, similar, what_if
from ui import recs
from ui.layout import guarded, page_header

page_header("Recommendations", "Open a user: what they did, what a model recommends and why, and what if.")

runs = recs.finished_runs()
if not runs:
    st.info("No finished runs yet — train one on the Train page, then come back to open its users.")
    st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()

c1, c2 = st.columns([3, 1])
with c1:
    run_id = recs.run_ui(runs, key="recs.run")
loaded = None
with guarded(), st.spinner("Loading the run's model and data…"):
    loaded = recs.load_run(run_id)
if loaded is None:
    st.stop()
k = int(c2.number_input("Top K", 1, 100, loaded.k, key="recs.k"))

user = None
with guarded():
    user = recs.user_ui(loaded)
if user is None:
    st.stop()
train, items = loaded.data.train, loaded.items
new_user = recs.is_new_user(user)
hist = recs.user_history(loaded, user)
base = recs.top_k(loaded, user, k)
hits = int(base["in_test"].sum()) if "in_test" in base else 0

st.subheader("New user (empty history)" if new_user else f"User {user}")
if new_user:
    st.info(recs.new_user_note(loaded, base), icon=":material/person_add:")
left, right = st.columns([2, 3])
left.markdown(f"**History** · {len(hist):,} training interactions")
with left:
    recs.show_history(hist)
right.markdown(
    f"**Top {k}** from {loaded.run['name']}" + ("" if new_user else f" · {hits} test hit{'s' if hits != 1 else ''}")
)
with right:
    recs.show_recommendations(base, key="recs.top")
    st.caption(f"Because (weights in brackets): {explanation_kind(loaded.model)}")

tab_side, tab_whatif, tab_similar, tab_download = st.tabs(
    ["Side by side", "What-if", "Similar items", "Downloads"], key="recs.tabs"
)

with tab_side:
    same_data = [
        r for r in runs if r["id"] != run_id and r.get("data_fingerprint") == loaded.run.get("data_fingerprint")
    ]
    if not same_data:
        st.info("No other finished run on the same data. Train another model on it to compare lists.")
    else:
        other_id = recs.run_ui(same_data, key="recs.other", label="Compare with")
        with guarded(), st.spinner("Loading the other run…"):
            other = recs.load_run(other_id)
            theirs = recs.top_k(loaded, user, k, model=other.model)
            a, b = list_overlap(base, theirs)
            st.caption(f"{int(a['in_both'].sum())} of {k} items in both lists (highlighted).")
            sa, sb = st.columns(2)
            sa.markdown(f"**{loaded.run['name']}**")
            sb.markdown(f"**{other.run['name']}**")
            a, b = a.drop(columns="because", errors="ignore"), b.drop(columns="because", errors="ignore")
            with sa:
                recs.show_recommendations(a, key="recs.side.a", highlight="in_both")
            with sb:
                recs.show_recommendations(b, key="recs.side.b", highlight="in_both")

with tab_whatif:
    st.caption("Edit the history: the list re-ranks at once (the model folds the new history in; no retraining).")
    edits, ranked = st.columns([2, 3])
    with guarded():
        with edits:
            edit = recs.what_if_ui(loaded, hist, user=user)
        result = what_if(
            loaded.model, train, edit.items, ratings=edit.ratings, original=edit.original,
            original_ratings=edit.original_ratings, k=k, items=items,
        )  # fmt: skip
        moved_in = int((result.ranking["change"] == "new").sum())
        with ranked:
            st.markdown(
                f"**Re-ranked top {k}** · {moved_in} new, {len(result.dropped)} dropped"
                + ("" if edit.changed else " · no edits yet")
            )
            recs.show_recommendations(result.ranking, key="recs.whatif.ranking")
            st.markdown("**Dropped out of the list**")
            st.dataframe(result.dropped, hide_index=True, width="stretch", key="recs.whatif.dropped")

with tab_similar:
    note = recs.similar_items_note(loaded)
    if note:
        st.info(note, icon=":material/info:")
    else:
        labels = recs.item_labels(loaded)
        first = hist["item"].iloc[-1] if len(hist) else next(iter(labels))
        options = list(labels)
        item = st.selectbox(
            "Item", options, index=options.index(first), format_func=labels.get, key="recs.similar.item"
        )
        with guarded():
            st.dataframe(similar(loaded.model, train, item, k=k, items=items), hide_index=True, width="stretch")

with tab_download:
    run = loaded.run
    d1, d2, d3 = st.columns(3)
    with guarded():
        path = run["artifacts"].get("recommendations")
        if path:
            fmt = d1.radio("Format", ["csv", "parquet"], horizontal=True, key="recs.dl.format")
            d1.download_button(
                f"Top-{loaded.k} lists of all users ({fmt.upper()})",
                recs.recommendations_file(path, fmt),
                file_name=f"{run_id}.recommendations.{fmt}",
                key="recs.dl.recs",
                icon=":material/download:",
            )
        else:
            d1.info("This run has no stored top-K lists.")
        d2.download_button(
            "Model (zip)",
            recs.model_zip(run["artifacts"]["model"]),
            file_name=f"{run_id}.model.zip",
            key="recs.dl.model",
            icon=":material/download:",
        )
        config, command = recs.run_config(run_id)
        d3.download_button(
            "Config (JSON)", config, file_name=f"{run_id}.config.json", key="recs.dl.config", icon=":material/download:"
        )
        st.caption("Reproduce this run from the command line:")
        st.code(command, language="bash", wrap_lines=True)
