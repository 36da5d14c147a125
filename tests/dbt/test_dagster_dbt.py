"""The dbt models materialize through Dagster, with every dbt data test reported as an asset check."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from dagster_dbt import DbtCliResource

from churn_platform.defs.resources import WarehouseResource
from churn_platform.defs.transform.assets import churn_dbt_models
from churn_platform.defs.transform.project import dbt_project
from churn_platform.profile import PROFILE_ENV, load_profile
from churn_platform.simulate.engine import SimulationSummary
from tests.conftest import venv_bin
from tests.dbt.conftest import DBT_PROJECT_DIR, load_raw
from tests.dbt.test_social_company import write_social_raw

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


def _graph(manifest: dict[str, Any]) -> dict[str, list[str]]:
    """Each model's and data test's refs (other dbt nodes it depends on)."""
    return {
        uid: sorted(d for d in node["depends_on"]["nodes"] if not d.startswith("source."))
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] in ("model", "test")
    }


def test_the_model_graph_is_the_same_for_every_profile(tmp_path: Path) -> None:
    """The profile's vars shape columns only: every company has the same models, tests and refs (so the same
    Dagster assets and checks)."""
    graphs = {}
    for name in ("saas", "social"):
        target = tmp_path / name
        cmd = [
            venv_bin("dbt"),
            "parse",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
        ]
        cmd += ["--vars", json.dumps(load_profile(name).dbt_vars()), "--target-path", str(target)]
        env = {**os.environ, "CHURN_WAREHOUSE_PATH": str(tmp_path / "unused.duckdb")}
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0, result.stdout[-3000:]
        graphs[name] = _graph(json.loads((target / "manifest.json").read_text()))
    assert graphs["saas"] == graphs["social"]
    assert "model.churn_platform.fct_behaviour_features" in graphs["saas"]


def _materialize(warehouse: Path) -> dg.ExecuteInProcessResult:
    raw_specs = [dg.AssetSpec(key) for key in RAW_KEYS]  # published by ingestion in the full code location
    return dg.materialize(
        [churn_dbt_models, *raw_specs],
        selection=dg.AssetSelection.assets(churn_dbt_models),
        resources={
            "dbt": DbtCliResource(project_dir=dbt_project),
            "warehouse": WarehouseResource(path=str(warehouse)),
        },
        raise_on_error=True,
    )


def test_materialize_for_a_company_of_another_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under CHURN_COMPANY_PROFILE=social the asset passes the social vars: every check is one Dagster knows,
    and the marts have the social company's columns."""
    warehouse = tmp_path / "warehouse.duckdb"
    write_social_raw(warehouse)
    monkeypatch.setenv(PROFILE_ENV, "social")
    result = _materialize(warehouse)
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert checks
    assert all(c.passed for c in checks)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns = [r[0] for r in con.execute("describe main.ml_scoring_set").fetchall()]
    assert {"video_view_seconds_30d", "tip_value_change_pct", "age", "platform"} <= set(columns)
    assert "login_30d" not in columns


def test_materialize_dbt_assets(dbt_company: SimulationSummary, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    load_raw(dbt_company.landing, warehouse)
    result = _materialize(warehouse)
    assert result.success
    materialized = {
        e.asset_key.to_user_string() for e in result.get_asset_materialization_events() if e.asset_key
    }
    assert {
        "fct_customer_features",
        "fct_behaviour_features",
        "fct_attribute_features",
        "fct_churn_labels",
        "ml_training_set",
        "ml_scoring_set",
    } <= materialized
    checks = result.get_asset_check_evaluations()
    assert checks
    assert all(c.passed for c in checks)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from main.ml_scoring_set").fetchone()[0] > 0  # type: ignore[index]
