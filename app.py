"""RecLab entry point: page config, navigation and the shared sidebar. Run with `make run`.

Pages live in `app_pages/` (not `pages/`): a `pages/` folder beside an `st.navigation` entry point makes a
fresh server answer deep links with Streamlit's legacy file-name navigation (see README, "Layout").
"""

import streamlit as st

from ui.layout import guarded, sidebar

pages = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/data.py", title="Data", icon=":material/database:", url_path="data"),
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
    st.Page(
        "app_pages/recommendations.py", title="Recommendations", icon=":material/recommend:", url_path="recommendations"
    ),
]
navigation = st.navigation(pages)
st.set_page_config(page_title=f"{navigation.title} · RecLab", page_icon=":material/science:", layout="wide")
sidebar()
with guarded():
    navigation.run()
