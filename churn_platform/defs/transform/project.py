"""The dbt project of the feature marts, with its manifest prepared on load (no manual ``dbt parse``)."""

from __future__ import annotations

from dagster_dbt import DbtProject

from churn_platform.lib.dbt_manifest import ensure_dbt_on_path, prepare_manifest_if_stale
from churn_platform.settings import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

ensure_dbt_on_path()
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()
prepare_manifest_if_stale(dbt_project)
