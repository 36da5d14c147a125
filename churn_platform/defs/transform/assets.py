"""Every dbt model as an asset and every dbt data test as an asset check, built by one ``dbt build``.

The SQL holds the logic; this asset only points dbt at the warehouse, tells it the company (the active
profile's ``dbt_vars()`` as ``--vars``: event types, attributes, delivered sources) and streams its events to
Dagster. The vars shape columns, never the model graph, so the assets are the same for every company.
"""

# no `from __future__ import annotations`: Dagster reads the context annotation at definition time
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from churn_platform.defs.resources import WarehouseResource
from churn_platform.defs.transform.project import dbt_project
from churn_platform.lib.dbt_translator import ChurnDbtTranslator
from churn_platform.profile import active_profile


@contextmanager
def warehouse_env(path: str) -> Iterator[None]:
    """dbt's profile reads the DuckDB path from CHURN_WAREHOUSE_PATH; set it from the resource for the
    dbt process (which copies the environment when it starts), then restore this process's value."""
    previous = os.environ.get("CHURN_WAREHOUSE_PATH")
    os.environ["CHURN_WAREHOUSE_PATH"] = path
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("CHURN_WAREHOUSE_PATH", None)
        else:
            os.environ["CHURN_WAREHOUSE_PATH"] = previous


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=ChurnDbtTranslator(),
)
def churn_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    with warehouse_env(warehouse.path):
        profile_vars = json.dumps(active_profile().dbt_vars())
        invocation = dbt.cli(["build", "--vars", profile_vars], context=context)
    yield from invocation.stream()
