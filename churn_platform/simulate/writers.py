"""Writers that turn simulated rows into landing files in the data contract.

A file is written under a temporary name and renamed when complete, so a sensor never sees half a file.
Output is byte-for-byte deterministic: no timestamps or random names go into the files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from churn_platform.contract import Source, contract_named


def make_ids(prefix: str, numbers: Any, width: int) -> pa.Array:
    """Format integer ids as zero-padded strings with a prefix, vectorised (millions per second)."""
    digits = pc.utf8_lpad(pa.array(numbers, type=pa.int64()).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


def to_table(source: Source, columns: dict[str, Any]) -> pa.Table:
    """Build an Arrow table with exactly the contract's columns, types and order."""
    arrays = []
    for col in source.columns:
        if col.name not in columns and not col.required:
            arrays.append(
                pa.nulls(_rows(columns), col.arrow_type)
            )  # an optional column this company leaves empty
            continue
        value = columns[col.name]
        if isinstance(value, pa.ChunkedArray):
            value = value.combine_chunks()
        if isinstance(value, pa.Array):
            if pa.types.is_dictionary(value.type):
                value = value.cast(col.arrow_type)
            arr = value if value.type == col.arrow_type else value.cast(col.arrow_type)
        else:
            arr = pa.array(value, type=col.arrow_type)
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=source.arrow_schema())


def _rows(columns: dict[str, Any]) -> int:
    for value in columns.values():
        return len(value)
    return 0


class BatchWriter:
    """Writes one batch (one cut date) of every source, appending chunks to one part file per source."""

    def __init__(
        self, landing: Path, batch_date: str, file_format: str, sources: dict[str, Source] | None = None
    ) -> None:
        self.sources = sources if sources is not None else contract_named("saas").sources
        self.landing = landing
        self.batch_date = batch_date
        self.file_format = file_format
        self._writers: dict[str, Any] = {}
        self._paths: dict[str, tuple[Path, Path]] = {}
        self.rows: dict[str, int] = {}

    def path_for(self, source: str) -> Path:
        folder = self.landing / source / self.batch_date
        return folder / f"{source}_{self.batch_date}_part0000.{self.file_format}"

    def write(self, source_name: str, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        source = self.sources[source_name]
        if source_name not in self._writers:
            final = self.path_for(source_name)
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_name("." + final.name + ".tmp")
            if self.file_format == "parquet":
                writer: Any = pq.ParquetWriter(tmp, source.arrow_schema(), compression="zstd")
            else:
                writer = pacsv.CSVWriter(tmp, source.arrow_schema())
            self._writers[source_name] = writer
            self._paths[source_name] = (tmp, final)
            self.rows[source_name] = 0
        self._writers[source_name].write_table(table)
        self.rows[source_name] += table.num_rows

    def close(self) -> dict[str, int]:
        """Finish every file of the batch and make it visible; returns rows written per source."""
        for name, writer in self._writers.items():
            writer.close()
            tmp, final = self._paths[name]
            os.replace(tmp, final)
        self._writers.clear()
        return dict(self.rows)
