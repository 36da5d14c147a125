"""Ingestion assets materialize against a temporary warehouse; the gate blocks; the sensor notices files."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from churn_platform.defs.ingest.landing import landing_files
from churn_platform.defs.ingest.raw import raw_assets
from churn_platform.defs.ingest.sensors import landing_sensor
from churn_platform.defs.resources import LandingResource, WarehouseResource
from tests.conftest import make_company


@pytest.fixture
def company_dir(tmp_path: Path) -> Path:
    make_company(tmp_path, customers=120, months=2, seed=4, file_format="csv")
    return tmp_path


def _resources(root: Path) -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(path=str(root / "warehouse.duckdb")),
        "landing": LandingResource(path=str(root / "landing")),
    }


def test_ingestion_assets_load_every_source_and_pass_their_gates(company_dir: Path) -> None:
    result = dg.materialize([landing_files, *raw_assets], resources=_resources(company_dir))
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert len(checks) == 6
    assert all(c.passed for c in checks)
    con = duckdb.connect(str(company_dir / "warehouse.duckdb"), read_only=True)
    n = con.execute("select count(*) from raw.usage_events").fetchall()[0][0]
    files = con.execute("select count(*) from raw._ingested_files").fetchall()[0][0]
    con.close()
    assert n > 0
    assert files == 12
    # a second run finds nothing new and changes nothing
    again = dg.materialize([landing_files, *raw_assets], resources=_resources(company_dir))
    mats = again.asset_materializations_for_node("raw__usage_events")
    assert mats[0].metadata["rows_loaded"].value == 0
    assert mats[0].metadata["files_skipped"].value == 2


def test_a_rejected_file_fails_the_asset_naming_the_file(company_dir: Path) -> None:
    bad = company_dir / "landing" / "accounts" / "2025-04-01" / "accounts_2025-04-01_part0000.csv"
    bad.parent.mkdir(parents=True)
    bad.write_text("customer_id,name\nC1,x\n")
    result = dg.materialize(
        [landing_files, *raw_assets], resources=_resources(company_dir), raise_on_error=False
    )
    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    message = failures[0].step_failure_data.user_failure_data.description  # type: ignore[union-attr]
    assert str(bad) in message
    assert "missing required column(s)" in message


def test_the_quality_gate_blocks_downstream_assets(company_dir: Path) -> None:
    path = next((company_dir / "landing" / "invoices" / "2025-02-01").glob("*.csv"))
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[0:20, "amount"] = "-1"
    frame.to_csv(path, index=False)

    @dg.asset(deps=[dg.AssetKey(["raw", "invoices"])])
    def downstream() -> None:
        raise AssertionError("must not run behind a failed blocking gate")

    result = dg.materialize(
        [landing_files, *raw_assets, downstream],
        resources=_resources(company_dir),
        run_config={"ops": {"raw__invoices": {"config": {"max_quarantine_share": 0.01}}}},
        raise_on_error=False,
    )
    gate = [
        c for c in result.get_asset_check_evaluations() if c.asset_key == dg.AssetKey(["raw", "invoices"])
    ]
    assert gate
    assert not gate[0].passed
    assert not result.asset_materializations_for_node("downstream")


def test_the_sensor_launches_a_run_for_new_deliveries_only(
    company_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resources = {"landing": LandingResource(path=str(company_dir / "landing"))}
    first = landing_sensor(dg.build_sensor_context(cursor=None, resources=resources))
    assert isinstance(first, dg.SensorResult)
    assert len(first.run_requests or []) == 1
    assert first.run_requests[0].tags["churn/batches"] == "2025-02-01,2025-03-01"  # type: ignore[index]
    again = landing_sensor(dg.build_sensor_context(cursor=first.cursor, resources=resources))
    assert isinstance(again, dg.SkipReason)
    make_company(company_dir / "next", customers=30, months=1, seed=1)
    src = next((company_dir / "next" / "landing" / "nps_responses").rglob("*.parquet"))
    dst = (
        company_dir / "landing" / "nps_responses" / "2025-04-01" / "nps_responses_2025-04-01_part0000.parquet"
    )
    dst.parent.mkdir(parents=True)
    dst.write_bytes(src.read_bytes())
    third = landing_sensor(dg.build_sensor_context(cursor=first.cursor, resources=resources))
    assert isinstance(third, dg.SensorResult)
    assert third.run_requests[0].tags["churn/batches"] == "2025-04-01"  # type: ignore[index]


def _gate(result: dg.ExecuteInProcessResult, source: str) -> dg.AssetCheckEvaluation:
    return next(
        c for c in result.get_asset_check_evaluations() if c.asset_key == dg.AssetKey(["raw", source])
    )


def test_a_mostly_quarantined_delivery_stays_blocked_on_reruns_until_fixed_or_accepted(
    company_dir: Path,
) -> None:
    from churn_platform.contract import active_contract
    from churn_platform.lib.gates import accept, judge

    path = next((company_dir / "landing" / "invoices" / "2025-03-01").glob("*.csv"))
    good = pd.read_csv(path, dtype=str, keep_default_na=False)
    bad = good.copy()
    bad.loc[: len(bad) // 2, "amount"] = "-1"
    bad.to_csv(path, index=False)
    assets, resources = [landing_files, *raw_assets], _resources(company_dir)
    first = dg.materialize(assets, resources=resources, raise_on_error=False)
    gate = _gate(first, "invoices")
    assert not gate.passed
    assert gate.metadata["judged_delivery"].value == "2025-03-01"
    assert "amount: be between [0, inf]" in str(gate.metadata["top_rules"].value)
    assert "row 1, amount = '-1'" in str(gate.metadata["top_rules"].value)  # an example row
    assert "accept-quarantine invoices --batch 2025-03-01" in (gate.description or "")
    # a re-run with no new files judges the state of the source, not the empty run
    again = dg.materialize(assets, resources=resources, raise_on_error=False)
    assert _gate(again, "invoices").metadata["rows_checked_this_run"].value == 0
    assert not _gate(again, "invoices").passed
    # fixed: the held rows re-delivered correctly (same keys) in a later file
    fixed = path.with_name(path.name.replace("part0000", "part0001"))
    good.iloc[: len(bad) // 2 + 1].to_csv(fixed, index=False)
    assert _gate(dg.materialize(assets, resources=resources, raise_on_error=False), "invoices").passed
    # accepted: another bad batch passes once someone accepts it, with their reason
    later = company_dir / "landing" / "invoices" / "2025-04-01" / "invoices_2025-04-01_part0000.csv"
    later.parent.mkdir(parents=True)
    bad.assign(invoice_id=bad["invoice_id"] + "X", updated_at="2025-03-20 10:00:00").to_csv(
        later, index=False
    )
    assert not _gate(dg.materialize(assets, resources=resources, raise_on_error=False), "invoices").passed
    import datetime as dt

    con = duckdb.connect(str(company_dir / "warehouse.duckdb"))
    try:
        accept(con, "invoices", dt.date(2025, 4, 1), "refunds exported with negative amounts; known")
        assert judge(con, active_contract().sources["invoices"], 0.05).passed
    finally:
        con.close()
    last = _gate(dg.materialize(assets, resources=resources, raise_on_error=False), "invoices")
    assert last.passed
    assert "refunds exported" in str(last.metadata["accepted"].value)
