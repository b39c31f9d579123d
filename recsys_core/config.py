"""Process-wide settings read from the environment (documented in the README)."""

from __future__ import annotations

import os
from pathlib import Path


def reclab_home() -> Path:
    """Data directory for saved datasets, runs and caches: ``$RECLAB_HOME`` or ``./reclab_data``.

    Created on first use.
    """
    home = Path(os.environ.get("RECLAB_HOME", "reclab_data")).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def max_upload_bytes() -> int:
    """Largest input file RecLab reads: ``$RECLAB_MAX_UPLOAD_MB`` megabytes (default 1024)."""
    return int(float(os.environ.get("RECLAB_MAX_UPLOAD_MB", "1024")) * 1024 * 1024)
