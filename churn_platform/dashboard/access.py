"""The dashboard's gate: configuration checked, the viewer signed in (or local mode), their sign-in audited."""

from __future__ import annotations

import streamlit as st

from churn_platform.dashboard.auth import Viewer, local_viewer, viewer_from_claims
from churn_platform.settings import Settings

SESSION_KEY = "churn_viewer"


def current_viewer(settings: Settings) -> Viewer:
    """The signed-in viewer; shows the sign-in page and stops the script until there is one."""
    from churn_platform.lib import audit

    if not settings.auth_enabled:
        return local_viewer()
    if not st.user.is_logged_in:
        st.title("Churn Platform – risk dashboard")
        st.write("Sign in with your company account to see churn risk, campaigns and model health.")
        st.button("Sign in", on_click=st.login, type="primary", icon=":material/login:")
        st.stop()
    viewer = viewer_from_claims(st.user.to_dict(), settings)
    if viewer is None:
        st.error(
            f"Your account has no role for this dashboard (claim `{settings.auth_role_claim}`): ask an administrator "
            "to give you admin, manager or agent."
        )
        st.button("Sign out", on_click=st.logout)
        st.stop()
    assert viewer is not None
    if not st.session_state.get("churn_sign_in_audited"):
        audit.record(settings.audit_db, viewer.actor, "sign_in", role=viewer.role)
        st.session_state["churn_sign_in_audited"] = True
    return viewer


def viewer() -> Viewer:
    """The viewer the entry point established (a page run on its own, as in tests, is in local mode)."""
    found = st.session_state.get(SESSION_KEY)
    return found if isinstance(found, Viewer) else local_viewer()
