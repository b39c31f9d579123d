"""One experiment end to end — data → model → epoch loop → evaluation — as used by the ``train`` command,
the worker processes and the dashboard. Everything it did is returned in a JSON-ready :class:`ExperimentResult`
(model, hyperparameters, device, protocol with the data fingerprint, per-epoch history, metrics, timings).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_core.data.fingerprint import data_fingerprint, frame_fingerprint
from recsys_core.data.interactions import IdIndex, Interactions
from recsys_core.data.preprocess import preprocess
from recsys_core.data.schema import PreprocessConfig, SplitConfig
from recsys_core.data.split import split
from recsys_core.errors import ConfigError
from recsys_core.evaluation.protocol import EvalProtocol, evaluate, evaluate_ratings, validator
from recsys_core.models import create
from recsys_core.models.base import Recommender
from recsys_core.training import EarlyStopping, EpochRecord, FitResult, fit


@dataclass
class PreparedData:
    """Train / (validation) / test parts in one id space, with what produced them.

    The id space is the union of all parts, so test items never seen in training still count as relevant
    (and can never be hit): the same convention as the reference results.
    """

    train: Interactions
    test: Interactions
    val: Interactions | None
    fingerprint: str
    description: dict[str, Any]
    item_vectors: sp.csr_matrix | None = None

    @property
    def users(self) -> IdIndex:
        return self.train.users

    @property
    def items(self) -> IdIndex:
        return self.train.items


def _union_index(frames: Sequence[pd.DataFrame], column: str) -> IdIndex:
    values = pd.concat([f[column] for f in frames], ignore_index=True)
    kinds = {str(f[column].dtype) for f in frames}
    if len(kinds) > 1 and not all(pd.api.types.is_integer_dtype(f[column]) for f in frames):
        values = values.astype(str)
    index, _ = IdIndex.from_values(values)
    return index


def prepare_from_parts(
    train: pd.DataFrame, test: pd.DataFrame, val: pd.DataFrame | None = None, *, items: pd.DataFrame | None = None
) -> PreparedData:
    """Encode pre-split canonical frames into one id space (the ``--train/--test [--val]`` form)."""
    frames = [f for f in (train, val, test) if f is not None]
    users, item_index = _union_index(frames, "user"), _union_index(frames, "item")

    def enc(f: pd.DataFrame) -> Interactions:
        return Interactions.from_frame(f, users=users, items=item_index)

    parts = {"train": frame_fingerprint(train), "test": frame_fingerprint(test)}
    if val is not None:
        parts["val"] = frame_fingerprint(val)
    fp = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    desc = {"kind": "files", "parts": parts}
    return PreparedData(
        enc(train), enc(test), enc(val) if val is not None else None, fp, desc, _genres(items, item_index)
    )


def prepare_from_frame(
    frame: pd.DataFrame,
    preprocess_config: PreprocessConfig | None = None,
    split_config: SplitConfig | None = None,
    *,
    items: pd.DataFrame | None = None,
) -> PreparedData:
    """Preprocess and split one canonical frame (the ``--data FILE`` form and the dashboard)."""
    preprocess_config = preprocess_config or PreprocessConfig()
    split_config = split_config or SplitConfig()
    raw_fp = frame_fingerprint(frame)
    cleaned = preprocess(frame, preprocess_config)
    parts = split(Interactions.from_frame(cleaned.frame), split_config)
    desc = {
        "kind": "split",
        "raw_fingerprint": raw_fp,
        "preprocess": preprocess_config.to_dict(),
        "split": split_config.to_dict(),
    }
    fp = data_fingerprint(raw_fp, preprocess_config, split_config)
    return PreparedData(parts.train, parts.test, parts.val, fp, desc, _genres(items, parts.train.items))


def _genres(items: pd.DataFrame | None, index: IdIndex) -> sp.csr_matrix | None:
    """(n_items, n_genres) one-hot genre matrix for intra-list diversity, or None without metadata."""
    if items is None or "genres" not in items.columns or not len(items):
        return None
    idx = index.to_index(items["item"].to_numpy(), missing=-1)
    keep = idx >= 0
    genres = items["genres"].to_numpy()[keep]
    rows, names = [], {}
    cols = []
    for row, gs in zip(idx[keep], genres):
        for g in list(gs) if gs is not None else []:
            rows.append(row)
            cols.append(names.setdefault(g, len(names)))
    if not names:
        return None
    return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(index), len(names)))


SEED_MAX = 2**31 - 1  # seeds are 0..SEED_MAX: numpy and torch take them all; the dashboard's inputs allow as many


@dataclass
class ExperimentSpec:
    """What to train and how to evaluate it (everything except the data)."""

    model: str
    params: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    seed: int = 42
    precision: str = "fp32"
    epochs: int | None = None
    ks: tuple[int, ...] = (10,)
    early_stopping: str | None = None  # validation metric to monitor, e.g. "ndcg@10" or "rmse"
    patience: int = 3
    candidates: str = "full"
    n_negatives: int = 100
    relevance_threshold: float | None = None

    def __post_init__(self) -> None:
        seed = self.seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= SEED_MAX:
            raise ConfigError(
                f"The seed must be a whole number from 0 to {SEED_MAX:,}; got {seed!r}.",
                field="seed",
                hint="Pick another seed (42 is the default).",
            )

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["ks"] = list(self.ks)
        return d


@dataclass
class ExperimentResult:
    model: Recommender
    spec: ExperimentSpec
    fit: FitResult
    metrics: dict[str, float]
    protocol: dict[str, Any]
    per_user: pd.DataFrame
    evaluation: str  # "ranking" or "rating"
    device: str
    n_users: int
    n_items: int
    eval_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.spec.model,
            "params": self.model.params,
            "device": self.device,
            "seed": self.spec.seed,
            "evaluation": self.evaluation,
            "metrics": self.metrics,
            "history": [r.to_dict() for r in self.fit.history],
            "best_epoch": self.fit.best_epoch,
            "stopped_early": self.fit.stopped_early,
            "cancelled": self.fit.cancelled,
            "fit_seconds": self.fit.fit_seconds,
            "eval_seconds": self.eval_seconds,
            "n_users": self.n_users,
            "n_items": self.n_items,
            "protocol": self.protocol,
        }


def evaluates_ratings(model: Recommender) -> bool:
    """Rating models (and an MLP trained with MSE) are judged by RMSE/MAE on the test ratings."""
    return model.task == "rating"


def run_experiment(
    spec: ExperimentSpec,
    data: PreparedData,
    *,
    callbacks: Sequence[Callable[[EpochRecord, Recommender], None]] = (),
    should_stop: Callable[[], bool] = lambda: False,
) -> ExperimentResult:
    """Train ``spec.model`` on ``data.train`` (validating on ``data.val`` each epoch when present), then
    evaluate on ``data.test`` with the full-ranking protocol (or RMSE/MAE for rating models)."""
    model = create(spec.model, device=spec.device, seed=spec.seed, precision=spec.precision, **spec.params)
    rating_eval = evaluates_ratings(model)
    if rating_eval and data.test.rating is None:
        raise ConfigError(
            f"{spec.model} is evaluated on test ratings, but the test data has none.",
            field="model",
            hint="Use a ranking model for implicit data.",
        )
    validate = None
    if data.val is not None and data.val.n_interactions:
        validate = validator(data.train, data.val, ks=spec.ks, rating=rating_eval)
    early = None
    if spec.early_stopping:
        if validate is None:
            raise ConfigError("early stopping needs a validation part.", field="early_stopping")
        lower_better = spec.early_stopping in ("rmse", "mae")
        early = EarlyStopping(spec.early_stopping, spec.patience, "min" if lower_better else "max")
    result = fit(
        model,
        data.train,
        epochs=spec.epochs,
        validate=validate,
        early_stopping=early,
        callbacks=callbacks,
        should_stop=should_stop,
    )
    protocol = EvalProtocol(
        ks=spec.ks,
        candidates=spec.candidates,  # type: ignore[arg-type]
        n_negatives=spec.n_negatives,
        relevance_threshold=spec.relevance_threshold,
        seed=spec.seed,
        data_fingerprint=data.fingerprint,
        split=data.description,
    )
    start = time.perf_counter()
    if rating_eval:
        rated = evaluate_ratings(model, data.train, data.test.to_frame())
        metrics, per_user = dict(rated.metrics), rated.per_user
        metrics["n_unknown"] = float(rated.n_unknown)
        evaluation = "rating"
    else:
        ev = evaluate(model, data.train, data.test, protocol, val=data.val, item_vectors=data.item_vectors)
        metrics, per_user = dict(ev.metrics), ev.per_user
        metrics["n_users_skipped"] = float(ev.n_skipped)
        evaluation = "ranking"
        if getattr(model, "predicts_ratings", False) and data.test.rating is not None:
            # e.g. an MLP trained with MSE: report its rating error too
            rated = evaluate_ratings(model, data.train, data.test.to_frame())
            metrics.update(rmse=rated.metrics["rmse"], mae=rated.metrics["mae"])
    return ExperimentResult(
        model=model,
        spec=spec,
        fit=result,
        metrics=metrics,
        protocol={**protocol.to_dict(), "label": protocol.label, "evaluation": evaluation},
        per_user=per_user,
        evaluation=evaluation,
        device=model.device,
        n_users=data.train.n_users,
        n_items=data.train.n_items,
        eval_seconds=time.perf_counter() - start,
    )


def recommendations_frame(model: Recommender, data: PreparedData, k: int = 10, *, batch: int = 2048) -> pd.DataFrame:
    """Top-``k`` of every user with training data, training items excluded: ``user, item, score, rank``."""
    users = np.flatnonzero(np.diff(data.train.to_csr().indptr) > 0)
    parts = []
    for lo in range(0, len(users), batch):
        ub = users[lo : lo + batch]
        items, scores = model.recommend(ub, k)
        valid = items >= 0
        rows = np.repeat(ub, items.shape[1]).reshape(items.shape)
        ranks = np.tile(np.arange(1, items.shape[1] + 1), (len(ub), 1))
        parts.append(
            pd.DataFrame(
                {
                    "user": data.users.to_ids(rows[valid]),
                    "item": data.items.to_ids(items[valid]),
                    "score": scores[valid].astype(np.float32),
                    "rank": ranks[valid],
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["user", "item", "score", "rank"])
    return pd.concat(parts, ignore_index=True)
