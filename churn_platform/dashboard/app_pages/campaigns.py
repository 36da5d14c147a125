"""Campaign effectiveness: which playbook and intervention works, how sure we are, and how allocation learns."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from churn_platform.dashboard import data, views

st.title("Campaign effectiveness")
data.publication_caption()

DIMENSIONS = {
    "overall": "Campaign",
    "playbook": "Playbook",
    "intervention": "Intervention",
    "risk_tier": "Risk tier",
    "value_band": "Value band",
}

effects = data.load_table("playbook_effects")
outcomes = data.load_table("campaign_outcomes")
if outcomes is None or outcomes.empty:
    if outcomes is None:
        data.explain_missing("campaign_outcomes", "campaign outcomes")
    else:
        st.info("No campaign has been measured yet.")
    st.caption(
        "A campaign is measured once the churn horizon after its snapshot has passed: the next period's data "
        "shows who stayed among the treated customers and among their control group and the global holdout."
    )

if effects is not None and not effects.empty:
    st.subheader("Playbooks, every measured wave pooled")
    st.caption(
        "Save rate = control churn minus treated churn (points; positive means churn avoided), with its 95% "
        "interval. Control is the campaign's control group plus the standing global holdout; customers "
        "allocated with different probabilities are weighted by their inverse. CUPED-adjusted uses the churn "
        "probability before the campaign. MDE: the smallest save rate these group sizes detect (80% power). "
        "An interval that spans zero reads *not yet measurable*; so does its ROI."
    )
    playbooks = effects[effects["arm"] == "all"]
    for row in playbooks.to_dict("records"):
        with st.container(border=True):
            st.markdown(f"**{row['playbook']}** · {row['waves']} wave(s) · {row['verdict']}")
            cards = st.columns(5)
            cards[0].metric("Treated / control", f"{row['treated']:,.0f} / {row['control']:,.0f}")
            cards[1].metric(
                "Save rate (CUPED)",
                views.points(row["save_rate_adjusted"]),
                help=f"95% interval {views.effect_text(row)}; raw {views.effect_text(row, 'save_rate')}.",
            )
            cards[1].caption(f"95% interval: {views.effect_text(row)}")
            cards[2].metric("MDE", views.points(row["mde"]).replace("+", ""), help="80% power, two-sided 5%.")
            # text rather than metric cards: a sentence must not be cut to a card's width
            cards[3].markdown(f"ROI  \n**{views.roi_text(row)}**")
            cards[4].markdown(
                f"Until the interval can exclude zero  \n**{views.weeks_text(row['weeks_to_detect'])}**",
                help=f"At the intake so far, for an effect of {views.points(row['minimum_effect'])} "
                "(the policy's smallest effect worth detecting).",
            )
    st.dataframe(views.playbook_summary(effects, arm=None), hide_index=True)

    long = views.effects_long(effects[effects["arm"] != "all"])
    if not long.empty:
        figure = px.scatter(
            long,
            x="label",
            y="save_rate",
            color="estimate",
            error_y="error_plus",
            error_y_minus="error_minus",
            hover_data={"treated": ":,.0f", "control": ":,.0f", "mde": ":.1%", "verdict": True},
            labels={"label": "playbook · intervention", "save_rate": "save rate vs control"},
            title="Save rate per playbook and intervention: raw and CUPED-adjusted, 95% intervals",
        )
        figure.add_hline(y=0, line_dash="dash", line_color="grey")
        figure.update_traces(marker_size=10)
        figure.update_layout(yaxis_tickformat=".0%", height=420, scattermode="group")
        st.plotly_chart(figure)

values = data.load_table("policy_values")
if values is not None and not values.empty:
    st.subheader("Allocation policies compared offline")
    st.caption(
        "What a customer was worth (value kept minus the offer's cost) under each policy, estimated from the "
        "logged assignment probabilities (self-normalised inverse-propensity scoring): as allocated, never "
        "contacting anyone, or always one intervention where it was offered."
    )
    st.dataframe(
        values,
        hide_index=True,
        column_config={
            c: st.column_config.NumberColumn(c.replace("_", " "), format="%.0f")
            for c in ("value_per_customer", "ips", "gain_vs_logged")
        },
    )

allocation = data.load_table("allocation")
if allocation is not None and not allocation.empty:
    st.subheader("Allocation between interventions, wave by wave")
    shares = views.allocation_shares(allocation)
    bar = px.bar(
        shares,
        x="wave",
        y="share",
        color="arm",
        facet_col="playbook",
        facet_col_wrap=3,
        hover_data={"customers": True, "mean_probability": ":.2f"},
        title="Share of each playbook's randomised customers per arm (Thompson sampling moves it)",
    )
    bar.update_layout(yaxis_tickformat=".0%", height=420)
    bar.update_xaxes(type="category")
    st.plotly_chart(bar)

high_risk = data.load_table("high_risk_churn")
nps = data.load_table("nps_by_group")
if high_risk is not None and not high_risk.empty:
    st.subheader("Churn among high-risk customers: treated vs control")
    line = px.line(
        high_risk.assign(snapshot_date=views.day_labels(high_risk["snapshot_date"])),
        x="snapshot_date",
        y="churn_rate",
        color="group",
        markers=True,
        hover_data={"customers": ":,.0f", "churned": ":,.0f"},
        labels={"snapshot_date": "campaign snapshot", "churn_rate": "churn rate"},
    )
    line.update_layout(yaxis_tickformat=".0%", height=320)
    line.update_xaxes(type="category")
    st.plotly_chart(line)
if nps is not None and not nps.empty:
    st.subheader("NPS of treated vs control")
    bars = px.bar(
        nps.assign(snapshot_date=views.day_labels(nps["snapshot_date"])),
        x="snapshot_date",
        y="nps",
        color="group",
        barmode="group",
        hover_data={"responses": True, "mean_score": ":.1f"},
        labels={"snapshot_date": "campaign snapshot", "nps": "NPS (promoters - detractors)"},
    )
    bars.update_layout(height=320)
    st.plotly_chart(bars)

rates = data.load_table("response_rates")
if rates is not None and not rates.empty:
    st.subheader("Message response rates")
    st.caption(
        "Shares of sent messages with each provider event, where the channel's provider reports events."
    )
    st.dataframe(views.response_rates(rates), hide_index=True)

if outcomes is not None and not outcomes.empty:
    overall = views.campaign_effects(outcomes, "overall")
    if not overall.empty:
        last = overall.iloc[-1].to_dict()
        st.subheader(f"Latest measured campaign: snapshot {last['campaign']}")
        cols = st.columns(4)
        cols[0].metric("Treated", f"{last['treated']:,.0f}", border=True)
        cols[1].metric("Control", f"{last['control']:,.0f}", border=True)
        cols[2].metric(
            "Save rate vs control",
            views.points(last.get("save_rate_adjusted", last["save_rate"])),
            help=f"95% interval {views.effect_text(last)}, MDE {views.points(last.get('mde'))}.",
            border=True,
        )
        cols[3].metric("ROI", views.roi_text(last), border=True)

    present = [d for d in DIMENSIONS if d in set(outcomes["dimension"])]
    dimension = st.selectbox(
        "Compare campaigns by",
        present,
        index=present.index("playbook") if "playbook" in present else 0,
        format_func=DIMENSIONS.__getitem__,
    )
    per_campaign = views.campaign_effects(outcomes, dimension)
    figure = px.scatter(
        per_campaign,
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
        title="Save rate vs control per campaign (raw), with its 95% interval",
    )
    figure.add_hline(y=0, line_dash="dash", line_color="grey")
    figure.update_traces(marker_size=11)
    figure.update_layout(yaxis_tickformat=".0%", height=380)
    st.plotly_chart(figure)

    st.subheader("All measured breakdowns")
    percent = ("treated_churn_rate", "control_churn_rate", "save_rate", "save_rate_low", "save_rate_high",
               "save_rate_adjusted", "save_rate_adjusted_low", "save_rate_adjusted_high", "mde", "power")  # fmt: skip
    st.dataframe(
        outcomes,
        hide_index=True,
        column_config={
            "snapshot_date": st.column_config.DateColumn("Campaign snapshot"),
            "segment": st.column_config.TextColumn("Group"),
            **{c: st.column_config.NumberColumn(c.replace("_", " "), format="percent") for c in percent},
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
