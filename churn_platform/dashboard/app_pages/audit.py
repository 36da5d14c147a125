"""Audit log: sign-ins, exports and erasures (for roles with the audit_log permission)."""

from __future__ import annotations

import streamlit as st

from churn_platform.dashboard import access
from churn_platform.lib import audit
from churn_platform.settings import get_settings

st.title("Audit log")
if not access.viewer().can("audit_log"):
    st.error("Your role may not read the audit log.")
    st.stop()
entries = audit.entries(get_settings().audit_db)
actions = st.multiselect(
    "Action", sorted(entries["action"].unique()) if len(entries) else [], placeholder="All"
)
shown = entries[entries["action"].isin(actions)] if actions else entries
st.caption(f"{len(shown):,} entries, newest first. Erasures name the customer by salted hash only.")
st.dataframe(
    shown,
    hide_index=True,
    column_config={
        "at": st.column_config.TextColumn("When (UTC)"),
        "actor": st.column_config.TextColumn("Who"),
        "role": st.column_config.TextColumn("Role"),
        "action": st.column_config.TextColumn("Action"),
        "detail": st.column_config.TextColumn("Detail", width="large"),
    },
)
