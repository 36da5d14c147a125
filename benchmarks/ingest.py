"""Ingestion against a plain DuckDB load of the same landing files: what the quality gates cost.

For each size it simulates a company (12 months, Parquet landing files, the default profile) and then times,
each in a fresh process so peak memory is its own:

- **plain**: every landing file read and inserted into its raw table with DuckDB, no checks
  (``insert into raw.<source> select ... from read_parquet(file)``, the same per-file batches);
- **platform**: ``churn_platform.lib.ingest.ingest_landing``: typing, vocabulary normalisation, the Great
  Expectations suites compiled to SQL, customer checks against accounts, quarantine, validation results, ledger.

Both run with the same DuckDB settings (2 threads on this machine, ``CHURN_DUCKDB_MEMORY_LIMIT``, default 2GB).

Usage: python benchmarks/ingest.py [--sizes 100000 1000000] [--months 12] [--keep DIR] [--reuse DIR ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

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
    return {"rows": sum(summary.rows.values())}


def _plain(root: str) -> dict[str, Any]:
    """Read and insert, no checks: the floor any ingestion is measured against."""
    from churn_platform.contract import active_contract
    from churn_platform.lib.ingest import INGEST_ORDER, ensure_schema, prepare_connection
    from churn_platform.lib.landing import discover
    from churn_platform.lib.warehouse import connect

    contract = active_contract()
    con = connect(Path(root) / "plain.duckdb")
    prepare_connection(con)
    ensure_schema(con, contract)
    files = discover(Path(root) / "landing")
    rows = 0
    for name in INGEST_ORDER:
        source = contract.sources[name]
        cols = ", ".join(f'"{c.name}"' for c in source.columns)
        for f in (f for f in files if f.source == name):
            con.execute(
                f"""insert into raw.{name} ({cols}, _batch_date, _source_file, _row_number, _file_hash, _ingested_at)
                    select {cols}, ?::date, ?, row_number() over (), 'plain', now()::timestamp
                    from read_parquet(?)""",
                [f.batch_date, str(f.path), str(f.path)],
            )
        rows += (con.execute(f"select count(*) from raw.{name}").fetchone() or (0,))[0]
    con.close()
    return {"rows": rows}


def _platform(root: str) -> dict[str, Any]:
    from churn_platform.lib.ingest import ingest_landing

    reports = ingest_landing(Path(root) / "landing", Path(root) / "warehouse.duckdb")
    return {
        "rows": sum(r.loaded_rows for r in reports.values()),
        "quarantined": sum(r.quarantined_rows for r in reports.values()),
        "rejected": sum(len(r.rejected) for r in reports.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--keep", type=Path, default=None, help="keep each company under this folder")
    parser.add_argument(
        "--reuse",
        type=Path,
        nargs="*",
        default=[],
        help="already simulated companies (folders with landing/)",
    )
    args = parser.parse_args()
    print(
        f"{'customers':>10} {'rows':>12} {'plain s':>8} {'ingest s':>9} {'ratio':>6} {'plain MiB':>9} "
        f"{'ingest MiB':>10} {'loaded':>12} {'quarantined':>11}",
        flush=True,
    )
    jobs: list[tuple[str, str, bool]] = [(str(p), p.name, False) for p in args.reuse]
    for size in args.sizes if not args.reuse else []:
        root = tempfile.mkdtemp(prefix=f"ingest{size}-", dir=args.keep)
        run_step(_simulate, size, args.months, root)
        jobs.append((root, f"{size:,}", args.keep is None))
    for root, label, cleanup in jobs:
        try:
            for leftover in ("plain.duckdb", "warehouse.duckdb"):
                (Path(root) / leftover).unlink(missing_ok=True)
            plain = run_step(_plain, root)
            platform = run_step(_platform, root)
            print(
                f"{label:>10} {plain['rows']:>12,} {plain['seconds']:>8.1f} {platform['seconds']:>9.1f} "
                f"{platform['seconds'] / plain['seconds']:>6.2f} {plain['peak_mib']:>9,.0f} "
                f"{platform['peak_mib']:>10,.0f} {platform['rows']:>12,} {platform['quarantined']:>11,}",
                flush=True,
            )
        finally:
            if cleanup:
                shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
