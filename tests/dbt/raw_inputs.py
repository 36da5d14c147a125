"""Hand-written raw inputs: rows written straight into the ``raw.*`` tables ingestion creates.

The tables come from ``ensure_schema`` under the active company profile (``CHURN_COMPANY_PROFILE``), so a test
writes exactly the columns that company's contract has; ingestion's metadata columns are filled in as ingestion
would (batch date, file, row number, hash, load time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pytest

from churn_platform.contract import active_contract
from churn_platform.lib.ingest import ensure_schema
from churn_platform.profile import PROFILE_ENV


@contextmanager
def company_profile(name: str) -> Iterator[None]:
    """Make ``name`` the active company profile for the block (ingestion's schema, the contract)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PROFILE_ENV, name)
        yield


class RawWriter:
    """Appends rows to ``raw.<source>`` of one warehouse, batch by batch."""

    def __init__(self, warehouse: Path) -> None:
        self.warehouse = warehouse
        self._rows: dict[str, int] = {}
        with duckdb.connect(str(warehouse)) as con:
            ensure_schema(con)
        self.contract = active_contract()

    def write(self, source: str, batch_date: dt.date, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append ``rows`` (contract columns only; a column left out is null) delivered in ``batch_date``."""
        columns = self.contract.sources[source].column_names
        for row in rows:
            unknown = sorted(set(row) - set(columns))
            assert not unknown, (
                f"{source} has no column(s) {unknown} under profile {self.contract.profile.name}"
            )
        meta = ["_batch_date", "_source_file", "_row_number", "_file_hash", "_ingested_at"]
        names = ", ".join(f'"{c}"' for c in [*columns, *meta])
        marks = ", ".join("?" for _ in [*columns, *meta])
        file_name = f"{source}/{batch_date}/{source}_{batch_date}_part0000.csv"
        with duckdb.connect(str(self.warehouse)) as con:
            for row in rows:
                number = self._rows.get(source, 0) + 1
                self._rows[source] = number
                values = [row.get(c) for c in columns]
                values += [
                    batch_date,
                    file_name,
                    number,
                    f"hash-{source}-{batch_date}",
                    dt.datetime(2026, 1, 1),
                ]
                con.execute(f"insert into raw.{source} ({names}) values ({marks})", values)
