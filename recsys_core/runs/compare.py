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

import json
import math
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys_core.errors import ConfigError
from recsys_core.evaluation import METRICS
from recsys_core.evaluation.protocol import EvalProtocol, with_default_cleaning
from recsys_core.evaluation.segments import activity_segments
from recsys_core.evaluation.significance import PairedTestResult

# Smaller is better for these metric families (errors; popularity bias / concentration of what is shown).
LOWER_IS_BETTER = ("rmse", "mae", "gini", "avg_popularity")
# Counts stored among the metrics; shown in the table but never ranked or highlighted.
COUNT_METRICS = ("n_users", "n_users_skipped", "n_pairs", "n_unknown")
BEYOND_ACCURACY = ("coverage", "novelty", "personalisation", "diversity", "gini", "avg_popularity")
NO_GROUP = "—"  # runs without final metrics (queued, running, failed, cancelled before evaluation)
INFO_COLUMNS = ("id", "name", "model", "dataset", "status", "tags", "created", "group", "evaluation")
# At most this many run names per side of a mismatch sentence ("'a', 'b', 'c' and 4 more").
_NAMES_SHOWN = 5


def split_metric(key: str) -> tuple[str, int | None]:
    """``"ndcg@10"`` → ``("ndcg", 10)``; ``"rmse"`` → ``("rmse", None)``."""
    name, _, k = key.partition("@")
    return name, int(k) if k.isdigit() else None


def lower_is_better(key: str) -> bool:
    """Whether a smaller value of this metric is the better one (rmse, mae, gini, avg_popularity)."""
    return split_metric(key)[0] in LOWER_IS_BETTER


def _has_metrics(run: Mapping[str, Any]) -> bool:
    return any(v is not None for v in (run.get("metrics") or {}).values())


def evaluation_kind(run: Mapping[str, Any]) -> str:
    """``"ranking"`` (top-K metrics), ``"rating"`` (RMSE/MAE) or ``"none"`` (no metrics: queued, running,
    failed or cancelled before evaluation; the protocol recorded at submission does not say how the run
    would have been judged)."""
    if not _has_metrics(run):
        return "none"
    protocol = run.get("protocol") or {}
    if protocol.get("evaluation"):
        return str(protocol["evaluation"])
    metrics = run.get("metrics") or {}
    if any("@" in k for k in metrics):
        return "ranking"
    if "rmse" in metrics:
        return "rating"
    return "ranking" if protocol else "none"


def _percent(x: Any) -> str:
    return f"{float(x):.0%}" if isinstance(x, (int, float)) else "?"


def _describe_split(split: Mapping[str, Any]) -> str:
    """``user_random (test 20%, validation 10%, seed 42)``, ``user_temporal (test last 1, no validation)``."""
    method = split.get("method", "?")
    test = f"last {split['test_last_n']}" if split.get("test_last_n") else _percent(split.get("test_fraction"))
    if split.get("val_last_n"):
        val = f"validation last {split['val_last_n']}"
    elif split.get("val_fraction"):
        val = f"validation {_percent(split['val_fraction'])}"
    else:
        val = "no validation"
    seed = "" if str(method).endswith("temporal") else f", seed {split.get('seed')}"
    return f"{method} (test {test}, {val}{seed})"


def _describe_preprocess(pre: Mapping[str, Any] | None) -> str:
    """The cleaning steps that are not the defaults, e.g. ``k-core users ≥ 5, items ≥ 5``; "" for none."""
    if not pre:
        return ""
    steps = []
    if pre.get("duplicates", "last") != "last":
        steps.append(f"duplicates {pre['duplicates']}")
    if pre.get("implicit_threshold") is not None:
        steps.append(f"rating ≥ {pre['implicit_threshold']} → implicit")
    users, items = pre.get("min_user_interactions") or 0, pre.get("min_item_interactions") or 0
    if users or items:
        steps.append(f"k-core users ≥ {users}, items ≥ {items}")
    if pre.get("normalisation", "none") != "none":
        steps.append(f"normalised {pre['normalisation']}")
    if pre.get("pseudonymise_users"):
        steps.append("users pseudonymised")
    return "; ".join(steps)


def describe_protocol(
    protocol: Mapping[str, Any] | None,
    evaluation: str = "ranking",
    *,
    datasets: Sequence[str] = (),
    ks: Sequence[int] | None = None,
) -> str:
    """One line naming what a protocol fixes: evaluation, candidates and K (ranking), the data (dataset names
    when given, and the fingerprint), the cleaning, the split (test and validation shares, seed) and the
    relevance threshold. ``ks`` overrides the protocol's K list (a group's members may differ in K)."""
    if not protocol or evaluation == "none":
        return "not evaluated (no metrics recorded)"
    parts = [f"{evaluation} evaluation"]
    if evaluation != "rating":
        if protocol.get("candidates") == "sampled":
            parts.append(f"sampled ({protocol.get('n_negatives')} negatives per test item)")
        else:
            parts.append("full ranking")
        parts.append("K " + ", ".join(str(k) for k in (ks if ks is not None else protocol.get("ks") or [])))
    fingerprint = str(protocol.get("data_fingerprint") or "")[:8] or "unknown"
    names = ", ".join(f"'{d}'" for d in datasets if d)
    parts.append(f"data {names} ({fingerprint})" if names else f"data {fingerprint}")
    described = protocol.get("split") or {}
    cleaning = _describe_preprocess(described.get("preprocess"))
    if cleaning:
        parts.append(f"cleaning: {cleaning}")
    if described.get("split"):
        parts.append(f"split {_describe_split(described['split'])}")
    elif described.get("kind") == "files":
        parts.append("split given as train/test files")
    if evaluation != "rating" and protocol.get("relevance_threshold") is not None:
        parts.append(f"relevant if rating ≥ {protocol['relevance_threshold']}")
    return " · ".join(parts)


@dataclass(frozen=True)
class ProtocolGroup:
    """Runs that may be ranked together.

    Attributes:
        key: short label shown in tables ("A", "B", …; stable as runs are added: ordered by the group's
            oldest run). evaluation: "ranking" or "rating". protocol: the protocol dict of its first run.
        run_ids: members, oldest first. description: :func:`describe_protocol` of ``protocol``, with the
            members' dataset names and every K any member was evaluated at.
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


def is_evaluated(run: Mapping[str, Any]) -> bool:
    """Whether the run has final metrics and a readable protocol they were computed under. Only such runs
    belong to a protocol group; the others (queued, running, failed, cancelled before evaluation) to none."""
    return evaluation_kind(run) != "none" and _protocol(run) is not None


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _aspects(run: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """What must be equal for two evaluated runs to be ranked together, aspect by aspect: aspect →
    (comparison key, short label of the value). The aspects together decide exactly what
    :meth:`EvalProtocol.mismatches` decides, plus the kind of evaluation; for rating evaluation (RMSE/MAE
    on the test ratings) the ranking settings (candidates, exclusions, threshold, MAP) do not matter."""
    p = _protocol(run)
    assert p is not None
    evaluation = evaluation_kind(run)
    described = with_default_cleaning(dict(p.split or {}))  # runs from before an option existed: its default
    out: dict[str, tuple[str, str]] = {"evaluation": (evaluation, evaluation)}
    if described.get("kind") == "split":
        # the prepared-data fingerprint covers the raw data, the cleaning and the split: name them apart
        raw = str(described.get("raw_fingerprint") or "")
        out["data"] = (raw, raw[:8])
        pre = described.get("preprocess")
        out["cleaning"] = (_canon(pre), _describe_preprocess(pre) or "none")
        spl = described.get("split") or {}
        out["split"] = (_canon(spl), _describe_split(spl) if spl else "?")
        # anything the parts above do not explain (e.g. records from another version)
        out["prepared data"] = (_canon([p.data_fingerprint, described]), p.data_fingerprint[:8])
    else:
        out["data"] = (_canon([p.data_fingerprint, described]), p.data_fingerprint[:8])
        out["split"] = (str(described.get("kind")), "train/test files" if described.get("kind") == "files" else "")
    if evaluation != "rating":
        out["candidates"] = (p.label, p.label)
        seen = (p.exclude_train, p.exclude_val)
        excluded = " and ".join(w for w, on in zip(("training", "validation"), seen) if on)
        out["exclusion of seen items"] = (_canon(seen), f"{excluded} items excluded" if excluded else "none excluded")
        t = p.relevance_threshold
        out["relevance threshold"] = (_canon(t), "every test item" if t is None else f"rating ≥ {t}")
        out["MAP normaliser"] = (p.map_normaliser, p.map_normaliser)
    return out


def _key(run: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((aspect, key) for aspect, (key, _) in _aspects(run).items())


def _label(i: int) -> str:
    letters = string.ascii_uppercase
    return letters[i] if i < len(letters) else f"{letters[i // len(letters) - 1]}{letters[i % len(letters)]}"


def protocol_groups(runs: Sequence[Mapping[str, Any]]) -> list[ProtocolGroup]:
    """Partition the evaluated runs (:func:`is_evaluated`) into comparable groups; the other runs are in
    none. Two runs share a group exactly when every aspect of :func:`_aspects` is equal: the same
    prepared data (fingerprint), the same kind of evaluation and, for ranking, the same candidates,
    exclusions, relevance threshold and MAP normaliser. Groups are keyed A, B, … by their oldest run, so
    adding runs never relabels the existing groups."""
    ordered = sorted((r for r in runs if is_evaluated(r)), key=lambda r: (r.get("created_at") or 0, r["id"]))
    members: dict[tuple[tuple[str, str], ...], list[Mapping[str, Any]]] = {}
    for run in ordered:
        members.setdefault(_key(run), []).append(run)
    groups = []
    for i, group in enumerate(members.values()):
        head = group[0]
        evaluation = evaluation_kind(head)
        ks = sorted({int(k) for r in group for k in (r["protocol"].get("ks") or [])})
        datasets = sorted({str(r.get("dataset_name")) for r in group if r.get("dataset_name")})
        groups.append(
            ProtocolGroup(
                key=_label(i),
                evaluation=evaluation,
                protocol=dict(head["protocol"]),
                run_ids=tuple(r["id"] for r in group),
                description=describe_protocol(head["protocol"], evaluation, datasets=datasets, ks=ks),
            )
        )
    return groups


def group_index(groups: Iterable[ProtocolGroup]) -> dict[str, str]:
    """Run id → group key."""
    return {rid: g.key for g in groups for rid in g.run_ids}


def _names(runs: Sequence[Mapping[str, Any]]) -> str:
    names = [f"'{r['name']}'" for r in runs]
    if len(names) > _NAMES_SHOWN:
        return ", ".join(names[: _NAMES_SHOWN - 1]) + f" and {len(names) - _NAMES_SHOWN + 1} more"
    return ", ".join(names)


def mismatches(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Why a selection cannot be ranked as one list: one sentence per aspect in which its evaluated runs
    differ, naming the runs on each side, e.g. ``"different data: events for 'ials a', 'bpr a' vs clicks
    for 'ease b'"`` or ``"different evaluation: ranking for 'ials' vs rating for 'mf'"``. The data, the
    cleaning and the split are told apart (different data with the same split settings is not called a
    different split). An aspect only some runs have (the ranking settings of a rating run) is compared
    among those runs. Empty when every evaluated run is comparable with every other; runs without metrics
    are left out (see :func:`not_evaluated_note`)."""
    evaluated = [r for r in runs if is_evaluated(r)]
    sides: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    labels: dict[tuple[str, str], str] = {}
    for run in evaluated:
        for aspect, (key, label) in _aspects(run).items():
            sides.setdefault(aspect, {}).setdefault(key, []).append(run)
            labels[(aspect, key)] = label
    out = []
    differs = {a for a, by_value in sides.items() if len(by_value) > 1}
    for aspect, by_value in sides.items():
        if aspect not in differs or (aspect == "prepared data" and differs & {"data", "cleaning", "split"}):
            continue
        side_labels = [labels[(aspect, key)] for key in by_value]
        if aspect in ("data", "prepared data"):
            # fingerprints mean little to a reader: name the datasets, and add the fingerprints only when the
            # names do not tell the sides apart (e.g. a dataset replaced under the same name)
            names = [
                ", ".join(sorted({str(r.get("dataset_name")) for r in members if r.get("dataset_name")}))
                for members in by_value.values()
            ]
            distinct = all(names) and len(set(names)) == len(names)
            side_labels = (
                names
                if distinct
                else [
                    ", ".join(filter(None, [n, f"fingerprint {fp}" if fp else ""])) for n, fp in zip(names, side_labels)
                ]
            )
        parts = [
            f"{label} for {_names(members)}" if label else _names(members)
            for members, label in zip(by_value.values(), side_labels)
        ]
        title = "different data" if aspect == "prepared data" else f"different {aspect}"
        out.append(f"{title}: {' vs '.join(parts)}")
    return out


def not_evaluated_note(runs: Sequence[Mapping[str, Any]]) -> str | None:
    """A sentence naming the runs that have no metrics (and so no group), with their status; None if all
    have metrics."""
    missing = [r for r in runs if not is_evaluated(r)]
    if not missing:
        return None
    named = ", ".join(f"'{r['name']}' ({r.get('status', '?')})" for r in missing)
    one = len(missing) == 1
    return f"{named} {'has' if one else 'have'} no metrics, so {'it is' if one else 'they are'} in no protocol group."


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
    """Plain-words reading of a paired test of ``b − a``: which run is better on ``metric``, by how much, and
    whether the difference is significant at ``alpha`` (both the t-test and Wilcoxon p-values must be below
    it). The difference and its interval are stated as *winner − loser*, named, so their sign agrees with the
    sentence: positive when higher is better, negative for errors (rmse, mae, …) where lower is better."""
    if result.n < 2 or not np.isfinite(result.t_pvalue):
        return f"Not enough shared users ({result.n}) to test a difference in {metric}."
    if result.mean_diff == 0:
        return f"'{name_a}' and '{name_b}' have the same mean {metric} over {result.n:,} users: no difference."
    better_b = (result.mean_diff < 0) if lower_is_better(metric) else (result.mean_diff > 0)
    if better_b:
        winner, loser, w_mean, l_mean = name_b, name_a, result.mean_b, result.mean_a
        diff, low, high = result.mean_diff, result.ci_low, result.ci_high
    else:  # the test is of b − a: turn it round to a − b
        winner, loser, w_mean, l_mean = name_a, name_b, result.mean_a, result.mean_b
        diff, low, high = -result.mean_diff, -result.ci_high, -result.ci_low
    direction = "lower is better" if lower_is_better(metric) else "higher is better"
    p = max(result.t_pvalue, result.wilcoxon_pvalue if np.isfinite(result.wilcoxon_pvalue) else result.t_pvalue)
    ci = f"{result.ci_level:.0%} CI of '{winner}' − '{loser}': [{low:+.4f}, {high:+.4f}]"
    how = (
        f"on {metric}: mean {w_mean:.4f} vs {l_mean:.4f} over {result.n:,} users "
        f"('{winner}' − '{loser}' = {diff:+.4f}; {direction})"
    )
    if p < alpha:
        return (
            f"'{winner}' is better than '{loser}' {how}, and the difference IS significant at {alpha:g} "
            f"(p = {p:.3g}; {ci})."
        )
    return (
        f"'{winner}' does better than '{loser}' {how}, but the difference is NOT significant at {alpha:g} "
        f"(p = {p:.3g}; {ci})."
    )


# Result keys whose registry entry (recsys_core.evaluation.METRICS) has a longer name, and the counts that are
# not metrics of the registry.
_REGISTRY_NAME = {
    "coverage": "catalog_coverage",
    "gini": "gini_index",
    "avg_popularity": "average_popularity",
    "diversity": "intra_list_diversity",
}
_COUNT_HELP = {
    "n_users": "Test users evaluated (those with at least one relevant test item).",
    "n_users_skipped": "Test users left out of the averages (no relevant test item).",
    "n_pairs": "Test ratings that rmse and mae were computed on.",
    "n_unknown": "Test ratings left out because their user or item was not in the training data.",
}


def metric_help(column: str | None) -> str | None:
    """The one-line definition of a metric column (``"ndcg@10"``, ``"rmse"``, ``"coverage@10"``) from the
    metric registry, with the cutoff and which direction is better; None for an unknown column."""
    if not column:
        return None
    if column in _COUNT_HELP:
        return _COUNT_HELP[column]
    name, k = split_metric(column)
    info = METRICS.get(_REGISTRY_NAME.get(name, name))
    if info is None:
        return None
    better = {True: " Higher is better.", False: " Lower is better."}.get(
        False if lower_is_better(column) else info.higher_is_better, ""
    )
    at = f" (top-{k} lists)" if k is not None else ""
    return f"{info.description}{better}{at} Definitions: docs/metrics.md."
