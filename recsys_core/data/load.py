"""One call from a file to a checked, canonical interactions frame (what the UI and the CLI use)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from recsys_core.data.columns import ColumnDetection, detect_columns
from recsys_core.data.readers import Source, read_table
from recsys_core.data.schema import ColumnMapping, ReadInfo
from recsys_core.data.validate import to_canonical
from recsys_core.errors import DataWarning

PREVIEW_ROWS = 20


@dataclass
class LoadedData:
    """An interaction log loaded from a file.

    Attributes:
        frame: the canonical interactions frame (``user``, ``item``, optional ``rating`` float32 and
            ``timestamp`` int64 Unix seconds), in file order with a RangeIndex.
        mapping: the input columns used for each role.
        detection: how the mapping was chosen (reasons, ranked candidates per role).
        warnings: odd but usable things about the data (duplicates, rating scale, ...).
        info: how the file was read (format, delimiter, encoding, compression, rows, bytes).
        preview: the first 20 rows as read, before any conversion (all input columns).
    """

    frame: pd.DataFrame
    mapping: ColumnMapping
    detection: ColumnDetection
    warnings: list[DataWarning] = field(default_factory=list)
    info: ReadInfo | None = None
    preview: pd.DataFrame | None = None


def load_interactions(
    source: Source,
    *,
    name: str | None = None,
    mapping: ColumnMapping | Mapping[str, str | None] | None = None,
    max_bytes: int | None = None,
    **read_options: Any,
) -> LoadedData:
    """Read, map and validate an interaction log.

    Args:
        source: a path, raw bytes or a binary file-like (e.g. Streamlit's UploadedFile).
        name: the file name shown in messages (defaults to the path's or object's name).
        mapping: a full :class:`ColumnMapping` (then only those columns are read, and the preview
            shows only them), or a partial dict ``role -> column`` (``None`` for rating/timestamp =
            absent) whose other roles are detected. ``None`` detects everything.
        max_bytes: size limit in bytes; ``None`` uses ``RECLAB_MAX_UPLOAD_MB`` (default 1024 MB).
        **read_options: passed to :func:`recsys_core.data.readers.read_table` (``format``,
            ``delimiter``, ``has_header``, ``encoding``, ``usecols``).

    Returns:
        A :class:`LoadedData`.

    Raises:
        DataError: any reading, mapping or validation problem, with file, column, rows and a hint.
    """
    if isinstance(mapping, ColumnMapping) and "usecols" not in read_options:
        # the caller knows every role: parse only those columns
        read_options["usecols"] = [c for c in mapping.to_dict().values() if c is not None]
    df, info = read_table(source, name=name, max_bytes=max_bytes, **read_options)
    file = info.source or name
    preview = df.head(PREVIEW_ROWS).copy()
    detection = detect_columns(df, override=mapping, file=file)
    frame, found = to_canonical(df, detection.mapping, file=file)
    return LoadedData(
        frame=frame,
        mapping=detection.mapping,
        detection=detection,
        warnings=found,
        info=info,
        preview=preview,
    )
