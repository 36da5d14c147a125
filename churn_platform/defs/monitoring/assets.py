"""Evidently reports as assets: feature drift, prediction drift, and performance once labels have matured."""

import dagster as dg

from churn_platform.defs.ml.resources import MlflowResource, PolicyResource
from churn_platform.defs.monitoring.resources import MonitoringResource
from churn_platform.defs.resources import WarehouseResource
from churn_platform.lib.monitoring import RUNNERS, RecordedReport
from ml.monitoring import FEATURE_DRIFT, MODEL_PERFORMANCE, PREDICTION_DRIFT

CHAMPION = dg.AssetKey("champion_model")
SCORES = dg.AssetKey("churn_scores")
TRAINING_SET = dg.AssetKey("ml_training_set")
SCORING_SET = dg.AssetKey("ml_scoring_set")
REPORT_KEYS = [dg.AssetKey(f"{name}_report") for name in (FEATURE_DRIFT, PREDICTION_DRIFT, MODEL_PERFORMANCE)]


def _metadata(recorded: RecordedReport) -> dict[str, dg.MetadataValue]:
    """What the Dagster UI shows for a report run: a link to the HTML, the verdict, the numbers."""
    row = recorded.row()
    meta: dict[str, dg.MetadataValue] = {
        "report": dg.MetadataValue.url(recorded.html_path.as_uri()),
        "report_path": dg.MetadataValue.path(str(recorded.html_path)),
        "evidently_ui": dg.MetadataValue.url(recorded.evidently_url),
        "evidently_run_id": dg.MetadataValue.text(recorded.run_id),
        "reference": dg.MetadataValue.text(row["reference_label"]),
        "current": dg.MetadataValue.text(row["current_label"]),
        "champion_version": dg.MetadataValue.text(recorded.model_version),
        "data_snapshot": dg.MetadataValue.text(recorded.data_snapshot),
        "retrain": dg.MetadataValue.bool(bool(recorded.reasons)),
        "reasons": dg.MetadataValue.text(row["reasons"] or "within the policy's thresholds"),
        "skipped": dg.MetadataValue.bool(recorded.result.skipped),
        "notes": dg.MetadataValue.md("\n".join(f"- {n}" for n in recorded.result.notes) or "none"),
    }
    for key in ("drift_share", "roc_auc", "reference_roc_auc"):
        if row[key] == row[key]:  # not NaN
            meta[key] = dg.MetadataValue.float(round(row[key], 4))
    if row["columns"]:
        meta["drifted_columns"] = dg.MetadataValue.int(row["drifted_columns"])
        meta["columns"] = dg.MetadataValue.int(row["columns"])
    drift = recorded.result.column_drift
    if not drift.empty:
        meta["column_drift"] = dg.MetadataValue.md(drift.head(15).round(4).to_markdown(index=False))
    return meta


def _check(recorded: RecordedReport, name: str) -> dg.AssetCheckResult:
    verdict = "; ".join(recorded.reasons) or (
        "not measured" if recorded.result.skipped else "within the policy's thresholds"
    )
    return dg.AssetCheckResult(
        check_name=name,
        passed=not recorded.reasons,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join([verdict, *recorded.result.notes]),
    )


def _report_asset(name: str, deps: list[dg.AssetKey], check: str, description: str) -> dg.AssetsDefinition:
    key = dg.AssetKey(f"{name}_report")

    @dg.asset(
        key=key,
        deps=deps,
        group_name="monitoring",
        kinds={"evidently", "html"},
        description=description,
        check_specs=[
            dg.AssetCheckSpec(
                check,
                asset=key,
                description="Warns when the report crosses the policy's retraining thresholds "
                "(the drift_retraining_sensor then launches retraining).",
            )
        ],
    )
    def _asset(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        mlflow: MlflowResource,
        policy: PolicyResource,
        monitoring: MonitoringResource,
    ) -> dg.MaterializeResult:
        mlflow.setup()
        recorded = RUNNERS[name](
            warehouse.path_obj, mlflow.model_name, policy.load().monitoring, monitoring.places()
        )
        context.log.info(f"{name}: {recorded.row()['reasons'] or 'within thresholds'} ({recorded.html_path})")
        for note in recorded.result.notes:
            context.log.warning(f"{name}: {note}")
        return dg.MaterializeResult(metadata=_metadata(recorded), check_results=[_check(recorded, check)])

    return _asset


feature_drift_report = _report_asset(
    FEATURE_DRIFT,
    [CHAMPION, SCORING_SET, TRAINING_SET],
    "features_stable",
    "Evidently data drift of every champion feature: the latest snapshot against the champion's training "
    "window (Wasserstein / Jensen-Shannon distances). HTML report linked here; run added to the Evidently "
    "workspace; numbers in monitoring.report_runs and monitoring.drift_columns.",
)
prediction_drift_report = _report_asset(
    PREDICTION_DRIFT,
    [SCORES],
    "predictions_stable",
    "Evidently drift of the champion's churn probabilities: today's scores against its scores on its "
    "training window.",
)
model_performance_report = _report_asset(
    MODEL_PERFORMANCE,
    [CHAMPION, TRAINING_SET],
    "performance_holds",
    "Evidently classification report of the champion on the newest snapshot whose labels have matured, "
    "against its validation snapshot; an alarm when ROC-AUC falls more than the policy's allowed drop below the "
    "champion's own validation ROC-AUC (and below the optional absolute floor, min_roc_auc).",
)
