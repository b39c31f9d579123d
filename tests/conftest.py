"""Fixtures shared by every test: an isolated RECLAB_HOME per test, so no test touches ./reclab_data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def reclab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "reclab_home"
    monkeypatch.setenv("RECLAB_HOME", str(home))
    return home


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` (benchmark datasets, never committed); skips the test when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present (it is never part of a clone)")
    return SHARED_DATA
