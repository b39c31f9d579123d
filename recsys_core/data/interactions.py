"""The encoded interaction log every model, split and metric works on.

A canonical interactions frame (see :mod:`recsys_core.data.schema`) carries original ids (int64 or string).
:class:`Interactions` replaces them by contiguous ``int32`` indices into two :class:`IdIndex` objects (users,
items) and keeps ratings and timestamps as plain numpy arrays, so downstream code can build sparse matrices,
per-user histories and tensors without touching pandas again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_core.data.schema import ITEM, RATING, TIMESTAMP, USER, Counts
from recsys_core.errors import DataError

if TYPE_CHECKING:
    import torch

IdKind = Literal["int", "str"]
MAX_SAMPLE_ROWS = 5


def id_kind(values: Any) -> IdKind:
    """``"int"`` for integer ids, ``"str"`` for string ids; anything else is a :class:`DataError`.

    Args:
        values: a Series, Index or numpy array of ids (a list is converted with ``np.asarray``).
    """
    if isinstance(values, (list, tuple)):
        values = np.asarray(values)
    if pd.api.types.is_integer_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return "int"
    if pd.api.types.is_string_dtype(values):
        return "str"
    if pd.api.types.is_object_dtype(values):
        # Object arrays with missing values (None) are not "string dtype"; judge them by their other values.
        inferred = pd.api.types.infer_dtype(values, skipna=True)
        if inferred in ("string", "empty"):
            return "str"
        if inferred == "integer":
            return "int"
    dtype = getattr(values, "dtype", type(values))
    raise DataError(
        f"Ids must be integers or strings, got values of type {dtype}",
        code="bad_id_dtype",
        hint="Read the id column as text or whole numbers (no decimals, no missing values)",
    )


def _as_id_array(values: Any, kind: IdKind) -> np.ndarray:
    """Ids as a numpy array in storage form: int64 for integer ids, object (Python ``str``) for strings."""
    if kind == "int":
        return np.asarray(values, dtype=np.int64)
    return np.asarray(values, dtype=object)


def _sorted_int_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(codes int32, sorted distinct ids int64)`` of int64 ids without hashing, or None when not cheap.

    Two common cases skip pandas' hash table and its sort of the distinct ids (about half the cost of
    encoding a big file): ids already in ascending order (a log grouped by user in id order), where a
    code is the number of id changes so far, and ids in a range of at most ``2 * len(values)`` values
    (items, or users numbered 1..n), coded through a lookup table over that range.
    """
    n = len(values)
    if n == 0 or n >= 2**31:
        return None
    head = values[:1000]  # most unsorted ids show it at once: skip the full pass for them
    if not (head[1:] < head[:-1]).any() and not (values[1:] < values[:-1]).any():
        codes = np.empty(n, dtype=np.int32)
        codes[0] = 0
        np.not_equal(values[1:], values[:-1], out=codes[1:])
        starts = np.flatnonzero(codes)
        np.cumsum(codes, out=codes)
        return codes, values[np.concatenate(([0], starts))]
    low, high = int(values.min()), int(values.max())
    base = 0 if low >= 0 and high < 2 * n else low  # ids from 0 or 1 index the table as they are
    if high - base >= 2 * n:
        return None
    offsets = values if base == 0 else values - base
    present = np.zeros(high - base + 1, dtype=bool)
    present[offsets] = True
    lookup = np.cumsum(present, dtype=np.int32)
    lookup -= 1
    return lookup[offsets], np.flatnonzero(present) + base


class IdIndex:
    """Bidirectional map between original ids and contiguous ``int32`` indices ``0 .. len - 1``.

    Args:
        ids: the unique original ids in index order (index ``k`` is ``ids[k]``); int64 or strings.

    Attributes:
        ids: numpy array of the original ids; int64 for integer ids, object (``str``) for string ids.
        kind: ``"int"`` or ``"str"``.
    """

    def __init__(self, ids: np.ndarray | Sequence[Any]) -> None:
        arr = np.asarray(ids)
        if arr.ndim != 1:
            raise DataError("Ids must be a one-dimensional array", code="bad_id_dtype")
        # An empty array has float dtype by default; treat it as an (empty) integer index.
        self.kind: IdKind = "int" if arr.size == 0 else id_kind(arr)
        self.ids: np.ndarray = _as_id_array(arr, self.kind)
        self._index: pd.Index | None = None
        self._decoded: pd.Index | None = None
        if not self._pandas_index().is_unique:
            dup = pd.Index(self.ids).duplicated()
            raise DataError(
                f"An id index must hold unique ids; {int(dup.sum()):,} ids are repeated",
                code="duplicate_ids",
                sample=[{"id": v} for v in self.ids[dup][:MAX_SAMPLE_ROWS].tolist()],
            )

    def _pandas_index(self) -> pd.Index:
        # Built lazily: the hash table behind get_indexer costs O(n) and is only needed for lookups.
        if self._index is None:
            self._index = pd.Index(self.ids, dtype=np.int64 if self.kind == "int" else object)
        return self._index

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def __repr__(self) -> str:
        head = ", ".join(repr(v) for v in self.ids[:3].tolist())
        more = ", …" if len(self) > 3 else ""
        return f"IdIndex({len(self):,} {self.kind} ids: [{head}{more}])"

    def equals(self, other: IdIndex) -> bool:
        """True when both indices map the same ids to the same indices (same kind, same order)."""
        return self is other or (
            self.kind == other.kind and len(self) == len(other) and bool(np.array_equal(self.ids, other.ids))
        )

    @classmethod
    def from_values(cls, values: Any) -> tuple[IdIndex, np.ndarray]:
        """Index of the distinct ids in ``values`` (sorted ascending) and each value's ``int32`` code.

        Args:
            values: ids, one per interaction (Series, Index or array; int or str, no missing values).

        Returns:
            ``(index, codes)`` where ``codes`` is ``int32 (len(values),)`` and ``index.ids[codes]`` equals
            ``values``.
        """
        if isinstance(values, (list, tuple)):
            values = np.asarray(values)
        kind = "int" if len(values) == 0 else id_kind(values)
        fast = _sorted_int_codes(np.asarray(values)) if values.dtype == np.int64 else None
        codes, uniques = fast if fast is not None else pd.factorize(values, sort=True)
        if len(codes) and codes.min() < 0:
            missing = np.flatnonzero(codes < 0)
            raise DataError(
                "Some ids are missing (empty cells)",
                code="missing_ids",
                rows=(missing[:MAX_SAMPLE_ROWS] + 1).tolist(),
                n_rows=int(missing.size),
                hint="Remove the rows without an id, or fill them in",
            )
        index = cls.__new__(cls)
        index.kind = kind
        index.ids = _as_id_array(uniques, kind)
        index._index = None
        index._decoded = None
        return index, codes.astype(np.int32, copy=False)

    def to_index(self, ids: Any, *, missing: Literal["error", "drop"] | int = "error") -> np.ndarray:
        """Indices (``int32``) of original ids, vectorised.

        Integer ids are matched against a string index by their decimal text, and numeric strings against an
        integer index by their value, because two files of the same data set may be read with different id
        types.

        Args:
            ids: original ids (array-like, or a single id).
            missing: what to do with ids not in the index: ``"error"`` (default) raises a
                :class:`DataError` with code ``unknown_ids``; ``"drop"`` leaves them out (the result is then
                shorter than ``ids``); an int (e.g. ``-1``) is put in their place.

        Returns:
            ``int32`` array of indices.
        """
        scalar = np.ndim(ids) == 0 and not isinstance(ids, (pd.Series, pd.Index))
        query = np.asarray([ids]) if scalar else ids
        if isinstance(query, (list, tuple)):
            query = np.asarray(query, dtype=object if any(isinstance(v, str) for v in query) else None)
        found = self._lookup(query)
        unknown = found < 0
        if unknown.any():
            if missing == "error":
                where = np.flatnonzero(unknown)
                sample = np.asarray(query, dtype=object)[where[:MAX_SAMPLE_ROWS]].tolist()
                raise DataError(
                    f"{where.size:,} of {len(found):,} ids are not known",
                    code="unknown_ids",
                    rows=(where[:MAX_SAMPLE_ROWS] + 1).tolist(),
                    n_rows=int(where.size),
                    hint=f"Known ids look like {self.ids[:3].tolist()}",
                    sample=[{"id": v} for v in sample],
                )
            if missing == "drop":
                found = found[~unknown]
            else:
                found = np.where(unknown, int(missing), found)
        return found.astype(np.int32, copy=False)

    def _lookup(self, query: Any) -> np.ndarray:
        """int64 positions of ``query`` in the index, -1 where absent."""
        n = len(query)
        if n == 0 or len(self) == 0:
            return np.full(n, -1, dtype=np.int64)
        # Look up each distinct query value once: factorising the query is a fast hash pass whatever its
        # dtype, while get_indexer on millions of strings of another string dtype is several times slower.
        codes, uniques = pd.factorize(query)
        found = self._lookup_unique(uniques)
        out = found[codes]
        out[codes < 0] = -1  # missing values in the query
        return out

    def _lookup_unique(self, query: Any) -> np.ndarray:
        """int64 positions of distinct values ``query`` in the index, -1 where absent."""
        n = len(query)
        if n == 0:
            return np.full(0, -1, dtype=np.int64)
        q_is_int = pd.api.types.is_integer_dtype(query) and not pd.api.types.is_bool_dtype(query)
        if self.kind == "str":
            if q_is_int:
                query = np.asarray(query).astype(str).astype(object)
            else:
                query = np.asarray(query, dtype=object)
            return np.asarray(self._pandas_index().get_indexer(query), dtype=np.int64)
        if q_is_int:
            return np.asarray(self._pandas_index().get_indexer(np.asarray(query, dtype=np.int64)), np.int64)
        # Integer index, non-integer query ("42", 42.0): match values that are whole numbers.
        num = pd.to_numeric(pd.Series(np.asarray(query, dtype=object)), errors="coerce")
        num = num.to_numpy(dtype=np.float64, na_value=np.nan)
        ok = np.isfinite(num) & (num == np.round(num))
        out = np.full(n, -1, dtype=np.int64)
        if ok.any():
            out[ok] = self._pandas_index().get_indexer(num[ok].astype(np.int64))
        return out

    def to_ids(self, idx: Any) -> np.ndarray:
        """Original ids of indices ``idx`` (array-like of ints); int64 or object (``str``) array."""
        return self.ids[np.asarray(idx, dtype=np.int64)]

    def decode(self, idx: Any) -> pd.Series:
        """Original ids of indices ``idx`` as a Series in pandas' default dtype for them (int64 or string).

        Faster than wrapping :meth:`to_ids` for string ids: the strings are converted to pandas' string
        dtype once per distinct id (cached) and then gathered.
        """
        idx = np.asarray(idx, dtype=np.int64)
        if self.kind == "int":
            return pd.Series(self.ids[idx], copy=False)
        if self._decoded is None:
            self._decoded = pd.Index(self.ids, dtype=pd.Series([""]).dtype)  # pandas' default string dtype
        return pd.Series(self._decoded.take(idx), copy=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"kind": "int" | "str", "ids": [...]}`` (ids as Python ints or strings)."""
        return {"kind": self.kind, "ids": self.ids.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IdIndex:
        """Inverse of :meth:`to_dict`."""
        kind = d.get("kind")
        if kind not in ("int", "str") or "ids" not in d:
            raise DataError(
                "A stored id index is malformed (needs 'kind' = 'int' or 'str' and 'ids')",
                code="bad_id_index",
            )
        ids = d["ids"]
        return cls(np.asarray(ids, dtype=np.int64 if kind == "int" else object))


def _frame_column(frame: pd.DataFrame, name: str, dtype: type) -> np.ndarray:
    """A writable copy of ``frame[name]`` as ``dtype`` (float32 ratings, int64 timestamps).

    Missing values, or values that do not convert (text, fractional timestamps), are a :class:`DataError`
    naming the column and the first rows.
    """
    col = frame[name]

    def fail(what: str, bad: np.ndarray, code: str) -> DataError:
        where = np.flatnonzero(bad)
        return DataError(
            f"Column '{name}' {what}",
            code=code,
            column=name,
            rows=(where[:MAX_SAMPLE_ROWS] + 1).tolist(),
            n_rows=int(where.size) if where.size else None,
            hint="Clean the data with the readers first (they produce canonical columns)",
        )

    missing = col.isna().to_numpy()
    if missing.any():
        raise fail(f"has {int(missing.sum()):,} missing values", missing, "missing_values")
    if np.dtype(dtype).kind == "i" and pd.api.types.is_float_dtype(col):
        values = col.to_numpy(dtype=np.float64)
        fractional = values != np.floor(values)
        if fractional.any():
            raise fail("has values that are not whole numbers", fractional, "bad_dtype")
    try:
        # copy=True: the container must neither share memory with a frame someone may still change (pandas 2)
        # nor hold the read-only views that copy-on-write hands out (pandas 3; torch warns on those).
        return col.to_numpy(dtype=dtype, copy=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise fail(f"cannot be read as {np.dtype(dtype).name}", np.zeros(0, dtype=bool), "bad_dtype") from exc


@dataclass(frozen=True, eq=False)
class Interactions:
    """Encoded interactions: index arrays into a user and an item :class:`IdIndex`. Immutable by convention.

    Attributes:
        user_idx: ``int32 (n,)`` user index of each interaction, in ``[0, n_users)``.
        item_idx: ``int32 (n,)`` item index of each interaction, in ``[0, n_items)``.
        rating: ``float32 (n,)`` or None for implicit feedback.
        timestamp: ``int64 (n,)`` seconds since the Unix epoch, or None.
        users: the user id space (may hold users with no interaction here, e.g. in a test part).
        items: the item id space (same).
        n_dropped_unknown: rows that :meth:`from_frame` left out because their user or item was not in the
            given indices (only with ``unknown="drop"``); 0 otherwise.

    Row order is meaningful: it is the original file order, used to break ties between equal timestamps.
    Do not modify the arrays in place; derived objects (CSR, histories) are cached.
    """

    user_idx: np.ndarray
    item_idx: np.ndarray
    rating: np.ndarray | None
    timestamp: np.ndarray | None
    users: IdIndex
    items: IdIndex
    n_dropped_unknown: int = 0
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        put = object.__setattr__  # frozen dataclass: normalise dtypes once, here
        put(self, "user_idx", np.ascontiguousarray(self.user_idx, dtype=np.int32))
        put(self, "item_idx", np.ascontiguousarray(self.item_idx, dtype=np.int32))
        n = self.user_idx.shape[0]
        if self.rating is not None:
            put(self, "rating", np.ascontiguousarray(self.rating, dtype=np.float32))
        if self.timestamp is not None:
            put(self, "timestamp", np.ascontiguousarray(self.timestamp, dtype=np.int64))
        for name in ("item_idx", "rating", "timestamp"):
            arr = getattr(self, name)
            if arr is not None and (arr.ndim != 1 or arr.shape[0] != n):
                raise ValueError(f"Interactions.{name} has shape {arr.shape}; expected ({n},)")
        for name, space in (("user_idx", self.users), ("item_idx", self.items)):
            arr = getattr(self, name)
            if n and (arr.min() < 0 or arr.max() >= len(space)):
                raise ValueError(f"Interactions.{name} has values outside [0, {len(space)})")

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        users: IdIndex | None = None,
        items: IdIndex | None = None,
        unknown: Literal["error", "drop"] = "error",
    ) -> Interactions:
        """Encode a canonical interactions frame.

        Args:
            frame: columns ``user``, ``item`` and optionally ``rating`` (float32) and ``timestamp`` (int64
                epoch seconds); other columns are ignored.
            users: map users into this existing id space (e.g. the training data's) instead of building one
                from the frame's distinct users (sorted ascending).
            items: same for items.
            unknown: with given ``users``/``items``, rows whose id is not in them raise a
                :class:`DataError` (code ``unknown_ids``, default) or are left out (``"drop"``; their number
                is in :attr:`n_dropped_unknown`).

        Returns:
            The encoded :class:`Interactions`, rows in frame order.
        """
        missing_cols = [c for c in (USER, ITEM) if c not in frame.columns]
        if missing_cols:
            raise DataError(
                f"The interactions frame has no {' and no '.join(repr(c) for c in missing_cols)} column",
                code="missing_column",
                column=missing_cols[0],
                hint="Map the user and item columns when reading the file",
            )
        if unknown not in ("error", "drop"):
            raise ValueError(f"unknown must be 'error' or 'drop'; got {unknown!r}")
        n = len(frame)
        codes: dict[str, np.ndarray] = {}
        spaces: dict[str, IdIndex] = {}
        unknown_rows = np.zeros(n, dtype=bool)
        unknown_cols: list[str] = []
        for col, given in ((USER, users), (ITEM, items)):
            if given is None:
                spaces[col], codes[col] = IdIndex.from_values(frame[col])
            else:
                spaces[col] = given
                found = given.to_index(frame[col], missing=-1)
                bad = found < 0
                if bad.any():
                    unknown_cols.append(col)
                    unknown_rows |= bad
                codes[col] = found
        rating = _frame_column(frame, RATING, np.float32) if RATING in frame.columns else None
        timestamp = _frame_column(frame, TIMESTAMP, np.int64) if TIMESTAMP in frame.columns else None
        n_dropped = 0
        if unknown_cols:
            where = np.flatnonzero(unknown_rows)
            if unknown == "error":
                parts = []
                for col in unknown_cols:
                    n_col = int((codes[col] < 0).sum())
                    parts.append(f"{n_col:,} rows have a{'n' if col == ITEM else ''} {col} id not in the index")
                sample_rows = frame.iloc[where[:MAX_SAMPLE_ROWS]]
                raise DataError(
                    "; ".join(parts) + " (ids the model has never seen)",
                    code="unknown_ids",
                    column=", ".join(unknown_cols),
                    rows=(where[:MAX_SAMPLE_ROWS] + 1).tolist(),
                    n_rows=int(where.size),
                    hint="Leave them out (unknown='drop'; cold-start ids cannot be scored) or add them "
                    "to the training data",
                    sample=sample_rows.to_dict(orient="records"),
                )
            keep = ~unknown_rows
            n_dropped = int(where.size)
            codes = {k: v[keep] for k, v in codes.items()}
            rating = rating[keep] if rating is not None else None
            timestamp = timestamp[keep] if timestamp is not None else None
        return cls(
            user_idx=codes[USER],
            item_idx=codes[ITEM],
            rating=rating,
            timestamp=timestamp,
            users=spaces[USER],
            items=spaces[ITEM],
            n_dropped_unknown=n_dropped,
        )

    def subset(self, rows: np.ndarray | Sequence[int] | Sequence[bool]) -> Interactions:
        """The interactions selected by a boolean mask ``(n,)`` or integer row indices, same id spaces.

        Row order follows the mask (original order) or the given indices. Used by the splits.
        """
        sel = np.asarray(rows)
        if sel.dtype == bool:
            if sel.shape != (self.n_interactions,):
                raise ValueError(f"mask has shape {sel.shape}; expected ({self.n_interactions},)")
        else:
            sel = sel.astype(np.int64, copy=False)
        return Interactions(
            user_idx=self.user_idx[sel],
            item_idx=self.item_idx[sel],
            rating=None if self.rating is None else self.rating[sel],
            timestamp=None if self.timestamp is None else self.timestamp[sel],
            users=self.users,
            items=self.items,
        )

    # ------------------------------------------------------------------ sizes

    @property
    def n_users(self) -> int:
        """Size of the user id space (not only users present here)."""
        return len(self.users)

    @property
    def n_items(self) -> int:
        """Size of the item id space (not only items present here)."""
        return len(self.items)

    @property
    def n_interactions(self) -> int:
        """Number of rows."""
        return int(self.user_idx.shape[0])

    def __len__(self) -> int:
        return self.n_interactions

    @property
    def is_implicit(self) -> bool:
        """True when there are no ratings (clicks, plays, purchases)."""
        return self.rating is None

    @property
    def has_timestamps(self) -> bool:
        """True when every interaction has a timestamp."""
        return self.timestamp is not None

    @property
    def density(self) -> float:
        """Interactions / (n_users × n_items) over the whole id spaces, in [0, 1] (0 for empty spaces)."""
        cells = self.n_users * self.n_items
        return self.n_interactions / cells if cells else 0.0

    def user_counts(self) -> np.ndarray:
        """Interactions per user, ``int64 (n_users,)``."""
        return np.bincount(self.user_idx, minlength=self.n_users).astype(np.int64, copy=False)

    def item_counts(self) -> np.ndarray:
        """Interactions per item, ``int64 (n_items,)``."""
        return np.bincount(self.item_idx, minlength=self.n_items).astype(np.int64, copy=False)

    def counts(self) -> Counts:
        """Distinct users and items *present* here, and the number of interactions."""
        return Counts(
            users=int(np.count_nonzero(self.user_counts())),
            items=int(np.count_nonzero(self.item_counts())),
            interactions=self.n_interactions,
        )

    def __repr__(self) -> str:
        kind = "implicit" if self.is_implicit else "explicit"
        return (
            f"Interactions({self.n_interactions:,} {kind} interactions, {self.n_users:,} users × "
            f"{self.n_items:,} items{', timestamps' if self.has_timestamps else ''})"
        )

    # ------------------------------------------------------------------ views

    def to_csr(self, values: Literal["rating", "ones"] = "rating") -> sp.csr_matrix:
        """User × item matrix, ``float32``, shape ``(n_users, n_items)``, sorted indices.

        Args:
            values: ``"rating"`` (ones for implicit data) or ``"ones"``. Repeated (user, item) pairs are
                summed (merge duplicates when preprocessing to avoid that).

        Computed once per object and cached: do not modify the returned matrix.
        """
        if values not in ("rating", "ones"):
            raise ValueError(f"values must be 'rating' or 'ones'; got {values!r}")
        key = "csr_ones" if values == "ones" or self.rating is None else "csr_rating"
        cached = self._cache.get(key)
        if cached is None:
            data = np.ones(self.n_interactions, np.float32) if key == "csr_ones" else self.rating
            cached = sp.csr_matrix(
                (data, (self.user_idx, self.item_idx)), shape=(self.n_users, self.n_items), dtype=np.float32
            )
            cached.sum_duplicates()  # also sorts indices; a no-op when already canonical
            cached.sort_indices()
            self._cache[key] = cached
        return cached

    def histories(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Per-user interactions in time order, CSR-like (cached).

        Ties between equal timestamps keep file order; without timestamps file order is the order.

        Returns:
            ``(indptr, items, ratings, timestamps)``: ``indptr`` is ``int64 (n_users + 1,)`` and user ``u``'s
            interactions are positions ``indptr[u]:indptr[u + 1]`` of ``items`` (``int32 (n,)``), ``ratings``
            (``float32 (n,)`` or None) and ``timestamps`` (``int64 (n,)`` or None).
        """
        cached = self._cache.get("histories")
        if cached is None:
            order = self.user_time_order()
            indptr = np.zeros(self.n_users + 1, dtype=np.int64)
            np.cumsum(self.user_counts(), out=indptr[1:])
            cached = (
                indptr,
                self.item_idx[order],
                None if self.rating is None else self.rating[order],
                None if self.timestamp is None else self.timestamp[order],
            )
            self._cache["histories"] = cached
        return cached

    def user_time_order(self) -> np.ndarray:
        """Row permutation (``int64 (n,)``) sorting by user, then timestamp, then row (file) order (cached).

        Without timestamps: by user, then row order. One stable sort; used by :meth:`histories` and the
        per-user temporal split.
        """
        cached = self._cache.get("user_time_order")
        if cached is not None:
            return cached
        if self.timestamp is None or self.n_interactions == 0:
            order = np.argsort(self.user_idx, kind="stable")
        else:
            t = self.timestamp
            t_min = int(t.min())
            span = int(t.max()) - t_min + 1
            if span * max(self.n_users, 1) < 2**62:
                # One composite int64 key (user major, time minor); the stable sort keeps file order in ties.
                order = np.argsort(self.user_idx.astype(np.int64) * span + (t - t_min), kind="stable")
            else:
                order = np.lexsort((t, self.user_idx))  # lexsort is stable too
        order = order.astype(np.int64, copy=False)
        self._cache["user_time_order"] = order
        return order

    def history(self, user_index: int) -> np.ndarray:
        """Item indices (``int32``) of one user (by index, not id), in time order."""
        indptr, items, _, _ = self.histories()
        return items[indptr[user_index] : indptr[user_index + 1]]

    def to_tensors(self, device: str = "cpu") -> dict[str, torch.Tensor]:
        """The arrays as torch tensors: ``user``/``item`` int32, ``rating`` float32, ``timestamp`` int64.

        On CPU the tensors share memory with the arrays (``torch.from_numpy``, no copy); keys for absent
        columns are left out. Use ``.long()`` where an int64 index is required.
        """
        import torch  # local import: the data layer must stay importable without touching torch

        arrays = {
            "user": self.user_idx,
            "item": self.item_idx,
            "rating": self.rating,
            "timestamp": self.timestamp,
        }
        out: dict[str, torch.Tensor] = {}
        for name, arr in arrays.items():
            if arr is None:
                continue
            if not arr.flags.writeable:  # torch refuses read-only buffers without a warning; copy those
                arr = arr.copy()
            out[name] = torch.from_numpy(arr).to(device)
        return out

    def to_frame(self) -> pd.DataFrame:
        """Decoded canonical frame (original ids), rows in this object's order.

        String ids get pandas' default string dtype (``object`` in pandas 2, ``str`` in pandas 3).
        """
        data: dict[str, Any] = {
            USER: self.users.decode(self.user_idx),
            ITEM: self.items.decode(self.item_idx),
        }
        if self.rating is not None:
            data[RATING] = self.rating.copy()
        if self.timestamp is not None:
            data[TIMESTAMP] = self.timestamp.copy()
        return pd.DataFrame(data, copy=False)  # every column is a fresh array already
