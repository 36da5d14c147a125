"""Model health: which model scores customers, how good it was when promoted, and whether the data drifts."""

from __future__ import annotations

from pathlib import Path

import plotly.express as px
import streamlit as st
import streamlit.components.v1 as components

from churn_platform.dashboard import data, views

st.title("Model health")
data.publication_caption()

health = data.load_json("model_health")
if health is None:
    data.explain_missing("model_health", "model health")
    st.stop()
assert health is not None  # st.stop() ends the run; this tells the type checker

st.subheader("Champion")
if not health.get("champion_version"):
    st.warning(
        f"No version of `{health.get('model_name')}` holds the champion alias yet: nothing scores customers."
    )
else:
    heads = st.columns(3)
    heads[0].metric("Model", f"{health['model_name']} v{health['champion_version']}", border=True)
    heads[1].metric("Family", str(health.get("model_family") or "unknown"), border=True)
    heads[2].metric("Registered", str(health.get("registered_at") or "")[:10], border=True)
    cards = views.metric_cards(health.get("metrics") or {})
    if cards:
        for col, (label, value, help_text) in zip(st.columns(len(cards)), cards, strict=True):
            col.metric(label, value, help=help_text)
    window = health.get("validation_window") or {}
    if window:
        st.caption(
            "Trained on "
            + str(window.get("train_window", "?"))
            + ", calibrated on "
            + str(window.get("calibration_snapshot", "?"))
            + ", judged on the snapshot "
            + str(window.get("validation_snapshot", "?"))
            + (f" · policy {health['policy_version']}" if health.get("policy_version") else "")
        )
    decision = views.latest_decision(health)
    if decision:
        st.info(decision, icon=":material/gavel:")
    buttons = st.container(horizontal=True)
    if health.get("mlflow_run_url"):
        buttons.link_button("Open the MLflow run", health["mlflow_run_url"], icon=":material/open_in_new:")
    if health.get("mlflow_model_url"):
        buttons.link_button(
            "Open the model version", health["mlflow_model_url"], icon=":material/open_in_new:"
        )

st.subheader("Monitoring reports")
reports = views.order_reports(health.get("reports") or [])
if not reports:
    data.explain_missing("monitoring", "monitoring reports")
for report in reports:
    name = views.REPORT_TITLES.get(str(report.get("report")), str(report.get("report")))
    with st.container(border=True):
        st.markdown(f"**{name}** · run {str(report.get('run_at', ''))[:16].replace('T', ' ')}")
        numbers = views.report_numbers(report)
        if numbers:
            for col, (label, value) in zip(st.columns(4), numbers, strict=False):
                col.metric(label, value)
        if report.get("notes"):
            st.caption(f"Notes: {report['notes']}")
        links = views.report_links(report)
        if "file" in links:
            st.markdown(
                f"[Open the HTML report]({links['file']}) · `{report['html_path']}` "
                "(browsers may block file links from a web page: copy the path)"
            )
        if "evidently" in links:
            st.link_button("Open in Evidently", links["evidently"], icon=":material/open_in_new:")
        html = Path(str(report.get("html_path") or ""))
        if html.is_file() and st.toggle("Show the report here", key=f"show-{report.get('report')}"):
            components.html(html.read_text(encoding="utf-8"), height=900, scrolling=True)

monitoring = data.load_table("monitoring")
if monitoring is not None:
    drift = views.drift_trend(monitoring)
    if not drift.empty:
        figure = px.line(
            drift,
            x="run_at",
            y="drift_share",
            color="report",
            markers=True,
            labels={"run_at": "report run", "drift_share": "share of drifted columns", "report": ""},
            title="Share of drifted features over report runs",
        )
        figure.update_layout(yaxis_tickformat=".0%", yaxis_range=[0, 1], height=340)
        st.plotly_chart(figure)

st.subheader("Registered versions")
versions = views.versions_frame(health)
if versions.empty:
    st.info("No model version is registered yet: train models (materialize `churn_model_candidates`).")
else:
    st.caption(
        "Every candidate each training round registered; `promote` marks a round's best that replaced the "
        "champion, `keep` one that did not beat it (MLflow keeps no history of the alias itself)."
    )
    st.dataframe(
        versions,
        hide_index=True,
        column_config={
            "champion": st.column_config.CheckboxColumn("Champion"),
            "roc_auc": st.column_config.NumberColumn("ROC-AUC", format="%.3f"),
            "pr_auc": st.column_config.NumberColumn("PR-AUC", format="%.3f"),
            "model_family": st.column_config.TextColumn("Family"),
            "promotion_decision": st.column_config.TextColumn("Promotion decision"),
            "candidate_of_round": st.column_config.TextColumn("Candidate of its round"),
            "validation_snapshot": st.column_config.TextColumn("Validated on"),
            "registered_at": st.column_config.DatetimeColumn("Registered", format="YYYY-MM-DD HH:mm"),
            "run_id": st.column_config.TextColumn("MLflow run"),
        },
    )
