"""Churn Platform – risk dashboard: the entry point ``streamlit run churn_platform/dashboard/app.py``.

It reads only the snapshots the pipeline publishes (``CHURN_DASHBOARD_DIR``, by default
``data/published/dashboard``), never the warehouse, so it works while the pipeline runs. Bind it to
localhost in local mode (no identity provider configured): then it has no sign-in. With ``CHURN_OIDC_*`` set,
everyone signs in through the company's identity provider and sees what their role allows
(:mod:`churn_platform.dashboard.auth`).
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
from churn_platform.dashboard import access  # noqa: E402
from churn_platform.lib.configuration import configuration_problems  # noqa: E402
from churn_platform.settings import get_settings  # noqa: E402

problems = configuration_problems()
if problems:
    st.title("Churn Platform – risk dashboard")
    for problem in problems:
        st.error(problem, icon=":material/error:")
    st.stop()
settings = get_settings()
viewer = access.current_viewer(settings)
st.session_state[access.SESSION_KEY] = viewer

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
if viewer.can("audit_log"):
    pages.append(st.Page(HERE / "app_pages" / "audit.py", title="Audit log", icon=":material/policy:"))
st.sidebar.markdown("**Churn Platform – risk dashboard**")
if viewer.signed_in:
    scope = "all accounts" if viewer.can("all_accounts") else f"accounts of {viewer.manages or 'nobody'}"
    masked = "" if viewer.can("pii") else ", personal data masked"
    st.sidebar.caption(f"Signed in as **{viewer.name}** ({viewer.role}: {scope}{masked})")
    st.sidebar.button("Sign out", on_click=st.logout, icon=":material/logout:")
else:
    st.warning(
        "Local mode: no sign-in is configured, so this dashboard is unauthenticated and bound to this machine "
        "(localhost). Set CHURN_OIDC_METADATA_URL, CHURN_OIDC_CLIENT_ID and CHURN_OIDC_CLIENT_SECRET to require "
        "sign-in and roles.",
        icon=":material/lock_open:",
    )
st.navigation(pages).run()
