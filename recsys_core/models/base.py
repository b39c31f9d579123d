"""The one contract every model follows (scikit-learn-like construction, LensKit-like caller-owned training).

Lifecycle::

    model = create("ials", factors=64)          # hyperparameters validated against the schema
    model.prepare(train)                        # allocate state for this training data
    for epoch in range(1, model.n_epochs + 1):  # the caller owns the loop (see recsys_core.training.fit)
        losses = model.train_epoch(epoch, should_stop)   # dict of losses; may return early if should_stop()
    model.recommend(users, k=10)                # full ranking, training items excluded
    model.fold_in(items, ratings)               # scores for an edited / new history, no retraining
    model.explain(user, item)                   # which history items drove a recommendation
    model.save(folder); load_model(folder)      # safetensors + JSON, never pickle

Learned state lives in attributes ending in ``_``. Users and items are *indices* of the training data's
``IdIndex`` spaces (``Interactions.users`` / ``.items``).
"""

from __future__ import annotations

import contextlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
import torch

from recsys_core.device import resolve_device
from recsys_core.errors import ConfigError, DataError
from recsys_core.models.params import Param, validate_params
from recsys_core.ranking import mask_items, top_k

FORMAT_VERSION = 1
ShouldStop = Callable[[], bool]


def _never() -> bool:
    return False


def check_history(
    items: Any, ratings: Any, n_items: int, *, model: str, need_ratings: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate a fold-in history: item indices in range and, if given, one finite rating per item.

    Args:
        items: item indices (int array-like) in ``[0, n_items)``; repeats count as separate observations.
        ratings: one value per item (array-like) or None.
        n_items: size of the model's item space.
        model: model name for messages.
        need_ratings: raise :class:`ConfigError` when ``ratings`` is None.

    Returns:
        ``(items int64 (k,), ratings float32 (k,) or None)``.
    """
    arr = np.asarray(items).reshape(-1)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        as_float = np.asarray(arr, dtype=np.float64) if np.issubdtype(arr.dtype, np.number) else None
        if as_float is None or not np.all(np.isfinite(as_float)) or np.any(np.mod(as_float, 1) != 0):
            raise DataError(
                f"{model}: history items must be integer item indices", code="bad_history", hint="Map ids first"
            )
    idx = arr.astype(np.int64)
    bad = np.flatnonzero((idx < 0) | (idx >= n_items))
    if bad.size:
        raise DataError(
            f"{model}: {bad.size:,} history items are outside the model's {n_items:,} items",
            code="bad_history",
            rows=(bad[:5] + 1).tolist(),
            n_rows=int(bad.size),
            hint="Use item indices of the training data's item space",
            sample=[{"item": int(v)} for v in idx[bad[:5]]],
        )
    if ratings is None:
        if need_ratings:
            raise ConfigError(
                f"{model} folds in a user from explicit ratings; none were given.",
                field="ratings",
                hint="Pass one rating per history item.",
            )
        return idx, None
    vals = np.asarray(ratings, dtype=np.float64).reshape(-1)
    if vals.shape[0] != idx.shape[0]:
        raise DataError(
            f"{model}: {idx.shape[0]:,} history items but {vals.shape[0]:,} ratings",
            code="bad_history",
            hint="Give exactly one rating per item",
        )
    bad = np.flatnonzero(~np.isfinite(vals))
    if bad.size:
        raise DataError(
            f"{model}: {bad.size:,} history ratings are missing or not finite",
            code="bad_history",
            rows=(bad[:5] + 1).tolist(),
            n_rows=int(bad.size),
        )
    return idx, vals.astype(np.float32)


@dataclass(frozen=True)
class Contribution:
    """One history item's share in a recommendation's score (``weight``: larger = more influence)."""

    item: int
    weight: float


class Recommender(ABC):
    """Base class of every model. Subclasses set the class attributes and implement the abstract methods.

    Class attributes:
        name: public registry name (``"ease"``).
        description: one line for the model picker.
        schema: the hyperparameters (see :class:`~recsys_core.models.params.Param`).
        task: ``"ranking"`` (evaluated by top-K metrics) or ``"rating"`` (RMSE/MAE on test ratings; can rank too).
        needs_ratings: True when the model cannot train on implicit data.
        train_cpu_threads: intra-op threads for ``train_epoch`` on the CPU, or None for torch's setting.
            Minibatch SGD models set 1: their steps are many small kernels, and with the passive OpenMP wait
            that ``recsys_core`` sets, each multi-threaded kernel wakes sleeping threads (measured on 2 cores:
            biased_mf 2.4×, mlp 2×, bpr 1.2× slower per epoch on two threads than on one). A model may set
            it per instance when it depends on the data (``ials``: one thread below 200k interactions).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    schema: ClassVar[tuple[Param, ...]] = ()
    task: ClassVar[Literal["ranking", "rating"]] = "ranking"
    needs_ratings: ClassVar[bool] = False
    train_cpu_threads: int | None = None  # a model may set it per instance, from the data (see IALS)

    def __init__(self, *, device: str = "auto", seed: int = 42, precision: str = "fp32", **params: Any) -> None:
        self.params: dict[str, Any] = validate_params(self.schema, params, model=self.name)
        if precision not in ("fp32", "bf16"):
            raise ConfigError(f"precision must be fp32 or bf16; got {precision!r}.", field="precision")
        self.device_choice = device
        self.device = resolve_device(device)
        if precision == "bf16" and not self.device.startswith("cuda"):
            raise ConfigError("bf16 mixed precision needs a CUDA device.", field="precision", hint="Use fp32.")
        self.precision = precision
        self.seed = int(seed)
        self.n_users_: int = 0
        self.n_items_: int = 0
        self.train_: sp.csr_matrix | None = None

    # ------------------------------------------------------------------ training
    @property
    def n_epochs(self) -> int:
        """Epochs the model wants (``epochs`` or ``iterations`` hyperparameter; 1 for closed-form models)."""
        return int(self.params.get("epochs", self.params.get("iterations", 1)))

    def prepare(self, train: Any) -> None:
        """Take the training interactions (an :class:`~recsys_core.data.interactions.Interactions`) and
        initialise state. Seeds numpy and torch generators from ``seed`` for reproducible training."""
        if self.needs_ratings and train.rating is None:
            raise ConfigError(
                f"{self.name} learns from explicit ratings but this data has none.",
                field="model",
                hint="Pick a ranking model for implicit feedback, or load data with a rating column.",
            )
        self.n_users_, self.n_items_ = int(train.n_users), int(train.n_items)
        self.train_ = train.to_csr("rating").astype(np.float32)
        self.rng_ = np.random.default_rng(self.seed)
        self.torch_gen_ = torch.Generator(device="cpu").manual_seed(self.seed)
        torch.manual_seed(self.seed)
        self._prepare(train)

    @abstractmethod
    def _prepare(self, train: Any) -> None:
        """Allocate and initialise learned state for ``train``."""

    @abstractmethod
    def train_epoch(self, epoch: int, should_stop: ShouldStop = _never) -> dict[str, float]:
        """Run one epoch (1-based) and return its losses, e.g. ``{"loss": 0.41}``.

        Iterative models check ``should_stop()`` between batches and return early when it is True.
        Closed-form models do all their work in epoch 1.
        """

    # ------------------------------------------------------------------ inference
    @abstractmethod
    def score(self, users: np.ndarray) -> torch.Tensor:
        """Scores of every item for ``users`` (int array of user indices): (len(users), n_items) float32."""

    def recommend(self, users: np.ndarray, k: int = 10, *, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item indices and scores per user, best first, ties by lower item index.

        With ``exclude_seen`` the user's training items are never recommended; a user with fewer than ``k``
        unseen items gets ``-1`` padding (score ``-inf``).
        """
        users = np.asarray(users, dtype=np.int64)
        scores = self.score(users).float()
        if exclude_seen:
            mask_items(scores, self._train()[users])
        idx, vals = top_k(scores, k)
        idx, vals = idx.cpu().numpy(), vals.cpu().numpy()
        idx[~np.isfinite(vals)] = -1
        return idx, vals

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predicted score (rating for rating models) of each (user, item) pair: float32 (len(users),)."""
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        out = np.empty(len(users), dtype=np.float32)
        uniq, inverse = np.unique(users, return_inverse=True)
        for start in range(0, len(uniq), 1024):
            block = uniq[start : start + 1024]
            s = self.score(block).float().cpu().numpy()
            sel = (inverse >= start) & (inverse < start + len(block))
            out[sel] = s[inverse[sel] - start, items[sel]]
        return out

    @abstractmethod
    def fold_in(self, items: np.ndarray, ratings: np.ndarray | None = None) -> np.ndarray:
        """Scores of every item for a user whose history is ``items`` (with ``ratings``), without retraining.

        Used for what-if edits and brand-new users. Returns float32 (n_items,); the caller excludes the
        history items from the ranking if it wants to.
        """

    def explain(self, user: int, item: int, top: int = 5) -> list[Contribution]:
        """The training-history items of ``user`` that contributed most to ``item``'s score, largest first.

        Default: similarity-based — cosine similarity between the item's and each history item's rows of
        :meth:`item_vectors`. Neighbourhood and linear models override with their exact contributions.
        """
        history = self._train()[user].indices
        if history.size == 0:
            return []
        vectors = self.item_vectors()
        target = vectors[item]
        hist = vectors[torch.as_tensor(history, dtype=torch.int64, device=vectors.device)]
        sims = torch.nn.functional.cosine_similarity(hist, target.unsqueeze(0), dim=1).float().cpu().numpy()
        order = np.lexsort((history, -sims))[:top]
        return [Contribution(int(history[i]), float(sims[i])) for i in order]

    def item_vectors(self) -> torch.Tensor:
        """(n_items, d) item representations for similarity (similar items, default explanations)."""
        raise ConfigError(f"{self.name} has no item vectors.", field="model")

    def similar_items(self, item: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items most similar to ``item`` (cosine of :meth:`item_vectors`), excluding itself."""
        v = torch.nn.functional.normalize(self.item_vectors().float(), dim=1)
        sims = (v @ v[item]).unsqueeze(0)
        sims[0, item] = -torch.inf
        idx, vals = top_k(sims, k)
        return idx[0].cpu().numpy(), vals[0].cpu().numpy()

    # ------------------------------------------------------------------ persistence
    @abstractmethod
    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Learned state as named tensors (what :meth:`save` writes)."""

    @abstractmethod
    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore learned state written by :meth:`state_tensors` (tensors arrive on the CPU)."""

    def config(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "model": self.name,
            "params": self.params,
            "seed": self.seed,
            "precision": self.precision,
            "n_users": self.n_users_,
            "n_items": self.n_items_,
        }

    def save(self, folder: str | Path) -> Path:
        """Write ``model.safetensors`` (learned tensors + the training matrix) and ``model.json``."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        train = self._train()
        tensors = {f"state.{k}": v.detach().to("cpu").contiguous() for k, v in self.state_tensors().items()}
        tensors["train.indptr"] = torch.from_numpy(train.indptr.astype(np.int64))
        tensors["train.indices"] = torch.from_numpy(train.indices.astype(np.int64))
        tensors["train.data"] = torch.from_numpy(train.data.astype(np.float32))
        save_file(tensors, str(folder / "model.safetensors"))
        (folder / "model.json").write_text(json.dumps(self.config(), indent=2))
        return folder

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bf16 autocast on this model's device when ``precision="bf16"``, else nothing.

        Users get bf16 on CUDA only (``__init__`` refuses it elsewhere). The context names the device's own
        type, so the same code path runs under CPU autocast in the tests that check the bf16 paths without a GPU.
        """
        if self.precision != "bf16":
            return contextlib.nullcontext()
        return torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16)

    def _train(self) -> sp.csr_matrix:
        if self.train_ is None:
            raise ConfigError(f"{self.name} is not trained yet.", field="model", hint="Call prepare/fit first.")
        return self.train_

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({params})"


def load_model(folder: str | Path, *, device: str = "auto") -> Recommender:
    """Load a model saved by :meth:`Recommender.save` (weights only; nothing is unpickled)."""
    from safetensors.torch import load_file

    from recsys_core.models.registry import create

    folder = Path(folder)
    config = json.loads((folder / "model.json").read_text())
    model = create(config["model"], device=device, seed=config["seed"], **config["params"])
    tensors = load_file(str(folder / "model.safetensors"))
    model.n_users_, model.n_items_ = int(config["n_users"]), int(config["n_items"])
    model.train_ = sp.csr_matrix(
        (tensors["train.data"].numpy(), tensors["train.indices"].numpy(), tensors["train.indptr"].numpy()),
        shape=(model.n_users_, model.n_items_),
    )
    model.load_state_tensors({k[len("state.") :]: v for k, v in tensors.items() if k.startswith("state.")})
    return model
