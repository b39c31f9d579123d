"""The shared vocabulary of the data layer: canonical column names and the small config objects.

A *canonical interactions frame* is a ``pandas.DataFrame`` with these columns, whatever the input was:

============  ======================================================================
``user``      original user id (int64 when every id is an integer, else string)
``item``      original item id (same rule)
``rating``    float32; absent for implicit data (clicks, plays without counts)
``timestamp`` int64 seconds since the Unix epoch (UTC); absent when the input has none
============  ======================================================================

Config objects are frozen dataclasses with ``to_dict``/``from_dict`` so they can be stored in a run's
protocol and hashed into its fingerprint.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from recsys_core.errors import ConfigError

USER = "user"
ITEM = "item"
RATING = "rating"
TIMESTAMP = "timestamp"
CANONICAL_COLUMNS = (USER, ITEM, RATING, TIMESTAMP)

# item metadata columns
TITLE = "title"
GENRES = "genres"  # list of strings per item (multi-valued categories)
TEXT = "text"


class _Config:
    """Mixin: dict round-trip and validation hook for frozen config dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, d: dict[str, Any]):  # type: ignore[no-untyped-def]
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = set(d) - names
        if unknown:
            raise ConfigError(
                f"Unknown option(s) for {cls.__name__}: {', '.join(sorted(unknown))}.",
                field=sorted(unknown)[0],
                hint=f"Known options: {', '.join(sorted(names))}.",
            )
        return cls(**d)


@dataclass(frozen=True)
class ColumnMapping(_Config):
    """Which input column holds what. ``rating`` and ``timestamp`` are optional."""

    user: str
    item: str
    rating: str | None = None
    timestamp: str | None = None


@dataclass(frozen=True)
class ReadInfo(_Config):
    """How a file was read, for display and for the data fingerprint."""

    source: str  # file name or path as the user knows it
    format: str  # csv | parquet | jsonl | movielens-100k | movielens-dat | ...
    delimiter: str | None = None
    has_header: bool = True
    encoding: str | None = None
    compression: str | None = None  # gzip | zip | None
    n_rows: int = 0
    n_bytes: int = 0


@dataclass(frozen=True)
class Counts(_Config):
    users: int
    items: int
    interactions: int


@dataclass(frozen=True)
class StepReport(_Config):
    """What one preprocessing or split step did, so the UI can show it before training."""

    step: str
    params: dict[str, Any]
    before: Counts
    after: Counts
    note: str = ""


DuplicatePolicy = Literal["first", "last", "mean", "max", "sum"]
Normalisation = Literal["none", "global", "user_mean", "user_zscore"]


@dataclass(frozen=True)
class PreprocessConfig(_Config):
    """Cleaning steps, applied in this order: duplicates → implicit threshold → k-core → normalisation →
    pseudonymisation.

    Attributes:
        duplicates: how to merge repeated (user, item) pairs; ``first``/``last`` keep one row in time
            order (file order without timestamps); ``mean``/``max``/``sum`` aggregate ratings and keep
            the latest timestamp.
        implicit_threshold: if set, ratings >= threshold become positive interactions (rating 1.0) and
            the others are dropped; the result is implicit feedback.
        min_user_interactions: iterative k-core: users with fewer interactions are removed (0 = off).
        min_item_interactions: same for items.
        normalisation: rating normalisation; ``global`` subtracts the global mean, ``user_mean``
            each user's mean, ``user_zscore`` centres and divides by each user's std. Reversible.
        pseudonymise_users: replace the user ids by 1..n in order of first appearance, keeping no mapping, so
            the saved dataset, its runs and every export hold no original user id. Not reversible.
    """

    duplicates: DuplicatePolicy = "last"
    implicit_threshold: float | None = None
    min_user_interactions: int = 0
    min_item_interactions: int = 0
    normalisation: Normalisation = "none"
    pseudonymise_users: bool = False

    def __post_init__(self) -> None:
        if self.duplicates not in ("first", "last", "mean", "max", "sum"):
            raise ConfigError(
                f"duplicates must be one of first, last, mean, max, sum; got {self.duplicates!r}.",
                field="duplicates",
            )
        if self.normalisation not in ("none", "global", "user_mean", "user_zscore"):
            raise ConfigError(
                f"normalisation must be one of none, global, user_mean, user_zscore; got {self.normalisation!r}.",
                field="normalisation",
            )
        for name in ("min_user_interactions", "min_item_interactions"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise ConfigError(f"{name} must be an integer >= 0; got {v!r}.", field=name)


SplitMethod = Literal["random", "user_random", "temporal", "user_temporal"]


@dataclass(frozen=True)
class SplitConfig(_Config):
    """How to carve train / (validation) / test. Every method is seeded and reproducible.

    Methods:
        random: a global random fraction of interactions goes to test (and validation).
        user_random: per user, a random fraction of that user's interactions (each user keeps at
            least one training interaction).
        temporal: a global time cutoff: the latest ``test_fraction`` of interactions (by timestamp)
            are test; validation is the slice just before it.
        user_temporal: per user, the latest fraction, or the last ``test_last_n`` interactions
            (``test_last_n=1`` is leave-last-out); each user keeps at least one training interaction.

    Attributes:
        test_fraction: share of interactions (per user for ``user_*``) held out for test, in (0, 1).
        val_fraction: share held out for validation, carved the same way; 0 = no validation part.
        test_last_n / val_last_n: for ``user_temporal``: a count per user instead of a fraction.
        seed: random seed (ignored by the temporal methods except for tie-breaking).
    """

    method: SplitMethod = "user_random"
    test_fraction: float = 0.2
    val_fraction: float = 0.0
    test_last_n: int | None = None
    val_last_n: int | None = None
    seed: int = 42

    def __post_init__(self) -> None:
        if self.method not in ("random", "user_random", "temporal", "user_temporal"):
            raise ConfigError(
                f"method must be one of random, user_random, temporal, user_temporal; got {self.method!r}.",
                field="method",
            )
        if not 0.0 < self.test_fraction < 1.0 and self.test_last_n is None:
            raise ConfigError(
                f"test_fraction must be between 0 and 1 (exclusive); got {self.test_fraction}.",
                field="test_fraction",
            )
        if not 0.0 <= self.val_fraction < 1.0 or self.val_fraction + self.test_fraction >= 1.0:
            raise ConfigError(
                "val_fraction must be >= 0 and val_fraction + test_fraction < 1; "
                f"got val_fraction={self.val_fraction}, test_fraction={self.test_fraction}.",
                field="val_fraction",
            )
        for name in ("test_last_n", "val_last_n"):
            v = getattr(self, name)
            if v is not None:
                if self.method != "user_temporal":
                    raise ConfigError(f"{name} only applies to method='user_temporal'.", field=name)
                if not isinstance(v, int) or v < 1:
                    raise ConfigError(f"{name} must be an integer >= 1; got {v!r}.", field=name)


# The split a saved dataset trains with when none was saved with it: the same for the dashboard's Train page,
# `runs submit --dataset` and `data save` (per-user random, 20% test, 10% validation for early stopping).
DATASET_SPLIT = SplitConfig(method="user_random", test_fraction=0.2, val_fraction=0.1, seed=42)
