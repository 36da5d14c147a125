"""The risk dashboard's snapshots: a few small tables and a JSON of model health, published atomically.

The dashboard never opens the warehouse (DuckDB lets one process hold the file, and the pipeline writes for
minutes at a time), so everything it shows is shaped here, inside the pipeline, into one Parquet file per
table with a stated grain. A table whose sources do not exist yet (no campaign has run, no monitoring report
has been made) is skipped and named in the result and in ``manifest.json``, so the dashboard can say why a
page is empty instead of failing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from churn_platform.lib.ml_pipeline import read_table
from churn_platform.lib.model_health import champion_health
from churn_platform.lib.publish import publish_tables

MODEL_HEALTH_FILE = "model_health.json"
MANIFEST_FILE = "manifest.json"

# Empty stand-ins with the columns the worklist reads, used when an optional source does not exist yet:
# the worklist is useful before the first campaign, it just has no decisions or contacts to show.
_EMPTY: dict[str, str] = {
    "ml.customer_value": (
        "select null::varchar as customer_id, null::double as customer_value, null::boolean as valuable "
        "where false"
    ),
    "retention.decisions": (
        "select null::varchar as customer_id, null::timestamp as snapshot_date, null::varchar as decision, "
        "null::varchar as playbook, null::varchar as intervention, null::varchar as channel, "
        "null::varchar as offer, null::varchar as campaign_id where false"
    ),
    "raw.accounts": (
        "select null::varchar as customer_id, null::varchar as email, null::date as _batch_date where false"
    ),
    "retention.send_ledger": (
        "select null::varchar as customer_id, null::varchar as campaign_id, null::varchar as status, "
        "null::varchar as channel, null::timestamp as created_at, null::timestamp as sent_at where false"
    ),
}


def _source(table: str, available: set[str]) -> str:
    return table if table in available else f"({_EMPTY[table]})"


def worklist_sql(available: set[str]) -> str:
    """One row per customer of the latest scoring run, with value, latest decision and contact status."""
    value = _source("ml.customer_value", available)
    decisions = _source("retention.decisions", available)
    ledger = _source("retention.send_ledger", available)
    accounts = _source("raw.accounts", available)
    return f"""
with scores as (
    select * from ml.churn_scores where scored_at = (select max(scored_at) from ml.churn_scores)
),
emails as (
    select customer_id, arg_max(email, _batch_date) as email from {accounts} a group by customer_id
),
latest_decision as (
    select customer_id,
           arg_max(decision, snapshot_date) as decision_detail,
           arg_max(playbook, snapshot_date) as playbook,
           arg_max(intervention, snapshot_date) as intervention,
           arg_max(offer, snapshot_date) as offer,
           arg_max(campaign_id, snapshot_date) as campaign_id,
           max(snapshot_date)::date as decided_for_snapshot
    from {decisions} d
    group by customer_id
),
latest_contact as (
    select customer_id,
           arg_max(status, coalesce(sent_at, created_at)) as ledger_status,
           arg_max(channel, coalesce(sent_at, created_at)) as contact_channel,
           max(sent_at) filter (where status = 'sent') as last_contacted_at
    from {ledger} l
    group by customer_id
),
final as (
    select s.customer_id,
           c.company_name,
           e.email,
           c.account_manager,
           coalesce(c.segment, 'unknown') as segment,
           coalesce(c.plan, 'unknown') as plan,
           coalesce(c.current_mrr, 0)::double as mrr,
           s.churn_probability,
           s.risk_tier,
           s.reason_1, s.reason_2, s.reason_3,
           s.top_feature,
           v.customer_value,
           coalesce(v.valuable, false) as valuable,
           -- thirds by value rank, as campaign outcomes band them
           case when v.customer_value is null then null
                else ['low', 'mid', 'high'][ntile(3) over (partition by v.customer_value is null
                                                          order by v.customer_value, s.customer_id)]
           end as value_band,
           case
               when d.decision_detail is null then null
               when d.decision_detail in ('treat', 'control') then d.decision_detail
               when d.decision_detail = 'holdout' then 'control'
               else 'skip'
           end as decision,
           case d.decision_detail
               when 'treat' then 'targeted by the playbook'
               when 'control' then 'held out as control'
               when 'holdout' then 'in the global holdout (never contacted)'
               when 'negative_value' then 'no intervention expected to pay'
               else replace(d.decision_detail, '_', ' ')
           end as decision_reason,
           d.playbook, d.intervention, d.offer, d.campaign_id, d.decided_for_snapshot,
           case k.ledger_status
               when 'sent' then 'sent'
               when 'pending' then 'queued'
               when 'failed' then 'failed'
               else coalesce(k.ledger_status, 'not contacted')
           end as contact_status,
           k.contact_channel,
           k.last_contacted_at,
           s.snapshot_date::date as snapshot_date,
           s.scored_at,
           s.model_version
    from scores s
    left join dim_customers c using (customer_id)
    left join {value} v using (customer_id)
    left join emails e using (customer_id)
    left join latest_decision d using (customer_id)
    left join latest_contact k using (customer_id)
)
select * from final order by churn_probability desc, customer_id
"""


def _churn_trend_sql(available: set[str]) -> str:
    """Snapshot x segment x plan; segment and plan as they were at the snapshot (a downgrade counts where
    the customer was), churn rate only over labels whose horizon has passed."""
    return """
select l.snapshot_date,
       coalesce(f.segment, 'unknown') as segment,
       coalesce(f.plan, 'unknown') as plan,
       count(*) as customers,
       count(*) filter (where l.is_mature) as labelled,
       count(*) filter (where l.is_mature and l.churned) as churned,
       count(*) filter (where l.is_mature and l.churned) / nullif(count(*) filter (where l.is_mature), 0)
           as churn_rate
from fct_churn_labels l
left join fct_customer_features f using (customer_id, snapshot_date)
group by all
order by all
"""


def _tier_mix_sql(available: set[str]) -> str:
    """Scoring run x segment x plan x tier, segment and plan as at the scored snapshot."""
    return """
select h.scored_at,
       h.snapshot_date::date as snapshot_date,
       h.model_version,
       coalesce(f.segment, 'unknown') as segment,
       coalesce(f.plan, 'unknown') as plan,
       h.risk_tier,
       count(*) as customers,
       avg(h.churn_probability) as mean_probability
from ml.churn_score_history h
left join fct_customer_features f
  on f.customer_id = h.customer_id and f.snapshot_date = h.snapshot_date::date
group by all
order by all
"""


HIGH_RISK_TIERS = ("critical", "high")


def _high_risk_churn_sql(available: set[str]) -> str:
    """Snapshot x group (treated, control: the campaign's control and the global holdout): churn among the
    high-risk customers randomised by a campaign, once their labels have matured."""
    tiers = ", ".join(f"'{t}'" for t in HIGH_RISK_TIERS)
    return f"""
select d.snapshot_date::date as snapshot_date,
       case when d.decision = 'treat' then 'treated' else 'control' end as "group",
       count(*) as customers,
       count(*) filter (where l.churned) as churned,
       avg(l.churned::int) as churn_rate
from retention.decisions d
join fct_churn_labels l using (customer_id, snapshot_date)
where d.decision in ('treat', 'control', 'holdout') and d.risk_tier in ({tiers}) and l.churned is not null
group by all
order by all
"""


def _allocation_sql(available: set[str]) -> str:
    """Snapshot x playbook x arm (control: the campaign's control and the global holdout): customers, their share
    of the playbook's randomised customers and the mean logged assignment probability. Decisions made before
    arms were logged have none and are left out."""
    return """
with measured as (
    select snapshot_date::date as snapshot_date, playbook,
           coalesce(case when decision = 'treat' then arm end, 'control') as arm, assignment_probability
    from retention.decisions
    where decision in ('treat', 'control', 'holdout') and assignment_probability is not null
)
select snapshot_date, playbook, arm, count(*) as customers,
       count(*) / sum(count(*)) over (partition by snapshot_date, playbook) as share,
       avg(assignment_probability) as mean_probability
from measured
group by snapshot_date, playbook, arm
order by all
"""


def _nps_by_group_sql(available: set[str]) -> str:
    """Snapshot x group: NPS survey responses given within the churn horizon after the decision (promoters
    9-10 minus detractors 0-6, in points)."""
    return """
select d.snapshot_date::date as snapshot_date,
       case when d.decision = 'treat' then 'treated' else 'control' end as "group",
       count(*) as responses,
       avg(n.score) as mean_score,
       100 * (avg((n.score >= 9)::int) - avg((n.score <= 6)::int)) as nps
from retention.decisions d
join fct_churn_labels l using (customer_id, snapshot_date)
join stg_nps_responses n
  on n.customer_id = d.customer_id
 and n.responded_at::date >= d.snapshot_date::date
 and n.responded_at::date < l.horizon_end
where d.decision in ('treat', 'control', 'holdout')
group by all
order by all
"""


def _response_rates_sql(available: set[str]) -> str:
    """Channel x campaign snapshot: messages sent and, where the provider reports them, the share delivered,
    opened, clicked, bounced or answered (``reported`` = messages with any provider event)."""
    events = (
        "retention.provider_events"
        if "retention.provider_events" in available
        else "(select null::varchar as message_key, null::varchar as event where false)"
    )
    return f"""
with sent as (
    select message_key, channel, snapshot_date::date as snapshot_date
    from retention.send_ledger where status = 'sent'
),
flags as (
    select s.channel, s.snapshot_date, s.message_key,
           count(e.event) > 0 as reported,
           bool_or(e.event in ('delivered', 'read')) as delivered,
           bool_or(e.event = 'open') as opened,
           bool_or(e.event = 'click') as clicked,
           bool_or(e.event in ('bounce', 'dropped', 'failed', 'undelivered')) as bounced,
           bool_or(e.event in ('reply', 'received', 'inbound')) as answered
    from sent s left join {events} e using (message_key)
    group by s.channel, s.snapshot_date, s.message_key
)
select channel, snapshot_date,
       count(*) as sent,
       count(*) filter (where reported) as reported,
       avg(delivered::int) filter (where reported) as delivered_rate,
       avg(opened::int) filter (where reported) as open_rate,
       avg(clicked::int) filter (where reported) as click_rate,
       avg(bounced::int) filter (where reported) as bounce_rate,
       avg(answered::int) filter (where reported) as answer_rate
from flags
group by channel, snapshot_date
order by all
"""


@dataclass(frozen=True)
class TableSpec:
    """A published table: the warehouse tables it cannot do without, those it can, and its SQL."""

    required: tuple[str, ...]
    sql: Callable[[set[str]], str]
    optional: tuple[str, ...] = ()


SPECS: dict[str, TableSpec] = {
    "worklist": TableSpec(
        ("ml.churn_scores", "dim_customers"),
        worklist_sql,
        ("ml.customer_value", "retention.decisions", "retention.send_ledger", "raw.accounts"),
    ),
    "churn_trend": TableSpec(("fct_churn_labels", "fct_customer_features"), _churn_trend_sql),
    "tier_mix": TableSpec(("ml.churn_score_history", "fct_customer_features"), _tier_mix_sql),
    "campaign_outcomes": TableSpec(
        ("retention.outcomes",), lambda _: "select * from retention.outcomes order by all"
    ),
    "playbook_effects": TableSpec(
        ("retention.playbook_effects",), lambda _: "select * from retention.playbook_effects order by all"
    ),
    "policy_values": TableSpec(
        ("retention.policy_values",), lambda _: "select * from retention.policy_values order by all"
    ),
    "allocation": TableSpec(("retention.decisions.assignment_probability",), _allocation_sql),
    "high_risk_churn": TableSpec(("retention.decisions", "fct_churn_labels"), _high_risk_churn_sql),
    "nps_by_group": TableSpec(
        ("retention.decisions", "fct_churn_labels", "stg_nps_responses"), _nps_by_group_sql
    ),
    "response_rates": TableSpec(
        ("retention.send_ledger.message_key",), _response_rates_sql, ("retention.provider_events",)
    ),
    "monitoring": TableSpec(
        ("monitoring.report_runs",), lambda _: "select * from monitoring.report_runs order by run_at"
    ),
}

WHEN_PRESENT: dict[str, tuple[str, str]] = {
    # per-tier probability cut-offs recorded by scoring, once scoring records them: the API tiers with them
    "tier_cutoffs": ("ml.tier_cutoffs", "select * from ml.tier_cutoffs order by all"),
}
"""Tables published only when their source exists, and not reported as skipped otherwise."""

_EVERYTHING = {t for spec in SPECS.values() for t in (*spec.required, *spec.optional)}
DASHBOARD_TABLES: dict[str, str] = {name: spec.sql(_EVERYTHING) for name, spec in SPECS.items()}
"""Name -> SQL when every source exists (what a full pipeline run publishes)."""


def existing_tables(warehouse: Path) -> set[str]:
    """``schema.table`` for every table and view (``main`` tables also by bare name, as dbt marts are used), and
    ``schema.table.column`` for every column of the ``retention`` tables (their columns grew over time)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_schema = 'retention'"
        ).fetchall()
    finally:
        con.close()
    names = {f"{schema}.{table}" for schema, table in rows}
    names |= {f"{schema}.{table}.{column}" for schema, table, column in columns}
    return names | {table for schema, table in rows if schema == "main"}


def plan_tables(available: set[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The SQL to run for the tables whose required sources exist, and why each other table is skipped."""
    queries: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for name, spec in SPECS.items():
        missing = [t for t in spec.required if t not in available]
        if missing:
            skipped[name] = f"source table {', '.join(missing)} does not exist yet"
        else:
            queries[name] = spec.sql(available)
    for name, (source, sql) in WHEN_PRESENT.items():
        if source in available:
            queries[name] = sql
    return queries, skipped


class Publication(dict[str, int]):
    """Rows per published table; ``skipped`` says which tables were not published and why."""

    def __init__(self, rows: dict[str, int], skipped: dict[str, str]) -> None:
        super().__init__(rows)
        self.skipped = skipped


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write under a temporary name, then rename: a reader sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str, allow_nan=False))
    os.replace(tmp, path)


def publish_dashboard(warehouse: Path, folder: Path, model_health: dict[str, Any]) -> Publication:
    """Publish every dashboard table whose sources exist, ``model_health.json`` and ``manifest.json``.

    Returns rows per published table (a ``dict[str, int]``) with the skipped tables in ``.skipped``.
    """
    queries, skipped = plan_tables(existing_tables(warehouse))
    rows = publish_tables(warehouse, folder, queries)
    write_json_atomic(folder / MODEL_HEALTH_FILE, _finite(model_health))
    write_json_atomic(
        folder / MANIFEST_FILE,
        {
            "published_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "rows": rows,
            "skipped": skipped,
        },
    )
    return Publication(rows, skipped)


def monitoring_reports(warehouse: Path) -> pd.DataFrame | None:
    """``monitoring.report_runs`` for ``champion_health``, or None before the first monitoring report."""
    if "monitoring.report_runs" not in existing_tables(warehouse):
        return None
    return read_table(warehouse, "select * from monitoring.report_runs")


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: metrics that are not finite become null."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


__all__ = [
    "DASHBOARD_TABLES",
    "MANIFEST_FILE",
    "MODEL_HEALTH_FILE",
    "Publication",
    "champion_health",
    "existing_tables",
    "monitoring_reports",
    "plan_tables",
    "publish_dashboard",
]
