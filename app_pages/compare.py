"""Compare: the run table, then curves, metrics, trade-offs, segments and a significance test for the
selected runs; export the table as CSV and the whole comparison as one HTML report."""

import streamlit as st

from recsys_core.runs import compare as cmp
from ui import compare as ui
from ui.figures import scatter_runs
from ui.layout import guarded, page_header

page_header("Compare", "Rank runs within comparable protocols, overlay their curves and test their differences.")

runs = ui.load_runs()
if not runs:
    st.info("No runs yet — train one on the Train page, then come back to compare.", icon=":material/info:")
    st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()

groups = cmp.protocol_groups(runs)
table = cmp.run_table(runs, groups)
labels = ui.run_labels(table)

st.subheader("Runs")
filters = ui.filters_ui(table)
shown = cmp.sort_table(
    cmp.filter_table(
        table, datasets=filters.datasets, models=filters.models, tags=filters.tags, statuses=filters.statuses
    ),
    filters.sort_by,
)
ui.show_run_table(shown, groups, filters.sort_by)

selected = ui.selection_ui(shown, labels)
by_id = {r["id"]: r for r in runs}
ui.manage_ui([by_id[r] for r in selected if r in by_id], labels)
if not selected:
    st.info("Pick runs above to compare them (finished runs have metrics).", icon=":material/info:")
    st.stop()
chosen = [by_id[r] for r in selected if r in by_id]  # in the order picked
sel = table[table["id"].isin(selected)].reset_index(drop=True)
colours = ui.selection_colours(selected)  # one colour per run, the same in every chart below
problems = cmp.mismatches(chosen)
if problems:
    st.warning(
        "These runs are not all comparable, so they are ranked only within their protocol group. "
        + " ".join(m[0].upper() + m[1:] + "." for m in problems),
        icon=":material/warning:",
    )
unevaluated = cmp.not_evaluated_note(chosen)
if unevaluated:
    st.info(unevaluated, icon=":material/info:")

figures = {}  # title → figure, collected for the HTML report
t_curves, t_metrics, t_k, t_trade, t_hyper, t_seg, t_sig = st.tabs(
    ["Curves", "Metrics", "Across K", "Accuracy vs beyond", "Hyperparameters", "Segments", "Significance"]
)
with t_curves, guarded():
    hist = ui.histories(tuple(selected), tuple((r["id"], r["status"], r["last_epoch"]) for r in chosen))
    loss_names, val_names = cmp.curve_names(hist)
    if not loss_names and not val_names:
        st.info("These runs recorded no per-epoch history (closed-form models train in one step).")
    else:
        opts = ui.curve_options_ui(loss_names, val_names)
        left, right = st.columns(2)
        for col, part, name in ((left, "losses", opts.loss), (right, "val", opts.val)):
            if name is None:
                col.info("No " + ("training loss" if part == "losses" else "validation metric") + " recorded.")
                continue
            fig = ui.curve_figure(hist, labels, part, name, opts, colours)
            figures[fig.layout.title.text] = fig
            col.plotly_chart(fig, key=f"compare.fig.{part}")

with t_metrics:
    metric_cols = [c for c in cmp.metric_columns(sel, rankable=False) if sel[c].notna().any()]
    if metric_cols:
        st.dataframe(
            ui.styled_metrics(sel, metric_cols),
            hide_index=True,
            column_config=ui.metric_column_config(metric_cols),
            placeholder=ui.EMPTY,
            key="compare.metrics",
        )
        st.caption("Green: the best value of the column inside its protocol group (lower is better for rmse, mae, "
                   "gini and avg_popularity).")  # fmt: skip
    else:
        st.info("The selected runs have no metrics yet (they are queued, running or failed).")

with t_k:
    long = cmp.metrics_across_k(chosen)
    n_k = long.groupby("metric")["k"].nunique()
    several = list(n_k[n_k > 1].index)
    if several:
        metric = ui.pick_ui("Metric", several, key="k.metric", prefer=["ndcg"])
        fig = ui.across_k_figure(long, metric, labels, colours)
        figures[f"{metric} across K"] = fig
        st.plotly_chart(fig, key="compare.fig.k")
    else:
        st.info("The selected runs were evaluated at a single K; train with several K (e.g. 5, 10, 20) to see this.")

ranking_cols = [c for c in cmp.metric_columns(sel) if "@" in c and sel[c].notna().any()]
with t_trade:
    beyond = [c for c in ranking_cols if cmp.split_metric(c)[0] in cmp.BEYOND_ACCURACY]
    accuracy = [c for c in ranking_cols if c not in beyond]
    if beyond and accuracy:
        c1, c2 = st.columns(2)
        acc = ui.pick_ui("Accuracy metric", accuracy, key="t.acc", prefer=["ndcg@10"], where=c1)
        bey = ui.pick_ui(
            "Beyond-accuracy metric", beyond, key="t.beyond", prefer=["coverage@10", "novelty@10"], where=c2
        )
        pts = {r: (labels[r], x, y) for r, x, y in zip(sel["id"], sel[bey], sel[acc]) if ui.finite([x, y])}
        fig = scatter_runs(pts, x_title=bey, y_title=acc, title=f"{acc} vs {bey}", key="compare.trade", colours=colours)
        figures[f"{acc} vs {bey}"] = fig
        st.plotly_chart(fig, key="compare.fig.trade")
    else:
        st.info("Needs ranking runs with beyond-accuracy metrics (coverage, novelty, personalisation).")

with t_hyper:
    params = cmp.params_table(chosen)
    metric_all = [c for c in cmp.metric_columns(sel) if sel[c].notna().any()]
    if len(params.columns) and metric_all:
        c1, c2 = st.columns(2)
        param = ui.pick_ui("Hyperparameter", list(params.columns), key="h.param", where=c1)
        metric = ui.pick_ui("Metric", metric_all, key="h.metric", prefer=["ndcg@10", "rmse"], where=c2)
        values = sel.set_index("id")[metric]
        pts = {r: (labels[r], v, values[r]) for r, v in params[param].dropna().items() if ui.finite([values[r]])}
        fig = scatter_runs(
            pts, x_title=param, y_title=metric, title=f"{metric} against {param}", key="compare.hyper", colours=colours
        )
        figures[f"{metric} against {param}"] = fig
        st.plotly_chart(fig, key="compare.fig.hyper")
        st.caption(f"{len(pts)} of {len(chosen)} selected runs have a value of {param} and of {metric}.")
    else:
        st.info("The selected runs have no hyperparameters or no metrics to plot against each other.")

per_user, unreadable = ui.per_user_frames(selected)
for message in unreadable:
    st.warning(message + " Segments and significance leave this run out.", icon=":material/warning:")
user_metrics = sorted({c for f in per_user.values() for c in f.columns} - set(ui.PER_USER_NON_METRICS))
with t_seg, guarded():
    if not user_metrics:
        st.info("No per-user metrics were saved for the selected runs.")
    else:
        metric = ui.pick_ui("Metric", user_metrics, key="s.metric", prefer=["ndcg@10", "rmse"])
        seg = cmp.segment_metrics(per_user, metric)
        fig = ui.segment_figure(seg, metric, labels, colours)
        figures[f"{metric} by user activity"] = fig
        st.plotly_chart(fig, key="compare.fig.seg")

verdict = []
with t_sig, guarded():
    pair = [r for r in selected if r in per_user]
    if len(pair) < 2:
        st.info("Select two runs with per-user metrics to test whether their difference is significant.")
    else:
        a, b, metric = ui.pair_ui(pair, per_user, labels)
        why = cmp.mismatches([r for r in chosen if r["id"] in (a, b)])
        if a == b:
            st.warning("Pick two different runs.")
        elif why:
            st.error("A paired test needs the same users and test data; " + "; ".join(why), icon=":material/error:")
        elif metric is None:
            st.warning("These two runs share no per-user metric.")
        else:
            res = ui.paired_test(per_user[a], per_user[b], metric)
            verdict = [cmp.significance_verdict(res, metric, labels[a], labels[b])]
            st.markdown(verdict[0])
            st.dataframe(ui.significance_table(res), hide_index=True, key="compare.sig.table")

st.download_button(
    "Download the comparison (HTML report)",
    lambda: ui.comparison_report(chosen, sel, figures, notes=verdict),
    file_name="reclab-comparison.html",
    mime="text/html",
    key="compare.report",
    icon=":material/description:",
    help="One self-contained file: the protocols, the metrics table and interactive charts (opens offline).",
)
