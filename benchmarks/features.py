"""How much the dbt layering costs: `dbt build` of the feature marts against one hand-written query.

For each size it simulates a company (12 months), loads the raw tables (the platform's ingestion when it
is installed, else the simple test loader) and then times, each in a fresh process so peak memory is its
own: the ingestion, `dbt build` (models, unit tests and data tests; `dbt parse` runs first, untimed, as
the Dagster code location prepares the manifest ahead of runs) and `benchmarks/features_floor.sql`, which
computes the same feature table from raw in a single statement. The floor's table is compared with
`fct_customer_features` row for row, so the two measure the same work.

Usage: python benchmarks/features.py [--sizes 100000 1000000] [--months 12] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DBT_PROJECT = REPO / "dbt_project"
FLOOR_SQL = Path(__file__).resolve().parent / "features_floor.sql"
sys.path.insert(0, str(REPO))  # this checkout's code, also in the spawned step processes

from steps import run_step  # noqa: E402  (this folder, beside the script)


def _simulate(customers: int, months: int, root: str) -> dict[str, Any]:
    from churn_platform.simulate.config import SimulationConfig
    from churn_platform.simulate.engine import simulate

    summary = simulate(
        SimulationConfig(
            customers=customers,
            start=dt.date(2025, 1, 1),
            months=months,
            seed=42,
            landing=Path(root) / "landing",
            ground_truth=Path(root) / "ground_truth",
        )
    )
    return {"events": summary.rows.get("usage_events", 0)}


def _ingest(root: str) -> dict[str, Any]:
    landing, warehouse = Path(root) / "landing", Path(root) / "warehouse.duckdb"
    try:
        from churn_platform.lib.ingest import ingest_landing  # type: ignore[import-not-found,unused-ignore]

        ingest_landing(landing, warehouse)
        loader = "ingest_landing"
    except ImportError:
        from tests.dbt.conftest import load_raw

        load_raw(landing, warehouse)
        loader = "load_raw (test loader)"
    return {"loader": loader}


def _dbt(root: str, command: str) -> dict[str, Any]:
    from dbt.cli.main import dbtRunner

    os.environ["CHURN_WAREHOUSE_PATH"] = str(Path(root) / "warehouse.duckdb")
    target = Path(root) / "dbt_target"
    args = [command, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)]
    args += ["--target-path", str(target), "--log-path", str(target / "logs"), "--quiet"]
    result = dbtRunner().invoke(args)
    if not result.success:
        raise RuntimeError(f"dbt {command} failed: {result.exception or result.result}")
    return {}


def _floor(root: str) -> dict[str, Any]:
    import duckdb

    with duckdb.connect(str(Path(root) / "warehouse.duckdb")) as con:
        con.execute("set enable_progress_bar = false")
        con.execute("set preserve_insertion_order = false")
        con.execute("create schema if not exists bench")
        con.execute(f"create or replace table bench.features_floor as {FLOOR_SQL.read_text()}")
    return {}


def _compare(root: str) -> dict[str, Any]:
    import duckdb

    with duckdb.connect(str(Path(root) / "warehouse.duckdb"), read_only=True) as con:
        counted = con.execute("select count(*) from main.fct_customer_features").fetchone()
        differing = con.execute(
            "select count(*) from ((select * from bench.features_floor except all "
            "select * from main.fct_customer_features) union all (select * from main.fct_customer_features "
            "except all select * from bench.features_floor))"
        ).fetchone()
    assert counted is not None
    assert differing is not None
    return {"rows": counted[0], "diff": differing[0]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--keep", type=Path, default=None, help="keep each company under this folder")
    args = parser.parse_args()
    header = (
        f"{'customers':>10} {'events':>12} {'ingest s':>9} {'dbt build s':>11} {'floor s':>8} {'ratio':>6} "
        f"{'ingest MiB':>10} {'dbt MiB':>8} {'floor MiB':>9} {'rows':>10} {'match':>5}"
    )
    print(header, flush=True)
    for size in args.sizes:
        root = tempfile.mkdtemp(prefix=f"features{size}-", dir=args.keep)
        try:
            sim = run_step(_simulate, size, args.months, root)
            ingest = run_step(_ingest, root)
            run_step(_dbt, root, "parse")
            build = run_step(_dbt, root, "build")
            floor = run_step(_floor, root)
            check = run_step(_compare, root)
            print(
                f"{size:>10,} {sim['events']:>12,} {ingest['seconds']:>9.1f} {build['seconds']:>11.1f} "
                f"{floor['seconds']:>8.1f} {build['seconds'] / floor['seconds']:>6.2f} "
                f"{ingest['peak_mib']:>10,.0f} {build['peak_mib']:>8,.0f} {floor['peak_mib']:>9,.0f} "
                f"{check['rows']:>10,} {'yes' if check['diff'] == 0 else 'NO':>5}",
                flush=True,
            )
            print(f"{'':>10} raw loaded by {ingest['loader']}; {root}", flush=True)
        finally:
            if args.keep is None:
                shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
