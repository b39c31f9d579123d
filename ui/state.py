"""Typed accessors for the session-state keys the pages share (namespaced ``<page>.<name>``)."""

from __future__ import annotations

import streamlit as st

from recsys_core.data.store import remember_active_dataset, remembered_active_dataset

BUILTIN = "builtin:synthetic"  # the embedded default dataset; always available
ACTIVE_DATASET = "app.active_dataset"
FLASH = "app.flash"


def active_dataset_name() -> str:
    """Name of the dataset the pages work on: a saved dataset's name, or :data:`BUILTIN`.

    A session that has not chosen one starts on the dataset last made active (in any session, remembered in
    ``$RECLAB_HOME/settings.json``), or the built-in one when there is none or it no longer exists; it keeps
    that for the rest of the session unless it chooses another.
    """
    if ACTIVE_DATASET not in st.session_state:
        st.session_state[ACTIVE_DATASET] = remembered_active_dataset() or BUILTIN
    return st.session_state[ACTIVE_DATASET]


def set_active_dataset(name: str) -> None:
    """Make ``name`` this session's dataset, and the one new sessions start on."""
    st.session_state[ACTIVE_DATASET] = name
    remember_active_dataset(None if name == BUILTIN else name)


def flash(message: str) -> None:
    """Keep a success message across an ``st.rerun()``; shown once by :func:`ui.layout.show_flash`."""
    st.session_state[FLASH] = message


def pop_flash() -> str | None:
    return st.session_state.pop(FLASH, None)
