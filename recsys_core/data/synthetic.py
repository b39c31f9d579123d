"""A synthetic interaction log with real, learnable structure: RecLab's embedded default dataset.

The generator is a small latent-factor world:

* Users and items have taste vectors (``n_factors`` dimensions). Every factor stands for one or two genres,
  so an item's genres are the genres of its strongest factors and its title and description are built from
  words tied to those genres ("The Midnight Heist" for Crime).
* Item popularity is Zipf-like (``popularity_skew``), user activity log-normal (``activity_skew``, every
  user has at least 5 interactions), so the popularity histogram has the long tail of real data.
* Who interacts with what: each user draws their items without replacement with probability
  ∝ exp(affinity / temperature) × popularity, where affinity is the dot product of the taste vectors.
  Drawing is exact Gumbel-top-k on blocks of users against the whole catalogue (no Python loop per user).
* Ratings are ``clip(round_to_half(3 + scale·affinity + item bias + user bias + noise), 1, 5)``; popular
  items get a slightly higher bias, as in real data.
* Timestamps fall in ``[start, start + days)``: each user is active in a window of the period and
  interacts in sessions of a few minutes; rows are sorted by user, then time.

Everything is drawn from one ``numpy.random.default_rng(seed)``, so a seed gives identical frames.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recsys_core.data.schema import GENRES, ITEM, RATING, TEXT, TIMESTAMP, TITLE, USER
from recsys_core.errors import ConfigError

# The genre vocabulary, in the order factors are assigned to genres. Each genre has title words
# (adjectives, nouns) and a phrase for the description.
_GENRE_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "Drama": (
        ("Quiet", "Broken", "Long", "Distant", "Unspoken", "Last"),
        ("Promise", "Summer", "Letter", "River", "Inheritance", "Goodbye"),
        "a family pulled apart by an old secret",
    ),
    "Comedy": (
        ("Accidental", "Wild", "Awkward", "Crazy", "Lucky", "Big"),
        ("Wedding", "Weekend", "Roommates", "Vacation", "Mix-Up", "Neighbours"),
        "a plan that goes hilariously wrong",
    ),
    "Action": (
        ("Maximum", "Deadly", "Iron", "Rogue", "Final", "Burning"),
        ("Impact", "Strike", "Pursuit", "Protocol", "Fury", "Countdown"),
        "a race against the clock",
    ),
    "Thriller": (
        ("Hidden", "Silent", "Dark", "Cold", "Fatal", "Seventh"),
        ("Witness", "Signal", "Conspiracy", "Hour", "Trap", "Stranger"),
        "a stranger who knows too much",
    ),
    "Romance": (
        ("Endless", "Sweet", "Paper", "Second", "Golden", "Paris"),
        ("Kiss", "Hearts", "Serenade", "Affair", "Moonlight", "Spring"),
        "two people who keep missing each other",
    ),
    "Sci-Fi": (
        ("Quantum", "Orbital", "Synthetic", "Andromeda", "Zero", "Parallel"),
        ("Horizon", "Protocol", "Colony", "Signal", "Machine", "Drift"),
        "a crew far from Earth",
    ),
    "Crime": (
        ("Midnight", "Crooked", "Dirty", "Lucky", "Velvet", "Downtown"),
        ("Heist", "Alibi", "Racket", "Verdict", "Job", "Syndicate"),
        "a heist that unravels",
    ),
    "Horror": (
        ("Haunted", "Crawling", "Hollow", "Bleeding", "Whispering", "Black"),
        ("House", "Woods", "Cellar", "Doll", "Ritual", "Night"),
        "something that lives in the dark",
    ),
    "Animation": (
        ("Little", "Magic", "Brave", "Tiny", "Flying", "Happy"),
        ("Robot", "Dragon", "Kingdom", "Friends", "Balloon", "Penguin"),
        "an unlikely friendship",
    ),
    "Adventure": (
        ("Lost", "Golden", "Forbidden", "Jungle", "Northern", "Sunken"),
        ("Treasure", "Expedition", "Island", "Map", "Temple", "Voyage"),
        "a journey to the edge of the map",
    ),
    "Documentary": (
        ("True", "Inside", "Unseen", "Real", "Secret", "Wild"),
        ("Story", "Planet", "Archive", "Frontier", "Lives", "Ocean"),
        "the people behind a forgotten story",
    ),
    "Fantasy": (
        ("Enchanted", "Shadow", "Crystal", "Elder", "Sorcerer's", "Silver"),
        ("Crown", "Sword", "Realm", "Prophecy", "Throne", "Forest"),
        "an ancient prophecy",
    ),
    "Mystery": (
        ("Missing", "Curious", "Locked", "Vanishing", "Painted", "Secret"),
        ("Clue", "Room", "Portrait", "Key", "Manor", "Riddle"),
        "a riddle nobody could solve",
    ),
    "War": (
        ("Frozen", "Last", "Brothers'", "Burning", "Long", "Steel"),
        ("Front", "Battalion", "Bridge", "Trenches", "Line", "Winter"),
        "soldiers holding the line",
    ),
    "Musical": (
        ("Singing", "Dancing", "Broadway", "Jazz", "Rhythm", "Starlight"),
        ("Nights", "Melody", "Stage", "Chorus", "Ballroom", "Show"),
        "a show that must go on",
    ),
    "Western": (
        ("Dusty", "Lone", "Outlaw", "High", "Red", "Silver"),
        ("Trail", "Canyon", "Sheriff", "Frontier", "Saddle", "Gulch"),
        "a showdown at noon",
    ),
    "Children": (
        ("Magic", "Giant", "Secret", "Little", "Silly", "Happy"),
        ("Treehouse", "Puppy", "Adventure", "Garden", "Circus", "Holiday"),
        "kids who save the day",
    ),
    "Film-Noir": (
        ("Smoky", "Double", "Rainy", "Blind", "Crooked", "Naked"),
        ("City", "Cross", "Street", "Alley", "Dame", "Shadows"),
        "a detective caught in a web of lies",
    ),
}
GENRE_NAMES: tuple[str, ...] = tuple(_GENRE_WORDS)
"""Every genre the generator can use, in assignment order (``n_genres`` takes the first ones)."""

# Sampling and rating constants. TEMPERATURE: how much taste matters against popularity (a user's dominant
# factor makes matching items exp(1/0.4) ≈ 12× more likely). The others shape vectors and ratings.
_TEMPERATURE = 0.4
_FACTOR_NOISE = 0.25  # std of the background taste on every factor
_SECONDARY_PROB = 0.6  # chance an item / user has a second strong factor
_TERTIARY_PROB = 0.15  # chance an item has a third one
_GENRE_FACTOR_MIN = 0.45  # a factor this strong (besides the strongest) adds its genre to the item
_BOTH_GENRES_PROB = 0.2  # a two-genre factor gives both genres with this chance, else one of them
_RATING_BASE = 3.5  # rating of an average user, item and match (real catalogues: ~3.5)
_RATING_SCALE = 0.8  # rating points per standard deviation of the chosen pairs' affinity
_ITEM_BIAS_STD = 0.35
_USER_BIAS_STD = 0.35
_POPULARITY_QUALITY = 0.15  # popular items are rated a little higher
_MIN_PER_USER = 5
_SESSION_LENGTH = 8.0  # mean interactions per session
_SESSION_GAP_SECONDS = 240.0  # mean time between two interactions in one session
_THRESHOLD_SAMPLE = 128  # columns sampled per row to guess the top-k threshold
_BLOCK_ELEMENTS = 1 << 22  # users × items per sampling block (bounds memory: ~16 MB per float32 array)


@dataclass
class SyntheticData:
    """A generated dataset with its ground truth.

    Attributes:
        interactions: canonical frame sorted by user then time: ``user`` int64 (1..n_users), ``item`` int64
            (1..n_items), ``rating`` float32 in 1..5 by 0.5 (absent when implicit), ``timestamp`` int64
            epoch seconds (UTC).
        items: item metadata: ``item`` int64, ``title`` str (unique), ``genres`` list[str] (1–3 genres),
            ``text`` str (a short description naming the genres). One row per item, ``item`` ascending.
        user_factors: true user tastes, float32 ``(n_users, n_factors)``; row ``u - 1`` is user ``u``.
        item_factors: true item tastes, float32 ``(n_items, n_factors)``; row ``i - 1`` is item ``i``.
        config: the generator's arguments (JSON-serialisable), to regenerate or describe the data.
        factor_genres: for each factor, the genre(s) it stands for (one or two names).
        popularity: the true popularity weight of each item, float64 ``(n_items,)``, summing to 1.
    """

    interactions: pd.DataFrame
    items: pd.DataFrame
    user_factors: np.ndarray
    item_factors: np.ndarray
    config: dict[str, Any]
    factor_genres: list[tuple[str, ...]] = field(default_factory=list)
    popularity: np.ndarray | None = None


def _check_config(
    n_users: int,
    n_items: int,
    n_interactions: int,
    n_factors: int,
    n_genres: int,
    popularity_skew: float,
    activity_skew: float,
    rating_noise: float,
    days: int,
) -> None:
    for name, value, low in (
        ("n_users", n_users, 1),
        ("n_items", n_items, _MIN_PER_USER),
        ("n_factors", n_factors, 1),
        ("n_genres", n_genres, 1),
        ("days", days, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ConfigError(f"{name} must be an integer >= {low}; got {value!r}.", field=name)
    if n_genres > len(GENRE_NAMES):
        raise ConfigError(
            f"n_genres must be at most {len(GENRE_NAMES)} (the genres the generator knows); got {n_genres}.",
            field="n_genres",
        )
    low, high = _MIN_PER_USER * n_users, n_users * n_items
    if isinstance(n_interactions, bool) or not isinstance(n_interactions, (int, np.integer)):
        raise ConfigError(f"n_interactions must be an integer; got {n_interactions!r}.", field="n_interactions")
    if not low <= n_interactions <= high:
        raise ConfigError(
            f"n_interactions must be between {low:,} ({_MIN_PER_USER} per user) and {high:,} "
            f"(every user with every item); got {n_interactions:,}.",
            field="n_interactions",
            hint="Change n_users or n_items, or the number of interactions.",
        )
    for name, value in (
        ("popularity_skew", popularity_skew),
        ("activity_skew", activity_skew),
        ("rating_noise", rating_noise),
    ):
        is_number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
        if not is_number or not np.isfinite(value) or value < 0:
            raise ConfigError(f"{name} must be a number >= 0; got {value!r}.", field=name)


def _start_seconds(start: str | dt.date | dt.datetime | pd.Timestamp) -> int:
    """Epoch seconds (UTC) of ``start``; a naive date or time is taken as UTC."""
    try:
        ts = pd.Timestamp(start)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"start must be a date like '2024-01-01'; got {start!r}.", field="start", hint=str(exc)
        ) from None
    if ts is pd.NaT:
        raise ConfigError(f"start must be a date like '2024-01-01'; got {start!r}.", field="start")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1_000_000_000)


def _factor_genres(n_factors: int, n_genres: int) -> list[tuple[str, ...]]:
    """Map factors to genres: factor f gets genre f (mod n_genres); when there are more genres than factors,
    the first factors also get one of the remaining genres (up to two genres per factor, so with more than
    2 × n_factors genres the last ones stay unused)."""
    names = GENRE_NAMES[:n_genres]
    out: list[tuple[str, ...]] = [(names[f % n_genres],) for f in range(n_factors)]
    for extra in range(n_factors, n_genres):
        f = (extra - n_factors) % n_factors
        if len(out[f]) < 2:
            out[f] = (*out[f], names[extra])
    return out


def _taste_vectors(
    rng: np.random.Generator, n: int, n_factors: int, strengths: tuple[float, ...], probs: tuple[float, ...]
) -> np.ndarray:
    """Vectors with one dominant factor (strength ``strengths[0]``), optional weaker ones, background noise.

    Returns float32 ``(n, n_factors)``. ``probs[k]`` is the chance of having the (k+1)-th strong factor.
    """
    vectors = rng.normal(0.0, _FACTOR_NOISE, size=(n, n_factors))
    rows = np.arange(n)
    # distinct random factors per row: the first columns of a random permutation (argsort of uniforms)
    order = np.argsort(rng.random((n, n_factors)), axis=1)
    n_strong = min(len(strengths), n_factors)
    for k in range(n_strong):
        strength = strengths[k] * (1.0 if k == 0 else rng.uniform(0.6, 1.0, size=n))
        present = np.ones(n, dtype=bool) if k == 0 else rng.random(n) < probs[k - 1]
        vectors[rows, order[:, k]] += np.where(present, strength, 0.0)
    return vectors.astype(np.float32)


def _activity(rng: np.random.Generator, n_users: int, n_items: int, n_interactions: int, skew: float) -> np.ndarray:
    """Interactions per user (int64, summing to ``n_interactions``): at least 5 each, the rest shared out in
    proportion to log-normal weights (sigma = ``skew``), capped at 3/4 of the catalogue when that is
    feasible (so nobody needs almost every item), else at the catalogue size."""
    cap = max(_MIN_PER_USER, (3 * n_items) // 4)
    if cap * n_users < n_interactions:
        cap = n_items
    weights = rng.lognormal(0.0, skew, size=n_users) if skew > 0 else np.ones(n_users)
    counts = np.full(n_users, _MIN_PER_USER, dtype=np.int64)
    remaining = n_interactions - int(counts.sum())
    # Proportional shares, rounded down; users at the cap pass their excess on (each round caps someone or
    # leaves fewer than one per open user, which then go to the largest fractional shares).
    while remaining > 0:
        open_ = counts < cap
        share = np.where(open_, weights, 0.0)
        share = share / share.sum() * remaining
        add = np.minimum(np.floor(share).astype(np.int64), cap - counts)
        counts += add
        remaining -= int(add.sum())
        if 0 < remaining < int((counts < cap).sum()):
            frac = np.where(counts < cap, share - np.floor(share), -1.0)
            counts[np.argsort(-frac, kind="stable")[:remaining]] += 1
            remaining = 0
    return counts


def _random_uint64(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform random uint64 of ``shape``: the bit generator's raw output (faster than ``rng.integers``)."""
    return rng.bit_generator.random_raw(int(np.prod(shape))).reshape(shape)


def _add_gumbel(rng: np.random.Generator, keys: np.ndarray) -> None:
    """Add standard Gumbel noise ``-log(-log(u))`` to float32 ``keys`` in place.

    The uniforms are raw 32-bit draws (halves of the bit generator's 64-bit output, much faster than
    ``rng.random``) mapped to ``(k + 0.5) / 2**32``, strictly inside (0, 1). The logs are taken in float64
    and rounded to float32: float32 ``log`` differs in the last bit between CPUs (SIMD paths), float64
    rounded to float32 practically never does, so a seed gives the same data on every machine.
    """
    bits = _random_uint64(rng, ((keys.size + 1) // 2,)).view(np.uint32)[: keys.size].reshape(keys.shape)
    u = bits.astype(np.float64)
    del bits
    u += 0.5
    u *= 2.0**-32
    np.log(u, out=u)
    np.negative(u, out=u)
    np.log(u, out=u)
    keys -= u.astype(np.float32)


_LOW32 = np.uint64(0xFFFFFFFF)
_HIGH32 = np.uint64(0xFFFFFFFF00000000)


def _sortable_bits(values: np.ndarray) -> np.ndarray:
    """uint32 codes of float32 ``values`` that sort in the same order as the floats (IEEE trick: flip all
    bits of negatives, only the sign bit of the others)."""
    bits = values.view(np.uint32)
    return bits ^ ((np.uint32(0) - (bits >> np.uint32(31))) | np.uint32(0x80000000))


def _top_k_shuffled(rng: np.random.Generator, keys: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Columns of the ``k[r]`` largest entries of each row r of float32 ``keys`` ``(C, n)``, in random order.

    Returns int64 columns, row after row (row r contributes ``k[r]`` entries, all distinct).

    Speed matters here (this runs on n_users × n_items keys), and numpy's row-wise ``sort`` of small rows is
    several times faster than ``argpartition``/``argsort``. So: a per-row threshold is read off a strided
    sample of the columns, set so that about 1.5·k + 10 entries pass (rows where too few pass, a few %, get
    the exact threshold from ``np.partition``); the survivors are packed as uint64 ``(value bits << 32) |
    column`` and sorted per row, so the last ``k[r]`` are the top ones (ties go to the higher column); then
    those are re-packed with random high bits and sorted again, which shuffles them.
    """
    n_rows, n = keys.shape
    sample_step = n // _THRESHOLD_SAMPLE
    if sample_step >= 4:
        sample = np.sort(keys[:, ::sample_step], axis=1)  # ascending
        s = sample.shape[1]
        want = np.ceil((1.5 * k + 10) * (s / n)).astype(np.int64) + 1  # rank from the top in the sample
        thr = np.where(want < s, sample[np.arange(n_rows), np.clip(s - want, 0, s - 1)], -np.inf)
        thr = thr.astype(np.float32)
    else:
        thr = np.full(n_rows, -np.inf, dtype=np.float32)
    mask = keys >= thr[:, None]
    n_pass = np.count_nonzero(mask, axis=1)
    short = np.flatnonzero(n_pass < k)
    if len(short):
        k_short = int(k[short].max())
        exact = np.partition(keys[short], n - k_short, axis=1)[:, n - k_short]
        mask[short] = keys[short] >= exact[:, None]
        n_pass[short] = np.count_nonzero(mask[short], axis=1)
    flat = np.flatnonzero(mask)
    del mask
    rows = np.repeat(np.arange(n_rows), n_pass)  # survivors come in row order
    width = int(n_pass.max())
    pos = np.arange(len(flat)) - np.repeat(np.cumsum(n_pass) - n_pass, n_pass)
    # empty slots stay 0, below every real candidate (their value bits are > 0), so they never win
    packed = np.zeros((n_rows, width), dtype=np.uint64)
    packed[rows, pos] = (_sortable_bits(keys.ravel()[flat]).astype(np.uint64) << np.uint64(32)) | (
        flat - rows * n
    ).astype(np.uint64)
    packed.sort(axis=1)
    k_max = int(k.max())
    best = packed[:, width - k_max :]  # each row's winners are its last k[r] entries
    del packed
    keep = np.arange(k_max) >= (k_max - k)[:, None]
    shuffle = _random_uint64(rng, best.shape)
    shuffle &= _HIGH32
    shuffle |= best & _LOW32
    shuffle[~keep] = np.iinfo(np.uint64).max  # unused slots sort last
    shuffle.sort(axis=1)
    return (shuffle[np.arange(k_max) < k[:, None]] & _LOW32).astype(np.int64)


def _single_threaded_blas() -> contextlib.AbstractContextManager[object]:
    """Limit BLAS to one thread while sampling: the products are thin (inner dimension n_factors), and a
    multi-threaded OpenBLAS spends more time waking and spinning threads than multiplying (measured: 20×
    slower on a busy 2-core machine). threadpoolctl comes with scikit-learn; without it, nothing changes."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn (and so threadpoolctl) is a dependency
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _sample_items(
    rng: np.random.Generator,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    log_popularity: np.ndarray,
    counts: np.ndarray,
    offsets: np.ndarray,
    out_items: np.ndarray,
    out_affinity: np.ndarray,
) -> None:
    """Draw ``counts[u]`` distinct items for every user u into ``out_items[offsets[u]:offsets[u]+counts[u]]``
    (and their affinity, user·item, into ``out_affinity`` at the same places).

    Exact sampling without replacement ∝ exp(affinity / T) × popularity via Gumbel-top-k: the k largest of
    ``logit + Gumbel noise`` are a without-replacement sample. Users are processed in blocks of similar
    ``counts`` (sorted by count) against the whole catalogue; the chosen items of a user come in random
    order (their time order). Call it under :func:`_single_threaded_blas` (thin products).
    """
    n_users, n_items = len(counts), item_factors.shape[0]
    # float64 products rounded to float32: float32 BLAS kernels sum in a CPU-dependent order, which would
    # make the data differ (slightly) between machines
    users64 = user_factors.astype(np.float64)
    items_t = item_factors.T.astype(np.float64)  # (n_factors, n_items), contiguous for the product
    log_pop = log_popularity.astype(np.float32)
    by_count = np.argsort(counts, kind="stable")
    sorted_counts = counts[by_count]
    block = max(1, _BLOCK_ELEMENTS // n_items)
    start = 0
    while start < n_users:
        # a block: at most `block` users, with counts within a factor 2 (the survivors of one block are
        # padded to its widest row, so similar counts waste little)
        stop = min(start + block, n_users)
        stop = min(stop, int(np.searchsorted(sorted_counts, 2 * sorted_counts[start] + 16, side="right")))
        users = by_count[start:stop]
        start = stop
        k = counts[users]
        affinity = (users64[users] @ items_t).astype(np.float32)
        keys = affinity * np.float32(1.0 / _TEMPERATURE)
        keys += log_pop
        _add_gumbel(rng, keys)
        cols = _top_k_shuffled(rng, keys, k)
        del keys
        rows = np.repeat(np.arange(len(users)), k)
        dest = np.repeat(offsets[users], k) + (np.arange(len(cols)) - np.repeat(np.cumsum(k) - k, k))
        out_items[dest] = cols
        out_affinity[dest] = affinity.ravel()[rows * n_items + cols]


def _timestamps(rng: np.random.Generator, counts: np.ndarray, offsets: np.ndarray, start: int, days: int) -> np.ndarray:
    """Per-user sorted epoch seconds (int64) in ``[start, start + days·86400)``, rows grouped by user.

    Each user is active during a random window of the period (its length a Beta-distributed share of the
    period: many short-lived users, a few long ones). Interactions come in sessions (on average
    ``_SESSION_LENGTH`` per session, a few minutes apart); the gaps between sessions are exponential and
    scaled so the sessions fill the user's window. Times are running sums of gaps, hence sorted per user.
    """
    n_users, n = len(counts), int(counts.sum())
    period = days * 86_400
    new_session = rng.random(n) < 1.0 / _SESSION_LENGTH
    new_session[offsets] = True  # a user's first interaction opens a session
    # One exponential draw per row serves as the gap before it: within a session it is in units of
    # _SESSION_GAP_SECONDS, before a new session in units of the user's inter-session scale.
    gap = rng.standard_exponential(n)
    session_gap = np.where(new_session, gap, 0.0)
    big = np.add.reduceat(session_gap, offsets) + rng.standard_exponential(n_users)  # + gap after the last
    small = (np.add.reduceat(gap, offsets) - np.add.reduceat(session_gap, offsets)) * _SESSION_GAP_SECONDS
    span = rng.beta(0.8, 1.2, size=n_users) * period
    window_start = rng.random(n_users) * (period - span)
    scale = np.maximum(span - small, 0.0) / big  # seconds per unit of session gap, per user
    gap *= np.where(new_session, np.repeat(scale, counts), _SESSION_GAP_SECONDS)
    seconds = np.cumsum(gap)
    # per-user running sums: subtract the total before the user's first row, add the window start
    before = seconds[offsets] - gap[offsets]
    seconds += np.repeat(window_start - before, counts)
    np.minimum(seconds, period - 1, out=seconds)
    return seconds.astype(np.int64) + start


def _item_metadata(
    rng: np.random.Generator, item_factors: np.ndarray, factor_genres: list[tuple[str, ...]]
) -> pd.DataFrame:
    """Genres from each item's strongest factors (1–3), titles and descriptions from genre word lists."""
    n_items, n_factors = item_factors.shape
    order = np.argsort(-item_factors, axis=1)[:, : min(3, n_factors)]
    strength = np.take_along_axis(item_factors, order, axis=1)
    selected = strength >= _GENRE_FACTOR_MIN
    selected[:, 0] = True
    pick_second = rng.random(order.shape) < 0.5
    both = rng.random(order.shape) < _BOTH_GENRES_PROB
    adj_pick = rng.integers(0, 1 << 30, size=n_items)
    noun_pick = rng.integers(0, 1 << 30, size=n_items)
    noun_from_second = rng.random(n_items) < 0.4
    with_the = rng.random(n_items) < 0.6

    genres: list[list[str]] = []
    # A loop over items (not interactions): a few µs each; n_items is small next to the interactions.
    for i in range(n_items):
        chosen: list[str] = []
        for r in range(order.shape[1]):
            if not selected[i, r]:
                continue
            names = factor_genres[order[i, r]]
            if len(names) == 1 or both[i, r]:
                candidates = names
            else:
                candidates = (names[int(pick_second[i, r])],)
            for g in candidates:
                if g not in chosen and len(chosen) < 3:
                    chosen.append(g)
        genres.append(chosen)

    titles, texts = [], []
    for i, chosen in enumerate(genres):
        first = _GENRE_WORDS[chosen[0]]
        noun_genre = chosen[1] if noun_from_second[i] and len(chosen) > 1 else chosen[0]
        nouns = _GENRE_WORDS[noun_genre][1]
        adjective, noun = first[0][adj_pick[i] % len(first[0])], nouns[noun_pick[i] % len(nouns)]
        titles.append(f"The {adjective} {noun}" if with_the[i] else f"{adjective} {noun}")
        kinds = (
            " and ".join(g.lower() for g in chosen)
            if len(chosen) < 3
            else (f"{chosen[0].lower()}, {chosen[1].lower()} and {chosen[2].lower()}")
        )
        article = "An" if kinds[0] in "aeiou" else "A"
        texts.append(f"{article} {kinds} film about {first[2]}.")
    title = pd.Series(titles)
    # keep titles unique the way studios do: the second "The Midnight Heist" is "The Midnight Heist 2"
    seq = title.groupby(title).cumcount().to_numpy() + 1
    title = [t if s == 1 else f"{t} {s}" for t, s in zip(titles, seq)]
    return pd.DataFrame(
        {
            ITEM: np.arange(1, n_items + 1, dtype=np.int64),
            TITLE: pd.Series(title, dtype=object),
            GENRES: pd.Series(genres, dtype=object),
            TEXT: pd.Series(texts, dtype=object),
        }
    )


def generate_synthetic(
    n_users: int = 2_000,
    n_items: int = 1_000,
    n_interactions: int = 100_000,
    *,
    n_factors: int = 8,
    n_genres: int = 12,
    popularity_skew: float = 1.0,
    activity_skew: float = 1.0,
    rating_noise: float = 0.5,
    implicit: bool = False,
    start: str | dt.date | dt.datetime | pd.Timestamp = "2024-01-01",
    days: int = 365,
    seed: int = 42,
) -> SyntheticData:
    """Generate a synthetic interaction log with latent tastes, genres, a popularity long tail and sessions.

    Args:
        n_users: number of users (ids 1..n_users); every one gets at least 5 interactions.
        n_items: catalogue size (ids 1..n_items), at least 5. Cost grows with n_users × n_items (every user
            is scored against the whole catalogue), so keep it in the thousands.
        n_interactions: exact number of rows; between 5 × n_users and n_users × n_items. No (user, item)
            pair repeats.
        n_factors: dimensions of the latent tastes; each factor stands for one or two genres.
        n_genres: how many genres are used (1..18); more genres than factors give factors two genres (so at
            most 2 × n_factors genres appear).
        popularity_skew: Zipf exponent of item popularity (0 = uniform; 1 ≈ real catalogues).
        activity_skew: sigma of the log-normal number of interactions per user (0 = everyone equal).
        rating_noise: standard deviation (rating points) of the noise added to ratings.
        implicit: if True, the frame has no ``rating`` column.
        start: first day of the period (a date string, date/datetime or Timestamp; naive = UTC).
        days: length of the period in days; timestamps are in ``[start, start + days)``.
        seed: random seed; the same arguments and seed give identical data.

    Returns:
        :class:`SyntheticData` (interactions sorted by user then time, item metadata, the true factors).

    Raises:
        ConfigError: an argument is out of range (the message says the allowed range).
    """
    _check_config(
        n_users,
        n_items,
        n_interactions,
        n_factors,
        n_genres,
        popularity_skew,
        activity_skew,
        rating_noise,
        days,
    )
    start_s = _start_seconds(start)
    n_users, n_items, n_interactions = int(n_users), int(n_items), int(n_interactions)
    # Independent random streams per part, so e.g. the implicit variant or another n_interactions keeps
    # the same items, tastes and metadata.
    names = ("items", "users", "metadata", "activity", "sampling", "time", "ratings")
    streams = dict(zip(names, (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(names)))))
    factor_genres = _factor_genres(n_factors, n_genres)

    rng_i = streams["items"]
    item_factors = _taste_vectors(rng_i, n_items, n_factors, (1.0, 0.7, 0.5), (_SECONDARY_PROB, _TERTIARY_PROB))
    # Zipf-like popularity over a random order of the items (item 1 is not the most popular)
    log_popularity = -popularity_skew * np.log(rng_i.permutation(n_items) + 1.0)
    popularity = np.exp(log_popularity - log_popularity.max())
    popularity /= popularity.sum()
    user_factors = _taste_vectors(streams["users"], n_users, n_factors, (1.0, 0.6), (_SECONDARY_PROB,))

    counts = _activity(streams["activity"], n_users, n_items, n_interactions, activity_skew)
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    item_idx = np.empty(n_interactions, dtype=np.int64)
    affinity = np.empty(n_interactions, dtype=np.float32)
    with _single_threaded_blas():
        _sample_items(
            streams["sampling"], user_factors, item_factors, log_popularity, counts, offsets, item_idx, affinity
        )
    seconds = _timestamps(streams["time"], counts, offsets, start_s, days)

    if not implicit:
        rng_r = streams["ratings"]
        item_bias = rng_r.normal(0.0, _ITEM_BIAS_STD, size=n_items).astype(np.float32)
        log_pop_std = log_popularity.std()
        if log_pop_std > 0:  # popular items are a little better liked
            z_pop = (log_popularity - log_popularity.mean()) / log_pop_std
            item_bias += (_POPULARITY_QUALITY * z_pop).astype(np.float32)
        user_bias = rng_r.normal(0.0, _USER_BIAS_STD, size=n_users).astype(np.float32)
        # affinity in standard units of what was actually chosen, so the scale is the same for any setup
        a_mean, a_std = float(affinity.mean(dtype=np.float64)), float(affinity.std(dtype=np.float64))
        raw = affinity
        raw -= np.float32(a_mean)
        raw *= np.float32(_RATING_SCALE / max(a_std, 1e-6))
        raw += np.float32(_RATING_BASE)
        raw += item_bias[item_idx]
        raw += np.repeat(user_bias, counts)
        raw += np.float32(rating_noise) * rng_r.standard_normal(n_interactions, dtype=np.float32)
        raw *= np.float32(2.0)
        np.round(raw, out=raw)
        raw *= np.float32(0.5)
        rating = np.clip(raw, np.float32(1.0), np.float32(5.0), out=raw)
    item_idx += 1  # ids are 1-based, like MovieLens
    columns = {USER: np.repeat(np.arange(1, n_users + 1, dtype=np.int64), counts), ITEM: item_idx}
    if not implicit:
        columns[RATING] = rating
    columns[TIMESTAMP] = seconds
    interactions = pd.DataFrame(columns, copy=False)  # the arrays are ours: no copy, no consolidation

    config = {
        "n_users": n_users,
        "n_items": n_items,
        "n_interactions": n_interactions,
        "n_factors": int(n_factors),
        "n_genres": int(n_genres),
        "popularity_skew": float(popularity_skew),
        "activity_skew": float(activity_skew),
        "rating_noise": float(rating_noise),
        "implicit": bool(implicit),
        "start": pd.Timestamp(start_s, unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M:%S"),
        "days": int(days),
        "seed": int(seed) if seed is not None else None,
    }
    return SyntheticData(
        interactions=interactions,
        items=_item_metadata(streams["metadata"], item_factors, factor_genres),
        user_factors=user_factors,
        item_factors=item_factors,
        config=config,
        factor_genres=factor_genres,
        popularity=popularity,
    )


@functools.lru_cache(maxsize=1)
def builtin_default() -> SyntheticData:
    """The dataset the app starts on: ``generate_synthetic()`` with its defaults (2,000 users, 1,000 items,
    100,000 rated interactions over 2024, seed 42). Cached per process: treat the frames as read-only
    (copy before changing them)."""
    return generate_synthetic()
