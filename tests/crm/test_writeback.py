"""CRM write-back against local fakes of HubSpot and Salesforce with 30% injected faults: every customer once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from churn_platform.lib.crm import HubSpotWriter, SalesforceWriter, write_back
from tests.crm.fakes import FakeCrm, fake_hubspot, fake_salesforce

CUSTOMERS = 250


def _rows(n: int = CUSTOMERS, snapshot: str = "2025-08-01") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:08d}" for i in range(n)],
            "churn_probability": [round((i % 97) / 97, 4) for i in range(n)],
            "risk_tier": ["critical" if i % 7 == 0 else "low" for i in range(n)],
            "top_reason": ["usage down 45% in the last 30 days" if i % 7 == 0 else None for i in range(n)],
            "value_band": [("low", "mid", "high")[i % 3] for i in range(n)],
            "next_best_action": [
                "success_call: a call" if i % 7 == 0 else "none: low risk" for i in range(n)
            ],
            "model_version": "3",
            "snapshot_date": pd.Timestamp(snapshot).date(),
        }
    )


def _ledger(warehouse: Path, crm: str) -> dict[str, int]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return dict(
            con.execute(
                "select status, count(*) from crm.writeback_ledger where crm = ? group by 1", [crm]
            ).fetchall()
        )
    finally:
        con.close()


def _check_once(fake: FakeCrm, warehouse: Path, crm: str, refused: set[str]) -> None:
    counts = Counter(fake.written_ids())
    assert set(counts) == {f"C{i:08d}" for i in range(CUSTOMERS)} - refused, "every customer written"
    assert max(counts.values()) == 1, "no customer written twice"
    assert fake.rejected_requests > 0, "whole requests were refused (429)"
    assert fake.failed_records > 0, "single records failed"
    assert _ledger(warehouse, crm) == {"written": CUSTOMERS - len(refused), "failed": len(refused)}


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_writeback_under_faults_writes_every_customer_once(crm: str, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    refused = {"C00000042"}
    serve = fake_hubspot if crm == "hubspot" else fake_salesforce
    with serve(fault_rate=0.3, seed=11, refuse=refused) as fake:
        writer = (
            HubSpotWriter(fake.token, host=fake.url, batch_size=20)
            if crm == "hubspot"
            else SalesforceWriter(instance_url=fake.url, session_id=fake.token, batch_size=20)
        )
        report = write_back(warehouse, writer, _rows(), rounds=10, backoff_seconds=0, sleep=lambda s: None)
        assert (report.written, report.refused, report.still_pending) == (CUSTOMERS - 1, 1, 0)
        assert (
            report.request_retries == fake.rejected_requests
            if crm == "hubspot"
            else report.request_retries > 0
        )
        _check_once(fake, warehouse, crm, refused)
        print(
            f"\n{crm}: {CUSTOMERS} customers, {len(fake.writes)} records written, {fake.requests} requests, "
            f"{fake.rejected_requests} answered 429, {fake.failed_records} records failed transiently, "
            f"{len(refused)} refused; max writes per customer {max(Counter(fake.written_ids()).values())}"
        )
        # the same snapshot again (a re-run, a retried run): nothing is written twice
        before = len(fake.writes)
        again = write_back(warehouse, writer, _rows(), rounds=10, backoff_seconds=0, sleep=lambda s: None)
        assert (again.queued, again.written, again.already_written) == (0, 0, CUSTOMERS - 1)
        assert len(fake.writes) == before
        # the next snapshot is a new write for everyone
        nxt = write_back(
            warehouse,
            writer,
            _rows(snapshot="2025-09-01"),
            rounds=10,
            backoff_seconds=0,
            sleep=lambda s: None,
        )
        assert nxt.written == CUSTOMERS - 1
        assert Counter(fake.written_ids()).most_common(1)[0][1] == 2


def test_a_crm_that_stays_down_leaves_records_pending_for_the_next_run(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with fake_hubspot(fault_rate=1.0, seed=1) as down:
        writer = HubSpotWriter(down.token, host=down.url, batch_size=50)
        report = write_back(warehouse, writer, _rows(60), rounds=2, backoff_seconds=0, sleep=lambda s: None)
        assert (report.written, report.still_pending) == (0, 60)
        assert down.writes == []
    with fake_hubspot(fault_rate=0.0) as up:
        writer = HubSpotWriter(up.token, host=up.url, batch_size=50)
        report = write_back(warehouse, writer, _rows(60), backoff_seconds=0, sleep=lambda s: None)
        assert (report.queued, report.written, report.still_pending) == (0, 60, 0)
        assert len(up.writes) == 60
        assert set(up.writes[0]["properties"]) == {
            "churn_probability", "churn_risk_tier", "churn_top_reason", "churn_value_band",
            "churn_next_best_action", "churn_model_version", "churn_snapshot_date",
        }  # fmt: skip


def test_a_wrong_token_is_refused_and_never_shown(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with fake_hubspot(fault_rate=0.0) as fake:
        writer = HubSpotWriter("wrong-secret-token", host=fake.url)
        report = write_back(warehouse, writer, _rows(5), backoff_seconds=0, sleep=lambda s: None)
        assert report.refused == 5
    con = duckdb.connect(str(warehouse), read_only=True)
    errors = [e for (e,) in con.execute("select last_error from crm.writeback_ledger").fetchall()]
    con.close()
    assert all("401" in e for e in errors)
    assert not any("wrong-secret-token" in e for e in errors)
