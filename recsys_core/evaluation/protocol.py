"""The evaluation protocol: full ranking over every item with each user's training (and validation) items
excluded — the default — or labelled *sampled* ranking; scored in user batches sized to the memory at hand.

An :class:`EvalResult` carries its :class:`EvalProtocol` (data fingerprint, split, K list, candidates,
relevance threshold, ...) so two results can be checked for comparability before they are compared.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from recsys_core.errors import ConfigError
from recsys_core.evaluation.metrics import (
    DEFAULT_RANKING_METRICS,
    RANKING_METRICS,
    auc_from_scores,
    average_popularity,
    catalog_coverage,
    gini_index,
    intra_list_diversity,
    mae,
    novelty,
    personalisation,
    ranking_metrics,
    rmse,
)
from recsys_core.ranking import mask_items, top_k

BEYOND_METRICS = ("coverage", "gini", "novelty", "avg_popularity", "personalisation", "diversity")
Scorer = Callable[[np.ndarray], torch.Tensor]


@dataclass(frozen=True)
class EvalProtocol:
    """How a model is evaluated. Stored with every result and every run.

    Attributes:
        ks: cutoffs, e.g. ``(5, 10, 20)``.
        metrics: top-K metrics (``precision, recall, ndcg, map, mrr, hit_rate, r_precision``).
        beyond: beyond-accuracy metrics at each cutoff (``coverage, gini, novelty, avg_popularity,
            personalisation, diversity``; diversity needs item vectors, e.g. genres).
        auc: also compute per-user AUC over the full item list (costs a rank of every score).
        candidates: ``"full"`` ranks every item; ``"sampled"`` ranks each user's test items among
            ``n_negatives`` sampled negatives per test item — always labelled "sampled".
        exclude_train / exclude_val: leave the user's training / validation items out of the ranking.
        relevance_threshold: test interactions with rating >= threshold are relevant (None: all are).
        map_normaliser: ``min_k_rel`` (default; RecBole, Recommenders ``map_at_k``) or ``n_rel``.
        seed: for sampled negatives.
        data_fingerprint / split: what data and split the numbers come from (filled by the caller).
    """

    ks: tuple[int, ...] = (10,)
    metrics: tuple[str, ...] = DEFAULT_RANKING_METRICS
    beyond: tuple[str, ...] = BEYOND_METRICS
    auc: bool = False
    candidates: Literal["full", "sampled"] = "full"
    n_negatives: int = 100
    exclude_train: bool = True
    exclude_val: bool = True
    relevance_threshold: float | None = None
    map_normaliser: Literal["min_k_rel", "n_rel"] = "min_k_rel"
    seed: int = 42
    data_fingerprint: str = ""
    split: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        ks = tuple(sorted({int(k) for k in self.ks}))
        if not ks or ks[0] < 1:
            raise ConfigError(f"ks must be positive integers; got {self.ks!r}.", field="k")
        object.__setattr__(self, "ks", ks)
        object.__setattr__(self, "metrics", tuple(self.metrics))
        object.__setattr__(self, "beyond", tuple(self.beyond))
        bad = [m for m in self.metrics if m not in RANKING_METRICS]
        if bad:
            raise ConfigError(f"Unknown metric(s) {', '.join(bad)}.", field="metrics", hint=f"Known: {RANKING_METRICS}")
        bad = [m for m in self.beyond if m not in BEYOND_METRICS]
        if bad:
            raise ConfigError(f"Unknown metric(s) {', '.join(bad)}.", field="beyond", hint=f"Known: {BEYOND_METRICS}")
        if self.candidates not in ("full", "sampled"):
            raise ConfigError(f"candidates must be full or sampled; got {self.candidates!r}.", field="candidates")
        if self.candidates == "sampled" and self.n_negatives < 1:
            raise ConfigError("n_negatives must be >= 1 for sampled ranking.", field="n_negatives")

    @property
    def label(self) -> str:
        if self.candidates == "sampled":
            return f"sampled ({self.n_negatives} negatives per test item)"
        return "full ranking"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["ks"], d["metrics"], d["beyond"] = list(self.ks), list(self.metrics), list(self.beyond)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EvalProtocol:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names})

    def mismatches(self, other: EvalProtocol) -> list[str]:
        """Why results under ``self`` and ``other`` cannot be ranked together (empty list: comparable)."""
        reasons = []
        if self.data_fingerprint != other.data_fingerprint:
            reasons.append("different data (fingerprints differ)")
        if with_default_cleaning(self.split) != with_default_cleaning(other.split):
            reasons.append("different split")
        if self.candidates != other.candidates or (
            self.candidates == "sampled" and self.n_negatives != other.n_negatives
        ):
            reasons.append(f"different candidates ({self.label} vs {other.label})")
        if (self.exclude_train, self.exclude_val) != (other.exclude_train, other.exclude_val):
            reasons.append("different exclusion of seen items")
        if self.relevance_threshold != other.relevance_threshold:
            reasons.append("different relevance threshold")
        if self.map_normaliser != other.map_normaliser:
            reasons.append("different MAP normaliser")
        return reasons


def with_default_cleaning(split: Any) -> Any:
    """A data description with every cleaning option filled in: runs recorded before an option existed compare
    equal to runs that left it at its default."""
    if not isinstance(split, dict) or not isinstance(split.get("preprocess"), dict):
        return split
    from recsys_core.data.schema import PreprocessConfig

    try:
        return {**split, "preprocess": PreprocessConfig.from_dict(dict(split["preprocess"])).to_dict()}
    except (ConfigError, TypeError):
        return split


@dataclass
class EvalResult:
    """Metrics of one evaluation, with per-user values and the protocol that produced them.

    Attributes:
        metrics: mean over evaluated users for per-user metrics, plus global beyond-accuracy values; keys
            like ``"ndcg@10"``, ``"coverage@10"``.
        per_user: one row per evaluated user: ``user`` (original id), ``user_index``, ``n_relevant``,
            ``n_train`` and a column per per-user metric.
        n_users: users evaluated (≥ 1 relevant test item); n_skipped: users with none, left out and counted.
        topk: (n_users, max K) recommended item indices of the evaluated users (-1 padding), if kept.
    """

    protocol: EvalProtocol
    metrics: dict[str, float]
    per_user: pd.DataFrame
    n_users: int
    n_skipped: int
    seconds: float
    topk: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol.to_dict(),
            "metrics": self.metrics,
            "n_users": self.n_users,
            "n_skipped": self.n_skipped,
            "seconds": self.seconds,
        }


def _available_memory() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 * 2**30


def auto_batch_size(n_items: int, device: str = "cpu", *, bytes_per_cell: int = 24) -> int:
    """Users per scoring batch so that the (batch × n_items) score matrix and its temporaries fit.

    Budget: a quarter of available RAM (at most 2 GiB) on the CPU, half the free memory on a GPU.
    """
    if device.startswith("cuda"):
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        budget = free // 2
    else:
        budget = min(_available_memory() // 4, 2 * 2**30)
    return int(np.clip(budget // max(n_items * bytes_per_cell, 1), 1, 8192))


def _as_csr(data: Any, n_users: int, n_items: int, *, threshold: float | None = None) -> sp.csr_matrix:
    """Binary (n_users × n_items) relevance from an Interactions (rating >= threshold when given)."""
    keep = np.ones(len(data.user_idx), dtype=bool)
    if threshold is not None:
        if data.rating is None:
            raise ConfigError("relevance_threshold needs ratings in the test data.", field="relevance_threshold")
        keep = data.rating >= threshold
    m = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.float32), (data.user_idx[keep], data.item_idx[keep])),
        shape=(n_users, n_items),
    )
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def _splitmix(keys: torch.Tensor, seed: int) -> torch.Tensor:
    """Deterministic pseudo-random 62-bit integers from int64 keys (independent of batching)."""
    z = keys * 0x9E3779B97F4A7C15 + (seed * 0xBF58476D1CE4E5B9 & 0x7FFFFFFFFFFFFFFF)
    z = (z ^ (z >> 30)) * -0x40A7B892E31B1A47
    z = (z ^ (z >> 27)) * -0x6B2FB644ECCEB0ED
    return (z ^ (z >> 31)) & 0x3FFFFFFFFFFFFFFF


def _sample_candidates(
    users: np.ndarray, n_items: int, relevant: sp.csr_matrix, excluded: sp.csr_matrix, n_neg: int, seed: int
) -> torch.Tensor:
    """Boolean (b, n_items) mask: each user's relevant items plus ``n_neg × n_relevant`` uniformly drawn items
    that are neither relevant nor excluded, drawn without replacement (hash-seeded by user and item)."""
    b = len(users)
    item = torch.arange(n_items, dtype=torch.int64)
    keys = torch.from_numpy(users.astype(np.int64)).unsqueeze(1) * n_items + item.unsqueeze(0)
    rnd = _splitmix(keys, seed).to(torch.float64)
    blocked = (relevant + excluded).tocsr()
    coo = blocked.tocoo()
    rnd[torch.from_numpy(coo.row.astype(np.int64)), torch.from_numpy(coo.col.astype(np.int64))] = torch.inf
    n_rel = np.diff(relevant.indptr)
    want = torch.from_numpy(np.minimum(n_rel * n_neg, n_items - np.diff(blocked.indptr)).astype(np.int64))
    kmax = int(want.max()) if b else 0
    mask = torch.zeros((b, n_items), dtype=torch.bool)
    if kmax > 0:
        idx = torch.topk(rnd, kmax, dim=1, largest=False).indices
        take = torch.arange(kmax).unsqueeze(0) < want.unsqueeze(1)
        rows = torch.arange(b).unsqueeze(1).expand(-1, kmax)
        mask[rows[take], idx[take]] = True
    rc = relevant.tocoo()
    mask[torch.from_numpy(rc.row.astype(np.int64)), torch.from_numpy(rc.col.astype(np.int64))] = True
    return mask


def _scorer_of(model: Any) -> tuple[Scorer, str]:
    if hasattr(model, "score") and callable(model.score):
        return model.score, str(getattr(model, "device", "cpu"))
    if callable(model):
        return model, "cpu"
    raise ConfigError("evaluate() needs a model with score(users) or a callable scorer.", field="model")


def evaluate(
    model: Any,
    train: Any,
    test: Any,
    protocol: EvalProtocol | None = None,
    *,
    val: Any = None,
    item_vectors: np.ndarray | sp.spmatrix | None = None,
    batch_size: int | None = None,
    keep_topk: bool = False,
) -> EvalResult:
    """Rank items for every test user and compute the protocol's metrics.

    Args:
        model: a :class:`~recsys_core.models.base.Recommender` or a callable ``users -> (b, n_items) scores``.
        train / test / val: ``Interactions`` in one id space (e.g. the parts of one split).
        item_vectors: (n_items, d) vectors for intra-list diversity (e.g. genre one-hot); without them
            diversity is skipped.
        batch_size: users per batch; default from :func:`auto_batch_size`.
        keep_topk: keep the top-K lists of the evaluated users in the result.
    """
    protocol = protocol or EvalProtocol()
    start = time.perf_counter()
    scorer, device = _scorer_of(model)
    n_users, n_items = int(train.n_users), int(train.n_items)
    relevant_all = _as_csr(test, n_users, n_items, threshold=protocol.relevance_threshold)
    train_csr = _as_csr(train, n_users, n_items)
    excluded_all = sp.csr_matrix((n_users, n_items), dtype=np.float32)
    if protocol.exclude_train:
        excluded_all = excluded_all + train_csr
    if protocol.exclude_val and val is not None:
        excluded_all = excluded_all + _as_csr(val, n_users, n_items)
    excluded_all = excluded_all.tocsr()

    n_rel_all = np.diff(relevant_all.indptr)
    users = np.flatnonzero(n_rel_all > 0)
    test_users = np.unique(test.user_idx)
    n_skipped = int(len(test_users) - len(users)) + len(
        np.setdiff1d(np.flatnonzero(np.diff(train_csr.indptr) > 0), test_users)
    )
    kmax = max(protocol.ks)
    batch = batch_size or auto_batch_size(n_items, device)

    per_user: dict[str, list[np.ndarray]] = {}
    topk_parts: list[np.ndarray] = []
    for lo in range(0, len(users), batch):
        ub = users[lo : lo + batch]
        relevant = relevant_all[ub]
        excluded = excluded_all[ub]
        with torch.no_grad():
            scores = scorer(ub).float().to("cpu") if device == "cpu" else scorer(ub).float()
        if tuple(scores.shape) != (len(ub), n_items):
            raise ConfigError(
                f"the scorer returned shape {tuple(scores.shape)}, expected ({len(ub)}, {n_items}).", field="model"
            )
        scores = scores.clone()
        if protocol.candidates == "sampled":
            cand = _sample_candidates(ub, n_items, relevant, excluded, protocol.n_negatives, protocol.seed)
            scores[~cand.to(scores.device)] = -torch.inf
            left_out = sp.csr_matrix((~cand).numpy())
        else:
            mask_items(scores, excluded)
            left_out = excluded
        if protocol.auc:
            # AUC over the ranked candidates only: excluded items are not negatives
            per_user.setdefault("auc", []).append(auc_from_scores(scores.cpu().numpy(), relevant, left_out))
        idx, vals = top_k(scores, kmax)
        idx = idx.cpu().numpy()
        idx[~np.isfinite(vals.cpu().numpy())] = -1
        topk_parts.append(idx)
        for name, values in ranking_metrics(
            idx, relevant, protocol.ks, protocol.metrics, map_normaliser=protocol.map_normaliser
        ).items():
            per_user.setdefault(name, []).append(values)

    topk = np.concatenate(topk_parts) if topk_parts else np.empty((0, kmax), dtype=np.int64)
    columns: dict[str, np.ndarray] = {k: np.concatenate(v) for k, v in per_user.items()}
    metrics = {k: float(np.nanmean(v)) if len(v) else float("nan") for k, v in columns.items()}

    item_counts = np.diff(train_csr.tocsc().indptr).astype(np.float64)  # training users per item
    n_train_users = int((np.diff(train_csr.indptr) > 0).sum())
    for k in protocol.ks:
        tk = topk[:, :k]
        if "coverage" in protocol.beyond:
            metrics[f"coverage@{k}"] = catalog_coverage(tk, n_items)
        if "gini" in protocol.beyond:
            metrics[f"gini@{k}"] = gini_index(tk, n_items)
        if "personalisation" in protocol.beyond:
            metrics[f"personalisation@{k}"] = personalisation(tk, n_items)
        if "novelty" in protocol.beyond:
            columns[f"novelty@{k}"] = novelty(tk, item_counts, max(n_train_users, 1))
        if "avg_popularity" in protocol.beyond:
            columns[f"avg_popularity@{k}"] = average_popularity(tk, item_counts)
        if "diversity" in protocol.beyond and item_vectors is not None:
            columns[f"diversity@{k}"] = intra_list_diversity(tk, item_vectors)
        for name in ("novelty", "avg_popularity", "diversity"):
            key = f"{name}@{k}"
            if key in columns:
                metrics[key] = float(np.nanmean(columns[key])) if len(topk) else float("nan")

    frame = pd.DataFrame(
        {
            "user": train.users.to_ids(users) if len(users) else np.array([], dtype=np.int64),
            "user_index": users,
            "n_relevant": n_rel_all[users],
            "n_train": np.diff(train_csr.indptr)[users],
            **columns,
        }
    )
    metrics["n_users"] = float(len(users))
    return EvalResult(
        protocol=protocol,
        metrics=metrics,
        per_user=frame,
        n_users=len(users),
        n_skipped=n_skipped,
        seconds=time.perf_counter() - start,
        topk=topk if keep_topk else None,
    )


@dataclass
class RatingResult:
    """RMSE / MAE over the test pairs the model can score, and how many pairs were left out."""

    metrics: dict[str, float]
    per_user: pd.DataFrame
    n_pairs: int
    n_unknown: int


def evaluate_ratings(model: Any, train: Any, test_frame: pd.DataFrame) -> RatingResult:
    """RMSE and MAE of ``model.predict`` on a canonical test frame with ratings.

    Test rows whose user or item is unknown to the training data are left out and counted (``n_unknown``);
    models that want to predict them (a fallback) must be given them through fold-in instead.
    """
    from recsys_core.data.interactions import Interactions

    if "rating" not in test_frame.columns:
        raise ConfigError("rating evaluation needs a rating column in the test data.", field="test")
    test = Interactions.from_frame(test_frame, users=train.users, items=train.items, unknown="drop")
    pred = np.asarray(model.predict(test.user_idx, test.item_idx), dtype=np.float64)
    truth = test.rating.astype(np.float64)
    err = pred - truth
    frame = pd.DataFrame({"user_index": test.user_idx, "sq": err**2, "abs": np.abs(err)})
    per_user = frame.groupby("user_index").agg(rmse=("sq", "mean"), mae=("abs", "mean"), n=("sq", "size"))
    per_user["rmse"] = np.sqrt(per_user["rmse"])
    per_user = per_user.reset_index()
    per_user.insert(0, "user", train.users.to_ids(per_user["user_index"].to_numpy()))
    # training activity per user, so rating results can be sliced by segment like ranking results
    per_user["n_train"] = np.bincount(train.user_idx, minlength=train.n_users)[per_user["user_index"].to_numpy()]
    metrics = {"rmse": rmse(truth, pred), "mae": mae(truth, pred), "n_pairs": float(len(truth))}
    return RatingResult(metrics, per_user, len(truth), int(getattr(test, "n_dropped_unknown", 0)))


def validator(
    train: Any,
    val: Any,
    *,
    ks: Sequence[int] = (10,),
    metrics: Sequence[str] = ("ndcg", "recall"),
    rating: bool = False,
) -> Callable[[Any], dict[str, float]]:
    """A cheap per-epoch validation function for :func:`recsys_core.training.fit`.

    Ranking models: top-K metrics on the validation part (training items excluded, no beyond-accuracy).
    Rating models (``rating=True``): RMSE and MAE on the validation ratings.
    """
    protocol = EvalProtocol(ks=tuple(ks), metrics=tuple(metrics), beyond=())

    if rating:
        val_frame = val.to_frame()

        def validate_ratings(model: Any) -> dict[str, float]:
            r = evaluate_ratings(model, train, val_frame)
            return {"rmse": r.metrics["rmse"], "mae": r.metrics["mae"]}

        return validate_ratings

    def validate(model: Any) -> dict[str, float]:
        result = evaluate(model, train, val, protocol)
        return {k: v for k, v in result.metrics.items() if "@" in k}

    return validate
