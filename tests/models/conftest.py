"""Fixtures for the model tests."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import torch


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Run single-threaded: the tensors here are tiny, and on a busy CPU OpenMP threads waiting at barriers make
    training 10-20x slower (speed is not what these tests check)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def rank3_ratings(n_users: int = 60, n_items: int = 40, density: float = 0.5, seed: int = 0) -> pd.DataFrame:
    """Ratings from a rank-3 model with user and item biases, rounded to whole stars in [1, 5]; user ids start
    at 100 and item ids at 1000 (ids ≠ indices on purpose)."""
    rng = np.random.default_rng(seed)
    u_f, i_f = rng.normal(0, 0.7, (n_users, 3)), rng.normal(0, 0.7, (n_items, 3))
    b_u, b_i = rng.normal(0, 0.4, n_users), rng.normal(0, 0.4, n_items)
    users, items = np.nonzero(rng.random((n_users, n_items)) < density)
    true = 3.4 + b_u[users] + b_i[items] + (u_f[users] * i_f[items]).sum(1)
    rating = np.clip(np.round(true + rng.normal(0, 0.3, users.size)), 1, 5)
    return pd.DataFrame({"user": users + 100, "item": items + 1000, "rating": rating.astype(np.float32)})
