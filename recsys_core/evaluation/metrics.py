"""Evaluation metrics, vectorised over users.

Conventions (see ``docs/metrics.md`` for every formula and how it differs from Microsoft Recommenders
and RecBole):

* ``topk``: ``np.ndarray`` of shape ``(n_users, K)``, integer item indices, best first. ``-1`` is padding
  (fewer than ``K`` candidates); a padded slot still occupies its rank, so padding belongs at the end.
* ``truth``: ``scipy.sparse`` CSR matrix ``(n_users × n_items)``; every *stored* entry is a relevant item
  (call ``truth.eliminate_zeros()`` first if explicit zeros should not count). Stored values are only used
  as graded gains by ``ndcg_at_k(gain="raw" | "exp")``.
* Row ``u`` of ``topk`` and of ``truth`` is the same user, so a caller can evaluate users batch by batch
  (``truth[rows]``) and concatenate the per-user arrays.
* Per-user metrics return ``float64`` arrays of length ``n_users`` with ``NaN`` for users who cannot be
  scored (no relevant item, empty list, ...). :func:`mean_over_users` averages them and counts the skipped.
* Global metrics (coverage, Gini, entropy, personalisation, AUC/logloss over pairs) return a ``float``.

Nothing here loops over users or interactions in Python; a few functions loop over *batches* of users to
bound memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from recsys_core.errors import ConfigError, DataError

MapNormaliser = Literal["min_k_rel", "n_rel"]
Gain = Literal["binary", "raw", "exp"]

RANKING_METRICS = ("precision", "recall", "ndcg", "map", "mrr", "hit_rate", "r_precision")
DEFAULT_RANKING_METRICS = ("precision", "recall", "ndcg", "map", "mrr", "hit_rate")

# Batches for the functions that build (users × items) or (users × features) intermediates: about this
# many float64 cells per batch (≈ 32 MB).
_BATCH_CELLS = 4_000_000


# ---------------------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------------------


def _as_topk(topk: Any, n_items: int | None = None, name: str = "topk") -> np.ndarray:
    """Validate a top-K matrix and return it as int64 (no copy when it already is)."""
    arr = np.asarray(topk)
    if arr.ndim != 2:
        raise DataError(
            f"{name} must be a 2-D array (users × K); got an array with {arr.ndim} dimension(s).",
            code="bad_topk",
            hint="Pass one row of item indices per user, best first, padded with -1.",
        )
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise DataError(
            f"{name} must hold integer item indices; got dtype {arr.dtype}.",
            code="bad_topk",
            hint="Recommendations are item indices (int64), not scores or ids.",
        )
    arr = arr.astype(np.int64, copy=False)
    if arr.size:
        low, high = int(arr.min()), int(arr.max())
        if low < -1 or (n_items is not None and high >= n_items):
            bad = (arr < -1) | (arr >= n_items) if n_items is not None else (arr < -1)
            rows = np.flatnonzero(bad.any(axis=1))
            raise DataError(
                f"{name} holds item indices outside 0..{'n_items-1' if n_items is None else n_items - 1} "
                "(and -1 for padding).",
                code="item_index_out_of_range",
                rows=(rows[:5] + 1).tolist(),
                n_rows=int(rows.size),
                hint="Recommend items of the training catalogue only; use -1 for empty slots.",
            )
    return arr


def _as_csr(truth: Any, name: str = "truth") -> sp.csr_matrix:
    """Return ``truth`` as a canonical CSR matrix (sorted indices, no duplicates), copying only if needed."""
    if not sp.issparse(truth):
        raise DataError(
            f"{name} must be a scipy.sparse matrix (users × items); got {type(truth).__name__}.",
            code="bad_truth",
            hint="Build it with scipy.sparse.csr_matrix((values, (user_rows, item_cols)), shape=...).",
        )
    csr = sp.csr_matrix(truth)  # no copy when it is already a csr_matrix
    if not csr.has_canonical_format:
        csr = csr.copy()
        csr.sum_duplicates()  # also sorts the indices
    return csr


def _check_rows(topk: np.ndarray, truth: sp.csr_matrix) -> None:
    if topk.shape[0] != truth.shape[0]:
        raise DataError(
            f"topk has {topk.shape[0]:,} user rows but truth has {truth.shape[0]:,}.",
            code="shape_mismatch",
            hint="Row u of topk and row u of truth must be the same user (slice both the same way).",
        )


def _check_k(k: int, width: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k must be an integer >= 1; got {k!r}.", field="k")
    if k > width:
        raise ConfigError(
            f"k={k} exceeds the number of recommendations per user in topk ({width}).",
            field="k",
            hint="Compute top-K with K >= the largest cutoff.",
        )
    return int(k)


def _n_rel(truth: sp.csr_matrix) -> np.ndarray:
    return np.diff(truth.indptr).astype(np.int64)


def _discounts(n: int) -> np.ndarray:
    """``1/log2(r+1)`` for ranks ``r = 1..n``."""
    return 1.0 / np.log2(np.arange(2, n + 2, dtype=np.float64))


# ---------------------------------------------------------------------------------------------------------
# relevance lookup
# ---------------------------------------------------------------------------------------------------------


def _match(topk: np.ndarray, truth: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """For every slot: is the item relevant, and where its entry is in ``truth.data`` (-1 if not)."""
    n_users, n_items = truth.shape
    # One sorted int64 key per stored entry: row * n_items + col. CSR rows are in order and (canonical)
    # indices sorted within rows, so the keys are already sorted and searchsorted works on them directly.
    rows = np.repeat(np.arange(n_users, dtype=np.int64), _n_rel(truth))
    truth_keys = rows * n_items + truth.indices.astype(np.int64)
    query = np.arange(n_users, dtype=np.int64)[:, None] * n_items + topk
    pos = np.searchsorted(truth_keys, query)
    pos_clipped = np.minimum(pos, max(truth_keys.size - 1, 0))
    hits = (topk >= 0) & (truth_keys.size > 0)
    if truth_keys.size:
        hits &= truth_keys[pos_clipped] == query
    return hits, np.where(hits, pos_clipped, -1)


def relevance_of(topk: np.ndarray, truth: sp.spmatrix | sp.sparray, *, values: bool = False) -> np.ndarray:
    """Which recommended items are relevant.

    Args:
        topk: ``(n_users, K)`` integer item indices, best first; ``-1`` = padding.
        truth: ``(n_users × n_items)`` sparse matrix; every stored entry is relevant.
        values: if True, return the stored truth value of each hit (``float64``, 0.0 for misses and
            padding) instead of booleans — graded gains such as ratings.

    Returns:
        ``hits``: bool ``(n_users, K)`` (or float64 with ``values=True``).

    Vectorised: one ``np.searchsorted`` of flat ``row * n_items + item`` keys; padding never hits.
    """
    csr = _as_csr(truth)
    arr = _as_topk(topk, csr.shape[1])
    _check_rows(arr, csr)
    hits, pos = _match(arr, csr)
    if not values:
        return hits
    data = csr.data.astype(np.float64)
    return np.where(hits, data[np.maximum(pos, 0)] if data.size else 0.0, 0.0)


# ---------------------------------------------------------------------------------------------------------
# top-K accuracy metrics (per user)
# ---------------------------------------------------------------------------------------------------------


def _no_rel_to_nan(values: np.ndarray, n_rel: np.ndarray) -> np.ndarray:
    return np.where(n_rel > 0, values, np.nan)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=den > 0)


class _Hits:
    """Cumulative statistics of a hits matrix, computed once and read for any cutoff ``k <= K``."""

    def __init__(self, hits: np.ndarray, n_rel: np.ndarray) -> None:
        self.hits = hits
        self.n_rel = n_rel
        self.width = hits.shape[1]
        h = hits.astype(np.float64)
        ranks = np.arange(1, self.width + 1, dtype=np.float64)
        self.cum_hits = np.cumsum(h, axis=1)  # hits within the first r
        # AP numerator: sum over hit ranks r' <= r of precision@r'
        self.cum_ap = np.cumsum(h * self.cum_hits / ranks, axis=1)
        self.cum_dcg = np.cumsum(h * _discounts(self.width), axis=1)
        any_hit = hits.any(axis=1)
        # rank of the first hit (1-based); width + 1 when there is none
        self.first_hit = np.where(any_hit, hits.argmax(axis=1) + 1, self.width + 1)

    def count(self, k: int) -> np.ndarray:
        return self.cum_hits[:, k - 1]

    def precision(self, k: int) -> np.ndarray:
        return _no_rel_to_nan(self.count(k) / k, self.n_rel)

    def recall(self, k: int) -> np.ndarray:
        return _safe_div(self.count(k), self.n_rel)

    def hit_rate(self, k: int) -> np.ndarray:
        return _no_rel_to_nan((self.first_hit <= k).astype(np.float64), self.n_rel)

    def mrr(self, k: int) -> np.ndarray:
        rr = np.where(self.first_hit <= k, 1.0 / self.first_hit, 0.0)
        return _no_rel_to_nan(rr, self.n_rel)

    def map(self, k: int, normaliser: MapNormaliser) -> np.ndarray:
        den = np.minimum(self.n_rel, k) if normaliser == "min_k_rel" else self.n_rel
        return _safe_div(self.cum_ap[:, k - 1], den)

    def ndcg_binary(self, k: int) -> np.ndarray:
        ideal_cum = np.concatenate([[0.0], np.cumsum(_discounts(k))])
        idcg = ideal_cum[np.minimum(self.n_rel, k)]
        return _safe_div(self.cum_dcg[:, k - 1], idcg)

    def r_precision(self, k: int) -> np.ndarray:
        cut = np.minimum(self.n_rel, k)
        got = self.cum_hits[np.arange(self.hits.shape[0]), np.maximum(cut, 1) - 1]
        return _safe_div(np.where(cut > 0, got, 0.0), self.n_rel)


def _check_map_normaliser(normaliser: str) -> None:
    if normaliser not in ("min_k_rel", "n_rel"):
        raise ConfigError(f"map normaliser must be 'min_k_rel' or 'n_rel'; got {normaliser!r}.", field="map_normaliser")


def _prepare(topk: Any, truth: Any) -> tuple[np.ndarray, sp.csr_matrix, _Hits]:
    csr = _as_csr(truth)
    arr = _as_topk(topk, csr.shape[1])
    _check_rows(arr, csr)
    hits, _ = _match(arr, csr)
    return arr, csr, _Hits(hits, _n_rel(csr))


def precision_at_k(topk: np.ndarray, truth: sp.spmatrix | sp.sparray, k: int) -> np.ndarray:
    """Precision@k per user: ``hits in the first k / k`` (always ``k``, even when padded).

    Returns float64 ``(n_users,)``; NaN for users with no relevant item.
    """
    arr, _, h = _prepare(topk, truth)
    return h.precision(_check_k(k, arr.shape[1]))


def recall_at_k(topk: np.ndarray, truth: sp.spmatrix | sp.sparray, k: int) -> np.ndarray:
    """Recall@k per user: ``hits in the first k / n_rel`` (``n_rel`` = stored entries of the user's row).

    Returns float64 ``(n_users,)``; NaN for users with no relevant item.
    """
    arr, _, h = _prepare(topk, truth)
    return h.recall(_check_k(k, arr.shape[1]))


def hit_rate_at_k(topk: np.ndarray, truth: sp.spmatrix | sp.sparray, k: int) -> np.ndarray:
    """HitRate@k per user: 1.0 if any of the first k items is relevant, else 0.0 (NaN: no relevant item)."""
    arr, _, h = _prepare(topk, truth)
    return h.hit_rate(_check_k(k, arr.shape[1]))


def mrr_at_k(topk: np.ndarray, truth: sp.spmatrix | sp.sparray, k: int) -> np.ndarray:
    """Reciprocal rank of the first relevant item within the first k (0.0 if none; NaN: no relevant item)."""
    arr, _, h = _prepare(topk, truth)
    return h.mrr(_check_k(k, arr.shape[1]))


def map_at_k(
    topk: np.ndarray,
    truth: sp.spmatrix | sp.sparray,
    k: int,
    *,
    normaliser: MapNormaliser = "min_k_rel",
) -> np.ndarray:
    """Average precision@k per user: ``sum over hit ranks r <= k of precision@r``, divided by the normaliser.

    Args:
        normaliser: ``"min_k_rel"`` (default) divides by ``min(k, n_rel)`` like RecBole's ``map`` and
            Microsoft Recommenders' ``map_at_k``; ``"n_rel"`` divides by ``n_rel`` like Recommenders' ``map``.
            They differ only for users with ``n_rel > k``.

    Returns float64 ``(n_users,)`` in [0, 1]; NaN for users with no relevant item.
    """
    _check_map_normaliser(normaliser)
    arr, _, h = _prepare(topk, truth)
    return h.map(_check_k(k, arr.shape[1]), normaliser)


def _ideal_dcg_graded(truth: sp.csr_matrix, gains: np.ndarray, k: int) -> np.ndarray:
    """Per row: DCG of the row's ``k`` largest gains in descending order (log2 discount)."""
    n_users = truth.shape[0]
    rows = np.repeat(np.arange(n_users, dtype=np.int64), _n_rel(truth))
    order = np.lexsort((-gains, rows))  # rows stay grouped (they are sorted); gains descending within
    pos_in_row = np.arange(rows.size) - truth.indptr[rows[order]]
    keep = pos_in_row < k
    disc = _discounts(k)
    return np.bincount(
        rows[order][keep], weights=gains[order][keep] * disc[pos_in_row[keep]], minlength=n_users
    ).astype(np.float64)


def _gain_values(data: np.ndarray, gain: Gain) -> np.ndarray:
    data = data.astype(np.float64)
    if gain == "raw":
        return data
    if gain == "exp":
        return np.exp2(data) - 1.0
    return np.ones_like(data)


def ndcg_at_k(topk: np.ndarray, truth: sp.spmatrix | sp.sparray, k: int, *, gain: Gain = "binary") -> np.ndarray:
    """nDCG@k per user with a log2 discount (the log base cancels in the ratio).

    ``DCG@k = sum_{r<=k} g(item_r) / log2(r + 1)``; ``IDCG@k`` is the DCG of the user's own relevant items
    sorted by gain, first k of them.

    Args:
        gain: ``"binary"`` (default; every relevant item gains 1, so ``IDCG`` sums ``min(k, n_rel)``
            discounts), ``"raw"`` (gain = the stored truth value, e.g. the rating) or ``"exp"``
            (``2**value - 1``).

    Returns float64 ``(n_users,)``; NaN for users with no relevant item (or an ideal DCG of 0).
    """
    if gain not in ("binary", "raw", "exp"):
        raise ConfigError(f"gain must be 'binary', 'raw' or 'exp'; got {gain!r}.", field="gain")
    arr, csr, h = _prepare(topk, truth)
    k = _check_k(k, arr.shape[1])
    if gain == "binary":
        return h.ndcg_binary(k)
    _, pos = _match(arr[:, :k], csr)
    gains = _gain_values(csr.data, gain)
    hit_gain = np.where(pos >= 0, gains[np.maximum(pos, 0)] if gains.size else 0.0, 0.0)
    dcg = (hit_gain * _discounts(k)).sum(axis=1)
    idcg = _ideal_dcg_graded(csr, gains, k)
    return _no_rel_to_nan(_safe_div(dcg, idcg), h.n_rel)


def r_precision_at_k(topk: np.ndarray, truth: sp.spmatrix | sp.sparray, k: int) -> np.ndarray:
    """R-precision per user: hits among the first ``min(k, R)`` items divided by ``R = n_rel``.

    Equals classic R-precision when ``k >= R``. Returns float64 ``(n_users,)``; NaN: no relevant item.
    (Microsoft Recommenders averages this only over users with at least one such hit; we average over all
    users with a relevant item, see docs/metrics.md.)
    """
    arr, _, h = _prepare(topk, truth)
    return h.r_precision(_check_k(k, arr.shape[1]))


def ranking_metrics(
    topk: np.ndarray,
    truth: sp.spmatrix | sp.sparray,
    ks: Iterable[int] = (10,),
    metrics: Sequence[str] = DEFAULT_RANKING_METRICS,
    *,
    map_normaliser: MapNormaliser = "min_k_rel",
) -> dict[str, np.ndarray]:
    """Several top-K metrics at several cutoffs from one relevance lookup.

    Args:
        topk: ``(n_users, K)`` int item indices, best first, ``-1`` padding; ``K >= max(ks)``.
        truth: ``(n_users × n_items)`` sparse relevance (stored entries are relevant).
        ks: cutoffs, each ``1 <= k <= K``.
        metrics: names out of ``precision, recall, ndcg, map, mrr, hit_rate, r_precision``.
        map_normaliser: see :func:`map_at_k`.

    Returns:
        ``{"ndcg@10": per-user float64 array, ...}`` in the order metrics × ks; NaN marks users with no
        relevant item. Batch-safe: results for row slices concatenate to the result for all rows.
    """
    ks = [int(k) for k in ks] if not isinstance(ks, int) else [int(ks)]
    unknown = [m for m in metrics if m not in RANKING_METRICS]
    if unknown:
        raise ConfigError(
            f"Unknown ranking metric(s): {', '.join(unknown)}.",
            field="metrics",
            hint=f"Choose from {', '.join(RANKING_METRICS)}.",
        )
    if not ks:
        raise ConfigError("ks must name at least one cutoff.", field="ks")
    _check_map_normaliser(map_normaliser)
    arr, _, h = _prepare(topk, truth)
    for k in ks:
        _check_k(k, arr.shape[1])
    out: dict[str, np.ndarray] = {}
    for name in metrics:
        for k in ks:
            if name == "map":
                value = h.map(k, map_normaliser)
            elif name == "ndcg":
                value = h.ndcg_binary(k)
            else:
                value = getattr(h, name)(k)
            out[f"{name}@{k}"] = value
    return out


# ---------------------------------------------------------------------------------------------------------
# averaging
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserMean:
    """Mean of a per-user metric over the users that have a value.

    Attributes:
        mean: mean over non-NaN entries (NaN when there are none).
        n_users: how many users were averaged.
        n_skipped: how many were NaN (e.g. no relevant test item) and skipped.
    """

    mean: float
    n_users: int
    n_skipped: int


def mean_over_users(values: np.ndarray) -> UserMean:
    """Average a per-user array, skipping (and counting) NaN entries. No warning when all are NaN."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    ok = ~np.isnan(arr)
    n = int(ok.sum())
    mean = float(arr[ok].mean()) if n else float("nan")
    return UserMean(mean=mean, n_users=n, n_skipped=int(arr.size - n))


def average_metrics(per_user: dict[str, np.ndarray]) -> dict[str, float]:
    """``{"ndcg@10": array, ...}`` → ``{"ndcg@10": mean over users with a value, ...}``."""
    return {name: mean_over_users(v).mean for name, v in per_user.items()}


# ---------------------------------------------------------------------------------------------------------
# AUC from scores (per user), GAUC, and pair-level AUC / logloss
# ---------------------------------------------------------------------------------------------------------


def _average_ranks_sorted(sorted_vals: np.ndarray) -> np.ndarray:
    """1-based average (tie) ranks of a row-wise ascending-sorted 2-D array; NaN entries get NaN."""
    n_cols = sorted_vals.shape[1]
    cols = np.broadcast_to(np.arange(n_cols), sorted_vals.shape)
    # a tie group starts where the value differs from its left neighbour (NaN != NaN: own groups)
    starts = np.ones(sorted_vals.shape, dtype=bool)
    starts[:, 1:] = sorted_vals[:, 1:] != sorted_vals[:, :-1]
    ends = np.ones(sorted_vals.shape, dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, cols, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, cols, n_cols - 1)[:, ::-1], axis=1)[:, ::-1]
    ranks = (first + last) / 2.0 + 1.0
    return np.where(np.isnan(sorted_vals), np.nan, ranks)


def auc_from_scores(
    scores: np.ndarray,
    truth: sp.spmatrix | sp.sparray,
    exclude: sp.spmatrix | sp.sparray | None = None,
) -> np.ndarray:
    """Per-user ROC AUC over the full item list (no cutoff).

    For each user, the probability that a relevant item is scored above a non-relevant, non-excluded item;
    ties count ½ (average ranks, Mann–Whitney U). Excluded items (e.g. the user's training items) are left
    out of the negatives; an item in both ``truth`` and ``exclude`` counts as a positive.

    Args:
        scores: ``(n_users, n_items)`` float scores, higher = better; must be finite or ``-inf``
            (NaN is rejected). Memory is a few copies of ``scores``: pass users in batches.
        truth: ``(n_users × n_items)`` sparse relevance.
        exclude: same shape, stored entries left out of the ranking; None = exclude nothing. Items masked
            with ``-inf`` in ``scores`` but not listed here count as negatives ranked last (inflating AUC),
            so pass the mask here too.

    Returns float64 ``(n_users,)``; NaN for users with no positive or no negative.
    """
    s = np.asarray(scores)
    if not np.issubdtype(s.dtype, np.floating):
        s = s.astype(np.float64)  # float32 stays float32: sorting it is faster and ranks are exact
    csr = _as_csr(truth)
    if s.ndim != 2 or s.shape != csr.shape:
        raise DataError(
            f"scores have shape {s.shape} but truth has shape {csr.shape}.",
            code="shape_mismatch",
            hint="Pass one row of scores over all items per user, aligned with truth's rows.",
        )
    if np.isnan(s).any():
        rows = np.flatnonzero(np.isnan(s).any(axis=1))
        raise DataError(
            "scores contain NaN.",
            code="nan_scores",
            rows=(rows[:5] + 1).tolist(),
            n_rows=int(rows.size),
            hint="The model produced NaN scores; check training (learning rate, regularisation).",
        )
    pos_mask = _structural_mask(csr)
    work = s.copy()
    if exclude is not None:
        ex = _as_csr(exclude, "exclude")
        if ex.shape != csr.shape:
            raise DataError(f"exclude has shape {ex.shape} but truth has shape {csr.shape}.", code="shape_mismatch")
        ex_mask = _structural_mask(ex) & ~pos_mask
        work[ex_mask] = np.nan  # NaN sorts last and is left out of the ranks
    order = np.argsort(work, axis=1)  # tie order is irrelevant: tied items share their average rank
    sorted_vals = np.take_along_axis(work, order, axis=1)
    ranks = _average_ranks_sorted(sorted_vals)
    pos_sorted = np.take_along_axis(pos_mask, order, axis=1)
    pos_rank_sum = np.where(pos_sorted, ranks, 0.0).sum(axis=1)
    n_pos = pos_sorted.sum(axis=1)
    n_valid = (~np.isnan(sorted_vals)).sum(axis=1)
    return auc_from_rank_sums(pos_rank_sum, n_valid, n_pos)


def _structural_mask(csr: sp.csr_matrix) -> np.ndarray:
    """Dense bool mask of the stored entries (explicit zeros included)."""
    mask = np.zeros(csr.shape, dtype=bool)
    rows = np.repeat(np.arange(csr.shape[0]), _n_rel(csr))
    mask[rows, csr.indices] = True
    return mask


def auc_from_rank_sums(
    pos_rank_sum: np.ndarray,
    n_candidates: np.ndarray,
    n_pos: np.ndarray,
    *,
    descending: bool = False,
) -> np.ndarray:
    """Per-user AUC from the sum of the positives' 1-based (average) ranks among a user's candidates.

    ``AUC = (R_asc - P(P+1)/2) / (P · (n - P))`` with ``R_asc`` the sum of ascending ranks (lowest score =
    rank 1). With ``descending=True`` the sums are of descending ranks (best = rank 1, as RecBole's
    ``gauc``), converted by ``R_asc = P(n+1) - R_desc``. Arrays of equal length; NaN where ``P = 0`` or
    ``P = n``.
    """
    r = np.asarray(pos_rank_sum, dtype=np.float64)
    n = np.asarray(n_candidates, dtype=np.float64)
    p = np.asarray(n_pos, dtype=np.float64)
    if descending:
        r = p * (n + 1.0) - r
    return _safe_div(r - p * (p + 1.0) / 2.0, p * (n - p))


def gauc(per_user_auc: np.ndarray, n_pos: np.ndarray) -> float:
    """Group AUC (RecBole): per-user AUC weighted by the user's number of positives.

    Users whose AUC is NaN (no positive or no negative) are dropped. Returns NaN if none is left.
    """
    auc = np.asarray(per_user_auc, dtype=np.float64)
    w = np.asarray(n_pos, dtype=np.float64)
    ok = ~np.isnan(auc) & (w > 0)
    if not ok.any():
        return float("nan")
    return float((auc[ok] * w[ok]).sum() / w[ok].sum())


def _pairs(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if t.shape != p.shape:
        raise DataError(
            f"y_true has {t.size:,} values but y_pred has {p.size:,}.",
            code="shape_mismatch",
            hint="Pass one prediction per (user, item) pair.",
        )
    if t.size == 0:
        raise DataError("No (label, prediction) pairs to evaluate.", code="empty")
    bad = ~np.isfinite(t) | ~np.isfinite(p)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(
            "Labels or predictions contain NaN or infinite values.",
            code="non_finite",
            rows=(rows[:5] + 1).tolist(),
            n_rows=int(rows.size),
            hint="Drop pairs without a prediction before evaluating.",
        )
    return t, p


def _binary_labels(t: np.ndarray) -> np.ndarray:
    if not np.isin(t, (0.0, 1.0)).all():
        rows = np.flatnonzero(~np.isin(t, (0.0, 1.0)))
        raise DataError(
            "Labels must be 0 or 1 for AUC and log loss.",
            code="non_binary_labels",
            rows=(rows[:5] + 1).tolist(),
            n_rows=int(rows.size),
            hint="Binarise ratings first (e.g. rating >= threshold → 1).",
        )
    return t.astype(bool)


def auc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Global ROC AUC over (label, prediction) pairs, not per user; ties count ½ (sklearn's value).

    ``y_true``: 0/1 labels; ``y_pred``: scores. Returns NaN when only one class is present.
    """
    t, p = _pairs(y_true, y_pred)
    pos = _binary_labels(t)
    ranks = rankdata(p)  # average ranks for ties
    n_pos = int(pos.sum())
    return float(auc_from_rank_sums(np.array([ranks[pos].sum()]), np.array([p.size]), np.array([n_pos]))[0])


def logloss(y_true: np.ndarray, y_pred: np.ndarray, *, eps: float = 1e-15) -> float:
    """Mean binary cross-entropy (natural log); predictions clipped to ``[eps, 1 - eps]`` (default 1e-15)."""
    t, p = _pairs(y_true, y_pred)
    pos = _binary_labels(t)
    p = np.clip(p, eps, 1.0 - eps)
    return float(-np.where(pos, np.log(p), np.log1p(-p)).mean())


# ---------------------------------------------------------------------------------------------------------
# rating metrics
# ---------------------------------------------------------------------------------------------------------


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error over all pairs (rating units)."""
    t, p = _pairs(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error over all pairs (rating units)."""
    t, p = _pairs(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def r_squared(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` (sklearn's ``r2_score``; NaN if y_true is constant
    and predictions are not exact, 1.0 if they are)."""
    t, p = _pairs(y_true, y_pred)
    ss_res = float(((t - p) ** 2).sum())
    ss_tot = float(((t - t.mean()) ** 2).sum())
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else float("nan")
    return 1.0 - ss_res / ss_tot


def explained_variance(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """``1 - Var(y_true - y_pred) / Var(y_true)`` with population variances (sklearn's
    ``explained_variance_score``). Unlike R², a constant offset in the predictions is not penalised."""
    t, p = _pairs(y_true, y_pred)
    var_t = float(t.var())
    var_res = float((t - p).var())
    if var_t == 0.0:
        return 1.0 if var_res == 0.0 else float("nan")
    return 1.0 - var_res / var_t


def _per_user(values: np.ndarray, users: Any, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    u = np.asarray(users)
    if u.shape != values.shape or (u.size and not np.issubdtype(u.dtype, np.integer)):
        raise DataError(
            "users must be one integer user index per pair.",
            code="shape_mismatch",
            hint="Pass the encoded user index (0..n_users-1) of every rated pair.",
        )
    if u.size and (u.min() < 0 or u.max() >= n_users):
        raise DataError(f"user indices must lie in 0..{n_users - 1}.", code="user_index_out_of_range")
    sums = np.bincount(u, weights=values, minlength=n_users)
    counts = np.bincount(u, minlength=n_users)
    return sums, counts


def rmse_per_user(y_true: np.ndarray, y_pred: np.ndarray, users: np.ndarray, n_users: int) -> np.ndarray:
    """RMSE of each user's own pairs. ``users``: int user index per pair. Returns ``(n_users,)`` float64,
    NaN for users with no pair."""
    t, p = _pairs(y_true, y_pred)
    sums, counts = _per_user((t - p) ** 2, users, n_users)
    return np.sqrt(_safe_div(sums, counts))


def mae_per_user(y_true: np.ndarray, y_pred: np.ndarray, users: np.ndarray, n_users: int) -> np.ndarray:
    """MAE of each user's own pairs. Returns ``(n_users,)`` float64, NaN for users with no pair."""
    t, p = _pairs(y_true, y_pred)
    sums, counts = _per_user(np.abs(t - p), users, n_users)
    return _safe_div(sums, counts)


# ---------------------------------------------------------------------------------------------------------
# beyond accuracy
# ---------------------------------------------------------------------------------------------------------


def _valid_entries(topk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(user row, item) of every non-padding slot."""
    mask = topk >= 0
    rows = np.broadcast_to(np.arange(topk.shape[0])[:, None], topk.shape)[mask]
    return rows, topk[mask]


def _item_counts(item_counts: Any, n_items: int | None = None) -> np.ndarray:
    c = np.asarray(item_counts, dtype=np.float64).ravel()
    if (c < 0).any() or not np.isfinite(c).all():
        raise DataError("item_counts must be finite and >= 0.", code="bad_item_counts")
    if n_items is not None and c.size != n_items:
        raise DataError(f"item_counts has {c.size:,} entries but there are {n_items:,} items.", code="shape_mismatch")
    return c


def exposure_counts(topk: np.ndarray, n_items: int) -> np.ndarray:
    """How often each item is recommended over all lists: int64 ``(n_items,)`` (padding ignored)."""
    arr = _as_topk(topk, n_items)
    return np.bincount(arr[arr >= 0], minlength=n_items).astype(np.int64)


def catalog_coverage(
    topk: np.ndarray,
    n_items: int,
    *,
    denominator: Literal["catalog", "train"] = "catalog",
    item_counts: np.ndarray | None = None,
) -> float:
    """Share of items recommended to at least one user.

    Args:
        denominator: ``"catalog"`` (default; RecBole's ``itemcoverage``) divides by ``n_items``;
            ``"train"`` (Microsoft Recommenders' ``catalog_coverage``) divides by the number of distinct
            training items, i.e. items with ``item_counts > 0`` (``item_counts`` required).
    """
    exposure = exposure_counts(topk, n_items)
    n_recommended = int((exposure > 0).sum())
    if denominator == "catalog":
        den = n_items
    elif denominator == "train":
        if item_counts is None:
            raise ConfigError("denominator='train' needs item_counts.", field="item_counts")
        den = int((_item_counts(item_counts, n_items) > 0).sum())
    else:
        raise ConfigError(f"denominator must be 'catalog' or 'train'; got {denominator!r}.", field="denominator")
    return n_recommended / den if den else float("nan")


def gini_index(topk: np.ndarray, n_items: int) -> float:
    """Gini index of the exposure counts over the whole catalogue (0 = equal exposure, → 1 = concentrated).

    ``G = sum_i (2i - n - 1) x_(i) / (n · sum x)`` with counts ``x`` sorted ascending, ``i = 1..n_items``;
    never-recommended items count as 0 (identical to RecBole's ``giniindex``). NaN if nothing is recommended.
    """
    x = np.sort(exposure_counts(topk, n_items)).astype(np.float64)
    total = x.sum()
    if total == 0:
        return float("nan")
    i = np.arange(1, n_items + 1, dtype=np.float64)
    return float(((2.0 * i - n_items - 1.0) * x).sum() / (n_items * total))


def _exposure_shares(topk: np.ndarray) -> np.ndarray:
    arr = _as_topk(topk)
    items = arr[arr >= 0]
    if items.size == 0:
        return np.zeros(0)
    _, counts = np.unique(items, return_counts=True)
    return counts / items.size


def shannon_entropy(topk: np.ndarray) -> float:
    """RecBole's ``shannonentropy``: ``-(1/m) sum_i p_i ln p_i`` over the ``m`` distinct recommended items,
    ``p_i`` = share of all recommendation slots. NB RecBole divides the entropy by ``m``; for the usual
    entropy in bits use :func:`distributional_coverage`. NaN if nothing is recommended."""
    p = _exposure_shares(topk)
    return float(-(p * np.log(p)).mean()) if p.size else float("nan")


def distributional_coverage(topk: np.ndarray) -> float:
    """Shannon entropy in bits of the recommended-item distribution, ``-sum_i p_i log2 p_i`` (Microsoft
    Recommenders' ``distributional_coverage``). NaN if nothing is recommended."""
    p = _exposure_shares(topk)
    return float(-(p * np.log2(p)).sum()) if p.size else float("nan")


def item_novelty(item_counts: np.ndarray, n_users: int) -> np.ndarray:
    """Self-information of each item, ``-log2(count_i / n_users)`` in bits (float64 ``(n_items,)``).

    Items with count 0 (never seen in training) get 0, as in Microsoft Recommenders (they are absent
    from its popularity table); their self-information is otherwise undefined.
    """
    c = _item_counts(item_counts)
    if n_users <= 0:
        raise ConfigError(f"n_users must be >= 1; got {n_users}.", field="n_users")
    out = np.zeros_like(c)
    seen = c > 0
    out[seen] = np.log2(n_users / c[seen])  # = -log2(c / n), without a -0.0 for c == n
    return out


def novelty(topk: np.ndarray, item_counts: np.ndarray, n_users: int) -> np.ndarray:
    """Mean self-information ``-log2(pop_i / n_users)`` of each user's recommended items (bits).

    Args:
        item_counts: ``(n_items,)`` training popularity; for the usual definition the number of training
            users who interacted with the item.
        n_users: the normaliser; the number of training users. Passing the number of training interactions
            (with ``item_counts`` = interactions per item) gives Microsoft Recommenders' ``novelty``.

    Returns float64 ``(n_users_in_topk,)``; NaN for an empty list.
    """
    arr = _as_topk(topk, np.asarray(item_counts).size)
    info = item_novelty(item_counts, n_users)
    return _list_mean(arr, info)


def _list_mean(topk: np.ndarray, item_values: np.ndarray) -> np.ndarray:
    """Per row: mean of ``item_values`` over the row's non-padding items (NaN for an empty row)."""
    mask = topk >= 0
    vals = np.where(mask, item_values[np.maximum(topk, 0)] if item_values.size else 0.0, 0.0)
    return _safe_div(vals.sum(axis=1), mask.sum(axis=1))


def average_popularity(topk: np.ndarray, item_counts: np.ndarray) -> np.ndarray:
    """Mean training popularity (``item_counts``) of each user's recommended items (RecBole's
    ``averagepopularity``). Returns float64 ``(n_users,)``; NaN for an empty list."""
    counts = _item_counts(item_counts)
    arr = _as_topk(topk, counts.size)
    return _list_mean(arr, counts)


def tail_item_mask(item_counts: np.ndarray, tail_ratio: float = 0.1, *, among: np.ndarray | None = None) -> np.ndarray:
    """Long-tail items (RecBole's rule), as a bool mask ``(n_items,)``.

    If ``tail_ratio > 1``: items with ``count <= tail_ratio``. Otherwise the ``max(int(m * tail_ratio), 1)``
    least popular of the ``m`` candidate items, ties broken by lower index. ``among``: the candidate
    items (bool mask or indices; default all items — RecBole uses the items of its training counter).
    """
    c = _item_counts(item_counts)
    if not tail_ratio > 0:
        raise ConfigError(f"tail_ratio must be > 0; got {tail_ratio}.", field="tail_ratio")
    cand = np.ones(c.size, dtype=bool)
    if among is not None:
        a = np.asarray(among)
        cand = a.astype(bool) if a.dtype == bool else np.isin(np.arange(c.size), a)
    mask = np.zeros(c.size, dtype=bool)
    if tail_ratio > 1:
        mask[cand & (c <= tail_ratio)] = True
        return mask
    idx = np.flatnonzero(cand)
    n_tail = max(int(idx.size * tail_ratio), 1)
    order = idx[np.lexsort((idx, c[idx]))]  # by count, then index
    mask[order[:n_tail]] = True
    return mask


def tail_percentage(
    topk: np.ndarray,
    item_counts: np.ndarray,
    *,
    tail_ratio: float = 0.1,
    among: np.ndarray | None = None,
) -> np.ndarray:
    """Share of each user's recommended items that are long-tail items (see :func:`tail_item_mask`).

    Returns float64 ``(n_users,)`` in [0, 1]; NaN for an empty list.
    """
    mask = tail_item_mask(item_counts, tail_ratio, among=among)
    arr = _as_topk(topk, mask.size)
    return _list_mean(arr, mask.astype(np.float64))


def _normalised_rows(item_vectors: Any) -> sp.csr_matrix | np.ndarray:
    """L2-normalise item vectors (rows); all-zero rows stay zero (their similarities count as 0)."""
    if sp.issparse(item_vectors):
        v = sp.csr_matrix(item_vectors, dtype=np.float64)
        norms = np.sqrt(np.asarray(v.multiply(v).sum(axis=1)).ravel())
        inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        return sp.csr_matrix(sp.diags(inv) @ v)
    v = np.asarray(item_vectors, dtype=np.float64)
    if v.ndim != 2:
        raise DataError("item_vectors must be a 2-D (items × features) matrix.", code="bad_item_vectors")
    norms = np.linalg.norm(v, axis=1)
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return v * inv[:, None]


def _indicator(topk: np.ndarray, n_items: int) -> sp.csr_matrix:
    """Sparse 0/1 (users × items) matrix of the distinct items in each list."""
    rows, items = _valid_entries(topk)
    a = sp.csr_matrix((np.ones(rows.size), (rows, items)), shape=(topk.shape[0], n_items), dtype=np.float64)
    a.sum_duplicates()
    a.data[:] = 1.0
    return a


def _user_batches(n_users: int, width: int) -> Iterable[slice]:
    step = max(1, _BATCH_CELLS // max(width, 1))
    for start in range(0, n_users, step):
        yield slice(start, min(start + step, n_users))


def intra_list_diversity(topk: np.ndarray, item_vectors: np.ndarray | sp.spmatrix) -> np.ndarray:
    """``1 - mean cosine similarity`` over the unordered pairs of distinct items in each user's list.

    ``item_vectors``: ``(n_items, d)`` dense or sparse (genre one-hot, embeddings, or the transposed
    binary training matrix for co-occurrence similarity ``|U_i ∩ U_j| / sqrt(|U_i| |U_j|)``). Items with an
    all-zero vector have similarity 0 with everything.

    Returns float64 ``(n_users,)``; NaN for lists with fewer than 2 distinct items. Uses
    ``sum_{i≠j} cos = ||sum_i v̂_i||² - sum_i ||v̂_i||²``, so no pair is enumerated.
    """
    vn = _normalised_rows(item_vectors)
    n_items = vn.shape[0]
    arr = _as_topk(topk, n_items)
    a = _indicator(arr, n_items)
    n_distinct = np.diff(a.indptr).astype(np.float64)
    pair_sum = np.zeros(arr.shape[0])
    nonzero = (
        (np.asarray(vn.multiply(vn).sum(axis=1)).ravel() if sp.issparse(vn) else (vn * vn).sum(axis=1)) > 0
    ).astype(np.float64)
    self_sim = a @ nonzero
    for sl in _user_batches(arr.shape[0], vn.shape[1]):
        s = a[sl] @ vn
        sq = np.asarray(s.multiply(s).sum(axis=1)).ravel() if sp.issparse(s) else (s * s).sum(axis=1)
        pair_sum[sl] = sq
    mean_sim = _safe_div(pair_sum - self_sim, np.where(n_distinct >= 2, n_distinct * (n_distinct - 1), 0))
    return 1.0 - mean_sim


def personalisation(topk: np.ndarray, n_items: int) -> float:
    """``1 - mean over pairs of users u ≠ v of |L_u ∩ L_v| / K`` (K = list length, ``topk.shape[1]``).

    Exact over *all* user pairs without sampling: ``sum_{u≠v} |L_u ∩ L_v| = sum_i c_i (c_i - 1)`` with
    ``c_i`` the number of lists containing item ``i``, so the cost is O(n_users · K). NaN for < 2 users.
    """
    arr = _as_topk(topk, n_items)
    n_users, width = arr.shape
    if n_users < 2 or width == 0:
        return float("nan")
    c = np.asarray(_indicator(arr, n_items).sum(axis=0)).ravel()
    overlap = float((c * (c - 1.0)).sum()) / (n_users * (n_users - 1.0))
    return 1.0 - overlap / width


def user_item_serendipity(
    topk: np.ndarray,
    train: sp.spmatrix | sp.sparray,
    item_vectors: np.ndarray | sp.spmatrix,
    relevance: np.ndarray | None = None,
) -> np.ndarray:
    """Serendipity of each recommended item (Microsoft Recommenders' ``user_item_serendipity``).

    ``(1 - mean_{j in train_u} cos(i, j)) · rel(u, i)`` for the item ``i`` in each slot, where ``train_u``
    are the user's training items and ``rel`` the slot's relevance (e.g. the hits matrix from
    :func:`relevance_of`; None = 1 everywhere).

    Args:
        topk: ``(n_users, K)`` item indices; train: ``(n_users × n_items)`` sparse training interactions
            (stored entries = the user's items); item_vectors: as in :func:`intra_list_diversity`;
            relevance: ``(n_users, K)`` 0/1 or bool.

    Returns float64 ``(n_users, K)``; NaN in padding slots and for users without training items.
    """
    vn = _normalised_rows(item_vectors)
    n_items = vn.shape[0]
    arr = _as_topk(topk, n_items)
    tr = _as_csr(train, "train")
    _check_rows(arr, tr)
    if tr.shape[1] != n_items:
        raise DataError(
            f"train has {tr.shape[1]:,} item columns but item_vectors has {n_items:,} rows.",
            code="shape_mismatch",
        )
    tr_bin = sp.csr_matrix((np.ones(tr.nnz), tr.indices, tr.indptr), shape=tr.shape)
    n_train = _n_rel(tr).astype(np.float64)
    mean_sim = np.full(arr.shape, np.nan)
    for sl in _user_batches(arr.shape[0], n_items):
        # (users in batch × items): summed similarity of every item to the user's training items
        t = tr_bin[sl] @ vn
        m = t @ vn.T
        m = m.toarray() if sp.issparse(m) else np.asarray(m)
        block = arr[sl]
        mean_sim[sl] = np.take_along_axis(m, np.maximum(block, 0), axis=1)
    mean_sim = mean_sim / np.where(n_train > 0, n_train, np.nan)[:, None]
    out = 1.0 - mean_sim
    if relevance is not None:
        rel = np.asarray(relevance, dtype=np.float64)
        if rel.shape != arr.shape:
            raise DataError("relevance must have the same shape as topk.", code="shape_mismatch")
        out = out * rel
    return np.where(arr >= 0, out, np.nan)


def serendipity(
    topk: np.ndarray,
    train: sp.spmatrix | sp.sparray,
    item_vectors: np.ndarray | sp.spmatrix,
    relevance: np.ndarray | None = None,
) -> np.ndarray:
    """Per-user mean of :func:`user_item_serendipity` over the non-padding slots (Recommenders'
    ``user_serendipity``). Returns float64 ``(n_users,)``; NaN for empty lists or users without training
    items."""
    per_item = user_item_serendipity(topk, train, item_vectors, relevance)
    valid = ~np.isnan(per_item)
    return _safe_div(np.where(valid, per_item, 0.0).sum(axis=1), valid.sum(axis=1))


# ---------------------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------------------

MetricKind = Literal["ranking", "rating", "pairs", "beyond"]


@dataclass(frozen=True)
class MetricInfo:
    """One metric as the UI and the docs list it.

    Attributes:
        name: key (ranking metrics appear as ``name@k`` in results).
        fn: the function computing it.
        higher_is_better: True/False, or None when it is descriptive (no better direction).
        description: one line for tooltips and tables.
        kind: ``ranking`` (top-K vs test items), ``rating`` (rating error), ``pairs`` (over scored
            (label, prediction) pairs or full score rows), ``beyond`` (beyond accuracy).
        per_user: True if ``fn`` returns a per-user array (then averaged with :func:`mean_over_users`).
    """

    name: str
    fn: Callable[..., Any]
    higher_is_better: bool | None
    description: str
    kind: MetricKind
    per_user: bool


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo("precision", precision_at_k, True, "Share of the top-k that is relevant (÷ k).", "ranking", True),
        MetricInfo(
            "recall",
            recall_at_k,
            True,
            "Share of the user's relevant items found in the top-k.",
            "ranking",
            True,
        ),
        MetricInfo(
            "ndcg",
            ndcg_at_k,
            True,
            "Rank-discounted gain (log2) relative to the ideal ordering.",
            "ranking",
            True,
        ),
        MetricInfo("map", map_at_k, True, "Mean of precision at each hit rank, ÷ min(k, #relevant).", "ranking", True),
        MetricInfo(
            "mrr",
            mrr_at_k,
            True,
            "1 / rank of the first relevant item in the top-k (0 if none).",
            "ranking",
            True,
        ),
        MetricInfo(
            "hit_rate",
            hit_rate_at_k,
            True,
            "1 if any relevant item is in the top-k, else 0.",
            "ranking",
            True,
        ),
        MetricInfo(
            "r_precision",
            r_precision_at_k,
            True,
            "Hits among the first R = #relevant items, ÷ R.",
            "ranking",
            True,
        ),
        MetricInfo(
            "auc",
            auc_from_scores,
            True,
            "Chance a relevant item outscores a non-relevant one (full list).",
            "pairs",
            True,
        ),
        MetricInfo("gauc", gauc, True, "Per-user AUC averaged with weights = #relevant (RecBole).", "pairs", False),
        MetricInfo("pair_auc", auc, True, "ROC AUC over all (label, prediction) pairs, not per user.", "pairs", False),
        MetricInfo(
            "logloss",
            logloss,
            False,
            "Binary cross-entropy (natural log) of predicted probabilities.",
            "pairs",
            False,
        ),
        MetricInfo("rmse", rmse, False, "Root mean squared rating error.", "rating", False),
        MetricInfo("mae", mae, False, "Mean absolute rating error.", "rating", False),
        MetricInfo("r_squared", r_squared, True, "1 − residual / total sum of squares of ratings.", "rating", False),
        MetricInfo("explained_variance", explained_variance, True, "1 − Var(error) / Var(rating).", "rating", False),
        MetricInfo(
            "catalog_coverage",
            catalog_coverage,
            True,
            "Share of the catalogue recommended to anyone.",
            "beyond",
            False,
        ),
        MetricInfo(
            "gini_index",
            gini_index,
            False,
            "Inequality of item exposure (0 = equal, 1 = one item).",
            "beyond",
            False,
        ),
        MetricInfo(
            "shannon_entropy",
            shannon_entropy,
            True,
            "RecBole's entropy of exposure (ln, ÷ #distinct items).",
            "beyond",
            False,
        ),
        MetricInfo(
            "distributional_coverage",
            distributional_coverage,
            True,
            "Entropy of item exposure in bits.",
            "beyond",
            False,
        ),
        MetricInfo(
            "novelty",
            novelty,
            True,
            "Mean self-information −log2(popularity) of recommended items.",
            "beyond",
            True,
        ),
        MetricInfo(
            "average_popularity",
            average_popularity,
            None,
            "Mean training popularity of recommended items.",
            "beyond",
            True,
        ),
        MetricInfo(
            "tail_percentage",
            tail_percentage,
            True,
            "Share of recommended items from the long tail.",
            "beyond",
            True,
        ),
        MetricInfo(
            "intra_list_diversity",
            intra_list_diversity,
            True,
            "1 − mean pairwise cosine similarity in a list.",
            "beyond",
            True,
        ),
        MetricInfo(
            "personalisation",
            personalisation,
            True,
            "1 − mean overlap between two users' lists.",
            "beyond",
            False,
        ),
        MetricInfo(
            "serendipity",
            serendipity,
            True,
            "Relevant and unlike the user's history (1 − similarity).",
            "beyond",
            True,
        ),
    )
}
