"""Read a table (interaction log or item metadata) from a path, raw bytes or an uploaded file.

:func:`read_table` works out everything a user would otherwise have to say: compression (gzip, zip,
including a zipped MovieLens folder), format (delimited text, Parquet, JSON Lines / JSON array),
encoding (UTF-8 with or without BOM, UTF-16 with BOM, cp1252/latin-1), delimiter (``,`` ``\\t`` ``;``
``|`` ``::`` or runs of spaces) and whether the first line is a header. It sniffs column dtypes from
the first ~64 KB and then reads the whole file once with pandas' C parser and an explicit dtype map,
which is the fastest and leanest way pandas offers. Problems come back as :class:`DataError` with the
file name, the line and a hint.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import os
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, TypeAlias

import pandas as pd

from recsys_core.data.columns import is_known_column_name
from recsys_core.data.schema import ITEM, RATING, TIMESTAMP, USER, ReadInfo
from recsys_core.errors import ConfigError, DataError

# a path, raw bytes, or a binary file-like object (Streamlit's UploadedFile has .name/.getvalue()/.read())
Source: TypeAlias = "str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO"

DEFAULT_MAX_UPLOAD_MB = 1024
MAX_UPLOAD_ENV = "RECLAB_MAX_UPLOAD_MB"
SAMPLE_BYTES = 64 * 1024
_MAX_SAMPLE_BYTES = 4 * 1024 * 1024  # grown to this when the first lines are very long
_SAMPLE_ROWS = 200
_CHUNK = 1 << 20

MOVIELENS_RATING_NAMES = [USER, ITEM, RATING, TIMESTAMP]
# Ratings files of the MovieLens / HetRec folders, picked out of a zipped dataset folder.
_KNOWN_RATINGS_FILES = ("u.data", "ratings.dat", "ratings.csv", "user_artists.dat", "ratings.parquet")
_DOC_FILE = re.compile(
    r"(^readme|^license|^licence|^changelog|\.(md|txt|pdf|html?|py|sh|r|ipynb|rst|doc|docx)$)", re.IGNORECASE
)
_NA_VALUES = frozenset(
    {"", "na", "n/a", "nan", "null", "none", "<na>", "#n/a", "-nan", "nat", "-1.#ind", "1.#qnan", "#na"}
)
_INT = re.compile(r"^[-+]?\d+$")
_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?(inf|infinity)$", re.IGNORECASE)
_LINE_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_EOF_IN_STRING = re.compile(r"EOF inside string starting at row (\d+)")
_DELIMITER_NAMES = {
    "tab": "\t",
    "\\t": "\t",
    "comma": ",",
    "semicolon": ";",
    "pipe": "|",
    "space": r"\s+",
    "spaces": r"\s+",
    "whitespace": r"\s+",
    " ": r"\s+",
}
_FORMAT_ALIASES = {
    "csv": "csv",
    "tsv": "csv",
    "txt": "csv",
    "dat": "csv",
    "data": "csv",
    "text": "csv",
    "delimited": "csv",
    "parquet": "parquet",
    "pq": "parquet",
    "jsonl": "jsonl",
    "ndjson": "jsonl",
    "json": "json",
}
_PANDAS_3 = int(pd.__version__.split(".")[0]) >= 3
EMPTY_HINT = "Use a file with at least one interaction row (one per line: user, item, ...)"


def default_max_bytes() -> int:
    """The upload size limit in bytes: ``RECLAB_MAX_UPLOAD_MB`` (megabytes, default 1024) times 2**20."""
    raw = os.environ.get(MAX_UPLOAD_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_UPLOAD_MB * 1024 * 1024
    try:
        mb = float(raw)
    except ValueError:
        mb = -1.0
    if not mb > 0:
        raise ConfigError(
            f"{MAX_UPLOAD_ENV} must be a positive number of megabytes; got {raw!r}.", field=MAX_UPLOAD_ENV
        )
    return int(mb * 1024 * 1024)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):,.1f} MB"


# ---------------------------------------------------------------------------------------------------
# the raw source: a path, bytes, or a binary file-like


@dataclass
class _Raw:
    """The input as given: how big it is and how to (re)open it as a binary stream."""

    name: str | None
    n_bytes: int
    path: str | None = None
    data: bytes | None = None
    stream: Any = None
    start: int = 0

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        if self.path is not None:
            with open(self.path, "rb") as fh:
                yield fh
        elif self.data is not None:
            # BytesIO over bytes shares the buffer until written to: no copy
            yield io.BytesIO(self.data)
        else:
            self.stream.seek(self.start)
            yield _NonClosing(self.stream)


class _NonClosing(io.RawIOBase):
    """A view of a caller's stream that readers may close without closing the caller's object."""

    def __init__(self, inner: Any) -> None:
        super().__init__()
        self._inner = inner

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return bool(getattr(self._inner, "seekable", lambda: False)())

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return int(self._inner.seek(offset, whence))

    def tell(self) -> int:
        return int(self._inner.tell())

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n

    def read(self, size: int = -1) -> bytes:
        return bytes(self._inner.read(size))


def _resolve_source(source: Source, name: str | None) -> _Raw:
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        display = name or os.path.basename(path) or path
        if not os.path.exists(path):
            raise DataError(
                "The file does not exist",
                code="not_found",
                file=display,
                hint=f"Check the path: {path}",
            )
        if os.path.isdir(path):
            raise DataError(
                "This is a folder, not a file",
                code="not_found",
                file=display,
                hint="Point to the ratings file inside it (e.g. ml-100k/u.data)",
            )
        return _Raw(name=display, n_bytes=os.stat(path).st_size, path=path)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = source if isinstance(source, bytes) else bytes(source)
        return _Raw(name=name, n_bytes=len(data), data=data)
    if hasattr(source, "read"):
        display = name or getattr(source, "name", None)
        if isinstance(display, str):
            display = os.path.basename(display) or display
        else:
            display = None
        seekable = bool(getattr(source, "seekable", lambda: False)())
        if seekable:
            start = int(source.tell())
            size = getattr(source, "size", None)
            if not isinstance(size, int):
                size = int(source.seek(0, io.SEEK_END)) - start
                source.seek(start)
            return _Raw(name=display, n_bytes=int(size), stream=source, start=start)
        data = source.read()
        if isinstance(data, str):
            data = data.encode("utf-8")
        return _Raw(name=display, n_bytes=len(data), data=bytes(data))
    raise TypeError(f"read_table needs a path, bytes or a binary file object; got {type(source).__name__}")


# ---------------------------------------------------------------------------------------------------
# content: decompressed bytes, with a sample


@dataclass
class _Content:
    display: str | None
    compression: str | None
    opener: Callable[[], contextlib.AbstractContextManager[IO[bytes]]]
    path: str | None  # set when pandas may read the path itself (no compression)


def _zip_members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    members = []
    for info in zf.infolist():
        parts = info.filename.split("/")
        if info.is_dir() or parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts if p):
            continue
        members.append(info)
    return members


def _choose_zip_member(zf: zipfile.ZipFile, display: str | None) -> str:
    members = _zip_members(zf)
    names = [m.filename for m in members]
    if "[Content_Types].xml" in [n.split("/")[-1] for n in zf.namelist()] and any(
        n.startswith("xl/") for n in zf.namelist()
    ):
        raise DataError(
            "This is an Excel workbook, which RecLab does not read",
            code="unreadable",
            file=display,
            hint="Save the sheet as CSV (UTF-8) and upload that file",
        )
    if not members:
        raise DataError(
            "The zip archive contains no data file",
            code="empty_file",
            file=display,
            hint="Upload the data file itself, or a zip that contains it",
        )
    if len(members) == 1:
        return names[0]
    known = [n for n in names if n.split("/")[-1].lower() in _KNOWN_RATINGS_FILES]
    if len(known) == 1:
        return known[0]
    data_files = [n for n in names if not _DOC_FILE.search(n.split("/")[-1])]
    if len(data_files) == 1:
        return data_files[0]
    listed = ", ".join(names[:15]) + (f", … ({len(names)} files in all)" if len(names) > 15 else "")
    raise DataError(
        f"The zip archive holds several files that could be the data: {listed}",
        code="ambiguous_archive",
        file=display,
        hint="Upload the one data file you mean (unzipped, or zipped on its own)",
    )


def _open_content(raw: _Raw, stack: contextlib.ExitStack) -> tuple[_Content, bytes, bool]:
    """Detect compression; return the content opener, the first bytes of the content and whether
    those bytes are all of it."""
    with raw.open() as fh:
        magic = fh.read(4)
    if magic[:2] == b"\x1f\x8b":

        @contextlib.contextmanager
        def open_gzip() -> Iterator[IO[bytes]]:
            with raw.open() as fh, gzip.GzipFile(fileobj=fh, mode="rb") as gz:
                yield gz  # type: ignore[misc]

        content = _Content(raw.name, "gzip", open_gzip, None)
    elif magic[:2] == b"PK":
        fh = stack.enter_context(raw.open())
        try:
            zf = stack.enter_context(zipfile.ZipFile(fh))
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataError(
                f"The zip archive is damaged ({exc})",
                code="unreadable",
                file=raw.name,
                hint="Re-create the archive, or upload the data file unzipped",
            ) from exc
        member = _choose_zip_member(zf, raw.name)
        display = f"{raw.name}/{member}" if raw.name else member

        @contextlib.contextmanager
        def open_member() -> Iterator[IO[bytes]]:
            with zf.open(member) as m:
                yield m

        content = _Content(display, "zip", open_member, None)
    else:
        content = _Content(raw.name, None, raw.open, raw.path)
    try:
        with content.opener() as fh:
            head = fh.read(SAMPLE_BYTES)
            # very long first lines (item descriptions): read on until a few lines are in the sample
            while head.count(b"\n") < 3 and len(head) < _MAX_SAMPLE_BYTES:
                more = fh.read(len(head))
                if not more:
                    break
                head += more
            complete = not fh.read(1)
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(
            f"The compressed file is damaged ({exc})",
            code="unreadable",
            file=content.display,
            hint="Re-create the archive, or upload the data file uncompressed",
        ) from exc
    return content, head, complete


# ---------------------------------------------------------------------------------------------------
# encoding


def _encoding_error(display: str | None, detail: str) -> DataError:
    return DataError(
        f"The file is not readable text ({detail})",
        code="encoding",
        file=display,
        hint="Save it as a UTF-8 CSV (in Excel: File > Save As > CSV UTF-8) and try again",
    )


def _looks_binary(head: bytes) -> bool:
    sample = head[:8192]
    if not sample:
        return False
    control = sum(sample.count(bytes([b])) for b in (*range(0, 9), *range(14, 32), 127))
    return control / len(sample) > 0.01


def _detect_encoding(head: bytes, complete: bool, display: str | None) -> str:
    """Pick the text encoding from the first bytes: BOMs, then UTF-8, then cp1252 / latin-1."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise _encoding_error(display, "it looks like an old Excel .xls workbook")
    if b"\x00" in head:
        raise _encoding_error(display, "it contains NUL bytes: binary data, or UTF-16 without a byte-order mark")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if _looks_binary(head):
        raise _encoding_error(display, "it contains binary data")
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _decode_sample(head: bytes, encoding: str) -> str:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    return decoder.decode(head, final=False)


# ---------------------------------------------------------------------------------------------------
# delimiter, header and dtypes


def _normalise_delimiter(delimiter: str) -> str:
    return _DELIMITER_NAMES.get(delimiter.lower() if delimiter.isalpha() else delimiter, delimiter)


def _field_counts(lines: list[str], delimiter: str) -> list[int]:
    if delimiter == r"\s+":
        return [len(line.split()) for line in lines]
    if delimiter == "::":
        return [line.count("::") + 1 for line in lines]
    try:
        return [len(row) for row in csv.reader(lines, delimiter=delimiter, quotechar='"')]
    except csv.Error:
        # a field longer than the csv module's limit (128 KB: a line that this delimiter does not split, or
        # an unclosed quote): count the delimiters instead; pandas' parser reports the real problem later
        return [line.count(delimiter) + 1 for line in lines]


def _sniff_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the sample lines into the same number (>= 2) of fields most often."""
    if not lines:
        return ","
    best: tuple[float, int, int] | None = None
    choice = ","
    for rank, delimiter in enumerate(("::", "\t", ",", ";", "|", r"\s+")):
        if delimiter == r"\s+" and best is not None:
            break  # runs of spaces only when no real delimiter works
        counts = _field_counts(lines, delimiter)
        mode = max(set(counts), key=counts.count)
        consistency = counts.count(mode) / len(counts)
        if mode < 2 or consistency < 0.9:
            continue
        if delimiter == "::":
            return "::"  # a `::` in every line is MovieLens .dat, whatever else the titles contain
        key = (consistency, mode, -rank)
        if best is None or key > best:
            best, choice = key, delimiter
    return choice


def _is_na(value: str) -> bool:
    return value.strip().lower() in _NA_VALUES


def _is_number(value: str) -> bool:
    return bool(_FLOAT.match(value.strip()))


def _detect_header(rows: list[list[str]]) -> bool:
    """True when the first sample row is a header rather than data."""
    if not rows:
        return False
    first, rest = rows[0], rows[1:]
    if not rest:
        present = [v for v in first if v.strip()]
        return (
            bool(present)
            and all(not _is_number(v) for v in present)
            and any(is_known_column_name(v.strip()) for v in present)
        )
    names = [v.strip() for v in first if v.strip()]
    if names and sum(is_known_column_name(v) for v in names) * 2 >= len(names):
        return True
    for j, value in enumerate(first):
        value = value.strip()
        if not value or _is_na(value):
            continue
        column = [r[j].strip() for r in rest if j < len(r) and r[j].strip() and not _is_na(r[j])]
        if not column:
            continue
        if not _is_number(value) and sum(map(_is_number, column)) >= 0.9 * len(column):
            return True  # a word above numbers
        if not any(ch.isdigit() for ch in value) and sum(any(ch.isdigit() for ch in v) for v in column) >= 0.9 * len(
            column
        ):
            return True  # a plain word above codes such as u123, B00X4
    return False


def _sniff_dtype(values: list[str]) -> Any:
    """int64 / float64 / str for a column from its sample values; None leaves it to pandas."""
    present = [v.strip() for v in values if not _is_na(v)]
    if not present:
        return None
    has_missing = len(present) < len(values)
    if all(_INT.match(v) for v in present):
        digits = max(len(v.lstrip("+-")) for v in present)
        leading_zero = any(len(v.lstrip("+-")) > 1 and v.lstrip("+-").startswith("0") for v in present)
        if leading_zero:
            return str  # codes such as 007 are names, not numbers
        if has_missing:
            # NaN needs floats; floats hold integers exactly up to 2**53 (15 digits to be safe)
            return "float64" if digits <= 15 else str
        return "int64" if digits <= 18 else str
    if all(_FLOAT.match(v) for v in present):
        return "float64"
    return str


def _clean_names(raw_names: Sequence[str]) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    for j, raw_name in enumerate(raw_names, start=1):
        name = str(raw_name).strip().strip('"').strip() or f"col_{j}"
        base, k = name, 2
        while name in seen:
            name = f"{base}_{k}"
            k += 1
        seen.add(name)
        names.append(name)
    return names


class _ReplacingReader(io.RawIOBase):
    """Binary stream that replaces a two-byte delimiter (``::``) by one byte as it is read.

    pandas' C parser only splits on single characters; the python engine is far too slow for millions
    of rows. Replacing on the fly keeps one pass and never holds the whole file.
    """

    def __init__(self, inner: IO[bytes], old: bytes, new: bytes) -> None:
        super().__init__()
        self._inner = inner
        self._old = old
        self._new = new
        self._carry = b""
        self._out = b""
        self._pos = 0
        self._eof = False

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        while self._pos >= len(self._out) and not self._eof:
            chunk = self._inner.read(_CHUNK)
            data = self._carry + chunk
            if not chunk:
                self._eof = True
                self._out, self._carry = data.replace(self._old, self._new), b""
            else:
                out = data.replace(self._old, self._new)
                # a trailing ':' may be the first half of a '::' split across chunks: keep it back
                keep = len(out) - len(out.rstrip(self._old[:1]))
                keep = min(keep, len(self._old) - 1)
                self._out, self._carry = (out[: len(out) - keep], out[len(out) - keep :]) if keep else (out, b"")
            self._pos = 0

    def readinto(self, buffer: Any) -> int:
        self._fill()
        n = min(len(buffer), len(self._out) - self._pos)
        buffer[:n] = self._out[self._pos : self._pos + n]
        self._pos += n
        return n


# ---------------------------------------------------------------------------------------------------
# errors from pandas


def _parser_error(exc: Exception, display: str | None, has_header: bool, delimiter: str) -> DataError:
    text = str(exc)
    shown_delimiter = {"\t": "tab", r"\s+": "spaces", "\x1f": "::"}.get(delimiter, delimiter)
    m = _LINE_FIELDS.search(text)
    if m:
        expected, line, saw = (int(g) for g in m.groups())
        row = line - 1 if has_header else line
        fields = f"{expected:,} field{'s' if expected != 1 else ''}"
        where = f"Line {line} of the file" + (f" (data row {row})" if has_header and row >= 1 else "")
        return DataError(
            f"{where} has {saw:,} fields, but the lines before it have {fields}",
            code="unreadable",
            file=display,
            rows=[row] if row >= 1 else [],
            hint=(
                f"The delimiter is '{shown_delimiter}'. Quote values that contain it, "
                "or remove the extra field on that line"
            ),
        )
    m = _EOF_IN_STRING.search(text)
    if m:
        return DataError(
            f"A quoted value that starts near data row {m.group(1)} is never closed (pandas: {text})",
            code="unreadable",
            file=display,
            hint='Look for a stray double quote (") in that row and remove it or close the quote',
        )
    return DataError(
        f"The file could not be parsed as delimited text ({text})",
        code="unreadable",
        file=display,
        hint="Check that it is a CSV/TSV file and that the delimiter is consistent",
    )


# ---------------------------------------------------------------------------------------------------
# the readers


def _read_delimited(
    content: _Content,
    head: bytes,
    complete: bool,
    encoding: str,
    *,
    delimiter: str | None,
    has_header: bool | None,
    usecols: Sequence[str] | None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    display = content.display
    utf16 = encoding.startswith("utf-16")
    if utf16:
        # rare: transcode once to UTF-8 so everything below is byte-oriented and fast
        with content.opener() as fh:
            try:
                text = fh.read().decode(encoding)
            except UnicodeDecodeError as exc:
                raise _encoding_error(display, f"invalid UTF-16: {exc.reason}") from exc
        utf8 = text.encode("utf-8")
        del text

        @contextlib.contextmanager
        def open_utf8() -> Iterator[IO[bytes]]:
            yield io.BytesIO(utf8)

        content = _Content(display, content.compression, open_utf8, None)
        head, encoding, complete = utf8[:SAMPLE_BYTES], "utf-8", len(utf8) <= SAMPLE_BYTES

    sample = _decode_sample(head, encoding)
    if sample.startswith("\ufeff"):
        sample = sample[1:]
    if not complete:
        cut = max(sample.rfind("\n"), sample.rfind("\r"))
        sample = sample[:cut] if cut > 0 else sample
    if not sample.strip():
        raise DataError("The file is empty", code="empty_file", file=display, hint=EMPTY_HINT)
    lines = [line for line in sample.splitlines() if line.strip()][: _SAMPLE_ROWS + 1]

    sep = _normalise_delimiter(delimiter) if delimiter else _sniff_delimiter(lines)
    replace_with: str | None = None
    if sep == "::":
        replace_with = next(c for c in ("\x1f", "\t", "\x1e", "|") if c not in sample)
        sample = sample.replace("::", replace_with)
        lines = [line.replace("::", replace_with) for line in lines]
    elif len(sep) > 1 and sep != r"\s+":
        raise ConfigError(f"delimiter must be one character, '::' or whitespace; got {delimiter!r}.", field="delimiter")
    pandas_sep = replace_with or sep
    # MovieLens .dat files never quote, and their titles may start with a quote character
    quoting = csv.QUOTE_NONE if sep == "::" else csv.QUOTE_MINIMAL

    try:
        sample_df = pd.read_csv(
            io.StringIO("\n".join(lines)),
            sep=pandas_sep,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            index_col=False,
            engine="c",
            quoting=quoting,
        )
    except pd.errors.ParserError as exc:
        raise _parser_error(exc, display, has_header is not False, pandas_sep) from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError("The file is empty", code="empty_file", file=display) from exc
    rows = sample_df.to_numpy().tolist()
    header = _detect_header(rows) if has_header is None else has_header
    data_rows = rows[1:] if header else rows
    n_cols = sample_df.shape[1]
    dtypes_by_pos = [_sniff_dtype([r[j] for r in data_rows]) for j in range(n_cols)]

    fmt = "movielens-dat" if sep == "::" else "csv"
    if header:
        names = _clean_names(rows[0])
    elif n_cols == 4 and sep in ("\t", "::") and all(d in ("int64", "float64") for d in dtypes_by_pos):
        # u.data / u1.base / ratings.dat: user item rating timestamp, no header
        names = list(MOVIELENS_RATING_NAMES)
        if sep == "\t":
            fmt = "movielens-100k"
    else:
        names = [f"col_{j}" for j in range(1, n_cols + 1)]
    dtypes = {n: d for n, d in zip(names, dtypes_by_pos) if d is not None}
    if usecols is not None:
        missing = [c for c in usecols if c not in names]
        if missing:
            raise DataError(
                f"Column(s) {', '.join(repr(c) for c in missing)} not found",
                code="missing_column",
                file=display,
                column=str(missing[0]),
                hint=f"Available columns: {', '.join(repr(n) for n in names)}",
            )
        dtypes = {n: d for n, d in dtypes.items() if n in usecols}
        if set(names) <= set(usecols):
            usecols = None  # all columns anyway: without usecols pandas (>= 3.1) may parse in parallel

    def read(dtype_map: dict[str, Any], enc: str, low_memory: bool = True) -> pd.DataFrame:
        kwargs: dict[str, Any] = {
            "sep": pandas_sep,
            "header": 0 if header else None,
            "names": names,
            "index_col": False,
            "dtype": dtype_map,
            "usecols": list(usecols) if usecols is not None else None,
            "encoding": "utf-8" if enc == "utf-8-sig" else enc,  # the C parser skips a UTF-8 BOM itself
            "engine": "c",
            "quoting": quoting,
            "low_memory": low_memory,
        }
        if content.path is not None and replace_with is None:
            return pd.read_csv(content.path, **kwargs)  # pandas reads the path itself: no copy of the bytes
        with content.opener() as fh:
            stream: IO[bytes] = fh
            if replace_with is not None:
                stream = _ReplacingReader(fh, b"::", replace_with.encode())  # type: ignore[assignment]
            return pd.read_csv(stream, **kwargs)

    used_encoding = encoding
    df: pd.DataFrame | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.DtypeWarning)
        for enc in (encoding, "cp1252", "latin-1") if encoding in ("utf-8", "utf-8-sig") else (encoding,):
            try:
                try:
                    df = read(dtypes, enc)
                except (ValueError, OverflowError) as exc:
                    if isinstance(exc, (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError)):
                        raise
                    # a value further down does not fit the sniffed type ("abc" in a numeric column):
                    # read again letting pandas infer those columns, so validation can name the rows
                    text_only = {n: d for n, d in dtypes.items() if d is str}
                    df = read(text_only, enc, low_memory=False)
                used_encoding = enc
                break
            except UnicodeDecodeError as exc:
                if enc == "latin-1":  # cannot happen: every byte is a latin-1 character
                    raise _encoding_error(display, str(exc)) from exc
                if _looks_binary(head):
                    raise _encoding_error(display, "it contains binary data") from exc
                continue
            except pd.errors.ParserError as exc:
                raise _parser_error(exc, display, header, pandas_sep) from exc
            except pd.errors.EmptyDataError as exc:
                raise DataError("The file is empty", code="empty_file", file=display) from exc
    assert df is not None
    info = {
        "format": fmt,
        "delimiter": sep,
        "has_header": bool(header),
        "encoding": "utf-16" if utf16 else used_encoding,
    }
    return df, info


def _read_json(content: _Content, encoding: str, lines: bool, usecols: Sequence[str] | None) -> pd.DataFrame:
    kwargs: dict[str, Any] = {"dtype": False, "encoding": encoding}
    if not _PANDAS_3:
        kwargs["convert_dates"] = False  # pandas 2 turns columns named like 'timestamp' into dates
    with content.opener() as fh:
        try:
            if lines:
                df = pd.read_json(fh, lines=True, **kwargs)
            else:
                df = pd.read_json(fh, orient="records", **kwargs)
        except ValueError as exc:
            raise _json_error(content, encoding, lines, exc) from exc
    if usecols is not None:
        df = df[[c for c in usecols if c in df.columns]]
    return df


def _json_error(content: _Content, encoding: str, lines: bool, exc: Exception) -> DataError:
    import json

    row: list[int] = []
    if lines:
        # find the first line that is not a JSON object, to say where (error path only)
        with content.opener() as fh:
            text = io.TextIOWrapper(fh, encoding=encoding, errors="replace")
            k = 0
            for line in text:
                if not line.strip():
                    continue
                k += 1
                try:
                    if not isinstance(json.loads(line), dict):
                        raise ValueError
                except ValueError:
                    row = [k]
                    break
    return DataError(
        f"The file is not valid JSON{' Lines' if lines else ''} ({exc})",
        code="unreadable",
        file=content.display,
        rows=row,
        hint='Each line must be one JSON object such as {"user": 1, "item": 2}'
        if lines
        else 'The file must be an array of objects such as [{"user": 1, "item": 2}]',
    )


def _parquet_numbers(parquet: Any, name: str, dtype: Any) -> Any:
    """Column ``name`` of a ``pyarrow.parquet.ParquetFile`` as a writable numpy array, or None if it has nulls.

    Each row group is decoded and copied into the result on its own, so the only temporary is one
    row group of one column (Arrow's buffers are read-only, and the frame is the caller's to change).
    """
    import numpy as np

    array = np.empty(parquet.metadata.num_rows, dtype=dtype)
    at = 0
    for group in range(parquet.metadata.num_row_groups):
        chunked = parquet.read_row_group(group, columns=[name], use_pandas_metadata=False).column(0)
        if chunked.null_count:
            return None
        for chunk in chunked.chunks:
            array[at : at + len(chunk)] = chunk.to_numpy()
            at += len(chunk)
    return array if at == len(array) else None


def _read_parquet(content: _Content, usecols: Sequence[str] | None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with contextlib.ExitStack() as stack:
            source: Any = content.path
            if source is None:
                fh = stack.enter_context(content.opener())
                # Parquet needs random access: a compressed member is read into memory once
                source = fh if content.compression is None else io.BytesIO(fh.read())
            parquet = pq.ParquetFile(source)
            schema = parquet.schema_arrow
            if usecols is not None:
                missing = [c for c in usecols if c not in schema.names]
                if missing:
                    raise DataError(
                        f"Column(s) {', '.join(repr(c) for c in missing)} not found",
                        code="missing_column",
                        file=content.display,
                        column=str(missing[0]),
                        hint=f"Available columns: {', '.join(repr(n) for n in schema.names)}",
                    )
            # a stored pandas index (named in the metadata) is not data: pd.read_parquet set it aside too
            stored_index = (schema.pandas_metadata or {}).get("index_columns") or []
            index_columns = {c for c in stored_index if isinstance(c, str)}
            wanted = list(usecols) if usecols is not None else [c for c in schema.names if c not in index_columns]
            # Plain numbers are copied straight into numpy, one column and one row group at a time: about
            # half the time and memory of pandas' whole-table conversion, which holds the Arrow table and
            # the frame at once. Anything else (text, dates, nulls, categories) keeps pandas' conversion,
            # so dtypes are what pd.read_parquet gives.
            columns: dict[str, Any] = {}
            rest: list[str] = []
            for name in wanted:
                kind = schema.field(name).type
                numeric = pa.types.is_integer(kind) or pa.types.is_float32(kind) or pa.types.is_float64(kind)
                array = _parquet_numbers(parquet, name, kind.to_pandas_dtype()) if numeric else None
                if array is None:
                    rest.append(name)
                else:
                    columns[name] = array
            if rest:
                if hasattr(source, "seek"):
                    source.seek(0)
                others = pd.read_parquet(source, columns=rest)
                columns.update({name: others[name].array for name in rest})  # .array: no index to align
                del others
            df = pd.DataFrame({name: columns[name] for name in wanted}, copy=False)
        # pyarrow's allocator keeps the buffers freed by the conversion (about the frame's size again);
        # hand them back so that validation and encoding do not stack their peaks on top of them
        pa.default_memory_pool().release_unused()
        return df
    except DataError:
        raise
    except Exception as exc:  # pyarrow raises OSError / ArrowInvalid and friends for damaged files
        if isinstance(exc, (OSError, ValueError, KeyError)) or type(exc).__module__.startswith("pyarrow"):
            raise DataError(
                f"The Parquet file could not be read ({exc})",
                code="unreadable",
                file=content.display,
                hint="Check that the file is complete and not damaged",
            ) from exc
        raise


def read_table(
    source: Source,
    *,
    name: str | None = None,
    format: str | None = None,
    delimiter: str | None = None,
    has_header: bool | None = None,
    encoding: str | None = None,
    max_bytes: int | None = None,
    usecols: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, ReadInfo]:
    """Read a table from a path, bytes or a binary file-like object.

    Args:
        source: a path (``str``/``PathLike``), raw ``bytes``, or a binary file-like object such as
            Streamlit's ``UploadedFile`` (read from its current position; not closed).
        name: the file name as the user knows it, used in every message; defaults to the path's
            base name or the object's ``.name``.
        format: ``csv``/``tsv``/``txt`` (delimited text), ``parquet``, ``jsonl`` or ``json``; ``None``
            detects it from the content.
        delimiter: one character, ``"::"``, ``"tab"`` or ``"whitespace"``; ``None`` sniffs it.
        has_header: whether the first line names the columns; ``None`` detects it. Without a header,
            MovieLens rating layouts (4 numeric columns split by tab or ``::``) are named
            ``user,item,rating,timestamp`` and other files ``col_1..col_n``.
        encoding: a Python codec name; ``None`` detects UTF-8 (BOM or not), UTF-16 (BOM), cp1252/latin-1.
        max_bytes: refuse inputs larger than this many bytes (compressed size); ``None`` uses
            ``RECLAB_MAX_UPLOAD_MB`` (default 1024 MB).
        usecols: read only these columns (when the caller already knows the mapping).

    Returns:
        ``(frame, info)``: the frame has one row per data row in file order and a RangeIndex; numeric
        columns are int64/float64 when every value fits, text columns pandas' string dtype.
        ``info`` says how the input was read (:class:`ReadInfo`).

    Raises:
        DataError: ``not_found``, ``too_large``, ``empty_file``, ``no_rows``, ``encoding``,
            ``ambiguous_archive``, ``unreadable`` (with the line pandas reports), ``missing_column``
            (``usecols`` not in the file).
        ConfigError: an invalid option (unknown format, a bad ``RECLAB_MAX_UPLOAD_MB``).
    """
    raw = _resolve_source(source, name)
    limit = default_max_bytes() if max_bytes is None else int(max_bytes)
    if raw.n_bytes > limit:
        hint = f"Raise the limit with the environment variable {MAX_UPLOAD_ENV} (in MB)"
        if raw.path is None:
            hint += ", or load the file by path instead of uploading it"
        raise DataError(
            f"The file is {_mb(raw.n_bytes)}, more than the limit of {_mb(limit)}",
            code="too_large",
            file=raw.name,
            hint=hint,
        )
    if raw.n_bytes == 0:
        raise DataError("The file is empty (0 bytes)", code="empty_file", file=raw.name, hint=EMPTY_HINT)
    fmt: str | None = None
    if format is not None:
        fmt = _FORMAT_ALIASES.get(format.lower().lstrip("."))
        if fmt is None:
            raise ConfigError(f"format must be one of csv, tsv, parquet, jsonl, json; got {format!r}.", field="format")
        if format.lower().lstrip(".") == "tsv" and delimiter is None:
            delimiter = "\t"

    with contextlib.ExitStack() as stack:
        content, head, complete = _open_content(raw, stack)
        if not head.strip() and complete:
            raise DataError(
                "The file is empty (only blank space)",
                code="empty_file",
                file=content.display,
                hint=EMPTY_HINT,
            )
        if fmt is None and head.startswith(b"PAR1"):
            fmt = "parquet"
        extra: dict[str, Any] = {}
        if fmt == "parquet":
            df = _read_parquet(content, usecols)
            extra = {"format": "parquet", "delimiter": None, "has_header": True, "encoding": None}
        else:
            enc = encoding or _detect_encoding(head, complete, content.display)
            if fmt is None:
                first = _decode_sample(head[:4096], enc).lstrip("\ufeff \t\r\n")
                if first.startswith("{"):
                    fmt = "jsonl"
                elif first.startswith("[") and first[1:].lstrip()[:1] in ("{", "]"):
                    fmt = "json"
                else:
                    fmt = "csv"
            if fmt in ("jsonl", "json"):
                df = _read_json(content, enc, fmt == "jsonl", usecols)
                extra = {"format": fmt, "delimiter": None, "has_header": True, "encoding": enc}
            else:
                df, extra = _read_delimited(
                    content,
                    head,
                    complete,
                    enc,
                    delimiter=delimiter,
                    has_header=has_header,
                    usecols=usecols,
                )
    if len(df) == 0:
        raise DataError(
            "The file has a header but no data rows"
            if extra.get("has_header", True) and len(df.columns)
            else "The file has no data rows",
            code="no_rows",
            file=content.display,
            hint="Use a file with at least one data row under the header",
        )
    if not isinstance(df.index, pd.RangeIndex) or df.index.start != 0:
        df = df.reset_index(drop=True)
    info = ReadInfo(
        source=content.display or "",
        format=extra["format"],
        delimiter=extra["delimiter"],
        has_header=extra["has_header"],
        encoding=extra["encoding"],
        compression=content.compression,
        n_rows=len(df),
        n_bytes=raw.n_bytes,
    )
    return df, info
