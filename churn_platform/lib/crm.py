"""Scores written back to the CRM: risk, tier, top reason, value band and next best action, by external id.

One row per customer of the latest scoring (:func:`writeback_rows`, the same SQL as the dashboard's worklist,
without personal data) goes to each configured CRM through a writer in :data:`WRITERS` (HubSpot's batch
upsert API, Salesforce's Bulk API upsert). A ledger per CRM and snapshot (``crm.writeback_ledger``, keyed by
crm, customer and snapshot) makes the write-back exactly once: a customer already written for a snapshot is
never sent again, whatever re-runs, retries and crashes happen. Per request, 429, 5xx and no answer are retried
with backoff; per record, a failure the CRM calls transient (a locked row, a rate limit) is retried in the
next round and a refusal (a validation error) is kept with its reason. What is still pending after the last
round stays pending for the next run. Tokens never reach a log, the ledger or an error message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pandas as pd

from churn_platform.lib.retention.delivery import PermanentError, TransientError, with_retries

LEDGER_DDL = """
create schema if not exists crm;
create table if not exists crm.writeback_ledger (
    crm varchar not null,
    customer_id varchar not null,
    snapshot_date date not null,
    status varchar not null,          -- pending | written | failed
    attempts integer default 0,
    payload_sha256 varchar,
    remote_id varchar,
    last_error varchar,
    queued_at timestamp,
    written_at timestamp,
    primary key (crm, customer_id, snapshot_date)
);
"""

FIELDS = (
    "churn_probability", "risk_tier", "top_reason", "value_band", "next_best_action", "model_version",
    "snapshot_date",
)  # fmt: skip
"""What each CRM record receives, besides the external id (``customer_id``)."""


def next_best_action(row: dict[Any, Any]) -> str:
    """The retention decision in a few words for a CRM field: ``intervention: offer``, control, or why none."""
    decision = row.get("decision")
    if decision == "treat":
        offer = row.get("offer")
        return f"{row.get('intervention')}: {offer}" if offer else str(row.get("intervention"))
    if decision == "control":
        return "none: held out as control"
    if decision == "skip":
        return f"none: {row.get('decision_reason') or 'skipped'}"
    return "none: low risk" if row.get("risk_tier") == "low" else "none: not decided (tier did not rise)"


def writeback_rows(warehouse: Path) -> pd.DataFrame:
    """One row per customer of the latest scoring: ``customer_id`` and :data:`FIELDS`, no personal data."""
    from churn_platform.lib.dashboard_publish import existing_tables, worklist_sql
    from churn_platform.lib.ml_pipeline import read_table

    worklist = read_table(warehouse, worklist_sql(existing_tables(warehouse)))
    out = pd.DataFrame(
        {
            "customer_id": worklist["customer_id"].astype(str),
            "churn_probability": worklist["churn_probability"].astype(float).round(4),
            "risk_tier": worklist["risk_tier"].astype(str),
            "top_reason": worklist["reason_1"].astype(object).where(worklist["reason_1"].notna()),
            "value_band": worklist["value_band"].astype(object).where(worklist["value_band"].notna()),
            "next_best_action": [next_best_action(r) for r in worklist.to_dict("records")],
            "model_version": worklist["model_version"].astype(str),
            "snapshot_date": pd.to_datetime(worklist["snapshot_date"]).dt.date,
        }
    )
    return out.sort_values("customer_id").reset_index(drop=True)


def export_rows(rows: pd.DataFrame, folder: Path) -> dict[str, Path]:
    """``crm_scores.parquet`` and ``crm_scores.csv`` for any other reverse-ETL tool, replaced atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"parquet": folder / "crm_scores.parquet", "csv": folder / "crm_scores.csv"}
    for kind, path in paths.items():
        tmp = path.with_name(f".{path.name}.tmp")
        if kind == "parquet":
            rows.to_parquet(tmp, index=False)
        else:
            rows.to_csv(tmp, index=False)
        os.replace(tmp, path)
    return paths


# --- writers ---------------------------------------------------------------------------------------------


@dataclass
class BatchResult:
    """What the CRM said about each record of one request."""

    written: dict[str, str] = field(default_factory=dict)  # customer_id -> the CRM's record id
    retry: dict[str, str] = field(default_factory=dict)  # customer_id -> transient reason
    refused: dict[str, str] = field(default_factory=dict)  # customer_id -> permanent reason


class CrmWriter(Protocol):
    name: str
    batch_size: int

    def upsert(self, records: list[dict[str, Any]]) -> BatchResult:
        """Upsert records (``customer_id`` + :data:`FIELDS`) by external id; raise ``TransientError`` when the
        whole request was not accepted (429, 5xx, no answer) and ``PermanentError`` when it was refused."""
        ...


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


class HubSpotWriter:
    """HubSpot's batch upsert (``POST /crm/v3/objects/{object}/batch/upsert``) by a unique property.

    ``properties``: our field -> HubSpot property (custom properties the portal defines, e.g. ``churn_risk_tier``).
    """

    name = "hubspot"

    def __init__(
        self,
        access_token: str,
        host: str = "https://api.hubapi.com",
        object_type: str = "companies",
        id_property: str = "churn_customer_id",
        batch_size: int = 100,
        timeout: float = 30.0,
    ) -> None:
        import importlib

        from hubspot import HubSpot

        self._api = getattr(
            HubSpot(access_token=access_token, host=host.rstrip("/")).crm, object_type
        ).batch_api
        self._models = importlib.import_module(f"hubspot.crm.{object_type}")
        self.id_property = id_property
        self.batch_size = min(batch_size, 100)  # HubSpot takes at most 100 inputs per batch call
        self.timeout = timeout

    @staticmethod
    def properties(record: dict[str, Any]) -> dict[str, str]:
        return {f"churn_{k}" if not k.startswith("churn_") else k: _text(record.get(k)) for k in FIELDS}

    def upsert(self, records: list[dict[str, Any]]) -> BatchResult:
        m = self._models
        inputs = [
            m.SimplePublicObjectBatchInputUpsert(
                id_property=self.id_property,
                id=str(r["customer_id"]),
                object_write_trace_id=str(r["customer_id"]),
                properties=self.properties(r),
            )
            for r in records
        ]
        try:
            response = self._api.upsert(
                batch_input_simple_public_object_batch_input_upsert=m.BatchInputSimplePublicObjectBatchInputUpsert(
                    inputs=inputs
                ),
                _request_timeout=self.timeout,
            )
        except m.ApiException as exc:
            status = int(exc.status or 0)
            if status == 429 or status >= 500 or status == 0:
                raise TransientError(f"HubSpot answered {status or 'nothing'}") from None
            raise PermanentError(f"HubSpot refused the batch: {status} {str(exc.body or '')[:200]}") from None
        except Exception as exc:  # urllib3 timeouts and connection errors
            raise TransientError(f"no answer from HubSpot: {type(exc).__name__}") from None
        out = BatchResult()
        asked = {str(r["customer_id"]) for r in records}
        for result in response.results or []:
            key = result.object_write_trace_id or (result.properties or {}).get(self.id_property)
            if key in asked:
                out.written[str(key)] = str(result.id)
        for error in getattr(response, "errors", None) or []:
            ids = [v for values in (error.context or {}).values() for v in values if v in asked]
            transient = (error.category or "") not in {
                "VALIDATION_ERROR",
                "INVALID_PROPERTY",
                "OBJECT_NOT_FOUND",
            }
            for key in ids:
                if key in out.written:
                    continue
                reason = f"{error.category}: {error.message}"[:300]
                (out.retry if transient else out.refused)[key] = reason
        for key in asked - set(out.written) - set(out.retry) - set(out.refused):
            out.retry[key] = "not in HubSpot's answer"
        return out


class SalesforceWriter:
    """Salesforce's Bulk API upsert by an external id field (``simple-salesforce``'s ``sf.bulk.<Object>``)."""

    name = "salesforce"
    TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE"})

    def __init__(
        self,
        instance_url: str | None = None,
        session_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        security_token: str | None = None,
        domain: str = "login",
        object_name: str = "Account",
        external_id_field: str = "Churn_Customer_Id__c",
        batch_size: int = 10_000,
        field_prefix: str = "Churn_",
    ) -> None:
        from simple_salesforce import Salesforce

        if session_id and instance_url:
            sf = Salesforce(instance_url=instance_url, session_id=session_id)
        else:
            sf = Salesforce(
                username=username, password=password, security_token=security_token, domain=domain
            )
        if instance_url and instance_url.startswith("http://"):
            # a local stand-in of Salesforce (tests): the library builds https URLs from the host
            sf.bulk_url = sf.bulk_url.replace("https://", "http://", 1)
        self._sf = sf
        self.object_name = object_name
        self.external_id_field = external_id_field
        self.batch_size = min(batch_size, 10_000)
        self.field_prefix = field_prefix

    def record(self, r: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {self.external_id_field: str(r["customer_id"])}
        for k in FIELDS:
            name = "".join(part.capitalize() for part in k.split("_"))
            out[f"{self.field_prefix}{name}__c"] = _text(r.get(k))
        return out

    def upsert(self, records: list[dict[str, Any]]) -> BatchResult:
        from simple_salesforce.exceptions import SalesforceError

        handler = getattr(self._sf.bulk, self.object_name)
        try:
            results = handler.upsert(
                [self.record(r) for r in records], self.external_id_field, batch_size=len(records)
            )
        except SalesforceError as exc:
            status = int(getattr(exc, "status", 0) or 0)
            if status in {429, 503} or status >= 500:
                raise TransientError(f"Salesforce answered {status}") from None
            raise PermanentError(f"Salesforce refused the job: {status} {str(exc.content)[:200]}") from None
        except Exception as exc:  # requests' connection errors and timeouts
            raise TransientError(f"no answer from Salesforce: {type(exc).__name__}") from None
        out = BatchResult()
        # Bulk API results come in the order of the records sent
        for record, result in zip(records, list(results), strict=True):
            key = str(record["customer_id"])
            if result.get("success"):
                out.written[key] = str(result.get("id") or "")
                continue
            errors = result.get("errors") or []
            codes = {str(e.get("statusCode")) for e in errors if isinstance(e, dict)}
            reason = "; ".join(
                f"{e.get('statusCode')}: {e.get('message')}" for e in errors if isinstance(e, dict)
            )
            (out.retry if codes & self.TRANSIENT_CODES or not codes else out.refused)[key] = reason[:300]
        return out


WRITERS: dict[str, Callable[..., CrmWriter]] = {"hubspot": HubSpotWriter, "salesforce": SalesforceWriter}
"""The CRMs a score can be written back to; an unknown name is an error."""


def writer_for(name: str, **options: Any) -> CrmWriter:
    if name not in WRITERS:
        raise ValueError(f"unknown CRM {name!r}; known: {', '.join(sorted(WRITERS))}")
    return WRITERS[name](**options)


# --- the ledger and the write-back ------------------------------------------------------------------------


@dataclass
class WritebackReport:
    crm: str
    queued: int = 0
    written: int = 0
    refused: int = 0
    still_pending: int = 0
    already_written: int = 0
    requests: int = 0
    request_retries: int = 0
    record_retries: int = 0
    errors: dict[str, int] = field(default_factory=dict)


def _payload_hash(record: dict[Any, Any]) -> str:
    return hashlib.sha256(
        json.dumps({k: _text(record.get(k)) for k in FIELDS}, sort_keys=True).encode()
    ).hexdigest()


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    for statement in LEDGER_DDL.split(";"):
        if statement.strip():
            con.execute(statement)


def write_back(
    warehouse: Path,
    writer: CrmWriter,
    rows: pd.DataFrame,
    rounds: int = 10,
    backoff_seconds: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    skip: Callable[[str], bool] | None = None,
) -> WritebackReport:
    """Queue ``rows`` (one snapshot) in the ledger and write every pending record of that snapshot once.

    Each request's outcome is committed before the next request: a crash loses at most one request's
    knowledge. ``skip(customer_id)``: customers never to be written (erased).
    """
    report = WritebackReport(writer.name)
    if rows.empty:
        return report
    snapshot = rows["snapshot_date"].max()
    rows = rows[rows["snapshot_date"] == snapshot]
    if skip is not None:
        rows = rows[~rows["customer_id"].map(skip)]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con = duckdb.connect(str(warehouse))
    try:
        ensure_ledger(con)
        queue = pd.DataFrame(
            {
                "crm": writer.name,
                "customer_id": rows["customer_id"],
                "snapshot_date": pd.to_datetime(rows["snapshot_date"]),
                "status": "pending",
                "attempts": 0,
                "payload_sha256": [_payload_hash(r) for r in rows.to_dict("records")],
                "queued_at": now,
            }
        )
        con.register("incoming", queue)
        before = con.execute("select count(*) from crm.writeback_ledger").fetchall()[0][0]
        con.execute(
            "insert into crm.writeback_ledger (crm, customer_id, snapshot_date, status, attempts, payload_sha256, "
            "queued_at) select * from incoming on conflict do nothing"
        )
        con.unregister("incoming")
        report.queued = int(
            con.execute("select count(*) from crm.writeback_ledger").fetchall()[0][0] - before
        )
        report.already_written = int(
            con.execute(
                "select count(*) from crm.writeback_ledger where crm = ? and snapshot_date = ? and status = 'written'",
                [writer.name, pd.Timestamp(snapshot)],
            ).fetchall()[0][0]
        )
        by_id = {str(r["customer_id"]): r for r in rows.to_dict("records")}
        for round_number in range(rounds):
            pending = [
                str(c)
                for (c,) in con.execute(
                    "select customer_id from crm.writeback_ledger where crm = ? and snapshot_date = ? "
                    "and status = 'pending' order by customer_id",
                    [writer.name, pd.Timestamp(snapshot)],
                ).fetchall()
                if str(c) in by_id
            ]
            if not pending:
                break
            if round_number:
                report.record_retries += len(pending)
                sleep(backoff_seconds * 2 ** (round_number - 1))
            for start in range(0, len(pending), writer.batch_size):
                batch = [by_id[c] for c in pending[start : start + writer.batch_size]]
                tried = with_retries(lambda b=batch: writer.upsert(b), 5, backoff_seconds, sleep)  # type: ignore[misc]
                report.requests += tried.attempts
                report.request_retries += len(tried.transient_errors)
                for error in tried.transient_errors:
                    kind = error.split(":")[0]
                    report.errors[kind] = report.errors.get(kind, 0) + 1
                _record(con, writer.name, snapshot, batch, tried.value, tried.error, tried.permanent_error)
        counts = dict(
            con.execute(
                "select status, count(*) from crm.writeback_ledger where crm = ? and snapshot_date = ? group by 1",
                [writer.name, pd.Timestamp(snapshot)],
            ).fetchall()
        )
    finally:
        con.close()
    report.written = int(counts.get("written", 0)) - report.already_written
    report.refused = int(counts.get("failed", 0))
    report.still_pending = int(counts.get("pending", 0))
    return report


def _record(
    con: duckdb.DuckDBPyConnection,
    crm: str,
    snapshot: Any,
    batch: list[dict[Any, Any]],
    result: BatchResult | None,
    error: str | None,
    refused_whole: str | None,
) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    day = pd.Timestamp(snapshot)
    con.execute("begin transaction")
    try:
        for record in batch:
            key = str(record["customer_id"])
            where = [crm, key, day]
            if result is not None and key in result.written:
                con.execute(
                    "update crm.writeback_ledger set status = 'written', attempts = attempts + 1, remote_id = ?, "
                    "written_at = ?, last_error = null where crm = ? and customer_id = ? and snapshot_date = ?",
                    [result.written[key], now, *where],
                )
            elif result is not None and key in result.refused:
                con.execute(
                    "update crm.writeback_ledger set status = 'failed', attempts = attempts + 1, last_error = ? "
                    "where crm = ? and customer_id = ? and snapshot_date = ?",
                    [result.refused[key], *where],
                )
            elif refused_whole is not None:
                con.execute(
                    "update crm.writeback_ledger set status = 'failed', attempts = attempts + 1, last_error = ? "
                    "where crm = ? and customer_id = ? and snapshot_date = ?",
                    [refused_whole, *where],
                )
            else:
                reason = (result.retry.get(key) if result is not None else None) or error or "not written"
                con.execute(
                    "update crm.writeback_ledger set attempts = attempts + 1, last_error = ? "
                    "where crm = ? and customer_id = ? and snapshot_date = ?",
                    [reason, *where],
                )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
