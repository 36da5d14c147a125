"""How much the dbt layering costs: `dbt build` of the feature marts against one hand-written query.

For each size it simulates a company (the saas profile, the one `benchmarks/features_floor.sql` is written
for), loads the raw tables with the platform's ingestion and then times, each in a fresh process so peak
memory is its own: the ingestion, `dbt build` (models, unit tests and data tests, with the profile's
``--vars``; `dbt parse` runs first, untimed, as the Dagster code location prepares the manifest ahead of
runs) and `benchmarks/features_floor.sql`, which computes the same feature table from raw in a single
statement. The floor's table is compared row for row (EXCEPT ALL both ways, columns matched by name) with
`fct_customer_features` joined with `fct_behaviour_features` on (customer_id, snapshot_date), so the two
measure the same work; on a mismatch it prints the columns that differ, with how many rows, and the keys
found on one side only.

Usage: python benchmarks/features.py [--sizes 100000 1000000] [--months 12] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DBT_PROJECT = REPO / "dbt_project"
FLOOR_SQL = Path(__file__).resolve().parent / "features_floor.sql"
# The floor is hand-written for this profile's event types and attributes.
PROFILE = "saas"
KEYS = ("customer_id", "snapshot_date")
# The marts the floor reproduces, joined on KEYS (the feature table the ML sets read).
MARTS = ("main.fct_customer_features", "main.fct_behaviour_features")
sys.path.insert(0, str(REPO))  # this checkout's code, also in the spawned step processes

from steps import run_step  # noqa: E402  (this folder, beside the script)


def _simulate(customers: int, months: int, root: str) -> dict[str, Any]:
    from churn_platform.simulate.config import SimulationConfig
    from churn_platform.simulate.engine import simulate

    summary = simulate(
        SimulationConfig(
            profile=PROFILE,
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
    from churn_platform.lib.ingest import ingest_landing

    reports = ingest_landing(Path(root) / "landing", Path(root) / "warehouse.duckdb")
    rejected = [f"{name}: {f.reason}" for name, report in reports.items() for f in report.rejected]
    if rejected:
        raise RuntimeError(f"ingestion rejected {len(rejected)} landing file(s), first {rejected[0]}")
    return {}


def _dbt(root: str, command: str) -> dict[str, Any]:
    from dbt.cli.main import dbtRunner

    from churn_platform.profile import load_profile

    os.environ["CHURN_WAREHOUSE_PATH"] = str(Path(root) / "warehouse.duckdb")
    target = Path(root) / "dbt_target"
    args = [command, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)]
    args += ["--target-path", str(target), "--log-path", str(target / "logs"), "--quiet"]
    args += ["--vars", json.dumps(load_profile(PROFILE).dbt_vars())]
    result = dbtRunner().invoke(args)
    if not result.success:
        raise RuntimeError(f"dbt {command} failed: {result.exception or result.result}")
    return {}


def _floor(root: str) -> dict[str, Any]:
    import duckdb

    with duckdb.connect(str(Path(root) / "warehouse.duckdb")) as con:
        # the settings dbt's connection has (dbt_project/profiles.yml)
        con.execute("set enable_progress_bar = false")
        con.execute("set preserve_insertion_order = false")
        con.execute("create schema if not exists bench")
        con.execute(f"create or replace table bench.features_floor as {FLOOR_SQL.read_text()}")
    return {}


def _compare(root: str) -> dict[str, Any]:
    """The floor's table against the marts joined on KEYS: rows, and what differs (empty when they match).

    ``problems`` names columns present on one side only or typed differently, keys found on one side only,
    and each column whose value differs (``is distinct from``) between rows of the same key, with counts.
    """
    import duckdb

    def columns(con: duckdb.DuckDBPyConnection, query: str) -> dict[str, str]:
        rows = con.execute(f"select column_name, column_type from (describe {query})").fetchall()
        return dict(rows)

    customer, behaviour = MARTS
    on = " and ".join(f"c.{k} = b.{k}" for k in KEYS)
    with duckdb.connect(str(Path(root) / "warehouse.duckdb"), read_only=True) as con:
        con.execute("set enable_progress_bar = false")
        con.execute(
            f"create temp view marts as select c.*, b.* exclude ({', '.join(KEYS)}) "
            f"from {customer} c join {behaviour} b on {on}"
        )
        floor, marts = columns(con, "bench.features_floor"), columns(con, "marts")
        problems = [f"column {c} only in the floor" for c in floor if c not in marts]
        problems += [f"column {c} only in the marts" for c in marts if c not in floor]
        problems += [
            f"column {c} is {floor[c]} in the floor, {marts[c]} in the marts"
            for c in floor
            if c in marts and floor[c] != marts[c]
        ]
        shared = [c for c in marts if c in floor]
        listed = ", ".join(shared)
        counts = con.execute(
            f"select (select count(*) from {customer}), (select count(*) from {behaviour}), "
            "(select count(*) from marts), (select count(*) from bench.features_floor), "
            f"(select count(*) from ((select {listed} from bench.features_floor except all "
            f"select {listed} from marts) union all (select {listed} from marts except all "
            f"select {listed} from bench.features_floor)))"
        ).fetchone()
        assert counts is not None
        customer_rows, behaviour_rows, joined_rows, floor_rows, differing = counts
        if customer_rows != joined_rows or behaviour_rows != joined_rows:
            problems.append(
                f"the marts do not pair up: {customer_rows:,} customer rows, {behaviour_rows:,} behaviour "
                f"rows, {joined_rows:,} joined"
            )
        if differing:
            problems.append(f"{differing:,} rows differ (EXCEPT ALL both ways, {floor_rows:,} floor rows)")
            values = [c for c in shared if c not in KEYS]
            using = ", ".join(KEYS)
            found = con.execute(
                "select count(*) filter (where m.in_marts is null), count(*) filter (where f.in_floor is null)"
                + "".join(
                    f", count(*) filter (where f.in_floor and m.in_marts and f.{c} is distinct from m.{c})"
                    for c in values
                )
                + f" from (select *, true as in_floor from bench.features_floor) f"
                f" full join (select *, true as in_marts from marts) m using ({using})"
            ).fetchone()
            assert found is not None
            only_floor, only_marts, *by_column = found
            if only_floor:
                problems.append(f"{only_floor:,} keys only in the floor")
            if only_marts:
                problems.append(f"{only_marts:,} keys only in the marts")
            problems += [f"{c} differs in {n:,} rows" for c, n in zip(values, by_column, strict=True) if n]
    return {"rows": joined_rows, "problems": problems}


def main() -> None:
    from churn_platform.profile import PROFILE_ENV, load_profile

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--keep", type=Path, default=None, help="keep each company under this folder")
    args = parser.parse_args()
    chosen = os.environ.get(PROFILE_ENV)
    if chosen and load_profile(chosen).name != PROFILE:
        parser.error(
            f"{PROFILE_ENV}={chosen}: benchmarks/features_floor.sql is written for the {PROFILE} profile"
        )
    os.environ[PROFILE_ENV] = PROFILE  # the spawned steps inherit it
    header = (
        f"{'customers':>10} {'events':>12} {'ingest s':>9} {'dbt build s':>11} {'floor s':>8} {'ratio':>6} "
        f"{'ingest MiB':>10} {'dbt MiB':>8} {'floor MiB':>9} {'rows':>10} {'match':>5}"
    )
    print(header, flush=True)
    mismatched = False
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
                f"{check['rows']:>10,} {'NO' if check['problems'] else 'yes':>5}",
                flush=True,
            )
            for problem in check["problems"]:
                print(f"{'':>10} mismatch: {problem}", flush=True)
            mismatched = mismatched or bool(check["problems"])
            if args.keep is not None:
                print(f"{'':>10} kept in {root}", flush=True)
        finally:
            if args.keep is None:
                shutil.rmtree(root, ignore_errors=True)
    if mismatched:
        sys.exit("the floor does not compute the marts' feature table (mismatches above)")


if __name__ == "__main__":
    main()
