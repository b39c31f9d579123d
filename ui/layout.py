"""Page frame pieces: headers, the shared sidebar, and how errors and warnings are shown."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import pandas as pd
import streamlit as st

from recsys_core.errors import ConfigError, DataError, DataWarning, RecLabError
from ui import resources, state

log = logging.getLogger("reclab.ui")


def page_header(title: str, caption: str) -> None:
    st.title(title)
    st.caption(caption)
    kept = state.pop_flash()
    if kept:
        message, level = kept
        (st.warning if level == "warning" else st.success)(message)


def sidebar() -> None:
    """The sidebar every page shows: active dataset and compute device."""
    with st.sidebar:
        with guarded():
            data = resources.active_data(state.active_dataset_name())
            n = len(data.interactions)
            users = data.interactions["user"].nunique()
            items = data.interactions["item"].nunique()
            st.markdown(f"**Dataset:** {data.label}")
            st.caption(f"{n:,} interactions · {users:,} users · {items:,} items")
        with guarded():
            devices = resources.device_infos()
            best = devices[0]
            st.markdown(f"**Device:** {best.label}")
            if best.kind == "cpu":
                st.caption("No GPU found: training runs on the CPU.")
        with guarded():
            active = resources.run_store().list(status=("queued", "running"))
            # poll while jobs are active (decided at full-run time; a full rerun re-decides)
            st.fragment(run_every=2.0 if active else None)(_jobs_summary)()


def _jobs_summary() -> None:
    runs = resources.run_store().list(status=("queued", "running"))
    running = sum(r["status"] == "running" for r in runs)
    queued = len(runs) - running
    st.markdown(f"**Jobs:** {running} running, {queued} queued" if runs else "**Jobs:** none running")
    for r in runs[:5]:
        st.caption(f"{r.get('name') or r['id']} · {r['model']} · {r['status']}")


def show_error(err: BaseException) -> None:
    """Show an error as a message (never a traceback): what, where, and what to do."""
    if isinstance(err, DataError):
        st.error(err.message, icon=":material/error:")
        if err.sample:
            st.caption("Offending rows:")
            st.dataframe(pd.DataFrame(err.sample), hide_index=True)
    elif isinstance(err, (ConfigError, RecLabError)):
        st.error(str(err), icon=":material/error:")
    else:
        log.exception("unexpected error in a page", exc_info=err)
        st.error(
            f"Something went wrong: {type(err).__name__}: {err}. "
            "Nothing saved was changed; the server log has the details.",
            icon=":material/error:",
        )


def show_warnings(warnings: Iterable[DataWarning]) -> None:
    for w in warnings:
        st.warning(w.message, icon=":material/warning:")


@contextmanager
def guarded() -> Iterator[None]:
    """Run a block; show any exception as a message instead of a traceback."""
    try:
        yield
    except Exception as err:
        show_error(err)
