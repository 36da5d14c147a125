"""Retention targets, campaign delivery, the ledger export for the simulator, and measured outcomes."""

import pickle
from pathlib import Path

import dagster as dg
import pandas as pd

from churn_platform.defs.resources import ExportsResource, WarehouseResource
from churn_platform.defs.retention.resources import DeliveryResource, RetentionPolicyResource
from churn_platform.lib.ml_pipeline import read_table, write_tables
from churn_platform.lib.retention.pipeline import decide, deliver, export_ledger, measure
from churn_platform.lib.retention.targets import Ranking

TARGETS = dg.AssetKey("retention_targets")


class TargetingConfig(dg.Config):
    """Who a campaign run considers, and how it ranks them."""

    only_tier_risers: bool = True
    ranking: str = "risk"


def _violations(warehouse: Path, cooldown_days: int) -> pd.DataFrame:
    """Treated decisions of the latest snapshot that break a contact rule (must be none)."""
    return read_table(
        warehouse,
        f"""
        with latest as (select max(snapshot_date) as s from retention.decisions),
             earlier as (
                select customer_id, max(sent_at)::date as last_sent from retention.send_ledger, latest
                where status = 'sent' and snapshot_date < latest.s group by 1)
        select d.customer_id, d.decision, c.marketing_consent, c.is_unsubscribed, e.last_sent, d.valuable
        from retention.decisions d join latest on d.snapshot_date = latest.s
        join dim_customers c using (customer_id)
        left join earlier e using (customer_id)
        where d.decision = 'treat' and (not c.marketing_consent or c.is_unsubscribed or not d.valuable
              or e.last_sent > d.decided_on - interval {cooldown_days} day)
        """,
    )


@dg.asset(
    key=TARGETS,
    deps=["churn_scores", "customer_value", "risk_tier_changes", "dim_customers"],
    group_name="retention",
    kinds={"duckdb"},
    description="One decision per actionable, scored customer (treat, control, or why not), with playbook, offer, "
    "channel and the model and policy versions. Table retention.decisions (made once per customer and snapshot).",
    check_specs=[
        dg.AssetCheckSpec(
            "contact_rules_hold",
            asset=TARGETS,
            blocking=True,
            description="No treated customer lacks consent, is unsubscribed, is in control, is not valuable or was "
            "contacted within the cooldown. Sending waits for this check.",
        )
    ],
)
def retention_targets(
    context: dg.AssetExecutionContext,
    config: TargetingConfig,
    warehouse: WarehouseResource,
    retention_policy: RetentionPolicyResource,
    exports: ExportsResource,
) -> dg.MaterializeResult:
    policy = retention_policy.load()
    ranking: Ranking = "uplift_value" if config.ranking == "uplift_value" else "risk"
    uplift = None
    if ranking == "uplift_value":
        path = Path(exports.ledger_export_path).parent / "uplift_model.pkl"
        if not path.exists():
            raise dg.Failure(
                f"ranking by uplift_value needs {path}: materialize uplift_model after a measured campaign"
            )
        with path.open("rb") as fh:
            model = pickle.load(fh)
        features = read_table(
            warehouse.path_obj,
            "select * from fct_customer_features where snapshot_date = (select max(snapshot_date) from fct_customer_features)",
        )
        uplift = model.predict(features)
    decisions = decide(
        warehouse.path_obj, policy, only_risers=config.only_tier_risers, ranking=ranking, uplift=uplift
    )
    counts = decisions["decision"].value_counts() if len(decisions) else pd.Series(dtype=int)
    bad = _violations(warehouse.path_obj, policy.cooldown_days) if len(decisions) else pd.DataFrame()
    by_playbook = (
        decisions[decisions["decision"].isin(["treat", "control"])]
        .groupby(["playbook", "decision"]).size().unstack(fill_value=0)
        if len(decisions) else pd.DataFrame()
    )  # fmt: skip
    context.log.info(f"decisions: {counts.to_dict()}")
    return dg.MaterializeResult(
        metadata={
            "decisions_recorded": dg.MetadataValue.int(int(decisions.attrs.get("newly_recorded", 0))),
            "treat": dg.MetadataValue.int(int(counts.get("treat", 0))),
            "control": dg.MetadataValue.int(int(counts.get("control", 0))),
            "decisions": dg.MetadataValue.md(
                counts.to_frame("customers").to_markdown() if len(counts) else "none"
            ),
            "by_playbook": dg.MetadataValue.md(by_playbook.to_markdown() if len(by_playbook) else "none"),
            "retention_policy_version": policy.version,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="contact_rules_hold",
                passed=bool(bad.empty),
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"violations": dg.MetadataValue.int(len(bad))},
            )
        ],
    )


@dg.asset(
    deps=[TARGETS],
    group_name="retention",
    kinds={"sendgrid"},
    description="Delivers the treated decisions exactly once (send ledger keyed by customer, campaign, wave): "
    "email through SendGrid or the local outbox, account-manager tasks to retention.tasks.",
)
def campaign_sends(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, delivery: DeliveryResource
) -> dg.MaterializeResult:
    report = deliver(warehouse.path_obj, delivery.sender(), task_webhook=delivery.task_webhook_url)
    context.log.info(f"delivered via {delivery.channel_name}: {report}")
    return dg.MaterializeResult(
        metadata={
            "channel": delivery.channel_name,
            "queued": dg.MetadataValue.int(report.queued),
            "sent": dg.MetadataValue.int(report.sent),
            "tasks": dg.MetadataValue.int(report.tasks),
            "failed": dg.MetadataValue.int(report.failed),
            "still_pending": dg.MetadataValue.int(report.still_pending),
            "retries": dg.MetadataValue.int(report.retries),
        }
    )


@dg.asset(
    deps=[campaign_sends],
    group_name="retention",
    kinds={"parquet"},
    description="The send ledger exported for the simulator (data/exports/send_ledger.parquet): the next simulated "
    "period reads it, so treated customers really respond.",
)
def send_ledger_export(warehouse: WarehouseResource, exports: ExportsResource) -> dg.MaterializeResult:
    path = Path(exports.ledger_export_path)
    rows = export_ledger(warehouse.path_obj, path)
    return dg.MaterializeResult(
        metadata={"rows": dg.MetadataValue.int(rows), "path": dg.MetadataValue.path(str(path))}
    )


@dg.asset(
    deps=["fct_churn_labels", TARGETS],
    group_name="retention",
    kinds={"duckdb"},
    description="Once a campaign's horizon has passed: churn among treated vs control per playbook, tier and value "
    "band, incremental save rate with a 95% interval, revenue retained, cost and ROI. Table retention.outcomes.",
)
def campaign_outcomes(warehouse: WarehouseResource) -> dg.MaterializeResult:
    outcomes = measure(warehouse.path_obj)
    if outcomes.empty:
        return dg.MaterializeResult(metadata={"campaigns_measured": dg.MetadataValue.int(0)})
    write_tables(warehouse.path_obj, {"retention.outcomes": outcomes})
    overall = outcomes[outcomes["dimension"] == "overall"]
    show = overall[["snapshot_date", "treated", "control", "treated_churn_rate", "control_churn_rate", "save_rate",
                    "save_rate_low", "save_rate_high", "roi"]]  # fmt: skip
    return dg.MaterializeResult(
        metadata={
            "campaigns_measured": dg.MetadataValue.int(len(overall)),
            "overall": dg.MetadataValue.md(show.round(4).to_markdown(index=False)),
        }
    )


campaign_job = dg.define_asset_job(
    "campaign",
    selection=dg.AssetSelection.assets(
        retention_targets, campaign_sends, send_ledger_export, "dashboard_snapshot"
    ),
    description="Decide, deliver and export the ledger for customers whose risk tier rose; refresh the dashboard.",
)


@dg.asset_sensor(
    asset_key=dg.AssetKey("risk_tier_changes"),
    job=campaign_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="When a scoring run lands, launches the campaign for customers whose tier rose into an actionable tier.",
)
def campaign_sensor(
    context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry
) -> dg.RunRequest | dg.SkipReason:
    materialization = asset_event.asset_materialization
    moved_up = materialization.metadata.get("moved_up") if materialization else None
    risers = int(moved_up.value) if moved_up is not None else 0  # type: ignore[arg-type]
    return dg.RunRequest(
        run_key=f"tiers-{asset_event.run_id}",
        tags={
            "churn/trigger": "risk tiers changed",
            "churn/reason": f"{risers} customers moved up a risk tier in scoring run {asset_event.run_id[:8]}",
        },
    )
