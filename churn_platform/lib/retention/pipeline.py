"""The retention steps against the warehouse: decide, deliver, export the ledger, measure.

Decisions are made once per customer and snapshot (the table's key), so a re-run never re-draws who is in
control; it only adds decisions for customers who newly rose into an actionable tier.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import duckdb
import pandas as pd

from churn_platform.lib.delivery.core import Channel
from churn_platform.lib.delivery.templates import MessageTemplates
from churn_platform.lib.ml_pipeline import read_table
from churn_platform.lib.retention.delivery import (
    DeliveryReport,
    deliver_pending,
    ensure_ledger,
    queue_targets,
)
from churn_platform.lib.retention.outcomes import campaign_outcomes, playbook_effects, policy_values
from churn_platform.lib.retention.policy import RetentionPolicy
from churn_platform.lib.retention.targets import Ranking, select_targets
from churn_platform.lib.warehouse import connect as connect_warehouse

DECISION_COLUMNS = [
    "customer_id", "snapshot_date", "risk_tier", "churn_probability", "customer_value", "valuable", "factor",
    "segment", "plan", "value_band", "playbook", "arm", "intervention", "channel", "template", "timeline_days",
    "offer", "offer_cost", "expected_uplift", "expected_net_value", "decision", "control_probability",
    "assignment_probability", "arm_probabilities", "allocation", "budget_price", "campaign_id", "wave", "decided_on",
    "model_version", "policy_version", "retention_policy_version", "ranking", "reason_1", "reason_2", "reason_3",
]  # fmt: skip
DECISION_TYPES = {
    "segment": "varchar", "plan": "varchar", "value_band": "varchar", "arm": "varchar",
    "control_probability": "double", "assignment_probability": "double", "arm_probabilities": "varchar",
    "allocation": "varchar", "budget_price": "double",
}  # fmt: skip
"""Columns newer than the first decisions table: added to an older table in place."""


def _latest_contacts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Last contact per customer; a message whose outcome is still unknown counts as a contact."""
    return con.execute(
        "select customer_id, max(coalesce(sent_at, requested_at))::date as last_contacted_on "
        "from retention.send_ledger where status in ('sent', 'sending', 'unknown') group by 1"
    ).df()


CONSENT_COLUMNS = ("marketing_consent", "sms_consent", "push_consent")


def _contact_state(warehouse: Path) -> pd.DataFrame:
    """Unsubscribed, every consent column dim_customers has (older marts lack the newer ones), segment, plan."""
    have = set(read_table(warehouse, "select * from dim_customers limit 0").columns)
    extra = [c for c in (*CONSENT_COLUMNS, "segment", "plan") if c in have]
    cols = ["customer_id", "is_unsubscribed", *extra]
    return read_table(warehouse, f"select {', '.join(cols)} from dim_customers")


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return bool(found[0][0])


def measured_decisions(warehouse: Path, before: dt.date | None = None) -> pd.DataFrame:
    """Every randomised decision (treat, control, holdout) whose churn label has matured, with its outcome:
    the evidence adaptive allocation learns from. ``before``: only snapshots before this date."""
    con = connect_warehouse(warehouse, read_only=True)
    try:
        if not _has_table(con, "retention", "decisions"):
            return pd.DataFrame()
        have = {r[0] for r in con.execute("describe retention.decisions").fetchall()}
        if "arm" not in have:
            return pd.DataFrame()
        where = "and d.snapshot_date < ?" if before else ""
        return con.execute(
            f"""select d.*, l.churned::int as churned from retention.decisions d
                join fct_churn_labels l using (customer_id, snapshot_date)
                where d.decision in ('treat', 'control', 'holdout') and l.churned is not null {where}""",
            [pd.Timestamp(before)] if before else [],
        ).df()
    finally:
        con.close()


def decide(
    warehouse: Path, policy: RetentionPolicy, only_risers: bool = True, ranking: Ranking | None = None,
    uplift: Callable[[pd.DataFrame], pd.DataFrame | None] | None = None,
    consent: Mapping[str, str] | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Decide for the latest scoring; returns the decisions newly recorded (``attrs``: newly_recorded).

    ``ranking``: default the policy's. ``uplift``: given the latest snapshot's features, the champion uplift
    model's prediction (customer_id plus ``uplift_<intervention>``), or None while there is no champion;
    then the arms' posterior learnt from every measured decision is used. ``consent``: the profile's channel
    -> consent column mapping (``contact.consent``).
    """
    scores = read_table(warehouse, "select * from ml.churn_scores")
    if scores.empty:
        return pd.DataFrame(columns=DECISION_COLUMNS)
    values = read_table(warehouse, "select * from ml.customer_value")
    customers = _contact_state(warehouse)
    decided_on = pd.Timestamp(scores["snapshot_date"].max()).date()
    ranking = ranking or policy.allocation.ranking
    predicted = None
    if ranking == "next_best_action" and uplift is not None:
        features = read_table(
            warehouse, f"select * from fct_customer_features where snapshot_date = date '{decided_on}'"
        )
        predicted = uplift(features.merge(scores[["customer_id", "churn_probability"]], on="customer_id"))
    history = measured_decisions(warehouse, before=decided_on) if ranking == "next_best_action" else None
    only = None
    if only_risers:
        risers = read_table(
            warehouse, "select customer_id from ml.risk_tier_changes where direction in ('up', 'new')"
        )
        only = set(risers["customer_id"])
    con = duckdb.connect(str(warehouse))
    try:
        ensure_ledger(con)
        contacts = _latest_contacts(con)
        targets = select_targets(
            scores,
            values,
            customers,
            contacts,
            policy,
            decided_on,
            ranking,
            predicted,
            only,
            consent,
            history,
        )
        new = targets[[c for c in DECISION_COLUMNS if c in targets.columns]]
        con.register("new_decisions", new)
        if not _has_table(con, "retention", "decisions"):
            con.execute("create table retention.decisions as select * from new_decisions limit 0")
            con.execute("alter table retention.decisions add primary key (customer_id, snapshot_date)")
        have = {r[0] for r in con.execute("describe retention.decisions").fetchall()}
        for column, kind in DECISION_TYPES.items():
            if column not in have:
                con.execute(f"alter table retention.decisions add column {column} {kind}")
        con.execute("begin transaction")
        before = con.execute("select count(*) from retention.decisions").fetchall()[0][0]
        con.execute(
            "insert into retention.decisions by name select * from new_decisions on conflict do nothing"
        )
        after = con.execute("select count(*) from retention.decisions").fetchall()[0][0]
        recorded = con.execute(
            "select * from retention.decisions where snapshot_date = ? and customer_id in (select customer_id from new_decisions)",
            [pd.Timestamp(decided_on)],
        ).df()
        con.unregister("new_decisions")
        con.execute("commit")
    finally:
        con.close()
    recorded.attrs["newly_recorded"] = int(after - before)
    return recorded


def deliver(
    warehouse: Path,
    channels: Callable[[duckdb.DuckDBPyConnection], Mapping[str, Channel]],
    policy: RetentionPolicy,
    snapshot_date: dt.date | None = None,
    *,
    templates: MessageTemplates | None = None,
    consent: Mapping[str, str] | None = None,
    default_time_zone: str = "UTC",
    default_language: str | None = None,
    events_dir: Path | None = None,
    max_attempts: int = 5,
    backoff_seconds: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], dt.datetime] | None = None,
) -> DeliveryReport:
    """Queue the treated decisions of a snapshot (default: latest) and deliver everything pending.

    ``channels`` builds the channel -> provider map on the open warehouse connection (team tasks write to
    it). Unknown outcomes of earlier runs are reconciled first; see :mod:`churn_platform.lib.delivery.loop`.
    """
    con = duckdb.connect(str(warehouse))
    try:
        ensure_ledger(con)
        queued = 0
        has_decisions = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'retention' "
            "and table_name = 'decisions'"
        ).fetchall()[0][0]
        if has_decisions:
            if snapshot_date is None:
                snapshot_date = con.execute("select max(snapshot_date) from retention.decisions").fetchall()[
                    0
                ][0]
            decisions = con.execute(
                "select * from retention.decisions where snapshot_date = ?", [snapshot_date]
            ).df()
            queued = queue_targets(con, decisions)
        report = deliver_pending(
            con, channels(con), policy, templates=templates, consent=consent,
            default_time_zone=default_time_zone, default_language=default_language, events_dir=events_dir,
            max_attempts=max_attempts, backoff_seconds=backoff_seconds, sleep=sleep, clock=clock,
        )  # fmt: skip
        report.queued = queued
        return report
    finally:
        con.close()


def export_ledger(warehouse: Path, path: Path) -> int:
    """The send ledger as the simulator reads it (customer, intervention, snapshot), replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name + ".tmp")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute(
            f"""copy (select customer_id, intervention, snapshot_date, campaign_id, sent_at
                      from retention.send_ledger where status = 'sent' order by snapshot_date, customer_id)
                to '{tmp}' (format parquet)"""
        )
        rows = con.execute(f"select count(*) from read_parquet('{tmp}')").fetchall()[0][0]
    finally:
        con.close()
    os.replace(tmp, path)
    return int(rows)


def measure(warehouse: Path, policy: RetentionPolicy, horizon_days: int = 30) -> dict[str, pd.DataFrame]:
    """Outcomes of every campaign whose labels have matured: ``outcomes`` (per campaign and breakdown),
    ``playbook_effects`` (every wave pooled, per playbook and arm) and ``policy_values`` (allocation policies
    compared offline from the logged probabilities)."""
    decisions = read_table(warehouse, "select * from retention.decisions")
    labels = read_table(warehouse, "select customer_id, snapshot_date, churned from fct_churn_labels")
    design = policy.experiment
    return {
        "outcomes": campaign_outcomes(decisions, labels, design),
        "playbook_effects": playbook_effects(decisions, labels, design, horizon_days),
        "policy_values": policy_values(decisions, labels),
    }


def campaign_history(warehouse: Path) -> pd.DataFrame:
    """Every measured randomised decision (treat, control, holdout) with the customer's features and churn
    probability at the decision, the arm and its assignment probability: what the uplift model learns from."""
    con = connect_warehouse(warehouse, read_only=True)
    try:
        if not _has_table(con, "retention", "decisions"):
            return pd.DataFrame()
        if "arm" not in {r[0] for r in con.execute("describe retention.decisions").fetchall()}:
            return pd.DataFrame()
        return con.execute(
            """
            select f.*, d.churn_probability, d.arm, d.assignment_probability, l.churned
            from retention.decisions d
            join fct_churn_labels l using (customer_id, snapshot_date)
            join fct_customer_features f using (customer_id, snapshot_date)
            where d.decision in ('treat', 'control', 'holdout') and l.churned is not null and d.arm is not null
            """
        ).df()
    finally:
        con.close()
