"""Process-wide settings read from the environment (documented in the README), and the small settings file
``$RECLAB_HOME/settings.json`` that remembers choices across sessions (e.g. the dataset last made active).

The upload size limit, ``RECLAB_MAX_UPLOAD_MB``, is read by :func:`recsys_core.data.readers.default_max_bytes`.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger("reclab.config")

SETTINGS_FILE = "settings.json"


def reclab_home() -> Path:
    """Data directory for saved datasets, runs and caches: ``$RECLAB_HOME`` or ``./reclab_data``.

    Created on first use.
    """
    home = Path(os.environ.get("RECLAB_HOME", "reclab_data")).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def settings_path(home: str | Path | None = None) -> Path:
    """``$RECLAB_HOME/settings.json`` (or ``settings.json`` in ``home``)."""
    return (Path(home) if home is not None else reclab_home()) / SETTINGS_FILE


def read_settings(home: str | Path | None = None) -> dict[str, Any]:
    """The remembered settings; ``{}`` when the file is missing, unreadable or not a JSON object (a damaged
    settings file never stops RecLab: the defaults apply and the next write replaces it)."""
    path = settings_path(home)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        log.warning("ignoring the settings file %s: %s", path, err)
        return {}
    return data if isinstance(data, dict) else {}


def update_settings(values: dict[str, Any], home: str | Path | None = None) -> dict[str, Any]:
    """Merge ``values`` into the settings file (a value of None removes the key) and return the new settings.

    Written atomically (a temporary file in the same folder, then a rename), so a reader never sees half a file
    and a crash never leaves a damaged one. Two writers at once: the last one wins.

    Raises:
        OSError: the file could not be written (read-only or full disk).
    """
    path = settings_path(home)
    settings = read_settings(home)
    for key, value in values.items():
        if value is None:
            settings.pop(key, None)
        else:
            settings[key] = value
    fd, tmp = tempfile.mkstemp(prefix=".settings.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(settings, f, indent=2, sort_keys=True, default=str)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return settings


SERVER_PATHS_ENV = "RECLAB_SERVER_PATHS"


def server_path_roots() -> list[Path]:
    """The folders whose files the dashboard's "File or MovieLens folder on the server" source may read:
    ``$RECLAB_SERVER_PATHS`` (folders separated by ``os.pathsep``), else the folder the server was started in
    and ``$RECLAB_HOME``. A browser user must not read any file the server process can (``/etc/passwd``)."""
    raw = os.environ.get(SERVER_PATHS_ENV, "").strip()
    if raw:
        return [Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip()]
    return [Path.cwd(), reclab_home()]


def check_server_path(path: str | Path) -> Path:
    """``path`` resolved (links followed), when it lies in one of :func:`server_path_roots`; for a folder, every
    file in it must too (a MovieLens folder's ``ratings.csv`` could be a link to a file outside).

    Raises:
        DataError: ``path_not_allowed``, naming the allowed folders and how to allow others.
    """
    from recsys_core.errors import DataError

    resolved = Path(path).expanduser().resolve()
    roots = [root.resolve() for root in server_path_roots()]

    def allowed(p: Path) -> bool:
        return any(p == root or root in p.parents for root in roots)

    if allowed(resolved):
        if resolved.is_dir():
            for entry in sorted(resolved.rglob("*")):
                if entry.is_file() and not allowed(entry.resolve()):
                    raise DataError(
                        f"'{entry.name}' in this folder links to a file outside the folders the dashboard reads "
                        "from (" + ", ".join(str(r) for r in roots) + ")",
                        code="path_not_allowed",
                        file=str(entry),
                        hint=f"Copy the file into the folder instead of linking it, or set {SERVER_PATHS_ENV}",
                    )
        return resolved
    raise DataError(
        "This path is outside the folders the dashboard reads from (" + ", ".join(str(r) for r in roots) + ")",
        code="path_not_allowed",
        file=str(path),
        hint=f"Move the file into one of them, or set {SERVER_PATHS_ENV} to the folders to allow "
        f"(separated by '{os.pathsep}') before starting the server",
    )
