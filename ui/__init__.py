"""Streamlit helpers shared by the pages: session state, cached resources, input groups, figures, layout.

Only this package, ``app.py`` and ``app_pages/`` import streamlit; ``recsys_core`` never does.
"""
