"""Slicing per-user metric values by user segment, and paired comparisons of two runs' per-user values.

Inputs are the ``per_user`` frames of :class:`~recsys_core.evaluation.protocol.EvalResult` (one row per
evaluated user: ``user``, ``user_index``, ``n_relevant``, ``n_train`` and one column per metric).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from recsys_core.errors import ConfigError
from recsys_core.evaluation.significance import PairedTestResult, paired_test

ID_COLUMNS = ("user", "user_index", "n_relevant", "n_train")


def activity_segments(n_train: Sequence[int] | np.ndarray, *, cold_below: int = 5, bins: int = 3) -> pd.Series:
    """Label users by training activity: ``cold (<5)``, then up to ``bins`` groups of the warm users of about
    equal size, labelled with the interaction counts they hold, e.g. ``light (5–18)``, ``medium (19–60)``,
    ``heavy (61–737)`` (``light (5)`` when a group holds a single count).

    Users with the same count are always in the same group, so the ranges never overlap: a count goes to
    group ``⌊bins · (share of warm users with a smaller count)⌋``. With many ties a group can come out empty
    and fewer groups are returned (all warm users with one count give a single group).
    """
    n = pd.Series(np.asarray(n_train, dtype=np.int64))
    labels = pd.Series("", index=n.index, dtype=object)
    cold = n < cold_below
    labels[cold] = f"cold (<{cold_below})"
    warm = n[~cold]
    if len(warm):
        names = ["light", "medium", "heavy"] if bins == 3 else [f"Q{i + 1}" for i in range(bins)]
        values = warm.to_numpy()
        smaller = np.searchsorted(np.sort(values), values, side="left")  # warm users with a smaller count
        groups = pd.Series(bins * smaller // len(values), index=warm.index)
        for g in sorted(set(groups)):
            members = warm[groups == g]
            low, high = int(members.min()), int(members.max())
            labels[members.index] = f"{names[g]} ({low}–{high})" if high > low else f"{names[g]} ({low})"
    return labels


def metrics_by_segment(
    per_user: pd.DataFrame, segment: pd.Series | str, metrics: Sequence[str] | None = None
) -> pd.DataFrame:
    """Mean of each metric per segment, with the number of users in it (``users``).

    Args:
        per_user: per-user metric values.
        segment: a column of ``per_user`` (e.g. an attribute merged on ``user``), or labels aligned with its rows
            (e.g. :func:`activity_segments` of ``per_user["n_train"]``).
        metrics: which metric columns (default: all of them).
    """
    labels = per_user[segment] if isinstance(segment, str) else pd.Series(np.asarray(segment), index=per_user.index)
    if len(labels) != len(per_user):
        raise ConfigError("segment labels must have one value per user row.", field="segment")
    cols = list(metrics) if metrics is not None else [c for c in per_user.columns if c not in ID_COLUMNS]
    if isinstance(segment, str):
        cols = [c for c in cols if c != segment]
    grouped = per_user[cols].groupby(labels.to_numpy(), sort=True)
    out = grouped.mean()
    out.insert(0, "users", grouped.size())
    out.index.name = "segment"
    return out.reset_index()


def compare_runs(a: pd.DataFrame, b: pd.DataFrame, metric: str, **kwargs) -> PairedTestResult:
    """Paired t-test, Wilcoxon test and bootstrap interval of ``b − a`` on ``metric`` over the users both runs
    evaluated (matched on ``user``). Extra keyword arguments go to :func:`paired_test`."""
    for frame, name in ((a, "a"), (b, "b")):
        if metric not in frame.columns:
            raise ConfigError(f"run {name} has no per-user values of '{metric}'.", field="metric")
    joined = a[["user", metric]].merge(b[["user", metric]], on="user", suffixes=("_a", "_b"))
    return paired_test(joined[f"{metric}_a"].to_numpy(), joined[f"{metric}_b"].to_numpy(), **kwargs)
