"""The uplift model: learnt from the logged experiments once campaigns are measured, registered in MLflow."""

from pathlib import Path

import dagster as dg

from churn_platform.defs.ml.resources import MlflowResource
from churn_platform.defs.resources import WarehouseResource
from churn_platform.defs.retention.resources import RetentionPolicyResource
from churn_platform.lib.retention.pipeline import campaign_history
from ml.models import FeatureSpec
from ml.tracking import configure, quiet_mlflow
from ml.uplift import UPLIFT_ALIAS, fit_multiarm_uplift, log_uplift_model

NOT_FEATURES = ("customer_id", "snapshot_date", "arm", "assignment_probability", "churned")


@dg.asset(
    deps=["campaign_outcomes"],
    group_name="retention",
    kinds={"mlflow", "catboost"},
    description="Multi-treatment T-learner (one CatBoost churn model per arm and control, inverse assignment "
    "probability weights) from every measured randomised decision; held-out Qini per intervention vs shuffled "
    "scores. Registered in MLflow (experiment `uplift`); the alias `champion` moves to a version only when it "
    "beats random allocation, and from then on retention_targets ranks by it (loaded by alias).",
)
def uplift_model(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
    retention_policy: RetentionPolicyResource,
) -> dg.MaterializeResult:
    history = campaign_history(warehouse.path_obj)
    if history.empty:
        return dg.MaterializeResult(metadata={"status": "no measured campaign yet"})
    spec = FeatureSpec.infer(history, exclude=NOT_FEATURES)
    model = fit_multiarm_uplift(history, spec)
    name = retention_policy.load().allocation.uplift_model
    if not model.models:
        context.log.info(f"not enough randomised history per arm yet: {model.skipped}")
        return dg.MaterializeResult(
            metadata={
                "history_rows": dg.MetadataValue.int(len(history)),
                "status": "not enough randomised history per arm yet",
                "skipped": dg.MetadataValue.json(model.skipped),
            }
        )
    configure(mlflow.tracking_uri, Path(mlflow.artifact_root), "uplift")
    with quiet_mlflow():
        run_id, version = log_uplift_model(model, name, history, {"rows": len(history)})
    status = (
        f"version {version} is the {UPLIFT_ALIAS}: ranking uses it"
        if model.beats_random
        else f"version {version} does not beat random allocation yet: ranking keeps the arms' posterior"
    )
    context.log.info(status)
    return dg.MaterializeResult(
        metadata={
            "history_rows": dg.MetadataValue.int(len(history)),
            "arms": ", ".join(model.models),
            "skipped": dg.MetadataValue.json(model.skipped),
            "metrics": dg.MetadataValue.json(model.metrics),
            "beats_random": model.beats_random,
            "status": status,
            "mlflow_run": run_id,
            "registered_version": version,
        }
    )
