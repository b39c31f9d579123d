"""Errors and warnings that a user can act on.

Every problem with user input is raised as a :class:`DataError` (or a subclass) that carries *what* is
wrong, *where* (file, column, 1-based data rows) and a *hint* on how to fix it, so the dashboard and the
command line can show a message instead of a traceback. Problems that do not stop loading are
:class:`DataWarning` values collected in a list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_ROWS_SHOWN = 5


def _format_rows(rows: Sequence[int], n_total: int | None = None) -> str:
    shown = ", ".join(str(r) for r in rows[:MAX_ROWS_SHOWN])
    total = n_total if n_total is not None else len(rows)
    if total > MAX_ROWS_SHOWN:
        shown += f" … ({total:,} rows in all)"
    return shown


def describe_location(
    file: str | None = None,
    column: str | None = None,
    rows: Sequence[int] = (),
    n_rows: int | None = None,
) -> str:
    """Human description of a location, e.g. ``file 'ratings.csv', column 'rating', rows 3, 9``.

    Row numbers are 1-based *data* rows (the first row after the header is row 1).
    """
    parts = []
    if file:
        parts.append(f"file '{file}'")
    if column:
        parts.append(f"column '{column}'")
    if rows:
        word = "row" if len(rows) == 1 and (n_rows in (None, 1)) else "rows"
        parts.append(f"{word} {_format_rows(list(rows), n_rows)}")
    return ", ".join(parts)


class RecLabError(Exception):
    """Base class of every error RecLab raises on purpose (as opposed to a bug)."""


class ConfigError(RecLabError, ValueError):
    """An invalid option or hyperparameter. ``field`` names it; the message gives the allowed range."""

    def __init__(self, message: str, *, field: str | None = None, hint: str = "") -> None:
        self.field = field
        self.hint = hint
        super().__init__(message + (f" {hint}" if hint else ""))


class DataError(RecLabError, ValueError):
    """Bad input data, with where it is and what to do about it.

    Attributes:
        code: stable machine-readable kind, e.g. ``"empty_file"``, ``"missing_column"``.
        what: one sentence saying what is wrong.
        file: the file name as the user knows it (upload name or path), if any.
        column: the offending column, if any.
        rows: up to a few 1-based data-row numbers that show the problem.
        n_rows: how many rows have the problem in all (may exceed ``len(rows)``).
        hint: what the user can do about it.
        sample: a few offending rows as records (list of dicts) for display, if useful.
    """

    def __init__(
        self,
        what: str,
        *,
        code: str = "invalid_data",
        file: str | None = None,
        column: str | None = None,
        rows: Sequence[int] = (),
        n_rows: int | None = None,
        hint: str = "",
        sample: list[dict[str, Any]] | None = None,
    ) -> None:
        self.code = code
        self.what = what
        self.file = file
        self.column = column
        self.rows = [int(r) for r in rows][:MAX_ROWS_SHOWN]
        self.n_rows = n_rows if n_rows is not None else (len(rows) if rows else None)
        self.hint = hint
        self.sample = sample
        super().__init__(self.message)

    @property
    def where(self) -> str:
        return describe_location(self.file, self.column, self.rows, self.n_rows)

    @property
    def message(self) -> str:
        text = self.what.rstrip(".")
        if self.where:
            text += f" ({self.where})"
        text += "."
        if self.hint:
            text += f" {self.hint.rstrip('.')}."
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "what": self.what,
            "file": self.file,
            "column": self.column,
            "rows": self.rows,
            "n_rows": self.n_rows,
            "hint": self.hint,
            "message": self.message,
        }


@dataclass(frozen=True)
class DataWarning:
    """Something odd in the data that does not stop loading (duplicates, an odd rating scale, ...)."""

    code: str
    what: str
    file: str | None = None
    column: str | None = None
    rows: tuple[int, ...] = field(default_factory=tuple)
    n_rows: int | None = None
    hint: str = ""

    @property
    def message(self) -> str:
        where = describe_location(self.file, self.column, self.rows, self.n_rows)
        text = self.what.rstrip(".")
        if where:
            text += f" ({where})"
        text += "."
        if self.hint:
            text += f" {self.hint.rstrip('.')}."
        return text

    def __str__(self) -> str:
        return self.message
