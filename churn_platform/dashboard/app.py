"""Churn Platform – risk dashboard: the entry point ``streamlit run churn_platform/dashboard/app.py``.

It reads only the snapshots the pipeline publishes (``CHURN_DASHBOARD_DIR``, by default
``data/published/dashboard``), never the warehouse, so it works while the pipeline runs. Bind it to
localhost (``--server.address 127.0.0.1 --server.headless true``, also the defaults in ``.streamlit/``
next to this file): it shows customer names and revenue and has no login.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent
# Streamlit puts this folder, not the project, on sys.path: make ``churn_platform`` importable from the
# checkout the app was started from, even when the package is not installed.
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

st.set_page_config(
    page_title="Churn Platform – risk dashboard", page_icon=":material/monitoring:", layout="wide"
)

# The page scripts live in app_pages/, not pages/: Streamlit treats a pages/ folder beside the main script as
# a legacy multipage app and serves its files directly (no set_page_config, a second navigation) to
# sessions that open a page URL before this script has run once.
pages = [
    st.Page(
        HERE / "app_pages" / "worklist.py",
        title="High-risk worklist",
        icon=":material/priority_high:",
        default=True,
    ),
    st.Page(HERE / "app_pages" / "trends.py", title="Trends", icon=":material/trending_up:"),
    st.Page(HERE / "app_pages" / "campaigns.py", title="Campaign effectiveness", icon=":material/campaign:"),
    st.Page(HERE / "app_pages" / "model_health.py", title="Model health", icon=":material/model_training:"),
]
st.sidebar.markdown("**Churn Platform – risk dashboard**")
st.navigation(pages).run()
