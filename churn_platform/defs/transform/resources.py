"""The dbt CLI resource of the transform domain."""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from churn_platform.defs.transform.project import dbt_project


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"dbt": DbtCliResource(project_dir=dbt_project)})
