"""Item metadata (titles, genres, descriptions) from MovieLens files or any table with an item id.

:func:`read_item_metadata` returns one row per item with columns ``item`` (the same id rule as the
interactions: int64 when every id is an integer, else strings), ``title`` (str), ``genres`` (a list of
strings per row, empty when unknown) and ``text`` (str, possibly empty). It knows the MovieLens layouts
(``u.item`` with 19 genre flags, ``movies.dat``, ``movies.csv``) and otherwise finds the columns by name
or content. :func:`check_metadata_coverage` says how well metadata and interactions match.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from recsys_core.data.columns import is_generic_name, name_score, normalise_name
from recsys_core.data.readers import Source, read_table
from recsys_core.data.schema import GENRES, ITEM, TEXT, TITLE
from recsys_core.data.validate import canonical_ids
from recsys_core.errors import MAX_ROWS_SHOWN, DataError, DataWarning

# u.item's 19 genre flags, in file order (ml-100k README / u.genre)
U_ITEM_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
_NO_GENRE = frozenset({"", "(no genres listed)", "no genres listed", "nan", "none", "null"})
_ID_NAMES = frozenset({"id", "itemid", "key", "code"})
_TITLE_NAMES = frozenset({"title", "name", "label", "headline", "displayname"})
_GENRE_NAMES = frozenset(
    {"genres", "genre", "category", "categories", "cat", "tags", "tag", "labels", "keywords", "subjects", "classes"}
)
_TEXT_NAMES = frozenset(
    {"text", "description", "desc", "overview", "plot", "summary", "content", "body", "abstract", "synopsis", "about"}
)


def _name_match(column: str, names: frozenset[str], tokens: tuple[str, ...] = ()) -> int:
    """2 for an exact (normalised) name, 1 for a name containing one of ``tokens`` (``movie_title``)."""
    norm = normalise_name(column)
    if norm in names:
        return 2
    if any(token in norm for token in tokens):
        return 1
    return 0


def _best(columns: Sequence[str], score: Any) -> str | None:
    scored = [(score(c), -k, c) for k, c in enumerate(columns)]
    scored = [s for s in scored if s[0] > 0]
    return max(scored)[2] if scored else None


def _text_profile(series: pd.Series) -> tuple[float, float, float]:
    """(share of values that are text, mean length, share containing '|') on the first 500 values."""
    head = series.dropna().iloc[:500]
    if head.empty:
        return 0.0, 0.0, 0.0
    text = head.astype(str)
    is_text = float(pd.to_numeric(text, errors="coerce").isna().mean())
    return is_text, float(text.str.len().mean()), float(text.str.contains("|", regex=False).mean())


def split_genres(values: pd.Series) -> list[list[str]]:
    """Split multi-valued genre cells into lists of stripped strings.

    Cells may already be lists (Parquet / JSON). Text cells are split on ``|``; when no cell of the
    column has a ``|``, on ``,`` or else ``;``. ``"(no genres listed)"`` and empty cells give ``[]``.
    """
    out: list[list[str]] = []
    if values.dtype == object and values.map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any():
        for v in values:
            items = list(v) if isinstance(v, (list, tuple, np.ndarray)) else ([] if pd.isna(v) else [v])
            out.append([str(g).strip() for g in items if str(g).strip().lower() not in _NO_GENRE])
        return out
    text = values.astype(str).where(values.notna(), "")
    separator = None
    for candidate in ("|", ",", ";"):
        if text.str.contains(candidate, regex=False).any():
            separator = candidate
            break
    parts = text.str.split(separator, regex=False) if separator else text.map(lambda v: [v])
    for cell in parts:
        out.append([g.strip() for g in cell if g.strip().lower() not in _NO_GENRE])
    return out


def _plain_text(series: pd.Series) -> pd.Series:
    return series.astype(str).where(series.notna(), "").str.strip().reset_index(drop=True)


def _find_columns(df: pd.DataFrame, headerless: bool) -> dict[str, str | None]:
    columns = [str(c) for c in df.columns]
    found: dict[str, str | None] = {}
    if not headerless:
        found[ITEM] = _best(
            columns,
            lambda c: 10 * _name_match(c, _ID_NAMES) + 3 * name_score(c, ITEM),
        )
        rest = [c for c in columns if c != found[ITEM]]
        found[TITLE] = _best(rest, lambda c: _name_match(c, _TITLE_NAMES, ("title", "name")))
        rest = [c for c in rest if c != found[TITLE]]
        found[GENRES] = _best(rest, lambda c: _name_match(c, _GENRE_NAMES, ("genre", "categor")))
        rest = [c for c in rest if c != found[GENRES]]
        found[TEXT] = _best(rest, lambda c: _name_match(c, _TEXT_NAMES, ("desc", "summary", "overview")))
        if found[ITEM] is not None:
            return found
    # by content: the first id-like column is the item; then text columns by shape
    profiles = {c: _text_profile(df[c]) for c in columns}
    item = next((c for c in columns if profiles[c][0] < 0.5 or not pd.api.types.is_float_dtype(df[c].dtype)), None)
    if item is None or (headerless is False and not is_generic_name(item)):
        return {ITEM: None, TITLE: None, GENRES: None, TEXT: None}
    text_cols = [c for c in columns if c != item and profiles[c][0] >= 0.9]
    genres = next((c for c in text_cols if profiles[c][2] >= 0.3), None)
    others = [c for c in text_cols if c != genres]
    title = others[0] if others else None
    longer = [c for c in others[1:] if profiles[c][1] > max(40.0, profiles[title][1] if title else 0.0)]
    return {ITEM: item, TITLE: title, GENRES: genres, TEXT: longer[0] if longer else None}


def _is_u_item(df: pd.DataFrame) -> bool:
    if df.shape[1] != 5 + len(U_ITEM_GENRES):
        return False
    flags = df.iloc[:, 5:]
    return all(pd.api.types.is_integer_dtype(flags[c].dtype) for c in flags.columns) and bool(
        flags.isin([0, 1]).all().all()
    )


def read_item_metadata(
    source: Source,
    *,
    name: str | None = None,
    item_col: str | None = None,
    title_col: str | None = None,
    genres_col: str | None = None,
    text_col: str | None = None,
    max_bytes: int | None = None,
) -> tuple[pd.DataFrame, list[DataWarning]]:
    """Read item metadata into a frame ``item, title, genres, text``.

    Args:
        source: a path, bytes or binary file-like (see :func:`~recsys_core.data.readers.read_table`).
        name: the file name for messages.
        item_col, title_col, genres_col, text_col: the input columns to use; detected when ``None``.
        max_bytes: size limit in bytes (default ``RECLAB_MAX_UPLOAD_MB``).

    Returns:
        ``(frame, warnings)``: one row per item in file order with a RangeIndex; ``item`` is int64 or
        strings, ``title`` and ``text`` strings (``""`` when missing; ``title`` falls back to the id
        when the file has no title column), ``genres`` a ``list[str]`` per row. ``warnings`` may hold
        ``duplicate_items`` (repeated ids; the first row is kept) and ``missing_item_ids`` (rows
        without an id, dropped).

    Raises:
        DataError: ``missing_column`` when no item id column can be found or a named column is absent,
            and any reading error of :func:`read_table`.
    """
    df, info = read_table(source, name=name, max_bytes=max_bytes)
    file = info.source or name
    columns = [str(c) for c in df.columns]
    df.columns = columns
    found: list[DataWarning] = []
    genres_from_flags: list[list[str]] | None = None

    explicit = {ITEM: item_col, TITLE: title_col, GENRES: genres_col, TEXT: text_col}
    for role, column in explicit.items():
        if column is not None and column not in columns:
            raise DataError(
                f"The {role} column '{column}' is not in the metadata file",
                code="missing_column",
                file=file,
                column=column,
                hint=f"Available columns: {', '.join(repr(c) for c in columns)}",
            )

    if not info.has_header and _is_u_item(df):
        # ml-100k u.item: id | title | release date | video release date | IMDb URL | 19 genre flags
        chosen: dict[str, str | None] = {ITEM: columns[0], TITLE: columns[1], GENRES: None, TEXT: None}
        flags = df.iloc[:, 5:].to_numpy(dtype=bool)
        names = np.array(U_ITEM_GENRES, dtype=object)
        genres_from_flags = [list(names[row]) for row in flags]
    elif not info.has_header and info.delimiter == "::" and len(columns) == 3:
        # ml-1m / ml-10m movies.dat: id::title::Genre1|Genre2
        chosen = {ITEM: columns[0], TITLE: columns[1], GENRES: columns[2], TEXT: None}
    else:
        chosen = _find_columns(df, headerless=not info.has_header)
    for role, column in explicit.items():
        if column is not None:
            chosen[role] = column
            if role == GENRES:
                genres_from_flags = None
    item_column = chosen[ITEM]
    if item_column is None:
        raise DataError(
            "No item id column found in the item metadata",
            code="missing_column",
            file=file,
            hint=f"Name the id column (item_col / --item-col). Available columns: {', '.join(map(repr, columns))}",
        )

    ids = df[item_column]
    blank = ids.isna().to_numpy(dtype=bool)
    if pd.api.types.is_string_dtype(ids.dtype) or pd.api.types.is_object_dtype(ids.dtype):
        blank = blank | (ids.astype(str).str.strip() == "").to_numpy(dtype=bool, na_value=True)
    if blank.any():
        positions = np.flatnonzero(blank)
        found.append(
            DataWarning(
                "missing_item_ids",
                f"{positions.size:,} metadata rows have no item id and were skipped",
                file=file,
                column=item_column,
                rows=tuple(int(p) + 1 for p in positions[:MAX_ROWS_SHOWN]),
                n_rows=int(positions.size),
                hint="Fill in the ids if those rows matter",
            )
        )
        keep = ~blank
        df = df.loc[keep].reset_index(drop=True)
        if genres_from_flags is not None:
            genres_from_flags = [g for g, k in zip(genres_from_flags, keep) if k]
    item = canonical_ids(df[item_column], column=item_column, role=ITEM, file=file)

    title_column = chosen.get(TITLE)
    title = _plain_text(df[title_column]) if title_column else item.astype(str).reset_index(drop=True)
    genres_column = chosen.get(GENRES)
    if genres_from_flags is not None:
        genres = genres_from_flags
    elif genres_column:
        genres = split_genres(df[genres_column])
    else:
        genres = [[] for _ in range(len(df))]
    text_column = chosen.get(TEXT)
    text = _plain_text(df[text_column]) if text_column else pd.Series([""] * len(df), dtype=str)

    frame = pd.DataFrame(
        {
            ITEM: item.to_numpy() if item.dtype == np.int64 else item.array,
            TITLE: title.to_numpy(),
            GENRES: pd.Series(genres, dtype=object).to_numpy(),
            TEXT: text.to_numpy(),
        }
    )
    duplicated = frame[ITEM].duplicated().to_numpy()
    if duplicated.any():
        positions = np.flatnonzero(duplicated)
        found.append(
            DataWarning(
                "duplicate_items",
                f"{positions.size:,} metadata rows repeat an item id already listed; the first row of each "
                "item is kept",
                file=file,
                column=item_column,
                rows=tuple(int(p) + 1 for p in positions[:MAX_ROWS_SHOWN]),
                n_rows=int(positions.size),
                hint="Remove the repeated rows or merge them",
            )
        )
        frame = frame.loc[~duplicated].reset_index(drop=True)
    return frame, found


def _comparable(a: pd.Series, b: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Make two id columns comparable: strings on both sides when one is int and the other text."""
    a_int = pd.api.types.is_integer_dtype(a.dtype)
    b_int = pd.api.types.is_integer_dtype(b.dtype)
    if a_int != b_int:
        return a.astype(str).str.strip(), b.astype(str).str.strip()
    return a, b


def _examples(values: np.ndarray) -> str:
    shown = ", ".join(str(v) for v in values[:MAX_ROWS_SHOWN])
    return shown + (", …" if len(values) > MAX_ROWS_SHOWN else "")


def check_metadata_coverage(meta: pd.DataFrame, interactions: pd.DataFrame) -> list[DataWarning]:
    """Compare the item ids of metadata and interactions.

    Args:
        meta: a metadata frame with an ``item`` column (from :func:`read_item_metadata`).
        interactions: a canonical interactions frame with an ``item`` column.

    Returns:
        ``metadata_unmatched`` when metadata ids match no interaction, and ``items_without_metadata``
        when interacted items have no metadata; each says how many and gives a few examples. Ids of
        different kinds (int vs text) are compared as text.
    """
    meta_ids = pd.Series(pd.unique(meta[ITEM].to_numpy()))
    used_ids = pd.Series(pd.unique(interactions[ITEM].to_numpy()))
    meta_cmp, used_cmp = _comparable(meta_ids, used_ids)
    out: list[DataWarning] = []
    unmatched = meta_ids[~meta_cmp.isin(used_cmp).to_numpy()].to_numpy()
    if unmatched.size:
        out.append(
            DataWarning(
                "metadata_unmatched",
                f"{unmatched.size:,} of {len(meta_ids):,} metadata items match no interaction "
                f"(e.g. {_examples(unmatched)})",
                column=ITEM,
                n_rows=int(unmatched.size),
                hint="Fine if the catalogue is larger than the log; if most items miss, check that both files "
                "use the same item ids",
            )
        )
    without = used_ids[~used_cmp.isin(meta_cmp).to_numpy()].to_numpy()
    if without.size:
        out.append(
            DataWarning(
                "items_without_metadata",
                f"{without.size:,} of {len(used_ids):,} interacted items have no metadata (e.g. {_examples(without)})",
                column=ITEM,
                n_rows=int(without.size),
                hint="Those items show their id instead of a title, and count as genre-less in intra-list diversity",
            )
        )
    return out
