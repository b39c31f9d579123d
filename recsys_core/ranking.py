"""Top-K selection shared by models and the evaluation protocol.

Ties are broken deterministically by the lower item index, so two runs (and two libraries following the
same rule) produce the same lists. ``torch.topk`` alone does not guarantee any order among equal scores.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch


def mask_items(scores: torch.Tensor, rows: sp.csr_matrix, value: float = -torch.inf) -> torch.Tensor:
    """Set ``scores[i, j] = value`` wherever ``rows[i, j]`` is stored (e.g. a user's training items). In place.

    Args:
        scores: (b, n_items) float tensor.
        rows: (b, n_items) CSR matrix whose stored entries mark the items to exclude.
    """
    if rows.nnz == 0:
        return scores
    coo = rows.tocoo()
    r = torch.from_numpy(coo.row.astype(np.int64)).to(scores.device)
    c = torch.from_numpy(coo.col.astype(np.int64)).to(scores.device)
    scores[r, c] = value
    return scores


def _order_within(scores: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sort each row's chosen indices by score descending, then by index ascending."""
    idx = torch.sort(idx, dim=1).values
    vals = torch.gather(scores, 1, idx)
    order = torch.sort(vals, dim=1, descending=True, stable=True).indices
    return torch.gather(idx, 1, order), torch.gather(vals, 1, order)


def _top_k_with_ties(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Exact lowest-index tie filling at the k-th place (slower; used only for rows that need it)."""
    b = scores.shape[0]
    threshold = torch.topk(scores, k, dim=1, sorted=True).values[:, -1:]
    greater = scores > threshold
    n_greater = greater.sum(dim=1, keepdim=True)
    ties = scores == threshold
    tie_rank = torch.cumsum(ties.to(torch.int32), dim=1)
    chosen = greater | (ties & (tie_rank <= (k - n_greater)))
    return torch.nonzero(chosen, as_tuple=False)[:, 1].reshape(b, k)


def top_k(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices and values of the ``k`` highest scores per row, best first; ties → lower index first.

    Entries equal to ``-inf`` (masked) are never preferred over finite ones; if a row has fewer than ``k``
    finite scores, the tail of that row holds masked items and callers should treat ``-inf`` values as padding.

    Args:
        scores: (b, n) float tensor.
        k: list length; clipped to n.

    Returns:
        (indices int64 (b, k), values (b, k)).
    """
    b, n = scores.shape
    k = min(int(k), n)
    if k == 0 or b == 0:
        return (
            torch.empty((b, 0), dtype=torch.int64, device=scores.device),
            torch.empty((b, 0), dtype=scores.dtype, device=scores.device),
        )
    kk = min(k + 1, n)
    vals, idx = torch.topk(scores, kk, dim=1, sorted=True)
    idx = idx[:, :k].clone()
    if kk > k:
        # rows where the k-th and (k+1)-th scores tie: topk may have picked an arbitrary one of the ties
        tied = torch.nonzero(vals[:, k - 1] == vals[:, k], as_tuple=False)[:, 0]
        if tied.numel():
            idx[tied] = _top_k_with_ties(scores[tied], k)
    return _order_within(scores, idx)
