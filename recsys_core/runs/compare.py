"""Comparing runs: the run table, protocol groups (which runs may be ranked together), metric reshaping
for charts (across K, by user segment, against hyperparameters) and the plain-words verdict of a paired test.

Everything here is pure (run dicts in, pandas/plain values out); the dashboard's Compare page draws it.
Run dicts are those of :meth:`recsys_core.runs.store.RunStore.list` / ``get``.

Two runs are *comparable* when their evaluation protocols have no
:meth:`~recsys_core.evaluation.protocol.EvalProtocol.mismatches` (same prepared data, split, candidates,
exclusions, relevance threshold, MAP normaliser) and they were judged the same way (top-K ranking vs.
RMSE/MAE on ratings). Rankings and "best" highlights are computed only inside such a group.
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys_core.errors import ConfigError
from recsys_core.evaluation.protocol import EvalProtocol
from recsys_core.evaluation.segments import activity_segments
from recsys_core.evaluation.significance import PairedTestResult

# Smaller is better for these metric families (errors; popularity bias / concentration of what is shown).
LOWER_IS_BETTER = ("rmse", "mae", "gini", "avg_popularity")
# Counts stored among the metrics; shown in the table but never ranked or highlighted.
COUNT_METRICS = ("n_users", "n_users_skipped", "n_pairs", "n_unknown")
BEYOND_ACCURACY = ("coverage", "novelty", "personalisation", "diversity", "gini", "avg_popularity")
NO_GROUP = "—"  # runs without a recorded protocol (queued, running, failed before evaluation)
INFO_COLUMNS = ("id", "name", "model", "dataset", "status", "tags", "created", "group", "evaluation")


def split_metric(key: str) -> tuple[str, int | None]:
    """``"ndcg@10"`` → ``("ndcg", 10)``; ``"rmse"`` → ``("rmse", None)``."""
    name, _, k = key.partition("@")
    return name, int(k) if k.isdigit() else None


def lower_is_better(key: str) -> bool:
    """Whether a smaller value of this metric is the better one (rmse, mae, gini, avg_popularity)."""
    return split_metric(key)[0] in LOWER_IS_BETTER


def evaluation_kind(run: Mapping[str, Any]) -> str:
    """``"ranking"`` (top-K metrics), ``"rating"`` (RMSE/MAE) or ``"none"`` (not evaluated yet)."""
    protocol = run.get("protocol") or {}
    if protocol.get("evaluation"):
        return str(protocol["evaluation"])
    metrics = run.get("metrics") or {}
    if any("@" in k for k in metrics):
        return "ranking"
    if "rmse" in metrics:
        return "rating"
    return "ranking" if protocol else "none"


def describe_protocol(protocol: Mapping[str, Any] | None, evaluation: str = "ranking") -> str:
    """One line naming what a protocol fixes: evaluation, candidates, data fingerprint, split, threshold."""
    if not protocol:
        return "not evaluated (no protocol recorded)"
    parts = [f"{evaluation} evaluation"]
    if evaluation != "rating":
        if protocol.get("candidates") == "sampled":
            parts.append(f"sampled ({protocol.get('n_negatives')} negatives per test item)")
        else:
            parts.append("full ranking")
        parts.append("K " + ", ".join(str(k) for k in protocol.get("ks") or []))
    parts.append(f"data {str(protocol.get('data_fingerprint') or '?')[:8]}")
    split = (protocol.get("split") or {}).get("split") or {}
    if split:
        test = f"last {split['test_last_n']}" if split.get("test_last_n") else f"{split.get('test_fraction', 0):.0%}"
        parts.append(f"split {split.get('method')} (test {test}, seed {split.get('seed')})")
    elif (protocol.get("split") or {}).get("kind") == "files":
        parts.append("split given as train/test files")
    if protocol.get("relevance_threshold") is not None:
        parts.append(f"relevant if rating ≥ {protocol['relevance_threshold']}")
    return " · ".join(parts)


@dataclass(frozen=True)
class ProtocolGroup:
    """Runs that may be ranked together.

    Attributes:
        key: short label shown in tables ("A", "B", …; stable as runs are added: ordered by the group's
            oldest run). evaluation: "ranking" or "rating". protocol: the protocol dict of its first run.
        run_ids: members, oldest first. description: :func:`describe_protocol` of ``protocol``.
    """

    key: str
    evaluation: str
    protocol: dict[str, Any]
    run_ids: tuple[str, ...]
    description: str


def _protocol(run: Mapping[str, Any]) -> EvalProtocol | None:
    try:
        return EvalProtocol.from_dict(dict(run["protocol"])) if run.get("protocol") else None
    except (ConfigError, TypeError, ValueError):
        return None  # a protocol this version cannot read: treat the run as not comparable


def _reasons(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Why runs ``a`` and ``b`` cannot be ranked together (empty: comparable)."""
    ea, eb = evaluation_kind(a), evaluation_kind(b)
    pa, pb = _protocol(a), _protocol(b)
    if pa is None or pb is None:
        return ["no evaluation protocol recorded"]
    reasons = [] if ea == eb else [f"{ea} vs {eb} evaluation"]
    return reasons + pa.mismatches(pb)


def _label(i: int) -> str:
    letters = string.ascii_uppercase
    return letters[i] if i < len(letters) else f"{letters[i // len(letters) - 1]}{letters[i % len(letters)]}"


def protocol_groups(runs: Sequence[Mapping[str, Any]]) -> list[ProtocolGroup]:
    """Partition the evaluated runs into comparable groups (runs without a protocol are in none).

    Each run joins the first group whose first run it is comparable with; groups are keyed A, B, … by
    their oldest run, so adding runs never relabels the existing groups.
    """
    ordered = sorted((r for r in runs if _protocol(r) is not None), key=lambda r: (r.get("created_at") or 0, r["id"]))
    heads: list[Mapping[str, Any]] = []
    members: list[list[str]] = []
    for run in ordered:
        for i, head in enumerate(heads):
            if not _reasons(head, run):
                members[i].append(run["id"])
                break
        else:
            heads.append(run)
            members.append([run["id"]])
    return [
        ProtocolGroup(
            key=_label(i),
            evaluation=evaluation_kind(head),
            protocol=dict(head["protocol"]),
            run_ids=tuple(ids),
            description=describe_protocol(head["protocol"], evaluation_kind(head)),
        )
        for i, (head, ids) in enumerate(zip(heads, members))
    ]


def group_index(groups: Iterable[ProtocolGroup]) -> dict[str, str]:
    """Run id → group key."""
    return {rid: g.key for g in groups for rid in g.run_ids}


def mismatches(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Why a selection cannot be ranked as one list: one sentence per pair of groups it mixes, naming the
    runs and the differences, e.g. ``"'ials a' vs 'ease b': different data (fingerprints differ)"``.
    Empty when every run is comparable with every other."""
    heads: list[Mapping[str, Any]] = []
    out: list[str] = []
    for run in runs:
        if all(_reasons(h, run) for h in heads):
            for h in heads:
                out.append(f"'{h['name']}' vs '{run['name']}': {'; '.join(_reasons(h, run))}")
            heads.append(run)
    return out


def run_table(runs: Sequence[Mapping[str, Any]], groups: Sequence[ProtocolGroup] | None = None) -> pd.DataFrame:
    """One row per run: ``id, name, model, dataset, status, tags`` (comma-joined), ``created`` (datetime,
    UTC), ``group`` (protocol group key, or "—"), ``evaluation``, then one float column per metric (sorted:
    ranking metrics by name and K, then counts). Rows keep the order of ``runs``."""
    groups = protocol_groups(runs) if groups is None else groups
    where = group_index(groups)
    rows = []
    for r in runs:
        row: dict[str, Any] = {
            "id": r["id"],
            "name": r["name"],
            "model": r["model"],
            "dataset": r.get("dataset_name") or "",
            "status": r["status"],
            "tags": ", ".join(r.get("tags") or []),
            "created": r.get("created_at"),
            "group": where.get(r["id"], NO_GROUP),
            "evaluation": evaluation_kind(r),
        }
        for k, v in (r.get("metrics") or {}).items():
            row[k] = float(v) if v is not None else math.nan
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(INFO_COLUMNS)) if not rows else pd.DataFrame(rows)
    table["created"] = pd.to_datetime(table["created"], unit="s", utc=True)
    metrics = sorted(
        (c for c in table.columns if c not in INFO_COLUMNS),
        key=lambda c: (c in COUNT_METRICS, split_metric(c)[0], split_metric(c)[1] or 0),
    )
    table[metrics] = table[metrics].astype(np.float64)
    return table[list(INFO_COLUMNS) + metrics].reset_index(drop=True)


def metric_columns(table: pd.DataFrame, *, rankable: bool = True) -> list[str]:
    """The metric columns of a :func:`run_table` (without the counts when ``rankable``)."""
    return [c for c in table.columns if c not in INFO_COLUMNS and c != "rank" and not (rankable and c in COUNT_METRICS)]


def filter_table(
    table: pd.DataFrame,
    *,
    datasets: Sequence[str] = (),
    models: Sequence[str] = (),
    tags: Sequence[str] = (),
    statuses: Sequence[str] = (),
) -> pd.DataFrame:
    """Rows matching every non-empty filter (a run matches ``tags`` when it carries any of them)."""
    keep = pd.Series(True, index=table.index)
    if datasets:
        keep &= table["dataset"].isin(list(datasets))
    if models:
        keep &= table["model"].isin(list(models))
    if statuses:
        keep &= table["status"].isin(list(statuses))
    if tags:
        wanted = set(tags)
        keep &= table["tags"].map(lambda s: bool(wanted & {t.strip() for t in str(s).split(",")}))
    return table[keep]


def rank_within_groups(table: pd.DataFrame, metric: str) -> pd.Series:
    """Rank (1 = best, nullable Int64) of each run by ``metric`` inside its protocol group; missing values
    and runs without a group get <NA>, so runs that are not comparable are never put in one order."""
    if metric not in table.columns:
        return pd.Series(pd.NA, index=table.index, dtype="Int64")
    values = table[metric].where(table["group"] != NO_GROUP)
    ranks = values.groupby(table["group"]).rank(method="min", ascending=lower_is_better(metric))
    return ranks.round().astype("Int64")


def sort_table(table: pd.DataFrame, metric: str | None) -> pd.DataFrame:
    """Sort by group, then by ``metric`` best-first inside each group (missing last); adds ``rank``."""
    if not metric or metric not in table.columns:
        return table
    out = table.assign(rank=rank_within_groups(table, metric))
    order = out[metric] if lower_is_better(metric) else -out[metric]
    out = out.assign(_order=order).sort_values(["group", "_order"], na_position="last", kind="stable")
    return out.drop(columns="_order")


def best_mask(table: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Boolean frame (same index, ``columns``): True where a cell holds its protocol group's best value in
    that column (ties all marked; groups with a single run are marked too; counts never)."""
    columns = [c for c in (columns or metric_columns(table)) if c not in COUNT_METRICS]
    mask = pd.DataFrame(False, index=table.index, columns=columns)
    grouped = table["group"].where(table["group"] != NO_GROUP)
    for c in columns:
        best = table[c].groupby(grouped).transform("min" if lower_is_better(c) else "max")
        mask[c] = (table[c] == best) & table[c].notna() & grouped.notna()
    return mask


def metrics_across_k(runs: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Long frame of every ``metric@K`` value: ``id, name, metric, k`` (int), ``value`` (float)."""
    rows = [
        {"id": r["id"], "name": r["name"], "metric": name, "k": k, "value": float(v)}
        for r in runs
        for key, v in (r.get("metrics") or {}).items()
        for name, k in [split_metric(key)]
        if k is not None and v is not None
    ]
    frame = pd.DataFrame(rows, columns=["id", "name", "metric", "k", "value"])
    return frame.astype({"k": np.int64, "value": np.float64}).sort_values(["metric", "id", "k"], ignore_index=True)


def curve_names(histories: Mapping[str, Sequence[Mapping[str, Any]]]) -> tuple[list[str], list[str]]:
    """(loss names, validation-metric names) found in any epoch of any run, sorted."""
    losses, val = set(), set()
    for history in histories.values():
        for h in history:
            losses.update((h.get("losses") or {}).keys())
            val.update((h.get("val") or {}).keys())
    return sorted(losses), sorted(val)


def curve(
    history: Sequence[Mapping[str, Any]], part: str, name: str, x: str = "epoch"
) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) float64 arrays of one series of a run's history: ``part`` is ``"losses"`` or ``"val"``,
    ``x`` is ``"epoch"`` or ``"elapsed"`` (wall-clock seconds since training started). Epochs without the
    value are skipped."""
    if part not in ("losses", "val") or x not in ("epoch", "elapsed"):
        raise ConfigError(f"curve part must be losses or val and x epoch or elapsed; got {part!r}, {x!r}.")
    pts = [(h[x], (h.get(part) or {}).get(name)) for h in history]
    pts = [(a, b) for a, b in pts if b is not None]
    return np.array([p[0] for p in pts], dtype=np.float64), np.array([p[1] for p in pts], dtype=np.float64)


def params_table(runs: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Hyperparameters per run (index: run id; one column per parameter any run has; NaN where absent)."""
    frame = pd.DataFrame([dict(r.get("params") or {}) for r in runs], index=[r["id"] for r in runs])
    frame.index.name = "id"
    return frame


def segment_metrics(per_user: Mapping[str, pd.DataFrame], metric: str, *, cold_below: int = 5) -> pd.DataFrame:
    """Mean of ``metric`` per user-activity segment for each run: ``id, segment, users, value``.

    ``per_user`` maps run id → its per-user frame (needs ``user``, ``n_train`` and ``metric``). The segments
    (:func:`~recsys_core.evaluation.segments.activity_segments` of training interactions) are computed once
    over the union of the runs' users, so every run is sliced by the same boundaries.
    """
    usable = {rid: f for rid, f in per_user.items() if {"user", "n_train", metric} <= set(f.columns)}
    if not usable:
        raise ConfigError(
            f"No selected run has per-user '{metric}' values with training activity (n_train).",
            field="metric",
            hint="Rating runs record no training activity per user; pick ranking runs.",
        )
    users = pd.concat([f[["user", "n_train"]] for f in usable.values()]).drop_duplicates("user", ignore_index=True)
    users["segment"] = activity_segments(users["n_train"].to_numpy(), cold_below=cold_below).to_numpy()
    parts = []
    for rid, f in usable.items():
        joined = f[["user", metric]].merge(users[["user", "segment"]], on="user")
        agg = joined.groupby("segment", sort=False)[metric].agg(["size", "mean"]).reset_index()
        parts.append(pd.DataFrame({"id": rid, "segment": agg["segment"], "users": agg["size"], "value": agg["mean"]}))
    out = pd.concat(parts, ignore_index=True)
    # cold first, then light → heavy (labels carry their lower bound: sort by it)
    bound = out["segment"].str.extract(r"(\d+)", expand=False).astype(np.float64)
    bound = bound.where(~out["segment"].str.startswith("cold"), -1.0)
    return out.assign(_b=bound).sort_values(["_b", "id"], kind="stable").drop(columns="_b").reset_index(drop=True)


def significance_verdict(
    result: PairedTestResult, metric: str, name_a: str, name_b: str, *, alpha: float = 0.05
) -> str:
    """Plain-words reading of a paired test of ``b − a``: which run is better on ``metric``, and whether the
    difference is significant at ``alpha`` (both the t-test and Wilcoxon p-values must be below it)."""
    if result.n < 2 or not np.isfinite(result.t_pvalue):
        return f"Not enough shared users ({result.n}) to test a difference in {metric}."
    better_b = (result.mean_diff < 0) if lower_is_better(metric) else (result.mean_diff > 0)
    if result.mean_diff == 0:
        return f"'{name_a}' and '{name_b}' have the same mean {metric} over {result.n:,} users: no difference."
    winner, loser = (name_b, name_a) if better_b else (name_a, name_b)
    p = max(result.t_pvalue, result.wilcoxon_pvalue if np.isfinite(result.wilcoxon_pvalue) else result.t_pvalue)
    ci = f"{result.ci_level:.0%} CI of {name_b} − {name_a}: [{result.ci_low:+.4f}, {result.ci_high:+.4f}]"
    if p < alpha:
        return (
            f"'{winner}' is better than '{loser}' on {metric} (difference {result.mean_diff:+.4f} over "
            f"{result.n:,} users), and the difference IS significant at {alpha:g} (p = {p:.3g}; {ci})."
        )
    return (
        f"'{winner}' does better than '{loser}' on {metric} (difference {result.mean_diff:+.4f} over "
        f"{result.n:,} users), but the difference is NOT significant at {alpha:g} (p = {p:.3g}; {ci})."
    )
