"""Campaign effectiveness: did treated customers churn less than their control group, and did it pay?"""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from churn_platform.dashboard import data, views

st.title("Campaign effectiveness")
data.publication_caption()

DIMENSIONS = {
    "overall": "Campaign",
    "playbook": "Playbook",
    "risk_tier": "Risk tier",
    "value_band": "Value band",
}

outcomes = data.load_table("campaign_outcomes")
if outcomes is None or outcomes.empty:
    if outcomes is None:
        data.explain_missing("campaign_outcomes", "campaign outcomes")
    else:
        st.info("No campaign has been measured yet.")
    st.caption(
        "A campaign is measured once the churn horizon after its snapshot has passed: the next period's data "
        "shows who stayed among the treated customers and among their control group."
    )
else:
    overall = views.campaign_effects(outcomes, "overall")
    if not overall.empty:
        last = overall.iloc[-1]
        st.caption(f"Latest measured campaign: snapshot {last['campaign']}")
        cols = st.columns(4)
        cols[0].metric("Treated", f"{last['treated']:,.0f}", border=True)
        cols[1].metric("Control", f"{last['control']:,.0f}", border=True)
        measurable = last["save_rate"] == last["save_rate"] and last["control"] > 0
        cols[2].metric(
            "Save rate vs control",
            f"{last['save_rate']:+.1%}" if measurable else "n/a",
            help=f"95% interval {last['save_rate_low']:+.1%} to {last['save_rate_high']:+.1%} (Newcombe)."
            if measurable
            else "No control customers in this campaign: there is nothing to compare the treated with.",
            border=True,
        )
        cols[3].metric(
            "ROI",
            f"{last['roi']:+.0%}" if measurable and last["roi"] == last["roi"] else "n/a",
            help="From the save rate's point estimate; read it with the interval beside it "
            f"({last['control']:,.0f} control customers).",
            border=True,
        )

    present = [d for d in DIMENSIONS if d in set(outcomes["dimension"])]
    dimension = st.selectbox(
        "Compare by",
        present,
        index=present.index("playbook") if "playbook" in present else 0,
        format_func=DIMENSIONS.__getitem__,
    )
    effects = views.campaign_effects(outcomes, dimension)
    figure = px.scatter(
        effects,
        x="label",
        y="save_rate",
        color="group",
        error_y="error_plus",
        error_y_minus="error_minus",
        hover_data={
            "treated": ":,.0f",
            "control": ":,.0f",
            "save_rate_low": ":.1%",
            "save_rate_high": ":.1%",
        },
        labels={"label": "campaign", "save_rate": "save rate vs control", "group": DIMENSIONS[dimension]},
        title="Save rate vs control, with its 95% interval",
    )
    figure.add_hline(y=0, line_dash="dash", line_color="grey")
    figure.update_traces(marker_size=11)
    figure.update_layout(yaxis_tickformat=".0%", height=400)
    st.plotly_chart(figure)
    st.caption(
        "Control churn rate minus treated churn rate. An interval that crosses zero means the campaign's "
        "effect cannot be told apart from chance yet (control groups are small by design)."
    )

    roi = views.roi_by_playbook(outcomes)
    if not roi.empty:
        bar = px.bar(
            roi,
            x="playbook",
            y="roi",
            text_auto=".0%",
            hover_data={"revenue_retained": ":,.0f", "cost": ":,.0f", "campaigns": True},
            title="Return on investment per playbook (all measured campaigns)",
        )
        bar.update_traces(marker_color=["#2e7d32" if r >= 0 else "#c62828" for r in roi["roi"].fillna(0)])
        bar.update_layout(yaxis_tickformat=".0%", height=360)
        st.plotly_chart(bar)

    st.subheader("All measured breakdowns")
    st.dataframe(
        outcomes,
        hide_index=True,
        column_config={
            "snapshot_date": st.column_config.DateColumn("Campaign snapshot"),
            "segment": st.column_config.TextColumn("Group"),
            **{
                c: st.column_config.NumberColumn(c.replace("_", " "), format="percent")
                for c in (
                    "treated_churn_rate",
                    "control_churn_rate",
                    "save_rate",
                    "save_rate_low",
                    "save_rate_high",
                )
            },
            "roi": st.column_config.NumberColumn("ROI", format="percent"),
            "revenue_retained": st.column_config.NumberColumn("revenue retained", format="%.0f"),
            "cost": st.column_config.NumberColumn("cost", format="%.0f"),
        },
    )

st.subheader("Current decisions")
worklist = data.load_table("worklist")
summary = views.decision_summary(worklist) if worklist is not None else None
if summary is None or summary.empty:
    st.info("No retention decision has been made for the customers of the latest scoring yet.")
else:
    st.caption("Each scored customer's latest retention decision and whether the message went out.")
    st.dataframe(
        summary,
        hide_index=True,
        column_config={
            "decision": "Decision",
            "decision_reason": "Why",
            "playbook": "Playbook",
            "contact_status": "Contact status",
            "customers": st.column_config.NumberColumn("Customers", format="%d"),
        },
    )
