"""Implicit-feedback alternating least squares (iALS; Hu, Koren & Volinsky 2008), fully vectorised.

Objective (users ``u``, items ``i``, factors ``x_u``, ``y_i``)::

    sum over all (u, i) of  c_ui (p_ui - x_u · y_i)²  +  reg (‖X‖² + ‖Y‖²)

with ``c_ui = 1 + alpha·|r_ui|`` and ``p_ui = 1`` where the user interacted with value ``r_ui > 0`` (``r = 1``
for implicit data), and ``c_ui = 1, p_ui = 0`` everywhere else. A stored value ``r < 0`` is a *dislike*
(``p = 0`` with confidence ``1 + alpha·|r|``), as in the ``implicit`` library.

Note on ``implicit``'s ``alpha``: it uses ``c = alpha·r`` for stored entries, so our ``alpha = a`` on 0/1 data
equals ``implicit``'s ``alpha = 1 + a``. The Hu et al. form used here keeps every weight ≥ 1, so each solve is
positive definite whatever ``alpha`` is.

Each half-sweep solves every user (then every item) at once: ``A_u = YᵀY + reg·I + Σ_i (c_ui - 1) y_i y_iᵀ``
and ``b_u = Σ_i c_ui p_ui y_i``. The ``cg`` solver runs ``cg_steps`` conjugate-gradient steps for all rows in
parallel, warm-started from the previous sweep (as ``implicit`` does), with the per-row corrections computed
by a sampled dense-dense product (SDDMM) and a sparse × dense product over the interaction pattern: a few
whole-matrix kernels per step, no Python per row. The ``cholesky`` solver forms every ``A_u`` exactly with
batched matmuls over rows grouped by degree (padded to a power of two) and solves them with one batched
Cholesky factorisation.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from recsys_core.models.base import Contribution, Recommender, ShouldStop, _never, check_history
from recsys_core.models.params import Param
from recsys_core.models.registry import register

# Bytes of temporary memory one chunk of the exact (Cholesky) solve may use: bounds the gathered (rows, L, f)
# item vectors and the (rows, f, f) systems at large n or f.
_CHOLESKY_CHUNK_BYTES = 256 * 2**20
_SMALL_FOR_ONE_THREAD = 200_000  # interactions below which a sweep runs on one CPU thread (see _prepare)


@contextlib.contextmanager
def _quiet_sparse() -> Iterator[None]:
    """Silence torch's one-off 'sparse CSR is beta' notice: the CSR kernels used here are stable."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]parse CSR tensor support is in beta.*")
        warnings.filterwarnings("ignore", message=".*[Ss]parse invariant checks.*")
        yield


def _csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    with _quiet_sparse():
        return torch.sparse_csr_tensor(crow, col, values, size=shape, check_invariants=False)


def validate_history(items: Any, ratings: Any, n_items: int, *, model: str) -> tuple[np.ndarray, np.ndarray]:
    """Check a fold-in history and merge repeated items (their values are summed, as ``to_csr`` does).

    Args:
        items: item indices (int array-like) in ``[0, n_items)``.
        ratings: values per item (array-like of the same length) or None for implicit feedback (all 1).
        n_items: size of the model's item space.
        model: model name for messages.

    Returns:
        ``(items int64 (k,), values float32 (k,))``, items unique and ascending.

    Raises:
        DataError: ``bad_history`` for non-integer or out-of-range items, mismatched lengths or non-finite
            values.
    """
    idx, given = check_history(items, ratings, n_items, model=model)
    vals = np.ones(idx.size, dtype=np.float64) if given is None else given.astype(np.float64)
    arr = idx
    uniq, inverse = np.unique(arr, return_inverse=True)
    merged = np.bincount(inverse, weights=vals, minlength=uniq.size) if uniq.size else np.zeros(0)
    return uniq, merged.astype(np.float32)


@dataclass
class _Side:
    """The interaction pattern seen from one side (rows = users for the user step, items for the item step).

    All tensors live on the model's device. ``target`` has values ``c·p`` (the right-hand sides are
    ``target @ Y``); ``weight`` has the same pattern with values ``c - 1`` (the per-row corrections).
    """

    crow: torch.Tensor  # int64 (n_rows + 1,)
    col: torch.Tensor  # int64 (nnz,)
    c: torch.Tensor  # float32 (nnz,) confidences
    w: torch.Tensor  # float32 (nnz,) c - 1
    target: torch.Tensor  # CSR (n_rows, n_cols), values c·p
    weight: torch.Tensor  # CSR (n_rows, n_cols), values c - 1
    nonempty: torch.Tensor  # bool (n_rows,)
    shape: tuple[int, int]
    padded: dict[tuple[int, int], list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]] = field(
        default_factory=dict
    )  # cache of _padded_rows

    @classmethod
    def build(cls, m: sp.csr_matrix, alpha: float, device: str) -> _Side:
        m = sp.csr_matrix(m, dtype=np.float32)
        if not m.has_sorted_indices:
            m = m.sorted_indices()  # a copy: the training CSR is shared and must not change
        r = m.data.astype(np.float32)
        c = (1.0 + alpha * np.abs(r)).astype(np.float32)
        p = (r > 0).astype(np.float32)
        crow = torch.from_numpy(m.indptr.astype(np.int64)).to(device)
        col = torch.from_numpy(m.indices.astype(np.int64)).to(device)
        ct = torch.from_numpy(c).to(device)
        wt = ct - 1.0
        shape = (int(m.shape[0]), int(m.shape[1]))
        return cls(
            crow=crow,
            col=col,
            c=ct,
            w=wt,
            target=_csr(crow, col, ct * torch.from_numpy(p).to(device), shape),
            weight=_csr(crow, col, wt, shape),
            nonempty=crow[1:] > crow[:-1],
            shape=shape,
        )

    def sampled_dots(self, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        """``x_u · y_i`` for every stored (u, i), in CSR order: float32 (nnz,)."""
        with _quiet_sparse():
            s = torch.sparse.sampled_addmm(self.weight, X, Y.T, beta=0.0)
        return s.values()

    def correction(self, P: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        """``Σ_i (c_ui - 1) (p_u · y_i) y_i`` for every row ``u``: float32 (n_rows, f)."""
        vals = self.sampled_dots(P, Y) * self.w
        return _csr(self.crow, self.col, vals, self.shape) @ Y


def _gram(Y: torch.Tensor, reg: float) -> torch.Tensor:
    f = Y.shape[1]
    return Y.T @ Y + reg * torch.eye(f, dtype=Y.dtype, device=Y.device)


def solve_cg(side: _Side, X: torch.Tensor, Y: torch.Tensor, reg: float, steps: int) -> torch.Tensor:
    """``steps`` conjugate-gradient steps on every row's normal equations at once, starting from ``X``.

    Args:
        side: the interaction pattern with rows = the vectors being solved.
        X: (n_rows, f) float32 warm start (the previous sweep's vectors).
        Y: (n_cols, f) float32 fixed vectors of the other side.
        reg: L2 penalty.
        steps: CG iterations (``implicit`` uses 3).

    Returns:
        (n_rows, f) float32; rows without interactions are 0.
    """
    G = _gram(Y, reg)
    b = side.target @ Y
    x = X.clone()
    # addmm: x·G added onto the correction in one kernel (a separate product and sum cost ~3× as much)
    r = b.sub_(torch.addmm(side.correction(x, Y), x, G))
    p = r.clone()
    rs = (r * r).sum(1)
    tiny = 1e-20
    for _ in range(steps):
        Ap = torch.addmm(side.correction(p, Y), p, G)
        pAp = (p * Ap).sum(1)
        # Rows that have already converged (rs ≈ 0, so p ≈ 0) take no step instead of dividing 0 by 0.
        a = torch.where(pAp > tiny, rs / pAp.clamp_min(tiny), torch.zeros_like(rs))
        x.addcmul_(a[:, None], p)
        r.addcmul_(a[:, None], Ap, value=-1.0)
        rs_new = (r * r).sum(1)
        beta = torch.where(rs > tiny, rs_new / rs.clamp_min(tiny), torch.zeros_like(rs))
        p = r + beta[:, None] * p
        rs = rs_new
    return x * side.nonempty[:, None]


def _padded_rows(side: _Side, f: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The non-empty rows grouped by degree rounded up to a power of two, as padded (rows, L) matrices of
    column indices (padding points at an all-zero extra row, index ``n_cols``) and ``sqrt(c - 1)`` weights
    (padding 0), split into chunks of at most ``_CHOLESKY_CHUNK_BYTES`` of gathered vectors.

    Cached on the side per ``f`` (the pattern never changes during training). Padding wastes < 2× work.
    """
    key = (f, _CHOLESKY_CHUNK_BYTES)
    cached = side.padded.get(key)
    if cached is not None:
        return cached
    indptr = side.crow.cpu().numpy()
    cols = side.col.cpu().numpy()
    sw = np.sqrt(side.w.cpu().numpy())
    n_cols = side.shape[1]
    deg = np.diff(indptr)
    width = np.where(deg > 0, 2 ** np.ceil(np.log2(np.maximum(deg, 1))).astype(np.int64), 0)
    width = np.maximum(width, np.where(deg > 0, 4, 0))  # tiny rows share one bucket
    out = []
    for L in np.unique(width[width > 0]):
        rows = np.flatnonzero(width == L)
        per_chunk = max(1, _CHOLESKY_CHUNK_BYTES // (4 * (int(L) * f + 3 * f * f)))
        for start in range(0, rows.size, per_chunk):
            r = rows[start : start + per_chunk]
            pos = indptr[r][:, None] + np.arange(L)[None, :]
            valid = np.arange(L)[None, :] < deg[r][:, None]
            pos = np.where(valid, pos, 0)
            idx = np.where(valid, cols[pos], n_cols)
            weight = np.where(valid, sw[pos], 0.0).astype(np.float32)
            dev = side.crow.device
            out.append((torch.from_numpy(r).to(dev), torch.from_numpy(idx).to(dev), torch.from_numpy(weight).to(dev)))
    side.padded[key] = out
    return out


def solve_cholesky(side: _Side, Y: torch.Tensor, reg: float) -> torch.Tensor:
    """Exact least-squares solution of every row's normal equations (batched Cholesky), float32 (n_rows, f).

    Each row's system ``YᵀY + reg·I + Y_uᵀ diag(c_u - 1) Y_u`` is formed by one batched matmul over rows of
    similar degree (the gathered, ``sqrt(c - 1)``-weighted item vectors times their transpose), then all are
    factorised by a batched Cholesky and solved by two triangular solves. Rows without interactions get 0.
    """
    n_rows, _ = side.shape
    f = Y.shape[1]
    G = _gram(Y, reg)
    b = side.target @ Y
    out = torch.zeros(n_rows, f, dtype=Y.dtype, device=Y.device)
    Yz = torch.cat([Y, torch.zeros(1, f, dtype=Y.dtype, device=Y.device)])  # row n_cols is the padding
    for rows, idx, weight in _padded_rows(side, f):
        Yh = Yz[idx].mul_(weight[:, :, None])  # (k, L, f)
        A = torch.baddbmm(G.expand(rows.numel(), f, f), Yh.mT, Yh)
        L, info = torch.linalg.cholesky_ex(A)
        if bool((info > 0).any()):
            # Only possible through float32 round-off with reg ≈ 0: retry those systems with a jitter.
            bad = (info > 0).nonzero().squeeze(1)
            Ab = A[bad]
            jitter = 1e-4 * Ab.diagonal(dim1=1, dim2=2).mean(1).clamp_min(1e-6)
            L[bad] = torch.linalg.cholesky(Ab + jitter[:, None, None] * torch.eye(f, dtype=A.dtype, device=A.device))
        y = torch.linalg.solve_triangular(L, b[rows].unsqueeze(-1), upper=False)
        out[rows] = torch.linalg.solve_triangular(L.mT, y, upper=True).squeeze(-1)
    return out


def weighted_loss(side: _Side, X: torch.Tensor, Y: torch.Tensor, reg: float) -> float:
    """The iALS objective divided by the total weight (Σ c over stored cells + the unstored cells), as
    ``implicit`` reports it: a weighted mean squared error plus the scaled L2 term.

    Uses ``Σ_{all u,i} (x_u·y_i)² = ⟨XᵀX, YᵀY⟩`` so that only the stored cells are visited.
    """
    s = side.sampled_dots(X, Y)
    p = (side.target.values() > 0).to(s.dtype)
    everywhere = ((X.T @ X) * (Y.T @ Y)).sum()
    stored = (side.c * (p - s) ** 2 - s * s).sum()
    penalty = reg * ((X * X).sum() + (Y * Y).sum())
    n_rows, n_cols = side.shape
    total_weight = side.c.sum() + (n_rows * n_cols - side.c.numel())
    return float((everywhere + stored + penalty) / total_weight)


@register
class IALS(Recommender):
    """Implicit ALS (Hu, Koren & Volinsky 2008) with batched conjugate-gradient or exact Cholesky solves.

    Learned state: ``user_factors_`` (n_users, factors) and ``item_factors_`` (n_items, factors), float32 on
    ``self.device``; ``score = user_factors_ @ item_factors_ᵀ``. Hyperparameters: see ``schema``.
    Deterministic on the CPU for a given seed (factors start uniform in [0, 0.01), like ``implicit``).
    """

    name = "ials"
    description = "Implicit ALS (Hu et al. 2008): weighted matrix factorisation for clicks, plays, purchases."
    schema = (
        Param("factors", "int", 64, "Length of the user and item vectors.", low=1, high=1024, log=True),
        Param("iterations", "int", 15, "ALS sweeps; each solves all users, then all items.", low=1, high=500),
        Param(
            "reg",
            "float",
            40.0,
            "L2 penalty on the vectors (larger = smoother); not scaled by data size (the default was tuned on "
            "75k-100k interactions).",
            low=1e-6,
            high=1e5,
            log=True,
        ),
        Param(
            "alpha",
            "float",
            5.0,
            "Confidence slope: an interaction with value r weighs 1 + alpha·r; unseen pairs weigh 1.",
            low=1e-3,
            high=1e4,
            log=True,
        ),
        Param(
            "solver",
            "choice",
            "cg",
            "cg: a few conjugate-gradient steps per sweep (fast); cholesky: exact solves (slower).",
            choices=("cg", "cholesky"),
        ),
        Param("cg_steps", "int", 3, "Conjugate-gradient steps per solve (solver cg only).", low=1, high=64),
    )
    task = "ranking"
    needs_ratings = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.user_factors_: torch.Tensor | None = None
        self.item_factors_: torch.Tensor | None = None
        self._users_side: _Side | None = None
        self._items_side: _Side | None = None

    # ------------------------------------------------------------------ training
    def _prepare(self, train: Any) -> None:
        f = int(self.params["factors"])
        train_csr = self._train()
        alpha = float(self.params["alpha"])
        # Below this many interactions each sweep's kernels are too small to pay for waking a second thread
        # (measured on 2 cores: 1 thread 20% faster at 80k-100k, 2 threads 40% faster at 820k).
        self.train_cpu_threads = 1 if train_csr.nnz < _SMALL_FOR_ONE_THREAD else None
        self._users_side = _Side.build(train_csr, alpha, self.device)
        self._items_side = _Side.build(train_csr.T.tocsr(), alpha, self.device)
        # Drawn on the CPU generator so CPU and CUDA runs start from the same factors.
        x = torch.rand(self.n_users_, f, generator=self.torch_gen_) * 0.01
        y = torch.rand(self.n_items_, f, generator=self.torch_gen_) * 0.01
        self.user_factors_ = x.to(self.device)
        self.item_factors_ = y.to(self.device)

    def _sides(self) -> tuple[_Side, _Side]:
        if self._users_side is None or self._items_side is None:
            alpha = float(self.params["alpha"])
            train_csr = self._train()
            self._users_side = _Side.build(train_csr, alpha, self.device)
            self._items_side = _Side.build(train_csr.T.tocsr(), alpha, self.device)
        return self._users_side, self._items_side

    def _half(self, side: _Side, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        reg = float(self.params["reg"])
        if self.params["solver"] == "cholesky":
            return solve_cholesky(side, Y, reg)
        return solve_cg(side, X, Y, reg, int(self.params["cg_steps"]))

    def train_epoch(self, epoch: int, should_stop: ShouldStop = _never) -> dict[str, float]:
        """One ALS sweep: solve all users, then (unless ``should_stop()``) all items.

        Returns ``{"loss": ...}``: the weighted objective after the sweep, divided by the total weight
        (see :func:`weighted_loss`).
        """
        users, items = self._sides()
        X, Y = self._factors()
        with torch.no_grad():
            X = self._half(users, X, Y)
            self.user_factors_ = X
            if not should_stop():
                Y = self._half(items, Y, X)
                self.item_factors_ = Y
            loss = weighted_loss(users, X, Y, float(self.params["reg"]))
        return {"loss": loss}

    def _factors(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.user_factors_ is None or self.item_factors_ is None:
            self._train()  # raises the 'not trained yet' ConfigError
            raise AssertionError("unreachable")
        return self.user_factors_, self.item_factors_

    # ------------------------------------------------------------------ inference
    def score(self, users: np.ndarray) -> torch.Tensor:
        """``x_u · y_i`` for every item: float32 (len(users), n_items) on ``self.device``."""
        X, Y = self._factors()
        idx = torch.as_tensor(np.asarray(users, dtype=np.int64), device=self.device)
        with torch.no_grad(), self._autocast():
            out = X[idx] @ Y.T
        return out.float()

    def _user_system(self, items: np.ndarray, values: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The ALS user step for one history, float64: ``(A, weights c·p per item, history item vectors)``."""
        _, Y = self._factors()
        alpha, reg = float(self.params["alpha"]), float(self.params["reg"])
        Yd = Y.double()
        r = torch.from_numpy(values.astype(np.float64)).to(Y.device)
        c = 1.0 + alpha * r.abs()
        Yh = Yd[torch.from_numpy(items).to(Y.device)]
        A = Yd.T @ Yd + reg * torch.eye(Y.shape[1], dtype=torch.float64, device=Y.device)
        A = A + Yh.T @ ((c - 1.0)[:, None] * Yh)
        return A, c * (r > 0).to(torch.float64), Yh

    def fold_in(self, items: np.ndarray, ratings: np.ndarray | None = None) -> np.ndarray:
        """Scores for a user with history ``items`` (values ``ratings``; None = implicit 1s): the exact ALS
        user step for that one row (a float64 solve against the trained item factors), then ``Y x``.

        Returns float32 (n_items,). An empty history gives all zeros (the ALS solution with no data).
        """
        _, Y = self._factors()
        idx, vals = validate_history(items, ratings, self.n_items_, model=self.name)
        if idx.size == 0:
            return np.zeros(self.n_items_, dtype=np.float32)
        with torch.no_grad():
            A, weights, Yh = self._user_system(idx, vals)
            x = torch.linalg.solve(A, Yh.T @ weights)
            return (Y.double() @ x).float().cpu().numpy()

    def explain(self, user: int, item: int, top: int = 5) -> list[Contribution]:
        """Exact per-history-item shares of ``item``'s fold-in score for ``user`` (Hu et al. 2008, §5).

        With the user step ``x_u = A_u⁻¹ Σ_j c_uj p_uj y_j``, the score ``y_i · x_u`` splits into one term per
        history item: ``c_uj p_uj (y_iᵀ A_u⁻¹ y_j)``; the terms sum to :meth:`fold_in`'s score for the user's
        training history (which equals the trained score up to the last sweep's update). Largest first, ties
        by lower item index; dislikes (``p = 0``) contribute nothing and are left out.
        """
        row = self._train()[int(user)]
        keep = row.data > 0
        history = row.indices[keep].astype(np.int64)
        if history.size == 0:
            return []
        _, Y = self._factors()
        with torch.no_grad():
            A, weights, Yh = self._user_system(row.indices.astype(np.int64), row.data.astype(np.float32))
            v = torch.linalg.solve(A, Y[int(item)].double())
            shares = (weights * (Yh @ v)).cpu().numpy()[keep]
        order = np.lexsort((history, -shares))[: max(int(top), 0)]
        return [Contribution(int(history[k]), float(shares[k])) for k in order]

    def item_vectors(self) -> torch.Tensor:
        """The item factors, (n_items, factors) float32 (used for similar items and explanations)."""
        return self._factors()[1]

    # ------------------------------------------------------------------ persistence
    def state_tensors(self) -> dict[str, torch.Tensor]:
        X, Y = self._factors()
        return {"user_factors": X, "item_factors": Y}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        self.user_factors_ = tensors["user_factors"].to(self.device, torch.float32).contiguous()
        self.item_factors_ = tensors["item_factors"].to(self.device, torch.float32).contiguous()
        # The sparse structures are rebuilt from train_ on demand (e.g. to continue training).
        self._users_side = self._items_side = None
