"""EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): a closed-form item-item model.

With ``X`` the binary (n_users × n_items) interaction matrix and ``λ`` = ``l2``::

    G = XᵀX + λI,   P = G⁻¹,   B = -P / diag(P) (column-wise),   diag(B) = 0,   score(u) = x_u B

``B`` minimises ``‖X - XB‖²_F + λ‖B‖²_F`` subject to ``diag(B) = 0``. The inverse goes through a float32
Cholesky factorisation (``n³`` flops in all; about 2–3× faster than a float64 LU ``inv`` on the CPU and
accurate enough at the usual ``λ`` of 10–1000).
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import torch

from recsys_core.errors import ConfigError
from recsys_core.models.base import Contribution, Recommender, ShouldStop, _never
from recsys_core.models.neighbors import (
    BLOCK_CELLS,
    binary_rows,
    check_index,
    dense_rows,
    history_items,
    item_gram_blocks,
    rank_contributions,
    torch_sparse_kernels,
)
from recsys_core.models.params import Param
from recsys_core.models.registry import register
from recsys_core.ranking import top_k

# Dense n × n float32 matrices alive at the peak of training: G and its Cholesky factor, then L and P.
PEAK_MATRICES = 2
# Use at most this share of the free memory, leaving room for the rest of the process.
MEMORY_SHARE = 0.8


def available_memory(device: str) -> int | None:
    """Free memory in bytes on ``device`` (CUDA: free device memory; CPU: MemAvailable), None if unknown."""
    if device.startswith("cuda"):
        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def ease_memory_bytes(n_items: int) -> int:
    """Estimated peak memory of fitting EASE on ``n_items`` items: two dense n × n float32 matrices."""
    return PEAK_MATRICES * n_items * n_items * 4


def _ridge_gram(binary: Any, l2: float, device: str, torch_kernels: bool | None = None) -> torch.Tensor:
    """``XᵀX + λI`` as a dense float32 ``(n_items, n_items)`` tensor on ``device``."""
    n_items = binary.shape[1]
    gram = torch.empty((n_items, n_items), dtype=torch.float32, device=device)
    for start, stop, block in item_gram_blocks(binary, device, torch_kernels=torch_kernels):
        gram[start:stop] = block
    gram.diagonal().add_(l2)
    return gram


def _spd_inverse_torch(gram: torch.Tensor) -> torch.Tensor | None:
    """Inverse of a symmetric positive definite float32 matrix via Cholesky (torch: cuSOLVER on CUDA).
    None when the matrix is not positive definite in float32. Pass ``gram`` as a temporary: it is freed
    once factored, so at most two n × n matrices are alive."""
    factor, info = torch.linalg.cholesky_ex(gram)
    del gram
    if int(info) != 0:
        return None
    return torch.cholesky_inverse(factor)


def _spd_inverse(gram: torch.Tensor) -> torch.Tensor | None:
    """Inverse of a symmetric positive definite float32 CPU matrix, in place, via LAPACK ``spotrf`` +
    ``spotri`` (scipy's OpenBLAS). None when it is not positive definite in float32.

    Why not torch on the CPU: torch's MKL ``cholesky_inverse`` measured 1.5× slower than OpenBLAS at
    n ≥ 3000 on the project's AMD CPUs, and it needs a second n × n buffer; this works in the input's memory.
    ``gram`` is overwritten (it becomes the result).
    """
    from scipy.linalg import lapack

    n = gram.shape[0]
    if n == 0:
        return gram
    # a symmetric C-ordered matrix is its own transpose, so .T is the same matrix in Fortran order: no copy
    a = gram.numpy().T
    factor, info = lapack.spotrf(a, lower=1, clean=0, overwrite_a=1)
    if info != 0:
        return None
    inv, info = lapack.spotri(factor, lower=1, overwrite_c=1)
    if info != 0:
        return None
    # LAPACK filled the lower triangle (Fortran order) = the upper triangle of the C-ordered view;
    # mirror it into the other half block by block (no n × n temporaries)
    c = inv.T
    step = 512
    for start in range(0, n, step):
        stop = min(n, start + step)
        diag = c[start:stop, start:stop]
        diag[...] = np.triu(diag) + np.triu(diag, 1).T
        c[stop:, start:stop] = c[start:stop, stop:].T
    result = torch.from_numpy(np.ascontiguousarray(c))
    return result


def _size(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GiB" if n_bytes >= 2**30 else f"{math.ceil(n_bytes / 2**20)} MiB"


@register
class EASE(Recommender):
    """EASE, the closed-form linear item-item autoencoder (see the module docstring for the formulas).

    Memory and time grow with the catalogue: two dense ``n_items × n_items`` float32 matrices (1.6 GiB each
    at 20k items) and ``n_items³`` flops. Training refuses a catalogue whose matrices would not fit in the
    device's free memory, with the estimated size.

    Learned state: ``B_`` float32 ``(n_items, n_items)``; ``B_[j, i]`` is the weight of history item ``j``
    in item ``i``'s score. With ``precision="bf16"`` (CUDA only) scoring runs in bfloat16 autocast; the
    factorisation always stays float32.
    """

    name = "ease"
    description = "EASE: closed-form linear item-item autoencoder; strong on small and mid-sized catalogues."
    schema = (
        Param(
            "l2",
            "float",
            500.0,
            "L2 regularisation λ on the item-item weights; larger = smoother, more popular items.",
            1e-2,
            1e6,
            log=True,
        ),
    )
    task = "ranking"
    needs_ratings = False

    B_: torch.Tensor | None = None
    _loss: float | None = None
    sparse_kernels: str | None = None  # "torch" / "scipy"; None = by device (see torch_sparse_kernels)

    def _prepare(self, train: Any) -> None:
        n_items = int(train.n_items)
        need = ease_memory_bytes(n_items)
        free = available_memory(self.device)
        if free is not None and need > MEMORY_SHARE * free:
            raise ConfigError(
                f"EASE on {n_items:,} items needs about {_size(need)} for its dense item × item matrices, "
                f"but only {_size(free)} is free on {self.device}.",
                field="model",
                hint="Use a model that scales with the number of items (itemknn, ials, bpr), "
                "or keep only the most popular items when preprocessing.",
            )
        self.B_ = None
        self._loss = None

    def train_epoch(self, epoch: int, should_stop: ShouldStop = _never) -> dict[str, float]:
        """Solve for ``B`` (epoch 1; later epochs change nothing).

        Returns ``{"loss": ‖X - XB‖²_F / nnz(X)}``, the squared reconstruction error per interaction.
        """
        if self.B_ is None:
            self._fit()
        assert self._loss is not None
        return {"loss": self._loss}

    def _fit(self) -> None:
        binary = binary_rows(self._train())
        l2 = float(self.params["l2"])
        # the factorisation runs on CUDA or the CPU (torch has no MPS Cholesky)
        device = self.device if self.device.startswith("cuda") else "cpu"
        on_torch = torch_sparse_kernels(self)
        invert = _spd_inverse_torch if on_torch else _spd_inverse
        # the Gram matrix is passed as a temporary so that the inverse can free (or overwrite) it
        p = invert(_ridge_gram(binary, l2, device, on_torch))
        if p is None:
            raise ConfigError(
                f"EASE's item Gram matrix is not positive definite in float32 with l2={l2:g}.",
                field="l2",
                hint="Increase l2 (values of 10–1000 are usual).",
            )
        diag = p.diagonal().clone()
        self._loss = self._reconstruction_loss(p, diag, l2, binary.nnz)
        p.div_(-diag.unsqueeze(0))  # B_ij = -P_ij / P_jj
        p.diagonal().zero_()
        self.B_ = p.to(self.device)

    @staticmethod
    def _reconstruction_loss(p: torch.Tensor, diag: torch.Tensor, l2: float, nnz: int) -> float:
        """``‖X - XB‖²_F / nnz`` without forming ``XB``.

        With ``B = I - P D⁻¹`` (``D = diag(P)``) and ``XᵀX = G - λI``: ``(I - B)ᵀ XᵀX (I - B) = D⁻¹ (P - λP²)
        D⁻¹``, so the error is ``Σ_i (P_ii - λ ‖P_i‖²) / P_ii²``: O(n²) instead of a pass over all users.
        """
        if nnz == 0:
            return 0.0
        row_sq = torch.zeros_like(diag, dtype=torch.float64)
        step = max(1, BLOCK_CELLS // max(p.shape[0], 1))
        for start in range(0, p.shape[0], step):
            row_sq[start : start + step] = (p[start : start + step].double() ** 2).sum(dim=1)
        d = diag.double()
        terms = (d - l2 * row_sq) / (d * d)
        return float(terms.clamp(min=0.0).sum()) / nnz

    # ------------------------------------------------------------------ inference
    def _weights(self) -> torch.Tensor:
        if self.B_ is None:
            raise ConfigError(f"{self.name} is not trained yet.", field="model", hint="Call prepare/fit first.")
        return self.B_

    def score(self, users: np.ndarray) -> torch.Tensor:
        """``x_u B`` for each user: float32 ``(len(users), n_items)`` on ``self.device``."""
        b = self._weights()
        users = np.asarray(users, dtype=np.int64)
        binary = binary_rows(self._train()[users])
        n_items = self.n_items_
        out = torch.empty((len(users), n_items), dtype=torch.float32, device=self.device)
        step = max(1, BLOCK_CELLS // max(n_items, 1))
        on_scipy = self.device == "cpu" and not torch_sparse_kernels(self)
        for start in range(0, len(users), step):
            rows = binary[start : start + step]
            stop = start + rows.shape[0]
            if on_scipy:
                # scipy CSR × dense: 2·nnz·n flops, measured 3× faster than torch's CPU sparse kernel
                out[start:stop] = torch.from_numpy(np.asarray(rows @ b.numpy(), dtype=np.float32))
            else:
                with self._autocast():
                    out[start:stop] = (dense_rows(rows, self.device) @ b).float()
        return out

    def fold_in(self, items: np.ndarray, ratings: np.ndarray | None = None) -> np.ndarray:
        """Exact scores ``x B`` for a history (distinct items; ratings ignored): float32 ``(n_items,)``."""
        b = self._weights()
        hist = history_items(items, ratings, self.n_items_)
        if hist.size == 0:
            return np.zeros(self.n_items_, dtype=np.float32)
        return b[torch.from_numpy(hist).to(b.device)].sum(dim=0).cpu().numpy()

    def explain(self, user: int, item: int, top: int = 5) -> list[Contribution]:
        """Exact terms of ``item``'s score: each history item ``j`` contributes ``B[j, item]``, largest first
        (negative terms last; exact zeros left out)."""
        b = self._weights()
        item = check_index(item, self.n_items_, "item")
        history = self._train()[check_index(user, self.n_users_, "user")].indices.astype(np.int64)
        if history.size == 0:
            return []
        terms = b[torch.from_numpy(history).to(b.device), item].cpu().numpy()
        return rank_contributions(history, terms, top)

    def similar_items(self, item: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items with the largest weight ``B[item, :]`` (what having ``item`` adds to their score),
        excluding ``item`` itself."""
        row = self._weights()[int(item)].float().unsqueeze(0).clone()
        row[0, int(item)] = -torch.inf
        idx, vals = top_k(row, k)
        return idx[0].cpu().numpy(), vals[0].cpu().numpy()

    # ------------------------------------------------------------------ persistence
    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {"B": self._weights()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        self.B_ = tensors["B"].to(self.device, torch.float32)
        self._loss = None
