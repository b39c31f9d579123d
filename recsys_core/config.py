"""Process-wide settings read from the environment (documented in the README).

The upload size limit, ``RECLAB_MAX_UPLOAD_MB``, is read by :func:`recsys_core.data.readers.default_max_bytes`.
"""

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
