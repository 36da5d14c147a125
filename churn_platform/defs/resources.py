"""Resources shared by every domain, built from the platform settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dlt import DagsterDltResource

from churn_platform.lib.warehouse import connect as connect_warehouse
from churn_platform.settings import get_settings


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse. Connections are held for one step only: DuckDB has a single writer process."""

    path: str

    @property
    def path_obj(self) -> Path:
        return Path(self.path)

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one step; waits (and says so) while another process holds the file."""
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        con = connect_warehouse(self.path, read_only=read_only, notify=dg.get_dagster_logger().info)
        try:
            yield con
        finally:
            con.close()


class LandingResource(dg.ConfigurableResource):
    """The landing folder a company delivers its files into."""

    path: str

    @property
    def root(self) -> Path:
        return Path(self.path)


class SourceDatabaseResource(dg.ConfigurableResource):
    """The company's application database, read by the connector. The URL is a secret: it is configured from
    the environment (``CHURN_SOURCE_DATABASE_URL``; the Dagster UI shows the variable's name, never its
    value) and never logged; ``state_dir`` keeps the incremental cursor and the files not yet landed."""

    url: str
    state_dir: str


class ExportsResource(dg.ConfigurableResource):
    """Files the pipeline publishes for readers outside it: Parquet snapshots and the send-ledger export."""

    published_dir: str
    ledger_export_path: str


@dg.definitions
def resources() -> dg.Definitions:
    settings = get_settings()
    return dg.Definitions(
        # one step at a time in one process: DuckDB has a single writer, and runs queue behind each other
        executor=dg.in_process_executor,
        resources={
            "warehouse": WarehouseResource(path=str(settings.warehouse)),
            "landing": LandingResource(path=str(settings.landing)),
            "source_database": SourceDatabaseResource(
                url=dg.EnvVar("CHURN_SOURCE_DATABASE_URL"), state_dir=str(settings.connectors)
            ),
            "dlt": DagsterDltResource(),
            "exports": ExportsResource(
                published_dir=str(settings.published), ledger_export_path=str(settings.ledger_export)
            ),
        },
    )
