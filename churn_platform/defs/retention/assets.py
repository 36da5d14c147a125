"""Retention targets, campaign delivery, the ledger export for the simulator, and measured outcomes."""

from collections.abc import Callable, Mapping
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from churn_platform.defs.ml.resources import MlflowResource
from churn_platform.defs.resources import ExportsResource, WarehouseResource
from churn_platform.defs.retention.resources import DeliveryResource, RetentionPolicyResource
from churn_platform.lib.delivery.channels import consent_column
from churn_platform.lib.delivery.loop import ensure_ledger
from churn_platform.lib.ml_pipeline import read_table, write_tables
from churn_platform.lib.retention.design import launch_design
from churn_platform.lib.retention.pipeline import _contact_state, decide, deliver, export_ledger, measure
from churn_platform.lib.retention.targets import Ranking
from churn_platform.profile import active_profile
from ml.tracking import quiet_mlflow
from ml.uplift import load_uplift

TARGETS = dg.AssetKey("retention_targets")


class TargetingConfig(dg.Config):
    """Who a campaign run considers, and how it ranks them (``ranking``: next_best_action or risk; empty: the
    retention policy's ``allocation.ranking``)."""

    only_tier_risers: bool = True
    ranking: str = ""


def uplift_predictor(mlflow: MlflowResource, name: str) -> Callable[[pd.DataFrame], pd.DataFrame | None]:
    """Predicts with the registered uplift model's ``champion`` (loaded by alias from MLflow), or returns None
    while no version has beaten random allocation on held-out Qini."""

    def predict(features: pd.DataFrame) -> pd.DataFrame | None:
        mlflow.setup()
        with quiet_mlflow():
            model = load_uplift(name)
        if model is None:
            return None
        out = model.predict(features)
        out.insert(0, "customer_id", features["customer_id"].to_numpy())
        return out

    return predict


def _violations(warehouse: Path, cooldown_days: int, consent: Mapping[str, str]) -> pd.DataFrame:
    """Treated decisions of the latest snapshot, not yet queued for delivery, that break a contact rule now
    (must be none). Decisions already queued are checked again per message at send time
    (``CampaignMessages``): a consent withdrawn since skips that message and does not block the others."""
    decisions = read_table(
        warehouse,
        """
        select d.customer_id, d.decision, d.channel, d.valuable, d.decided_on from retention.decisions d
        where d.decision = 'treat' and d.snapshot_date = (select max(snapshot_date) from retention.decisions)
          and not exists (select 1 from retention.send_ledger l
                          where l.customer_id = d.customer_id and l.campaign_id = d.campaign_id)
        """,
    )
    if decisions.empty:
        return decisions
    earlier = read_table(
        warehouse,
        """select customer_id, max(coalesce(sent_at, requested_at)) as last_sent from retention.send_ledger
           where status in ('sent', 'sending', 'unknown')
             and snapshot_date < (select max(snapshot_date) from retention.decisions) group by 1""",
    )
    frame = decisions.merge(_contact_state(warehouse), on="customer_id", how="left").merge(
        earlier, on="customer_id", how="left"
    )
    allowed = pd.Series(
        [
            bool(row.get(consent_column(str(row["channel"]), consent)) is True)
            for row in frame.to_dict("records")
        ],
        index=frame.index,
    )
    recent = pd.to_datetime(frame["last_sent"]) > pd.to_datetime(frame["decided_on"]) - pd.Timedelta(
        days=cooldown_days
    )
    bad = ~allowed | frame["is_unsubscribed"].astype("boolean").fillna(True).astype(bool)
    bad |= ~frame["valuable"].astype("boolean").fillna(False).astype(bool) | recent.fillna(False)
    return frame[bad]


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
            description="No newly treated customer lacks consent for their channel, is unsubscribed, is not "
            "valuable or was contacted within the cooldown. Sending waits for this check; messages already queued "
            "are checked again one by one just before they are sent.",
        )
    ],
)
def retention_targets(
    context: dg.AssetExecutionContext,
    config: TargetingConfig,
    warehouse: WarehouseResource,
    retention_policy: RetentionPolicyResource,
    mlflow: MlflowResource,
) -> dg.MaterializeResult:
    policy = retention_policy.load()
    if config.ranking not in ("", "next_best_action", "risk"):
        raise dg.Failure(f"ranking {config.ranking!r}: choose next_best_action or risk (empty: the policy's)")
    ranking: Ranking = config.ranking or policy.allocation.ranking  # type: ignore[assignment]
    consent = active_profile().contact.consent
    decisions = decide(
        warehouse.path_obj, policy, only_risers=config.only_tier_risers, ranking=ranking,
        uplift=uplift_predictor(mlflow, policy.allocation.uplift_model), consent=consent,
    )  # fmt: skip
    counts = decisions["decision"].value_counts() if len(decisions) else pd.Series(dtype=int)
    with duckdb.connect(str(warehouse.path_obj)) as con:
        ensure_ledger(con)
    bad = _violations(warehouse.path_obj, policy.cooldown_days, consent) if len(decisions) else pd.DataFrame()
    by_playbook = (
        decisions[decisions["decision"].isin(["treat", "control"])]
        .groupby(["playbook", "decision"]).size().unstack(fill_value=0)
        if len(decisions) else pd.DataFrame()
    )  # fmt: skip
    context.log.info(f"decisions: {counts.to_dict()}")
    design = launch_design(decisions, policy)
    allocation = (
        str(decisions["allocation"].dropna().iloc[0])
        if "allocation" in decisions and decisions["allocation"].notna().any()
        else "none"
    )
    return dg.MaterializeResult(
        metadata={
            "decisions_recorded": dg.MetadataValue.int(int(decisions.attrs.get("newly_recorded", 0))),
            "treat": dg.MetadataValue.int(int(counts.get("treat", 0))),
            "control": dg.MetadataValue.int(int(counts.get("control", 0))),
            "holdout": dg.MetadataValue.int(int(counts.get("holdout", 0))),
            "allocation": allocation,
            "design": dg.MetadataValue.md(
                design.round(4).to_markdown(index=False) if len(design) else "none"
            ),
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
    kinds={"sendgrid", "twilio", "slack"},
    description="Delivers the treated decisions exactly once through the channel registry (send ledger keyed by "
    "customer, campaign, wave): email (SendGrid or the outbox), SMS (Twilio or the outbox), in-app (signed webhook "
    "or the outbox), team tasks (retention.tasks, Slack or a webhook). Consent, unsubscribe, suppression, control "
    "and cooldown are checked again per message; unknown outcomes are reconciled from the provider's record.",
)
def campaign_sends(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    delivery: DeliveryResource,
    retention_policy: RetentionPolicyResource,
) -> dg.MaterializeResult:
    contact = delivery.contact()
    report = deliver(
        warehouse.path_obj, delivery.channels, retention_policy.load(), templates=delivery.templates(),
        consent=contact.consent, default_time_zone=contact.default_time_zone,
        default_language=contact.default_language,
        events_dir=Path(delivery.events_dir) if delivery.events_dir else None,
    )  # fmt: skip
    context.log.info(f"delivered via {delivery.channel_name}: {report}")
    return dg.MaterializeResult(
        metadata={
            "channels": delivery.channel_name,
            "queued": dg.MetadataValue.int(report.queued),
            "sent": dg.MetadataValue.int(report.sent),
            "sent_by_channel": dg.MetadataValue.json(dict(report.sent_by_channel)),
            "tasks": dg.MetadataValue.int(report.tasks),
            "failed": dg.MetadataValue.int(report.failed),
            "failed_reasons": dg.MetadataValue.json(dict(report.failed_reasons)),
            "skipped": dg.MetadataValue.json(dict(report.skipped)),
            "deferred_quiet_hours": dg.MetadataValue.int(report.deferred),
            "unknown_outcome": dg.MetadataValue.int(report.unknown),
            "reconciled_as_sent": dg.MetadataValue.int(report.recovered),
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
    kinds={"duckdb", "statsmodels"},
    description="Once a campaign's horizon has passed: churn among treated (per arm) vs control and the global "
    "holdout, per playbook, intervention, tier and value band, raw and CUPED-adjusted save rate with 95% "
    "intervals (inverse assignment probability weights), revenue retained, cost and ROI with intervals, MDE, "
    "power and a verdict (works / harms / not yet measurable). Tables retention.outcomes (per campaign), "
    "retention.playbook_effects (every wave pooled, with the weeks still needed) and retention.policy_values "
    "(never contact / always one intervention / as logged, compared offline by inverse-propensity scoring).",
)
def campaign_outcomes(
    warehouse: WarehouseResource, retention_policy: RetentionPolicyResource
) -> dg.MaterializeResult:
    measured = measure(warehouse.path_obj, retention_policy.load())
    outcomes = measured["outcomes"]
    if outcomes.empty:
        return dg.MaterializeResult(metadata={"campaigns_measured": dg.MetadataValue.int(0)})
    write_tables(
        warehouse.path_obj,
        {
            "retention.outcomes": outcomes,
            "retention.playbook_effects": measured["playbook_effects"],
            "retention.policy_values": measured["policy_values"],
        },
    )
    overall = outcomes[outcomes["dimension"] == "overall"]
    show = overall[["snapshot_date", "treated", "control", "save_rate", "save_rate_adjusted",
                    "save_rate_adjusted_low", "save_rate_adjusted_high", "mde", "verdict"]]  # fmt: skip
    effects = measured["playbook_effects"]
    pooled = effects[["playbook", "arm", "treated", "control", "save_rate_adjusted", "save_rate_adjusted_low",
                      "save_rate_adjusted_high", "mde", "power", "weeks_to_detect", "verdict"]]  # fmt: skip
    return dg.MaterializeResult(
        metadata={
            "campaigns_measured": dg.MetadataValue.int(len(overall)),
            "overall": dg.MetadataValue.md(show.round(4).to_markdown(index=False)),
            "playbooks_pooled": dg.MetadataValue.md(pooled.round(4).to_markdown(index=False)),
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
