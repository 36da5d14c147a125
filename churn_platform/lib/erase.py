"""Erasing one customer everywhere the platform keeps them (GDPR art. 17, CCPA right to delete).

``erase_customer`` works through every place in a fixed order and then checks its own work:

1. **landing files**: the customer's rows are removed from every delivered file (CSV or Parquet, rewritten
   atomically, modification time kept); the ingestion ledger learns the new content hash, so a rewritten file
   is not loaded again as if it were new;
2. **the warehouse**: rows of every table with a ``customer_id`` are deleted (raw tables, quarantine records,
   scores and their history, tier changes, value, decisions, tasks, CRM ledger); the send ledger keeps a
   tombstone (the customer id replaced by ``erased:<salted hash>``) so the history of what was sent stays
   countable; the identifiers are cut out of every other text (alerts, rejection reasons); the dbt marts are
   rebuilt from the cleaned raw tables; then the file is rewritten from scratch (DuckDB, like SQLite, keeps
   deleted rows in free blocks until they are reused);
3. **every other file** under the data folder, the MLflow store and Dagster's storage: Parquet and CSV lose the
   customer's rows, outbox messages to the customer are deleted, SQLite stores (MLflow, Dagster's event logs
   and runs) and text files (JSON, HTML reports, logs, alert emails) have the identifiers replaced by
   ``[erased]`` (SQLite files are then vacuumed), MLflow input examples holding one of the customer's feature
   rows are replaced by representative rows that are no customer's;
4. the customer's salted hash goes on the **suppression list** (re-delivered rows are dropped at ingestion,
   nobody on it is ever contacted or written to a CRM again) and the erasure into the **audit log**;
5. **verification**: every file is searched, byte for byte, for the id and email (and the name, when no other
   customer has it); any hit makes the erasure fail, naming the files.

Identifiers are matched whole (not inside a longer word or id). The warehouse must not be held by a running
pipeline (DuckDB has one writer): the erasure says so and changes nothing.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from churn_platform.lib import audit
from churn_platform.lib.erasure import Suppression
from churn_platform.settings import PROJECT_ROOT, Settings

REDACTED = "[erased]"
SQLITE_HEADER = b"SQLite format 3\x00"
TEXT_SUFFIXES = {
    ".json", ".jsonl", ".html", ".htm", ".txt", ".log", ".md", ".yaml", ".yml", ".eml", ".out", ".err", ".csv",
    ".tsv", ".xml", ".svg", ".toml", ".ini",
}  # fmt: skip
TOMBSTONE_TABLES = {"retention.send_ledger"}


class ErasureError(RuntimeError):
    """The erasure could not start (unknown customer, warehouse locked) or did not finish (names what remains)."""


@dataclass(frozen=True)
class Identifiers:
    """What identifies the customer in text: id, every email and name ever delivered for them."""

    customer_id: str
    emails: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # only names no other customer has (another's row must not be touched)
    shared_names: tuple[str, ...] = ()

    def all(self) -> list[str]:
        return [self.customer_id, *self.emails, *self.names]

    def patterns(self) -> list[re.Pattern[str]]:
        return [_pattern(v) for v in sorted(set(self.all()), key=len, reverse=True) if v]

    def byte_patterns(self) -> list[re.Pattern[bytes]]:
        return [
            re.compile(rb"(?<![A-Za-z0-9])" + re.escape(v.encode()) + rb"(?![A-Za-z0-9])")
            for v in sorted(set(self.all()), key=len, reverse=True)
            if v
        ]


def _pattern(value: str) -> re.Pattern[str]:
    return re.compile(r"(?<![A-Za-z0-9])" + re.escape(value) + r"(?![A-Za-z0-9])")


def redact(text: str, ids: Identifiers) -> str:
    for pattern in ids.patterns():
        text = pattern.sub(REDACTED, text)
    return text


@dataclass
class ErasureReport:
    customer_hash: str
    landing_files: int = 0
    landing_rows: int = 0
    warehouse_rows: dict[str, int] = field(default_factory=dict)
    tombstones: int = 0
    redacted_cells: int = 0
    files_rewritten: list[str] = field(default_factory=list)
    files_deleted: list[str] = field(default_factory=list)
    sqlite_cells: int = 0
    input_examples: int = 0
    marts_rebuilt: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "customer_hash": self.customer_hash,
            "landing_files": self.landing_files,
            "landing_rows": self.landing_rows,
            "warehouse_rows": sum(self.warehouse_rows.values()),
            "warehouse_tables": len(self.warehouse_rows),
            "ledger_tombstones": self.tombstones,
            "redacted_cells": self.redacted_cells + self.sqlite_cells,
            "files_rewritten": len(self.files_rewritten),
            "files_deleted": len(self.files_deleted),
            "input_examples_replaced": self.input_examples,
            "marts_rebuilt": self.marts_rebuilt,
        }


# --- finding the customer ----------------------------------------------------------------------------------


def _landing_files(landing: Path) -> Iterator[Path]:
    if landing.exists():
        for path in sorted(landing.rglob("*")):
            if path.is_file() and path.suffix in {".csv", ".parquet"}:
                yield path


def _read(path: Path) -> pa.Table:
    if path.suffix == ".parquet":
        return pq.read_table(path)
    header = path.open(encoding="utf-8", errors="replace").readline().strip().split(",")
    return pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types={h: pa.string() for h in header}, strings_can_be_null=True
        ),
    )


def find_identifiers(customer_id: str, settings: Settings) -> Identifiers:
    """Every email and name delivered for the customer (accounts landing files and raw.accounts)."""
    emails: set[str] = set()
    names: set[str] = set()
    all_names: dict[str, set[str]] = {}
    found = False
    for path in _landing_files(settings.landing):
        if "accounts" not in path.parts:
            continue
        try:
            table = _read(path)
        except (pa.ArrowInvalid, OSError):
            continue
        if "customer_id" not in table.column_names:
            continue
        frame = table.select(
            [c for c in ("customer_id", "name", "email") if c in table.column_names]
        ).to_pandas()
        mine = frame[frame["customer_id"].astype(str) == customer_id]
        found |= not mine.empty
        if "email" in mine:
            emails |= {str(e) for e in mine["email"].dropna()}
        if "name" in frame:
            for cid, name in zip(frame["customer_id"].astype(str), frame["name"], strict=True):
                if isinstance(name, str) and name:
                    all_names.setdefault(name, set()).add(cid)
    if settings.warehouse.exists():
        try:
            con = duckdb.connect(str(settings.warehouse), read_only=True)
        except duckdb.IOException as exc:
            raise ErasureError(_locked(settings.warehouse)) from exc
        try:
            has = con.execute(
                "select count(*) from information_schema.tables where table_schema = 'raw' and table_name = 'accounts'"
            ).fetchall()[0][0]
            if has:
                for cid, name, email in con.execute(
                    "select customer_id, name, email from raw.accounts"
                ).fetchall():
                    if str(cid) == customer_id:
                        found = True
                        if email:
                            emails.add(str(email))
                    if name:
                        all_names.setdefault(str(name), set()).add(str(cid))
        finally:
            con.close()
    if not found:
        raise ErasureError(
            f"customer {customer_id!r} is in no accounts file and not in raw.accounts: nothing to erase "
            "(check the id; an already erased customer cannot be found again)"
        )
    for name, owners in all_names.items():
        if customer_id in owners:
            names.add(name)
    unique = tuple(sorted(n for n in names if all_names[n] == {customer_id}))
    shared = tuple(sorted(n for n in names if all_names[n] != {customer_id}))
    return Identifiers(customer_id, tuple(sorted(emails)), unique, shared)


def _locked(warehouse: Path) -> str:
    return (
        f"the warehouse {warehouse} is held by another process (a pipeline run, or the UI materializing): "
        "wait until it finishes, then erase again. Nothing was changed."
    )


# --- files ---------------------------------------------------------------------------------------------------


def _replace_atomic(path: Path, write: Callable[[Path], None], keep_mtime: bool = False) -> None:
    stat = path.stat()
    tmp = path.with_name(f".{path.name}.erasing")
    write(tmp)
    os.chmod(tmp, stat.st_mode & 0o777)
    os.replace(tmp, path)
    if keep_mtime:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def _scrub_table(table: pa.Table, ids: Identifiers) -> tuple[pa.Table, int, int]:
    """Without the customer's rows and with identifiers cut out of strings; (table, rows dropped, cells changed)."""
    dropped = 0
    if "customer_id" in table.column_names:
        column = table.column("customer_id")
        mine = pc.fill_null(pc.equal(pc.cast(column, pa.string()), ids.customer_id), False)
        dropped = int(pc.sum(mine).as_py() or 0)
        if dropped:
            table = table.filter(pc.invert(mine))
    changed = 0
    patterns = ids.patterns()
    for i, name in enumerate(table.column_names):
        col = table.column(i)
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            continue
        if not any(pc.any(pc.match_substring(col, v)).as_py() for v in ids.all() if v):
            continue
        values = col.to_pylist()
        new = []
        for v in values:
            if isinstance(v, str) and any(p.search(v) for p in patterns):
                changed += 1
                v = redact(v, ids)
            new.append(v)
        table = table.set_column(i, name, pa.array(new, type=col.type))
    return table, dropped, changed


def _write_table(path: Path, table: pa.Table, keep_mtime: bool = False) -> None:
    if path.suffix == ".parquet":
        _replace_atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"), keep_mtime)
    else:
        _replace_atomic(path, lambda tmp: pacsv.write_csv(table, tmp), keep_mtime)


def _rewrite_table_file(
    path: Path,
    ids: Identifiers,
    keep_mtime: bool = False,
    delete_if_empty: bool = False,
    before_change: Callable[[Path], None] | None = None,
) -> tuple[int, int, bool]:
    """Rewrite a Parquet or CSV file without the customer; returns (rows dropped, cells changed, deleted).

    ``before_change(path)`` runs only when the file is about to change (e.g. to hash its old content).
    """
    table = _read(path)
    scrubbed, dropped, changed = _scrub_table(table, ids)
    if not dropped and not changed:
        return 0, 0, False
    if before_change is not None:
        before_change(path)
    if delete_if_empty and scrubbed.num_rows == 0:
        path.unlink()
        return dropped, changed, True
    _write_table(path, scrubbed, keep_mtime)
    return dropped, changed, False


def _scrub_landing(settings: Settings, ids: Identifiers, report: ErasureReport) -> dict[str, str | None]:
    """The customer's rows out of every landing file; returns old content hash -> new hash (None: deleted)."""
    from churn_platform.lib.ingest import file_hash

    rehashed: dict[str, str | None] = {}
    for path in _landing_files(settings.landing):
        old: list[str] = []
        try:
            dropped, changed, deleted = _rewrite_table_file(
                path,
                ids,
                keep_mtime=True,
                delete_if_empty=True,
                before_change=lambda f, seen=old: seen.append(file_hash(f)),  # type: ignore[misc]
            )
        except (pa.ArrowInvalid, OSError):
            continue  # an unreadable file was rejected at ingestion and holds nothing loaded; verification checks it
        if dropped or changed:
            report.landing_files += 1
            report.landing_rows += dropped
            rehashed[old[0]] = None if deleted else file_hash(path)
            (report.files_deleted if deleted else report.files_rewritten).append(str(path))
    return rehashed


def _scrub_sqlite(path: Path, ids: Identifiers) -> int:
    """Identifiers replaced in every text cell of an SQLite database, then VACUUM (no free page keeps them)."""
    changed = 0
    values = [v for v in ids.all() if v]
    with closing(sqlite3.connect(path, timeout=60)) as con:
        con.execute("pragma wal_checkpoint(truncate)")
        tables = [
            r[0]
            for r in con.execute(
                "select name from sqlite_master where type = 'table' and name not like 'sqlite_%'"
            )
        ]
        for table in tables:
            columns = [r[1] for r in con.execute(f'pragma table_info("{table}")')]
            for column in columns:
                where = " or ".join(f'instr(cast("{column}" as text), ?) > 0' for _ in values)
                try:
                    rows = con.execute(
                        f'select rowid, "{column}" from "{table}" where {where}', values
                    ).fetchall()
                except sqlite3.OperationalError:  # WITHOUT ROWID tables: none of the stores we know
                    continue
                for rowid, value in rows:
                    if isinstance(value, bytes):
                        new: str | bytes = _redact_bytes(value, ids)
                    else:
                        new = redact(str(value), ids)
                    if new != value:
                        con.execute(f'update "{table}" set "{column}" = ? where rowid = ?', [new, rowid])
                        changed += 1
        con.commit()
        if changed:
            con.execute("vacuum")
    return changed


def _redact_bytes(data: bytes, ids: Identifiers) -> bytes:
    for pattern in ids.byte_patterns():
        data = pattern.sub(REDACTED.encode(), data)
    return data


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(16) == SQLITE_HEADER


def _is_duckdb(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(12)[8:12] == b"DUCK"


def _input_example(path: Path, features: pd.DataFrame) -> bool:
    """Replace an MLflow input example that holds one of the customer's feature rows; True when replaced."""
    from ml.tracking import representative_rows

    doc = json.loads(path.read_text())
    wrapped = "dataframe_split" in doc
    split = doc["dataframe_split"] if wrapped else doc
    if not isinstance(split, dict) or "columns" not in split or "data" not in split or features.empty:
        return False
    example = pd.DataFrame(split["data"], columns=split["columns"])
    shared = [c for c in example.columns if c in features.columns]
    if not shared:
        return False

    def same(a: Any, b: Any) -> bool:
        if (
            a is None
            or b is None
            or (isinstance(a, float) and np.isnan(a))
            or (isinstance(b, float) and np.isnan(b))
        ):
            return (a is None or (isinstance(a, float) and np.isnan(a))) and (
                b is None or (isinstance(b, float) and np.isnan(b))
            )
        if isinstance(a, int | float) and isinstance(b, int | float | np.number):
            return bool(np.isclose(float(a), float(b), rtol=1e-9, atol=1e-9))
        return str(a) == str(b)

    theirs = features[shared].to_dict("records")
    hit = any(
        all(same(row[c], f[c]) for c in shared) for row in example[shared].to_dict("records") for f in theirs
    )
    if not hit:
        return False
    replacement = representative_rows(example)
    new_split = json.loads(replacement.to_json(orient="split", index=False))
    new_split.pop("index", None)
    payload = {"dataframe_split": new_split} if wrapped else new_split
    _replace_atomic(path, lambda tmp: _write_text(tmp, json.dumps(payload)))
    return True


def _write_text(path: Path, text: str) -> None:
    path.write_text(text)


def _rewrite_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _scrub_files(
    roots: list[Path],
    skip: set[Path],
    ids: Identifiers,
    features: pd.DataFrame,
    report: ErasureReport,
    messages: tuple[Path, ...] = (),
) -> None:
    """``messages``: folders of messages named by their ledger key (the outbox): the customer's are deleted."""
    boxes = [m.resolve() for m in messages]
    for path in _walk(roots, skip):
        name = path.name
        in_box = any(b == path.resolve().parent or b in path.resolve().parents for b in boxes)
        if _pattern(ids.customer_id).search(name) and (in_box or path.suffix == ".eml"):
            path.unlink()  # a message to the customer (email, SMS, in-app), named by its ledger key
            report.files_deleted.append(str(path))
            continue
        try:
            if _is_sqlite(path):
                n = _scrub_sqlite(path, ids)
                report.sqlite_cells += n
                if n:
                    report.files_rewritten.append(str(path))
                continue
            if _is_duckdb(path):
                continue  # the warehouse is handled on its own; another DuckDB file is reported by verification
            if name in {"input_example.json", "serving_input_example.json"} and _input_example(
                path, features
            ):
                report.input_examples += 1
                report.files_rewritten.append(str(path))
            if path.suffix in {".parquet", ".csv"}:
                dropped, changed, _ = _rewrite_table_file(path, ids)
                if dropped or changed:
                    report.files_rewritten.append(str(path))
                    report.redacted_cells += changed
                continue
            if path.suffix in TEXT_SUFFIXES or path.suffix == "":
                data = path.read_bytes()
                if b"\x00" in data[:4096] and path.suffix == "":
                    continue  # binary without a suffix: verification decides
                new = _redact_bytes(data, ids)
                if new != data:
                    _replace_atomic(path, functools.partial(_rewrite_bytes, data=new))
                    report.files_rewritten.append(str(path))
        except (OSError, ValueError, pa.ArrowInvalid, sqlite3.DatabaseError):
            continue  # left for verification to report


def _walk(roots: list[Path], skip: set[Path]) -> Iterator[Path]:
    seen: set[Path] = set()
    for root in roots:
        if not root.exists():
            continue
        for path in sorted(root.rglob("*")) if root.is_dir() else [root]:
            resolved = path.resolve()
            if resolved in seen or not path.is_file() or path.is_symlink():
                continue
            if any(resolved == s or s in resolved.parents for s in skip):
                continue
            seen.add(resolved)
            yield path


# --- the warehouse -----------------------------------------------------------------------------------------


def _scrub_warehouse(
    warehouse: Path, ids: Identifiers, tombstone: str, rehashed: dict[str, str | None], report: ErasureReport
) -> pd.DataFrame:
    """Delete, tombstone and redact in one transaction; returns the customer's feature rows (for input examples)."""
    try:
        con = duckdb.connect(str(warehouse))
    except duckdb.IOException as exc:
        raise ErasureError(_locked(warehouse)) from exc
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        columns: dict[str, list[tuple[str, str]]] = {}
        for schema, table, column, kind in con.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns"
        ).fetchall():
            columns.setdefault(f"{schema}.{table}", []).append((column, kind))
        features = pd.DataFrame()
        if ("main", "fct_customer_features") in tables:
            features = con.execute(
                "select * from fct_customer_features where customer_id = ?", [ids.customer_id]
            ).df()
        con.execute("begin transaction")
        for schema, table in tables:
            name = f'"{schema}"."{table}"'
            key = f"{schema}.{table}"
            cols = dict(columns.get(key, []))
            if "customer_id" in cols:
                if key in TOMBSTONE_TABLES:
                    n = con.execute(
                        f"select count(*) from {name} where customer_id = ?", [ids.customer_id]
                    ).fetchall()[0][0]
                    if n:
                        sets = ["customer_id = ?"] + [
                            f'"{c}" = null' for c in ("message_id", "last_error") if c in cols
                        ]
                        con.execute(
                            f"update {name} set {', '.join(sets)} where customer_id = ?",
                            [tombstone, ids.customer_id],
                        )
                        report.tombstones += int(n)
                else:
                    n = con.execute(
                        f"delete from {name} where customer_id = ?", [ids.customer_id]
                    ).fetchall()[0][0]
                    if n:
                        report.warehouse_rows[key] = int(n)
            if key == "raw._quarantine":
                n = con.execute(
                    f"delete from {name} where json_extract_string(record, '$.customer_id') = ?",
                    [ids.customer_id],
                ).fetchall()[0][0]
                if n:
                    report.warehouse_rows[key] = report.warehouse_rows.get(key, 0) + int(n)
            if key == "raw._ingested_files" and rehashed:
                for old, new in rehashed.items():
                    if new is not None:
                        con.execute(f"update {name} set file_hash = ? where file_hash = ?", [new, old])
            values = [v for v in ids.all() if v]
            regex = r"(^|[^A-Za-z0-9])(" + "|".join(re.escape(v) for v in values) + r")([^A-Za-z0-9]|$)"
            for column, kind in cols.items():
                if kind not in ("VARCHAR", "JSON"):
                    continue
                cheap = " or ".join(f'contains("{column}"::varchar, ?)' for _ in values)
                n = con.execute(
                    f'update {name} set "{column}" = regexp_replace("{column}"::varchar, ?, ?, \'g\') '
                    f'where ({cheap}) and regexp_matches("{column}"::varchar, ?)',
                    [regex, rf"\1{REDACTED}\3", *values, regex],
                ).fetchall()[0][0]
                report.redacted_cells += int(n)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.close()
    return features


def _rebuild_marts(warehouse: Path) -> bool:
    """``dbt run`` on the cleaned raw tables (its own target folder: Dagster's manifest stays as it is)."""
    from churn_platform.profile import active_profile

    dbt = Path(sys.executable).with_name("dbt")
    project = PROJECT_ROOT / "dbt_project"
    with tempfile.TemporaryDirectory(prefix="erase-dbt-") as tmp:
        result = subprocess.run(
            [str(dbt if dbt.exists() else "dbt"), "run", "--project-dir", str(project), "--profiles-dir", str(project),
             "--target-path", f"{tmp}/target", "--log-path", f"{tmp}/logs", "--quiet", "--vars", json.dumps(active_profile().dbt_vars())],
            env={**os.environ, "CHURN_WAREHOUSE_PATH": str(warehouse)},
            capture_output=True,
            text=True,
            cwd=project,
            check=False,
        )  # fmt: skip
    if result.returncode != 0:
        raise ErasureError(
            f"rebuilding the marts failed (dbt run exit {result.returncode}): {result.stdout[-500:]}"
        )
    return True


def _compact(warehouse: Path) -> None:
    """Rewrite the DuckDB file from its live contents: deleted rows must not survive in free blocks."""
    fresh = warehouse.with_name(f".{warehouse.name}.erasing")
    fresh.unlink(missing_ok=True)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("checkpoint")
        con.execute(f"attach '{fresh}' as fresh")
        current = con.execute("select current_database()").fetchall()[0][0]
        con.execute(f'copy from database "{current}" to fresh')
        con.execute("detach fresh")
    finally:
        con.close()
    os.replace(fresh, warehouse)
    Path(f"{warehouse}.wal").unlink(missing_ok=True)


# --- verification -------------------------------------------------------------------------------------------


def remaining(roots: list[Path], ids: Identifiers) -> list[str]:
    """Files whose bytes still hold the id, an email or a unique name (or whose name holds the id)."""
    needles = [v.encode() for v in ids.all() if v]
    hits = []
    for path in _walk(roots, set()):
        if ids.customer_id in path.name:
            hits.append(f"{path} (file name)")
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if any(n in data for n in needles) and any(p.search(data) for p in ids.byte_patterns()):
            hits.append(str(path))
    return hits


def _store_roots(settings: Settings) -> list[Path]:
    roots = [
        settings.data_dir,
        settings.landing,
        settings.outbox,
        settings.dagster,
        settings.warehouse.parent,
    ]
    uri = settings.mlflow_uri
    if uri.startswith("sqlite:///"):
        roots.append(Path(uri.removeprefix("sqlite:///")))
    roots.append(settings.mlflow_artifacts)
    out: list[Path] = []
    for root in roots:
        if root not in out:
            out.append(root)
    return out


def erase_customer(
    customer_id: str, reason: str, settings: Settings, actor: str, rebuild_marts: bool = True
) -> ErasureReport:
    """Erase one customer everywhere (see the module docstring); raises ErasureError naming what remains."""
    if not reason.strip():
        raise ErasureError(
            "an erasure needs a reason (e.g. 'GDPR request 2025-09-01 #1234'): it goes to the audit log"
        )
    ids = find_identifiers(customer_id, settings)
    suppression = Suppression(settings.privacy)
    digest = suppression.digest(customer_id)
    tombstone = f"erased:{digest[:32]}"
    report = ErasureReport(digest)
    roots = _store_roots(settings)
    # the suppression list first: a landing sensor or ingestion racing the erasure already drops the rows
    suppression.add(customer_id)
    rehashed = _scrub_landing(settings, ids, report)
    features = pd.DataFrame()
    if settings.warehouse.exists():
        features = _scrub_warehouse(settings.warehouse, ids, tombstone, rehashed, report)
        if rebuild_marts:
            report.marts_rebuilt = _rebuild_marts(settings.warehouse)
        _compact(settings.warehouse)
    skip = {
        settings.warehouse.resolve(),
        settings.privacy.resolve(),
        settings.audit_db.resolve(),
        settings.landing.resolve(),
    }
    _scrub_files(roots, skip, ids, features, report, messages=(settings.outbox,))
    left = remaining(roots, ids)
    audit.record(
        settings.audit_db,
        actor,
        "erasure",
        role="admin",
        reason=redact(reason, ids),
        complete=not left,
        **report.summary(),
    )
    if left:
        raise ErasureError(
            f"customer erased from the warehouse and {len(report.files_rewritten)} files, but their identifiers "
            f"remain in {len(left)} file(s): {', '.join(left[:10])}"
        )
    return report


__all__ = ["ErasureError", "ErasureReport", "Identifiers", "erase_customer", "find_identifiers", "remaining"]
