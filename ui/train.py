"""The Train page's input groups and live panel pieces (no computation: the job queue does the work)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from recsys_core import preflight
from recsys_core.data.schema import DATASET_SPLIT, SplitConfig
from recsys_core.data.store import DatasetStore
from recsys_core.device import DeviceInfo
from recsys_core.errors import ConfigError
from recsys_core.models.params import Param
from ui import figures, resources, state

if TYPE_CHECKING:
    from recsys_core.experiment import ExperimentSpec

ACTIVE = ("queued", "running")
BUILTIN_NAME = "Built-in synthetic"
KS = [1, 5, 10, 20, 50, 100]  # the evaluation cutoffs offered


def model_ui(models: list[dict[str, Any]]) -> dict[str, Any]:
    """Model picker with each model's one-line description; returns the chosen model's description dict."""
    by_name = {m["name"]: m for m in models}
    name = st.selectbox(
        "Model",
        list(by_name),
        format_func=lambda n: f"{n} — {by_name[n]['description']}",
        key="train.model",
    )
    return by_name[name]


# Form labels for names that read badly as they are; every other name shows with spaces for underscores. The
# public name (CLI ``--param``, configs) stays in each field's help.
_LABELS = {"k": "k (neighbours per item)", "l2": "l2 (regularisation)", "lr": "learning rate", "reg": "reg (L2)",
           "bm25_k1": "BM25 k1", "bm25_b": "BM25 b", "cg_steps": "CG steps"}  # fmt: skip


def param_label(p: Param) -> str:
    """How the Train form names a hyperparameter."""
    return _LABELS.get(p.name, p.name.replace("_", " "))


def hyperparams_ui(schema: list[Param], *, key: str) -> dict[str, Any]:
    """A form field per hyperparameter, generated from the model's schema (ranges and help included)."""
    values: dict[str, Any] = {}
    columns = st.columns(3)
    for i, p in enumerate(schema):
        col = columns[i % 3]
        help_text = f"{p.help} Range {p.describe_range()}{', log scale' if p.log else ''}. (`{p.name}`)"
        label = param_label(p)
        k = f"{key}.{p.name}"
        if p.kind == "choice":
            choices = list(p.choices or ())
            values[p.name] = col.selectbox(label, choices, index=choices.index(p.default), help=help_text, key=k)
        elif p.kind == "bool":
            values[p.name] = col.toggle(label, value=bool(p.default), help=help_text, key=k)
        elif p.kind == "int":
            values[p.name] = int(
                col.number_input(label, int(p.low), int(p.high), int(p.default), step=1, help=help_text, key=k)
            )
        else:
            step = float(p.default) / 10 if p.log and p.default else 0.01
            values[p.name] = float(
                col.number_input(
                    label, float(p.low), float(p.high), float(p.default), step=step, format="%g", help=help_text,
                    key=k,
                )
            )  # fmt: skip
    return values


def device_ui(devices: list[DeviceInfo]) -> str:
    options = ["auto", *[d.id for d in devices]]
    labels = {"auto": f"auto ({devices[0].label})", **{d.id: f"{d.id}: {d.label}" for d in devices}}
    return st.selectbox(
        "Device", options, format_func=labels.get, key="train.device", help="auto = first GPU, then Apple MPS, then CPU"
    )


def options_ui(devices: list[DeviceInfo], *, model: str, has_validation: bool) -> dict[str, Any]:
    """Device, seed, evaluation cutoffs and early stopping (only with a validation part), as ``ExperimentSpec``
    fields. The Monitor list offers only the metrics that ``model``'s per-epoch validation reports."""
    # The cutoffs are pills, not a multiselect: a multiselect scrolls its chips sideways and hides some under
    # its clear icon when the column is narrow; pills show every choice and wrap.
    c_device, c_seed, c_ks = st.columns([3, 2, 4])
    with c_device:
        device = device_ui(devices)
    seed = int(c_seed.number_input("Seed", 0, 2**31 - 1, 42, key="train.seed"))
    ks = c_ks.pills(
        "Evaluate at K",
        KS,
        selection_mode="multi",
        default=[10, 20],
        key="train.ks",
        help="Top-K cutoffs of the metrics (ndcg@K, recall@K, …); choose one or more",
    )
    if not ks:
        c_ks.caption("None chosen: evaluating at K = 10.")
        ks = [10]
    early, patience = None, 3
    c1, c2, c3 = st.columns(3)
    if has_validation:
        if c1.toggle("Early stopping", key="train.early", help="Stop when the validation metric stops improving"):
            metrics = preflight.validation_metrics(model, ks)
            early = c2.selectbox(
                "Monitor", metrics, key="train.monitor", help=f"What {model}'s validation reports after each epoch"
            )
            patience = int(c3.number_input("Patience (epochs)", 1, 50, 3, key="train.patience"))
    else:
        c1.caption("Early stopping needs a validation part: set a validation share on the Data page.")
    return {"device": device, "seed": seed, "ks": tuple(sorted(ks)), "early_stopping": early, "patience": patience}


def data_summary(name: str, split: SplitConfig) -> preflight.DataSummary:
    """What the pre-queue checks need to know about the saved dataset ``name`` trained with ``split``: ratings,
    a validation part, and the number of items (a K above it is refused under the model picker)."""
    return preflight.summarize_dataset(name, split=split)


def spec_check_ui(spec: ExperimentSpec, data: preflight.DataSummary) -> ConfigError | None:
    """Show why ``spec`` cannot train on ``data`` (a warning naming what to choose instead); returns the
    problem, or None when the spec is fine."""
    problem = preflight.spec_problem(spec, data)
    if problem is not None:
        st.warning(str(problem), icon=":material/block:")
    return problem


def recent_runs_ui(runs: list[dict[str, Any]]) -> None:
    """The recent (ended) runs as a table, and below it the full error of a failed run (newest by default)."""
    rows = [
        {
            "run": r.get("name") or r["id"],
            "model": r["model"],
            "status": r["status"],
            "dataset": r.get("dataset_name"),
            "ndcg@10": (r.get("metrics") or {}).get("ndcg@10"),
            "rmse": (r.get("metrics") or {}).get("rmse"),
            "error": r.get("error"),
        }
        for r in runs
    ]
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        column_config={
            "error": st.column_config.TextColumn("error", help="The full message is shown below"),
            "ndcg@10": st.column_config.NumberColumn(format="%.4f"),
            "rmse": st.column_config.NumberColumn(format="%.4f"),
        },
        placeholder="—",
        key="train.recent",
    )
    failed = {r["id"]: r for r in runs if r.get("error")}
    if not failed:
        return
    # a failed run's error first: a cancellation is not an error
    run_id = next((i for i, r in failed.items() if r["status"] != "cancelled"), next(iter(failed)))
    if len(failed) > 1:
        run_id = st.selectbox(
            "Read the error of",
            list(failed),
            format_func=lambda i: f"{failed[i].get('name') or i} · {failed[i]['model']} · {failed[i]['status']}",
            key="train.recent.error_run",
        )
    run = failed[run_id]
    label = run.get("name") or run_id
    if run["status"] == "cancelled":
        done, total = run.get("last_epoch") or 0, run.get("epochs_total")
        where = f" at epoch {done} of {total}" if done and total else " before its first epoch"
        st.info(f"**{label}** ({run['model']}) was cancelled{where}.", icon=":material/cancel:")
    else:
        st.error(f"**{label}** ({run['model']}) {run['status']}: {run['error']}", icon=":material/error:")


def training_data(name: str) -> tuple[str, SplitConfig]:
    """The saved dataset a job trains on and its split. The built-in dataset is saved on first use, because
    workers are separate processes that load data from the dataset store."""
    store = DatasetStore()
    if name == state.BUILTIN or not store.exists(name):
        if not store.exists(BUILTIN_NAME):
            data = resources.builtin_dataset()
            store.save(BUILTIN_NAME, data.interactions, items=data.items, source={"kind": "synthetic", **data.config},
                       split=DATASET_SPLIT.to_dict())  # fmt: skip
        name = BUILTIN_NAME
    info = store.info(name)
    split = info.split_config()  # the same rule as `runs submit --dataset`
    return name, split


def describe_split(split: SplitConfig) -> str:
    from ui.inputs import SPLIT_LABELS

    if split.test_last_n:
        parts = f"last {split.test_last_n} per user to test" + (
            f", {split.val_last_n} to validation" if split.val_last_n else ""
        )
    else:
        parts = f"{split.test_fraction:.0%} test" + (
            f", {split.val_fraction:.0%} validation" if split.val_fraction else ""
        )
    return f"{SPLIT_LABELS.get(split.method, split.method)}, {parts}, seed {split.seed}"


def _fmt_seconds(s: float | None) -> str:
    if s is None:
        return "–"
    s = round(s)
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s}s"


def _series(run_id: str, epochs: np.ndarray, records: list[dict[str, float]]) -> dict:
    """One curve per metric name found in the per-epoch records (missing epochs as NaN)."""
    names = sorted({k for r in records for k in r})
    return {f"{run_id}:{k}": (k, epochs, np.array([r.get(k, np.nan) for r in records])) for k in names}


def progress_panel(run: dict[str, Any], progress: dict[str, Any], history: list[dict[str, Any]]) -> bool:
    """One running/queued run: progress bar with epoch and ETA, loss and validation curves, cancel button.
    Returns True when the user asked to cancel it."""
    label = run.get("name") or run["id"]
    n = progress.get("n_epochs") or 0
    epoch = progress.get("epoch", 0)
    with st.container(border=True):
        head, button = st.columns([5, 1])
        if progress["status"] == "queued":
            head.markdown(f"**{label}** · {run['model']} · queued (position {progress.get('queue_position')})")
            st.progress(0.0, text="waiting for a free slot")
        else:
            losses = " · ".join(f"{k} {v:.4f}" for k, v in (progress.get("losses") or {}).items())
            head.markdown(f"**{label}** · {run['model']} · running on {run.get('device') or 'auto'}")
            st.progress(
                min(epoch / n, 1.0) if n else 0.0,
                text=f"epoch {epoch} of {n} · elapsed {_fmt_seconds(progress.get('elapsed'))} · "
                f"ETA {_fmt_seconds(progress.get('eta'))}" + (f" · {losses}" if losses else ""),
            )
        cancel = button.button("Cancel", key=f"train.cancel.{run['id']}", disabled=progress.get("cancel_requested"))
        if history:
            epochs = np.array([h["epoch"] for h in history])
            series = _series(run["id"], epochs, [h["losses"] for h in history])
            left, right = st.columns(2)
            left.plotly_chart(
                figures.curves(series, title="Training loss", x_title="epoch", y_title="loss", key=f"live-{run['id']}"),
                key=f"train.live.loss.{run['id']}",
            )
            vseries = _series(run["id"], epochs, [h["val"] for h in history])
            if vseries:
                right.plotly_chart(
                    figures.curves(
                        vseries, title="Validation", x_title="epoch", y_title="metric", key=f"val-{run['id']}"
                    ),
                    key=f"train.live.val.{run['id']}",
                )
    return cancel


def gpu_memory_caption(device: DeviceInfo) -> str | None:
    """Device memory in use (all processes) for a CUDA device, e.g. '3.2 of 80 GiB in use'."""
    if device.kind != "cuda":
        return None
    import torch

    free, total = torch.cuda.mem_get_info(torch.device(device.id))
    return f"{device.id}: {(total - free) / 2**30:.1f} of {total / 2**30:.0f} GiB in use"
