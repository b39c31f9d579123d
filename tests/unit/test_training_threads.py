"""Intra-op threads during training: SGD models' epochs run on one CPU thread, and the count is restored."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_core.data.interactions import Interactions
from recsys_core.device import cpu_threads
from recsys_core.models import create
from recsys_core.training import fit


@pytest.fixture
def two_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _ratings() -> Interactions:
    rng = np.random.default_rng(0)
    users, items = np.nonzero(rng.random((30, 20)) < 0.4)
    return Interactions.from_frame(
        pd.DataFrame({"user": users, "item": items, "rating": rng.integers(1, 6, users.size).astype(np.float32)})
    )


@pytest.mark.usefixtures("two_threads")
def test_cpu_threads_sets_the_count_for_the_block_and_restores_it() -> None:
    with cpu_threads(1, "cpu"):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError), cpu_threads(1, "cpu"):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == 2  # restored after an error too
    for n, device in ((None, "cpu"), (1, "cuda:0"), (1, "mps")):
        with cpu_threads(n, device):
            assert torch.get_num_threads() == 2  # nothing to do off the CPU or without a count


@pytest.mark.usefixtures("two_threads")
@pytest.mark.parametrize(("name", "expected"), [("biased_mf", 1), ("bpr", 1), ("mlp", 1), ("ials", 2)])
def test_fit_runs_each_epoch_with_the_models_cpu_thread_count(
    name: str, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = create(name, device="cpu", **({"iterations": 2} if name == "ials" else {"epochs": 2}))
    seen: list[int] = []
    original = model.train_epoch

    def recording(epoch: int, should_stop: object) -> dict[str, float]:
        seen.append(torch.get_num_threads())
        return original(epoch, should_stop)  # type: ignore[arg-type]

    monkeypatch.setattr(model, "train_epoch", recording)
    fit(model, _ratings())
    assert seen == [expected, expected]
    assert torch.get_num_threads() == 2
