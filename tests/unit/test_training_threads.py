"""Process settings for training: SGD models' epochs run on one CPU thread (the count is restored after), and
glibc keeps freed step temporaries for reuse."""

from __future__ import annotations

import platform
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_core import device
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
    for n, where in ((None, "cpu"), (1, "cuda:0"), (1, "mps")):
        with cpu_threads(n, where):
            assert torch.get_num_threads() == 2  # nothing to do off the CPU or without a count


@pytest.mark.usefixtures("two_threads")
@pytest.mark.parametrize(("name", "expected"), [("biased_mf", 1), ("bpr", 1), ("mlp", 1), ("ials", 1), ("ease", 2)])
def test_fit_runs_each_epoch_with_the_models_cpu_thread_count(
    name: str, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = {"ials": {"iterations": 2}, "ease": {}}.get(name, {"epochs": 2})
    model = create(name, device="cpu", **params)
    seen: list[int] = []
    original = model.train_epoch

    def recording(epoch: int, should_stop: object) -> dict[str, float]:
        seen.append(torch.get_num_threads())
        return original(epoch, should_stop)  # type: ignore[arg-type]

    monkeypatch.setattr(model, "train_epoch", recording)
    fit(model, _ratings())
    assert seen == [expected] * model.n_epochs
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, True), ({"RECLAB_TUNE_MALLOC": "0"}, False), ({"MALLOC_TRIM_THRESHOLD_": "1000000"}, False)],
)
def test_tune_allocator_is_on_by_default_on_glibc_and_yields_to_the_users_settings(
    env: dict[str, str], expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt is glibc's")
    for name in ("RECLAB_TUNE_MALLOC", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(device, "_allocator_tuned", None)  # as in a fresh process
    assert device.tune_allocator() is expected
    assert device.tune_allocator() is expected  # once per process: the second call only reports


@pytest.mark.usefixtures("two_threads")
def test_ials_keeps_all_threads_on_data_above_its_one_thread_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("recsys_core.models.als._SMALL_FOR_ONE_THREAD", 10)  # the test data counts as large
    model = create("ials", device="cpu", iterations=2)
    seen: list[int] = []
    original = model.train_epoch
    monkeypatch.setattr(model, "train_epoch", lambda e, s: (seen.append(torch.get_num_threads()), original(e, s))[1])
    fit(model, _ratings())
    assert model.train_cpu_threads is None and seen == [2, 2]
