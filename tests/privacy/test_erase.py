"""Erasure on a small simulated company run through the real pipeline: after ``churn-platform erase`` a byte
search of the whole data folder (warehouse, landing, outbox, exports, published snapshots, reports, the MLflow
store and Dagster's storage) finds neither the customer's id, email nor name, and a re-delivery is dropped."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from churn_platform.settings import PROJECT_ROOT
from tests.conftest import make_company
from tests.crm.fakes import fake_hubspot, fake_salesforce


def byte_hits(root: Path, needles: list[str]) -> dict[str, list[str]]:
    """needle -> files whose raw bytes (or whose name) contain it, anywhere under ``root``."""
    hits: dict[str, list[str]] = {n: [] for n in needles}
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        for needle in needles:
            if needle.encode() in data or needle in path.name:
                hits[needle].append(str(path.relative_to(root)))
    return {n: files for n, files in hits.items() if files}


def decoded_hits(root: Path, needles: list[str]) -> list[str]:
    """What a byte search cannot see: compressed Parquet pages and DuckDB's compressed columns, read back."""
    found = []
    for path in root.rglob("*.parquet"):
        table = pq.read_table(path)
        text = table.to_pandas().astype(str).to_csv(index=False)
        found += [f"{path.relative_to(root)}: {n}" for n in needles if n in text]
    for path in root.rglob("*.duckdb"):
        con = duckdb.connect(str(path), read_only=True)
        try:
            for schema, table in con.execute(
                "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
            ).fetchall():
                text = con.execute(f'select * from "{schema}"."{table}"').df().astype(str).to_csv(index=False)
                found += [f"{path.name}:{schema}.{table}: {n}" for n in needles if n in text]
        finally:
            con.close()
    return found


def _policy(tmp: Path) -> Path:
    doc = yaml.safe_load((PROJECT_ROOT / "churn_platform" / "policies" / "churn_policy.yaml").read_text())
    doc["promotion"]["floor"] = 0.5  # a tiny company: the first model only needs to beat chance
    path = tmp / "policy.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _one(warehouse: Path, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_erase_leaves_no_byte_of_the_customer_and_drops_a_redelivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from churn_platform.cli import app
    from churn_platform.definitions import defs
    from churn_platform.lib.environment import prepare_dagster_home

    root = tmp_path / "data"
    make_company(root, customers=500, months=7, seed=5, file_format="csv")
    for name, value in {
        "CHURN_DATA_DIR": str(root), "CHURN_POLICY_PATH": str(_policy(tmp_path)),
        "CHURN_ALERT_EMAILS": "owners@churn-platform.local", "CHURN_CRM_BACKOFF_SECONDS": "0.01",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    with (
        fake_hubspot(fault_rate=0.3, seed=2) as hubspot,
        fake_salesforce(fault_rate=0.3, seed=3) as salesforce,
    ):
        monkeypatch.setenv("CHURN_HUBSPOT_ACCESS_TOKEN", hubspot.token)
        monkeypatch.setenv("CHURN_HUBSPOT_HOST", hubspot.url)
        monkeypatch.setenv("CHURN_SALESFORCE_INSTANCE_URL", salesforce.url)
        monkeypatch.setenv("CHURN_SALESFORCE_SESSION_ID", salesforce.token)
        loaded = defs()
        job = loaded.resolve_implicit_global_asset_job_def()
        with dg.DagsterInstance.from_config(str(prepare_dagster_home(root / "dagster"))) as instance:
            result = job.execute_in_process(instance=instance, raise_on_error=False)
        assert result.success, [e.message for e in result.all_events if e.is_step_failure]
        # the CRM write-back assets under 30% faults: every scored customer written once to each CRM
        scored = {
            str(c) for (c,) in _one(root / "warehouse.duckdb", "select customer_id from ml.churn_scores")
        }
        for crm, fake in (("hubspot", hubspot), ("salesforce", salesforce)):
            counts = Counter(fake.written_ids())
            print(
                f"\n{crm} (Dagster asset, 30% faults): {len(scored)} scored customers, {len(fake.writes)} writes, "
                f"{len(counts)} distinct, max per customer {max(counts.values())}, {fake.requests} requests, "
                f"{fake.rejected_requests} answered 429, {fake.failed_records} records failed transiently"
            )
            assert set(counts) == scored
            assert max(counts.values()) == 1
            assert fake.rejected_requests + fake.failed_records > 0
    warehouse = root / "warehouse.duckdb"
    # the riskiest treated customer (in the send ledger, the outbox and the scoring run's metadata in Dagster)
    # whose name no other customer has
    cid, name, email = _one(
        warehouse,
        """select a.customer_id, any_value(a.name), any_value(a.email) from raw.accounts a
           join retention.send_ledger l using (customer_id)
           join ml.churn_scores s using (customer_id)
           where l.status = 'sent' and l.channel = 'email'
             and a.name in (select name from raw.accounts group by name having count(distinct customer_id) = 1)
           group by 1 order by max(s.churn_probability) desc, 1 limit 1""",
    )[0]
    needles = [str(cid), str(email), str(name)]
    original = {
        source: pd.concat(
            [pd.read_csv(p, dtype=str) for p in sorted((root / "landing" / source).rglob("*.csv"))]
        )
        for source in ("accounts", "usage_events")
    }
    redelivery = {s: f[f["customer_id"] == cid] for s, f in original.items()}
    before = byte_hits(root, needles)
    # the search can fail: before erasure the customer is all over the data folder
    assert {"landing", "outbox", "dagster", "warehouse.duckdb"} <= {
        Path(f).parts[0] for f in before[str(cid)]
    }, before
    assert before[str(email)]
    assert before[str(name)]

    outcome = CliRunner().invoke(
        app,
        ["erase", "--customer", str(cid), "--reason", "GDPR art. 17 request #1", "--yes", "--by", "dpo@acme"],
    )
    assert outcome.exit_code == 0, outcome.output

    after = byte_hits(root, needles)
    assert after == {}, f"still found after erasure: {after}"
    assert decoded_hits(root, needles) == []
    assert (
        _one(warehouse, "select count(*) from retention.send_ledger where customer_id like 'erased:%'")[0][0]
        > 0
    ), "tombstone"
    assert _one(warehouse, "select count(*) from ml.churn_scores")[0][0] == len(scored) - 1
    audit = _one_sqlite(root / "audit" / "audit.db")
    assert audit[-1][0] == "erasure"
    assert audit[-1][1] == "dpo@acme"
    detail = json.loads(audit[-1][2])
    assert detail["complete"]
    assert detail["marts_rebuilt"]
    assert len(detail["customer_hash"]) == 64

    # the company re-delivers the customer's rows: ingestion drops them, nothing of them is stored
    for source, frame in redelivery.items():
        latest = max(d.name for d in (root / "landing" / source).iterdir() if d.is_dir())
        again = (pd.Timestamp(latest) + pd.Timedelta(days=1)).strftime(
            "%Y-%m-%d"
        )  # a later, not future, batch
        folder = root / "landing" / source / again
        folder.mkdir(parents=True)
        frame.to_csv(folder / f"{source}_{again}_part0000.csv", index=False)
    from churn_platform.lib.ingest import ingest_source

    reports = {s: ingest_source(warehouse, root / "landing", s) for s in ("accounts", "usage_events")}
    assert all(not r.rejected for r in reports.values()), [
        f.reason for r in reports.values() for f in r.rejected
    ]
    dropped = {s: sum(f.erased for f in r.files) for s, r in reports.items()}
    assert dropped == {s: len(f) for s, f in redelivery.items()}
    assert dropped["accounts"] > 0
    assert _one(warehouse, "select count(*) from raw.accounts where customer_id = ?", [cid])[0][0] == 0
    assert (
        _one(warehouse, "select count(*) from raw._quarantine where record like ?", [f"%{cid}%"])[0][0] == 0
    )
    outside_landing = {
        n: [f for f in files if not f.startswith("landing/")] for n, files in byte_hits(root, needles).items()
    }
    assert all(not files for files in outside_landing.values()), outside_landing


def _one_sqlite(path: Path) -> list[tuple[str, str, str]]:
    import sqlite3

    con = sqlite3.connect(path)
    try:
        return con.execute("select action, actor, detail from audit_log order by id").fetchall()
    finally:
        con.close()
