"""Fixtures for the dbt feature marts: a small simulated company loaded into a temporary raw schema.

The marts are built on the ``raw`` schema that ingestion writes. Until ingestion is merged, ``load_raw``
does the simplest faithful load of the landing files (contract columns with contract types, plus the same
metadata columns), so the dbt models can be tested against the exact table shapes they will meet.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from churn_platform.contract import SOURCES
from churn_platform.settings import PROJECT_ROOT
from churn_platform.simulate.engine import SimulationSummary
from tests.conftest import make_company, venv_bin

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

DBT_CUSTOMERS = 800
DBT_MONTHS = 6


# replaced by churn_platform.lib.ingest.ingest_landing once ingestion lands
def load_raw(landing: Path, warehouse: Path) -> dict[str, int]:
    """Load every landing Parquet file into ``raw.<source>`` (append-only, all versions kept).

    Returns the row count per source. Metadata columns mirror ingestion: ``_batch_date`` from the batch
    folder, ``_source_file``, the 1-based ``_row_number``, the file's SHA-256 ``_file_hash`` and
    ``_ingested_at``.
    """
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with duckdb.connect(str(warehouse)) as con:
        con.execute("set enable_progress_bar = false")
        con.execute("create schema if not exists raw")
        for source in SOURCES.values():
            files = sorted((landing / source.name).glob("*/*.parquet"))
            con.execute(f"drop table if exists raw.{source.name}")
            columns = ", ".join(f"{c.name} {c.duckdb_type}" for c in source.columns)
            con.execute(
                f"create table raw.{source.name} ({columns}, _batch_date DATE, _source_file VARCHAR, "
                "_row_number BIGINT, _file_hash VARCHAR, _ingested_at TIMESTAMP)"
            )
            if not files:
                counts[source.name] = 0
                continue
            hashes = [(str(f), hashlib.sha256(f.read_bytes()).hexdigest()) for f in files]
            con.execute("create or replace temp table _hashes (filename VARCHAR, file_hash VARCHAR)")
            con.executemany("insert into _hashes values (?, ?)", hashes)
            present = {
                row[0]
                for row in con.execute(
                    "describe select * from read_parquet(?, union_by_name = true)", [[str(f) for f in files]]
                ).fetchall()
            }
            select = ", ".join(
                f"cast({c.name if c.name in present else 'null'} as {c.duckdb_type})" for c in source.columns
            )
            con.execute(
                f"""
                insert into raw.{source.name}
                select {select},
                       cast(regexp_extract(p.filename, '(\\d{{4}}-\\d{{2}}-\\d{{2}})[/\\\\][^/\\\\]*$', 1) as date),
                       p.filename,
                       p.file_row_number + 1,
                       h.file_hash,
                       current_timestamp::timestamp
                from read_parquet(?, filename = true, file_row_number = true, union_by_name = true) p
                join _hashes h using (filename)
                """,
                [[str(f) for f in files]],
            )
            counts[source.name] = con.execute(f"select count(*) from raw.{source.name}").fetchone()[0]  # type: ignore[index]
    return counts


@dataclass(frozen=True)
class BuiltWarehouse:
    """A warehouse with raw loaded and ``dbt build`` run over it, plus dbt's run results."""

    root: Path
    warehouse: Path
    run_results: dict[str, Any]

    def query(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql, params or []).df()


def dbt_build(warehouse: Path, target: Path) -> subprocess.CompletedProcess[str]:
    """Run ``dbt build`` (models, unit tests, data tests) in its own process against ``warehouse``."""
    env = {**os.environ, "CHURN_WAREHOUSE_PATH": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    cmd = [
        venv_bin("dbt"),
        "build",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
    ]
    cmd += ["--target-path", str(target), "--log-path", str(target / "logs")]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)


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
    assert result.returncode == 0, f"dbt build failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    run_results = json.loads((root / "target" / "run_results.json").read_text())
    return BuiltWarehouse(root=dbt_company.landing.parent, warehouse=warehouse, run_results=run_results)
