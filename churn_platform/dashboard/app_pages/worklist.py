"""High-risk worklist: who is likely to leave, why, whether they are worth saving, and what has been done."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from churn_platform.dashboard import access, data, views
from churn_platform.lib import audit
from churn_platform.settings import get_settings

st.title("High-risk worklist")
worklist = data.table_or_explain("worklist", "risk scores")
if worklist is None:
    st.stop()
assert worklist is not None  # st.stop() ends the run; this tells the type checker
viewer = access.viewer()
worklist = views.for_viewer(worklist, viewer.can("all_accounts"), viewer.manages, viewer.can("pii"))
if not viewer.can("all_accounts"):
    st.info(
        f"Showing the {len(worklist):,} accounts {viewer.manages or 'you'} manage(s).",
        icon=":material/badge:",
    )

if not worklist.empty:
    first = worklist.iloc[0]
    st.caption(
        f"Snapshot {first['snapshot_date']} · scored {first['scored_at']:%Y-%m-%d %H:%M} · "
        f"model version {first['model_version']} · {len(worklist):,} active customers"
    )
data.publication_caption()

kpis = views.worklist_kpis(worklist)
cols = st.columns(4)
cols[0].metric(
    "Customers at high+ risk", f"{kpis['at_risk']:,.0f}", help="Risk tier high or critical.", border=True
)
cols[1].metric("MRR at high+ risk", f"{kpis['mrr_at_risk']:,.0f}", help="Their monthly revenue.", border=True)
cols[2].metric(
    "Worth saving at high+ risk",
    f"{kpis['valuable_at_risk']:,.0f}",
    help="Value x expected save rate exceeds the cost of trying.",
    border=True,
)
cols[3].metric(
    "Expected MRR lost, all customers",
    f"{kpis['expected_mrr_loss']:,.0f}",
    help="Sum over all customers of churn probability x MRR.",
    border=True,
)

with st.sidebar:
    st.subheader("Filters")
    tiers = st.multiselect(
        "Risk tier",
        views.ordered_tiers(worklist["risk_tier"]),
        default=views.default_tiers(worklist["risk_tier"]),
    )
    segments = st.multiselect("Segment", sorted(worklist["segment"].dropna().unique()), placeholder="All")
    plans = st.multiselect("Plan", sorted(worklist["plan"].dropna().unique()), placeholder="All")
    worth = st.selectbox("Worth saving", ["All", "Yes", "No"])
    present = set(worklist["contact_status"].dropna())
    statuses = st.multiselect(
        "Contact status", [s for s in views.CONTACT_STATUSES if s in present], placeholder="All"
    )
    min_probability = st.slider("Minimum churn probability", 0.0, 1.0, 0.0, 0.01)
    search = st.text_input("Customer id or company", placeholder="e.g. C00001234")

chosen = views.WorklistFilter(
    tiers=tuple(tiers),
    segments=tuple(segments),
    plans=tuple(plans),
    valuable={"All": None, "Yes": True, "No": False}[worth],
    contact_statuses=tuple(statuses),
    min_probability=min_probability,
    search=search,
)
filtered = views.filter_worklist(worklist, chosen)

left, right = st.columns([3, 1], vertical_alignment="center")
left.markdown(f"**{len(filtered):,}** of {len(worklist):,} customers match the filters.")


def _audit_export() -> None:
    audit.record(
        get_settings().audit_db, viewer.actor, "export", role=viewer.role, rows=len(filtered),
        what="worklist CSV", personal_data=viewer.can("pii"),
    )  # fmt: skip


if viewer.can("export"):
    right.download_button(
        "Download CSV",
        views.to_csv(filtered),
        file_name="churn-worklist.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click=_audit_export,
    )

COLUMNS = {
    "customer_id": st.column_config.TextColumn("Customer"),
    "company_name": st.column_config.TextColumn("Company"),
    "email": st.column_config.TextColumn("Email"),
    "value_band": st.column_config.TextColumn("Value band"),
    "segment": st.column_config.TextColumn("Segment"),
    "plan": st.column_config.TextColumn("Plan"),
    "mrr": st.column_config.NumberColumn("MRR", format="%.0f"),
    "churn_probability": st.column_config.ProgressColumn(
        "Churn probability", format="%.2f", min_value=0, max_value=1
    ),
    "risk_tier": st.column_config.TextColumn("Tier"),
    "reason_1": st.column_config.TextColumn("Reason 1", width="medium"),
    "reason_2": st.column_config.TextColumn("Reason 2"),
    "reason_3": st.column_config.TextColumn("Reason 3"),
    "customer_value": st.column_config.NumberColumn("Value", format="%.0f"),
    "valuable": st.column_config.CheckboxColumn("Worth saving"),
    "decision_reason": st.column_config.TextColumn("Why"),
    "decision": st.column_config.TextColumn("Decision"),
    "playbook": st.column_config.TextColumn("Playbook"),
    "intervention": st.column_config.TextColumn("Intervention"),
    "contact_status": st.column_config.TextColumn("Contact"),
    "account_manager": st.column_config.TextColumn("Account manager"),
    "top_feature": st.column_config.TextColumn("Strongest signal"),
    "last_contacted_at": st.column_config.DatetimeColumn("Last contacted", format="YYYY-MM-DD"),
}

valuable, not_valuable = views.split_valuable(filtered)
tab_valuable, tab_other = st.tabs(
    [f"Worth saving ({len(valuable):,})", f"Not worth saving ({len(not_valuable):,})"]
)
for tab, part, empty in (
    (tab_valuable, valuable, "No customer worth saving matches the filters."),
    (tab_other, not_valuable, "No customer below the value threshold matches the filters."),
):
    with tab:
        if part.empty:
            st.info(empty)
        else:
            st.dataframe(views.worklist_display(part), hide_index=True, column_config=COLUMNS)

if not filtered.empty:
    tiers_shown = views.ordered_tiers(filtered["risk_tier"])
    figure = px.histogram(
        filtered,
        x="churn_probability",
        color="risk_tier",
        range_x=[0, 1],
        category_orders={"risk_tier": tiers_shown},
        color_discrete_map=views.TIER_COLORS,
        labels={"churn_probability": "churn probability", "risk_tier": "tier"},
        title="Churn probability of the customers shown",
    )
    figure.update_traces(xbins={"start": 0, "end": 1, "size": 0.025})
    figure.update_layout(bargap=0.05, yaxis_title="customers", height=360)
    st.plotly_chart(figure)
