"""Saved datasets: a named, preprocessed interaction log (+ optional item metadata) kept as Parquet.

Layout under ``$RECLAB_HOME/datasets/<name>/``: ``interactions.parquet``, ``items.parquet`` (optional) and
``dataset.json`` (fingerprint, counts, where it came from, the preprocessing that produced it and its reports,
the default split). A save writes into a temporary folder and renames it into place, so a failed save never
leaves a half-written dataset and never touches another one.

Old versions are kept. Runs pin the version they were trained on by its fingerprint (a hash of the
interactions), so replacing a dataset must not destroy the data those runs need: the replaced version's folder
is moved, unchanged, to ``$RECLAB_HOME/datasets/.versions/<name>/<fingerprint>/`` (with a ``kept.json`` saying
when and why), and ``load(name, fingerprint=...)`` finds it there. Deleting a dataset moves its current version
there too; ``delete(name, all_versions=True)`` removes everything. Kept versions are never listed by
:meth:`DatasetStore.names` / :meth:`DatasetStore.list`; :meth:`DatasetStore.kept_versions` lists them with their
size and :meth:`DatasetStore.prune_versions` removes the ones no run needs (``python -m recsys_core data prune``
asks the run store which those are). A version is stored once: saving content that a kept version holds makes
it current again and drops the kept copy.

The dataset last made active in the dashboard is remembered in ``$RECLAB_HOME/settings.json``
(:func:`remember_active_dataset`, :func:`remembered_active_dataset`), so new sessions start on it.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from recsys_core.config import read_settings, reclab_home, update_settings
from recsys_core.data.fingerprint import frame_fingerprint
from recsys_core.data.schema import DATASET_SPLIT, ITEM, RATING, TIMESTAMP, USER, SplitConfig
from recsys_core.errors import ConfigError, DataError

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,63}$")
_FINGERPRINT_RE = re.compile(r"^[0-9a-f]{1,64}$")
VERSIONS_DIR = ".versions"  # kept versions: <root>/.versions/<name>/<fingerprint>/ (hidden: never a dataset name)
KEPT_FILE = "kept.json"  # in a kept version's folder: when and why it stopped being current
ACTIVE_SETTING = "active_dataset"  # settings.json key: the dataset last made active

log = logging.getLogger("reclab.data.store")


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

    def split_config(self) -> SplitConfig:
        """The split this dataset trains with: the one saved with it, else :data:`DATASET_SPLIT` (what every
        entry point, the dashboard and the command line, uses)."""
        return SplitConfig.from_dict(self.split) if self.split else DATASET_SPLIT


@dataclass
class Dataset:
    """A loaded dataset: its info, canonical interactions frame and optional item metadata frame."""

    info: DatasetInfo
    interactions: pd.DataFrame
    items: pd.DataFrame | None = None


@dataclass
class KeptVersion:
    """An older version of a dataset, kept because runs may have been trained on it."""

    name: str
    fingerprint: str
    kept_at: float  # when it stopped being the current version
    reason: str  # "replaced" or "deleted"
    n_bytes: int  # disk space it takes
    path: Path
    info: DatasetInfo | None  # None when its dataset.json is unreadable


def check_fingerprint(fingerprint: str) -> str:
    """Return the fingerprint, or raise :class:`ConfigError` when it is not a (lower-case hex) fingerprint."""
    text = str(fingerprint or "").strip()
    if not _FINGERPRINT_RE.match(text):
        raise ConfigError(
            f"'{fingerprint}' is not a dataset fingerprint.",
            field="fingerprint",
            hint="A fingerprint is up to 64 hexadecimal digits, as `python -m recsys_core data versions` shows.",
        )
    return text


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "an unknown date"


def _short(fingerprint: str) -> str:
    return f"{fingerprint[:16]}…" if len(fingerprint) > 16 else fingerprint


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


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
    """Named datasets under one folder (default ``$RECLAB_HOME/datasets``), with their older versions kept
    under ``.versions/`` (see the module docstring)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else reclab_home() / "datasets"
        self.root.mkdir(parents=True, exist_ok=True)

    @property
    def versions_root(self) -> Path:
        """Where kept versions live: ``<root>/.versions/<name>/<fingerprint>/``."""
        return self.root / VERSIONS_DIR

    def _dir(self, name: str) -> Path:
        return self.root / check_dataset_name(name)

    def _version_dir(self, name: str, fingerprint: str) -> Path:
        return self.versions_root / check_dataset_name(name) / check_fingerprint(fingerprint)

    def exists(self, name: str) -> bool:
        """Whether ``name`` has a current version (kept versions alone do not count)."""
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

        With ``overwrite``, a dataset of that name becomes a kept version (unless its interactions are the
        same as the new ones): runs trained on it still load exactly their data.

        Raises:
            ConfigError: invalid name, or the name is taken and ``overwrite`` is False.
        """
        target = self._dir(name)
        if target.exists() and not overwrite:
            raise ConfigError(
                f"A dataset named '{target.name}' already exists.",
                field="name",
                hint="Pick another name, or choose to replace it (runs trained on it keep their version).",
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
        trash: list[Path] = []
        try:
            interactions.reset_index(drop=True).to_parquet(tmp / "interactions.parquet", index=False)
            if items is not None:
                items.reset_index(drop=True).to_parquet(tmp / "items.parquet", index=False)
            (tmp / "dataset.json").write_text(json.dumps(asdict(info), indent=2, default=str))
            if target.exists():
                trash += self._retire(target, reason="replaced", replaced_by=info.fingerprint)
            tmp.rename(target)
            # the current version now holds this content: a kept copy of it would be a duplicate
            kept = self.versions_root / target.name / info.fingerprint
            if kept.exists():
                trash.append(self._to_trash(kept))
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        for folder in trash:  # only once the new version is in place (a failed save leaves them, hidden)
            shutil.rmtree(folder, ignore_errors=True)
        return info

    def _to_trash(self, folder: Path) -> Path:
        """Rename ``folder`` to a hidden name in the root (one atomic step); the caller removes it."""
        trash = self.root / f".trash-{folder.name}-{time.time_ns()}"
        folder.rename(trash)
        return trash

    def _retire(self, folder: Path, *, reason: str, replaced_by: str | None = None) -> list[Path]:
        """Move a current version out of the way: into the kept versions, or (when the new version has the
        same interactions) into the trash. Returns folders for the caller to remove."""
        try:
            old_fp = DatasetInfo.from_dict(json.loads((folder / "dataset.json").read_text())).fingerprint
            check_fingerprint(old_fp)
        except (OSError, ValueError, TypeError):  # no or damaged dataset.json: keep it, by date, for a person
            old_fp = None
        if old_fp is not None and old_fp == replaced_by:
            return [self._to_trash(folder)]
        dest = self.versions_root / folder.name / (old_fp or f"unreadable-{time.time_ns()}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        trash = [self._to_trash(dest)] if dest.exists() else []  # the same content kept before: newer wins
        folder.rename(dest)
        try:
            kept = {"kept_at": time.time(), "reason": reason, "replaced_by": replaced_by}
            (dest / KEPT_FILE).write_text(json.dumps(kept, indent=2))
        except OSError as err:  # the data itself is safe; only the note of when is missing
            log.warning("could not write %s: %s", dest / KEPT_FILE, err)
        return trash

    def info(self, name: str, fingerprint: str | None = None) -> DatasetInfo:
        """The current version's info, or with ``fingerprint`` that version's (current or kept).

        Raises:
            ConfigError: no saved dataset of that name (without ``fingerprint``).
            DataError: the version with that fingerprint is neither current nor kept (code
                ``dataset_version_gone``).
        """
        if fingerprint is not None:
            folder = self._find_version(name, fingerprint)
            return DatasetInfo.from_dict(json.loads((folder / "dataset.json").read_text()))
        path = self._dir(name) / "dataset.json"
        if not path.exists():
            raise ConfigError(
                f"No saved dataset named '{name}'.",
                field="name",
                hint=f"Saved datasets: {', '.join(self.names()) or 'none yet'}.",
            )
        return DatasetInfo.from_dict(json.loads(path.read_text()))

    def has_version(self, name: str, fingerprint: str) -> bool:
        """Whether the version of ``name`` with this fingerprint can be loaded (current or kept)."""
        try:
            self._find_version(name, fingerprint)
        except DataError:
            return False
        return True

    def _current_fingerprint(self, name: str) -> str | None:
        try:
            return self.info(name).fingerprint
        except (ConfigError, OSError, ValueError):
            return None

    def _find_version(self, name: str, fingerprint: str) -> Path:
        fingerprint = check_fingerprint(fingerprint)
        if self._current_fingerprint(name) == fingerprint:
            return self._dir(name)
        kept = self._version_dir(name, fingerprint)
        if (kept / "dataset.json").exists():
            return kept
        if self._current_fingerprint(name) == fingerprint:  # it was saved again meanwhile
            return self._dir(name)
        raise self._version_gone(name, fingerprint)

    def _version_gone(self, name: str, fingerprint: str) -> DataError:
        name = check_dataset_name(name)
        what = f"Dataset '{name}' no longer has the version with fingerprint {_short(fingerprint)}"
        try:
            current = self.info(name)
        except (ConfigError, OSError, ValueError):
            current = None
        if current is not None:
            what += (
                f": it was replaced (the current version, fingerprint {_short(current.fingerprint)}, was saved on "
                f"{_when(current.created_at)}) and the old version was not kept"
            )
        else:
            what += ": the dataset was deleted and that version was not kept"
        what += " (it was pruned, deleted with all its versions, or replaced before RecLab kept old versions)"
        return DataError(
            what,
            code="dataset_version_gone",
            hint=(
                "Retrain on the current data, or save the original data with the same cleaning under the name "
                f"'{name}' again: the same content gets the same fingerprint, and the runs find it"
            ),
        )

    def load(self, name: str, fingerprint: str | None = None) -> Dataset:
        """The current version of ``name``, or with ``fingerprint`` exactly that version (current or kept).

        Raises:
            ConfigError: no saved dataset of that name (without ``fingerprint``).
            DataError: that version is gone (code ``dataset_version_gone``); the message says when the dataset
                was replaced or deleted and what to do.
        """
        if fingerprint is None:
            return self._read(self._dir(name), self.info(name))
        for _ in range(3):
            folder = self._find_version(name, fingerprint)
            try:
                info = DatasetInfo.from_dict(json.loads((folder / "dataset.json").read_text()))
                dataset = self._read(folder, info)
            except FileNotFoundError:  # replaced or pruned while we read it: look again
                continue
            if info.fingerprint == fingerprint and self._folder_fingerprint(folder) == fingerprint:
                return dataset  # (a concurrent replace renames the folder away; then we look again)
        raise self._version_gone(name, fingerprint)

    @staticmethod
    def _folder_fingerprint(folder: Path) -> str | None:
        try:
            return json.loads((folder / "dataset.json").read_text()).get("fingerprint")
        except (OSError, ValueError, AttributeError):
            return None

    @staticmethod
    def _read(folder: Path, info: DatasetInfo) -> Dataset:
        frame = pd.read_parquet(folder / "interactions.parquet")
        items = pd.read_parquet(folder / "items.parquet") if (folder / "items.parquet").exists() else None
        if items is not None and "genres" in items.columns:
            items["genres"] = items["genres"].map(lambda g: [] if g is None else list(g))
        return Dataset(info=info, interactions=frame, items=items)

    def names(self) -> list[str]:
        """Names of the saved datasets (current versions only)."""
        return sorted(p.parent.name for p in self.root.glob("*/dataset.json") if not p.parent.name.startswith("."))

    def list(self) -> list[DatasetInfo]:
        """Saved datasets (current versions only), newest first."""
        infos = [self.info(n) for n in self.names()]
        return sorted(infos, key=lambda i: i.created_at, reverse=True)

    def kept_versions(self, name: str | None = None) -> list[KeptVersion]:
        """Older versions kept on disk (of ``name``, or of every dataset), newest first."""
        if name is not None:
            folders = [self.versions_root / check_dataset_name(name)]
        else:
            folders = sorted(p for p in self.versions_root.glob("*") if p.is_dir())
        kept: list[KeptVersion] = []
        for parent in folders:
            for folder in sorted(p for p in parent.glob("*") if p.is_dir()):
                try:
                    note = json.loads((folder / KEPT_FILE).read_text())
                except (OSError, ValueError):
                    note = {}
                try:
                    info: DatasetInfo | None = DatasetInfo.from_dict(json.loads((folder / "dataset.json").read_text()))
                except (OSError, ValueError, TypeError):
                    info = None
                kept.append(
                    KeptVersion(
                        name=parent.name,
                        fingerprint=folder.name,
                        kept_at=float(note.get("kept_at") or folder.stat().st_mtime),
                        reason=str(note.get("reason") or "replaced"),
                        n_bytes=_folder_bytes(folder),
                        path=folder,
                        info=info,
                    )
                )
        return sorted(kept, key=lambda k: k.kept_at, reverse=True)

    def prune_versions(
        self, keep: Iterable[str] = (), *, name: str | None = None, dry_run: bool = False
    ) -> list[KeptVersion]:
        """Remove kept versions (of ``name``, or of every dataset) whose fingerprint is not in ``keep``.

        Pass the fingerprints runs still need (:func:`recsys_core.runs.jobs.dataset_versions_in_use`, or
        ``python -m recsys_core data prune``, which asks the run store). Current versions are never touched.
        Returns the versions removed (or, with ``dry_run``, that would be).
        """
        keep = set(keep)
        gone = [k for k in self.kept_versions(name) if k.fingerprint not in keep]
        if not dry_run:
            for k in gone:
                shutil.rmtree(k.path, ignore_errors=True)
            for parent in {k.path.parent for k in gone}:
                if parent.is_dir() and not any(parent.iterdir()):
                    parent.rmdir()
        return gone

    def delete(self, name: str, *, all_versions: bool = False) -> None:
        """Delete a dataset: it is no longer listed, and its current version becomes a kept version so runs
        trained on it still load (remove those with :meth:`prune_versions`). With ``all_versions``, the current
        and every kept version are removed from disk at once."""
        folder = self._dir(name)
        trash: list[Path] = []
        if folder.exists():
            if all_versions:
                trash.append(self._to_trash(folder))
            else:
                trash += self._retire(folder, reason="deleted")
        kept = self.versions_root / folder.name
        if all_versions and kept.exists():
            trash.append(self._to_trash(kept))
        for t in trash:
            shutil.rmtree(t, ignore_errors=True)


def remember_active_dataset(name: str | None) -> bool:
    """Remember ``name`` as the dataset new dashboard sessions start on (None: the built-in one).

    Returns False, logging why, when the settings file cannot be written: the current session's choice
    still holds, only new sessions start on the built-in data.
    """
    try:
        update_settings({ACTIVE_SETTING: name})
    except OSError as err:
        log.warning("could not remember the active dataset %r: %s", name, err)
        return False
    return True


def remembered_active_dataset(store: DatasetStore | None = None) -> str | None:
    """The dataset last made active, if it is still a saved dataset; None otherwise (no error: new sessions
    then start on the built-in data)."""
    name = read_settings().get(ACTIVE_SETTING)
    if not isinstance(name, str):
        return None
    try:
        return name if (store or DatasetStore()).exists(name) else None
    except (ConfigError, OSError):
        return None
