"""Train / validation / test splits of encoded interactions, seeded and vectorised.

Every method assigns each interaction to exactly one part; the parts are :meth:`Interactions.subset` views
that share the data's user and item id spaces, so indices mean the same thing in all three. Per-user methods
rank each user's interactions (randomly or by time) with one sort and compare the rank with a per-user quota
computed by array arithmetic: no Python loop over users.

Quotas round half to even (Python's ``round``): ``round(0.2 * n_u)`` interactions of a user with ``n_u``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from recsys_core.data.interactions import Interactions
from recsys_core.data.schema import Counts, SplitConfig
from recsys_core.errors import ConfigError, DataError

TRAIN, VAL, TEST = 0, 1, 2
PART_NAMES = ("train", "validation", "test")


@dataclass(frozen=True)
class SplitReport:
    """Sizes of the parts, for display before training.

    Attributes:
        train / val / test: users, items (present in that part) and interactions; ``val`` is None without
            a validation part.
        test_users_without_train / test_items_without_train: users (items) with test interactions but none
            in train (cold start: a model cannot score them from their history).
        val_users_without_train / val_items_without_train: same for validation (0 without validation).
        note: one line summarising how the split was made.
    """

    train: Counts
    val: Counts | None
    test: Counts
    test_users_without_train: int
    test_items_without_train: int
    val_users_without_train: int
    val_items_without_train: int
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "train": self.train.to_dict(),
            "val": None if self.val is None else self.val.to_dict(),
            "test": self.test.to_dict(),
            "test_users_without_train": self.test_users_without_train,
            "test_items_without_train": self.test_items_without_train,
            "val_users_without_train": self.val_users_without_train,
            "val_items_without_train": self.val_items_without_train,
            "note": self.note,
        }

    def rows(self) -> list[dict[str, Any]]:
        """One record per part (``part``, ``users``, ``items``, ``interactions``, ``users_without_train``) for
        a table."""
        out = [{"part": "train", **self.train.to_dict(), "users_without_train": 0}]
        if self.val is not None:
            out.append(
                {"part": "validation", **self.val.to_dict(), "users_without_train": self.val_users_without_train}
            )
        out.append({"part": "test", **self.test.to_dict(), "users_without_train": self.test_users_without_train})
        return out


@dataclass(frozen=True)
class Split:
    """The parts of a split. All share ``users``/``items`` with the data that was split.

    Attributes:
        train: training interactions (original row order).
        val: validation interactions, or None when ``config.val_fraction == 0`` and no ``val_last_n``.
        test: test interactions.
        config: the :class:`SplitConfig` used.
        report: sizes of the parts and cold-start counts.
        assignment: ``int8 (n,)`` part of each row of the split data: 0 train, 1 validation, 2 test (compact
            to store; ``data.subset(assignment == 2)`` rebuilds the test part).
    """

    train: Interactions
    val: Interactions | None
    test: Interactions
    config: SplitConfig
    report: SplitReport
    assignment: np.ndarray

    def parts(self) -> list[tuple[str, Interactions]]:
        """``[("train", ...), ("validation", ...), ("test", ...)]`` without the missing validation part."""
        named = [("train", self.train), ("validation", self.val), ("test", self.test)]
        return [(n, p) for n, p in named if p is not None]


# ---------------------------------------------------------------------------------------------- helpers


def _round_half_even(x: np.ndarray) -> np.ndarray:
    """Python ``round`` semantics, vectorised (``np.round`` rounds half to even too), as int64."""
    return np.round(x).astype(np.int64)


def _wants_val(config: SplitConfig) -> bool:
    return config.val_fraction > 0 or config.val_last_n is not None


def _need_timestamps(data: Interactions, config: SplitConfig) -> None:
    if data.timestamp is None:
        raise ConfigError(
            f"The {config.method} split needs timestamps, and this data has none.",
            field="method",
            hint="Choose the random or user_random split, or map a timestamp column when reading the file.",
        )


def _time_order(ts: np.ndarray) -> np.ndarray:
    """Rows by time; equal timestamps keep row (file) order, so the split is deterministic."""
    return np.argsort(ts, kind="stable")


def _grouped_order(user: np.ndarray, rank_key: np.ndarray) -> np.ndarray:
    """Row permutation sorting by (user, rank_key) where ``rank_key`` is a permutation of ``0..n-1``.

    The composite key ``user * n + rank_key`` is unique, so one unstable (fast) sort gives the same order
    as a stable lexicographic one.
    """
    n = rank_key.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if (int(user.max()) + 1) * n < 2**62:
        return np.argsort(user.astype(np.int64) * n + rank_key)
    return np.lexsort((rank_key, user))


def _per_user_parts(
    data: Interactions, order: np.ndarray, n_test: np.ndarray, n_val: np.ndarray, *, from_end: bool
) -> np.ndarray:
    """Assign parts per user. ``order`` sorts the rows by user (then by whatever ranks them within a user);
    the first (or last, ``from_end``) ``n_test[u]`` rows of each user go to test, the next ``n_val[u]`` to
    validation, the rest to train."""
    n = data.n_interactions
    user_sorted = data.user_idx[order].astype(np.int64)
    counts = data.user_counts()
    starts = np.zeros(data.n_users + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    rank = np.arange(n, dtype=np.int64) - starts[user_sorted]  # 0-based position within the user
    if from_end:
        rank = counts[user_sorted] - 1 - rank  # 0 = the user's latest
    q_test = n_test[user_sorted]
    q_val = n_val[user_sorted]
    part_sorted = np.where(rank < q_test, TEST, np.where(rank < q_test + q_val, VAL, TRAIN)).astype(np.int8)
    part = np.empty(n, dtype=np.int8)
    part[order] = part_sorted
    return part


def _user_quotas(counts: np.ndarray, config: SplitConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per-user test and validation sizes: users with >= 2 interactions get >= 1 test and keep >= 1 train;
    users with one interaction stay in train. Validation takes what test leaves, still keeping 1 train."""
    if config.test_last_n is not None:
        want_test = np.full(counts.shape, config.test_last_n, dtype=np.int64)
    else:
        want_test = np.maximum(_round_half_even(config.test_fraction * counts), 1)
    n_test = np.where(counts >= 2, np.minimum(want_test, counts - 1), 0)
    if config.val_last_n is not None:
        want_val = np.full(counts.shape, config.val_last_n, dtype=np.int64)
    elif config.val_fraction > 0:
        want_val = _round_half_even(config.val_fraction * counts)
    else:
        want_val = np.zeros(counts.shape, dtype=np.int64)
    n_val = np.clip(want_val, 0, np.maximum(counts - 1 - n_test, 0))
    return n_test, n_val


def _global_sizes(n: int, config: SplitConfig) -> tuple[int, int]:
    """Global test and validation sizes: at least one test row, at least one train row."""
    n_test = min(max(round(config.test_fraction * n), 1), n - 1)
    n_val = min(round(config.val_fraction * n), n - 1 - n_test)
    return n_test, n_val


# ---------------------------------------------------------------------------------------------- methods


def _assign(data: Interactions, config: SplitConfig) -> tuple[np.ndarray, str]:
    n = data.n_interactions
    rng = np.random.default_rng(config.seed)
    method = config.method
    if method == "random":
        n_test, n_val = _global_sizes(n, config)
        perm = rng.permutation(n)
        part = np.zeros(n, dtype=np.int8)
        part[perm[:n_test]] = TEST
        part[perm[n_test : n_test + n_val]] = VAL
        return (
            part,
            f"random: {n_test:,} test and {n_val:,} validation interactions drawn at random (seed {config.seed})",
        )
    if method == "temporal":
        _need_timestamps(data, config)
        n_test, n_val = _global_sizes(n, config)
        order = _time_order(data.timestamp)  # type: ignore[arg-type]
        part = np.zeros(n, dtype=np.int8)
        part[order[n - n_test :]] = TEST
        part[order[n - n_test - n_val : n - n_test]] = VAL
        cutoff = int(data.timestamp[order[n - n_test]])  # type: ignore[index]
        when = np.datetime_as_string(np.datetime64(cutoff, "s"))
        return part, f"temporal: the latest {n_test:,} interactions (from {when} UTC) are test"
    counts = data.user_counts()
    n_test_u, n_val_u = _user_quotas(counts, config)
    if method == "user_random":
        order = _grouped_order(data.user_idx, rng.permutation(n))
        part = _per_user_parts(data, order, n_test_u, n_val_u, from_end=False)
        what = f"{config.test_fraction:g} of each user's interactions at random (seed {config.seed})"
    else:  # user_temporal
        _need_timestamps(data, config)
        # By user, then time, ties in row order: the latest rows of each user come last.
        part = _per_user_parts(data, data.user_time_order(), n_test_u, n_val_u, from_end=True)
        what = (
            f"each user's last {config.test_last_n}"
            if config.test_last_n is not None
            else f"each user's latest {config.test_fraction:g}"
        ) + " interactions"
    n_single = int(np.count_nonzero(counts == 1))
    note = f"{method}: {what} are test"
    if n_single:
        note += f"; {n_single:,} users with a single interaction stay in train"
    return part, note


def _without_train(train: Interactions, other: Interactions) -> tuple[int, int]:
    users = np.count_nonzero((other.user_counts() > 0) & (train.user_counts() == 0))
    items = np.count_nonzero((other.item_counts() > 0) & (train.item_counts() == 0))
    return int(users), int(items)


def split(data: Interactions, config: SplitConfig | None = None) -> Split:
    """Split ``data`` into train / (validation) / test by ``config.method``.

    Methods (see :class:`SplitConfig`): ``random`` (global random fractions), ``user_random`` (per-user
    random fractions), ``temporal`` (global time cut: the latest ``test_fraction`` is test, the
    ``val_fraction`` just before it validation), ``user_temporal`` (per user the latest fraction, or the last
    ``test_last_n`` / ``val_last_n``). Fractions are shares of all interactions (of each user's for the
    per-user methods); validation is carved the same way from what test leaves. Per-user methods give every
    user with >= 2 interactions >= 1 test interaction and keep >= 1 in train; users with one interaction stay
    in train. Ties in time keep row order; ``seed`` drives the random methods (same seed → same split).

    Args:
        data: encoded interactions (at least 2).
        config: the split options; default ``SplitConfig()`` (user_random, 20 % test, seed 42).

    Returns:
        :class:`Split`; each part keeps the original row order and shares ``data.users`` / ``data.items``.

    Raises:
        ConfigError: a temporal method on data without timestamps.
        DataError: ``too_few_interactions`` for fewer than 2 interactions.
    """
    config = config or SplitConfig()
    if data.n_interactions < 2:
        raise DataError(
            f"A split needs at least 2 interactions; the data has {data.n_interactions}",
            code="too_few_interactions",
            hint="Load more data or relax the preprocessing filters",
        )
    part, note = _assign(data, config)
    train = data.subset(part == TRAIN)
    test = data.subset(part == TEST)
    val = data.subset(part == VAL) if _wants_val(config) else None
    t_users, t_items = _without_train(train, test)
    v_users, v_items = _without_train(train, val) if val is not None else (0, 0)
    report = SplitReport(
        train=train.counts(),
        val=None if val is None else val.counts(),
        test=test.counts(),
        test_users_without_train=t_users,
        test_items_without_train=t_items,
        val_users_without_train=v_users,
        val_items_without_train=v_items,
        note=note,
    )
    return Split(train=train, val=val, test=test, config=config, report=report, assignment=part)
