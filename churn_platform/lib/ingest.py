"""Loading landing files into the warehouse's ``raw`` schema, exactly once, behind quality gates.

Per file, in one transaction: read it (file-level problems reject the whole file with a message naming it),
cast every column to the contract's type (a value that does not cast quarantines its row), validate the rest
with the source's Great Expectations suite (failing rows are quarantined with the rule they broke), check
every customer id against ``accounts``, then append the good rows to ``raw.<source>`` and record the file's
content hash in the ledger. A file already in the ledger is skipped, so re-running adds nothing; a rejected
file is not recorded, so the fixed file loads on the next run. Nothing already in the warehouse changes.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from churn_platform.contract import Source, active_contract
from churn_platform.lib.erasure import erased_row_numbers
from churn_platform.lib.landing import LandingFile, discover
from churn_platform.lib.quality import SuiteRunner

UNKNOWN_CUSTOMER = "customer_id: unknown to accounts"
META_COLUMNS = {
    "_batch_date": "DATE",
    "_source_file": "VARCHAR",
    "_row_number": "BIGINT",
    "_file_hash": "VARCHAR",
    "_ingested_at": "TIMESTAMP",
}
INGEST_ORDER = ("accounts", "subscriptions", "invoices", "usage_events", "support_tickets", "nps_responses")


class FileRejectedError(Exception):
    """A file that cannot be loaded at all; the message names the file and what is wrong."""


@dataclass
class FileReport:
    path: str
    batch_date: dt.date
    status: str  # loaded | skipped | rejected
    rows: int = 0
    loaded: int = 0
    quarantined: int = 0
    reason: str = ""
    rules: dict[str, int] = field(default_factory=dict)
    erased: int = 0  # rows of erased customers dropped (suppression list)


@dataclass
class SourceReport:
    source: str
    files: list[FileReport] = field(default_factory=list)
    released: int = 0

    @property
    def loaded_rows(self) -> int:
        return sum(f.loaded for f in self.files)

    @property
    def quarantined_rows(self) -> int:
        return sum(f.quarantined for f in self.files)

    @property
    def rows_seen(self) -> int:
        return sum(f.rows for f in self.files if f.status == "loaded")

    @property
    def rejected(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "rejected"]

    def rule_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for f in self.files:
            for rule, n in f.rules.items():
                counts[rule] = counts.get(rule, 0) + n
        return counts


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw tables, the ingestion ledger and the quarantine if they do not exist yet."""
    con.execute("create schema if not exists raw")
    for source in active_contract().sources.values():
        cols = [f'"{c.name}" {c.duckdb_type}' for c in source.columns]
        cols += [f"{name} {kind}" for name, kind in META_COLUMNS.items()]
        con.execute(f"create table if not exists raw.{source.name} ({', '.join(cols)})")
    con.execute(
        """
        create table if not exists raw._ingested_files (
            file_hash varchar primary key, source varchar, file_name varchar, batch_date date,
            rows_in_file bigint, rows_loaded bigint, rows_quarantined bigint, ingested_at timestamp
        )"""
    )
    con.execute(
        """
        create table if not exists raw._quarantine (
            source varchar, file_name varchar, file_hash varchar, batch_date date, row_number bigint,
            rule varchar, column_name varchar, value varchar, record json, quarantined_at timestamp,
            released_at timestamp
        )"""
    )
    con.execute(
        """
        create table if not exists raw._rejected_files (
            source varchar, file_name varchar, file_hash varchar, batch_date date, reason varchar,
            rejected_at timestamp
        )"""
    )


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_utf8(path: Path) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, line = 0, 1
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                pos = offset + exc.start
                line += block[: exc.start].count(b"\n")
                raise FileRejectedError(
                    f"{path}: not valid UTF-8 (byte 0x{block[exc.start]:02x} at offset {pos}, line {line}); "
                    "re-export the file as UTF-8"
                ) from exc
            offset += len(block)
            line += block.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise FileRejectedError(
                f"{path}: not valid UTF-8 (the file ends inside a multi-byte character)"
            ) from exc


def without_row_text(message: str) -> str:
    """A parser's message without the raw row it quotes (``...: Expected 5 columns, got 3: <row>``): rejection
    messages reach the warehouse, Dagster's event log and alerts, and a row may hold personal data."""
    return re.sub(
        r"(Expected \d+ columns, got \d+)(: .*)?$",
        r"\1",
        message.strip().splitlines()[0] if message.strip() else message,
    )


def read_landing_file(lf: LandingFile, source: Source) -> pa.Table:
    """Read a file as delivered (CSV values as text); reject what cannot be read or misses columns."""
    path = lf.path
    if path.stat().st_size == 0:
        raise FileRejectedError(f"{path}: empty file (0 bytes)")
    if lf.file_format == "csv":
        _check_utf8(path)
        with path.open("r", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
        if not any(h.strip() for h in header):
            raise FileRejectedError(f"{path}: no header row")
        try:
            table = pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    column_types={h: pa.string() for h in header}, strings_can_be_null=True
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise FileRejectedError(f"{path}: malformed CSV: {without_row_text(str(exc))}") from exc
    else:
        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise FileRejectedError(f"{path}: unreadable or truncated Parquet file: {exc}") from exc
    missing = [c for c in source.required_columns if c not in table.column_names]
    if missing:
        raise FileRejectedError(
            f"{path}: missing required column(s) {', '.join(missing)}; a {source.name} file needs "
            f"{', '.join(source.required_columns)} (see docs/data-contract.md)"
        )
    if table.num_rows == 0:
        raise FileRejectedError(f"{path}: has a header but no data rows")
    return table


def _typed(con: duckdb.DuckDBPyConnection, table: pa.Table, source: Source) -> tuple[pa.Table, pa.Table]:
    """Cast to the contract's types; returns the typed table and, per row, which columns failed to cast."""
    table = table.append_column("_row_number", pa.array(range(1, table.num_rows + 1), type=pa.int64()))
    con.register("incoming", table)
    selects, failures = [], []
    for c in source.columns:
        if c.name in table.column_names:
            col = f'"{c.name}"'
            if c.type == "boolean":
                raw = f"lower(trim({col}::varchar))"
                expr = f"case when {raw} in ('true','1','t','yes') then true when {raw} in ('false','0','f','no') then false end"
            else:
                expr = f"try_cast({col} as {c.duckdb_type})"
            selects.append(f'{expr} as "{c.name}"')
            failures.append(f'({col} is not null and ({expr}) is null) as "{c.name}"')
        else:
            selects.append(f'null::{c.duckdb_type} as "{c.name}"')
    typed = con.execute(f"select {', '.join(selects)}, _row_number from incoming").to_arrow_table()
    fail_sql = ", ".join(failures) if failures else "false as none"
    failed = con.execute(f"select _row_number, {fail_sql} from incoming").to_arrow_table()
    con.unregister("incoming")
    return typed, failed


def _without_rows(table: pa.Table, rows: Iterable[int]) -> pa.Table:
    """The table without the given 1-based row numbers (vectorised: files hold millions of rows)."""
    drop = pa.array(sorted(rows), type=pa.int64())
    if len(drop) == 0:
        return table
    return table.filter(pc.invert(pc.is_in(table.column("_row_number"), value_set=drop)))


def _as_frame(typed: pa.Table) -> pd.DataFrame:
    frame = typed.to_pandas(types_mapper=None, timestamp_as_object=False, date_as_object=False)
    frame = frame.set_index("_row_number", drop=True)
    frame.index.name = None  # GX reports plain index values (the row numbers) for an unnamed index
    return frame


def ingest_file(
    con: duckdb.DuckDBPyConnection, lf: LandingFile, runner: SuiteRunner, landing_root: Path
) -> FileReport:
    """Load one file in one transaction; see the module docstring for the rules."""
    source = active_contract().sources[lf.source]
    rel = str(lf.path.relative_to(landing_root)) if lf.path.is_relative_to(landing_root) else str(lf.path)
    digest = file_hash(lf.path)
    seen = con.execute("select file_name from raw._ingested_files where file_hash = ?", [digest]).fetchall()
    if seen:
        return FileReport(rel, lf.batch_date, "skipped", reason=f"already ingested as {seen[0][0]}")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:
        table = read_landing_file(lf, source)
    except FileRejectedError as exc:
        con.execute(
            "insert into raw._rejected_files values (?, ?, ?, ?, ?, ?)",
            [lf.source, rel, digest, lf.batch_date, str(exc), now],
        )
        return FileReport(rel, lf.batch_date, "rejected", reason=str(exc))

    typed, cast_failed = _typed(con, table, source)
    # --- erasure (issue 14): rows of erased customers are dropped here, before validation or quarantine ---
    erased = erased_row_numbers(typed)
    typed = _without_rows(typed, erased)
    # ---
    bad: dict[int, list[tuple[str, str]]] = {}  # row -> [(rule, column)]
    for c in source.columns:
        if c.name in cast_failed.column_names:
            rows = cast_failed.filter(cast_failed.column(c.name)).column("_row_number").to_pylist()
            for r in rows:
                if r not in erased:
                    bad.setdefault(r, []).append((f"{c.name}: not a valid {c.type}", c.name))
    cast_ok = _without_rows(typed, bad)

    outcome = runner.validate(source.name, _as_frame(cast_ok), pd.Timestamp(lf.batch_date))
    for result in outcome.rules:
        for r in result.unexpected_rows:
            bad.setdefault(r, []).append((result.rule, result.column))

    if source.references_accounts:
        con.register("candidate", cast_ok.select(["customer_id", "_row_number"]))
        unknown = con.execute(
            """select c._row_number from candidate c
               where c.customer_id is not null
                 and not exists (select 1 from raw.accounts a where a.customer_id = c.customer_id)"""
        ).fetchall()
        con.unregister("candidate")
        for (r,) in unknown:
            bad.setdefault(r, []).append((UNKNOWN_CUSTOMER, "customer_id"))

    rows_total = table.num_rows
    con.execute("begin transaction")
    try:
        if bad:
            bad_rows = sorted(bad)
            originals = table.take(pa.array([r - 1 for r in bad_rows])).to_pylist()
            records = []
            personal = set(source.personal_columns)
            for r, original in zip(bad_rows, originals, strict=True):
                # the record keeps what releasing the row needs, never personal data (name, email, free text)
                payload = json.dumps(
                    {k: None if v is None else str(v) for k, v in original.items() if k not in personal}
                )
                for rule, column in bad[r]:
                    value = original.get(column)
                    shown = (
                        None
                        if value is None
                        else f"<{len(str(value))} characters>"
                        if column in personal
                        else str(value)[:200]
                    )
                    records.append(
                        (lf.source, rel, digest, lf.batch_date, r, rule, column, shown, payload, now, None)
                    )  # fmt: skip
            con.executemany("insert into raw._quarantine values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", records)
        good = _without_rows(cast_ok, bad)
        con.register("good", good)
        cols = ", ".join(f'"{c.name}"' for c in source.columns)
        con.execute(
            f"""insert into raw.{source.name} ({cols}, _batch_date, _source_file, _row_number, _file_hash, _ingested_at)
                select {cols}, ?::date, ?, _row_number, ?, ?::timestamp from good""",
            [lf.batch_date, rel, digest, now],
        )
        con.unregister("good")
        con.execute(
            "insert into raw._ingested_files values (?, ?, ?, ?, ?, ?, ?, ?)",
            [digest, lf.source, rel, lf.batch_date, rows_total, good.num_rows, len(bad), now],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    rule_counts: dict[str, int] = {}
    for problems in bad.values():
        for rule, _ in problems:
            rule_counts[rule] = rule_counts.get(rule, 0) + 1
    return FileReport(
        rel,
        lf.batch_date,
        "loaded",
        rows_total,
        good.num_rows,
        len(bad),
        rules=rule_counts,
        erased=len(erased),
        reason=f"{len(erased)} rows of erased customers dropped" if erased else "",
    )


def release_quarantine(con: duckdb.DuckDBPyConnection, source: Source) -> int:
    """Load rows held back only because their customer was unknown, once ``accounts`` knows the customer.

    This is what lets a re-run complete the work after a broken accounts file is fixed and re-delivered.
    """
    if not source.references_accounts:
        return 0
    casts = []
    for c in source.columns:
        text = f"json_extract_string(q.record, '$.{c.name}')"
        if c.type == "boolean":
            casts.append(f"lower({text}) in ('true', '1', 't', 'yes')")
        else:
            casts.append(f"try_cast({text} as {c.duckdb_type})")
    cols = ", ".join(f'"{c.name}"' for c in source.columns)
    candidates = f"""
        select q.file_hash, q.row_number from raw._quarantine q
        where q.source = '{source.name}' and q.released_at is null
        group by q.file_hash, q.row_number
        having bool_and(q.rule = '{UNKNOWN_CUSTOMER}')
           and bool_and(exists (select 1 from raw.accounts a
                                where a.customer_id = json_extract_string(q.record, '$.customer_id')))
    """
    con.execute("begin transaction")
    try:
        con.execute(f"create or replace temp table _release as {candidates}")
        n = con.execute("select count(*) from _release").fetchall()[0][0]
        if n:
            con.execute(
                f"""insert into raw.{source.name} ({cols}, _batch_date, _source_file, _row_number, _file_hash, _ingested_at)
                    select {", ".join(casts)}, q.batch_date, q.file_name, q.row_number, q.file_hash, now()::timestamp
                    from raw._quarantine q join _release r using (file_hash, row_number)
                    where q.source = '{source.name}' and q.released_at is null"""
            )
            con.execute(
                f"""update raw._quarantine set released_at = now()::timestamp
                    where source = '{source.name}' and released_at is null
                      and (file_hash, row_number) in (select (file_hash, row_number) from _release)"""
            )
        con.execute("drop table _release")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return int(n)


def ingest_source(
    warehouse: Path,
    landing: Path,
    source_name: str,
    runner: SuiteRunner | None = None,
    progress: Callable[[FileReport], None] | None = None,
) -> SourceReport:
    """Ingest every new file of one source, oldest batch first; the connection is held for this step only."""
    source = active_contract().sources[source_name]
    runner = runner or SuiteRunner()
    report = SourceReport(source_name)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse))
    try:
        ensure_schema(con)
        for lf in (f for f in discover(landing) if f.source == source_name):
            result = ingest_file(con, lf, runner, landing)
            report.files.append(result)
            if progress:
                progress(result)
        report.released = release_quarantine(con, source)
    finally:
        con.close()
    return report


def ingest_landing(landing: Path, warehouse: Path) -> dict[str, SourceReport]:
    """Ingest every source, accounts first (the others are checked against it)."""
    runner = SuiteRunner()
    return {name: ingest_source(warehouse, landing, name, runner) for name in INGEST_ORDER}
