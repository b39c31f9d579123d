"""Fixtures for the run-store and job tests: small synthetic interaction files and a store per test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core.runs import jobs as jobs_module
from recsys_core.runs.store import RunStore


def write_split(folder: Path, n_users: int = 40, n_items: int = 30, per_user: int = 10, seed: int = 0) -> dict:
    """train.csv / test.csv (last 3 per user) / all.csv with ratings 1-5 and timestamps."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    items = np.concatenate([rng.choice(n_items, size=per_user, replace=False) for _ in range(n_users)])
    frame = pd.DataFrame(
        {
            "user": users,
            "item": items,
            "rating": rng.integers(1, 6, size=len(users)).astype(float),
            "timestamp": 1_600_000_000 + 100 * np.tile(np.arange(per_user), n_users),
        }
    )
    test = frame.groupby("user").cumcount() >= per_user - 3
    paths = {name: folder / f"{name}.csv" for name in ("all", "train", "test")}
    frame.to_csv(paths["all"], index=False)
    frame[~test].to_csv(paths["train"], index=False)
    frame[test].to_csv(paths["test"], index=False)
    return paths


@pytest.fixture
def split_files(tmp_path: Path) -> dict:
    return write_split(tmp_path)


@pytest.fixture
def store(reclab_home: Path) -> RunStore:
    return RunStore(home=reclab_home)


@pytest.fixture(autouse=True)
def _default_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SQLite file under the test's RECLAB_HOME, whatever the environment says."""
    monkeypatch.delenv("RECLAB_DB", raising=False)
    monkeypatch.delenv("RECLAB_MAX_JOBS", raising=False)


@pytest.fixture(autouse=True)
def _no_leftover_workers():
    """Every worker a test started is reaped or killed before the next test (no stray processes)."""
    yield
    for proc in list(jobs_module._CHILDREN.values()):
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
    jobs_module._CHILDREN.clear()
