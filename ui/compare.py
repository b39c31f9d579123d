"""Compare page pieces: cached loaders, input groups (``*_ui``), figure builders and the HTML report.

The engine side (run table, protocol groups, ranks, reshaping) is :mod:`recsys_core.runs.compare`.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from recsys_core.evaluation.segments import ID_COLUMNS, compare_runs
from recsys_core.evaluation.significance import PairedTestResult
from recsys_core.runs import compare as cmp
from ui import resources
from ui.figures import chart_layout, curves, run_colours

KEY = "compare"


# ---------------------------------------------------------------------------------------------- loaders
def load_runs() -> list[dict[str, Any]]:
    """Every run, newest first (one indexed query; not cached so finished runs appear at once)."""
    return resources.run_store().list()


@st.cache_data(show_spinner=False, max_entries=32)
def histories(run_ids: tuple[str, ...], stamp: tuple[Any, ...]) -> dict[str, list[dict[str, Any]]]:
    """Per-epoch histories of the runs; ``stamp`` (their status and last epoch) invalidates the cache."""
    return resources.run_store().histories(list(run_ids))


@st.cache_data(show_spinner=False, max_entries=64)
def _read_per_user(path: str, mtime: float) -> pd.DataFrame:
    return pd.read_parquet(path)


def per_user_frames(run_ids: Sequence[str]) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Run id → per-user metric frame (the ``per_user`` Parquet artifact) for the runs that have a readable
    one, plus one message per artifact that could not be read (a damaged file must not hide the page)."""
    store = resources.run_store()
    out, problems = {}, []
    for rid in run_ids:
        path = store.artifacts(rid).get("per_user")
        if path is None or not Path(path).is_file():
            continue
        try:
            out[rid] = _read_per_user(str(path), Path(path).stat().st_mtime)
        except Exception as err:  # pyarrow raises several types for damaged files
            problems.append(f"Per-user metrics of run {rid} could not be read ({Path(path).name}: {err}).")
    return out, problems


@st.cache_data(show_spinner="Running the paired tests…", max_entries=32)
def paired_test(a: pd.DataFrame, b: pd.DataFrame, metric: str) -> PairedTestResult:
    """Paired t-test, Wilcoxon and bootstrap CI of ``b − a`` over the users both runs evaluated."""
    return compare_runs(a, b, metric)


def significance_table(res: PairedTestResult) -> pd.DataFrame:
    """The paired test as a small table: test, statistic, p-value (two-sided) / interval."""
    return pd.DataFrame(
        [
            {"test": "paired t-test", "statistic": res.t_stat, "p-value / interval": f"{res.t_pvalue:.3g}"},
            {
                "test": "Wilcoxon signed-rank",
                "statistic": res.wilcoxon_stat,
                "p-value / interval": f"{res.wilcoxon_pvalue:.3g}",
            },
            {
                "test": f"mean of B − A, bootstrap {res.ci_level:.0%} CI ({res.n_boot} resamples)",
                "statistic": res.mean_diff,
                "p-value / interval": f"[{res.ci_low:+.4f}, {res.ci_high:+.4f}]",
            },
        ]
    )


def run_labels(table: pd.DataFrame) -> dict[str, str]:
    """Run id → the name shown in charts (the run name, with the id's tail when two runs share a name)."""
    dup = table["name"].duplicated(keep=False)
    return {
        rid: f"{name} ({rid[-6:]})" if d else name for rid, name, d in zip(table["id"], table["name"], dup, strict=True)
    }


def selection_colours(run_ids: Sequence[str]) -> dict[str, str]:
    """Run id → its colour in every chart of this page: distinct within the selection (up to the palette's
    20 colours), in selection order, and sticky for the session: a run keeps its colour while other runs
    are added or removed, and gets it back when picked again if it is still free."""
    key = f"{KEY}.colours"
    previous = dict(st.session_state.get(key) or {})
    colours = run_colours(run_ids, previous)
    st.session_state[key] = {**previous, **colours}
    return colours


# ---------------------------------------------------------------------------------------------- input groups
@dataclass(frozen=True)
class Filters:
    """What the run table shows: empty tuples mean "all"; ``sort_by`` a metric column or None."""

    datasets: tuple[str, ...]
    models: tuple[str, ...]
    tags: tuple[str, ...]
    statuses: tuple[str, ...]
    sort_by: str | None


def filters_ui(table: pd.DataFrame) -> Filters:
    """Four multiselects (dataset, model, tag, status) and the metric to sort by."""
    c1, c2, c3, c4, c5 = st.columns([2, 2, 2, 2, 2])
    tags = sorted({t.strip() for s in table["tags"] for t in str(s).split(",") if t.strip()})
    datasets = c1.multiselect("Dataset", sorted(set(table["dataset"]) - {""}), key=f"{KEY}.f.dataset")
    models = c2.multiselect("Model", sorted(set(table["model"])), key=f"{KEY}.f.model")
    chosen_tags = c3.multiselect("Tag", tags, key=f"{KEY}.f.tag", placeholder="any tag")
    statuses = c4.multiselect("Status", sorted(set(table["status"])), key=f"{KEY}.f.status")
    metrics = cmp.metric_columns(table)
    default = next((m for m in ("ndcg@10", "rmse") if m in metrics), metrics[0] if metrics else None)
    key = f"{KEY}.f.sort"
    current = st.session_state.get(key, default)
    about = f"\n\n**{current}**: {cmp.metric_help(current)}" if cmp.metric_help(current) else ""
    sort_by = c5.selectbox(
        "Sort by",
        metrics,
        index=metrics.index(default) if default else None,
        key=key,
        help="Best first, and ranked only inside a protocol group (runs in different groups are not comparable)."
        + about,
    )
    return Filters(tuple(datasets), tuple(models), tuple(chosen_tags), tuple(statuses), sort_by)


def selection_ui(table: pd.DataFrame, labels: Mapping[str, str]) -> list[str]:
    """The runs to compare (from the filtered table); defaults to the best three finished runs of the first
    group shown. A selection survives filter changes as far as the runs are still listed."""
    key = f"{KEY}.runs"
    options = list(table["id"])
    if key in st.session_state:
        st.session_state[key] = [r for r in st.session_state[key] if r in options]
    else:
        finished = table[(table["status"] == "finished") & (table["group"] != cmp.NO_GROUP)]
        first = finished[finished["group"] == finished["group"].iloc[0]] if len(finished) else finished
        st.session_state[key] = list(first["id"][:3])
    return st.multiselect(
        "Runs to compare", options, format_func=lambda r: labels.get(r, r), key=key, placeholder="pick runs"
    )


ACTIVE = ("queued", "running")  # runs a worker may still write to: never deleted from here


def _split_tags(text: str) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def manage_ui(runs: Sequence[Mapping[str, Any]], labels: Mapping[str, str]) -> None:
    """ "Manage selected runs": rename one run, add or remove tags, delete (after a confirmation; queued and
    running runs are refused: cancel them on Train first). Every change goes through the run store
    (:class:`recsys_core.runs.store.RunStore`), then the page is redrawn with a note of what was done."""
    from ui import state
    from ui.layout import guarded

    store = resources.run_store()
    confirm_key = f"{KEY}.manage.confirm"
    # open while a deletion waits for its confirmation (the confirmation is inside)
    with st.expander(
        f"Manage selected runs ({len(runs)})", icon=":material/edit:", expanded=confirm_key in st.session_state
    ):
        if not runs:
            st.caption("Pick runs above to rename, tag or delete them.")
            return
        if len(runs) == 1:
            run = runs[0]
            c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
            new_name = c1.text_input("New name", value=run["name"], key=f"{KEY}.manage.name.{run['id']}")
            if c2.button("Rename", key=f"{KEY}.manage.rename") and new_name.strip() != run["name"]:
                with guarded():
                    store.rename(run["id"], new_name)
                    state.flash(f"Renamed '{run['name']}' to '{new_name.strip()}'.")
                    st.rerun()
        else:
            st.caption("Select a single run to rename it.")
        present = sorted({t for r in runs for t in r.get("tags") or []})
        c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
        add = c1.text_input("Add tags", key=f"{KEY}.manage.add", placeholder="e.g. baseline, sweep-3",
                            help="Comma-separated; each tag is added to every selected run.")  # fmt: skip
        remove = c2.multiselect("Remove tags", present, key=f"{KEY}.manage.remove", placeholder="tags to remove")
        if c3.button("Apply tags", key=f"{KEY}.manage.tag", disabled=not (_split_tags(add) or remove)):
            with guarded():
                for r in runs:
                    store.tag(r["id"], add=_split_tags(add), remove=remove)
                state.flash(f"Tags updated on {len(runs)} run{'s' if len(runs) != 1 else ''}.")
                st.rerun()
        active = [r for r in runs if r["status"] in ACTIVE]
        ended = [r for r in runs if r["status"] not in ACTIVE]
        if active:
            st.info(
                ", ".join(f"'{labels.get(r['id'], r['name'])}' is {r['status']}" for r in active)
                + ": cancel it on the Train page first, then delete it.",
                icon=":material/info:",
            )
        ids = tuple(r["id"] for r in ended)
        if st.session_state.get(confirm_key) != ids:
            st.session_state.pop(confirm_key, None)
            if st.button(
                f"Delete {len(ended)} run{'s' if len(ended) != 1 else ''}…" if ended else "Delete",
                key=f"{KEY}.manage.delete",
                disabled=not ended,
                icon=":material/delete:",
            ):
                st.session_state[confirm_key] = ids
                st.rerun()
            return
        gone = ", ".join(f"'{labels.get(r['id'], r['name'])}'" for r in ended)
        st.warning(
            f"Delete {gone}? Their metrics, curves and saved models are removed for good.", icon=":material/warning:"
        )
        c1, c2, _ = st.columns([1, 1, 3])
        if c1.button("Yes, delete", key=f"{KEY}.manage.yes", type="primary"):
            st.session_state.pop(confirm_key, None)
            with guarded():
                for r in ended:
                    store.delete(r["id"])
                state.flash(f"Deleted {gone}.")
                st.rerun()
        if c2.button("Keep them", key=f"{KEY}.manage.no"):
            st.session_state.pop(confirm_key, None)
            st.rerun()


@dataclass(frozen=True)
class CurveOptions:
    """Which series to overlay and how: x is ``"epoch"`` or ``"elapsed"`` (seconds); smoothing in [0, 1)."""

    loss: str | None
    val: str | None
    x: str
    log_y: bool
    smoothing: float


def curve_options_ui(loss_names: Sequence[str], val_names: Sequence[str]) -> CurveOptions:
    """Loss and validation-metric pickers, x-axis (epoch / wall time), log scale and smoothing."""
    c1, c2, c3, c4, c5 = st.columns([2, 2, 2, 1, 2])
    loss = c1.selectbox("Loss", loss_names, key=f"{KEY}.c.loss") if loss_names else None
    default_val = next((i for i, v in enumerate(val_names) if v in ("ndcg@10", "rmse")), 0)
    val = c2.selectbox("Validation metric", val_names, index=default_val, key=f"{KEY}.c.val") if val_names else None
    x = c3.segmented_control(
        "x-axis",
        ["epoch", "elapsed"],
        default="epoch",
        format_func={"epoch": "epoch", "elapsed": "wall time (s)"}.get,
        key=f"{KEY}.c.x",
    )
    log_y = c4.toggle("Log y", key=f"{KEY}.c.log")
    smoothing = c5.slider("Smoothing", 0.0, 0.95, 0.0, 0.05, key=f"{KEY}.c.smooth", help="Exponential moving average")
    return CurveOptions(loss, val, x or "epoch", bool(log_y), float(smoothing))


def pick_ui(label: str, options: Sequence[str], *, key: str, prefer: Sequence[str] = (), where: Any = None) -> str:
    """A selectbox over ``options`` (drawn in ``where``, a column, or the page) that starts on the first of
    ``prefer`` present, else the first option. When the options are metrics, its help is the definition of
    the one chosen."""
    options = list(options)
    index = next((options.index(p) for p in prefer if p in options), 0)
    current = st.session_state.get(f"{KEY}.{key}")
    current = current if current in options else (options[index] if options else None)
    about = cmp.metric_help(current)
    return (where or st).selectbox(
        label, options, index=index, key=f"{KEY}.{key}", help=f"**{current}**: {about}" if about else None
    )


def pair_ui(
    run_ids: Sequence[str], per_user: Mapping[str, pd.DataFrame], labels: Mapping[str, str]
) -> tuple[str, str, str | None]:
    """Run A, run B (defaults: the first two) and a per-user metric both have (None when they share none)."""
    c1, c2, c3 = st.columns(3)
    a = c1.selectbox("Run A", run_ids, format_func=labels.get, key=f"{KEY}.sig.a")
    b = c2.selectbox("Run B", run_ids, index=1, format_func=labels.get, key=f"{KEY}.sig.b")
    common = sorted((set(per_user[a].columns) & set(per_user[b].columns)) - set(PER_USER_NON_METRICS))
    metric = pick_ui("Metric", common, key="sig.metric", prefer=["ndcg@10", "rmse"], where=c3) if common else None
    return a, b, metric


EMPTY = "—"  # what a cell without a value shows (never "None")


def metric_column_config(columns: Sequence[str]) -> dict[str, Any]:
    """``st.dataframe`` column settings: each metric column's definition as its header tooltip, metrics to
    4 decimals and counts as whole numbers with thousands separators."""
    return {
        c: st.column_config.NumberColumn(
            c, help=cmp.metric_help(c), format="localized" if c in cmp.COUNT_METRICS else "%.4f"
        )
        for c in columns
    }


def show_run_table(shown: pd.DataFrame, groups: Sequence[cmp.ProtocolGroup], sort_by: str | None = None) -> None:
    """The filtered run table (rank within its protocol group first, then the metric it is sorted by), the
    groups, and its CSV download. A cell without a value (a run without metrics, a metric a run lacks) shows
    :data:`EMPTY`, never "None"."""
    info = [c for c in ("rank", "name", "model", "dataset", "status", "tags", "group", "created") if c in shown]
    metrics = cmp.metric_columns(shown, rankable=False)
    if sort_by in metrics:  # the sort column in view, not somewhere after avg_popularity and coverage
        metrics = [sort_by] + [m for m in metrics if m != sort_by]
    st.dataframe(
        shown[info + metrics],
        hide_index=True,
        column_config={
            "rank": st.column_config.NumberColumn("rank", help="within its protocol group"),
            "created": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm", timezone="UTC"),
            **metric_column_config(metrics),
        },
        placeholder=EMPTY,
        key=f"{KEY}.table",
    )
    with st.expander(f"Protocol groups ({len(groups)}): runs are ranked only inside their group"):
        for g in groups:
            n = len(g.run_ids)
            st.markdown(f"**{g.key}** · {n} run{'s' if n != 1 else ''} · {g.description}")
    st.download_button(
        "Download table (CSV)",
        shown.to_csv(index=False).encode(),
        file_name="reclab-runs.csv",
        mime="text/csv",
        key=f"{KEY}.csv",
        icon=":material/download:",
    )


# ---------------------------------------------------------------------------------------------- figures
def curve_figure(
    runs_history: Mapping[str, Sequence[Mapping[str, Any]]],
    labels: Mapping[str, str],
    part: str,
    name: str,
    options: CurveOptions,
    colours: Mapping[str, str] | None = None,
) -> go.Figure:
    """Overlaid curves of one loss (``part="losses"``) or validation metric (``"val"``), one line per run."""
    series = {}
    for rid, h in runs_history.items():
        x, y = cmp.curve(h, part, name, options.x)
        if len(x):
            series[rid] = (labels.get(rid, rid), x, y)
    x_title = "epoch" if options.x == "epoch" else "wall time since start (s)"
    what = "training loss" if part == "losses" else "validation"
    return curves(
        series,
        title=f"{what}: {name}",
        x_title=x_title,
        y_title=name + (" (log scale)" if options.log_y else ""),
        log_y=options.log_y,
        smoothing=options.smoothing,
        key=f"{KEY}.curve.{part}",  # constant per chart: legend toggles and zoom survive reruns
        colours=colours,
    )


def across_k_figure(
    long: pd.DataFrame, metric: str, labels: Mapping[str, str], colours: Mapping[str, str] | None = None
) -> go.Figure:
    """``metric@K`` against K, one line per run (``long`` from :func:`recsys_core.runs.compare.metrics_across_k`);
    ``colours`` as in :func:`ui.figures.curves`."""
    fig = go.Figure()
    sub = long[long["metric"] == metric]
    colours = run_colours([str(r) for r in sub["id"].unique()], colours)
    for rid, g in sub.groupby("id", sort=False):
        label = labels.get(str(rid), str(rid))
        fig.add_trace(
            go.Scatter(
                x=g["k"].to_numpy(), y=g["value"].to_numpy(), mode="lines+markers", name=label,
                legendgroup=str(rid), line={"color": colours[str(rid)]},
                hovertemplate=f"{label}<br>K %{{x}}<br>{metric} %{{y:.4f}}<extra></extra>",
            )
        )  # fmt: skip
    fig.update_xaxes(type="category")
    return chart_layout(fig, title=f"{metric} across K", x_title="K (list length)", y_title=metric, key=f"{KEY}.k")


def segment_figure(
    seg: pd.DataFrame, metric: str, labels: Mapping[str, str], colours: Mapping[str, str] | None = None
) -> go.Figure:
    """Grouped bars: mean ``metric`` per user-activity segment, one colour per run (``colours`` as in
    :func:`ui.figures.curves`)."""
    fig = go.Figure()
    colours = run_colours([str(r) for r in seg["id"].unique()], colours)
    for rid, g in seg.groupby("id", sort=False):
        label = labels.get(str(rid), str(rid))
        fig.add_trace(
            go.Bar(
                x=g["segment"].to_numpy(), y=g["value"].to_numpy(), name=label, legendgroup=str(rid),
                marker_color=colours[str(rid)], customdata=g["users"].to_numpy(),
                hovertemplate=f"{label}<br>%{{x}}: {metric} %{{y:.4f}} (%{{customdata:,}} users)<extra></extra>",
            )
        )  # fmt: skip
    fig.update_layout(barmode="group")
    return chart_layout(
        fig,
        title=f"{metric} by user activity",
        x_title="users by training interactions (inclusive count ranges)",
        y_title=f"mean {metric} per user",
        key=f"{KEY}.seg",
    )


def styled_metrics(table: pd.DataFrame, columns: Sequence[str]) -> Any:
    """A pandas Styler of ``table`` (name, group, ``columns``) with each group's best value per column bold
    on a green background."""
    mask = cmp.best_mask(table, columns)
    shown = table[["name", "group", *columns]]
    css = pd.DataFrame("", index=shown.index, columns=shown.columns)
    for c in mask.columns:
        css.loc[mask[c], c] = "font-weight: bold; background-color: #d3f9d8"
    return shown.style.apply(lambda _: css, axis=None).format(dict.fromkeys(columns, "{:.4f}"), na_rep="–")


# ---------------------------------------------------------------------------------------------- report
_CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#212529}table{border-collapse:collapse;
font-size:13px;margin:8px 0}td,th{border:1px solid #dee2e6;padding:4px 8px;text-align:left}th{background:#f1f3f5}
.best{font-weight:bold;background:#d3f9d8}.warn{background:#fff3bf;padding:8px;border-radius:4px}
pre{font-size:11px;background:#f8f9fa;padding:8px;overflow:auto}"""


def comparison_report(
    runs: Sequence[Mapping[str, Any]],
    table: pd.DataFrame,
    figures: Mapping[str, go.Figure],
    *,
    notes: Sequence[str] = (),
    title: str = "RecLab run comparison",
) -> str:
    """One self-contained HTML page: each run with its protocol and hyperparameters, the mismatch warnings,
    the metrics table (each protocol group's best value per column bold) and the interactive Plotly figures
    (plotly.js inlined once, so it opens offline). ``table`` is a :func:`recsys_core.runs.compare.run_table`
    of the same runs; ``notes`` are extra paragraphs (e.g. the significance verdict)."""
    esc = html.escape
    groups = cmp.protocol_groups(runs)
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title><style>{_CSS}</style>",
        f"</head><body><h1>{esc(title)}</h1>",
        f"<p>Generated {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC · {len(runs)} runs</p>",
    ]
    warn = cmp.mismatches(runs)
    if warn:
        items = "".join(f"<li>{esc(w)}</li>" for w in warn)
        out.append(
            f"<div class='warn'><b>Not all runs are comparable</b> — rank only within a group:<ul>{items}</ul></div>"
        )
    unevaluated = cmp.not_evaluated_note(runs)
    if unevaluated:
        out.append(f"<p class='warn'>{esc(unevaluated)}</p>")
    out.append("<h2>Protocol groups</h2><table><tr><th>group</th><th>runs</th><th>protocol</th></tr>")
    names = {r["id"]: r["name"] for r in runs}
    for g in groups:
        members = ", ".join(esc(names[r]) for r in g.run_ids)
        out.append(f"<tr><td>{g.key}</td><td>{members}</td><td>{esc(g.description)}</td></tr>")
    out.append("</table><h2>Runs</h2>")
    for r in runs:
        params = ", ".join(f"{k}={v}" for k, v in (r.get("params") or {}).items()) or "(none)"
        protocol = json.dumps(r.get("protocol"), indent=1, default=str)
        dataset = [str(r["dataset_name"])] if r.get("dataset_name") else []
        out.append(
            f"<h3>{esc(r['name'])}</h3><p>id {esc(r['id'])} · model {esc(r['model'])} · dataset "
            f"{esc(str(r.get('dataset_name') or '?'))} · status {esc(r['status'])} · params {esc(params)}<br>"
            f"Protocol: {esc(cmp.describe_protocol(r.get('protocol'), cmp.evaluation_kind(r), datasets=dataset))}</p>"
            f"<details><summary>full protocol</summary><pre>{esc(protocol)}</pre></details>"
        )
    metrics = cmp.metric_columns(table, rankable=False)
    mask = cmp.best_mask(table, metrics)
    out.append("<h2>Metrics</h2><p>Bold: best in its protocol group.</p><table><tr><th>run</th><th>group</th>")
    out.append("".join(f"<th>{esc(c)}</th>" for c in metrics) + "</tr>")
    for i, row in table.iterrows():
        cells = []
        for c in metrics:
            v = row[c]
            text = "–" if pd.isna(v) else (f"{v:,.0f}" if c in cmp.COUNT_METRICS else f"{v:.4f}")
            best = c in mask.columns and bool(mask.at[i, c])
            cells.append(f"<td class='best'>{text}</td>" if best else f"<td>{text}</td>")
        out.append(f"<tr><td>{esc(str(row['name']))}</td><td>{row['group']}</td>{''.join(cells)}</tr>")
    out.append("</table>")
    out += [f"<p>{esc(n)}</p>" for n in notes]
    if figures:
        out.append("<h2>Figures</h2>")
    for i, (name, fig) in enumerate(figures.items()):
        # plotly.js (≈ 4.7 MB) is inlined with the first figure only; the others reuse it
        body = fig.to_html(full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False})
        out.append(f"<h3>{esc(name)}</h3>{body}")
    out.append("</body></html>")
    return "\n".join(out)


def finite(values: Sequence[float]) -> bool:
    """Whether every value is a finite number (a chart needs at least that)."""
    arr = np.asarray(values, dtype=np.float64)
    return bool(arr.size) and bool(np.isfinite(arr).all())


PER_USER_NON_METRICS = (*ID_COLUMNS, "n")
