"""Fixtures for the model tests."""

from __future__ import annotations

from collections.abc import Iterator

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
