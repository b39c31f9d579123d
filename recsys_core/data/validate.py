"""Turn a table as read into the canonical interactions frame, or say precisely what is wrong.

:func:`to_canonical` checks and converts the mapped columns (ids, ratings, timestamps), raises a
:class:`DataError` naming the rows for anything that makes the data unusable, and returns
:class:`DataWarning` values for what is merely odd (duplicate pairs, a rating scale that looks like
counts, constant ratings). Everything is vectorised: it runs on every upload and is part of the ingest
benchmark, so the common case (integer ids and timestamps, numeric ratings) does no copying beyond the
float32 rating column.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from recsys_core.data.schema import ITEM, RATING, TIMESTAMP, USER, ColumnMapping
from recsys_core.errors import MAX_ROWS_SHOWN, DataError, DataWarning

_INT_TEXT = r"[-+]?\d{1,18}"
_DECIMAL_COMMA = r"\s*[-+]?\d+,\d+\s*"
_MAX_WHOLE_FLOAT = 2.0**53  # floats hold every integer exactly up to here
_MANY_RATING_VALUES = 50
_LARGE_RATING = 100.0
_SCALE_SAMPLE = 200_000  # rows looked at to count distinct rating values in big files
_MIXED_DATE_RETRY = 100_000  # at most this many rows are re-parsed one by one as mixed date formats
_THREADED_ROWS = 1_000_000  # below this, threads cost more than they save
_MAX_THREADS = 4
_BLOCK_ROWS = 1 << 18  # 2 MB of int64 temporaries per block
_GROUP_SLOTS = 1 << 20  # per-block table of the grouped duplicate check: 4 MB of int32, stays in cache
_MAX_GROUP_SLOTS = 1 << 22  # item id ranges wider than this go to the hash filter
_GROUP_BLOCK_ROWS = 4096  # at most one block per this many rows (Python overhead per block), else hash
# odd 64-bit multipliers for multiplicative hashing (2**64 / golden ratio, and a splitmix64 constant)
_HASH_MULTIPLIERS = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9)
# seconds per unit, and the magnitude from which epoch numbers are taken to be in that unit
_EPOCH_UNITS = ((1e17, 1_000_000_000, "nanoseconds"), (1e14, 1_000_000, "microseconds"), (1e11, 1_000, "milliseconds"))


def _rows(mask: np.ndarray) -> tuple[list[int], int]:
    """The first few 1-based row numbers where ``mask`` is true, and how many there are."""
    positions = np.flatnonzero(mask)
    return [int(p) + 1 for p in positions[:MAX_ROWS_SHOWN]], int(positions.size)


def _sample(df: pd.DataFrame, columns: Sequence[str], rows: Sequence[int]) -> list[dict[str, Any]]:
    """Offending rows as records ``{"row": n, column: value, ...}`` for display."""
    records = []
    for row in rows:
        record: dict[str, Any] = {"row": row}
        for c in columns:
            value = df[c].iloc[row - 1]
            record[c] = None if pd.isna(value) else (value.item() if hasattr(value, "item") else value)
        records.append(record)
    return records


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


# ---------------------------------------------------------------------------------------------------
# ids


def _missing_ids(mask: np.ndarray, column: str, role: str, file: str | None) -> DataError:
    rows, n = _rows(mask)
    return DataError(
        f"{_plural(n, 'row')} {'has' if n == 1 else 'have'} no {role} id",
        code="missing_id",
        file=file,
        column=column,
        rows=rows,
        n_rows=n,
        hint=f"Fill in the {role} ids or remove those rows",
    )


def _text_ids(text: pd.Series, column: str, role: str, file: str | None) -> pd.Series:
    """Strip text ids, reject empty ones, and turn them into int64 when every id is a plain integer."""
    text = text.str.strip()
    missing = (text.isna() | (text == "")).to_numpy(dtype=bool, na_value=True)
    if missing.any():
        raise _missing_ids(missing, column, role, file)
    # look at a sample first so that real text ids cost one cheap check, not a full regex pass
    head = text.iloc[:1000]
    if bool(head.str.fullmatch(_INT_TEXT).all()) and not bool(head.str.match(r"[-+]?0\d").any()):
        is_int = text.str.fullmatch(_INT_TEXT).all()
        leading_zero = text.str.match(r"[-+]?0\d").any()
        if is_int and not leading_zero:  # "007" and "7" must stay two different ids
            return pd.Series(text.astype("int64").to_numpy(), name=text.name, copy=False)
    return text


def canonical_ids(series: pd.Series, *, column: str, role: str = "item", file: str | None = None) -> pd.Series:
    """Apply the id rule of the canonical frame to one column.

    Integers (and floats that are all whole numbers, e.g. ``1.0`` from JSON) become int64; anything
    else becomes stripped strings. Text ids that are all plain integers without leading zeros also
    become int64, so ``"42"`` from JSON and ``42`` from CSV agree.

    Args:
        series: the raw column (any dtype).
        column: its name in the input, for messages.
        role: ``"user"`` or ``"item"``, for messages.
        file: the file name, for messages.

    Returns:
        A Series of int64 or of strings, same length and order (index not preserved).

    Raises:
        DataError: ``missing_id`` with the 1-based rows that have no id.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        series = series.astype(dtype.categories.dtype)
        dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        series = series.astype(str)
        dtype = series.dtype
    if pd.api.types.is_integer_dtype(dtype):
        missing = series.isna().to_numpy()
        if missing.any():  # nullable Int64 column
            raise _missing_ids(missing, column, role, file)
        if pd.api.types.is_unsigned_integer_dtype(dtype) and len(series) and series.max() > np.iinfo(np.int64).max:
            return series.astype(str).reset_index(drop=True)
        return pd.Series(series.to_numpy(dtype=np.int64), name=series.name, copy=False)
    if pd.api.types.is_float_dtype(dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(values)
        if missing.any():
            raise _missing_ids(missing, column, role, file)
        if np.all(np.abs(values) < _MAX_WHOLE_FLOAT) and np.all(values == np.floor(values)):
            return pd.Series(values.astype(np.int64), name=series.name, copy=False)
        return series.astype(str).reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        missing = series.isna().to_numpy()
        if missing.any():
            raise _missing_ids(missing, column, role, file)
        return series.astype(str).reset_index(drop=True)
    series = series.reset_index(drop=True)
    if not pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        # object columns (JSON, mixed types): decide from the values themselves
        missing = series.isna().to_numpy(dtype=bool)
        if missing.any():
            raise _missing_ids(missing, column, role, file)
        kind = pd.api.types.infer_dtype(series, skipna=False)
        if kind == "integer":
            try:
                return pd.Series(series.to_numpy(dtype=np.int64), name=series.name, copy=False)
            except (OverflowError, TypeError, ValueError):
                series = series.astype(str)  # integers beyond int64 stay exact as text
        elif kind in ("floating", "mixed-integer-float"):
            return canonical_ids(pd.to_numeric(series), column=column, role=role, file=file)
        elif kind != "string":
            series = series.astype(str)
    return _text_ids(series, column, role, file)


# ---------------------------------------------------------------------------------------------------
# ratings


def _ratings(df: pd.DataFrame, mapping: ColumnMapping, file: str | None) -> np.ndarray:
    column = str(mapping.rating)
    raw = df[column]
    if isinstance(raw.dtype, pd.CategoricalDtype):
        raw = raw.astype(raw.dtype.categories.dtype)
    shown = [mapping.user, mapping.item, column]
    if pd.api.types.is_bool_dtype(raw.dtype) and not raw.isna().any():
        return raw.to_numpy(dtype=np.float32)
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.to_numpy(dtype=np.float64 if raw.dtype != np.float32 else np.float32, na_value=np.nan)
    else:
        text = (
            raw
            if pd.api.types.is_string_dtype(raw.dtype) and not pd.api.types.is_object_dtype(raw.dtype)
            else raw.astype(str)
        )
        text = text.where(raw.notna())
        numbers = pd.to_numeric(text, errors="coerce")
        present = text.notna() & (text.str.strip() != "")
        bad = (numbers.isna() & present).to_numpy(dtype=bool)
        if bad.any() and bool(text[bad].str.fullmatch(_DECIMAL_COMMA).all()):
            # European decimal commas ("3,5") in a ';'-separated file
            numbers = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
            bad = (numbers.isna() & present).to_numpy(dtype=bool)
        if bad.any():
            # rows without a rating are named in the same message, so the file is fixed in one go
            empty = ~present.to_numpy(dtype=bool)
            n_bad, n_empty = int(bad.sum()), int(empty.sum())
            rows, n = _rows(bad | empty)
            message = f"{_plural(n_bad, 'rating')} {'is' if n_bad == 1 else 'are'} not a number"
            if n_empty:
                message += f" and {_plural(n_empty, 'row')} {'has' if n_empty == 1 else 'have'} no rating"
            raise DataError(
                message,
                code="bad_rating",
                file=file,
                column=column,
                rows=rows,
                n_rows=n,
                hint="Ratings must be numbers such as 4 or 3.5; fix or remove those rows, "
                "or map the rating to none for implicit feedback",
                sample=_sample(df, shown, rows),
            )
        values = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(values)
    if missing.any():
        rows, n = _rows(missing)
        raise DataError(
            f"{_plural(n, 'row')} {'has' if n == 1 else 'have'} no rating",
            code="missing_rating",
            file=file,
            column=column,
            rows=rows,
            n_rows=n,
            hint="Fill in or remove those rows, or map the rating to none to treat the data as implicit",
            sample=_sample(df, shown, rows),
        )
    ratings = values.astype(np.float32, copy=False)
    infinite = ~np.isfinite(ratings)
    if infinite.any():
        rows, n = _rows(infinite)
        raise DataError(
            f"{_plural(n, 'rating')} {'is' if n == 1 else 'are'} infinite or too large for float32",
            code="bad_rating",
            file=file,
            column=column,
            rows=rows,
            n_rows=n,
            hint="Fix or remove those rows",
            sample=_sample(df, shown, rows),
        )
    return ratings


def _rating_warnings(ratings: np.ndarray, column: str, file: str | None) -> list[DataWarning]:
    low, high = float(ratings.min()), float(ratings.max())
    if low == high:
        return [
            DataWarning(
                "constant_rating",
                f"Every rating is {low:g}, so the data looks implicit (interactions without a score)",
                file=file,
                column=column,
                hint="Map the rating to none to treat the data as implicit feedback",
            )
        ]
    # counting distinct values on an evenly spaced sample keeps this O(sample) on big files
    step = max(1, len(ratings) // _SCALE_SAMPLE)
    n_distinct = int(pd.unique(ratings[::step]).size)
    whole = bool(np.all(ratings[::step] == np.floor(ratings[::step])))
    seen = f"{low:,.6g}..{high:,.6g}"
    if whole and low >= 0 and (high > _LARGE_RATING or n_distinct > _MANY_RATING_VALUES):
        what = f"Ratings look like counts ({seen})"
    elif low < 0:
        what = f"Ratings include negative values ({seen})"
    elif high > _LARGE_RATING or n_distinct > _MANY_RATING_VALUES:
        what = f"Ratings take {'at least ' if step > 1 else ''}{n_distinct:,} distinct values ({seen})"
    else:
        return []
    return [
        DataWarning(
            "rating_scale",
            what,
            file=file,
            column=column,
            hint="If these are counts or weights, treat them as implicit (set an implicit threshold) or "
            "take a log before rating models use them",
        )
    ]


# ---------------------------------------------------------------------------------------------------
# timestamps


def _datetimes_to_seconds(values: pd.Series) -> np.ndarray:
    """datetime64 (naive = UTC, or tz-aware) -> int64 epoch seconds, flooring sub-second parts."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    arr = values.to_numpy()
    unit, _ = np.datetime_data(arr.dtype)
    per_second = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[unit]
    ints = arr.view(np.int64)
    return ints if per_second == 1 else ints // per_second


def _bad_timestamps(
    df: pd.DataFrame, mapping: ColumnMapping, mask: np.ndarray, file: str | None, missing: bool
) -> DataError:
    column = str(mapping.timestamp)
    rows, n = _rows(mask)
    return DataError(
        f"{_plural(n, 'row')} {'has' if n == 1 else 'have'} no timestamp"
        if missing
        else f"{_plural(n, 'timestamp')} cannot be read as a date or Unix time",
        code="bad_timestamp",
        file=file,
        column=column,
        rows=rows,
        n_rows=n,
        hint="Timestamps must be Unix times (seconds or milliseconds) or dates such as 2024-05-01 12:30:00; "
        "fix or remove those rows, or map the timestamp to none",
        sample=_sample(df, [mapping.user, mapping.item, column], rows),
    )


def _epoch_to_seconds(values: np.ndarray) -> np.ndarray:
    """Epoch numbers in s / ms / µs / ns (decided by the column's median magnitude) -> int64 seconds."""
    step = max(1, len(values) // 100_000)
    magnitude = float(np.median(np.abs(values[::step])))
    per_second = 1
    for threshold, factor, _ in _EPOCH_UNITS:
        if magnitude >= threshold:
            per_second = factor
            break
    if values.dtype.kind in "iu":
        ints = values.astype(np.int64, copy=False)
        return ints if per_second == 1 else ints // per_second
    return np.floor(values / per_second).astype(np.int64)


def _timestamps(df: pd.DataFrame, mapping: ColumnMapping, file: str | None) -> np.ndarray:
    raw = df[str(mapping.timestamp)]
    if isinstance(raw.dtype, pd.CategoricalDtype):
        raw = raw.astype(raw.dtype.categories.dtype)
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        missing = raw.isna().to_numpy()
        if missing.any():
            raise _bad_timestamps(df, mapping, missing, file, missing=True)
        return _datetimes_to_seconds(raw)
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        if pd.api.types.is_integer_dtype(raw.dtype) and not raw.hasnans:
            return _epoch_to_seconds(raw.to_numpy())
        values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(values)
        if missing.any():
            raise _bad_timestamps(df, mapping, missing, file, missing=True)
        return _epoch_to_seconds(values)
    # text: numbers written as text, else dates
    text = (
        raw
        if pd.api.types.is_string_dtype(raw.dtype) and not pd.api.types.is_object_dtype(raw.dtype)
        else raw.astype(str)
    )
    text = text.where(raw.notna()).str.strip()
    missing = (text.isna() | (text == "")).to_numpy(dtype=bool, na_value=True)
    if missing.any():
        raise _bad_timestamps(df, mapping, missing, file, missing=True)
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all():
        return _epoch_to_seconds(numbers.to_numpy(dtype=np.float64))
    with warnings.catch_warnings():
        # pandas warns when it falls back to parsing element by element; that is expected here
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(text, utc=True, errors="coerce")
        failed = parsed.isna().to_numpy()
        if failed.any() and failed.sum() <= _MIXED_DATE_RETRY:
            retry = pd.to_datetime(text[failed], utc=True, errors="coerce", format="mixed")
            if retry.notna().any():
                parsed = parsed.copy()
                parsed[failed] = retry
                failed = parsed.isna().to_numpy()
    if failed.any():
        raise _bad_timestamps(df, mapping, failed, file, missing=False)
    return _datetimes_to_seconds(parsed)


# ---------------------------------------------------------------------------------------------------
# duplicates


def _in_parts(n: int, work: Callable[[slice], object]) -> None:
    """Run ``work`` over row slices of ``range(n)``, in threads when ``n`` is large.

    numpy releases the GIL in arithmetic and fancy indexing, so the memory-bound passes below run
    side by side on the cores the CSV parser has just released.
    """
    workers = min(_MAX_THREADS, os.cpu_count() or 1) if n >= _THREADED_ROWS else 1
    bounds = np.linspace(0, n, workers + 1).astype(np.int64)
    parts = [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]
    if workers == 1:
        work(parts[0])
        return
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(work, parts):  # re-raises a worker's exception here
            pass


def _blocks(part: slice) -> Iterator[slice]:
    """Cache-sized row blocks of ``part``: temporaries stay small and the table gets the memory traffic."""
    for start in range(part.start, part.stop, _BLOCK_ROWS):
        yield slice(start, min(start + _BLOCK_ROWS, part.stop))


def _rows_sharing_a_slot(n: int, pair_keys: Callable[[slice], np.ndarray], multiplier: int) -> np.ndarray:
    """Rows whose (user, item) pair hashes to the same slot as another row's, in row order.

    Every pair is hashed into a table of >= 2n slots and each row writes its number into its slot;
    when several rows share a slot one of them wins (which one does not matter, even across
    threads). A row that reads back another row's number shares its slot, and so does that winner.
    Rows alone in their slot cannot repeat a pair, so only the returned rows (about a quarter) need
    the exact check.
    """
    if n == 0:
        return np.empty(0, dtype=np.int64)
    bits = max(int(2 * n - 1).bit_length(), 10)
    slots = np.empty(n, dtype=np.int32)
    table = np.empty(1 << bits, dtype=np.int32)
    shared = np.empty(n, dtype=bool)
    winners: list[np.ndarray] = []

    def hash_slots(part: slice) -> None:
        for block in _blocks(part):
            keys = pair_keys(block).view(np.uint64)
            keys *= np.uint64(multiplier)  # multiplicative hashing: the top bits are well mixed
            keys >>= np.uint64(64 - bits)
            slots[block] = keys

    def scatter(part: slice) -> None:
        for block in _blocks(part):
            table[slots[block]] = np.arange(block.start, block.stop, dtype=np.int32)

    def gather(part: slice) -> None:
        for block in _blocks(part):
            winner = table[slots[block]]
            lost = winner != np.arange(block.start, block.stop, dtype=np.int32)
            shared[block] = lost
            winners.append(winner[lost])  # list.append is atomic under the GIL

    for step in (hash_slots, scatter, gather):
        _in_parts(n, step)
    shared[np.concatenate(winners)] = True
    return np.flatnonzero(shared)


def _grouped_repeats(groups: np.ndarray, items: np.ndarray, i_min: int, i_range: int) -> np.ndarray | None:
    """Rows that share their (group, item) pair with another row, when ``groups`` is non-decreasing.

    Each group (a user, or a run of one user's rows) is contiguous, so a pair can only repeat inside a
    block of whole groups. Blocks are cut so that ``(group - first group) * i_range + item`` spans at
    most a cache-sized table: within a block that code is exact and collision-free, so one scatter of
    the row numbers and one gather find every row whose slot another row of the same pair won (and
    the winners), with memory traffic that stays in cache. ``None`` when the item range or the number
    of blocks is too large for this to pay off (the caller then uses the hash filter).
    """
    n = len(groups)
    slots = max(_GROUP_SLOTS, i_range)
    if slots > _MAX_GROUP_SLOTS:
        return None
    per_block = slots // i_range  # groups per block
    last = int(groups[-1])
    bounds = [0]
    while bounds[-1] < n:
        target = int(groups[bounds[-1]]) + per_block
        bounds.append(n if target > last else int(np.searchsorted(groups, target, side="left")))
        if len(bounds) > 2 + n // _GROUP_BLOCK_ROWS:
            return None
    table = np.empty(slots, dtype=np.int32)
    ramp = np.arange(max(b - a for a, b in itertools.pairwise(bounds)), dtype=np.int32)
    found: list[np.ndarray] = []
    for start, stop in itertools.pairwise(bounds):
        keys = np.subtract(groups[start:stop], groups[start])
        keys *= i_range
        keys += items[start:stop]
        keys -= i_min
        rows = ramp[: stop - start]
        table[keys] = rows
        winner = table[keys]
        lost = winner != rows
        if lost.any():
            found += [np.flatnonzero(lost) + start, winner[lost].astype(np.int64) + start]
    if not found:
        return np.empty(0, dtype=np.int64)
    return np.unique(np.concatenate(found))


def _duplicate_pairs(user: pd.Series, item: pd.Series) -> tuple[int, list[int]]:
    """How many rows repeat an earlier (user, item) pair, and the first few of them (1-based)."""
    n = len(user)
    if n < 2:
        return 0, []
    u, i = user.to_numpy(), item.to_numpy()
    u_min = int(u.min()) if u.dtype == np.int64 else 0
    i_min = int(i.min()) if i.dtype == np.int64 else 0
    i_range = int(i.max()) - i_min + 1 if i.dtype == np.int64 else 0
    if (
        u.dtype != np.int64
        or i.dtype != np.int64
        or (int(u.max()) - u_min + 1) * i_range >= 2**62
        or n >= 2**30  # slot numbers and row numbers are int32 below
    ):
        dup = pd.DataFrame({"u": user, "i": item}, copy=False).duplicated().to_numpy()
        return int(dup.sum()), [int(p) + 1 for p in np.flatnonzero(dup)[:MAX_ROWS_SHOWN]]

    def pair_keys(rows: np.ndarray | slice, out: np.ndarray | None = None) -> np.ndarray:
        # an exact, collision-free int64 code per (user, item) pair, built in place
        keys = np.subtract(u[rows], u_min, out=out)
        keys *= i_range
        keys += i[rows]
        keys -= i_min
        return keys

    candidates: np.ndarray | None = None
    if not (u[1:] < u[:-1]).any():
        # sorted by user (ratings.csv and most exports): repeats can only be within one user's rows
        candidates = _grouped_repeats(u, i, i_min, i_range)
        if candidates is None:
            keys = pair_keys(slice(None))
            if not (keys[1:] < keys[:-1]).any():
                # sorted by user then item: repeats are neighbours
                dup = np.flatnonzero(keys[1:] == keys[:-1]) + 1
                return int(dup.size), [int(p) + 1 for p in dup[:MAX_ROWS_SHOWN]]
            del keys
    else:
        changes = np.flatnonzero(u[1:] != u[:-1]) + 1
        # grouped by user in another order (each user one run of rows): number the runs instead
        if changes.size < n // 4 and pd.unique(u[np.concatenate(([0], changes))]).size == changes.size + 1:
            runs = np.zeros(n, dtype=np.int64)
            runs[changes] = 1
            candidates = _grouped_repeats(np.cumsum(runs, out=runs), i, i_min, i_range)
            del runs
        del changes
    if candidates is not None:
        keys = pair_keys(candidates)
    else:
        # Unsorted: a full hash (pandas' duplicated) or sort of 5M pairs costs more than reading the file;
        # a cheap hash filter leaves the exact check to the few rows that share a slot.
        candidates = _rows_sharing_a_slot(n, pair_keys, _HASH_MULTIPLIERS[0])
        keys = pair_keys(candidates)
        # a second, independent hash of the survivors (a table that fits in cache) drops most of the
        # accidental collisions before the exact check
        again = _rows_sharing_a_slot(len(keys), lambda block: keys[block].copy(), _HASH_MULTIPLIERS[1])
        candidates, keys = candidates[again], keys[again]
    if candidates.size == 0:
        return 0, []
    repeat = pd.Series(keys, copy=False).duplicated().to_numpy()
    dup = candidates[repeat]  # candidates are in row order, so the first occurrence is kept
    return int(dup.size), [int(p) + 1 for p in dup[:MAX_ROWS_SHOWN]]


# ---------------------------------------------------------------------------------------------------


def _single(values: pd.Series) -> bool:
    """True when every value equals the first (a comparison pass, cheaper than counting distinct values)."""
    return bool(len(values) == 0 or not (values != values.iloc[0]).any())


def to_canonical(
    df: pd.DataFrame, mapping: ColumnMapping, *, file: str | None = None
) -> tuple[pd.DataFrame, list[DataWarning]]:
    """Check the mapped columns of ``df`` and return the canonical interactions frame.

    Args:
        df: the table as read (any dtypes); not modified.
        mapping: which columns hold the user, item and (optional) rating and timestamp.
        file: the file name, for messages.

    Returns:
        ``(frame, warnings)``. ``frame`` has columns ``user``, ``item`` (int64 when every id is an
        integer, else strings), ``rating`` (float32, only when mapped) and ``timestamp`` (int64 Unix
        seconds, only when mapped), in input row order with a fresh RangeIndex; integer columns share
        memory with ``df`` when no conversion is needed. Epoch milliseconds/microseconds/nanoseconds
        are recognised by magnitude and converted; dates are parsed (naive dates are taken as UTC).
        ``warnings`` lists ``duplicates``, ``rating_scale`` and ``constant_rating`` findings.

    Raises:
        DataError: ``missing_column``, ``no_rows``, ``missing_id``, ``bad_rating``, ``missing_rating``,
            ``bad_timestamp``, ``single_user``, ``single_item``; row numbers are 1-based data rows.
    """
    if not all(isinstance(c, str) for c in df.columns):
        # mappings name columns by text; frames built in code may use ints (rare: a shallow relabel)
        df = df.set_axis([str(c) for c in df.columns], axis=1)
    columns = [mapping.user, mapping.item, mapping.rating, mapping.timestamp]
    for role, column in zip((USER, ITEM, RATING, TIMESTAMP), columns):
        if column is not None and column not in df.columns:
            raise DataError(
                f"The {role} column '{column}' is not in the file",
                code="missing_column",
                file=file,
                column=str(column),
                hint=f"Available columns: {', '.join(repr(str(c)) for c in df.columns)}",
            )
    if len(df) == 0:
        raise DataError(
            "The file has no data rows", code="no_rows", file=file, hint="Use a file with at least one interaction row"
        )
    if len(set(c for c in columns if c is not None)) < sum(c is not None for c in columns):
        raise DataError(
            "The mapping uses the same column for two roles",
            code="ambiguous_column",
            file=file,
            hint="Choose a different column for each of user, item, rating and timestamp",
        )

    user = canonical_ids(df[mapping.user], column=mapping.user, role=USER, file=file)
    item = canonical_ids(df[mapping.item], column=mapping.item, role=ITEM, file=file)
    data: dict[str, Any] = {USER: user.to_numpy() if user.dtype == np.int64 else user.array}
    data[ITEM] = item.to_numpy() if item.dtype == np.int64 else item.array
    if mapping.rating is not None:
        data[RATING] = _ratings(df, mapping, file)
    if mapping.timestamp is not None:
        data[TIMESTAMP] = _timestamps(df, mapping, file)

    if _single(user):
        raise DataError(
            f"All rows have the same user ({user.iloc[0]!r})",
            code="single_user",
            file=file,
            column=mapping.user,
            hint="A recommender needs at least 2 users and 2 items; check that the right column is mapped",
        )
    if _single(item):
        raise DataError(
            f"All rows have the same item ({item.iloc[0]!r})",
            code="single_item",
            file=file,
            column=mapping.item,
            hint="A recommender needs at least 2 users and 2 items; check that the right column is mapped",
        )

    found: list[DataWarning] = []
    n_dup, dup_rows = _duplicate_pairs(user, item)
    if n_dup:
        found.append(
            DataWarning(
                "duplicates",
                f"{_plural(n_dup, 'row')} repeat{'s' if n_dup == 1 else ''} an earlier (user, item) pair",
                file=file,
                column=f"{mapping.user}, {mapping.item}",
                rows=tuple(dup_rows),
                n_rows=n_dup,
                hint="Choose a duplicate policy in preprocessing (keep first/last, or mean/max/sum)",
            )
        )
    if mapping.rating is not None:
        found.extend(_rating_warnings(data[RATING], mapping.rating, file))

    # copy=False keeps each column its own block: no consolidation copy of the int64 columns
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(df)), copy=False)
    return frame, found
