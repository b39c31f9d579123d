"""Cleaning a canonical interactions frame before training: duplicates, implicit threshold, k-core, scaling.

:func:`preprocess` runs the steps of a :class:`~recsys_core.data.schema.PreprocessConfig` in the fixed order
duplicates → implicit threshold → k-core → normalisation and returns the cleaned frame with one
:class:`~recsys_core.data.schema.StepReport` per step (steps that are off report ``note="off"``), so the
dashboard can preview the effect of every control. Each step is also a public function.

The dashboard calls :func:`preprocess` on every control change, so the steps work on integer codes of the
ids (one factorisation for the whole pipeline) and only build a frame at the end.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys_core.data.interactions import IdIndex, _frame_column
from recsys_core.data.schema import (
    ITEM,
    RATING,
    TIMESTAMP,
    USER,
    Counts,
    DuplicatePolicy,
    Normalisation,
    PreprocessConfig,
    StepReport,
)
from recsys_core.errors import ConfigError, DataError

DUPLICATE_POLICIES = ("first", "last", "mean", "max", "sum")
NORMALISATIONS = ("none", "global", "user_mean", "user_zscore")


# ---------------------------------------------------------------------------------------------- working set


@dataclass
class _Work:
    """The rows still in play, as codes: cheaper to filter and count than a DataFrame.

    ``rows`` are positions in ``source`` (always increasing, i.e. file order); ``u``/``i`` are int64 codes
    into ``user_ids``/``item_ids`` (the source's distinct ids, first-seen order); ``rating`` float32 and
    ``ts`` int64 hold the current values (aggregation or normalisation may have changed the ratings).
    """

    source: pd.DataFrame
    rows: np.ndarray
    u: np.ndarray
    i: np.ndarray
    rating: np.ndarray | None
    ts: np.ndarray | None
    user_ids: Any
    item_ids: Any

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> _Work:
        missing = [c for c in (USER, ITEM) if c not in frame.columns]
        if missing:
            raise DataError(
                f"The interactions frame has no {' and no '.join(repr(c) for c in missing)} column",
                code="missing_column",
                column=missing[0],
                hint="Map the user and item columns when reading the file",
            )
        u, user_ids = pd.factorize(frame[USER])
        i, item_ids = pd.factorize(frame[ITEM])
        for col, codes in ((USER, u), (ITEM, i)):
            if len(codes) and codes.min() < 0:
                bad = np.flatnonzero(codes < 0)
                raise DataError(
                    f"Some {col} ids are missing",
                    code="missing_ids",
                    column=col,
                    rows=(bad[:5] + 1).tolist(),
                    n_rows=int(bad.size),
                    hint="Remove the rows without an id, or fill them in",
                )
        rating = _frame_column(frame, RATING, np.float32) if RATING in frame.columns else None
        ts = _frame_column(frame, TIMESTAMP, np.int64) if TIMESTAMP in frame.columns else None
        return cls(
            source=frame,
            rows=np.arange(len(frame), dtype=np.int64),
            u=u.astype(np.int64, copy=False),
            i=i.astype(np.int64, copy=False),
            rating=rating,
            ts=ts,
            user_ids=user_ids,
            item_ids=item_ids,
        )

    @property
    def n(self) -> int:
        return int(self.rows.shape[0])

    def counts(self) -> Counts:
        # bincount + count_nonzero over codes: much faster than nunique() on the id columns.
        n_u = int(np.count_nonzero(np.bincount(self.u, minlength=len(self.user_ids)))) if self.n else 0
        n_i = int(np.count_nonzero(np.bincount(self.i, minlength=len(self.item_ids)))) if self.n else 0
        return Counts(users=n_u, items=n_i, interactions=self.n)

    def take(self, sel: np.ndarray, *, rating: np.ndarray | bool | None = True) -> _Work:
        """Rows ``sel`` (mask or positions). ``rating``: True keeps the ratings, None drops them, an array
        replaces them (already selected)."""
        if rating is True:
            new_rating = None if self.rating is None else self.rating[sel]
        else:
            new_rating = rating  # type: ignore[assignment]
        return _Work(
            source=self.source,
            rows=self.rows[sel],
            u=self.u[sel],
            i=self.i[sel],
            rating=new_rating,
            ts=None if self.ts is None else self.ts[sel],
            user_ids=self.user_ids,
            item_ids=self.item_ids,
        )

    def to_frame(self) -> pd.DataFrame:
        """Canonical frame of the rows in play; id columns keep the source's dtype."""
        data: dict[str, Any] = {
            USER: self.source[USER].take(self.rows).reset_index(drop=True),
            ITEM: self.source[ITEM].take(self.rows).reset_index(drop=True),
        }
        if self.rating is not None:
            data[RATING] = pd.Series(self.rating, dtype=np.float32, copy=False)
        if self.ts is not None:
            data[TIMESTAMP] = pd.Series(self.ts, dtype=np.int64, copy=False)
        return pd.DataFrame(data, copy=False)


def _fmt(x: float) -> str:
    return f"{x:g}"


def _plural(n: int, word: str) -> str:
    """``"1 row"``, ``"1,234 rows"``."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _empty_error(what: str, hint: str) -> DataError:
    return DataError(what, code="empty_after_preprocessing", hint=hint)


# ---------------------------------------------------------------------------------------------- duplicates


def _merge_duplicates(work: _Work, policy: DuplicatePolicy) -> tuple[_Work, StepReport]:
    if policy not in DUPLICATE_POLICIES:
        raise ConfigError(
            f"duplicates must be one of {', '.join(DUPLICATE_POLICIES)}; got {policy!r}.", field="duplicates"
        )
    before = work.counts()
    params = {"policy": policy}
    # One hash pass over a (user, item) pair key finds every repeated pair.
    key = work.u * max(len(work.item_ids), 1) + work.i
    group, uniques = pd.factorize(key)
    if len(uniques) == work.n:
        return work, StepReport("duplicates", params, before, before, "no duplicates")
    size = np.bincount(group)
    dup = size[group] > 1
    # Only the rows of repeated pairs are sorted: usually a small share of the data.
    d_rows = np.flatnonzero(dup)
    d_group = group[d_rows]
    # Sort by (pair, time); a stable sort keeps file order among equal timestamps (d_rows ascend = file order).
    if work.ts is None:
        order = np.argsort(d_group, kind="stable")
    else:
        d_ts = work.ts[d_rows]
        t_min = int(d_ts.min())
        span = int(d_ts.max()) - t_min + 1
        if span * (int(d_group.max()) + 1) < 2**62:
            order = np.argsort(d_group * span + (d_ts - t_min), kind="stable")  # one composite int64 key
        else:
            order = np.lexsort((d_ts, d_group))
    d_sorted = d_rows[order]
    g_sorted = d_group[order]
    starts = np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1]])
    ends = np.r_[starts[1:], g_sorted.size]  # exclusive
    n_pairs = int(starts.size)
    aggregate = policy in ("mean", "max", "sum")
    implicit = work.rating is None
    if policy == "first":
        kept = d_sorted[starts]
    else:
        # last, and the aggregates: the merged row stands where (and when) the pair was last seen.
        kept = d_sorted[ends - 1]
    keep = ~dup
    keep[kept] = True
    new_rating: np.ndarray | bool | None = True
    if aggregate and not implicit:
        r = work.rating[d_sorted].astype(np.float64)  # type: ignore[index]
        if policy == "max":
            agg = np.maximum.reduceat(r, starts)
        else:
            agg = np.add.reduceat(r, starts)
            if policy == "mean":
                agg /= ends - starts
        rating = work.rating.copy()  # type: ignore[union-attr]
        rating[kept] = agg.astype(np.float32)
        new_rating = rating[keep]
    out = work.take(keep, rating=new_rating)
    removed = work.n - out.n
    how = {
        "first": "keeping the first",
        "last": "keeping the last",
        "mean": "averaging the ratings",
        "max": "keeping the highest rating",
        "sum": "summing the ratings",
    }[policy]
    if aggregate and implicit:
        how = "keeping the last (implicit data has no ratings to aggregate)"
    order_word = "in time order" if work.ts is not None else "in file order"
    note = (
        f"merged {_plural(d_rows.size, 'row')} of {_plural(n_pairs, 'repeated (user, item) pair')} by {how}"
        f"{'' if aggregate and not implicit else ' ' + order_word}: {_plural(removed, 'row')} removed"
    )
    return out, StepReport("duplicates", params, before, out.counts(), note)


def merge_duplicates(frame: pd.DataFrame, policy: DuplicatePolicy = "last") -> tuple[pd.DataFrame, StepReport]:
    """Merge rows that repeat a (user, item) pair into one row.

    Args:
        frame: canonical interactions frame.
        policy: ``first`` / ``last`` keep one row in time order (ties and data without timestamps: file
            order); ``mean`` / ``max`` / ``sum`` aggregate the ratings and keep the latest timestamp. On
            implicit data (no ratings) the aggregates keep the latest row: the repeat count is not turned
            into a rating, so the data stays implicit.

    Returns:
        ``(frame, report)``; the merged row takes the place of the pair's kept (for aggregates: latest) row,
        so the result stays in file order.
    """
    work, report = _merge_duplicates(_Work.from_frame(frame), policy)
    return work.to_frame(), report


# ---------------------------------------------------------------------------------------------- threshold


def _binarize(work: _Work, threshold: float | None) -> tuple[_Work, StepReport]:
    before = work.counts()
    params = {"threshold": threshold}
    if threshold is None:
        return work, StepReport("implicit_threshold", params, before, before, "off")
    if work.rating is None:
        raise ConfigError(
            "The data has no rating column, so there is nothing to threshold.",
            field="implicit_threshold",
            hint="Clear the implicit threshold: the data is implicit feedback already.",
        )
    if (
        not isinstance(threshold, (int, float, np.number))
        or isinstance(threshold, bool)
        or not math.isfinite(threshold)
    ):
        raise ConfigError(f"implicit_threshold must be a finite number; got {threshold!r}.", field="implicit_threshold")
    positive = work.rating >= np.float32(threshold)  # NaN ratings compare False: dropped
    n_kept = int(np.count_nonzero(positive))
    if n_kept == 0:
        finite = work.rating[np.isfinite(work.rating)]
        top = f"; the highest rating is {_fmt(float(finite.max()))}" if finite.size else ""
        raise _empty_error(
            f"No rating is >= the implicit threshold {_fmt(threshold)}, so nothing would be left{top}",
            "Lower the implicit threshold",
        )
    out = work.take(positive, rating=None)
    note = (
        f"kept {n_kept:,} ratings >= {_fmt(threshold)} as positive interactions, "
        f"dropped {work.n - n_kept:,}; the result is implicit feedback (no rating column)"
    )
    return out, StepReport("implicit_threshold", params, before, out.counts(), note)


def binarize(frame: pd.DataFrame, threshold: float | None) -> tuple[pd.DataFrame, StepReport]:
    """Turn ratings into implicit feedback: ratings ``>= threshold`` are kept as positive interactions.

    Args:
        frame: canonical interactions frame with a ``rating`` column.
        threshold: the cut-off in rating units, or None for off (frame returned unchanged).

    Returns:
        ``(frame, report)``. The other rows are dropped and the ``rating`` column is removed: an implicit
        positive is "rating 1.0" everywhere downstream (``Interactions.to_csr`` gives ones), and without the
        column nothing mistakes the data for explicit ratings.

    Raises:
        ConfigError: the frame has no ratings.
        DataError: ``empty_after_preprocessing`` when no rating reaches the threshold.
    """
    work, report = _binarize(_Work.from_frame(frame), threshold)
    return work.to_frame(), report


# ---------------------------------------------------------------------------------------------- k-core


def _k_core(work: _Work, min_user: int, min_item: int) -> tuple[_Work, StepReport]:
    before = work.counts()
    params = {"min_user_interactions": min_user, "min_item_interactions": min_item}
    for name, v in params.items():
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
            raise ConfigError(f"{name} must be an integer >= 0; got {v!r}.", field=name)
    if min_user <= 0 and min_item <= 0:
        return work, StepReport("k_core", params, before, before, "off")
    limits = " and ".join(
        f"{who} need >= {k} interactions" for who, k in (("users", min_user), ("items", min_item)) if k > 0
    )
    n_u, n_i = len(work.user_ids), len(work.item_ids)
    u, i = work.u, work.i
    alive = np.arange(work.n, dtype=np.int64)
    iterations = 0
    top_user = top_item = 0
    while alive.size:
        cu = np.bincount(u, minlength=n_u)
        ci = np.bincount(i, minlength=n_i)
        if iterations == 0:
            top_user, top_item = int(cu.max()), int(ci.max())
        # Users and items are removed together in each pass; the k-core (the largest subset where every
        # user and item meets its minimum) is the same whatever the removal order.
        ok = (cu[u] >= min_user) & (ci[i] >= min_item)
        if ok.all():
            break
        iterations += 1
        alive, u, i = alive[ok], u[ok], i[ok]
    if alive.size == 0 and work.n:
        raise _empty_error(
            f"The k-core filter ({limits}) removed every interaction after {_plural(iterations, 'iteration')}",
            f"Lower the minimum interactions per user or item (the most active user has "
            f"{_plural(top_user, 'interaction')}, the most popular item {top_item:,})",
        )
    out = work.take(alive) if iterations else work
    after = out.counts()
    if iterations == 0:
        note = f"nothing removed ({limits})"
    else:
        note = (
            f"removed {_plural(before.users - after.users, 'user')}, {_plural(before.items - after.items, 'item')} "
            f"and {_plural(before.interactions - after.interactions, 'interaction')} in "
            f"{_plural(iterations, 'iteration')} ({limits})"
        )
    return out, StepReport("k_core", params, before, after, note)


def k_core(frame: pd.DataFrame, min_user: int = 0, min_item: int = 0) -> tuple[pd.DataFrame, StepReport]:
    """Iterative k-core: drop users with fewer than ``min_user`` and items with fewer than ``min_item``
    interactions, repeatedly, until every remaining user and item meets its minimum.

    Args:
        frame: canonical interactions frame (count duplicates are counted as they are: merge them first).
        min_user / min_item: minimum interactions (0 = no minimum; both 0 = off).

    Returns:
        ``(frame, report)``; the note gives the number of removing iterations.

    Raises:
        DataError: ``empty_after_preprocessing`` when nothing is left.
    """
    work, report = _k_core(_Work.from_frame(frame), min_user, min_item)
    return work.to_frame(), report


# ---------------------------------------------------------------------------------------------- normalisation


class RatingNormaliser:
    """Reversible rating normalisation with its statistics.

    ``global``: ``r - mean``; ``user_mean``: ``r - mean_u``; ``user_zscore``: ``(r - mean_u) / std_u`` with the
    population std (a user with constant ratings gets std 1). Users unknown to the normaliser (e.g. new in a
    test file) fall back to the global mean and std 1.

    Attributes:
        method: ``global``, ``user_mean`` or ``user_zscore``.
        global_mean: mean of all ratings it was fitted on (float).
        users: :class:`IdIndex` of the users with statistics (None for ``global``).
        user_mean / user_std: ``float64 (len(users),)`` per-user statistics (None for ``global``; std is all
            ones for ``user_mean``).
    """

    def __init__(
        self,
        method: Normalisation,
        global_mean: float,
        users: IdIndex | None = None,
        user_mean: np.ndarray | None = None,
        user_std: np.ndarray | None = None,
    ) -> None:
        if method not in ("global", "user_mean", "user_zscore"):
            raise ConfigError(
                f"normalisation must be one of global, user_mean, user_zscore; got {method!r}.",
                field="normalisation",
            )
        if method != "global" and (users is None or user_mean is None or user_std is None):
            raise ValueError(f"method {method!r} needs users, user_mean and user_std")
        self.method = method
        self.global_mean = float(global_mean)
        self.users = users
        self.user_mean = None if user_mean is None else np.asarray(user_mean, dtype=np.float64)
        self.user_std = None if user_std is None else np.asarray(user_std, dtype=np.float64)
        self._n_constant = 0

    def __repr__(self) -> str:
        n = 0 if self.users is None else len(self.users)
        return f"RatingNormaliser({self.method}, global_mean={self.global_mean:.4g}, users={n:,})"

    @classmethod
    def fit(cls, frame: pd.DataFrame, method: Normalisation) -> RatingNormaliser:
        """Statistics of ``frame``'s ratings (``user`` and ``rating`` columns) for ``method``."""
        work = _Work.from_frame(frame)
        if work.rating is None:
            raise ConfigError(
                "The data has no rating column, so there is nothing to normalise.",
                field="normalisation",
                hint="Set normalisation to none for implicit feedback.",
            )
        return cls._fit_codes(work.u, work.rating, work.user_ids, method)

    @classmethod
    def _fit_codes(cls, u: np.ndarray, rating: np.ndarray, user_ids: Any, method: Normalisation) -> RatingNormaliser:
        r = rating.astype(np.float64)
        global_mean = float(r.mean()) if r.size else 0.0
        if method == "global":
            return cls("global", global_mean)
        cnt = np.bincount(u, minlength=len(user_ids))
        present = np.flatnonzero(cnt)
        total = np.bincount(u, weights=r, minlength=len(user_ids))
        mean = total[present] / cnt[present]
        n_constant = 0
        if method == "user_zscore":
            full_mean = np.zeros(len(user_ids))
            full_mean[present] = mean
            sq = np.bincount(u, weights=(r - full_mean[u]) ** 2, minlength=len(user_ids))
            std = np.sqrt(sq[present] / cnt[present])
            # A user with one rating or constant ratings has std 0: divide by 1 instead (centre only).
            flat = std <= 1e-12
            n_constant = int(np.count_nonzero(flat))
            std = np.where(flat, 1.0, std)
        else:
            std = np.ones(present.size)
        users = IdIndex(np.asarray(user_ids)[present])
        norm = cls(method, global_mean, users, mean, std)
        # How many users were only centred (for the step's note; not part of the stored statistics).
        norm._n_constant = n_constant
        return norm

    def _stats(self, user_ids: Any, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) broadcast to ``shape`` for each user id (global fallback for unknown ids)."""
        if self.method == "global" or self.users is None:
            return np.full(shape, self.global_mean), np.ones(shape)
        ids = np.asarray(user_ids)
        flat = ids.reshape(-1) if ids.ndim else ids.reshape(1)
        idx = self.users.to_index(flat, missing=-1).astype(np.int64)
        known = idx >= 0
        mean = np.where(known, self.user_mean[np.maximum(idx, 0)], self.global_mean)  # type: ignore[index]
        std = np.where(known, self.user_std[np.maximum(idx, 0)], 1.0)  # type: ignore[index]
        return (
            np.broadcast_to(mean.reshape(ids.shape), shape),
            np.broadcast_to(std.reshape(ids.shape), shape),
        )

    def transform_values(self, user_ids: Any, values: Any) -> np.ndarray:
        """Normalised ``values`` (ratings on the original scale) of ``user_ids`` (broadcast against them)."""
        v = np.asarray(values)
        out_dtype = np.result_type(v.dtype, np.float32)
        mean, std = self._stats(user_ids, v.shape)
        return ((v - mean) / std).astype(out_dtype)

    def inverse(self, user_ids: Any, values: Any) -> np.ndarray:
        """Original-scale ratings from normalised ``values``.

        Args:
            user_ids: original user ids, one per value, or a single id for all values (ignored by
                ``global``).
            values: normalised ratings or predictions (any shape that ``user_ids`` broadcasts to).

        Returns:
            float array of ``values``' shape (float32 stays float32, float64 stays float64).
        """
        v = np.asarray(values)
        out_dtype = np.result_type(v.dtype, np.float32)
        mean, std = self._stats(user_ids, v.shape)
        return (v * std + mean).astype(out_dtype)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``frame`` with its ``rating`` column normalised (float32)."""
        if RATING not in frame.columns:
            raise ConfigError("The data has no rating column, so there is nothing to normalise.", field="normalisation")
        out = frame.copy(deep=False)
        out[RATING] = self.transform_values(frame[USER].to_numpy(), frame[RATING].to_numpy(dtype=np.float32))
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (lists of floats and ids)."""
        return {
            "method": self.method,
            "global_mean": self.global_mean,
            "users": None if self.users is None else self.users.to_dict(),
            "user_mean": None if self.user_mean is None else self.user_mean.tolist(),
            "user_std": None if self.user_std is None else self.user_std.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RatingNormaliser:
        """Inverse of :meth:`to_dict`."""
        users = None if d.get("users") is None else IdIndex.from_dict(d["users"])
        return cls(
            d["method"],
            d["global_mean"],
            users,
            None if d.get("user_mean") is None else np.asarray(d["user_mean"], dtype=np.float64),
            None if d.get("user_std") is None else np.asarray(d["user_std"], dtype=np.float64),
        )


def _normalise(work: _Work, method: Normalisation) -> tuple[_Work, StepReport, RatingNormaliser | None]:
    before = work.counts()
    params = {"method": method}
    if method not in NORMALISATIONS:
        raise ConfigError(
            f"normalisation must be one of {', '.join(NORMALISATIONS)}; got {method!r}.", field="normalisation"
        )
    if method == "none":
        return work, StepReport("normalisation", params, before, before, "off"), None
    if work.rating is None:
        raise ConfigError(
            "The data has no ratings (implicit feedback), so there is nothing to normalise.",
            field="normalisation",
            hint="Set normalisation to none, or turn off the implicit threshold.",
        )
    norm = RatingNormaliser._fit_codes(work.u, work.rating, work.user_ids, method)
    if method == "global":
        rating = (work.rating.astype(np.float64) - norm.global_mean).astype(np.float32)
        note = f"subtracted the global mean rating {norm.global_mean:.4g}"
    else:
        # Users in play are exactly norm.users, in code order: map codes to their statistics directly.
        pos = np.full(len(work.user_ids), -1, dtype=np.int64)
        pos[np.flatnonzero(np.bincount(work.u, minlength=len(work.user_ids)))] = np.arange(len(norm.users))  # type: ignore[arg-type]
        p = pos[work.u]
        rating = ((work.rating.astype(np.float64) - norm.user_mean[p]) / norm.user_std[p]).astype(np.float32)  # type: ignore[index]
        n_users = len(norm.users)  # type: ignore[arg-type]
        if method == "user_mean":
            note = f"subtracted each user's mean rating ({_plural(n_users, 'user')})"
        else:
            n_flat = norm._n_constant
            note = f"centred and scaled each user's ratings by their mean and std ({_plural(n_users, 'user')}"
            note += f"; {n_flat:,} with constant ratings only centred)" if n_flat else ")"
    out = dataclasses.replace(work, rating=rating)
    return out, StepReport("normalisation", params, before, before, note), norm


def normalise_ratings(
    frame: pd.DataFrame, method: Normalisation = "none"
) -> tuple[pd.DataFrame, StepReport, RatingNormaliser | None]:
    """Normalise ratings: ``global`` mean-centring, ``user_mean`` centring, or ``user_zscore``.

    Args:
        frame: canonical interactions frame with ratings.
        method: ``none`` (off: frame unchanged, normaliser None), ``global``, ``user_mean``, ``user_zscore``.

    Returns:
        ``(frame, report, normaliser)``; ``normaliser.inverse`` brings values back to the original scale.
        The statistics come from ``frame`` as a whole (fit on training data only with
        :meth:`RatingNormaliser.fit` to avoid test leakage).

    Raises:
        ConfigError: the frame has no ratings.
    """
    work, report, norm = _normalise(_Work.from_frame(frame), method)
    return work.to_frame(), report, norm


# ---------------------------------------------------------------------------------------------- pipeline


@dataclass
class PreprocessResult:
    """Outcome of :func:`preprocess`.

    Attributes:
        frame: the cleaned canonical frame (file order; no ``rating`` column after an implicit threshold).
        reports: one :class:`StepReport` per step, in order: duplicates, implicit_threshold, k_core,
            normalisation (off steps have ``before == after`` and note ``"off"``).
        normaliser: the fitted :class:`RatingNormaliser`, or None when normalisation is off.
        config: the configuration that produced it.
    """

    frame: pd.DataFrame
    reports: list[StepReport]
    normaliser: RatingNormaliser | None
    config: PreprocessConfig

    @property
    def counts(self) -> Counts:
        """Users, items and interactions after the last step."""
        return self.reports[-1].after


def preprocess(frame: pd.DataFrame, config: PreprocessConfig | None = None) -> PreprocessResult:
    """Run duplicates → implicit threshold → k-core → normalisation → pseudonymisation on a canonical frame.

    Args:
        frame: canonical interactions frame (``user``, ``item``, optional ``rating`` / ``timestamp``).
        config: the steps' options; default ``PreprocessConfig()`` (keep the last of duplicates only).

    Returns:
        :class:`PreprocessResult` with the cleaned frame, five step reports and the normaliser.

    Raises:
        ConfigError: a threshold or normalisation on data without ratings (or both together).
        DataError: ``empty_after_preprocessing`` when a step leaves nothing, ``missing_column`` /
            ``missing_ids`` for a frame that is not canonical.
    """
    config = config or PreprocessConfig()
    if config.implicit_threshold is not None and config.normalisation != "none":
        raise ConfigError(
            "An implicit threshold turns ratings into implicit feedback, so they cannot also be normalised.",
            field="normalisation",
            hint="Set normalisation to none, or clear the implicit threshold.",
        )
    work = _Work.from_frame(frame)
    if work.rating is None and config.normalisation != "none":
        # Checked before any work so the message does not depend on the other steps.
        _normalise(work, config.normalisation)
    reports: list[StepReport] = []
    work, rep = _merge_duplicates(work, config.duplicates)
    reports.append(rep)
    work, rep = _binarize(work, config.implicit_threshold)
    reports.append(rep)
    work, rep = _k_core(work, config.min_user_interactions, config.min_item_interactions)
    reports.append(rep)
    work, rep, norm = _normalise(work, config.normalisation)
    reports.append(rep)
    out = work.to_frame()
    reports.append(_pseudonymise_users(out, config.pseudonymise_users, work.counts()))
    return PreprocessResult(frame=out, reports=reports, normaliser=norm, config=config)


def _pseudonymise_users(frame: pd.DataFrame, on: bool, counts: Counts) -> StepReport:
    """Replace ``frame``'s user ids, in place, by 1..n in order of first appearance; no mapping is kept."""
    params = {"pseudonymise_users": on}
    if not on:
        return StepReport("pseudonymise", params, counts, counts, "off: the original user ids are kept")
    codes, _ = pd.factorize(frame[USER])
    frame[USER] = codes.astype(np.int64) + 1
    note = f"{counts.users:,} user ids replaced by 1..{counts.users:,}; the mapping is not kept"
    return StepReport("pseudonymise", params, counts, counts, note)
