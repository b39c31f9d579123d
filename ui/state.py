"""Typed accessors for the session-state keys the pages share (namespaced ``<page>.<name>``)."""

from __future__ import annotations

import streamlit as st

BUILTIN = "builtin:synthetic"  # the embedded default dataset; always available
ACTIVE_DATASET = "app.active_dataset"
FLASH = "app.flash"


def active_dataset_name() -> str:
    """Name of the dataset the pages work on: a saved dataset's name, or :data:`BUILTIN`."""
    return st.session_state.get(ACTIVE_DATASET, BUILTIN)


def set_active_dataset(name: str) -> None:
    st.session_state[ACTIVE_DATASET] = name


def flash(message: str) -> None:
    """Keep a success message across an ``st.rerun()``; shown once by :func:`ui.layout.show_flash`."""
    st.session_state[FLASH] = message


def pop_flash() -> str | None:
    return st.session_state.pop(FLASH, None)
