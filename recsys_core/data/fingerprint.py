"""Content fingerprints of interaction data and of the protocol that prepared it.

A fingerprint is a SHA-256 hex digest (64 characters; show :func:`short_fingerprint` in the UI). The data
fingerprint depends on the content as a *multiset* of (user, item, rating, timestamp) rows: the same
interactions saved in another row order, re-read from CSV or Parquet, or decoded from an
:class:`~recsys_core.data.interactions.Interactions` give the same value; any changed id, rating or timestamp,
an added or removed row, or an added or removed column changes it.

How: every row gets a 64-bit hash from its columns (integer ids, timestamps and float32 rating bits as they
are, string ids through ``pandas.util.hash_array``), rows are put in the order of those hashes, and the
columns' bytes in that order are fed to SHA-256 together with a small header (columns, id kinds, row count).
All numpy, no Python loop over rows.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys_core.data.interactions import IdKind, id_kind
from recsys_core.data.schema import ITEM, RATING, TIMESTAMP, USER, PreprocessConfig, SplitConfig
from recsys_core.errors import DataError

if TYPE_CHECKING:
    from recsys_core.data.interactions import IdIndex, Interactions

FORMAT_VERSION = 1  # bump when the hashed representation changes (old fingerprints no longer compare)
SHORT = 16


def short_fingerprint(fingerprint: str, n: int = SHORT) -> str:
    """The first ``n`` (default 16) hex characters, for display."""
    return fingerprint[:n]


_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)


def _mix_inplace(x: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 ``x`` in place (wrapping arithmetic): a well-spread 64-bit hash of each
    value. ``tmp`` is scratch space of the same shape; in-place ufuncs avoid a temporary per operation."""
    for shift, mult in ((30, _C1), (27, _C2), (31, None)):
        np.right_shift(x, np.uint64(shift), out=tmp)
        np.bitwise_xor(x, tmp, out=x)
        if mult is not None:
            np.multiply(x, mult, out=x)
    return x


def _string_hashes(values: Any) -> np.ndarray:
    """uint64 hash of each string; each distinct string is hashed once (factorise, hash, gather)."""
    codes, uniques = pd.factorize(values)
    if len(codes) and codes.min() < 0:
        raise DataError("Some ids are missing", code="missing_ids", hint="Remove the rows without an id")
    hashed = pd.util.hash_array(np.asarray(uniques, dtype=object), categorize=False)
    return hashed[codes]


def _id_words(values: Any, kind: IdKind) -> np.ndarray:
    """Ids as uint64 words: int64 bits for integer ids, a string hash for string ids."""
    if kind == "int":
        return np.asarray(values, dtype=np.int64).view(np.uint64)
    return _string_hashes(values)


def _index_words(index: IdIndex) -> np.ndarray:
    """uint64 words of every id of an :class:`IdIndex` (same values as :func:`_id_words` on the ids)."""
    if index.kind == "int":
        return index.ids.view(np.uint64)
    if len(index) == 0:
        return np.zeros(0, dtype=np.uint64)
    return pd.util.hash_array(index.ids, categorize=False)


def _rating_words(rating: np.ndarray) -> np.ndarray:
    """float32 rating bits as uint64, with -0.0 and all NaNs made canonical so equal values hash equal."""
    r = np.asarray(rating, dtype=np.float32) + np.float32(0.0)  # -0.0 + 0.0 == +0.0
    r = np.where(np.isnan(r), np.float32(np.nan), r).astype(np.float32)
    return r.view(np.uint32).astype(np.uint64)


def _digest(columns: dict[str, np.ndarray], kinds: dict[str, str]) -> str:
    """SHA-256 over a header and the uint64 columns, rows sorted by their combined row hash."""
    names = list(columns)
    n = int(next(iter(columns.values())).shape[0])
    row_hash = np.zeros(n, dtype=np.uint64)
    word = np.empty(n, dtype=np.uint64)
    tmp = np.empty(n, dtype=np.uint64)
    for j, name in enumerate(names):
        # row_hash = mix(row_hash ^ mix(column + salt_j)); the salt differs per column so that swapping
        # values between columns changes the row hash.
        np.add(columns[name], np.uint64(0x9E3779B97F4A7C15 * (j + 1) % 2**64), out=word)
        np.bitwise_xor(row_hash, _mix_inplace(word, tmp), out=row_hash)
        _mix_inplace(row_hash, tmp)
    order = np.argsort(row_hash, kind="stable")
    sha = hashlib.sha256()
    header = {"format": FORMAT_VERSION, "columns": names, "id_kinds": kinds, "rows": n}
    sha.update(json.dumps(header, sort_keys=True).encode())
    for name in names:
        sha.update(np.ascontiguousarray(columns[name][order]).astype("<u8", copy=False).data)
    return sha.hexdigest()


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 hex of a canonical interactions frame's content as a multiset of rows.

    Args:
        frame: canonical frame (``user``, ``item``, optional ``rating`` float32 and ``timestamp`` int64);
            other columns are ignored. Ratings are compared as float32, ids by value (int64) or text.

    Returns:
        64 hex characters; independent of row order and of the index.
    """
    missing = [c for c in (USER, ITEM) if c not in frame.columns]
    if missing:
        raise DataError(
            f"The interactions frame has no {' and no '.join(repr(c) for c in missing)} column",
            code="missing_column",
            column=missing[0],
        )
    kinds: dict[str, str] = {}
    columns: dict[str, np.ndarray] = {}
    for col in (USER, ITEM):
        kind = "int" if len(frame) == 0 else id_kind(frame[col])
        kinds[col] = kind
        columns[col] = _id_words(frame[col], kind)
    if RATING in frame.columns:
        columns[RATING] = _rating_words(frame[RATING].to_numpy(dtype=np.float32, na_value=np.nan))
    if TIMESTAMP in frame.columns:
        try:
            columns[TIMESTAMP] = frame[TIMESTAMP].to_numpy(dtype=np.int64).view(np.uint64)
        except (TypeError, ValueError) as exc:
            raise DataError(
                "The timestamp column has missing or non-integer values", code="bad_dtype", column=TIMESTAMP
            ) from exc
    return _digest(columns, kinds)


def interactions_fingerprint(data: Interactions) -> str:
    """SHA-256 hex of encoded interactions' content; equals ``frame_fingerprint(data.to_frame())``.

    Ids are hashed by their original values, so the fingerprint does not depend on the index spaces (a test
    part encoded into the training ids has the fingerprint of its own frame).
    """
    kinds = {USER: data.users.kind, ITEM: data.items.kind}
    if data.n_interactions == 0:
        kinds = {USER: "int", ITEM: "int"}  # as frame_fingerprint sees an empty frame
    columns: dict[str, np.ndarray] = {
        USER: _index_words(data.users)[data.user_idx],
        ITEM: _index_words(data.items)[data.item_idx],
    }
    if data.rating is not None:
        columns[RATING] = _rating_words(data.rating)
    if data.timestamp is not None:
        columns[TIMESTAMP] = data.timestamp.view(np.uint64)
    return _digest(columns, kinds)


# Preprocessing options added after fingerprints were first recorded, with their defaults: a run recorded
# before an option existed must rebuild to the same fingerprint (runs.worker.load_run_data checks it).
_ADDED_LATER: dict[str, object] = {"pseudonymise_users": False}


def data_fingerprint(raw_fingerprint: str, preprocess: PreprocessConfig, split: SplitConfig | None) -> str:
    """SHA-256 hex of the raw data fingerprint and the configs that turned it into training data.

    Args:
        raw_fingerprint: :func:`frame_fingerprint` of the data as loaded (before preprocessing).
        preprocess: the preprocessing options.
        split: the split options, or None (no split yet).

    Returns:
        64 hex characters; changes with any option (canonical JSON with sorted keys).
    """
    pre = preprocess.to_dict()
    for option in _ADDED_LATER:  # at their default they are left out, so earlier fingerprints stay the same
        if pre.get(option) == _ADDED_LATER[option]:
            pre.pop(option)
    payload = {
        "format": FORMAT_VERSION,
        "data": raw_fingerprint,
        "preprocess": pre,
        "split": None if split is None else split.to_dict(),
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
