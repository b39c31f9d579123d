"""Typed accessors for the session-state keys the pages share (namespaced ``<page>.<name>``)."""

from __future__ import annotations

import streamlit as st

from recsys_core.data.store import DatasetStore, remember_active_dataset, remembered_active_dataset
from recsys_core.errors import ConfigError

BUILTIN = "builtin:synthetic"  # the embedded default dataset; always available
ACTIVE_DATASET = "app.active_dataset"
FLASH = "app.flash"


def active_dataset_name() -> str:
    """Name of the dataset the pages work on: a saved dataset's name, or :data:`BUILTIN`.

    A session that has not chosen one starts on the dataset last made active (in any session, remembered in
    ``$RECLAB_HOME/settings.json``), or the built-in one when there is none or it no longer exists; it keeps
    that for the rest of the session unless it chooses another. When the session's dataset is deleted
    meanwhile (from the command line or another session), the session moves to the built-in data and says so
    once (a :func:`flash`), so that nobody trains on other data than they chose without being told.
    """
    if ACTIVE_DATASET not in st.session_state:
        st.session_state[ACTIVE_DATASET] = remembered_active_dataset() or BUILTIN
    name = st.session_state[ACTIVE_DATASET]
    if name != BUILTIN and not _still_saved(name):
        st.session_state[ACTIVE_DATASET] = BUILTIN
        flash(
            f"Dataset '{name}' no longer exists (deleted in another session); using the built-in data. "
            "Pick another on the Data page.",
            level="warning",
        )
        return BUILTIN
    return name


def _still_saved(name: str) -> bool:
    try:
        return DatasetStore().exists(name)
    except (ConfigError, OSError):  # an unreadable store: keep the choice; loading it reports the problem
        return True


def set_active_dataset(name: str) -> None:
    """Make ``name`` this session's dataset, and the one new sessions start on."""
    st.session_state[ACTIVE_DATASET] = name
    remember_active_dataset(None if name == BUILTIN else name)


def flash(message: str, level: str = "success") -> None:
    """Keep a message for the next page header (shown once, by :func:`ui.layout.page_header`); it survives
    an ``st.rerun()``. ``level``: ``"success"`` (something done) or ``"warning"`` (something to notice)."""
    st.session_state[FLASH] = (message, level)


def pop_flash() -> tuple[str, str] | None:
    """The kept ``(message, level)``, once."""
    return st.session_state.pop(FLASH, None)
