"""Item-based k-nearest-neighbours (item-KNN), and the sparse helpers the item-item models share.

Item-KNN scores an item by how similar it is to the items in the user's history::

    score(u, i) = sum over history items j of  x_uj · S[j, i]

where ``x_u`` is the user's binary interaction row and row ``j`` of ``S`` keeps only item ``j``'s ``k`` most
similar other items. Every interaction counts once (ratings are not used as weights), as in the reference
protocol where every rating is an interaction.

The helpers (:func:`binary_rows`, :func:`item_gram_blocks`, :func:`dense_rows`, :func:`history_items`) are also
used by :mod:`recsys_core.models.linear` (EASE), whose Gram matrix is the same item co-occurrence matrix.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from recsys_core.errors import ConfigError, DataError
from recsys_core.models.base import Contribution, Recommender, ShouldStop, _never
from recsys_core.models.params import Param
from recsys_core.models.registry import register
from recsys_core.ranking import top_k

# Dense intermediates (Gram blocks, score blocks) are capped at about this many float32 cells (64 MB).
BLOCK_CELLS = 1 << 24


# --------------------------------------------------------------------------------------------------------
# shared sparse helpers
# --------------------------------------------------------------------------------------------------------


def binary_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """The stored entries of ``matrix`` as ones: a float32 CSR of the same shape (interactions, not ratings).

    Works on the training matrix every model keeps (``Recommender.train_``, ratings as values), so a model
    loaded from disk rebuilds the same binary matrix it was trained on.
    """
    out = sp.csr_matrix((np.ones(matrix.nnz, dtype=np.float32), matrix.indices, matrix.indptr), shape=matrix.shape)
    out.sort_indices()
    return out


def _torch_csr(matrix: sp.csr_matrix, device: str) -> torch.Tensor:
    """A scipy CSR as a torch sparse CSR tensor on ``device`` (used on CUDA, where cuSPARSE is fast)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(
            torch.from_numpy(matrix.indptr.astype(np.int64)),
            torch.from_numpy(matrix.indices.astype(np.int64)),
            torch.from_numpy(matrix.data.astype(np.float32)),
            size=matrix.shape,
            device=device,
        )


def torch_sparse_kernels(model: Any) -> bool:
    """Whether ``model``'s sparse × dense products run in torch (cuSPARSE) rather than scipy.

    Torch on CUDA, scipy elsewhere (on the CPU scipy's CSR × dense kernels measured 3–5× faster than
    torch's). A model's ``sparse_kernels`` attribute ("torch" / "scipy") overrides the choice: the tests set
    "torch" on the CPU to run the code path that CUDA uses.
    """
    forced = getattr(model, "sparse_kernels", None)
    if forced is not None:
        return bool(forced == "torch")
    return str(model.device).startswith("cuda")


def dense_rows(rows: sp.csr_matrix, device: str) -> torch.Tensor:
    """A (small) CSR block as a dense float32 tensor ``(n_rows, n_cols)`` on ``device``."""
    if device == "cpu":
        return torch.from_numpy(rows.toarray().astype(np.float32, copy=False))
    coo = rows.tocoo()
    out = torch.zeros(rows.shape, dtype=torch.float32, device=device)
    r = torch.from_numpy(coo.row.astype(np.int64)).to(device)
    c = torch.from_numpy(coo.col.astype(np.int64)).to(device)
    out[r, c] = torch.from_numpy(coo.data.astype(np.float32)).to(device)
    return out


def item_gram_blocks(
    weighted: sp.csr_matrix, device: str, block_cells: int = BLOCK_CELLS, *, torch_kernels: bool | None = None
) -> Iterator[tuple[int, int, torch.Tensor]]:
    """Row blocks of the item Gram matrix ``G = Wᵀ W`` of a (n_users × n_items) sparse matrix ``W``.

    Yields ``(start, stop, G[start:stop, :])`` with the block as a contiguous float32 tensor on ``device``;
    blocks hold at most about ``block_cells`` cells, so any catalogue size streams through bounded memory.
    Cost: ``2 · nnz(W) · n_items`` flops in all (the sparse product), far less than a dense ``Uᵀ U`` gemm on
    interaction data (density ≪ 1). On the CPU scipy's CSR × dense kernel is used (measured 3–5× faster than
    torch's CPU sparse kernels); on CUDA, cuSPARSE via torch. ``torch_kernels`` overrides that choice.
    """
    n_users, n_items = weighted.shape
    block = max(1, min(n_items, block_cells // max(n_users, n_items, 1)))
    csc = weighted.tocsc()
    csc.sort_indices()
    compute_on_cpu = not device.startswith("cuda") if torch_kernels is None else not torch_kernels
    if compute_on_cpu:
        wt = weighted.T.tocsr()
    else:
        wt_gpu = _torch_csr(weighted.T.tocsr(), device)
    for start in range(0, n_items, block):
        stop = min(n_items, start + block)
        columns = csc[:, start:stop]  # (n_users × b) sparse
        if compute_on_cpu:
            # G is symmetric, so G[start:stop, :] = (Wᵀ W[:, start:stop])ᵀ
            part = torch.from_numpy(np.ascontiguousarray((wt @ columns.toarray()).T, dtype=np.float32))
            yield start, stop, part.to(device)
        else:
            dense = dense_rows(columns.tocsr(), device)
            yield start, stop, (wt_gpu @ dense).T.contiguous()


def history_items(items: Any, ratings: Any, n_items: int) -> np.ndarray:
    """Validate a what-if history for ``fold_in``: distinct item indices (int64, sorted).

    ``ratings`` (if given) must have one value per item; the item-item models ignore the values because
    they learn from which items were interacted with, not from how they were rated.
    """
    arr = np.asarray(items)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise DataError(
            "A history must be a one-dimensional list of item indices",
            code="bad_history",
            hint="Pass the items' indices in the training item index (integers)",
        )
    arr = arr.astype(np.int64, copy=False)
    bad = np.flatnonzero((arr < 0) | (arr >= n_items))
    if bad.size:
        raise DataError(
            f"{bad.size:,} history items are outside the catalogue (indices 0..{n_items - 1})",
            code="item_index_out_of_range",
            rows=(bad[:5] + 1).tolist(),
            n_rows=int(bad.size),
            hint="Only items of the training data can be folded in",
            sample=[{"item": int(v)} for v in arr[bad[:5]]],
        )
    if ratings is not None and np.shape(ratings) != arr.shape:
        raise DataError(
            f"The history has {arr.size:,} items but {np.size(ratings):,} ratings",
            code="shape_mismatch",
            hint="Give one rating per item, or none",
        )
    return np.unique(arr)


def check_index(value: int, size: int, what: str) -> int:
    """``value`` as an int if it is a valid index into ``size`` entries, else a DataError naming ``what``."""
    index = int(value)
    if not 0 <= index < size:
        raise DataError(
            f"{what.capitalize()} index {index} is outside 0..{size - 1}",
            code=f"{what}_index_out_of_range",
            hint=f"Use the {what}'s index in the training data",
        )
    return index


def bm25_weights(binary: sp.csr_matrix, k1: float, b: float) -> sp.csr_matrix:
    """Okapi BM25 weights of a binary (n_users × n_items) matrix, as implicit's ``bm25_weight(X.T).T``.

    Items are the documents and users the terms: ``w_ui = (k1 + 1) / (k1 · (1 - b + b · n_i / mean(n)) + 1)
    · idf_u`` with ``n_i`` the item's interaction count and ``idf_u = log(n_items) - log(1 + n_u)``, so heavy
    users and very popular items weigh less. Returns float32 CSR, same sparsity.
    """
    n_items = binary.shape[1]
    coo = binary.tocoo()
    item_len = np.bincount(coo.col, minlength=n_items).astype(np.float64)
    user_len = np.bincount(coo.row, minlength=binary.shape[0]).astype(np.float64)
    idf = np.log(n_items) - np.log1p(user_len)
    mean_len = item_len.mean() if n_items else 1.0
    length_norm = (1.0 - b) + b * item_len / max(mean_len, 1e-12)
    data = coo.data * (k1 + 1.0) / (k1 * length_norm[coo.col] + coo.data) * idf[coo.row]
    out = sp.csr_matrix((data.astype(np.float32), (coo.row, coo.col)), shape=binary.shape)
    out.sort_indices()
    return out


def _first_ties(values: torch.Tensor, top_vals: torch.Tensor, top_idx: torch.Tensor, k: int) -> torch.Tensor:
    """Exact top-``k`` index sets for rows with more values equal to their ``k``-th value than a candidate
    list holds.

    ``top_vals``/``top_idx``: those rows' ``k`` best candidates (values descending). The entries above the ``k``-th
    value ``t`` are already in ``top_idx``; the remaining slots go to the lowest-indexed entries equal to
    ``t``, found by one more ``topk`` over "reversed index where equal to t, else -1".
    """
    n = values.shape[1]
    threshold = top_vals[:, k - 1 : k]
    reversed_index = torch.arange(n, 0, -1, device=values.device, dtype=torch.float32)  # exact below 2**24
    equal_keys = torch.where(values == threshold, reversed_index, -1.0)
    first_equal = torch.topk(equal_keys, k, dim=1, sorted=True).indices
    n_greater = (top_vals > threshold).sum(dim=1, keepdim=True)
    slots = torch.arange(k, device=values.device).unsqueeze(0)
    keep = torch.cat([slots < n_greater, slots < k - n_greater], dim=1)  # exactly k per row
    return torch.cat([top_idx, first_equal], dim=1)[keep].reshape(-1, k)


def top_k_sets(values: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest values of each row, ties → lower index: ``(indices int64, values)``, each (b, k),
    **sorted by index** (what a CSR row wants; the order among the kept values is not needed).

    The same sets as :func:`recsys_core.ranking.top_k`, built for Gram rows of binary data, which are full
    of ties (equal co-occurrence counts) at the ``k``-th place. One float ``topk`` takes ``2k + 16``
    candidates; a row whose run of values equal to its ``k``-th value ends inside the candidates is decided
    there (a sort of the candidates by value, then index); only the other rows take a pass over the whole
    row (:func:`_first_ties`). ``values`` must not hold NaN; ``n < 2**24``.
    """
    n = values.shape[1]
    k = min(int(k), n)
    kk = min(2 * k + 16, n)
    top_vals, top_idx = torch.topk(values, kk, dim=1, sorted=True)
    # order the candidates by value descending, then index ascending; keep the first k
    top_idx = torch.sort(top_idx, dim=1).values
    top_vals = torch.gather(values, 1, top_idx)
    order = torch.sort(top_vals, dim=1, descending=True, stable=True).indices
    idx = torch.gather(top_idx, 1, order[:, :k])
    if kk < n:
        sorted_vals = torch.gather(top_vals, 1, order)
        unresolved = torch.nonzero(sorted_vals[:, k - 1] == sorted_vals[:, kk - 1], as_tuple=False)[:, 0]
        if unresolved.numel():
            idx[unresolved] = _first_ties(values[unresolved], sorted_vals[unresolved, :k], idx[unresolved], k)
    idx = torch.sort(idx, dim=1).values
    return idx, torch.gather(values, 1, idx)


def rank_contributions(items: np.ndarray, weights: np.ndarray, top: int) -> list[Contribution]:
    """Non-zero contributions, largest first, ties by lower item index; at most ``top``."""
    keep = weights != 0
    items, weights = items[keep], weights[keep]
    order = np.lexsort((items, -weights))[: max(int(top), 0)]
    return [Contribution(int(items[i]), float(weights[i])) for i in order]


# --------------------------------------------------------------------------------------------------------
# item-KNN
# --------------------------------------------------------------------------------------------------------


@register
class ItemKNN(Recommender):
    """Item-based k-nearest-neighbours on binary interactions.

    Similarity between items ``i`` and ``j`` (columns ``w_i``, ``w_j`` of the weighted user × item matrix):

    * ``weighting="cosine"``: ``w = x`` (binary) and ``S_ij = w_i·w_j / (‖w_i‖·‖w_j‖ + shrinkage)``;
      ``shrinkage`` damps similarities that rest on few common users.
    * ``weighting="bm25"``: ``w`` = BM25 weights (see :func:`bm25_weights`, ``bm25_k1``, ``bm25_b``) and
      ``S_ij = w_i·w_j / (1 + shrinkage)``; BM25's own length normalisation plays the role of the norms (as
      in implicit's ``BM25Recommender``), so ``shrinkage`` only rescales and does not change rankings.
    * ``weighting="none"``: raw co-occurrence counts ``S_ij = x_i·x_j / (1 + shrinkage)``.

    Each item keeps its ``k`` most similar *other* items (ties → lower item index); ``score = x_u · S``.
    implicit's ``K`` counts the item itself, so its ``K=20`` equals ``k=19`` here.

    Learned state: ``neighbours_`` int64 ``(n_items, k)`` and ``weights_`` float32 ``(n_items, k)`` (weight 0
    marks an unused slot); row ``j`` lists item ``j``'s neighbours, sorted by index. ``precision="bf16"`` changes
    nothing: every product here is sparse, and bf16 would break the exact ties of co-occurrence counts.
    """

    name = "itemknn"
    description = "Item k-nearest-neighbours: recommends items similar (cosine / BM25) to the user's history."
    schema = (
        Param("k", "int", 20, "Neighbours kept per item (other items; implicit's K=20 is k=19).", 1, 2000, log=True),
        Param("shrinkage", "float", 10.0, "Cosine only: sim = dot / (norm·norm + shrinkage).", 0.0, 1000.0),
        Param(
            "weighting",
            "choice",
            "cosine",
            "cosine = shrunk cosine; bm25 = BM25-weighted dot product; none = co-occurrence counts.",
            choices=("cosine", "bm25", "none"),
        ),
        Param("bm25_k1", "float", 1.2, "BM25 only: saturation k1.", 0.0, 100.0),
        Param("bm25_b", "float", 0.75, "BM25 only: length normalisation b (0 = none, 1 = full).", 0.0, 1.0),
    )
    task = "ranking"
    needs_ratings = False

    neighbours_: torch.Tensor | None = None
    weights_: torch.Tensor | None = None
    _similarity_t: Any = None  # cached Sᵀ for scoring (scipy CSR on CPU, torch CSR on CUDA)
    sparse_kernels: str | None = None  # "torch" / "scipy"; None = by device (see torch_sparse_kernels)

    def _prepare(self, train: Any) -> None:
        self.neighbours_ = None
        self.weights_ = None
        self._similarity_t = None

    def _weighted(self, binary: sp.csr_matrix) -> tuple[sp.csr_matrix, bool]:
        """The matrix whose column dot products are the similarities, and whether to divide by norms."""
        weighting = self.params["weighting"]
        if weighting == "bm25":
            return bm25_weights(binary, float(self.params["bm25_k1"]), float(self.params["bm25_b"])), False
        return binary, weighting == "cosine"

    def train_epoch(self, epoch: int, should_stop: ShouldStop = _never) -> dict[str, float]:
        """Compute the pruned similarity matrix (all in epoch 1; later epochs change nothing).

        Returns ``{"mean_similarity": ...}``: the mean weight of the kept neighbours (there is no training
        loss for a neighbourhood model; this shows how strong the kept similarities are).
        """
        if self.neighbours_ is None:
            self._fit()
        assert self.weights_ is not None
        used = self.weights_ != 0
        mean = float(self.weights_[used].mean()) if bool(used.any()) else 0.0
        return {"mean_similarity": mean}

    def _fit(self) -> None:
        binary = binary_rows(self._train())
        n_items = binary.shape[1]
        k = max(1, min(int(self.params["k"]), n_items - 1)) if n_items > 1 else 1
        weighted, use_norms = self._weighted(binary)
        shrinkage = float(self.params["shrinkage"])
        if use_norms:
            sq = np.asarray(weighted.multiply(weighted).sum(axis=0), dtype=np.float64).ravel()
            # an item nobody interacted with has norm 0 and dot products 0: dividing by 1 keeps them 0
            norms = torch.from_numpy(np.sqrt(np.where(sq > 0, sq, 1.0)).astype(np.float32)).to(self.device)
            shrink = torch.tensor(shrinkage, dtype=torch.float32, device=self.device)
        neighbours = torch.zeros((n_items, k), dtype=torch.int64, device=self.device)
        weights = torch.zeros((n_items, k), dtype=torch.float32, device=self.device)
        for start, stop, gram in item_gram_blocks(weighted, self.device, torch_kernels=torch_sparse_kernels(self)):
            rows = torch.arange(stop - start, device=self.device)
            if use_norms:
                gram.div_(torch.addr(shrink, norms[start:stop], norms))  # dot / (‖w_i‖·‖w_j‖ + shrinkage)
            elif shrinkage:
                gram.div_(1.0 + shrinkage)
            gram[rows, rows + start] = -torch.inf  # an item is not its own neighbour
            idx, vals = top_k_sets(gram, k)
            neighbours[start:stop] = idx
            weights[start:stop] = vals.clamp_(min=0.0)  # 0 marks an unused slot (no co-occurrence)
        self.neighbours_, self.weights_ = neighbours, weights
        self._similarity_t = None

    # ------------------------------------------------------------------ inference
    def _fitted(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.neighbours_ is None or self.weights_ is None:
            raise ConfigError(f"{self.name} is not trained yet.", field="model", hint="Call prepare/fit first.")
        return self.neighbours_, self.weights_

    def similarity_matrix(self) -> sp.csr_matrix:
        """The pruned similarity ``S`` as a float32 scipy CSR ``(n_items, n_items)``; row ``j`` = item ``j``'s
        neighbours (explicit zeros dropped)."""
        neighbours, weights = self._fitted()
        n_items, k = neighbours.shape
        s = sp.csr_matrix(
            (
                # copies: eliminate_zeros compacts the arrays in place, and .numpy() shares the tensors' memory
                weights.cpu().numpy().ravel().copy(),
                neighbours.cpu().numpy().ravel().copy(),
                np.arange(0, n_items * k + 1, k, dtype=np.int64),
            ),
            shape=(n_items, n_items),
        )
        s.eliminate_zeros()
        return s

    def _transposed_similarity(self) -> Any:
        if self._similarity_t is None:
            st = self.similarity_matrix().T.tocsr()
            st.sort_indices()
            self._similarity_t = _torch_csr(st, self.device) if torch_sparse_kernels(self) else st
        return self._similarity_t

    def score(self, users: np.ndarray) -> torch.Tensor:
        """``x_u · S`` for each user: float32 ``(len(users), n_items)`` on ``self.device``."""
        self._fitted()
        users = np.asarray(users, dtype=np.int64)
        binary = binary_rows(self._train()[users])
        st = self._transposed_similarity()
        on_torch = torch_sparse_kernels(self)
        n_items = self.n_items_
        out = torch.empty((len(users), n_items), dtype=torch.float32, device=self.device)
        step = max(1, BLOCK_CELLS // max(n_items, 1))
        for start in range(0, len(users), step):
            rows = binary[start : start + step]
            if on_torch:
                out[start : start + rows.shape[0]] = (st @ dense_rows(rows, self.device).T.contiguous()).T
            else:
                # Sᵀ (sparse) @ X_bᵀ (dense): scipy's fastest form here (measured 4× faster than X_b @ S)
                part = np.ascontiguousarray((st @ rows.T.toarray()).T, dtype=np.float32)
                out[start : start + rows.shape[0]] = torch.from_numpy(part).to(self.device)
        return out

    def fold_in(self, items: np.ndarray, ratings: np.ndarray | None = None) -> np.ndarray:
        """Exact scores for a history: ``Σ_j S[j, :]`` over the distinct history items (ratings ignored)."""
        neighbours, weights = self._fitted()
        hist = history_items(items, ratings, self.n_items_)
        out = torch.zeros(self.n_items_, dtype=torch.float32, device=self.device)
        if hist.size:
            h = torch.from_numpy(hist).to(self.device)
            out.index_add_(0, neighbours[h].reshape(-1), weights[h].reshape(-1))
        return out.cpu().numpy()

    def explain(self, user: int, item: int, top: int = 5) -> list[Contribution]:
        """Exact terms of ``item``'s score: each history item ``j`` contributes ``S[j, item]``, largest first.

        History items that do not have ``item`` among their neighbours contribute nothing and are left out.
        """
        neighbours, weights = self._fitted()
        item = check_index(item, self.n_items_, "item")
        history = self._train()[check_index(user, self.n_users_, "user")].indices.astype(np.int64)
        if history.size == 0:
            return []
        h = torch.from_numpy(history).to(self.device)
        terms = (weights[h] * (neighbours[h] == item)).sum(dim=1).cpu().numpy()
        return rank_contributions(history, terms, top)

    def similar_items(self, item: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items with the largest similarity ``S[item, :]`` (excluding ``item``; beyond its kept
        neighbours the order is by index, with similarity 0)."""
        neighbours, weights = self._fitted()
        row = torch.zeros((1, self.n_items_), dtype=torch.float32, device=self.device)
        row[0, neighbours[int(item)]] = weights[int(item)]
        row[0, int(item)] = -torch.inf
        idx, vals = top_k(row, k)
        return idx[0].cpu().numpy(), vals[0].cpu().numpy()

    # ------------------------------------------------------------------ persistence
    def state_tensors(self) -> dict[str, torch.Tensor]:
        neighbours, weights = self._fitted()
        return {"neighbours": neighbours, "weights": weights}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        self.neighbours_ = tensors["neighbours"].to(self.device, torch.int64)
        self.weights_ = tensors["weights"].to(self.device, torch.float32)
        self._similarity_t = None
