"""The uplift model: learned from treated vs control once campaigns have been measured, logged to MLflow."""

import pickle
from pathlib import Path

import dagster as dg

from churn_platform.defs.ml.resources import MlflowResource
from churn_platform.defs.resources import ExportsResource, WarehouseResource
from churn_platform.lib.retention.pipeline import campaign_history
from ml.models import FeatureSpec
from ml.uplift import fit_uplift


@dg.asset(
    deps=["campaign_outcomes"],
    group_name="retention",
    kinds={"mlflow", "scikitlearn"},
    description="T-learner uplift per intervention from treated vs control history (Qini and AUUC in MLflow, "
    "experiment `uplift`); lets retention_targets rank by P(churn) x uplift x value - cost (ranking: uplift_value).",
)
def uplift_model(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
    exports: ExportsResource,
) -> dg.MaterializeResult:
    import mlflow as mlf

    history = campaign_history(warehouse.path_obj)
    if history.empty:
        return dg.MaterializeResult(metadata={"status": "no measured campaign yet"})
    spec = FeatureSpec.infer(
        history, exclude=("customer_id", "snapshot_date", "treated", "intervention", "churned")
    )
    model = fit_uplift(history, spec)
    mlflow.setup()
    mlf.set_experiment("uplift")
    with mlf.start_run(run_name="t-learner") as run:
        mlf.log_params({"rows": len(history), "interventions_modelled": ",".join(model.learners) or "none"})
        for kind, metrics in model.metrics.items():
            mlf.log_metrics({f"{kind}.{k}": v for k, v in metrics.items()})
    path = Path(exports.ledger_export_path).parent / "uplift_model.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        pickle.dump(model, fh)
    context.log.info(
        f"uplift model for {sorted(model.learners)}; skipped: {sorted(set(model.metrics) - set(model.learners))}"
    )
    return dg.MaterializeResult(
        metadata={
            "history_rows": dg.MetadataValue.int(len(history)),
            "modelled": ", ".join(sorted(model.learners)) or "none (not enough randomised history yet)",
            "metrics": dg.MetadataValue.json(model.metrics),
            "mlflow_run": run.info.run_id,
            "path": dg.MetadataValue.path(str(path)),
        }
    )
