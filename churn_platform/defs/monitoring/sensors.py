"""Retraining: monthly on a schedule, and at once when a monitoring report crosses the policy's thresholds."""

import dagster as dg

from churn_platform.defs.ml.resources import PolicyResource
from churn_platform.defs.monitoring.assets import REPORT_KEYS
from churn_platform.lib.monitoring import retraining_request
from churn_platform.settings import get_settings

CANDIDATES = dg.AssetKey("churn_model_candidates")
RETRAINING = (
    dg.AssetSelection.assets("churn_model_candidates").downstream()
    - dg.AssetSelection.assets("retention_targets").downstream()
) | dg.AssetSelection.assets("dashboard_snapshot")

retraining_job = dg.define_asset_job(
    "retraining",
    selection=RETRAINING,
    description="Train every family on the newest matured labels, judge the best against the champion at the "
    "promotion gate, then re-score, re-value and re-run the monitoring reports with whichever model won. "
    "Campaigns follow through the campaign sensor.",
)

monthly_retraining = dg.ScheduleDefinition(
    name="monthly_retraining",
    job=retraining_job,
    cron_schedule="0 6 2 * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="On the 2nd of each month at 06:00, after the month's batch has landed and its labels matured.",
    tags={"churn/trigger": "monthly schedule"},
)


def _summary(record: dg.EventLogRecord) -> dict[str, object]:
    materialization = record.asset_materialization
    meta = materialization.metadata if materialization else {}
    out: dict[str, object] = {key: value.value for key, value in meta.items()}
    # the asset names the kind of report (its "report" metadata is the link to the HTML)
    out["report"] = record.asset_key.path[-1].removesuffix("_report") if record.asset_key else ""
    return out


@dg.sensor(
    job=retraining_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Launches retraining when a new feature drift, prediction drift or performance report crosses "
    "the thresholds in the policy file (monitoring section). At most one retraining per data snapshot.",
)
def drift_retraining_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    after = int(context.cursor) if context.cursor else None
    policy = PolicyResource(path=str(get_settings().policy_path)).load().monitoring
    summaries: list[dict[str, object]] = []
    newest = after or 0
    for key in REPORT_KEYS:
        result = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, after_storage_id=after), limit=20
        )
        for record in result.records:
            newest = max(newest, record.storage_id)
            summaries.append(_summary(record))
    trained = context.instance.get_latest_materialization_event(CANDIDATES)
    meta = trained.asset_materialization.metadata if trained and trained.asset_materialization else {}
    retrained_through = str(meta["data_snapshot"].value) if "data_snapshot" in meta else None
    request = retraining_request(summaries, policy, retrained_through)
    if request is None:
        reason = (
            f"{len(summaries)} new report(s), all within the policy's thresholds or on data the models were "
            f"already retrained on (through {retrained_through or 'never'})"
            if summaries
            else "no new reports"
        )
        return dg.SensorResult(skip_reason=reason, cursor=str(newest) if newest else context.cursor)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=request.run_key,
                tags={"churn/trigger": "drift", "churn/reason": "; ".join(request.reasons)[:900]},
            )
        ],
        cursor=str(newest),
    )
