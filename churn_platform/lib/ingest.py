"""Loading landing files into the warehouse's ``raw`` schema, exactly once, behind quality gates.

Per file, in one transaction, all in DuckDB over the file (no row-by-row Python):

1. **read** it as delivered: CSV in the company's dialect (delimiter, quote, decimal mark from the profile),
   UTF-8 with or without a byte-order mark, RFC 4180 quoting (values may span lines) at any size; Parquet as
   typed. File-level problems reject the whole file with one line naming it: empty, not UTF-8 (byte, offset
   and line given), no header, a header naming a column twice, missing required columns, malformed CSV,
   unreadable Parquet, a name that disagrees with its batch or a batch date in the future;
2. **type** every column by the contract, strictly: integers must be integers (``6.5`` is not rounded),
   decimals finite (``Infinity``/``NaN`` are refused), timestamps with an offset or as epoch seconds are stored
   in UTC whatever this machine's time zone, ids are kept as written (``000123`` stays ``000123``); vocabulary
   columns are normalised onto the profile's values (case, spaces) and unknown values quarantined or stored
   as ``other`` as the profile says. A value that does not type quarantines its row;
3. **judge** the typed rows with the source's Great Expectations suite compiled to SQL
   (:class:`churn_platform.lib.quality.SuiteRunner`) and check every customer id against ``accounts``;
4. **write** the failing rows to ``raw._quarantine`` (file, row, column, value, rule), the good ones to
   ``raw.<source>``, the per-expectation verdicts to ``raw._validation_results`` and the file's content hash
   to the ledger ``raw._ingested_files``.

A file already in the ledger is skipped, so re-running adds nothing; a rejected file is not recorded, so the
fixed file loads on the next run. Nothing already in the warehouse changes.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from churn_platform.contract import Column, Contract, Source, active_contract
from churn_platform.lib.erasure import drop_erased_rows
from churn_platform.lib.landing import LandingFile, discover
from churn_platform.lib.mappings import MappingError, mapped_select
from churn_platform.lib.quality import SqlRule, SuiteRunner
from churn_platform.lib.warehouse import connect as connect_warehouse
from churn_platform.profile import OTHER, CsvDialect, ExportMapping

UNKNOWN_CUSTOMER = "customer_id: unknown to accounts"
META_COLUMNS = {
    "_batch_date": "DATE",
    "_source_file": "VARCHAR",
    "_row_number": "BIGINT",
    "_file_hash": "VARCHAR",
    "_ingested_at": "TIMESTAMP",
}
INGEST_ORDER = ("accounts", "subscriptions", "invoices", "usage_events", "support_tickets", "nps_responses")
QUARANTINE_VALUE_CHARS = 200


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
    mapped_to_other: dict[str, int] = field(default_factory=dict)  # column -> values unknown to the profile
    erased: int = 0  # rows of erased customers dropped (the erasure suppression list)


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

    def mapped_counts(self) -> dict[str, int]:
        """Per column, values the profile does not know that were stored as ``other``."""
        counts: dict[str, int] = {}
        for f in self.files:
            for column, n in f.mapped_to_other.items():
                counts[column] = counts.get(column, 0) + n
        return counts

    def rule_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for f in self.files:
            for rule, n in f.rules.items():
                counts[rule] = counts.get(rule, 0) + n
        return counts


def prepare_connection(con: duckdb.DuckDBPyConnection) -> None:
    """Session settings every ingestion connection needs: timestamps judged and stored in UTC, whatever the
    machine's ``TZ`` (a tz-aware value is converted, never read as local time), and a memory limit
    (``CHURN_DUCKDB_MEMORY_LIMIT``, default 2GB)."""
    con.execute("set TimeZone = 'UTC'")
    # bounded memory whatever the file size: DuckDB spills to its temp directory beyond this
    con.execute(f"set memory_limit = '{os.environ.get('CHURN_DUCKDB_MEMORY_LIMIT', '2GB')}'")


def ensure_schema(con: duckdb.DuckDBPyConnection, contract: Contract | None = None) -> None:
    """Create the raw tables (every source of the contract, delivered or not: an optional source a company
    does not deliver is an empty table, so the marts build the same way), the ingestion ledger, the
    quarantine and the validation results if they do not exist yet; add columns the contract gained since."""
    contract = contract or active_contract()
    con.execute("create schema if not exists raw")
    for source in contract.sources.values():
        cols = [f"{_q(c.name)} {c.duckdb_type}" for c in source.columns]
        cols += [f"{name} {kind}" for name, kind in META_COLUMNS.items()]
        con.execute(f"create table if not exists raw.{source.name} ({', '.join(cols)})")
        existing = {
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns where table_schema = 'raw' and table_name = ?",
                [source.name],
            ).fetchall()
        }
        for c in source.columns:
            if c.name not in existing:
                con.execute(f"alter table raw.{source.name} add column {_q(c.name)} {c.duckdb_type}")
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
    con.execute(
        """
        create table if not exists raw._validation_results (
            file_hash varchar, source varchar, suite varchar, batch_date date, success boolean,
            evaluated bigint, results json, evaluated_at timestamp
        )"""
    )


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------- reading


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


def csv_header(path: Path, dialect: CsvDialect) -> list[str]:
    """The header row of a CSV file as delivered (a UTF-8 byte-order mark removed)."""
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        # the header is one logical CSV record: read enough to parse it even when a name is quoted
        reader = csv.reader(
            io.StringIO(fh.read(1 << 16)), delimiter=dialect.delimiter, quotechar=dialect.quote
        )
        return next(reader, [])


def _duckdb_error(exc: Exception) -> str:
    """DuckDB's message without the raw line it quotes (a row may hold personal data)."""
    text = str(exc).split("\n")
    kept = [t for t in text if t.strip() and not t.lstrip().lower().startswith(("original line", "line:"))]
    return " ".join(kept)[:400]


def read_into(
    con: duckdb.DuckDBPyConnection,
    lf: LandingFile,
    source: Source,
    dialect: CsvDialect,
    name: str = "incoming",
    mapping: ExportMapping | None = None,
) -> list[str]:
    """Read a delivered file into temp table ``name`` (columns as delivered, or as the company's export
    ``mapping`` makes them, plus ``_row_number``, 1-based in file order); returns the contract-side column
    names. Raises FileRejectedError naming the file."""
    path = lf.path
    if lf.problem:
        raise FileRejectedError(lf.problem)
    if path.stat().st_size == 0:
        raise FileRejectedError(f"{path}: empty file (0 bytes)")
    if lf.file_format == "csv":
        _check_utf8(path)
        header = csv_header(path, dialect)
        if not any(h.strip() for h in header):
            raise FileRejectedError(f"{path}: no header row")
        seen: set[str] = set()
        for h in header:
            if h in seen:
                raise FileRejectedError(f"{path}: column {h!r} appears twice in the header; keep one")
            seen.add(h)
        if mapping is None:
            _require(path, source, header)
        options = (
            f"header = true, all_varchar = true, delim = {_text(dialect.delimiter)}, "
            f"quote = {_text(dialect.quote)}, escape = {_text(dialect.quote)}, strict_mode = true, "
            "null_padding = false, auto_detect = false, "
            "columns = {" + ", ".join(f"{_text(h)}: 'VARCHAR'" for h in header) + "}"
        )
        relation = f"read_csv({_text(str(path))}, {options})"
    else:
        relation = f"read_parquet({_text(str(path))})"
    # a view: the file is scanned when the rows are checked (once), and again only for quarantined rows
    target = f"{name}_as_delivered" if mapping is not None else name
    try:
        con.execute(
            f"create or replace temp view {target} as "
            f"select *, row_number() over () as _row_number from {relation}"
        )
        columns = [r[0] for r in con.execute(f"describe {target}").fetchall() if r[0] != "_row_number"]
    except duckdb.Error as exc:
        raise FileRejectedError(f"{path}: {_read_problem(lf)}: {_duckdb_error(exc)}") from exc
    if lf.file_format == "parquet":
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        if dupes:
            raise FileRejectedError(f"{path}: column {dupes[0]!r} appears twice; keep one")
    if mapping is not None:
        try:
            select, columns = mapped_select(mapping, source, columns, target)
        except MappingError as exc:
            raise FileRejectedError(f"{path}: {exc}") from exc
        con.execute(f"create or replace temp view {name} as {select}")
    _require(path, source, columns)
    return columns


def _read_problem(lf: LandingFile) -> str:
    return "malformed CSV" if lf.file_format == "csv" else "unreadable or truncated Parquet file"


def _require(path: Path, source: Source, columns: list[str]) -> None:
    missing = [c for c in source.required_columns if c not in columns]
    if missing:
        raise FileRejectedError(
            f"{path}: missing required column(s) {', '.join(missing)}; a {source.name} file needs "
            f"{', '.join(source.required_columns)} (see docs/data-contract.md)"
        )


# ---------------------------------------------------------------------- typing


_INTEGER = r"[+-]?[0-9]+"
_EPOCH_SECONDS = r"[0-9]{9,11}(\.[0-9]+)?"
_EPOCH_MILLIS = r"[0-9]{12,14}"
_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                  "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL")  # fmt: skip


def _normalised(text: str, allowed: tuple[str, ...]) -> str:
    """SQL mapping text onto the profile's canonical values, ignoring case and surrounding spaces; an
    unknown value is kept trimmed (the suite then judges it) and blank is null."""
    whens = " ".join(f"when {_text(v.strip().lower())} then {_text(v)}" for v in allowed)
    exact = ", ".join(_text(v) for v in allowed)
    # values already written as the profile writes them (nearly all) skip the string functions
    return (
        f"case when {text} in ({exact}) then {text} "
        f"else case lower(trim({text})) {whens} else nullif(trim({text}), '') end end"
    )


def _decimal_text(text: str, dialect: CsvDialect) -> str:
    t = f"trim({text})"
    if dialect.decimal_mark == ",":
        # "1.234,56" -> "1234.56"; "74,92" -> "74.92"
        t = f"replace(replace({t}, '.', ''), ',', '.')"
    return t


@dataclass(frozen=True)
class Typed:
    """How one column becomes its contract type: the SQL value, and the rule when the value does not type."""

    value: str
    failure: str  # SQL: the rule text when a present value does not type, else null
    present: str = "false"  # SQL: a value was delivered (a typed null then means it did not type)


def type_column(col: Column, input_type: str, dialect: CsvDialect, ref: str | None = None) -> Typed:
    """SQL typing one delivered column (``input_type``: DuckDB's type of it as read) to its contract type."""
    c = ref or _q(col.name)
    t = input_type.upper()
    is_text = t == "VARCHAR"
    text = f"nullif({c}::varchar, '')"
    value: str
    bad_type = _text(f"{col.name}: not a valid {col.type}")
    if col.type == "string":
        if col.allowed is not None and col.vocabulary is not None:
            value = _normalised(text, col.allowed)
            if col.unknown == "other":
                known = ", ".join(_text(v) for v in col.allowed)
                value = f"case when ({value}) in ({known}) then ({value}) when ({value}) is not null then '{OTHER}' end"
        elif col.vocabulary is not None:
            value = f"nullif(trim({text}), '')"
        else:
            value = text  # ids and names kept exactly as written
        return Typed(value, "null")
    if col.type == "boolean":
        if t == "BOOLEAN":
            return Typed(c, "null")
        raw = f"lower(trim({text}))"
        value = (
            f"case when {raw} in ('true','1','t','yes','y') then true "
            f"when {raw} in ('false','0','f','no','n') then false end"
        )
    elif col.type == "integer":
        if t.startswith(("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER")):
            return Typed(f"cast({c} as bigint)", "null")
        if is_text:
            value = f"case when regexp_full_match(trim({text}), '{_INTEGER}') then try_cast(trim({text}) as bigint) end"
        else:  # floats or decimals: only whole, finite numbers are integers
            d = f"try_cast({c} as double)"
            value = f"case when isfinite({d}) and {d} = trunc({d}) then try_cast({d} as bigint) end"
    elif col.type == "decimal":
        d = f"try_cast({_decimal_text(text, dialect) if is_text else c} as double)"
        value = f"case when isfinite({d}) then {d} end"
        bad_type = (
            f"case when {d} is null then {_text(f'{col.name}: not a valid decimal')} "
            f"else {_text(f'{col.name}: not a finite decimal')} end"
        )
    elif col.type == "date":
        if t == "DATE":
            return Typed(c, "null")
        if t.startswith("TIMESTAMP"):
            return Typed(f"cast({c} as date)", "null")
        value = (
            f"cast(try_strptime(trim({text}), {_text(dialect.date_format)}) as date)"
            if dialect.date_format
            else f"try_cast(trim({text}) as date)"
        )
    elif col.type == "timestamp":
        if t == "TIMESTAMP WITH TIME ZONE":
            return Typed(f"cast({c} as timestamp)", "null")  # the session is UTC: this is the UTC instant
        if t.startswith("TIMESTAMP"):
            return Typed(f"cast({c} as timestamp)", "null")  # naive timestamps are UTC by contract
        if t == "DATE":
            return Typed(f"cast({c} as timestamp)", "null")
        s = f"trim({text})"
        parsed = (
            f"try_strptime({s}, {_text(dialect.timestamp_format)})"
            if dialect.timestamp_format
            else f"cast(try_cast({s} as timestamptz) as timestamp)"
        )
        value = (
            f"coalesce({parsed}, "
            f"case when regexp_full_match({s}, '{_EPOCH_SECONDS}') then cast(to_timestamp(cast({s} as double)) as timestamp) "
            f"when regexp_full_match({s}, '{_EPOCH_MILLIS}') then cast(epoch_ms(cast({s} as bigint)) as timestamp) end)"
        )
    else:  # pragma: no cover - the contract's types are closed
        raise ValueError(f"unknown contract type {col.type}")
    present = text if (is_text or col.type in ("boolean",)) else c
    return Typed(
        value,
        f"case when {present} is not null and ({value}) is null then {bad_type} end",
        f"{present} is not null",
    )


def _mapped_to_other_sql(col: Column, input_type: str, dialect: CsvDialect) -> str | None:
    if col.type != "string" or col.allowed is None or col.vocabulary is None or col.unknown != "other":
        return None
    text = f"nullif({_q(col.name)}::varchar, '')"
    known = ", ".join(_text(v) for v in col.allowed)
    norm = _normalised(text, col.allowed)
    return f"coalesce(({norm}) not in ({known}), false)"


# ---------------------------------------------------------------------- one file


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    lf: LandingFile,
    runner: SuiteRunner,
    landing_root: Path,
    contract: Contract | None = None,
) -> FileReport:
    """Load one file in one transaction; see the module docstring for the rules."""
    contract = contract or runner.contract
    source = contract.sources[lf.source]
    dialect = contract.profile.files.dialect(source.name)
    rel = str(lf.path.relative_to(landing_root)) if lf.path.is_relative_to(landing_root) else str(lf.path)
    digest = file_hash(lf.path)
    seen = con.execute("select file_name from raw._ingested_files where file_hash = ?", [digest]).fetchall()
    if seen:
        return FileReport(rel, lf.batch_date, "skipped", reason=f"already ingested as {seen[0][0]}")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:
        delivered = read_into(con, lf, source, dialect, mapping=contract.profile.exports.get(source.name))
    except FileRejectedError as exc:
        con.execute(
            "insert into raw._rejected_files values (?, ?, ?, ?, ?, ?)",
            [lf.source, rel, digest, lf.batch_date, str(exc), now],
        )
        return FileReport(rel, lf.batch_date, "rejected", reason=str(exc))
    try:
        try:
            # --- erasure (issue 14): rows of erased customers are dropped here, before validation or quarantine
            erased = drop_erased_rows(con, "incoming")
            # ---
            report = _load_checked(con, lf, source, dialect, runner, delivered, rel, digest, now)
        except duckdb.InvalidInputException as exc:
            # a row DuckDB cannot parse, met by the first scan of the file (the duplicate-key or erasure scan):
            # rejected like any malformed file, without the raw line DuckDB quotes
            raise FileRejectedError(f"{lf.path}: {_read_problem(lf)}: {_duckdb_error(exc)}") from exc
        report.erased = erased
        return report
    except FileRejectedError as exc:
        con.execute(
            "insert into raw._rejected_files values (?, ?, ?, ?, ?, ?)",
            [lf.source, rel, digest, lf.batch_date, str(exc), now],
        )
        return FileReport(rel, lf.batch_date, "rejected", reason=str(exc))
    finally:
        for table in ("checked", "problems", "_unknown", "_kept_rows", *(f"_dups_{i}" for i in range(64))):
            con.execute(f"drop table if exists {table}")
        con.execute("drop view if exists incoming")
        con.execute("drop view if exists incoming_as_delivered")


def _problems_list(items: list[str]) -> str:
    """SQL list of {rule, column} structs from nullable rule expressions, nulls dropped."""
    if not items:
        return "[]::struct(rule varchar, col varchar)[]"
    return f"list_filter([{', '.join(items)}], p -> p.rule is not null)"


def _load_checked(
    con: duckdb.DuckDBPyConnection,
    lf: LandingFile,
    source: Source,
    dialect: CsvDialect,
    runner: SuiteRunner,
    delivered: list[str],
    rel: str,
    digest: str,
    now: dt.datetime,
) -> FileReport:
    input_types = {r[0]: r[1] for r in con.execute("describe incoming").fetchall()}
    present = [c for c in source.columns if c.name in delivered]
    typed: dict[str, Typed] = {c.name: type_column(c, input_types[c.name], dialect) for c in present}
    selects = [
        f"{typed[c.name].value} as {_q(c.name)}"
        if c.name in typed
        else f"null::{c.duckdb_type} as {_q(c.name)}"
        for c in source.columns
    ]
    mapped = [
        (c.name, sql)
        for c in present
        if (sql := _mapped_to_other_sql(c, input_types[c.name], dialect)) is not None
    ]
    flags = [f"({sql}) as _other_{i}" for i, (_, sql) in enumerate(mapped)]
    can_fail = [name for name, t in typed.items() if t.failure != "null"]
    presence = [f"{typed[name].present} as _p{i}" for i, name in enumerate(can_fail)]
    cast_failed = [f"(_p{i} and {_q(name)} is null)" for i, name in enumerate(can_fail)]
    # Whole-file rules become row-local lookups: duplicate keys and unknown customers are found first (one
    # scan of their column each), so each row is then judged on its own, cheaply.
    rules: list[SqlRule] = []
    for i, r in enumerate(runner.rules(source.name, {c.name for c in present}, lf.batch_date)):
        if r.expectation["type"] == "expect_column_values_to_be_unique":
            key = _q(r.column)
            con.execute(
                f"create or replace temp table _dups_{i} as select {typed[r.column].value} as k from incoming "
                "group by 1 having count(*) > 1"
            )
            r = SqlRule(r.rule, r.column, f"{key} in (select k from _dups_{i})", r.expectation)
        rules.append(r)
    lookups = [(r.rule, r.column, r.fails) for r in rules]
    if source.references_accounts:
        con.execute(
            f"create or replace temp table _unknown as select distinct {typed['customer_id'].value} as k "
            "from incoming except select customer_id from raw.accounts"
        )
        lookups.append((UNKNOWN_CUSTOMER, "customer_id", "customer_id in (select k from _unknown)"))
    rule_failed = [f"coalesce({fails}, false)" for _, _, fails in lookups]
    try:
        con.execute(
            "create or replace temp table checked as "
            f"select *, _cast_failed or ({' or '.join(rule_failed) or 'false'}) as _bad from ("
            f"select *, ({' or '.join(cast_failed) or 'false'}) as _cast_failed from ("
            f"select {', '.join([*selects, *flags, *presence])}, _row_number from incoming)) t"
        )
    except duckdb.Error as exc:
        raise FileRejectedError(f"{lf.path}: {_read_problem(lf)}: {_duckdb_error(exc)}") from exc
    rows_total, bad_rows = con.execute(
        "select count(*), count(*) filter (where _bad) from checked"
    ).fetchone() or (
        0,
        0,
    )
    # the reasons, for the bad rows only: a value that does not type is reported once (its rule); the suite
    # judges the rows that typed
    casts = [f"{{'rule': cast({t.failure} as varchar), 'col': {_text(name)}}}" for name, t in typed.items()]
    judged = [
        f"{{'rule': case when {fails} then {_text(rule)} end, 'col': {_text(col)}}}"
        for rule, col, fails in lookups
    ]
    con.execute(
        "create or replace temp table problems as "
        "select c._row_number, case when c._cast_failed then i._casts else c._judged end as _problems from "
        f"(select _row_number, _cast_failed, {_problems_list(judged)} as _judged from checked where _bad) c "
        f"join (select _row_number, {_problems_list(casts)} as _casts from incoming "
        "where _row_number in (select _row_number from checked where _bad)) i "
        "on i._row_number = c._row_number"
        if bad_rows
        else "create or replace temp table problems as select 0::bigint as _row_number, "
        f"{_problems_list([])} as _problems limit 0"
    )
    rule_counts = dict(
        con.execute(
            "select p.rule, count(distinct _row_number) from problems, unnest(_problems) as u(p) group by 1"
        ).fetchall()
    )
    mapped_counts: dict[str, int] = {}
    if mapped:
        counts = (
            con.execute(
                "select "
                + ", ".join(f"count(*) filter (where _other_{i})" for i in range(len(mapped)))
                + " from checked"
            ).fetchone()
            or ()
        )
        mapped_counts = {name: int(n) for (name, _), n in zip(mapped, counts, strict=True) if n}
    results = _validation_results(con, source, runner, rules, int(rows_total))

    # personal data (names, emails, phones, free text) is never quoted: its length stands in for the value, and
    # the record keeps the other columns (what releasing a row held for an unknown customer needs)
    personal = set(source.personal_columns)
    raw_value = (
        "case p.col "
        + " ".join(
            f"when {_text(name)} then '<' || length(i.{_q(name)}::varchar) || ' characters>'"
            if name in personal
            else f"when {_text(name)} then left(i.{_q(name)}::varchar, {QUARANTINE_VALUE_CHARS})"
            for name in delivered
        )
        + " end"
    )
    kept = [n for n in delivered if n not in personal]
    record = "to_json(struct_pack(" + ", ".join(f"{_q(n)} := i.{_q(n)}::varchar" for n in kept) + "))"
    cols = ", ".join(_q(c.name) for c in source.columns)
    con.execute("begin transaction")
    try:
        if bad_rows:
            con.execute(
                f"""insert into raw._quarantine
                    select ?, ?, ?, ?::date, c._row_number, p.rule, p.col, {raw_value}, {record}, ?::timestamp, null
                    from problems c, unnest(c._problems) as u(p)
                    join (select * from incoming where _row_number in (select _row_number from problems)) i
                      on i._row_number = c._row_number
                    order by c._row_number""",
                [lf.source, rel, digest, lf.batch_date, now],
            )
        con.execute(
            f"""insert into raw.{source.name} ({cols}, _batch_date, _source_file, _row_number, _file_hash, _ingested_at)
                select {cols}, ?::date, ?, _row_number, ?, ?::timestamp from checked
                where not _bad""",
            [lf.batch_date, rel, digest, now],
        )
        good = int(rows_total) - int(bad_rows)
        con.execute(
            "insert into raw._ingested_files values (?, ?, ?, ?, ?, ?, ?, ?)",
            [digest, lf.source, rel, lf.batch_date, rows_total, good, bad_rows, now],
        )
        con.execute(
            "insert into raw._validation_results values (?, ?, ?, ?, ?, ?, ?, ?)",
            [digest, source.name, f"raw_{source.name}", lf.batch_date, all(r["success"] for r in results),
             rows_total, json.dumps(results), now],
        )  # fmt: skip
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return FileReport(
        rel,
        lf.batch_date,
        "loaded",
        int(rows_total),
        int(rows_total) - int(bad_rows),
        int(bad_rows),
        reason="" if rows_total else "header only: no rows in this delivery",
        rules={str(k): int(v) for k, v in rule_counts.items()},
        mapped_to_other=mapped_counts,
    )


def _validation_results(
    con: duckdb.DuckDBPyConnection, source: Source, runner: SuiteRunner, rules: list[SqlRule], evaluated: int
) -> list[dict[str, Any]]:
    """Per expectation, Great Expectations' result shape: success, element and unexpected counts, and up to
    20 unexpected values (as the quarantine already holds them)."""
    if not rules:
        return []
    value = (
        "case p.col "
        + " ".join(f"when {_text(c.name)} then c.{_q(c.name)}::varchar" for c in source.columns)
        + " end"
    )
    found = {
        rule: (int(n), [v for v in values if v is not None])
        for rule, n, values in con.execute(
            f"select p.rule, count(*), list(distinct {value})[1:20] "
            "from problems pr join checked c using (_row_number), unnest(pr._problems) as u(p) group by 1"
        ).fetchall()
    }
    out = []
    for r in rules:
        unexpected = found.get(r.rule, (0, []))[0]
        out.append(
            {
                "expectation_config": {"type": r.expectation["type"], "kwargs": r.expectation["kwargs"]},
                "success": unexpected == 0,
                "result": {
                    "element_count": evaluated,
                    "unexpected_count": unexpected,
                    "unexpected_percent": 100.0 * unexpected / evaluated if evaluated else 0.0,
                    "partial_unexpected_list": found.get(r.rule, (0, []))[1],
                },
            }
        )
    return out


# ---------------------------------------------------------------------- release and orchestration


def release_quarantine(
    con: duckdb.DuckDBPyConnection, source: Source, contract: Contract | None = None
) -> int:
    """Load rows held back only because their customer was unknown, once ``accounts`` knows the customer.

    This is what lets a re-run complete the work after a broken accounts file is fixed and re-delivered.
    """
    if not source.references_accounts:
        return 0
    contract = contract or active_contract()
    dialect = contract.profile.files.dialect(source.name)
    texts = ", ".join(
        f"json_extract_string(q.record, {_text('$.' + json.dumps(c.name))}) as {_q(c.name)}"
        for c in source.columns
    )
    typed = ", ".join(f"{type_column(c, 'VARCHAR', dialect).value} as {_q(c.name)}" for c in source.columns)
    cols = ", ".join(_q(c.name) for c in source.columns)
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
        n = (con.execute("select count(*) from _release").fetchone() or (0,))[0]
        if n:
            con.execute(
                f"""insert into raw.{source.name} ({cols}, _batch_date, _source_file, _row_number, _file_hash, _ingested_at)
                    select {typed}, batch_date, file_name, row_number, file_hash, now()::timestamp from (
                        select {texts}, q.batch_date, q.file_name, q.row_number, q.file_hash
                        from raw._quarantine q join _release r using (file_hash, row_number)
                        where q.source = '{source.name}' and q.released_at is null
                    )"""
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
    notify: Callable[[str], None] | None = None,
) -> SourceReport:
    """Ingest every new file of one source, oldest batch first; the connection is held for this step only
    (``notify`` hears it when another process holds the warehouse and this one waits)."""
    runner = runner or SuiteRunner()
    contract = runner.contract
    source = contract.sources[source_name]
    report = SourceReport(source_name)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = connect_warehouse(warehouse, notify=notify)
    try:
        prepare_connection(con)
        ensure_schema(con, contract)
        for lf in (f for f in discover(landing) if f.source == source_name):
            if not source.delivered:
                result = FileReport(
                    str(lf.path),
                    lf.batch_date,
                    "skipped",
                    reason=f"the company profile {contract.profile.name!r} says {source_name} is not delivered "
                    "(sources: in the profile); the file was not read",
                )
            else:
                result = ingest_file(con, lf, runner, landing, contract)
            report.files.append(result)
            if progress:
                progress(result)
        report.released = release_quarantine(con, source, contract)
    finally:
        con.close()
    return report


def ingest_landing(landing: Path, warehouse: Path) -> dict[str, SourceReport]:
    """Ingest every source, accounts first (the others are checked against it)."""
    runner = SuiteRunner()
    return {name: ingest_source(warehouse, landing, name, runner) for name in INGEST_ORDER}


__all__ = [
    "INGEST_ORDER",
    "FileRejectedError",
    "FileReport",
    "SourceReport",
    "ensure_schema",
    "ingest_file",
    "ingest_landing",
    "ingest_source",
    "release_quarantine",
]
