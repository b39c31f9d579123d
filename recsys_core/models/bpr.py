"""Bayesian personalised ranking (BPR; Rendle et al. 2009) with minibatch Adam and hand-written gradients.

Each epoch visits every training interaction ``(u, i)`` once, in a seeded random order, pairs it with an item
``j`` drawn uniformly among the items ``u`` has *not* interacted with (a draw that hits a positive is redrawn,
checked in a packed bitmap of the positives, or by binary search in their sorted ``u·n_items + i`` keys when the
bitmap would be too large; after a few rounds the rare leftovers are left out of the step), and minimises per
sample::

    softplus(-(x_u · (y_i - y_j) + b_i - b_j))  +  reg/2 · (‖x_u‖² + ‖y_i‖² + ‖y_j‖² + b_i² + b_j²)

The gradients are computed in closed form and scattered into one flat gradient buffer with ``index_add_``;
one fused Adam update then moves all parameters (users, items, item biases) in a single pass. This
keeps an epoch to a few dozen kernel launches per minibatch, with no autograd graph and no Python per sample.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from recsys_core.models.als import validate_history
from recsys_core.models.base import Recommender, ShouldStop, _never
from recsys_core.models.params import Param
from recsys_core.models.registry import register

_BITMAP_MAX_CELLS = 2**30  # users × items up to which positives are also kept as a bitmap (≤ 128 MiB)
_NEGATIVE_REDRAWS = 8  # rounds of redrawing negatives that hit a positive (leftover share ≈ density^9)
# Cells (samples × factors) per gradient chunk on the CPU: 4096 samples at 64 factors, 1 MiB of float32 per work
# buffer, so the chunk's intermediates stay in a core's L2 cache (measured best of 1024-8192 samples at f=64).
_CPU_CHUNK_CELLS = 1 << 18
_ADAM_BETAS = (0.9, 0.999)
_ADAM_EPS = 1e-8
# Largest (positives × negatives) score matrix a fold-in builds; beyond it the negatives are subsampled.
_FOLD_IN_PAIRS = 4_000_000
_FOLD_IN_NEWTON_STEPS = 30


class _FlatAdam:
    """Adam (Kingma & Ba) over one flat parameter vector whose gradient buffer the caller fills.

    Uses torch's fused kernel (one pass over parameters, gradient and both moments) where this torch has one
    for the device, called directly: ``torch.optim.Adam(fused=True).step`` costs ~0.2 ms of Python per call,
    as much as the kernel itself at ML-latest-small size. Elsewhere the same arithmetic in plain tensor ops.
    """

    def __init__(self, param: torch.Tensor, grad: torch.Tensor, lr: float) -> None:
        self.param, self.grad, self.lr = param, grad, lr
        self.m = torch.zeros_like(param)
        self.v = torch.zeros_like(param)
        self.step_count = torch.zeros((), dtype=torch.float32, device=param.device)
        self.fused = hasattr(torch, "_fused_adam_") and param.device.type in ("cpu", "cuda")
        self._denom: torch.Tensor | None = None

    def step(self) -> None:
        b1, b2 = _ADAM_BETAS
        self.step_count += 1
        if self.fused:
            torch._fused_adam_(
                [self.param], [self.grad], [self.m], [self.v], [], [self.step_count],
                lr=self.lr, beta1=b1, beta2=b2, weight_decay=0.0, eps=_ADAM_EPS, amsgrad=False, maximize=False,
            )  # fmt: skip
            return
        t = float(self.step_count)
        self.m.lerp_(self.grad, 1.0 - b1)
        self.v.mul_(b2).addcmul_(self.grad, self.grad, value=1.0 - b2)
        if self._denom is None:
            self._denom = torch.empty_like(self.param)
        torch.sqrt(self.v, out=self._denom).div_(math.sqrt(1.0 - b2**t)).add_(_ADAM_EPS)
        self.param.addcdiv_(self.m, self._denom, value=-self.lr / (1.0 - b1**t))


@register
class BPR(Recommender):
    """Matrix factorisation with item biases trained by the BPR pairwise loss (minibatch Adam).

    Learned state: ``user_factors_`` (n_users, factors), ``item_factors_`` (n_items, factors) and
    ``item_bias_`` (n_items,), float32 on ``self.device``; ``score = x_u · y_i + b_i``. Every stored
    interaction with a value > 0 is a positive (ratings are not used as weights). Deterministic on the CPU for a
    given seed: the initial factors (normal with std 0.1/√factors, biases 0), the sample order and the
    negatives come from generators seeded with ``seed``.
    """

    name = "bpr"
    description = "BPR matrix factorisation: learns to rank each user's items above random unseen ones."
    schema = (
        Param("factors", "int", 128, "Length of the user and item vectors.", low=1, high=1024, log=True),
        Param("epochs", "int", 100, "Passes over all training interactions.", low=1, high=2000),
        Param("lr", "float", 0.005, "Adam learning rate.", low=1e-5, high=1.0, log=True),
        Param(
            "reg",
            "float",
            0.01,
            "L2 penalty on the vectors and biases each sample touches.",
            low=1e-6,
            high=10.0,
            log=True,
        ),
        Param(
            "batch_size",
            "int",
            16384,
            "Samples (user, positive, negative) per Adam step; larger is faster per epoch.",
            low=64,
            high=1_048_576,
            log=True,
        ),
    )
    task = "ranking"
    needs_ratings = False
    train_cpu_threads = 1  # many small kernels per step: one thread is faster (see Recommender)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.user_factors_: torch.Tensor | None = None
        self.item_factors_: torch.Tensor | None = None
        self.item_bias_: torch.Tensor | None = None
        self._flat: torch.Tensor | None = None
        self._buf: dict[str, torch.Tensor] | None = None

    # ------------------------------------------------------------------ training
    def _prepare(self, train: Any) -> None:
        f = int(self.params["factors"])
        n_u, n_i = self.n_users_, self.n_items_
        csr = self._train()
        pos = csr.data > 0
        rows = np.repeat(np.arange(n_u, dtype=np.int64), np.diff(csr.indptr))[pos]
        cols = csr.indices.astype(np.int64)[pos]
        dev = self.device
        self._pos_user = torch.from_numpy(rows).to(dev)
        self._pos_item = torch.from_numpy(cols).to(dev)
        # CSR order is sorted by (user, item), so the keys are sorted already: searchsorted needs no sort.
        self._pos_keys = self._pos_user * n_i + self._pos_item
        # A packed bit per (user, item) cell makes the "is it a positive?" check one gather instead of a
        # binary search (about 30× faster); only when the bitmap is small enough, else searchsorted.
        self._pos_bits: torch.Tensor | None = None
        if n_u * n_i <= _BITMAP_MAX_CELLS:
            keys = rows * n_i + cols
            bits = np.zeros((n_u * n_i + 7) // 8, dtype=np.uint8)
            np.bitwise_or.at(bits, keys >> 3, (1 << (keys & 7)).astype(np.uint8))
            self._pos_bits = torch.from_numpy(bits).to(dev)
        # One flat parameter vector (users | items | item biases) so Adam is a few whole-buffer kernels.
        n_params = (n_u + n_i) * f + n_i
        init = torch.randn(n_params, generator=self.torch_gen_) * (0.1 / math.sqrt(f))
        init[(n_u + n_i) * f :] = 0.0
        self._flat = init.to(dev)
        self._grad = torch.zeros_like(self._flat)
        self._opt = _FlatAdam(self._flat, self._grad, float(self.params["lr"]))
        self._buf: dict[str, torch.Tensor] | None = None  # work buffers, sized on first use
        self._bind_views()
        # Sampling stream on the model's device (a CUDA generator for CUDA), seeded: same seed, same run.
        self._gen = torch.Generator(device=dev).manual_seed(self.seed)

    def _bind_views(self) -> None:
        assert self._flat is not None
        f = int(self.params["factors"])
        n_u, n_i = self.n_users_, self.n_items_
        self.user_factors_ = self._flat[: n_u * f].view(n_u, f)
        self.item_factors_ = self._flat[n_u * f : (n_u + n_i) * f].view(n_i, f)
        self.item_bias_ = self._flat[(n_u + n_i) * f :]

    def _not_positive(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """True where ``(users[k], items[k])`` is not a training positive (bitmap lookup or binary search)."""
        q = users * self.n_items_ + items
        if self._pos_bits is not None:
            byte = self._pos_bits.index_select(0, q >> 3).to(torch.int64)
            return ((byte >> (q & 7)) & 1) == 0
        keys = self._pos_keys
        at = torch.searchsorted(keys, q).clamp_max(keys.numel() - 1)
        return keys.index_select(0, at) != q

    def _negatives(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Uniform items for ``users`` that are not their positives, and a validity mask (bool).

        Draws that hit a positive are redrawn up to ``_NEGATIVE_REDRAWS`` times; the mask is False for the
        (very rare) samples still hitting one afterwards.
        """
        neg = torch.randint(0, self.n_items_, users.shape, generator=self._gen, device=users.device)
        if self._pos_keys.numel() == 0:
            return neg, torch.ones_like(users, dtype=torch.bool)
        ok = self._not_positive(users, neg)
        for _ in range(_NEGATIVE_REDRAWS):
            bad = (~ok).nonzero().squeeze(1)
            if bad.numel() == 0:
                break
            neg[bad] = torch.randint(0, self.n_items_, bad.shape, generator=self._gen, device=users.device)
            ok[bad] = self._not_positive(users[bad], neg[bad])
        return neg, ok

    def train_epoch(self, epoch: int, should_stop: ShouldStop = _never) -> dict[str, float]:
        """One pass over every positive in a random order, ``batch_size`` samples per Adam step.

        Checks ``should_stop()`` between minibatches. Returns ``{"loss": mean BPR loss of the epoch's samples}``
        (the softplus term only, without the L2 penalty).
        """
        if self._flat is None:
            self._train()
            raise AssertionError("unreachable")
        n = int(self._pos_user.numel())
        if n == 0:
            return {"loss": float("nan")}
        bs = int(self.params["batch_size"])
        order = torch.randperm(n, generator=self._gen, device=self.device)
        users_all = self._pos_user.index_select(0, order)  # ~4× faster than ``t[order]`` on the CPU
        pos_all = self._pos_item.index_select(0, order)
        neg_all, ok_all = self._negatives(users_all)
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        seen = 0
        with torch.no_grad():
            for start in range(0, n, bs):
                if start and should_stop():
                    break
                stop = min(n, start + bs)
                loss_sum = self._step_batch(
                    users_all[start:stop], pos_all[start:stop], neg_all[start:stop], ok_all[start:stop]
                )
                total += loss_sum
                seen += stop - start
        return {"loss": float(total) / max(seen, 1)}

    def _buffers(self, n: int) -> dict[str, torch.Tensor]:
        """Work buffers for minibatches of up to ``n`` samples, kept between steps and epochs.

        Fresh multi-megabyte temporaries every step cost more than the arithmetic on the CPU (each large
        allocation is new zeroed pages from the OS), so every (batch, f) tensor is written with ``out=``.
        """
        f = int(self.params["factors"])
        buf = self._buf
        if buf is None or buf["xu"].shape[0] < n:
            kw: dict[str, Any] = {"dtype": torch.float32, "device": self.device}
            buf = {"xu": torch.empty(n, f, **kw), "yi": torch.empty(n, f, **kw), "yj": torch.empty(n, f, **kw)}
            buf["g_items"] = torch.empty(2 * n, f, **kw)
            buf["g_bias"] = torch.empty(2 * n, **kw)
            buf["z"] = torch.empty(n, **kw)
            buf["bj"] = torch.empty(n, **kw)
            buf["ij"] = torch.empty(2 * n, dtype=torch.int64, device=self.device)
            self._buf = buf
        return buf

    def _step_batch(self, u: torch.Tensor, i: torch.Tensor, j: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
        """One Adam step on a minibatch; returns the summed softplus loss of its valid samples (0-d tensor).

        The loss is the batch mean. On the CPU the gradient is summed over chunks of ``_CPU_CHUNK_CELLS / f``
        samples, whose (chunk, f) intermediates stay in a core's L2 cache (a whole batch's do not: ~25% less
        time per epoch, measured at f=64 on ml-latest-small); the sum, and so the step, is the same.
        """
        X, Y, b = self._factors()
        n_u, f = X.shape
        n = int(u.numel())
        reg = float(self.params["reg"])
        grad = self._grad
        grad.zero_()
        gX = grad[: X.numel()].view(n_u, f)
        gY = grad[X.numel() : X.numel() + Y.numel()].view(-1, f)
        gb = grad[X.numel() + Y.numel() :]
        chunk = min(n, max(64, _CPU_CHUNK_CELLS // f)) if self.device == "cpu" else n
        buf = self._buffers(min(chunk, int(self.params["batch_size"])))
        loss_sum = torch.zeros((), dtype=torch.float32, device=self.device)
        for s in range(0, n, chunk):
            e = min(n, s + chunk)
            loss_sum += self._add_gradient(u[s:e], i[s:e], j[s:e], ok[s:e], 1.0 / max(n, 1), buf, gX, gY, gb)
        if reg > 0:
            # reg·p for every sample a row takes part in = reg · (times in batch) · p, over whole tables at once
            n_rows = n_u + Y.shape[0]
            n_i = Y.shape[0]
            item_counts = torch.bincount(i, minlength=n_i).add_(torch.bincount(j, minlength=n_i))
            counts = torch.cat([torch.bincount(u, minlength=n_u), item_counts])
            scale = counts.to(X.dtype).mul_(reg / max(n, 1))
            grad[: n_rows * f].view(n_rows, f).addcmul_(self._flat[: n_rows * f].view(n_rows, f), scale[:, None])
            gb.addcmul_(b, scale[n_u:])
        self._opt.step()
        return loss_sum

    def _add_gradient(
        self,
        u: torch.Tensor,
        i: torch.Tensor,
        j: torch.Tensor,
        ok: torch.Tensor,
        inv_n: float,
        buf: dict[str, torch.Tensor],
        gX: torch.Tensor,
        gY: torch.Tensor,
        gb: torch.Tensor,
    ) -> torch.Tensor:
        """Add the BPR-loss gradient of samples ``(u, i, j)`` (times ``inv_n``) to ``gX, gY, gb``; return their
        summed softplus loss. Every (samples, f) intermediate lives in a reused buffer, and the gradients of the
        positive and negative items go in with one ``index_add_`` (no ``alpha``: it makes a copy)."""
        X, Y, b = self._factors()
        n = int(u.numel())
        xu, yi, yj = buf["xu"][:n], buf["yi"][:n], buf["yj"][:n]
        g_items, g_bias, ij = buf["g_items"][: 2 * n], buf["g_bias"][: 2 * n], buf["ij"][: 2 * n]
        z, bj = buf["z"][:n], buf["bj"][:n]
        torch.index_select(X, 0, u, out=xu)
        torch.index_select(Y, 0, i, out=yi)
        torch.index_select(Y, 0, j, out=yj)
        diff = yi.sub_(yj)  # y_i - y_j, in place of y_i
        gi = g_items[:n]
        torch.sum(torch.mul(xu, diff, out=gi), 1, out=z)
        z.add_(torch.index_select(b, 0, i, out=g_bias[:n])).sub_(torch.index_select(b, 0, j, out=bj))
        loss_sum = torch.nn.functional.softplus(-z).mul_(ok).sum()
        # d softplus(-z) / dz = -sigmoid(-z), times 1/n for the batch mean; invalid negatives weigh 0
        g = torch.sigmoid(z.neg_(), out=g_bias[:n]).mul_(ok).mul_(-inv_n)
        torch.neg(g, out=g_bias[n:])
        torch.mul(xu, g[:, None], out=gi)  # d/dy_i; d/dy_j is its negative
        torch.neg(gi, out=g_items[n:])
        torch.cat([i, j], out=ij)
        gY.index_add_(0, ij, g_items)
        gb.index_add_(0, ij, g_bias)
        gX.index_add_(0, u, diff.mul_(g[:, None]))
        return loss_sum

    # ------------------------------------------------------------------ inference
    def _factors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.user_factors_ is None or self.item_factors_ is None or self.item_bias_ is None:
            self._train()
            raise AssertionError("unreachable")
        return self.user_factors_, self.item_factors_, self.item_bias_

    def score(self, users: np.ndarray) -> torch.Tensor:
        """``x_u · y_i + b_i`` for every item: float32 (len(users), n_items) on ``self.device``."""
        X, Y, b = self._factors()
        idx = torch.as_tensor(np.asarray(users, dtype=np.int64), device=self.device)
        with torch.no_grad(), self._autocast():
            out = X[idx] @ Y.T
        return out.float() + b

    def fold_in(self, items: np.ndarray, ratings: np.ndarray | None = None) -> np.ndarray:
        """Scores for a user with history ``items``: the user vector that minimises the BPR objective against
        the trained (fixed) item factors, then ``Y x + b``.

        The objective is the training loss for one user in expectation: the mean of
        ``softplus(-(s_i - s_j))`` over all (positive ``i``, non-positive ``j``) pairs plus ``reg/2 ‖x‖²``.
        It is convex, and a few damped Newton steps from ``x = 0`` (float64) solve it to round-off. Items with
        a rating ≤ 0 are not positives. When positives × negatives exceeds 4 million pairs the negatives are
        subsampled with a generator seeded by ``seed`` (so the result is still deterministic).

        Returns float32 (n_items,). An empty history gives the item biases (``x = 0``).
        """
        _, Y, b = self._factors()
        idx, vals = validate_history(items, ratings, self.n_items_, model=self.name)
        pos = idx[vals > 0]
        reg = float(self.params["reg"])
        with torch.no_grad():
            Yd, bd = Y.double(), b.double()
            f = Y.shape[1]
            if pos.size == 0 or pos.size == self.n_items_:
                return b.float().cpu().numpy().copy()
            is_pos = np.zeros(self.n_items_, dtype=bool)
            is_pos[pos] = True
            neg = np.flatnonzero(~is_pos)
            max_neg = max(1, _FOLD_IN_PAIRS // pos.size)
            if neg.size > max_neg:
                rng = np.random.default_rng(self.seed)
                neg = np.sort(rng.choice(neg, size=max_neg, replace=False))
            dev = Y.device
            Yp, Yn = Yd[torch.from_numpy(pos).to(dev)], Yd[torch.from_numpy(neg).to(dev)]
            bp, bn = bd[torch.from_numpy(pos).to(dev)], bd[torch.from_numpy(neg).to(dev)]
            n_pairs = float(pos.size * neg.size)
            eye = torch.eye(f, dtype=torch.float64, device=dev)

            def objective(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                z = (Yp @ x + bp)[:, None] - (Yn @ x + bn)[None, :]
                return torch.nn.functional.softplus(-z).sum() / n_pairs + 0.5 * reg * (x @ x), z

            x = torch.zeros(f, dtype=torch.float64, device=dev)
            value, z = objective(x)
            for _ in range(_FOLD_IN_NEWTON_STEPS):
                s = torch.sigmoid(-z)  # -d loss / dz
                h = s * (1.0 - s)
                # gradient and Hessian of Σ softplus(-(s_i - s_j)) through s_i - s_j = (y_i - y_j)·x + b_i - b_j,
                # from row/column sums of the pair matrices: no (pairs × f) tensor is formed.
                grad = (-(Yp.T @ s.sum(1)) + Yn.T @ s.sum(0)) / n_pairs + reg * x
                hyn = h @ Yn
                hess = (
                    Yp.T @ (h.sum(1)[:, None] * Yp) + Yn.T @ (h.sum(0)[:, None] * Yn) - Yp.T @ hyn - hyn.T @ Yp
                ) / n_pairs + (reg + 1e-10) * eye
                step = torch.linalg.solve(hess, grad)
                t = 1.0
                while True:  # backtracking keeps each step a descent step (the objective is convex)
                    x_new = x - t * step
                    new_value, z_new = objective(x_new)
                    if new_value <= value or t < 1e-4:
                        break
                    t *= 0.5
                converged = float(value - new_value) <= 1e-12 * max(1.0, abs(float(value)))
                x, value, z = x_new, new_value, z_new
                if converged:
                    break
            return (Yd @ x + bd).float().cpu().numpy()

    def item_vectors(self) -> torch.Tensor:
        """The item factors, (n_items, factors) float32 (used for similar items and explanations)."""
        return self._factors()[1]

    # ------------------------------------------------------------------ persistence
    def state_tensors(self) -> dict[str, torch.Tensor]:
        X, Y, b = self._factors()
        # Copies: the three are views of one flat buffer, and safetensors refuses tensors sharing memory.
        return {"user_factors": X.clone(), "item_factors": Y.clone(), "item_bias": b.clone()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        X = tensors["user_factors"].to(self.device, torch.float32)
        Y = tensors["item_factors"].to(self.device, torch.float32)
        b = tensors["item_bias"].to(self.device, torch.float32)
        self.n_users_, self.n_items_ = int(X.shape[0]), int(Y.shape[0])
        if self._flat is None or self._flat.numel() != X.numel() + Y.numel() + b.numel():
            self._flat = torch.empty(X.numel() + Y.numel() + b.numel(), dtype=torch.float32, device=self.device)
        # Copy into the flat buffer (views stay valid, so training can continue after a restore).
        self._flat[: X.numel()] = X.reshape(-1)
        self._flat[X.numel() : X.numel() + Y.numel()] = Y.reshape(-1)
        self._flat[X.numel() + Y.numel() :] = b
        self._bind_views()
