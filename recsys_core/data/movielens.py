"""MovieLens datasets: load a local folder in any of the official layouts, or download one from GroupLens.

Layouts (detected from the file names):

* ``ml-100k``: ``u.data`` (tab-separated ``user item rating timestamp``, no header) and ``u.item``
  (``|``-separated, latin-1, 19 genre flags);
* ``ml-1m`` / ``ml-10m``: ``ratings.dat`` (``user::item::rating::timestamp``) and ``movies.dat``
  (``id::title::Genre1|Genre2``, latin-1);
* ``ml-latest`` / ``ml-latest-small`` / ``ml-20m`` / ``ml-25m``: ``ratings.csv``
  (``userId,movieId,rating,timestamp``) and ``movies.csv`` (``movieId,title,genres``).

The MovieLens licence forbids redistribution, so RecLab never ships the data: :func:`download_movielens`
fetches the official zip from files.grouplens.org into a local cache (``$RECLAB_HOME/cache/movielens``),
once; later calls use the cache without touching the network.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pandas as pd

from recsys_core.config import reclab_home
from recsys_core.data.load import load_interactions
from recsys_core.data.metadata import check_metadata_coverage, read_item_metadata
from recsys_core.data.schema import ColumnMapping, ReadInfo
from recsys_core.errors import ConfigError, DataError, DataWarning

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens"
RECLAB_HOME_ENV = "RECLAB_HOME"

# Datasets that can be downloaded: name -> approximate zip size (for messages). Each zip holds one folder
# named like the dataset.
DOWNLOADABLE: dict[str, str] = {"ml-100k": "5 MB", "ml-latest-small": "1 MB", "ml-1m": "6 MB"}

# Names the Data page's source options as the page shows them (ui/sources.py SOURCES), and the Python call.
_DOWNLOAD_HINT = (
    "Check the internet connection and try again, or download the zip yourself from "
    "https://grouplens.org/datasets/movielens/ and either upload the zip (Data page, source 'Upload a file') or "
    "unzip it and give the folder's path (Data page, source 'File or MovieLens folder on the server'; "
    "in Python, load_movielens_folder(path))"
)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class _Layout:
    key: str  # short id, also the ReadInfo format suffix
    ratings: str  # ratings file name
    movies: str  # item metadata file name
    delimiter: str
    has_header: bool
    mapping: ColumnMapping | None  # None: the reader names the columns user,item,rating,timestamp


_LAYOUTS = (
    _Layout("100k", "u.data", "u.item", "\t", False, None),
    _Layout("dat", "ratings.dat", "movies.dat", "::", False, None),
    _Layout(
        "csv",
        "ratings.csv",
        "movies.csv",
        ",",
        True,
        ColumnMapping(user="userId", item="movieId", rating="rating", timestamp="timestamp"),
    ),
)


@dataclass
class MovieLensData:
    """A loaded MovieLens dataset.

    Attributes:
        interactions: canonical frame (``user``, ``item`` int64, ``rating`` float32, ``timestamp`` int64
            epoch seconds) in file order.
        items: item metadata (``item``, ``title``, ``genres`` list[str], ``text``), or None when the folder
            has no movies file.
        name: the dataset's name, e.g. ``ml-100k`` (the folder name when it looks like one).
        info: how the ratings file was read; ``format`` is ``movielens-100k``, ``movielens-dat`` or
            ``movielens-csv``.
        folder: the folder the files came from.
        warnings: non-fatal findings: from reading the ratings and movies files, and how well the movies
            file covers the rated items (``metadata_unmatched`` / ``items_without_metadata``).
    """

    interactions: pd.DataFrame
    items: pd.DataFrame | None
    name: str
    info: ReadInfo
    folder: Path | None = None
    warnings: list[DataWarning] = field(default_factory=list)


def _find_layout(folder: Path) -> tuple[Path, _Layout] | None:
    """The folder holding a known ratings file: ``folder`` itself, or its single subfolder that has one
    (a zip extracted into its own folder gives ``ml-100k/ml-100k/u.data``)."""
    for layout in _LAYOUTS:
        if (folder / layout.ratings).is_file():
            return folder, layout
    matches = []
    with contextlib.suppress(OSError):
        for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))):
            for layout in _LAYOUTS:
                if (sub / layout.ratings).is_file():
                    matches.append((sub, layout))
                    break
    return matches[0] if len(matches) == 1 else None


def _listing(folder: Path, limit: int = 12) -> str:
    try:
        names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir() if not p.name.startswith("."))
    except OSError:
        return "nothing readable"
    if not names:
        return "an empty folder"
    shown = ", ".join(names[:limit])
    return shown + (f" … ({len(names)} entries)" if len(names) > limit else "")


def load_movielens_folder(path: str | os.PathLike[str]) -> MovieLensData:
    """Load a MovieLens folder in any official layout (see the module docstring).

    Args:
        path: the dataset folder (e.g. ``.../ml-100k``), or a folder whose only dataset subfolder is one.

    Returns:
        :class:`MovieLensData` with the canonical interactions, the item metadata (None when the movies
        file is missing; a ``movies_missing`` warning says so) and how the ratings were read.

    Raises:
        DataError: ``not_movielens`` when the folder (or its subfolders) has no ``u.data``,
            ``ratings.dat`` or ``ratings.csv`` (the message lists what it found), ``not_found`` when the
            path is not a folder; any error from reading the files (bad rows etc.).
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise DataError(
            f"'{folder}' is not a folder",
            code="not_found",
            hint="Give the path of an unzipped MovieLens folder, e.g. .../ml-100k",
        )
    found = _find_layout(folder)
    if found is None:
        raise DataError(
            f"'{folder}' does not look like a MovieLens folder: it has no u.data, ratings.dat or ratings.csv "
            f"(found: {_listing(folder)})",
            code="not_movielens",
            hint="Point at the unzipped dataset folder (e.g. ml-100k, ml-1m or ml-latest-small), "
            "or load the ratings file itself as a generic file",
        )
    data_folder, layout = found
    ratings_path = data_folder / layout.ratings
    loaded = load_interactions(
        ratings_path,
        name=layout.ratings,
        mapping=layout.mapping,
        delimiter=layout.delimiter,
        has_header=layout.has_header,
    )
    warnings = list(loaded.warnings)
    items: pd.DataFrame | None = None
    movies_path = data_folder / layout.movies
    if movies_path.is_file():
        items, item_warnings = read_item_metadata(movies_path, name=layout.movies)
        warnings.extend(item_warnings)
        warnings.extend(check_metadata_coverage(items, loaded.frame))
    else:
        warnings.append(
            DataWarning(
                code="movies_missing",
                what=f"The folder has no {layout.movies}, so items have no titles or genres",
                file=layout.movies,
                hint="Copy the movies file next to the ratings to see titles and genres",
            )
        )
    name = data_folder.name if data_folder.name.lower().startswith("ml-") else f"MovieLens ({layout.ratings})"
    info = dataclasses.replace(loaded.info, format=f"movielens-{layout.key}")
    return MovieLensData(
        interactions=loaded.frame, items=items, name=name, info=info, folder=data_folder, warnings=warnings
    )


def default_cache_dir() -> Path:
    """``$RECLAB_HOME/cache/movielens`` (``RECLAB_HOME`` defaults to ``./reclab_data``)."""
    return reclab_home() / "cache" / "movielens"


def _check_name(name: str) -> None:
    if name not in DOWNLOADABLE:
        raise ConfigError(
            f"Unknown MovieLens dataset {name!r}.",
            field="name",
            hint=f"Known: {', '.join(DOWNLOADABLE)}.",
        )


def _safe_members(zf: zipfile.ZipFile, archive: str) -> list[zipfile.ZipInfo]:
    """The archive's members, after refusing any that would land outside the target folder (zip slip)."""
    members = zf.infolist()
    bad = []
    for info in members:
        name = info.filename.replace("\\", "/")
        parts = PurePosixPath(name).parts
        if name.startswith("/") or (parts and ":" in parts[0]) or ".." in parts:
            bad.append(info.filename)
    if bad:
        raise DataError(
            f"The archive has members that would be written outside its folder: {', '.join(bad[:3])}",
            code="unsafe_archive",
            file=archive,
            hint="The download is not an official MovieLens zip; nothing was extracted",
        )
    return members


def _download(url: str, target: Path, timeout: float) -> None:
    """Stream ``url`` into a temporary file next to ``target``, then rename it into place (atomic)."""
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            expected = response.headers.get("Content-Length")
            received = 0
            while chunk := response.read(_CHUNK):
                try:
                    out.write(chunk)
                except OSError as exc:  # disk full, permissions: not a network problem
                    raise DataError(
                        f"could not save the download to '{target.parent}': {exc.strerror or exc}",
                        code="download_failed",
                        hint=f"Free some disk space or set {RECLAB_HOME_ENV} to another folder",
                    ) from None
                received += len(chunk)
        if expected is not None and expected.isdigit() and received != int(expected):
            raise DataError(
                f"The download from {url} was cut off ({received:,} of {int(expected):,} bytes)",
                code="download_failed",
                hint=_DOWNLOAD_HINT,
            )
        os.replace(tmp_name, target)
    except urllib.error.HTTPError as exc:
        raise DataError(
            f"could not download {url}: the server answered {exc.code} {exc.reason}",
            code="download_failed",
            hint=_DOWNLOAD_HINT,
        ) from None
    except (urllib.error.URLError, OSError) as exc:  # offline, refused, DNS, timeout (TimeoutError is an OSError)
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise DataError(f"could not reach {url}: {reason}", code="download_failed", hint=_DOWNLOAD_HINT) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)


def _extract(zip_path: Path, name: str, cache: Path) -> Path:
    """Extract ``zip_path`` into a temporary folder in ``cache``, then move its dataset folder to
    ``cache/name`` (atomic rename, so a half-extracted folder is never mistaken for a cached dataset)."""
    work = Path(tempfile.mkdtemp(dir=cache, prefix=f".{name}.extract-"))
    try:
        try:
            with zipfile.ZipFile(zip_path) as zf:
                zf.extractall(work, members=_safe_members(zf, zip_path.name))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
            raise DataError(
                f"The download of {name} is not a valid zip file ({exc})",
                code="download_failed",
                file=zip_path.name,
                hint=_DOWNLOAD_HINT,
            ) from None
        found = _find_layout(work)
        if found is None:
            raise DataError(
                f"The downloaded {name} zip does not contain a MovieLens folder (found: {_listing(work)})",
                code="not_movielens",
                file=zip_path.name,
                hint=_DOWNLOAD_HINT,
            )
        target = cache / name
        try:
            os.replace(found[0], target)
        except OSError:
            if _find_layout(target) is None:  # not another process winning the race: a real failure
                raise
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def download_movielens(
    name: str = "ml-100k",
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    base_url: str = GROUPLENS_URL,
    timeout: float = 30,
) -> Path:
    """Download and unzip an official MovieLens dataset into the cache, once; return its folder.

    Args:
        name: ``ml-100k`` (100,000 ratings), ``ml-latest-small`` (100,836) or ``ml-1m`` (1,000,209).
        cache_dir: where datasets are kept; default :func:`default_cache_dir` (``$RECLAB_HOME/cache/movielens``).
        base_url: where ``{name}.zip`` is fetched from (default files.grouplens.org).
        timeout: seconds to wait for the server at each step of the download.

    Returns:
        The dataset folder, e.g. ``<cache_dir>/ml-100k``. When it is already there (and has the ratings
        file), no network access happens.

    Raises:
        ConfigError: unknown ``name``.
        DataError: ``download_failed`` (offline, server error, cut-off or invalid zip; the message says
            "could not reach <url>: <reason>"), ``unsafe_archive`` (a member would escape the folder),
            ``not_movielens`` (the zip holds no MovieLens folder).
    """
    _check_name(name)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cached = cache / name
    if _find_layout(cached) is not None:
        return cached
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"could not create the cache folder '{cache}': {exc.strerror or exc}",
            code="download_failed",
            hint=f"Set {RECLAB_HOME_ENV} to a writable folder",
        ) from None
    zip_path = cache / f"{name}.zip"
    _download(f"{base_url.rstrip('/')}/{name}.zip", zip_path, timeout)
    try:
        return _extract(zip_path, name, cache)
    finally:
        with contextlib.suppress(OSError):
            zip_path.unlink()  # the extracted folder is the cache


def load_movielens(name: str = "ml-100k", *, cache_dir: str | os.PathLike[str] | None = None) -> MovieLensData:
    """Download (or take from the cache) and load an official MovieLens dataset.

    See :func:`download_movielens` for ``name`` and ``cache_dir`` and :func:`load_movielens_folder` for the
    result and errors.
    """
    return load_movielens_folder(download_movielens(name, cache_dir=cache_dir))
