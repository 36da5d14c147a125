"""Trends: is churn rising, and is the share of customers at risk growing, overall or by segment and plan."""

from __future__ import annotations

from typing import cast

import pandas as pd
import plotly.express as px
import streamlit as st

from churn_platform.dashboard import data, views

st.title("Trends")
data.publication_caption()

trend = data.load_table("churn_trend")
mix = data.load_table("tier_mix")
known = [f for f in (trend, mix) if f is not None]
segments_all = sorted(set().union(*(set(f["segment"].dropna()) for f in known)))
plans_all = sorted(set().union(*(set(f["plan"].dropna()) for f in known)))

controls = st.columns([1, 2, 2])
labels = {"none": "All customers", "segment": "By segment", "plan": "By plan"}
breakdown = cast(
    views.Breakdown,
    controls[0].radio("Breakdown", list(labels), format_func=labels.__getitem__, horizontal=True),
)
segments = tuple(controls[1].multiselect("Segments", segments_all, placeholder="All segments"))
plans = tuple(controls[2].multiselect("Plans", plans_all, placeholder="All plans"))

st.subheader("Churn rate")
if trend is None:
    data.explain_missing("churn_trend", "churn history")
else:
    rates = views.churn_rate_series(trend, breakdown, segments, plans)
    if rates.empty:
        st.info(
            "No snapshot has matured labels for this selection yet (labels need the churn horizon to pass)."
        )
    else:
        figure = px.line(
            rates,
            x="snapshot_date",
            y="churn_rate",
            color="group",
            markers=True,
            hover_data={"labelled": ":,", "churned": ":,"},
            labels={"snapshot_date": "snapshot", "churn_rate": "churned within the horizon", "group": ""},
        )
        figure.update_layout(
            yaxis_tickformat=".1%", yaxis_rangemode="tozero", height=380, legend_title_text=""
        )
        st.plotly_chart(figure)
        st.caption(
            "Share of the customers active at each monthly snapshot who churned within the horizon after it; "
            "the latest snapshots appear once their horizon has passed."
        )

st.subheader("Risk tier mix")
if mix is None:
    data.explain_missing("tier_mix", "scoring history")
else:
    tiers = views.tier_mix_series(mix, breakdown, segments, plans)
    if tiers.empty:
        st.info("No scored customers for this selection.")
    else:
        toggles = st.container(horizontal=True)
        as_share = toggles.toggle("Show as share of customers", value=True)
        with_low = toggles.toggle("Include the low tier", value=False, help="Most customers are low risk.")
        shown = tiers if with_low else tiers[tiers["risk_tier"] != "low"]
        if shown.empty:
            st.info("No customer above the low tier in this selection.")
        else:
            figure = px.area(
                shown,
                x="snapshot_date",
                y="share" if as_share else "customers",
                color="risk_tier",
                facet_col="group" if breakdown != "none" else None,
                category_orders={"risk_tier": list(reversed(views.TIERS))},
                color_discrete_map=views.TIER_COLORS,
                markers=True,
                labels={
                    "snapshot_date": "snapshot",
                    "risk_tier": "tier",
                    "share": "share of customers",
                    "group": "",
                },
            )
            figure.update_layout(height=380)
            figure.update_xaxes(dtick="M1", tickformat="%b %Y")
            if as_share:
                figure.update_yaxes(tickformat=".1%")
            st.plotly_chart(figure)
        latest = tiers[tiers["snapshot_date"] == tiers["snapshot_date"].max()]
        table = latest.pivot_table(index="group", columns="risk_tier", values="customers", aggfunc="sum")
        table = table[views.ordered_tiers(pd.Series(table.columns))]
        st.caption(
            f"Customers per tier at the latest scored snapshot ({latest['snapshot_date'].max():%Y-%m-%d})"
        )
        st.dataframe(table.fillna(0).astype(int))
