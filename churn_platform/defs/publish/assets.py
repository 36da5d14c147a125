"""Snapshots for readers outside the pipeline (notebooks, the dashboard) that never wait on its lock."""

from pathlib import Path

import dagster as dg

from churn_platform.defs.resources import ExportsResource, WarehouseResource
from churn_platform.lib.publish import publish_tables

MARTS = {
    "dim_customers": "select * from dim_customers",
    "fct_customer_features": "select * from fct_customer_features",
    "fct_behaviour_features": "select * from fct_behaviour_features",
    "fct_attribute_features": "select * from fct_attribute_features",
    "fct_churn_labels": "select * from fct_churn_labels",
}


@dg.asset(
    deps=[dg.AssetKey(name) for name in MARTS],
    group_name="publish",
    kinds={"parquet"},
    description="The marts as Parquet files in data/published/, replaced atomically, for notebooks and the "
    "dashboard (DuckDB lets no other process open the warehouse while the pipeline writes).",
)
def published_marts(warehouse: WarehouseResource, exports: ExportsResource) -> dg.MaterializeResult:
    folder = Path(exports.published_dir)
    rows = publish_tables(warehouse.path_obj, folder, MARTS)
    return dg.MaterializeResult(
        metadata={
            "folder": dg.MetadataValue.path(str(folder)),
            **{f"rows_{name}": dg.MetadataValue.int(n) for name, n in rows.items()},
        }
    )
