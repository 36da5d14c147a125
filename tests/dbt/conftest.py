"""Fixtures for the dbt feature marts: a small simulated company loaded into a temporary raw schema.

The marts are built on the ``raw`` schema that ingestion writes; ``load_raw`` runs the real ingestion.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from churn_platform.lib.ingest import ingest_landing
from churn_platform.profile import CompanyProfile, load_profile
from churn_platform.settings import PROJECT_ROOT
from churn_platform.simulate.engine import SimulationSummary
from tests.conftest import make_company, venv_bin

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

DBT_CUSTOMERS = 800
DBT_MONTHS = 6


def load_raw(landing: Path, warehouse: Path) -> dict[str, int]:
    """Load the landing files into ``raw.<source>`` with the platform's real ingestion (quality gates and all)."""
    reports = ingest_landing(landing, warehouse)
    for name, report in reports.items():
        assert not report.rejected, f"{name}: {[f.reason for f in report.rejected]}"
    return {name: report.loaded_rows for name, report in reports.items()}


@dataclass(frozen=True)
class BuiltWarehouse:
    """A warehouse with raw loaded and ``dbt build`` run over it, plus dbt's run results."""

    root: Path
    warehouse: Path
    run_results: dict[str, Any]

    def query(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql, params or []).df()


def dbt_build(
    warehouse: Path,
    target: Path,
    profile: CompanyProfile | None = None,
    extra_vars: dict[str, Any] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``dbt build`` (models, unit tests, data tests) in its own process against ``warehouse``, with the
    company ``profile``'s vars (default: the saas profile) as the Dagster asset passes them, plus ``extra_vars``."""
    profile = profile or load_profile("saas")
    env = {**os.environ, "CHURN_WAREHOUSE_PATH": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    cmd = [
        venv_bin("dbt"),
        "build",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--vars",
        json.dumps({**profile.dbt_vars(), **(extra_vars or {})}),
    ]
    cmd += ["--target-path", str(target), "--log-path", str(target / "logs")]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)


def assert_built(result: subprocess.CompletedProcess[str]) -> None:
    """Fail with the tail of dbt's output when ``dbt build`` did not pass."""
    assert result.returncode == 0, f"dbt build failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"


@pytest.fixture(scope="session")
def dbt_company(tmp_path_factory: pytest.TempPathFactory) -> SimulationSummary:
    """A small company for the marts: 800 accounts, 6 months (snapshots April to July 2025)."""
    return make_company(
        tmp_path_factory.mktemp("dbt_company"), customers=DBT_CUSTOMERS, months=DBT_MONTHS, seed=11
    )


@pytest.fixture(scope="session")
def built(dbt_company: SimulationSummary, tmp_path_factory: pytest.TempPathFactory) -> BuiltWarehouse:
    root = tmp_path_factory.mktemp("dbt_build")
    warehouse = root / "warehouse.duckdb"
    load_raw(dbt_company.landing, warehouse)
    result = dbt_build(warehouse, root / "target")
    assert_built(result)
    run_results = json.loads((root / "target" / "run_results.json").read_text())
    return BuiltWarehouse(root=dbt_company.landing.parent, warehouse=warehouse, run_results=run_results)
