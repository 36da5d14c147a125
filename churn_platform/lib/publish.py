"""Published snapshots: Parquet copies of warehouse tables for readers in other processes.

DuckDB lets one process hold the warehouse file; while the pipeline writes, nobody else can open it, not
even to read. Dashboards and notebooks therefore read these snapshots, which are replaced atomically
(written under a temporary name, then renamed), so a reader sees the old or the new file, never half of one.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb


def publish_tables(warehouse: Path, folder: Path, tables: dict[str, str]) -> dict[str, int]:
    """Export each ``name -> SQL`` to ``folder/name.parquet``; returns rows per table."""
    folder.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int] = {}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for name, sql in tables.items():
            final = folder / f"{name}.parquet"
            tmp = folder / f".{name}.parquet.tmp"
            con.execute(f"copy ({sql}) to '{tmp}' (format parquet, compression zstd)")
            rows[name] = int(con.execute(f"select count(*) from read_parquet('{tmp}')").fetchall()[0][0])
            os.replace(tmp, final)
    finally:
        con.close()
    return rows
