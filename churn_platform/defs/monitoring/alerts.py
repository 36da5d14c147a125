"""Alerts to the owning team: newly critical customers, drift, a campaign doing worse than its control."""

import dagster as dg

from churn_platform.defs.ml.resources import PolicyResource
from churn_platform.defs.monitoring.assets import REPORT_KEYS
from churn_platform.defs.monitoring.resources import AlertsResource
from churn_platform.defs.resources import WarehouseResource
from churn_platform.defs.retention.resources import DeliveryResource
from churn_platform.lib.alerts import collect_alerts, deliver_alerts


@dg.asset(
    deps=[dg.AssetKey("risk_tier_changes"), *REPORT_KEYS],
    group_name="monitoring",
    kinds={"slack", "email"},
    description="Posts each new finding once to the Slack-compatible webhook (CHURN_ALERT_WEBHOOK_URL) and "
    "emails the owning team (CHURN_ALERT_EMAILS) through the campaign delivery path: customers newly critical, "
    "drift or decayed performance (ROC-AUC down more than the policy's allowed drop from the champion's "
    "validation), and the latest campaign's outcomes (retention.outcomes, when measured) "
    "doing worse than control. Every attempt is logged in monitoring.alert_log; nothing is sent twice.",
)
def monitoring_alerts(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    policy: PolicyResource,
    alerting: AlertsResource,
    delivery: DeliveryResource,
) -> dg.MaterializeResult:
    rules = policy.load()
    alerts = collect_alerts(
        warehouse.path_obj,
        drift_share_threshold=rules.monitoring.drift_share,
        min_roc_auc=rules.monitoring.min_roc_auc,
        max_roc_auc_drop=rules.monitoring.max_roc_auc_drop,
        newly_critical_min=rules.monitoring.newly_critical_alert_min,
        campaign_min_group=rules.monitoring.campaign_alert_min_control,
    )
    recipients = alerting.recipients()
    report = deliver_alerts(
        alerts,
        warehouse.path_obj,
        webhook_url=alerting.webhook_url or None,
        email_sender=delivery.sender() if recipients else None,
        recipients=recipients,
    )
    for failure in report.failures:
        context.log.warning(failure)
    channels = (["webhook"] if alerting.webhook_url else []) + [f"email:{r}" for r in recipients]
    if not channels:
        context.log.info("no alert channel configured: set CHURN_ALERT_WEBHOOK_URL and/or CHURN_ALERT_EMAILS")
    return dg.MaterializeResult(
        metadata={
            "findings": dg.MetadataValue.int(len(alerts)),
            "alerts": dg.MetadataValue.md(
                "\n".join(f"- **{a.severity}** {a.title}" for a in alerts) or "nothing to report"
            ),
            "channels": dg.MetadataValue.text(", ".join(channels) or "none configured"),
            "sent": dg.MetadataValue.int(sum(report.sent.values())),
            "already_sent": dg.MetadataValue.int(sum(report.skipped_already_sent.values())),
            "failed": dg.MetadataValue.int(sum(report.failed.values())),
        }
    )
