"""The company's application database as a source: read incrementally with dlt, landed as contract files.

The connector never writes the warehouse. It reads the tables the profile names (``connectors.database``)
with dlt's ``sql_database`` source (SQLAlchemy; PostgreSQL through psycopg 3), only the rows whose cursor
column (``updated_at`` by default) grew since the last run, and writes them as Parquet (dlt's filesystem
destination, under the data directory). :func:`hand_over` then places each extracted file into the landing
folder as a batch of the contract (``<source>/<today>/<source>_<today>_partNNNN.parquet``) with the table's
mapping applied, so ingestion, its gates, quarantine and ledger take it from there, exactly as for a
delivered file.

Guarantees: a changed or new row is extracted once per change (dlt's incremental cursor, kept in the
pipeline state under ``<data>/connectors``, survives restarts and new processes; rows at the cursor's last
value are de-duplicated by primary key); an extracted file is landed exactly once (a hand-over manifest makes
a crash between writing and removing harmless; the ingestion ledger skips identical bytes anyway); the
connection URL is a secret that reaches neither the logs nor the metadata (SQLAlchemy masks its password).
Not guaranteed: deletions (a deleted row is not seen: keep soft deletes, e.g. a cancel date), and a row
committed with a cursor value older than one already extracted (a long transaction): set the profile's
``lag_seconds`` to re-read that window; rows re-read by a lag that did not change land again and staging
keeps one (latest by updated_at).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa

from churn_platform.contract import Contract, Source
from churn_platform.lib.environment import quiet_telemetry
from churn_platform.lib.mappings import MappingError, export_columns_named, mapped_select
from churn_platform.profile import ConnectorTable, DatabaseConnector

PIPELINE_NAME = "application_database"
DATASET = "extracted"
# The SQLAlchemy dialect of each kind of database (an unknown kind is refused when the profile loads).
DIALECTS: dict[str, tuple[str, ...]] = {"postgresql": ("postgresql", "postgresql+psycopg", "postgres")}
_PART = re.compile(r"_part(\d+)\.(?:parquet|csv)$", re.IGNORECASE)  # parts delivered by hand count too
MANIFEST = "handover.json"


class ConnectorError(RuntimeError):
    """A connector that cannot run; the message says what to fix (never the connection URL)."""


@dataclass(frozen=True)
class Places:
    """Where a connector keeps its state: dlt's pipeline state (the cursor) and the extracted files."""

    root: Path

    @property
    def pipelines(self) -> Path:
        return self.root / "dlt"

    @property
    def extracted(self) -> Path:
        return self.root / "extracted"

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST


@dataclass
class LandedTable:
    table: str
    source: str
    rows: int = 0
    files: list[str] = field(default_factory=list)


@dataclass
class HandOver:
    batch_date: dt.date
    tables: dict[str, LandedTable] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables.values())

    def merge(self, later: HandOver) -> HandOver:
        """This hand-over followed by a later one, as one report."""
        for name, landed in later.tables.items():
            mine = self.tables.setdefault(name, LandedTable(landed.table, landed.source))
            mine.rows += landed.rows
            mine.files += landed.files
        return self


def safe_url(url: str) -> str:
    """The URL with its password masked, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(an unreadable database URL)"


def make_engine(url: str, connector: DatabaseConnector) -> sa.Engine:
    """A SQLAlchemy engine for the company's database; refuses a URL of another kind of database."""
    try:
        parsed = sa.engine.make_url(url)
    except Exception as exc:
        raise ConnectorError(
            "CHURN_SOURCE_DATABASE_URL is not a database URL (postgresql://user:password@host:5432/db)"
        ) from exc
    if parsed.drivername not in DIALECTS[connector.kind]:
        raise ConnectorError(
            f"CHURN_SOURCE_DATABASE_URL is a {parsed.drivername} URL, the profile's connector is "
            f"{connector.kind} (postgresql://user:password@host:5432/db)"
        )
    if parsed.drivername == "postgres":
        parsed = parsed.set(drivername="postgresql")
    return sa.create_engine(parsed, pool_pre_ping=True)


def _mapped(table: ConnectorTable, contract_column: str) -> str:
    given = table.mapping.columns.get(contract_column, contract_column)
    return given if isinstance(given, str) else given[0]


def cursor_column(table: ConnectorTable, source: Source) -> str:
    """The table column whose growth marks a new or changed row."""
    if table.cursor:
        return table.cursor
    assert source.updated_at is not None  # the profile refuses a table without one
    return _mapped(table, source.updated_at)


def key_column(table: ConnectorTable, source: Source) -> str:
    return table.primary_key or _mapped(table, source.primary_key)


def selected_columns(
    engine: sa.Engine, connector: DatabaseConnector, table: ConnectorTable, source: Source
) -> list[str]:
    """The table's columns the contract needs (others, e.g. password hashes, are never read). Raises
    ConnectorError when the table, its cursor or its key is missing."""
    inspector = sa.inspect(engine)
    try:
        present = [c["name"] for c in inspector.get_columns(table.table, schema=connector.schema_name)]
    except sa.exc.NoSuchTableError as exc:
        raise ConnectorError(
            f"the database has no table {connector.schema_name}.{table.table} (connectors.database.tables)"
        ) from exc
    if not present:
        raise ConnectorError(f"the database has no table {connector.schema_name}.{table.table}")
    needed = [
        *export_columns_named(table.mapping, source),
        cursor_column(table, source),
        key_column(table, source),
    ]
    for role, name in (("cursor", cursor_column(table, source)), ("key", key_column(table, source))):
        if name not in present:
            raise ConnectorError(
                f"{connector.schema_name}.{table.table} has no column {name!r} ({role} of {table.source}); "
                f"its columns are {', '.join(present)}"
            )
    try:  # every required contract column must come from the table (or a default) before the cursor moves
        _, provided = mapped_select(table.mapping, source, present, "t")
    except MappingError as exc:
        raise ConnectorError(f"{connector.schema_name}.{table.table}: {exc}") from None
    missing = [c for c in source.required_columns if c not in provided]
    if missing:
        raise ConnectorError(
            f"{connector.schema_name}.{table.table} has no column for {table.source}.{', '.join(missing)} "
            f"(map it in connectors.database.tables[].mapping, or give a default); its columns are "
            f"{', '.join(present)}"
        )
    return [c for c in present if c in needed]


def build_source(engine: sa.Engine, connector: DatabaseConnector, contract: Contract) -> Any:
    """The dlt source: one incremental resource per table, named after the contract source it lands as."""
    import dlt
    from dlt.common.schema import Schema
    from dlt.sources.sql_database import sql_table

    resources = []
    for table in connector.tables:
        source = contract.sources[table.source]
        resource = sql_table(
            credentials=engine,
            table=table.table,
            schema=connector.schema_name,
            included_columns=selected_columns(engine, connector, table, source),
            incremental=dlt.sources.incremental(
                cursor_column(table, source), primary_key=key_column(table, source), lag=connector.lag_seconds
            ),
            chunk_size=connector.chunk_size,
            backend="pyarrow",
            reflection_level="full_with_precision",
            primary_key=key_column(table, source),
            write_disposition="append",
        ).with_name(table.source)
        resources.append(resource)

    # column names kept exactly as the database spells them (the mapping names them so)
    @dlt.source(schema=Schema(PIPELINE_NAME, normalizers={"names": "direct"}))
    def application_database() -> Any:
        return resources

    return application_database()


def build_pipeline(places: Places) -> Any:
    """The dlt pipeline: state (the cursor) under ``places.pipelines``, Parquet files under ``places.extracted``."""
    import dlt

    quiet_telemetry()  # before dlt reads its configuration
    places.extracted.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        pipelines_dir=str(places.pipelines),
        destination=dlt.destinations.filesystem(bucket_url=places.extracted.resolve().as_uri()),
        dataset_name=DATASET,
    )


def run_extract(pipeline: Any, source: Any) -> Any:
    """Extract new and changed rows into Parquet files (what the Dagster asset does through dagster-dlt)."""
    info = pipeline.run(source, loader_file_format="parquet")
    info.raise_on_failed_jobs()
    return info


# ---------------------------------------------------------------------- hand-over to the landing folder


def _read_manifest(places: Places) -> dict[str, str]:
    if not places.manifest.exists():
        return {}
    return dict(json.loads(places.manifest.read_text()))


def _write_manifest(places: Places, manifest: dict[str, str]) -> None:
    tmp = places.manifest.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, places.manifest)


def _next_part(folder: Path, reserved: set[str]) -> int:
    parts = [int(m.group(1)) for p in folder.glob("*") if (m := _PART.search(p.name))]
    parts += [int(m.group(1)) for name in reserved if (m := _PART.search(name))]
    return max(parts, default=-1) + 1


def _convert(
    con: duckdb.DuckDBPyConnection, extracted: Path, target: Path, table: ConnectorTable, source: Source
) -> int:
    """Write ``target`` from an extracted file with the table's mapping applied; returns its rows."""
    relation = (
        f"(select *, 0 as _row_number from read_parquet('{str(extracted).replace(chr(39), chr(39) * 2)}'))"
    )
    columns = [r[0] for r in con.execute(f"describe select * from {relation}").fetchall()]
    select, _ = mapped_select(table.mapping, source, columns, relation, keep_types=True)
    tmp = target.with_name(f".{target.name}.tmp")
    quoted = str(tmp).replace("'", "''")
    con.execute(f"copy (select * exclude (_row_number) from ({select})) to '{quoted}' (format parquet)")
    rows = int((con.execute(f"select count(*) from read_parquet('{quoted}')").fetchone() or (0,))[0])
    os.replace(tmp, target)
    return rows


def hand_over(
    places: Places,
    landing: Path,
    connector: DatabaseConnector,
    contract: Contract,
    today: dt.date | None = None,
    log: Callable[[str], None] | None = None,
) -> HandOver:
    """Move every extracted file into the landing folder as today's batch of its source, mapped onto the
    contract, oldest load first; an extracted file is removed only once its landed file is complete."""
    today = today or dt.datetime.now(dt.UTC).date()
    report = HandOver(today, {t.source: LandedTable(t.table, t.source) for t in connector.tables})
    manifest = _read_manifest(places)
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        for table in connector.tables:
            folder = places.extracted / DATASET / table.source
            files = sorted(folder.glob("*.parquet")) if folder.exists() else []
            source = contract.sources[table.source]
            batch = landing / table.source / today.isoformat()
            for extracted in files:
                key = str(extracted)
                landed = Path(manifest[key]) if key in manifest else None
                if landed is None:
                    batch.mkdir(parents=True, exist_ok=True)
                    part = _next_part(batch, set(manifest.values()))
                    landed = batch / f"{table.source}_{today.isoformat()}_part{part:04d}.parquet"
                    manifest[key] = str(landed)
                    _write_manifest(places, manifest)
                if not landed.exists():
                    landed.parent.mkdir(parents=True, exist_ok=True)
                    rows = _convert(con, extracted, landed, table, source)
                    report.tables[table.source].rows += rows
                    report.tables[table.source].files.append(str(landed))
                    if log:
                        log(f"{table.table}: {rows} changed rows landed as {landed}")
                extracted.unlink()
                del manifest[key]
                _write_manifest(places, manifest)
    finally:
        con.close()
    return report


def extract_to_landing(
    url: str,
    places: Places,
    landing: Path,
    connector: DatabaseConnector,
    contract: Contract,
    today: dt.date | None = None,
) -> HandOver:
    """Without Dagster: land what a previous run left, extract new and changed rows, land them."""
    before = hand_over(places, landing, connector, contract, today)
    engine = make_engine(url, connector)
    try:
        run_extract(build_pipeline(places), build_source(engine, connector, contract))
    finally:
        engine.dispose()
    return before.merge(hand_over(places, landing, connector, contract, today))
