"""The dbt models materialize through Dagster, with every dbt data test reported as an asset check."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource

from churn_platform.defs.resources import WarehouseResource
from churn_platform.defs.transform.assets import churn_dbt_models
from churn_platform.defs.transform.project import dbt_project
from churn_platform.simulate.engine import SimulationSummary
from tests.dbt.conftest import load_raw

RAW_KEYS = [
    ["raw", name]
    for name in ("accounts", "subscriptions", "invoices", "usage_events", "support_tickets", "nps_responses")
]


def test_translator_groups_and_source_keys() -> None:
    specs = {spec.key.to_user_string(): spec for spec in churn_dbt_models.specs}
    assert specs["stg_accounts"].group_name == "staging"
    assert specs["int_usage_daily"].group_name == "intermediate"
    assert specs["fct_customer_features"].group_name == "marts"
    assert specs["ml_training_set"].group_name == "marts"
    deps = {dep.asset_key for spec in specs.values() for dep in spec.deps}
    assert {dg.AssetKey(k) for k in RAW_KEYS} <= deps
    assert churn_dbt_models.check_specs_by_output_name, "dbt data tests must become asset checks"


def test_materialize_dbt_assets(dbt_company: SimulationSummary, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    load_raw(dbt_company.landing, warehouse)
    raw_specs = [dg.AssetSpec(key) for key in RAW_KEYS]  # published by ingestion in the full code location
    result = dg.materialize(
        [churn_dbt_models, *raw_specs],
        selection=dg.AssetSelection.assets(churn_dbt_models),
        resources={
            "dbt": DbtCliResource(project_dir=dbt_project),
            "warehouse": WarehouseResource(path=str(warehouse)),
        },
        raise_on_error=True,
    )
    assert result.success
    materialized = {
        e.asset_key.to_user_string() for e in result.get_asset_materialization_events() if e.asset_key
    }
    assert {"fct_customer_features", "fct_churn_labels", "ml_training_set", "ml_scoring_set"} <= materialized
    checks = result.get_asset_check_evaluations()
    assert checks
    assert all(c.passed for c in checks)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from main.ml_scoring_set").fetchone()[0] > 0  # type: ignore[index]
