"""Saved datasets: a named, preprocessed interaction log (+ optional item metadata) kept as Parquet.

Layout under ``$RECLAB_HOME/datasets/<name>/``: ``interactions.parquet``, ``items.parquet`` (optional) and
``dataset.json`` (fingerprint, counts, where it came from, the preprocessing that produced it and its reports,
the default split). A save writes into a temporary folder and renames it into place, so a failed save never
leaves a half-written dataset and never touches another one.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from recsys_core.config import reclab_home
from recsys_core.data.fingerprint import frame_fingerprint
from recsys_core.data.schema import ITEM, RATING, TIMESTAMP, USER
from recsys_core.errors import ConfigError, DataError

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,63}$")


@dataclass
class DatasetInfo:
    """What ``dataset.json`` holds about one saved dataset."""

    name: str
    fingerprint: str
    n_users: int
    n_items: int
    n_interactions: int
    has_rating: bool
    has_timestamp: bool
    has_items: bool
    created_at: float
    source: dict[str, Any] = field(default_factory=dict)
    preprocess: dict[str, Any] = field(default_factory=dict)
    reports: list[dict[str, Any]] = field(default_factory=list)
    split: dict[str, Any] = field(default_factory=dict)
    normaliser: dict[str, Any] | None = None  # RatingNormaliser.to_dict() when ratings were normalised

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetInfo:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Dataset:
    """A loaded dataset: its info, canonical interactions frame and optional item metadata frame."""

    info: DatasetInfo
    interactions: pd.DataFrame
    items: pd.DataFrame | None = None


def check_dataset_name(name: str) -> str:
    """Return the stripped name, or raise :class:`ConfigError` saying what a valid name looks like."""
    name = (name or "").strip()
    if not _NAME_RE.match(name):
        raise ConfigError(
            f"'{name}' is not a valid dataset name.",
            field="name",
            hint="Use 1-64 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit.",
        )
    return name


def suggest_dataset_name(label: str) -> str:
    """A valid dataset name derived from a free-text label (e.g. an upload's file name)."""
    name = re.sub(r"[^A-Za-z0-9 _.\-]+", " ", label or "").strip(" ._-")
    name = re.sub(r"\s+", " ", name)[:64].strip()
    return name or "dataset"


class DatasetStore:
    """Named datasets under one folder (default ``$RECLAB_HOME/datasets``)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else reclab_home() / "datasets"
        self.root.mkdir(parents=True, exist_ok=True)

    def _dir(self, name: str) -> Path:
        return self.root / check_dataset_name(name)

    def exists(self, name: str) -> bool:
        return (self._dir(name) / "dataset.json").exists()

    def save(
        self,
        name: str,
        interactions: pd.DataFrame,
        *,
        items: pd.DataFrame | None = None,
        source: dict[str, Any] | None = None,
        preprocess: dict[str, Any] | None = None,
        reports: list[dict[str, Any]] | None = None,
        split: dict[str, Any] | None = None,
        normaliser: dict[str, Any] | None = None,
        overwrite: bool = False,
    ) -> DatasetInfo:
        """Save a canonical interactions frame (and item metadata) under ``name``.

        Raises:
            ConfigError: invalid name, or the name is taken and ``overwrite`` is False.
        """
        target = self._dir(name)
        if target.exists() and not overwrite:
            raise ConfigError(
                f"A dataset named '{target.name}' already exists.",
                field="name",
                hint="Pick another name, or choose to replace it.",
            )
        for col in (USER, ITEM):
            if col not in interactions.columns:
                raise DataError(f"The frame to save has no '{col}' column", code="missing_column", column=col)
        info = DatasetInfo(
            name=target.name,
            fingerprint=frame_fingerprint(interactions),
            n_users=int(interactions[USER].nunique()),
            n_items=int(interactions[ITEM].nunique()),
            n_interactions=len(interactions),
            has_rating=RATING in interactions.columns,
            has_timestamp=TIMESTAMP in interactions.columns,
            has_items=items is not None,
            created_at=time.time(),
            source=dict(source or {}),
            preprocess=dict(preprocess or {}),
            reports=list(reports or []),
            split=dict(split or {}),
            normaliser=normaliser,
        )
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=self.root))
        try:
            interactions.reset_index(drop=True).to_parquet(tmp / "interactions.parquet", index=False)
            if items is not None:
                items.reset_index(drop=True).to_parquet(tmp / "items.parquet", index=False)
            (tmp / "dataset.json").write_text(json.dumps(asdict(info), indent=2, default=str))
            if target.exists():
                backup = target.with_name(f".{target.name}.old-{int(time.time() * 1000)}")
                target.rename(backup)
                tmp.rename(target)
                shutil.rmtree(backup, ignore_errors=True)
            else:
                tmp.rename(target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return info

    def info(self, name: str) -> DatasetInfo:
        path = self._dir(name) / "dataset.json"
        if not path.exists():
            raise ConfigError(
                f"No saved dataset named '{name}'.",
                field="name",
                hint=f"Saved datasets: {', '.join(self.names()) or 'none yet'}.",
            )
        return DatasetInfo.from_dict(json.loads(path.read_text()))

    def load(self, name: str) -> Dataset:
        info = self.info(name)
        folder = self._dir(name)
        frame = pd.read_parquet(folder / "interactions.parquet")
        items = pd.read_parquet(folder / "items.parquet") if (folder / "items.parquet").exists() else None
        if items is not None and "genres" in items.columns:
            items["genres"] = items["genres"].map(lambda g: [] if g is None else list(g))
        return Dataset(info=info, interactions=frame, items=items)

    def names(self) -> list[str]:
        return sorted(p.parent.name for p in self.root.glob("*/dataset.json") if not p.parent.name.startswith("."))

    def list(self) -> list[DatasetInfo]:
        """Saved datasets, newest first."""
        infos = [self.info(n) for n in self.names()]
        return sorted(infos, key=lambda i: i.created_at, reverse=True)

    def delete(self, name: str) -> None:
        folder = self._dir(name)
        if folder.exists():
            shutil.rmtree(folder)
