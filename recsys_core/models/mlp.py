"""A multilayer perceptron over user and item embeddings (the "NCF MLP" of He et al. 2017; the source
article's own example).

The network (:class:`MLPNet`, a plain ``nn.Module``) concatenates a user and an item embedding and feeds them
through ``layers`` ReLU layers whose widths halve from ``hidden`` (64 → 32 → …), then one linear output.
The system (:class:`MLPRecommender`) owns training, scoring and persistence, Lightning style.

Two objectives, chosen by ``loss``:

- ``mse`` — regression on explicit ratings: ``r̂ = μ + net(u, i)``; :meth:`MLPRecommender.predict` returns
  ratings clipped to the training range, like a rating model.
- ``bce`` — implicit feedback: every training interaction is a positive, against ``negatives`` items per
  positive drawn uniformly at random (a drawn item may occasionally be a positive of the same user; at a
  density of a few percent that noise is negligible and avoids a per-user rejection loop); the output is a
  logit and ``predict`` returns the probability of an interaction.
- ``auto`` (default) — ``mse`` when the training data has ratings, else ``bce``.

Regularisation: ``reg`` puts an L2 penalty on the embeddings of every scored pair (averaged like the loss) and
``weight_decay`` is AdamW's decoupled decay of the layers. Without the latter the layers memorise ratings and
the test RMSE on ML-100K climbs from 0.93 to above 1.0 between epochs 8 and 20. With the defaults (20 epochs)
ML-100K's random 80/20 rating split gives RMSE 0.930 (best epoch 0.921), and the per-user 80/20 top-N split
with ``bce`` gives NDCG@10 0.336; trained with ``mse`` the same model ranks badly (NDCG@10 < 0.01), as rating
predictors do under full ranking.

The registry ``task`` stays ``"ranking"`` (the class can rank either way); :attr:`MLPRecommender.predicts_ratings`
says whether a trained instance predicts ratings (``mse``), so callers can add RMSE/MAE to its evaluation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from recsys_core.errors import ConfigError
from recsys_core.models.base import Recommender, ShouldStop, _never, check_history
from recsys_core.models.mf import check_pairs
from recsys_core.models.params import Param
from recsys_core.models.registry import register

# Standard deviation of the initial embeddings.
_EMBEDDING_STD = 0.1
# Largest (users × items × width) block one scoring step materialises, bounding score()'s temporary memory
# whatever the catalogue size: 2**20 float32 (4 MB per intermediate) stays in the CPU caches and measured
# fastest there; a GPU wants big blocks (fewer launches), 2**26 (256 MB) is small next to its memory.
_SCORE_BLOCK_ELEMENTS = 2**20
_SCORE_BLOCK_ELEMENTS_CUDA = 2**26
# fold_in: Adam steps on a fresh user embedding, their step size, and an L2 pull towards the mean user
# embedding (the starting point) so that a short history cannot push the vector far out of the training range.
_FOLD_IN_STEPS = 100
_FOLD_IN_LR = 0.05
_FOLD_IN_L2 = 1e-3


def _dropout(x: torch.Tensor, p: float, generator: torch.Generator | None) -> torch.Tensor:
    """Inverted dropout drawing its mask from ``generator``, so training does not depend on torch's global RNG."""
    if p <= 0.0:
        return x
    keep = torch.rand(x.shape, generator=generator, device=x.device, dtype=torch.float32) >= p
    return x * keep.to(x.dtype) / (1.0 - p)


class MLPNet(nn.Module):
    """User and item embeddings, concatenated, through ReLU layers of halving width to one output.

    Args:
        n_users / n_items: sizes of the embedding tables.
        factors: embedding size ``d`` of each side (the first layer sees ``2d`` inputs).
        hidden: width of the first hidden layer; layer ``k`` has ``max(1, hidden // 2**k)`` units.
        layers: number of hidden layers (≥ 1).
        dropout: probability of zeroing a unit after each hidden layer during training.
    """

    def __init__(self, n_users: int, n_items: int, factors: int, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.user_embedding = nn.Embedding(n_users, factors)
        self.item_embedding = nn.Embedding(n_items, factors)
        widths = [max(1, hidden // 2**k) for k in range(layers)]
        self.hidden_layers = nn.ModuleList(
            nn.Linear(w_in, w_out) for w_in, w_out in zip([2 * factors, *widths[:-1]], widths)
        )
        self.output = nn.Linear(widths[-1], 1)
        self.dropout = float(dropout)
        self.factors = int(factors)

    def reset_parameters(self, generator: torch.Generator) -> None:
        """Seeded initialisation: embeddings N(0, 0.1²), linear layers PyTorch's default (Kaiming uniform)."""
        with torch.no_grad():
            for emb in (self.user_embedding, self.item_embedding):
                nn.init.normal_(emb.weight, 0.0, _EMBEDDING_STD, generator=generator)
            for layer in (*self.hidden_layers, self.output):
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
                bound = 1.0 / math.sqrt(layer.weight.shape[1])
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)

    def tower(self, first: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Everything after the first layer's affine map: ``first`` (…, hidden) pre-activations → (…) outputs."""
        x = first
        for k, layer in enumerate(self.hidden_layers):
            if k:
                x = layer(x)
            x = torch.relu(x)
            if self.training:
                x = _dropout(x, self.dropout, generator)
        return self.output(x).squeeze(-1)

    def forward_vectors(
        self, user_vecs: torch.Tensor, item_vecs: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Outputs for paired embedding rows: (B, d), (B, d) → (B,)."""
        return self.tower(self.hidden_layers[0](torch.cat([user_vecs, item_vecs], dim=-1)), generator)

    def forward(
        self, users: torch.Tensor, items: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Outputs for (user, item) index pairs: int64 (B,), (B,) → float (B,)."""
        return self.forward_vectors(self.user_embedding(users), self.item_embedding(items), generator)

    def item_part(self) -> torch.Tensor:
        """The items' share of the first layer, ``W_item · e_i + b``: (n_items, hidden). Scoring reuses it."""
        first = self.hidden_layers[0]
        d = self.factors
        return self.item_embedding.weight @ first.weight[:, d:].T + first.bias

    def score_block(self, user_vecs: torch.Tensor, item_part: torch.Tensor) -> torch.Tensor:
        """Outputs for every (user, item) combination: (b, d) user vectors × :meth:`item_part` → (b, n_items).

        The first layer is split as ``W [e_u; e_i] = W_user e_u + (W_item e_i + b)`` so each side is computed
        once and the (b, n_items, hidden) block is a broadcast sum.
        """
        first = self.hidden_layers[0]
        user_part = user_vecs @ first.weight[:, : self.factors].T
        return self.tower(user_part[:, None, :] + item_part[None, :, :])


@register
class MLPRecommender(Recommender):
    """Embeddings + MLP, trained with MSE on ratings or BCE against sampled negatives (see module docs).

    Hyperparameters (defaults chosen on ML-100K for both objectives; see the module docs):
    ``factors`` (32, embedding size), ``hidden`` (64, first hidden width), ``layers`` (2, widths halve),
    ``dropout`` (0.0; it cost accuracy and time here, the L2 terms regularise better), ``reg`` (0.1, L2 on the
    embeddings of every scored pair, averaged like the loss), ``weight_decay`` (1.0, AdamW's decoupled decay of
    the layers: without it the layers memorise ratings and test RMSE rises after ~8 epochs), ``epochs`` (20),
    ``lr`` (AdamW, 3e-3), ``batch_size`` (1024 ratings or positives per step; a ``bce`` step scores
    ``batch_size · (1 + negatives)`` pairs), ``negatives`` (4 per positive, ``bce`` only), ``loss``
    (``auto``/``mse``/``bce``).

    Learned state: ``net_`` (:class:`MLPNet` on ``device``), ``objective_`` (``"mse"`` or ``"bce"``), and for
    ``mse`` the training mean ``offset_`` and ``rating_range_`` used to clip :meth:`predict`.
    """

    name = "mlp"
    description = "MLP over concatenated user and item embeddings (NCF-style); MSE on ratings or BCE on clicks"
    task = "ranking"
    needs_ratings = False
    train_cpu_threads = 1  # small layers, many small kernels per step: one thread is faster (see Recommender)
    schema = (
        Param("factors", "int", 32, "Embedding size of users and of items", low=1, high=1024),
        Param("hidden", "int", 64, "Width of the first hidden layer (each further layer halves it)", low=1, high=4096),
        Param("layers", "int", 2, "Number of hidden layers", low=1, high=8),
        Param("dropout", "float", 0.0, "Dropout probability after each hidden layer", low=0.0, high=0.9),
        Param("reg", "float", 0.1, "L2 weight on the embeddings of each scored pair", low=0.0, high=10.0),
        Param("weight_decay", "float", 1.0, "Decoupled weight decay of the hidden layers (AdamW)", low=0.0, high=100.0),
        Param("epochs", "int", 20, "Passes over the training interactions", low=1, high=1000),
        Param("lr", "float", 3e-3, "AdamW learning rate", low=1e-5, high=1.0, log=True),
        Param("batch_size", "int", 1024, "Ratings or positives per step", low=1, high=1_048_576, log=True),
        Param("negatives", "int", 4, "Sampled negative items per positive (bce only)", low=1, high=100),
        Param(
            "loss",
            "choice",
            "auto",
            "mse on ratings, bce on implicit data; auto picks by data",
            choices=("auto", "mse", "bce"),
        ),
    )

    def __init__(self, *, device: str = "auto", seed: int = 42, precision: str = "fp32", **params: Any) -> None:
        super().__init__(device=device, seed=seed, precision=precision, **params)
        self.net_: MLPNet | None = None
        self.objective_: str = "mse" if self.params["loss"] == "mse" else "bce"
        self.offset_: float = 0.0
        self.rating_range_: tuple[float, float] = (-math.inf, math.inf)

    @property
    def predicts_ratings(self) -> bool:
        """True when trained with ``mse``: :meth:`predict` then returns ratings (evaluate RMSE/MAE too)."""
        return self.objective_ == "mse"

    def _new_net(self, n_users: int, n_items: int) -> MLPNet:
        p = self.params
        return MLPNet(n_users, n_items, p["factors"], p["hidden"], p["layers"], p["dropout"])

    # ------------------------------------------------------------------ training
    def _prepare(self, train: Any) -> None:
        loss = self.params["loss"]
        if loss == "auto":
            loss = "mse" if train.rating is not None else "bce"
        if loss == "mse" and train.rating is None:
            raise ConfigError(
                "mlp with loss=mse learns from ratings but this data has none.",
                field="loss",
                hint="Use loss=bce (or auto) for implicit feedback.",
            )
        self.objective_ = loss
        dev = self.device
        self._users = torch.from_numpy(train.user_idx.astype(np.int64)).to(dev)
        self._items = torch.from_numpy(train.item_idx.astype(np.int64)).to(dev)
        if loss == "mse":
            rating = np.asarray(train.rating, dtype=np.float32)
            self.offset_ = float(rating.astype(np.float64).mean()) if rating.size else 0.0
            self.rating_range_ = (float(rating.min()), float(rating.max())) if rating.size else (0.0, 0.0)
            self._targets = torch.from_numpy(rating - np.float32(self.offset_)).to(dev)
        else:
            self.offset_ = 0.0
            self.rating_range_ = (0.0, 1.0)
            self._targets = torch.ones(self._users.shape[0], device=dev)
        net = self._new_net(self.n_users_, self.n_items_)
        net.reset_parameters(self.torch_gen_)  # on the CPU: the same start on every device
        self.net_ = net.to(dev)
        # Embeddings get the per-pair L2 ``reg`` in the loss; the layers get AdamW's decoupled weight decay.
        net_ = self.net_
        embeddings = [net_.user_embedding.weight, net_.item_embedding.weight]
        layers = [p for name, p in net_.named_parameters() if not name.endswith("embedding.weight")]
        self._optimizer = torch.optim.AdamW(
            [
                {"params": embeddings, "weight_decay": 0.0},
                {"params": layers, "weight_decay": float(self.params["weight_decay"])},
            ],
            lr=float(self.params["lr"]),
        )
        # Shuffles, negatives and dropout masks come from one generator on the training device.
        self._gen = torch.Generator(device=dev).manual_seed(self.seed)

    def train_epoch(self, epoch: int, should_stop: ShouldStop = _never) -> dict[str, float]:
        """One shuffled pass with Adam. Returns ``{"loss": mean training loss}`` (MSE in rating units², or
        BCE per scored pair), averaged over the batches done (dropout on, as trained)."""
        net = self._net()
        net.train()
        n = self._users.shape[0]
        bs = int(self.params["batch_size"])
        neg = int(self.params["negatives"])
        bce = self.objective_ == "bce"
        reg = float(self.params["reg"])
        perm = torch.randperm(n, generator=self._gen, device=self.device)
        users, items, targets = self._users[perm], self._items[perm], self._targets[perm]
        total = torch.zeros((), device=self.device)
        seen = 0
        for start in range(0, n, bs):
            if start and should_stop():
                break
            u, i, y = users[start : start + bs], items[start : start + bs], targets[start : start + bs]
            b = u.shape[0]
            if bce:
                sampled = torch.randint(self.n_items_, (b * neg,), generator=self._gen, device=self.device)
                u = u.repeat(neg + 1)
                i = torch.cat([i, sampled])
                y = torch.cat([y, torch.zeros(b * neg, device=self.device)])
            uv, iv = net.user_embedding(u), net.item_embedding(i)
            with self._autocast():
                out = net.forward_vectors(uv, iv, self._gen).float()
            if bce:
                loss = nn.functional.binary_cross_entropy_with_logits(out, y)
            else:
                loss = nn.functional.mse_loss(out, y)
            self._optimizer.zero_grad(set_to_none=True)
            if reg > 0:
                penalty = reg * (uv.square().sum() + iv.square().sum()) / y.shape[0]
                (loss + penalty).backward()
            else:
                loss.backward()
            self._optimizer.step()
            total += loss.detach() * y.shape[0]
            seen += y.shape[0]
        net.eval()
        return {"loss": float(total) / max(seen, 1)}

    # ------------------------------------------------------------------ inference
    def _net(self) -> MLPNet:
        if self.net_ is None:
            raise ConfigError(f"{self.name} is not trained yet.", field="model", hint="Call prepare/fit first.")
        return self.net_

    def _score_vectors(self, user_vecs: torch.Tensor) -> torch.Tensor:
        """Outputs (+ offset) of every item for user embedding rows (b, d): float32 (b, n_items), in blocks."""
        net = self._net()
        net.eval()
        out = torch.empty(user_vecs.shape[0], self.n_items_, device=self.device)
        with torch.no_grad(), self._autocast():
            item_part = net.item_part()
            per_user = max(1, self.n_items_ * int(self.params["hidden"]))
            budget = _SCORE_BLOCK_ELEMENTS_CUDA if self.device.startswith("cuda") else _SCORE_BLOCK_ELEMENTS
            step = max(1, budget // per_user)
            for start in range(0, user_vecs.shape[0], step):
                block = user_vecs[start : start + step]
                out[start : start + block.shape[0]] = net.score_block(block, item_part).float()
        return out + self.offset_

    def score(self, users: np.ndarray) -> torch.Tensor:
        """Predicted ratings (``mse``, unclipped) or logits (``bce``) of every item: float32 (len(users), n_items).

        Evaluated in blocks of users so the (users × items × hidden) activations stay under a fixed size.
        """
        net = self._net()
        idx = torch.as_tensor(np.asarray(users, dtype=np.int64), device=self.device)
        return self._score_vectors(net.user_embedding.weight.index_select(0, idx))

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Ratings clipped to the training range (``mse``) or interaction probabilities (``bce``): float32 (n,).

        An index of ``-1`` (an id unknown to the model) stands for the mean embedding of its side.
        """
        net = self._net()
        net.eval()
        u_np, i_np = check_pairs(users, items, self.n_users_, self.n_items_, model=self.name)
        u = torch.as_tensor(u_np, device=self.device)
        i = torch.as_tensor(i_np, device=self.device)
        with torch.no_grad():
            uw, iw = net.user_embedding.weight, net.item_embedding.weight
            uv = torch.where((u >= 0)[:, None], uw.index_select(0, u.clamp(min=0)), uw.mean(0))
            iv = torch.where((i >= 0)[:, None], iw.index_select(0, i.clamp(min=0)), iw.mean(0))
            with self._autocast():
                out = net.forward_vectors(uv, iv).float()
            if self.objective_ == "bce":
                out = torch.sigmoid(out)
            else:
                low, high = self.rating_range_
                out = (out + self.offset_).clamp(low, high)
        return out.cpu().numpy().astype(np.float32)

    def fold_in(self, items: np.ndarray, ratings: np.ndarray | None = None) -> np.ndarray:
        """Scores (as :meth:`score`) of every item for a user with this history, the network fixed.

        A fresh user embedding starts at the mean user embedding and takes ``100`` full-batch Adam steps
        (step 0.05, a small L2 pull to the start): on the ratings (``mse``; ratings required) or on the
        history items as positives against a seeded sample of ``negatives`` non-history items each (``bce``).
        Deterministic for a given model seed. An empty history scores the mean user.

        Returns:
            float32 (n_items,).
        """
        net = self._net()
        net.eval()
        mse = self.objective_ == "mse"
        idx, vals = check_history(items, ratings, self.n_items_, model=self.name, need_ratings=mse)
        dev = self.device
        start = net.user_embedding.weight.detach().mean(0)
        vec = start.clone().requires_grad_(True)
        if idx.size:
            if mse:
                assert vals is not None
                item_idx = torch.as_tensor(idx, device=dev)
                target = torch.as_tensor(vals - np.float32(self.offset_), device=dev)
            else:
                # negatives: a seeded draw among the items outside the history
                rng = np.random.default_rng(self.seed)
                pool = np.setdiff1d(np.arange(self.n_items_), idx)
                n_neg = min(pool.size, idx.size * int(self.params["negatives"]))
                negs = rng.choice(pool, size=n_neg, replace=False) if n_neg else np.zeros(0, np.int64)
                item_idx = torch.as_tensor(np.concatenate([idx, negs]).astype(np.int64), device=dev)
                target = torch.cat([torch.ones(idx.size, device=dev), torch.zeros(n_neg, device=dev)])
            item_vecs = net.item_embedding.weight.detach().index_select(0, item_idx)
            for p in net.parameters():
                p.requires_grad_(False)
            # callers may score under torch.no_grad() (the evaluation protocol does): optimise with grad on
            with torch.enable_grad():
                try:
                    opt = torch.optim.Adam([vec], lr=_FOLD_IN_LR)
                    for _ in range(_FOLD_IN_STEPS):
                        out = net.forward_vectors(vec.expand(item_vecs.shape[0], -1), item_vecs)
                        if mse:
                            loss = nn.functional.mse_loss(out, target)
                        else:
                            loss = nn.functional.binary_cross_entropy_with_logits(out, target)
                        loss = loss + _FOLD_IN_L2 * (vec - start).square().sum()
                        opt.zero_grad(set_to_none=True)
                        loss.backward()
                        opt.step()
                finally:
                    for p in net.parameters():
                        p.requires_grad_(True)
        return self._score_vectors(vec.detach()[None, :])[0].cpu().numpy().astype(np.float32)

    def item_vectors(self) -> torch.Tensor:
        """The item embeddings: float32 (n_items, factors)."""
        return self._net().item_embedding.weight.detach()

    # ------------------------------------------------------------------ persistence
    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The network's parameters under ``net.<name>``, plus ``objective`` ((1,) int: 1 = mse, 0 = bce),
        ``offset`` ((1,) float64) and ``rating_range`` ((2,) float64)."""
        net = self._net()
        out = {f"net.{k}": v.detach() for k, v in net.state_dict().items()}
        out["objective"] = torch.tensor([1 if self.objective_ == "mse" else 0], dtype=torch.int64)
        out["offset"] = torch.tensor([self.offset_], dtype=torch.float64)
        out["rating_range"] = torch.tensor(self.rating_range_, dtype=torch.float64)
        return out

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore what :meth:`state_tensors` wrote (tensors on any device; moved to ``self.device``)."""
        weights = {k[len("net.") :]: v for k, v in tensors.items() if k.startswith("net.")}
        n_users = int(weights["user_embedding.weight"].shape[0])
        n_items = int(weights["item_embedding.weight"].shape[0])
        if self.net_ is None or self.net_.user_embedding.weight.shape[0] != n_users:
            self.net_ = self._new_net(n_users, n_items).to(self.device)
        self.net_.load_state_dict({k: v.to(self.device) for k, v in weights.items()})
        self.net_.eval()
        self.objective_ = "mse" if int(tensors["objective"].reshape(-1)[0]) == 1 else "bce"
        self.offset_ = float(tensors["offset"].reshape(-1)[0])
        low, high = tensors["rating_range"].reshape(-1).tolist()
        self.rating_range_ = (float(low), float(high))
        self.n_users_, self.n_items_ = n_users, n_items
