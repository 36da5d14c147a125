"""The risk dashboard's snapshot: tables and the champion's health, published for a reader that never blocks."""

from pathlib import Path

import dagster as dg

from churn_platform.defs.ml.resources import MlflowResource
from churn_platform.defs.monitoring.assets import REPORT_KEYS
from churn_platform.defs.monitoring.resources import MonitoringResource
from churn_platform.defs.resources import ExportsResource, WarehouseResource
from churn_platform.lib.dashboard_publish import monitoring_reports, publish_dashboard
from churn_platform.lib.model_health import champion_health


@dg.asset(
    deps=[
        dg.AssetKey("churn_scores"),
        dg.AssetKey("customer_value"),
        dg.AssetKey("risk_tier_changes"),
        dg.AssetKey("champion_model"),
        *REPORT_KEYS,
        dg.AssetKey("campaign_sends"),
        dg.AssetKey("campaign_outcomes"),
    ],
    group_name="publish",
    kinds={"parquet", "streamlit"},
    description="What the risk dashboard shows, as Parquet and JSON in data/published/dashboard/, replaced "
    "atomically: the worklist (scores, reasons, value, decision, contact status), churn and tier trends, campaign "
    "outcomes, monitoring runs and the champion's health from MLflow. Campaign runs refresh it too.",
)
def dashboard_snapshot(
    warehouse: WarehouseResource,
    exports: ExportsResource,
    mlflow: MlflowResource,
    monitoring: MonitoringResource,
) -> dg.MaterializeResult:
    mlflow.setup()
    folder = Path(exports.published_dir) / "dashboard"
    health = champion_health(
        mlflow.model_name, monitoring.mlflow_ui_url, monitoring_reports(warehouse.path_obj)
    )
    published = publish_dashboard(warehouse.path_obj, folder, health)
    return dg.MaterializeResult(
        metadata={
            "folder": dg.MetadataValue.path(str(folder)),
            "champion_version": dg.MetadataValue.text(str(health.get("champion_version") or "none")),
            **{f"rows_{name}": dg.MetadataValue.int(n) for name, n in published.items()},
        }
    )
