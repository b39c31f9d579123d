"""Which input column is the user, the item, the rating and the timestamp.

Detection looks at column names first (case-, space- and underscore-insensitive synonyms such as
``userId``, ``customer_id``, ``movieId``, ``plays``, ``created_at``) and falls back to the content for
what the names leave open (headerless files, ``col_1..col_n``): integers in the epoch range are a
timestamp, a small numeric scale or counts are a rating, and the remaining id-like columns are the user
and the item (user first). A user's explicit mapping always wins.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recsys_core.data.schema import ITEM, RATING, TIMESTAMP, USER, ColumnMapping
from recsys_core.errors import ConfigError, DataError

ROLES = (USER, ITEM, RATING, TIMESTAMP)

# Normalised names (lower case, letters and digits only). "Primary" names say the role outright;
# "secondary" names say it in a domain's words. A primary match beats a secondary one, so a file with
# both `user_id` and `session_id` is not ambiguous, while `user` and `user_id` together are.
_PRIMARY: dict[str, frozenset[str]] = {
    USER: frozenset({"user", "users", "userid", "uid", "u", "useridx", "userindex", "usercode", "userkey"}),
    ITEM: frozenset({"item", "items", "itemid", "iid", "i", "itemidx", "itemindex", "itemcode", "itemkey"}),
    RATING: frozenset({"rating", "ratings", "rate", "score", "stars", "star", "r"}),
    TIMESTAMP: frozenset(
        {"timestamp", "timestamps", "ts", "time", "datetime", "date", "unixtime", "unixtimestamp", "t"}
    ),
}
_SECONDARY: dict[str, frozenset[str]] = {
    USER: frozenset(
        {
            *(
                base + suffix
                for base in (
                    "customer",
                    "cust",
                    "client",
                    "visitor",
                    "member",
                    "account",
                    "session",
                    "buyer",
                    "reader",
                    "listener",
                    "viewer",
                    "person",
                    "reviewer",
                    "player",
                    "subscriber",
                    "profile",
                    "shopper",
                    "student",
                    "learner",
                    "patient",
                )
                for suffix in ("", "id", "s", "ids")
            ),
        }
    ),
    ITEM: frozenset(
        {
            *(
                base + suffix
                for base in (
                    "movie",
                    "product",
                    "prod",
                    "artist",
                    "track",
                    "song",
                    "book",
                    "article",
                    "sku",
                    "video",
                    "film",
                    "game",
                    "anime",
                    "recipe",
                    "business",
                    "course",
                    "news",
                    "post",
                    "app",
                    "doc",
                    "document",
                    "poi",
                    "place",
                    "restaurant",
                    "hotel",
                    "show",
                    "episode",
                    "podcast",
                    "page",
                    "offer",
                    "listing",
                    "asin",
                    "isbn",
                    "content",
                    "beer",
                    "wine",
                    "joke",
                    "repo",
                    "question",
                    "album",
                    "playlist",
                )
                for suffix in ("", "id", "s", "ids")
            ),
        }
    ),
    RATING: frozenset(
        {
            "value",
            "weight",
            "plays",
            "playcount",
            "playcounts",
            "count",
            "counts",
            "listens",
            "listencount",
            "clicks",
            "clickcount",
            "quantity",
            "qty",
            "views",
            "viewcount",
            "preference",
            "pref",
            "feedback",
            "purchases",
            "frequency",
            "freq",
            "bookrating",
            "userrating",
            "overall",
            "grade",
            "points",
        }
    ),
    TIMESTAMP: frozenset(
        {
            "createdat",
            "eventtime",
            "eventtimestamp",
            "eventdate",
            "timestampms",
            "timems",
            "ratedat",
            "watchedat",
            "updatedat",
            "created",
            "when",
            "datetimeutc",
            "timeutc",
            "dt",
            "tstamp",
            "epoch",
            "unixtimems",
            "timeofday",
            "ratingtime",
            "ratingdate",
            "reviewtime",
            "reviewdate",
            "unixreviewtime",
            "clicktime",
            "orderdate",
            "purchasedate",
            "visitdate",
        }
    ),
}
# Tokens that signal a role inside a longer name (`visitor_hash`, `event_ts`).
_TOKENS: dict[str, frozenset[str]] = {
    USER: frozenset({"user", "customer", "visitor", "member", "account", "session", "client", "buyer"}),
    ITEM: frozenset({"item", "movie", "product", "artist", "track", "song", "book", "article", "sku", "video"}),
    RATING: frozenset({"rating", "score", "stars", "plays", "playcount", "clicks", "listens", "weight"}),
    TIMESTAMP: frozenset({"timestamp", "time", "date", "ts", "datetime", "epoch"}),
}
# Tokens that say a column *describes* a user or an item rather than identifying it (`movie_title`).
_DESCRIPTIVE_TOKENS = frozenset(
    {"name", "title", "desc", "description", "url", "age", "gender", "genre", "genres", "tag", "tags", "type"}
)
_SCORE_PRIMARY = 3.0
_SCORE_SECONDARY = 2.0
_SCORE_TOKEN = 1.0

_GENERIC_NAME = re.compile(r"^(col_?\d+|column_?\d+|unnamed:? ?\d*|field_?\d+|\d+|)$", re.IGNORECASE)
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
_DATE_CHARS = re.compile(r"[-/:T ]")
# Epoch ranges: seconds from 1973 to 2128, milliseconds and microseconds over the same span.
_EPOCH_RANGES = ((1e8, 5e9), (1e11, 5e12), (1e14, 5e15))
_ROW_INDEX_NAME = re.compile(r"^(unnamed.*|index|level_\d+)$", re.IGNORECASE)
_PROFILE_ROWS = 20_000


@dataclass
class ColumnDetection:
    """The column roles chosen for a table and why.

    Attributes:
        mapping: the chosen columns (``rating``/``timestamp`` are ``None`` when absent).
        reasons: role -> a short sentence saying why that column was chosen (e.g. "name 'userId'").
        candidates: role -> every plausible column for the role, best first (for a mapping form).
    """

    mapping: ColumnMapping
    reasons: dict[str, str] = field(default_factory=dict)
    candidates: dict[str, list[str]] = field(default_factory=dict)


def normalise_name(name: object) -> str:
    """Lower-case ``name`` and keep only letters and digits: ``"User ID"`` and ``"user_id"`` -> ``"userid"``."""
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def _tokens(name: object) -> list[str]:
    text = _CAMEL_BOUNDARY.sub(" ", str(name))
    return [t for t in re.split(r"[^0-9a-zA-Z]+", text.lower()) if t]


def name_score(name: object, role: str) -> float:
    """How strongly a column name says ``role``: 3 primary synonym, 2 domain synonym, 1 token, 0 none."""
    norm = normalise_name(name)
    if norm in _PRIMARY[role]:
        return _SCORE_PRIMARY
    if norm in _SECONDARY[role]:
        return _SCORE_SECONDARY
    tokens = _tokens(name)
    if role in (USER, ITEM) and _DESCRIPTIVE_TOKENS.intersection(tokens):
        return 0.0
    if _TOKENS[role].intersection(tokens):
        return _SCORE_TOKEN
    return 0.0


def is_known_column_name(value: object) -> bool:
    """True when ``value`` is exactly a known synonym of some role (used to recognise a header line).

    Values with digits never count, so a data row such as ``user1,item7`` is not taken for a header.
    """
    text = str(value)
    if not text or any(ch.isdigit() for ch in text):
        return False
    norm = normalise_name(text)
    return any(norm in _PRIMARY[r] or norm in _SECONDARY[r] for r in ROLES) or norm in {
        "id",
        "title",
        "name",
        "genres",
        "genre",
    }


def is_generic_name(name: object) -> bool:
    """True for names that carry no meaning: ``col_3``, ``Unnamed: 0``, ``3`` or an empty name."""
    return bool(_GENERIC_NAME.match(str(name).strip()))


@dataclass
class _Profile:
    """What a column's content looks like, from a sample of rows."""

    kind: str  # int | float | datetime | date | text | bool | empty
    minimum: float = np.nan
    maximum: float = np.nan
    n_distinct: int = 0


def _row_sample(n: int) -> np.ndarray:
    """Positions of at most ``_PROFILE_ROWS`` rows spread over the whole frame (head and strided tail)."""
    if n <= _PROFILE_ROWS:
        return np.arange(n)
    head = np.arange(_PROFILE_ROWS // 2)
    tail = np.linspace(_PROFILE_ROWS // 2, n - 1, _PROFILE_ROWS // 2).astype(np.int64)
    return np.unique(np.concatenate([head, tail]))


def _numeric_profile(values: pd.Series) -> _Profile:
    arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return _Profile("empty")
    whole = bool(np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)))
    return _Profile(
        "int" if whole else "float",
        float(arr.min()),
        float(arr.max()),
        int(np.unique(arr).size),
    )


def _profile(series: pd.Series) -> _Profile:
    """Classify a (sampled) column by content without touching the full column."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        series = series.astype(dtype.categories.dtype)
        dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return _Profile("bool", n_distinct=int(series.nunique()))
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return _Profile("datetime", n_distinct=int(series.nunique()))
    if pd.api.types.is_numeric_dtype(dtype):
        return _numeric_profile(series)
    # text or mixed object column: numbers stored as text count as numbers, then dates, else text
    present = series.dropna()
    if pd.api.types.is_object_dtype(present.dtype) or not pd.api.types.is_string_dtype(present.dtype):
        present = present.astype(str)
    present = present.str.strip()
    present = present[present != ""]
    if present.empty:
        return _Profile("empty")
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.notna().mean() >= 0.98:
        return _numeric_profile(numbers)
    head = present.iloc[:200]
    if head.str.contains(_DATE_CHARS.pattern, regex=True).mean() >= 0.9:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(head, errors="coerce", utc=True, format="mixed")
        if parsed.notna().mean() >= 0.9:
            return _Profile("date", n_distinct=int(present.nunique()))
    return _Profile("text", n_distinct=int(present.nunique()))


def _timestamp_score(p: _Profile) -> float:
    if p.kind in ("datetime", "date"):
        return 3.0
    if p.kind in ("int", "float") and p.minimum >= 0:
        for lo, hi in _EPOCH_RANGES:
            if lo <= p.minimum and p.maximum <= hi:
                return 2.0
    return 0.0


def _rating_score(p: _Profile) -> float:
    if p.kind == "float" and p.maximum - p.minimum <= 100:
        return 3.0  # fractional values on a small scale: 0.5..5 stars, 1..10 with halves
    if p.kind == "int" and p.minimum >= -10 and p.maximum <= 10:
        return 2.0  # small integer scale: 1..5, 0/1, -1/+1, 1..10
    if p.kind in ("int", "float") and p.minimum >= 0:
        return 1.0  # non-negative counts (plays, clicks, quantity)
    if p.kind == "bool":
        return 1.0
    return 0.0


def _is_id_like(p: _Profile) -> bool:
    return p.kind in ("int", "text")


def _available(columns: list[str]) -> str:
    shown = ", ".join(repr(c) for c in columns[:30])
    if len(columns) > 30:
        shown += f", … ({len(columns)} columns in all)"
    return shown


def _resolve_column(name: str, columns: list[str], role: str, file: str | None) -> str:
    """Find ``name`` among ``columns`` (exact, else a unique case/underscore-insensitive match)."""
    if name in columns:
        return name
    matches = [c for c in columns if normalise_name(c) == normalise_name(name)]
    if len(matches) == 1:
        return matches[0]
    raise DataError(
        f"The {role} column '{name}' you chose is not in the file",
        code="missing_column",
        file=file,
        column=str(name),
        hint=f"Available columns: {_available(columns)}",
    )


def _normalise_override(
    override: ColumnMapping | Mapping[str, str | None] | None,
) -> dict[str, str | None]:
    if override is None:
        return {}
    if isinstance(override, ColumnMapping):
        return override.to_dict()
    unknown = set(override) - set(ROLES)
    if unknown:
        raise ConfigError(
            f"Unknown column role(s) in the mapping: {', '.join(sorted(map(str, unknown)))}.",
            field=sorted(map(str, unknown))[0],
            hint=f"Roles are {', '.join(ROLES)}.",
        )
    for role in (USER, ITEM):
        if role in override and override[role] is None:
            raise ConfigError(f"The {role} column cannot be empty in a mapping.", field=role)
    return dict(override)


def detect_columns(
    df: pd.DataFrame,
    *,
    override: ColumnMapping | Mapping[str, str | None] | None = None,
    file: str | None = None,
) -> ColumnDetection:
    """Choose the user, item, rating and timestamp columns of ``df``.

    Args:
        df: the table as read (any dtypes); only a sample of at most 20,000 rows is inspected.
        override: a full :class:`ColumnMapping` or a partial dict ``role -> column``; a role mapped to
            ``None`` (rating/timestamp only) is declared absent. Overrides always win.
        file: the file name for error messages.

    Returns:
        A :class:`ColumnDetection` with the mapping, a reason per chosen role and ranked candidates.

    Raises:
        DataError: ``missing_column`` (no user/item column, or an override names an unknown column),
            ``ambiguous_column`` (two equally good user or item columns by name), ``no_header`` (a file
            read without a header whose user and item columns cannot be told from the content).
        ConfigError: an override with an unknown role.
    """
    columns = [str(c) for c in df.columns]
    if list(df.columns) != columns:
        df = df.set_axis(columns, axis=1)
    fixed = _normalise_override(override)
    chosen: dict[str, str | None] = {}
    reasons: dict[str, str] = {}
    for role, name in fixed.items():
        if name is None:
            chosen[role] = None
            reasons[role] = "set to none by you"
        else:
            chosen[role] = _resolve_column(str(name), columns, role, file)
            reasons[role] = "set by you"
    taken = {c for c in chosen.values() if c is not None}
    if len(taken) < sum(c is not None for c in chosen.values()):
        raise DataError(
            "The mapping uses the same column for two roles",
            code="ambiguous_column",
            file=file,
            hint="Choose a different column for each of user, item, rating and timestamp",
        )

    headerless = bool(columns) and all(is_generic_name(c) for c in columns)
    sample = df.iloc[_row_sample(len(df))]
    profiles = {c: _profile(sample[c]) for c in columns}

    # candidates by name and by content, best first, for the mapping form
    scores: dict[str, dict[str, float]] = {role: {} for role in ROLES}
    for c in columns:
        p = profiles[c]
        for role in ROLES:
            s = name_score(c, role) * 10
            if role == TIMESTAMP:
                s += _timestamp_score(p)
            elif role == RATING:
                s += _rating_score(p) if _timestamp_score(p) == 0 else 0.0
            elif _is_id_like(p) and _timestamp_score(p) == 0:
                s += 0.5
            if s > 0:
                scores[role][c] = s
    candidates = {role: sorted(scores[role], key=lambda c, r=role: (-scores[r][c], columns.index(c))) for role in ROLES}

    # 1) names
    by_name: list[tuple[float, int, str, str]] = []
    for role in ROLES:
        if role in chosen:
            continue
        for c in columns:
            s = name_score(c, role)
            if s > 0 and c not in taken:
                by_name.append((s, columns.index(c), role, c))
    by_name.sort(key=lambda t: (-t[0], t[1]))
    for score, _, role, c in by_name:
        if role in chosen or c in taken:
            continue
        if role in (USER, ITEM):
            rivals = [c2 for s2, _, r2, c2 in by_name if r2 == role and s2 == score and c2 != c and c2 not in taken]
            if rivals:
                options = [c, *rivals]
                raise DataError(
                    f"More than one column could be the {role}: {', '.join(repr(o) for o in options)}",
                    code="ambiguous_column",
                    file=file,
                    column=c,
                    hint=f"Choose the {role} column in the mapping (e.g. --{role}-col {options[0]})",
                )
        chosen[role] = c
        taken.add(c)
        reasons[role] = f"its name '{c}' means {role}"

    # 2) content, for what the names left open
    # a row index saved along with the data (`Unnamed: 0`, `index`) is never a role
    remaining = [c for c in columns if c not in taken and not _ROW_INDEX_NAME.match(c)]

    # names that say nothing (no column matched any role, e.g. `a,b,c,d`) are as good as no header
    uninformative = not any(name_score(c, role) > 0 for c in columns for role in ROLES)

    def may_guess_optional(c: str) -> bool:
        # in a file whose names say what the columns are, an unrecognised name is not silently
        # promoted to rating or timestamp (a `price` column is no rating, a saved `Unnamed: 0` index
        # no count); true datetime columns are always fair game
        return headerless or uninformative or profiles[c].kind == "datetime"

    if TIMESTAMP not in chosen:
        options = [c for c in remaining if may_guess_optional(c) and _timestamp_score(profiles[c]) > 0]
        if options:
            # ties go to the later column: logs put the time last, and ids can fall in the epoch range
            best = max(options, key=lambda c: (_timestamp_score(profiles[c]), remaining.index(c)))
            chosen[TIMESTAMP] = best
            remaining.remove(best)
            p = profiles[best]
            reasons[TIMESTAMP] = (
                "its values are dates"
                if p.kind in ("datetime", "date")
                else f"its values are integers in the Unix-epoch range ({p.minimum:,.0f}..{p.maximum:,.0f})"
            )
    id_like = [c for c in remaining if _is_id_like(profiles[c]) and _timestamp_score(profiles[c]) == 0]
    for role in (USER, ITEM):
        if role in chosen:
            continue
        if not id_like:
            break
        c = id_like.pop(0)
        chosen[role] = c
        remaining.remove(c)
        reasons[role] = f"first id-like column left ({profiles[c].kind} values, user before item)"
    if RATING not in chosen:
        options = [
            c
            for c in remaining
            if may_guess_optional(c) and _rating_score(profiles[c]) > 0 and _timestamp_score(profiles[c]) == 0
        ]
        if options:
            best = max(options, key=lambda c: (_rating_score(profiles[c]), -remaining.index(c)))
            p = profiles[best]
            chosen[RATING] = best
            reasons[RATING] = f"numeric values on a small scale or counts ({p.minimum:g}..{p.maximum:g})"

    for role in (USER, ITEM):
        if chosen.get(role) is None:
            if len(columns) < 2:
                raise DataError(
                    f"The file has only one column ({_available(columns)}); an interaction log needs at least a "
                    "user and an item column",
                    code="missing_column",
                    file=file,
                    hint="If it does have more columns, their separator was not recognised: save it as a "
                    "comma-separated CSV (UTF-8), or give the delimiter",
                )
            if headerless:
                raise DataError(
                    f"The file has no header line and no {role} column can be recognised from its content",
                    code="no_header",
                    file=file,
                    hint=(
                        "Add a header line such as user,item,rating,timestamp, or set the column mapping "
                        f"(columns are {_available(columns)})"
                    ),
                )
            raise DataError(
                f"No {role} column found",
                code="missing_column",
                file=file,
                hint=(
                    f"Set the mapping, e.g. --{role}-col NAME or the mapping form. "
                    f"Available columns: {_available(columns)}"
                ),
            )
    mapping = ColumnMapping(
        user=str(chosen[USER]),
        item=str(chosen[ITEM]),
        rating=chosen.get(RATING),
        timestamp=chosen.get(TIMESTAMP),
    )
    return ColumnDetection(mapping=mapping, reasons=reasons, candidates=candidates)
